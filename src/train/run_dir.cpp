#include "train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace nanoseek {
namespace fs = std::filesystem;

RunDir::RunDir(std::string dir, RunDirMode mode) : dir_(std::move(dir)) {
  check(!(mode.resume && mode.overwrite), "{}: --resume and --overwrite exclude each other (continue the run, or "
        "replace it)", dir_);
  make_dirs(dir_);
  const std::string lock = dir_ + "/.lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot open the run lock: {}", lock, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string pid = n > 0 ? std::string(buf, size_t(n)) : "unknown";
    pid.erase(std::remove(pid.begin(), pid.end(), '\n'), pid.end());
    if (err == EWOULDBLOCK)
      fail("{}: another run is using this directory (pid {} holds {}); wait for it to finish or choose another --out",
           dir_, pid, lock);
    fail("{}: cannot lock: {}", lock, std::strerror(err));
  }
  try {
    hold(mode);
  } catch (...) {   // a throwing constructor runs no destructor: release the lock here
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

void RunDir::hold(RunDirMode mode) {
  const std::string lock = dir_ + "/.lock";
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size()))
    fail("{}: cannot write the holder's pid: {}", lock, std::strerror(errno));

  std::vector<std::string> held;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename() != ".lock") held.push_back(e.path().filename().string());
  if (held.empty() || mode.resume) return;
  std::sort(held.begin(), held.end());
  if (mode.overwrite) {
    for (const auto& name : held) {
      std::error_code ec;
      fs::remove_all(dir_ + "/" + name, ec);
      if (ec) fail("{}/{}: cannot remove (--overwrite): {}", dir_, name, ec.message());
    }
    return;
  }
  std::string list;
  for (size_t i = 0; i < held.size() && i < 5; ++i) list += (i ? ", " : "") + held[i];
  if (held.size() > 5) list += ", ...";
  fail("{} is not empty (it holds a run: {}); use --resume to continue it or --overwrite to replace it", dir_, list);
}

RunDir::~RunDir() {
  if (fd_ >= 0) ::close(fd_);   // closing the descriptor releases the flock
}

}  // namespace nanoseek
