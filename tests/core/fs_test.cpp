// core/fs: atomic replace, no temp files left behind, errors naming the path.
#include "core/fs.h"

#include <gtest/gtest.h>

#include "io_test_util.h"

namespace nanoseek {
namespace {

using testing::expect_error;
using testing::TempDir;

TEST(FsAtomic, WriteReplacesAndLeavesNoTempFile) {
  TempDir dir;
  write_file_atomic(dir / "f.txt", "first");
  write_file_atomic(dir / "f.txt", std::string(100000, 'x'));
  EXPECT_EQ(read_file(dir / "f.txt"), std::string(100000, 'x'));
  write_file_atomic(dir / "f.txt", "");
  EXPECT_EQ(read_file(dir / "f.txt"), "");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"f.txt"});
}

TEST(FsAtomic, UncommittedAtomicFileKeepsOldContentAndRemovesTemp) {
  TempDir dir;
  write_file_atomic(dir / "f.txt", "old");
  try {
    AtomicFile f(dir / "f.txt");
    f.write("new, half written");
    EXPECT_EQ(dir.list().size(), 2u);   // the temp file exists beside the target meanwhile
    throw std::runtime_error("writer failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_file(dir / "f.txt"), "old");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"f.txt"});
}

TEST(FsErrors, ReadMissingAndWriteIntoMissingDirNameThePath) {
  TempDir dir;
  expect_error([&] { read_file(dir / "missing.bin"); }, {"missing.bin", "cannot open", "No such file"});
  expect_error([&] { read_file(dir.path); }, {dir.path, "not a regular file"});
  expect_error([&] { write_file_atomic(dir / "no/such/dir/f.txt", "x"); }, {"no/such/dir/f.txt", "cannot create"});
}

TEST(FsDirs, MakeDirsCreatesParentsAndRejectsFiles) {
  TempDir dir;
  make_dirs(dir / "a/b/c");
  EXPECT_TRUE(dir_exists(dir / "a/b/c"));
  make_dirs(dir / "a/b/c");   // idempotent
  write_file_atomic(dir / "file", "x");
  EXPECT_TRUE(file_exists(dir / "file"));
  EXPECT_FALSE(file_exists(dir / "a"));
  expect_error([&] { make_dirs(dir / "file"); }, {"file"});
}

}  // namespace
}  // namespace nanoseek
