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

namespace nanoseek::cli {

using Runner = std::function<int()>;

struct Command {
  std::string name;
  std::string help;
  int order;
  std::function<Runner(CLI::App&)> setup;
};

bool add_command(Command cmd);

}  // namespace nanoseek::cli
