// `nanoseek tokenize` and `nanoseek tokenizer train` end to end through the real binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

#include "core/fs.h"
#include "../test_util.h"
#include "test_util.h"

using namespace nanoseek;

namespace {

struct CliRun {
  int code;
  std::string out;
};

// Runs a shell command line, capturing stdout (stderr goes to a file we append to out after "\n--stderr--\n").
// This process's scratch directory: ctest -j runs the tests of this file as parallel processes, and a shared
// stderr file made them read each other's output (15 failures in 40 runs of `ctest -R TokenizerCli -j2`).
const test::ScratchDir& scratch() {
  static const test::ScratchDir d("tokenizer-cli");
  return d;
}

CliRun run_cli(const std::string& cmd) {
  std::string err_path = scratch() / "stderr.txt";
  FILE* p = popen((cmd + " 2>" + err_path).c_str(), "r");
  CliRun r{-1, ""};
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out += "\n--stderr--\n" + read_file(err_path);
  return r;
}

std::string write_tmp(const std::string& name, const std::string& text) {
  std::string path = scratch() / name;
  write_file_atomic(path, text);
  return path;
}

const std::string kBin = NANOSEEK_BINARY;
const std::string kTrained = test::golden_dir() + "/trained";

TEST(TokenizerCli, TokenizePrintsIdsAndDecodedPerLine) {
  std::string in = write_tmp("tok_in.jsonl", "{\"text\": \"Hello <think>12</think>\"}\n{\"text\": \"\"}\n");
  CliRun r = run_cli(kBin + " tokenize --tokenizer " + kTrained + " --jsonl " + in);
  ASSERT_EQ(r.code, 0) << r.out;
  Tokenizer tok = Tokenizer::load(kTrained);
  auto lines = r.out.substr(0, r.out.find("\n--stderr--"));
  auto first = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
  EXPECT_EQ(first["ids"].get<std::vector<int32_t>>(), tok.encode("Hello <think>12</think>"));
  EXPECT_EQ(first["decoded"], "Hello <think>12</think>");
  EXPECT_EQ(lines.substr(0, 6), "{\"ids\"");  // "ids" comes first
  EXPECT_NE(lines.find("{\"ids\":[],\"decoded\":\"\"}"), std::string::npos);
}

TEST(TokenizerCli, TokenizeReadsStdin) {
  std::string in = write_tmp("tok_stdin.jsonl", "{\"text\": \"a b\"}\n");
  CliRun r = run_cli(kBin + " tokenize --tokenizer " + kTrained + " --jsonl - < " + in);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"decoded\":\"a b\""), std::string::npos) << r.out;
}

TEST(TokenizerCli, BadLinesExitOneNamingTheLine) {
  struct Case {
    std::string body, expect;
  };
  for (const Case& c : {Case{"{\"text\": \"ok\"}\n{not json}\n", "line 2"},
                        Case{"{\"text\": \"ok\"}\n{\"txt\": \"x\"}\n", "line 2"},
                        Case{"{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"text\": \"bad \xFF\"}\n", "line 3"},
                        Case{"\n", "line 1"},  // a blank line is not JSON (outputs stay aligned with inputs)
                        Case{"{\"text\": 5}\n", "line 1"}}) {
    std::string in = write_tmp("tok_bad.jsonl", c.body);
    CliRun r = run_cli(kBin + " tokenize --tokenizer " + kTrained + " --jsonl " + in);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << r.out;
  }
}

TEST(TokenizerCli, TrainWritesLoadableTokenizer) {
  std::string out = scratch() / "trained";
  std::filesystem::remove_all(out);
  CliRun r = run_cli(kBin + " tokenizer train --corpus " + test::golden_dir() + "/train_corpus.txt --vocab-size 1024 --out " +
              out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("merges"), std::string::npos);  // progress on stderr
  EXPECT_EQ(read_file(out + "/tokenizer.json"), read_file(kTrained + "/tokenizer.json"));
  CliRun custom = run_cli(kBin + " tokenizer train --corpus " + test::golden_dir() +
                   "/train_corpus.txt --vocab-size 400 --special-tokens '<s>,</s>' --out " + out);
  ASSERT_EQ(custom.code, 0) << custom.out;
  Tokenizer tok = Tokenizer::load(out);
  EXPECT_EQ(tok.token_id("<s>"), 0);
  EXPECT_EQ(tok.token_id("</s>"), 1);
  EXPECT_EQ(tok.vocab_size(), 400);
}

}  // namespace
