// Outputs never replace what is not a regular file (issue #11): an atomic write onto a FIFO, a symlink or a device
// is an Error naming the path and what it is, and leaves the node as it was. Log appends fail loudly on a full
// disk (/dev/full). Output-path preflight and the memory preflight.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "test_util.h"

namespace nanoseek {
namespace {

using test::error_of;

TEST(FsOutputs, AtomicWriteRefusesAFifo) {
  test::ScratchDir d("fifo");
  const std::string fifo = d / "out.npy";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  const std::string e = error_of([&] { write_file_atomic(fifo, "data"); });
  EXPECT_NE(e.find(fifo), std::string::npos) << e;
  EXPECT_NE(e.find("a FIFO"), std::string::npos) << e;
  struct stat st {};
  ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  // no temporary left behind
  int n = 0;
  for (const auto& x : std::filesystem::directory_iterator(d.path)) (void)x, ++n;
  EXPECT_EQ(n, 1);
}

TEST(FsOutputs, AtomicWriteRefusesASymlinkAndLeavesItsTarget) {
  test::ScratchDir d("symlink");
  const std::string target = d / "target.txt", link = d / "link.txt";
  write_file_atomic(target, "original");
  std::filesystem::create_symlink(target, link);
  const std::string e = error_of([&] { write_file_atomic(link, "new"); });
  EXPECT_NE(e.find(link), std::string::npos) << e;
  EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(read_file(target), "original");
}

TEST(FsOutputs, AtomicFileChecksAgainAtCommit) {   // a FIFO made while the output was being written
  test::ScratchDir d("commit");
  const std::string path = d / "x.bin";
  AtomicFile f(path);
  f.write("abc");
  ASSERT_EQ(mkfifo(path.c_str(), 0644), 0);
  EXPECT_THROW(f.commit(), Error);
  struct stat st {};
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(FsOutputs, AtomicWriteStillReplacesARegularFile) {
  test::ScratchDir d("regular");
  write_file_atomic(d / "a", "1");
  write_file_atomic(d / "a", "2");
  EXPECT_EQ(read_file(d / "a"), "2");
}

TEST(FsOutputs, AppendLineFailsOnAFullDisk) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const std::string e = error_of([] { append_line("/dev/full", "{\"step\":1}"); });
  EXPECT_NE(e.find("/dev/full"), std::string::npos) << e;
  EXPECT_NE(e.find("write failed"), std::string::npos) << e;
}

TEST(FsOutputs, AppendLineAppends) {
  test::ScratchDir d("append");
  append_line(d / "m.jsonl", "a");
  append_line(d / "m.jsonl", "b");
  EXPECT_EQ(read_file(d / "m.jsonl"), "a\nb\n");
}

TEST(FsOutputs, OutputPathNeedsAnExistingWritableDirectory) {
  test::ScratchDir d("outpath");
  const std::string e = error_of([&] { check_output_path(d / "missing/ev.json", "eval --out"); });
  EXPECT_NE(e.find("eval --out"), std::string::npos) << e;
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  EXPECT_NO_THROW(check_output_path(d / "ev.json", "eval --out"));
  ASSERT_EQ(mkfifo((d / "p").c_str(), 0644), 0);
  EXPECT_NE(error_of([&] { check_output_path(d / "p", "x"); }).find("a FIFO"), std::string::npos);
}

TEST(FsOutputs, MemoryPreflight) {
  const int64_t avail = mem_available_bytes();
  if (avail < 0) GTEST_SKIP() << "no /proc/meminfo";
  EXPECT_GT(avail, 0);
  unsetenv("NANOSEEK_NO_MEM_CHECK");
  const std::string e = error_of([] { check_memory("pretrain", "params 1 MiB", 1e18); });
  EXPECT_NE(e.find("pretrain: needs"), std::string::npos) << e;
  EXPECT_NE(e.find("MiB is available"), std::string::npos) << e;
  EXPECT_NE(e.find("NANOSEEK_NO_MEM_CHECK=1"), std::string::npos) << e;
  EXPECT_NO_THROW(check_memory("x", "small", 1024));
  setenv("NANOSEEK_NO_MEM_CHECK", "1", 1);
  EXPECT_NO_THROW(check_memory("x", "huge", 1e18));
  unsetenv("NANOSEEK_NO_MEM_CHECK");
}

}  // namespace
}  // namespace nanoseek
