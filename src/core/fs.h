// Whole-file I/O with the two guarantees checkpoints need: a reader gets either the old file or the complete
// new one (write to a temp file in the same directory, fsync, rename over the target), and every failure is
// an Error naming the path and the OS reason.
#pragma once
#include <string>
#include <string_view>

namespace nanoseek {

void write_file_atomic(const std::string& path, std::string_view bytes);  // tmp in same dir + fsync + rename
std::string read_file(const std::string& path);                           // Error naming path on failure

// Streaming form of write_file_atomic for outputs too big to assemble in memory (checkpoint shards):
//   AtomicFile f(path); f.write(header); f.write(data...); f.commit();
// Until commit() the target is untouched; destroying an uncommitted AtomicFile (e.g. while an exception
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

// Creates `dir` and its parents if missing; Error if it exists and is not a directory.
void make_dirs(const std::string& dir);
bool file_exists(const std::string& path);   // a regular file (following symlinks)
bool dir_exists(const std::string& path);

}  // namespace nanoseek
