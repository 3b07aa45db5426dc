// nanoseek distill --teacher DIR --student CONFIG.json|DIR --task T --problems N --k K --out DIR
//                  [--levels L1,L2 --kd-topk K2 --kd-weight W --steps S --lr LR --batch B ...]
// The teacher samples k completions per training problem; the correct, well-formatted ones train the student (any
// architecture, R1's dense Qwen2/Llama students included) by SFT (+ optional top-k logit KD). Writes OUT/final (HF
// model dir + tokenizer + eval.json),
// OUT/metrics.jsonl and OUT/distill.jsonl (rl/distill.h).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "rl/distill.h"

namespace nanoseek {
namespace {

struct DistillCli {
  DistillOptions o;
  std::string levels;
};

int run(DistillCli& c) {
  c.o.levels = cli::split_csv(c.levels);
  const DistillResult r = run_distill(c.o);
  if (!r.completed) {
    fmt::print("interrupted at step {}; continue with --resume\n", r.steps);
    return 130;
  }
  if (!r.losses.empty())
    fmt::print("distilled {} samples ({} tokens) in {} steps: loss {:.4f} -> {:.4f}\n", r.kept, r.completion_tokens,
               r.steps, r.losses.front(), r.losses.back());
  return 0;
}

const bool registered = cli::add_command({"distill", "Distil a teacher's verified samples into a student (a dense "
                                          "Qwen2/Llama or DeepSeek-V3 model; SFT + optional top-k logit KD)", 75,
    [](CLI::App& app) -> cli::Runner {
      auto c = std::make_shared<DistillCli>();
      DistillOptions& o = c->o;
      app.add_option("--teacher", o.teacher, "Teacher model directory (any architecture, with tokenizer)")
          ->required();
      app.add_option("--student", o.student, "Student: config JSON of any model_type (vocab from the teacher) or a model dir")
          ->required();
      app.add_option("--task", o.task, "Task: add, add-zh, mul, countdown")->required();
      app.add_option("--out", o.out, "Output directory")->required();
      app.add_option("--levels", c->levels, "Comma-separated levels (default: all)");
      app.add_option("--problems", o.problems, "Training problems per level")->capture_default_str();
      app.add_option("--k", o.k, "Teacher samples per problem")->capture_default_str();
      app.add_option("--temperature", o.temperature, "Teacher sampling temperature")->capture_default_str();
      app.add_option("--top-p", o.top_p, "Teacher nucleus mass")->capture_default_str();
      app.add_option("--max-tokens", o.max_new_tokens, "Maximum completion tokens")->capture_default_str();
      app.add_option("--format", o.format, "Prompt format r1-zero | plain (default: the teacher's eval.json)");
      app.add_option("--filter", o.filter, "correct (accuracy and format) | all")->capture_default_str();
      app.add_option("--kd-topk", o.kd_topk, "Teacher top-k log-probs per position for KD (0 = SFT only)")
          ->capture_default_str();
      app.add_option("--kd-weight", o.kd_weight, "Weight of the KD term")->capture_default_str();
      app.add_option("--steps", o.steps, "Optimizer steps")->capture_default_str();
      app.add_option("--batch", o.batch_size, "Samples per micro-batch")->capture_default_str();
      app.add_option("--accum", o.grad_accum, "Micro-batches per step")->capture_default_str();
      app.add_option("--lr", o.lr, "Peak learning rate (cosine schedule)")->capture_default_str();
      app.add_option("--min-lr", o.min_lr, "Final learning rate")->capture_default_str();
      app.add_option("--warmup", o.warmup, "Warmup steps (-1 = steps / 10)")->capture_default_str();
      app.add_option("--weight-decay", o.weight_decay, "AdamW weight decay")->capture_default_str();
      app.add_option("--eval-problems", o.eval_problems, "Test problems per level for student/teacher pass@1")
          ->capture_default_str();
      app.add_option("--engine-batch", o.max_batch, "Teacher engine slots")->capture_default_str();
      app.add_option("--seed", o.seed, "Problem, sampling and init seed")->capture_default_str();
      app.add_flag("--resume", o.resume, "Continue training from the newest OUT/ckpt-STEP");
      return [c] { return run(*c); };
    }});

}  // namespace
}  // namespace nanoseek
