// nanoseek sft [RECIPE] --model DIR --data FILE.jsonl --out DIR [--steps N | --epochs E] [--lr ...] [--set sft.k=v]
//              [--resume]   (every [sft] recipe key is a flag: pipeline/recipe.cpp declares them once)
// Supervised fine-tuning on chat JSONL (loss on assistant tokens only), with the shared Trainer: checkpoints,
// metrics.jsonl, Ctrl-C / SIGTERM save OUT/ckpt-STEP and exit 130 / 143. OUT/final is a model directory (with eval.json).
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "cli/command.h"
#include "cli/run_flags.h"
#include "cli/section_args.h"
#include "train/sft.h"

namespace nanoseek {
namespace {

int run(const SftOptions& o) {
  const SftResult r = run_sft(o);
  if (!r.completed) return stop_exit_code();
  std::string tail;
  if (r.final_eval.count("val_loss"))
    tail = fmt::format("; val_loss {:.4f} -> {:.4f}", r.initial_val_loss, r.final_eval.at("val_loss"));
  fmt::print("done: {} steps, train loss {:.4f} -> {:.4f}{}; {} training, {} total\n", r.steps,
             r.losses.empty() ? std::nan("") : r.losses.front(), r.losses.empty() ? std::nan("") : r.losses.back(),
             tail, format_duration(r.train_seconds), format_duration(r.total_seconds));
  return 0;
}

const bool registered = cli::add_command({"sft", "Supervised fine-tuning on chat JSONL (loss on assistant tokens; "
                                          "packed samples, resumable checkpoints)", 45,
    [](CLI::App& app) -> cli::Runner {
      auto paths = std::make_shared<SftOptions>();
      app.add_option("--model", paths->model_dir, "Initial model directory (weights + tokenizer [+ eval.json])")
          ->required();
      app.add_option("--data", paths->data, "Chat JSONL: {\"messages\":[{\"role\",\"content\"},...]} per line")
          ->required();
      app.add_option("--out", paths->out_dir, "Output directory (checkpoints, metrics.jsonl, final/)")->required();
      auto run_flags = cli::add_run_flags(app);
      app.add_flag("--quiet", paths->quiet, "No progress output");
      auto args = cli::add_section_flags(app, "sft");   // every [sft] key: --steps, --lr, --schedule, ...
      return [paths, args, run_flags] {
        SftOptions o = args->resolve().sft;
        o.model_dir = paths->model_dir, o.data = paths->data, o.out_dir = paths->out_dir;
        o.resume = run_flags->resume, o.quiet = paths->quiet;
        const auto claim = run_flags->claim(o.out_dir);
        return run(o);
      };
    }});

}  // namespace
}  // namespace nanoseek
