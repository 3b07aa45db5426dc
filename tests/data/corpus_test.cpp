// Corpus builder: documents are deterministic, in the prompt format the RL stage uses, in the requested style mix,
// from disjoint splits; a built corpus round-trips through its tokenizer and shards.
#include <gtest/gtest.h>

#include "core/error.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/fs.h"
#include "data/corpus.h"
#include "data/shard.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {
namespace {

std::string key(const Problem& p) {
  std::string k = p.task + ":" + std::to_string(p.target);
  for (auto n : p.numbers) k += "," + std::to_string(n);
  return k;
}

TEST(Corpus, DocumentsAreDeterministicAndR1ZeroFormatted) {
  CorpusSpec s;
  const Doc a = make_document(s, Split::Train, 17), b = make_document(s, Split::Train, 17);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.text.rfind(kR1ZeroPreamble, 0), 0u);
  const std::string prompt = prompt_text(PromptFormat::R1Zero, a.problem.question);
  ASSERT_EQ(a.text.rfind(prompt, 0), 0u);
  EXPECT_EQ(prompt.substr(prompt.size() - 11), " Assistant:");
  // What follows the prompt is the completion a verifier reads: Correct unless the style is "wrong".
  const std::string completion = a.text.substr(prompt.size() + 1);
  const auto task = make_task(a.problem.task);
  EXPECT_EQ(task->verify(a.problem, completion), a.style == "wrong" ? Verdict::Wrong : Verdict::Correct);
  EXPECT_EQ(document_text(PromptFormat::Plain, "Q?", "S"), "User: Q?\nAssistant: S");
}

TEST(Corpus, SplitsNeverShareAProblem_2000train_500val) {
  CorpusSpec s;
  std::set<std::string> train;
  for (int64_t i = 0; i < 2000; ++i) {
    const Doc d = make_document(s, Split::Train, i);
    EXPECT_EQ(split_of(d.problem), Split::Train);
    train.insert(key(d.problem));
  }
  for (int64_t i = 0; i < 500; ++i) {
    const Doc d = make_document(s, Split::Val, i);
    EXPECT_EQ(split_of(d.problem), Split::Val);
    EXPECT_EQ(train.count(key(d.problem)), 0u) << d.problem.question;
  }
}

TEST(Corpus, StyleAndTaskMixFollowTheSpec_3000docs) {
  CorpusSpec s;
  s.tasks = {"add", "mul"};
  s.task_weights = {3, 1};
  s.bare = 0, s.short_ = 0.5, s.long_ = 0, s.selfcheck = 0.25, s.wrong = 0.25;
  std::map<std::string, int> styles, tasks;
  const int n = 3000;
  for (int64_t i = 0; i < n; ++i) {
    const Doc d = make_document(s, Split::Train, i);
    ++styles[d.style];
    ++tasks[d.problem.task];
  }
  // Binomial standard deviation at n=3000 is <= 0.9%; 3% bounds are > 3 sigma.
  EXPECT_EQ(styles.count("bare") + styles.count("long"), 0u);
  EXPECT_NEAR(styles["short"] / double(n), 0.5, 0.03);
  EXPECT_NEAR(styles["wrong"] / double(n), 0.25, 0.03);
  EXPECT_NEAR(tasks["add"] / double(n), 0.75, 0.03);
  s.levels = {"d9"};
  EXPECT_THROW(make_document(s, Split::Train, 0), Error);
}

TEST(Corpus, BuildTokenizesIntoShards_300docs) {
  CorpusSpec s;
  s.tasks = {"add"};
  s.train_docs = 300;
  s.val_docs = 20;
  s.vocab_size = 300;
  s.format = PromptFormat::Plain;
  const std::string dir = ::testing::TempDir() + "nanoseek_corpus";
  std::filesystem::remove_all(dir);
  const CorpusStats st = build_corpus(s, dir, false);
  const Tokenizer tok = Tokenizer::load(dir + "/tokenizer");
  const Shard train = read_shard(dir + "/train.bin", tok.vocab_size());
  EXPECT_EQ(int64_t(train.tokens.size()), st.train_tokens);
  EXPECT_EQ(train.n_docs, 300);
  EXPECT_EQ(train.eos_id, tok.eos_id());
  EXPECT_EQ(std::count(train.tokens.begin(), train.tokens.end(), tok.eos_id()), 300);
  // The first document decodes back to its text.
  const auto end = std::find(train.tokens.begin(), train.tokens.end(), tok.eos_id());
  EXPECT_EQ(tok.decode(std::vector<int32_t>(train.tokens.begin(), end)), make_document(s, Split::Train, 0).text);
  EXPECT_TRUE(file_exists(dir + "/val.bin"));
  EXPECT_TRUE(file_exists(dir + "/corpus.json"));
  EXPECT_TRUE(file_exists(dir + "/samples.txt"));
}

}  // namespace
}  // namespace nanoseek
