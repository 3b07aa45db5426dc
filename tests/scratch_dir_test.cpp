// Test scratch files go under the build directory, not the machine's shared /tmp: two checkouts running their tests
// at once used the same /tmp paths, and one failed (TokenizerCli.TrainWritesLoadableTokenizer, two CI clones).
// ::testing::TempDir() reads TEST_TMPDIR at each call; this sets it before any test runs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

const bool kScratchDir = [] {
  std::filesystem::create_directories(NANOSEEK_TEST_TMPDIR);
  setenv("TEST_TMPDIR", NANOSEEK_TEST_TMPDIR, /*overwrite=*/1);
  return true;
}();

TEST(TestScratch, TempDirIsUnderTheBuildDir) {
  ASSERT_TRUE(kScratchDir);
  EXPECT_EQ(::testing::TempDir().rfind(NANOSEEK_TEST_TMPDIR, 0), 0u) << ::testing::TempDir();
}

}  // namespace
