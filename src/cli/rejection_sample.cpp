// nanoseek rejection-sample --model DIR --task T --problems N --k K --out FILE.jsonl — k samples per task problem,
// keep those the accuracy AND format rewards accept (exact duplicates dropped), write chat JSONL for SFT, print the
// keep rates (and FILE.stats.json beside the output).
#include <fmt/format.h>

#include <memory>

#include "cli/command.h"
#include "core/fs.h"
#include "core/stop.h"
#include "rl/rejection.h"

namespace nanoseek {
namespace {

struct Cli {
  RejectionOptions o;
  std::string levels, split = "train";
};

int run(Cli& c) {
  c.o.levels = cli::split_csv(c.levels);
  c.o.split = parse_split(c.split);
  check_output_path(c.o.out, "rejection-sample --out");
  check_output_path(c.o.out + ".stats.json", "rejection-sample --out (its .stats.json)");
  const StopOnSignals stop_scope;   // Ctrl-C / SIGTERM stop after the current batch, writing nothing
  const RejectionStats st = rejection_sample(c.o);
  fmt::print("{}", st.summary());
  write_file_atomic(c.o.out + ".stats.json", st.to_json().dump(1) + "\n");
  fmt::print("wrote {} ({} samples) and {}.stats.json\n", c.o.out, st.kept, c.o.out);
  return 0;
}

const bool registered = cli::add_command({"rejection-sample", "Sample k completions per task problem, keep the "
                                          "verified well-formed ones as chat JSONL (SFT data)", 75,
    [](CLI::App& app) -> cli::Runner {
      auto c = std::make_shared<Cli>();
      app.add_option("--model", c->o.model_dir, "Model directory (weights + tokenizer [+ eval.json])")->required();
      app.add_option("--task", c->o.task, "Task: add, add-zh, mul, countdown")->required();
      app.add_option("--out", c->o.out, "Output chat JSONL")->required();
      app.add_option("--levels", c->levels, "Comma-separated levels (default: all)");
      app.add_option("--problems", c->o.problems, "Problems per level")->capture_default_str();
      app.add_option("--k", c->o.k, "Samples per problem")->capture_default_str();
      app.add_option("--temperature", c->o.temperature, "Sampling temperature")->capture_default_str();
      app.add_option("--top-p", c->o.top_p, "Nucleus mass kept")->capture_default_str();
      app.add_option("--max-new-tokens", c->o.max_new_tokens, "Maximum completion tokens")->capture_default_str();
      app.add_option("--seed", c->o.seed, "Problem and sampling seed")->capture_default_str();
      app.add_option("--split", c->split, "train | val | test")->capture_default_str();
      app.add_option("--rendering", c->o.rendering, "auto | plain | r1-zero | template | template:NAME")
          ->capture_default_str();
      app.add_option("--batch", c->o.max_batch, "Engine slots (sequences in flight)")->capture_default_str();
      app.add_flag("--quiet", c->o.quiet, "No progress line");
      return [c] { return run(*c); };
    }});

}  // namespace
}  // namespace nanoseek
