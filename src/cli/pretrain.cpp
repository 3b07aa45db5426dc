// nanoseek pretrain RECIPE --out DIR [--set section.key=value ...] [--resume]
// Builds the corpus (or reuses DIR/corpus), trains with the shared Trainer, and leaves a model directory in
// DIR/final (config.json, model.safetensors, tokenizer files, eval.json). Ctrl-C (SIGINT) or SIGTERM saves DIR/ckpt-STEP and
// exits 130 / 143. A non-empty DIR needs --resume or --overwrite (cli/run_flags.h).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "cli/run_flags.h"
#include "pipeline/recipe.h"
#include "train/pretrain.h"
#include "train/trainer.h"

namespace nanoseek {
namespace {

struct PretrainOpts {
  std::string recipe, out;
  std::vector<std::string> sets;
  bool keys = false, quiet = false;
  std::shared_ptr<cli::RunFlags> run;
};

int run(const PretrainOpts& o) {
  if (o.keys) {
    fmt::print("{}", recipe_help());
    return 0;
  }
  const auto claim = o.run->claim(o.out);
  const PretrainResult r = pretrain_recipe(o.recipe, o.out, o.sets, o.run->resume, o.quiet);
  if (!r.completed) return stop_exit_code();
  std::string acc;
  for (const auto& [k, v] : r.final_eval)
    if (k.rfind("test_acc/d", 0) == 0 || k == "test_acc" || k == "val_loss") acc += fmt::format(" {} {:.4f}", k, v);
  fmt::print("done: {} steps, {} training, {} total;{}\n", r.steps, format_duration(r.train_seconds),
             format_duration(r.total_seconds), acc);
  return 0;
}

const bool registered = cli::add_command({"pretrain", "Pretrain a model from a TOML recipe (corpus, AdamW, MTP, "
                                          "aux-loss-free balancing, resumable checkpoints)", 40,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<PretrainOpts>();
      app.add_option("recipe", o->recipe, "Recipe file (TOML)");
      app.add_option("--out", o->out, "Output directory (corpus, checkpoints, metrics.jsonl, final/)");
      app.add_option("--set", o->sets, "Override a recipe key: --set train.lr=3e-4 (repeatable)");
      o->run = cli::add_run_flags(app);
      app.add_flag("--keys", o->keys, "List every recipe key with its type and help, then exit");
      app.add_flag("--quiet", o->quiet, "No progress output");
      return [o] {
        if (!o->keys && (o->recipe.empty() || o->out.empty())) {
          fmt::print(stderr, "pretrain: RECIPE and --out DIR are required\n");
          return 2;
        }
        return run(*o);
      };
    }});

}  // namespace
}  // namespace nanoseek
