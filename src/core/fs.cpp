#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace nanoseek {

namespace {

std::string os_error() { return std::strerror(errno); }

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// An output may replace a regular file only: renaming over a FIFO, a device (/dev/null) or a symlink would swap
// the node itself for a regular file (the symlink's target left untouched, the device gone from the path).
void check_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;   // nothing there yet
  const char* what = S_ISREG(st.st_mode)    ? nullptr
                     : S_ISLNK(st.st_mode)  ? "a symbolic link"
                     : S_ISDIR(st.st_mode)  ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  if (what) fail("{}: refusing to replace {} with an output file (remove it or choose another path)", path, what);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  check_replaceable(path_);   // before any work is spent on the output (and again at commit)
  // pid + counter keeps concurrent writers (threads or processes) of the same target apart.
  static std::atomic<uint64_t> counter{0};
  tmp_ = path_ + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot create temporary file {}: {}", path_, tmp_, os_error());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::write(std::string_view bytes) {
  check(fd_ >= 0, "{}: write after commit", path_);
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("{}: write failed: {}", path_, n < 0 ? os_error() : "no progress");
    bytes.remove_prefix(size_t(n));
  }
}

void AtomicFile::commit() {
  check(fd_ >= 0, "{}: commit called twice", path_);
  if (::fsync(fd_) != 0) fail("{}: fsync failed: {}", path_, os_error());
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    ::unlink(tmp_.c_str());
    fail("{}: close failed: {}", path_, os_error());
  }
  try {
    check_replaceable(path_);
  } catch (const Error&) {
    ::unlink(tmp_.c_str());
    throw;
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::string why = os_error();
    ::unlink(tmp_.c_str());
    fail("{}: rename from {} failed: {}", path_, tmp_, why);
  }
  // Make the rename itself durable; failure here is not worth an error (the data is already in place).
  int dfd = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, os_error());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  std::string out;
  out.resize(size_t(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = os_error();
      ::close(fd);
      fail("{}: read failed at byte {}: {}", path, got, why);
    }
    if (n == 0) break;   // file shrank while reading
    got += size_t(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("{}: cannot create directory: {}", dir, ec.message());
  check(dir_exists(dir), "{}: exists but is not a directory", dir);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool dir_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace nanoseek

namespace nanoseek {

void append_line(const std::string& path, std::string_view line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot open for appending: {}", path, os_error());
  std::string buf(line);
  buf += '\n';
  std::string_view rest = buf;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = n < 0 ? os_error() : "no progress";
      ::close(fd);
      fail("{}: write failed: {}", path, why);
    }
    rest.remove_prefix(size_t(n));
  }
  if (::close(fd) != 0) fail("{}: close failed: {}", path, os_error());
}

void check_output_path(const std::string& path, const std::string& what) {
  check(!path.empty(), "{}: the output path is empty", what);
  const std::string dir = parent_dir(path);
  check(dir_exists(dir), "{} {}: directory {} does not exist", what, path, dir);
  check(::access(dir.c_str(), W_OK | X_OK) == 0, "{} {}: directory {} is not writable: {}", what, path, dir,
        os_error());
  try {
    check_replaceable(path);
  } catch (const Error& e) {
    fail("{} {}", what, e.what());
  }
}

int64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");   // not read_file: /proc files report size 0
  for (std::string line; std::getline(in, line);)
    if (line.rfind("MemAvailable:", 0) == 0) return std::strtoll(line.c_str() + 13, nullptr, 10) * 1024;  // "... kB"
  return -1;
}

void check_memory(const std::string& what, const std::string& plan, double bytes) {
  const char* off = std::getenv("NANOSEEK_NO_MEM_CHECK");
  if (off && std::string(off) == "1") return;
  const int64_t avail = mem_available_bytes();
  if (avail < 0) return;   // not Linux, or /proc unreadable: nothing to check against
  const double mib = double(1 << 20);
  check(bytes <= double(avail), "{}: needs {:.1f} MiB ({}) but only {:.1f} MiB is available (MemAvailable in "
        "/proc/meminfo); set NANOSEEK_NO_MEM_CHECK=1 to try anyway", what, bytes / mib, plan, double(avail) / mib);
}

}  // namespace nanoseek
