// build/nanoseek — one binary, one subcommand per pipeline stage. Commands register themselves (command.h).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <cstdlib>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "core/stop.h"
#include "train/trainer.h"

namespace nanoseek::cli {

static std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

bool add_command(Command cmd) {
  registry().push_back(std::move(cmd));
  return true;
}

// This command line with --resume (and without --overwrite): what a run stopped by a signal prints to continue it.
static std::string resume_command(int argc, char** argv) {
  std::string cmd;
  bool has_resume = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--overwrite") continue;
    has_resume |= a == "--resume";
    if (a.empty() || a.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;!#~") != std::string::npos) {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    cmd += (i ? " " : "") + a;
  }
  return has_resume ? cmd : cmd + " --resume";
}

}  // namespace nanoseek::cli

int main(int argc, char** argv) {
  // How long an idle OpenMP thread spins before it sleeps. libgomp's default (300k spins, ~ms) made 2 threads 5-10x
  // slower than 1 on a busy 2-core machine (a spinning thread holds the core its partner needs); never spinning
  // (OMP_WAIT_POLICY=passive, our earlier choice) made decoding 3.5x slower (each of the ~100 parallel regions of a
  // decode step waited for a sleeping thread to wake). A short spin keeps both: docs/benchmarks.md "OpenMP waiting".
  // The runtime reads these before main(), so set the spin and re-execute once, unless the user chose a policy.
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    setenv("GOMP_SPINCOUNT", "10000", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then continue with the default policy
  }
  using namespace nanoseek::cli;
  CLI::App app{"nanoseek — DeepSeek-V3 / R1 in one small C++ codebase"};
  app.require_subcommand(1);
  auto commands = registry();
  std::stable_sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners.emplace_back(sub, c.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  nanoseek::set_resume_hint(resume_command(argc, argv));
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const nanoseek::Interrupted& e) {
    std::fprintf(stderr, "\nnanoseek: %s\n", e.what());
    return nanoseek::stop_exit_code();
  } catch (const nanoseek::Error& e) {
    std::fprintf(stderr, "nanoseek: error: %s\n", e.what());
    return 1;
  } catch (const nlohmann::json::exception& e) {
    // A JSON value some reader did not type-check: say what nlohmann says (which field type was wrong) instead of
    // "internal error"; rc 2 still marks it as our bug (every reader should have named the file and field).
    std::fprintf(stderr, "nanoseek: error: unchecked JSON value: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nanoseek: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
