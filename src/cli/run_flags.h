// The run-directory flags every training command shares (pretrain, sft, grpo, distill, r1zero, r1), declared once:
//   --resume     continue the run in OUT (from its newest ckpt-STEP; a finished run is left as it is)
//   --overwrite  remove the previous run in OUT first
// Without either, a non-empty OUT is refused. claim() takes OUT/.lock for the whole command (train/run_dir.h).
#pragma once
#include <memory>
#include <string>

#include "cli/command.h"
#include "train/run_dir.h"

namespace nanoseek::cli {

struct RunFlags {
  bool resume = false, overwrite = false;
  std::unique_ptr<RunDir> claim(const std::string& out) const {
    return std::make_unique<RunDir>(out, RunDirMode{resume, overwrite});
  }
};

inline std::shared_ptr<RunFlags> add_run_flags(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  auto* resume = app.add_flag("--resume", f->resume, "Continue the run in OUT from its newest ckpt-STEP");
  app.add_flag("--overwrite", f->overwrite, "Replace the run in OUT (its files are removed first)")->excludes(resume);
  return f;
}

}  // namespace nanoseek::cli
