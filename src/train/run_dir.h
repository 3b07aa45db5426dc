// The output directory of one training command (pretrain, sft, grpo, distill, r1zero, r1), claimed for the run:
//
//   RunDir claim(out, {.resume = o.resume, .overwrite = o.overwrite});   // held until the command returns
//
// - OUT/.lock is taken with flock(): a second run into the same directory fails at once with an Error naming the
//   holder's pid (written into the file). The kernel drops the lock when the holder exits, however it exits (kill
//   -9 included), so a stale .lock never blocks a later run.
// - A non-empty OUT without --resume is refused (it holds a run: ckpt-N, metrics.jsonl...) unless --overwrite,
//   which removes everything in OUT but the lock first. --resume and --overwrite exclude each other.
#pragma once
#include <string>

namespace nanoseek {

struct RunDirMode {
  bool resume = false;      // continue the run in OUT (a missing or empty OUT simply starts one)
  bool overwrite = false;   // remove the previous run's files first
};

class RunDir {
 public:
  RunDir(std::string dir, RunDirMode mode);
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  ~RunDir();   // releases the lock
  const std::string& dir() const { return dir_; }

 private:
  void hold(RunDirMode mode);   // with the lock taken: the pid, then the emptiness rule
  std::string dir_;
  int fd_ = -1;
};

}  // namespace nanoseek
