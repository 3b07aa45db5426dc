// nanoseek sft [RECIPE] --model DIR --data FILE.jsonl --out DIR [--steps N | --epochs E] [--lr ...] [--set sft.k=v]
//              [--resume]   (every [sft] recipe key is a flag: pipeline/recipe.cpp declares them once)
// Supervised fine-tuning on chat JSONL (loss on assistant tokens only), with the shared Trainer: checkpoints,
// metrics.jsonl, Ctrl-C saves OUT/ckpt-STEP and exits 130. OUT/final is a model directory (with eval.json).
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "cli/command.h"
#include "cli/section_args.h"
#include "train/sft.h"

namespace nanoseek {
namespace {

int run(const SftOptions& o) {
  const SftResult r = run_sft(o);
  if (!r.completed) return 130;
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
      app.add_flag("--resume", paths->resume, "Continue from the newest OUT/ckpt-STEP");
      app.add_flag("--quiet", paths->quiet, "No progress output");
      auto args = cli::add_section_flags(app, "sft");   // every [sft] key: --steps, --lr, --schedule, ...
      return [paths, args] {
        SftOptions o = args->resolve().sft;
        o.model_dir = paths->model_dir, o.data = paths->data, o.out_dir = paths->out_dir;
        o.resume = paths->resume, o.quiet = paths->quiet;
        return run(o);
      };
    }});

}  // namespace
}  // namespace nanoseek
