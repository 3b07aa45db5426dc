// nanoseek eval --model DIR --task T --k K --out FILE.json — the R1 evaluation protocol on held-out problems:
// k samples per problem at temperature 0.6, top-p 0.95; pass@1, unbiased pass@k, cons@k, mean response length,
// per difficulty. Writes FILE.json and FILE.md (the Markdown table), prints the table.
#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/stop.h"
#include "infer/session.h"
#include "model/model.h"
#include "train/eval.h"
#include "rl/grpo_stage.h"

namespace nanoseek {
namespace {

struct EvalCli {
  std::string model, out, levels, split = "test", format = "auto", weights = "f32";
  EvalOptions o;
};

int run_eval(EvalCli& c) {
  // both outputs checked before the evaluation, not after it
  const std::string md_path = c.out.size() > 5 && c.out.ends_with(".json") ? c.out.substr(0, c.out.size() - 5) + ".md"
                                                                            : c.out + ".md";
  check_output_path(c.out, "eval --out");
  check_output_path(md_path, "eval --out (its .md table)");
  c.o.levels = cli::split_csv(c.levels);
  c.o.weights = parse_decode_weights(c.weights);
  c.o.split = parse_split(c.split);
  // auto: the prompt format recorded in the model directory (eval.json "prompt_format"; r1-zero when absent)
  c.o.format = c.format == "auto" ? model_prompt_format(c.model) : parse_prompt_format(c.format);
  const TextModel tm = load_text_model(c.model);   // DeepSeek-V3 or dense (qwen2/llama) directory
  const auto t0 = std::chrono::steady_clock::now();
  const StopOnSignals stop_scope;   // Ctrl-C / SIGTERM stop after the current batch, writing nothing
  auto progress = [&](int64_t done, int64_t total) {
    throw_if_stop_requested(fmt::format("eval stopped after {}/{} problems; nothing written", done, total));
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double eta = done ? el * double(total - done) / double(done) : 0;
    std::fprintf(stderr, "\reval %s: %lld/%lld problems  %.0fs elapsed  ETA %.0fs   ", c.o.task.c_str(),
                 (long long)done, (long long)total, el, eta);
  };
  EvalReport r = evaluate(tm, c.o, progress);
  std::fprintf(stderr, "\n");
  write_file_atomic(c.out, r.to_json().dump(2) + "\n");
  write_file_atomic(md_path, r.markdown());
  fmt::print("{}", r.markdown());
  std::fprintf(stderr, "wrote %s and %s\n", c.out.c_str(), md_path.c_str());
  return 0;
}

const bool registered = cli::add_command({"eval", "pass@1 / pass@k / cons@k on held-out task problems (R1 protocol)", 80,
    [](CLI::App& app) -> cli::Runner {
      auto c = std::make_shared<EvalCli>();
      app.add_option("--model", c->model, "Model directory (weights + tokenizer)")->required();
      app.add_option("--task", c->o.task, "Task: add, add-zh, mul, countdown")->required();
      app.add_option("--k", c->o.k, "k of pass@k and cons@k")->capture_default_str();
      app.add_option("--out", c->out, "Output JSON file (a .md table is written beside it)")->required();
      app.add_option("--n", c->o.n, "Samples per problem (default k; > k makes pass@k unbiased)");
      app.add_option("--levels", c->levels, "Comma-separated levels (default: all)");
      app.add_option("--problems", c->o.problems_per_level, "Problems per level")->capture_default_str();
      app.add_option("--temperature", c->o.temperature, "Sampling temperature")->capture_default_str();
      app.add_option("--top-p", c->o.top_p, "Nucleus mass kept")->capture_default_str();
      app.add_option("--max-tokens", c->o.max_new_tokens, "Maximum response tokens")->capture_default_str();
      app.add_option("--seed", c->o.seed, "Problem and sampling seed")->capture_default_str();
      app.add_option("--split", c->split, "train | val | test")->capture_default_str();
      app.add_option("--format", c->format, "Prompt format the model was trained on: auto (from DIR/eval.json) | r1-zero | plain")
          ->capture_default_str();
      app.add_option("--batch", c->o.max_batch, "Engine slots (sequences in flight)")->capture_default_str();
      cli::add_weights_option(app, c->weights);
      return [c] { return run_eval(*c); };
    }});

}  // namespace
}  // namespace nanoseek
