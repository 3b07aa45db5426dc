// nanoseek distill [RECIPE] --teacher DIR --student CONFIG.json|DIR --task T --problems N --k K --out DIR
//                  [--levels L1,L2 --kd-topk K2 --kd-weight W --steps S --lr LR --batch B ... --set distill.k=v]
//   (every [distill] recipe key is a flag: pipeline/recipe.cpp declares them once)
// The teacher samples k completions per training problem; the correct, well-formatted ones train the student (any
// architecture, R1's dense Qwen2/Llama students included) by SFT (+ optional top-k logit KD). Writes OUT/final (HF
// model dir + tokenizer + eval.json),
// OUT/metrics.jsonl and OUT/distill.jsonl (rl/distill.h).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "cli/run_flags.h"
#include "cli/section_args.h"
#include "core/error.h"
#include "rl/distill.h"

namespace nanoseek {
namespace {

int run(const DistillOptions& o) {
  const DistillResult r = run_distill(o);
  if (!r.completed) {
    fmt::print("interrupted at step {}; continue with --resume\n", r.steps);
    return stop_exit_code();
  }
  if (!r.losses.empty())
    fmt::print("distilled {} samples ({} tokens) in {} steps: loss {:.4f} -> {:.4f}\n", r.kept, r.completion_tokens,
               r.steps, r.losses.front(), r.losses.back());
  return 0;
}

const bool registered = cli::add_command({"distill", "Distil a teacher's verified samples into a student (a dense "
                                          "Qwen2/Llama or DeepSeek-V3 model; SFT + optional top-k logit KD)", 75,
    [](CLI::App& app) -> cli::Runner {
      auto paths = std::make_shared<DistillOptions>();
      app.add_option("--teacher", paths->teacher, "Teacher model directory (any architecture, with tokenizer)")
          ->required();
      app.add_option("--student", paths->student,
                     "Student: config JSON of any model_type (vocab from the teacher) or a model dir")
          ->required();
      app.add_option("--out", paths->out, "Output directory")->required();
      auto run_flags = cli::add_run_flags(app);
      auto args = cli::add_section_flags(app, "distill");   // every [distill] key: --task, --k, --kd-topk, --lr, ...
      return [paths, args, run_flags] {
        DistillOptions o = args->resolve().distill;
        o.teacher = paths->teacher, o.student = paths->student, o.out = paths->out, o.resume = run_flags->resume;
        const auto claim = run_flags->claim(o.out);
        return run(o);
      };
    }});

}  // namespace
}  // namespace nanoseek
