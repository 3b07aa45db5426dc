// nanoseek r1zero / nanoseek r1 RECIPE --out DIR [--set k=v ...] [--resume | --overwrite]. r1zero: base model (pretrained first unless grpo.init is set) → eval →
// GRPO → eval; writes DIR/summary.json and DIR/report.md (+ SVG plots) and prints the before/after table.
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "cli/run_flags.h"
#include "pipeline/r1.h"
#include "pipeline/r1zero.h"
#include "train/trainer.h"

namespace nanoseek {
namespace {

struct R1ZeroOpts {
  std::string recipe, out;
  std::vector<std::string> sets;
  bool quiet = false;
  std::shared_ptr<cli::RunFlags> run;
};

const bool registered = cli::add_command({"r1zero", "The R1-Zero pipeline: base model -> eval -> GRPO -> eval, with "
                                          "summary.json and a report", 55,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<R1ZeroOpts>();
      app.add_option("recipe", o->recipe, "Recipe file (TOML: [model] [data] [train] [eval] [grpo] [r1zero])")
          ->required();
      app.add_option("--out", o->out, "Output directory (--resume continues where it stopped)")->required();
      o->run = cli::add_run_flags(app);
      app.add_option("--set", o->sets, "Override a recipe key, e.g. --set grpo.steps=20 (repeatable)");
      app.add_flag("--quiet", o->quiet, "No progress output");
      return [o] {
        const auto claim = o->run->claim(o->out);
        const StopOnSignals stop_scope;   // trainers stop at a step; evaluations stop between batches
        const R1ZeroResult r = run_r1zero(o->recipe, o->out, o->sets, o->quiet);
        if (!r.completed) return stop_exit_code();
        fmt::print("\n{}\nwall time {} | summary {}/summary.json | report {}/report.md\n", r.table,
                   format_duration(r.summary["wall_seconds"].get<double>()), o->out, o->out);
        return 0;
      };
    }});

const bool registered_r1 = cli::add_command({"r1", "The four-stage R1 pipeline: cold-start SFT -> reasoning RL -> "
                                             "rejection-sampling SFT -> all-round RL, evaluated after each stage", 56,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<R1ZeroOpts>();
      app.add_option("recipe", o->recipe, "Recipe file (TOML: base sections, [grpo], [r1zero] eval, [r1] stages)")
          ->required();
      app.add_option("--out", o->out, "Output directory (--resume continues where it stopped)")->required();
      o->run = cli::add_run_flags(app);
      app.add_option("--set", o->sets, "Override a recipe key, e.g. --set r1.sft_epochs=1 (repeatable)");
      app.add_flag("--quiet", o->quiet, "No progress output");
      return [o] {
        const auto claim = o->run->claim(o->out);
        const StopOnSignals stop_scope;   // trainers stop at a step; evaluations stop between batches
        const R1ZeroResult r = run_r1(o->recipe, o->out, o->sets, o->quiet);
        if (!r.completed) return stop_exit_code();
        fmt::print("\n{}\nwall time {} | summary {}/summary.json | report {}/report.md\n", r.table,
                   format_duration(r.summary["wall_seconds"].get<double>()), o->out, o->out);
        return 0;
      };
    }});

}  // namespace
}  // namespace nanoseek
