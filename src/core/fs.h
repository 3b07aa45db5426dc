// Whole-file I/O with the two guarantees checkpoints need: a reader gets either the old file or the complete
// new one (write to a temp file in the same directory, fsync, rename over the target), and every failure is
// an Error naming the path and the OS reason.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace nanoseek {

void write_file_atomic(const std::string& path, std::string_view bytes);  // tmp in same dir + fsync + rename
std::string read_file(const std::string& path);                           // Error naming path on failure

// Streaming form of write_file_atomic for outputs too big to assemble in memory (checkpoint shards):
//   AtomicFile f(path); f.write(header); f.write(data...); f.commit();
// The target must be absent or a regular file: a symlink, FIFO, device or directory there is an Error (checked at
// construction and at commit), never replaced. Until commit() the target is untouched; destroying an uncommitted AtomicFile (e.g. while an exception
// unwinds) removes the temp file.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();
  void write(std::string_view bytes);
  void commit();   // fsync, close, rename onto the target, fsync the directory
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

// Appends `line` + '\n' to `path` (created if missing); a failed open, write or close — a full disk — is an Error
// naming the file, so a run never trains on while its logs silently stop.
void append_line(const std::string& path, std::string_view line);

// For an output flag (`what`, e.g. "eval --out"), checked before any work: the parent directory exists and is
// writable, and nothing but a regular file is at the path.
void check_output_path(const std::string& path, const std::string& what);

// MemAvailable from /proc/meminfo in bytes (-1 when unknown).
int64_t mem_available_bytes();
// Memory preflight before a large allocation: Error when `bytes` (described by `plan`, e.g. "params 12.0 MiB + ...")
// exceeds MemAvailable, naming `what`. NANOSEEK_NO_MEM_CHECK=1 skips it.
void check_memory(const std::string& what, const std::string& plan, double bytes);

// Creates `dir` and its parents if missing; Error if it exists and is not a directory.
void make_dirs(const std::string& dir);
bool file_exists(const std::string& path);   // a regular file (following symlinks)
bool dir_exists(const std::string& path);

}  // namespace nanoseek
