// Subcommand registry. Each src/cli/<name>.cpp registers itself at static-init time:
//
//   static const bool reg = nanoseek::cli::add_command({"info", "Parameter counts, KV-cache size, FLOPs", 10,
//     [](CLI::App& app) -> nanoseek::cli::Runner {
//       auto opt = std::make_shared<Opts>();          // options live as long as the runner
//       app.add_option("--config", opt->config, "HF config.json")->required();
//       return [opt] { return run_info(*opt); };      // returns the process exit code
//     }});
//
// `order` sorts the help listing by pipeline stage (info/init ... pretrain ... grpo ... serve).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace nanoseek::cli {

// "d1,d2" → {"d1", "d2"}; empty pieces are dropped ("" → {}), for list-valued options such as --levels.
inline std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> v;
  for (size_t i = 0; i < s.size();) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) v.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return v;
}

// --weights f32|bf16 of the commands that generate (infer/engine.h DecodeWeights); parse with parse_decode_weights.
inline void add_weights_option(CLI::App& app, std::string& w) {
  app.add_option("--weights", w, "Weights the engine's matmuls read: f32 | bf16 (half the bytes per decoded token)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
}

using Runner = std::function<int()>;

struct Command {
  std::string name;
  std::string help;
  int order;
  std::function<Runner(CLI::App&)> setup;
};

bool add_command(Command cmd);

}  // namespace nanoseek::cli
