// `nanoseek tasks sample | verify` end to end through the real binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace {

// Runs a shell command; returns {exit code, stdout}.
std::pair<int, std::string> run(const std::string& cmd) {
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return {-1, ""};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  int status = pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(TasksCli, SampleThenVerifyRoundTrip) {
  std::string bin = NANOSEEK_BINARY;
  auto [rc, out] = run(bin + " tasks sample --task countdown --level d3 --n 5 --split test --style selfcheck --seed 4");
  ASSERT_EQ(rc, 0) << out;
  std::istringstream lines(out);
  std::string line;
  const nanoseek::test::ScratchDir scratch("tasks-cli");
  const std::string path = scratch / "completions.jsonl";
  std::ofstream file(path);
  int n = 0;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["split"], "test");
    EXPECT_EQ(j["level"], "d3");
    j["completion"] = n % 2 ? j["solution"].get<std::string>() : std::string("<answer>1 + 1</answer>");
    file << j.dump() << "\n";
    ++n;
  }
  file.close();
  EXPECT_EQ(n, 5);
  auto [vrc, verdicts] = run(bin + " tasks verify --in " + path + " 2>/dev/null");
  ASSERT_EQ(vrc, 0);
  std::istringstream vl(verdicts);
  for (int i = 0; std::getline(vl, line); ++i)
    EXPECT_EQ(nlohmann::json::parse(line)["verdict"], i % 2 ? "correct" : "wrong") << line;
  std::filesystem::remove(path);
}

TEST(TasksCli, BadInputGivesAClearError) {
  std::string bin = NANOSEEK_BINARY;
  auto [rc, out] = run(bin + " tasks sample --task sudoku --level d1 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("unknown task 'sudoku' (valid: add, add-zh, countdown, mul)"), std::string::npos) << out;
  auto [rc2, out2] = run("echo '{\"task\": \"add\", \"answer\": 3}' | " + bin + " tasks verify 2>&1");
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(out2.find("stdin line 1: field 'answer' has the wrong type"), std::string::npos) << out2;
}

}  // namespace
