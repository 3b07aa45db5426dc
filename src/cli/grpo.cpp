// nanoseek grpo RECIPE --out DIR [--init MODEL_DIR] [--set grpo.key=value ...] [--resume]
// GRPO with rule rewards on the task suite from a model directory (grpo.init), with the shared Trainer:
// DIR/metrics.jsonl (TRL names), DIR/completions.jsonl (samples), DIR/final (a model directory).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "cli/run_flags.h"
#include "rl/grpo_stage.h"
#include "pipeline/recipe.h"
#include "train/trainer.h"

namespace nanoseek {
namespace {

struct GrpoOpts {
  std::string recipe, out, init;
  std::vector<std::string> sets;
  bool quiet = false;
};

const bool registered = cli::add_command({"grpo", "Reinforcement learning with GRPO and rule rewards (R1-Zero's RL) "
                                          "from a model directory", 50,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<GrpoOpts>();
      app.add_option("recipe", o->recipe, "Recipe file (TOML; its [grpo] section)")->required();
      app.add_option("--out", o->out, "Output directory (checkpoints, metrics.jsonl, completions.jsonl, final/)")
          ->required();
      app.add_option("--init", o->init, "Model directory to start from (overrides grpo.init)");
      app.add_option("--set", o->sets, "Override a recipe key: --set grpo.beta=0.04 (repeatable)");
      auto run_flags = cli::add_run_flags(app);
      app.add_flag("--quiet", o->quiet, "No progress output");
      return [o, run_flags] {
        Recipe r = load_recipe(o->recipe);
        for (const auto& s : o->sets) apply_override(r, s);
        const auto claim = run_flags->claim(o->out);
        const GrpoRunResult res = run_grpo(r.grpo, r, o->init, o->out, run_flags->resume, o->quiet);
        if (!res.completed) return stop_exit_code();
        fmt::print("done: {} steps, {} training, {} total\n", res.steps, format_duration(res.train_seconds),
                   format_duration(res.total_seconds));
        return 0;
      };
    }});

}  // namespace
}  // namespace nanoseek
