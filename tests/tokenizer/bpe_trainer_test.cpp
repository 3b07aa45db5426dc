// The BPE trainer: deterministic output (byte-identical to the committed tokenizer.json, which HF
// `tokenizers` loaded and encoded identically to us in tools/tokenizer/make_goldens.py), HF-proven ids on
// held-out text, and our own round trip.
#include "tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "test_util.h"

using namespace nanoseek;

namespace {

TrainedTokenizer train_committed_corpus() {
  BpeTrainerOptions opt;
  opt.vocab_size = 1024;  // the size make_goldens.py asks for
  return train_bpe(read_file(test::golden_dir() + "/train_corpus.txt"), opt);
}

TEST(TokenizerBpeTrainer, Vocab1024IsDeterministicAndMatchesCommittedFile) {
  TrainedTokenizer a = train_committed_corpus(), b = train_committed_corpus();
  EXPECT_EQ(a.tokenizer_json, b.tokenizer_json);
  EXPECT_EQ(a.tokenizer_json, read_file(test::golden_dir() + "/trained/tokenizer.json"));
  EXPECT_EQ(a.config_json, read_file(test::golden_dir() + "/trained/tokenizer_config.json"));
  EXPECT_LE(a.vocab_size, 1024);
  EXPECT_EQ(a.vocab_size, 11 + 256 + a.n_merges);
}

TEST(TokenizerBpeTrainer, HeldOutIdsMatchHFAndRoundTrip) {
  TrainedTokenizer t = train_committed_corpus();
  Tokenizer tok = Tokenizer::from_json(t.tokenizer_json, t.config_json, "trained");
  std::istringstream in(read_file(test::golden_dir() + "/trained_heldout.jsonl"));
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    auto r = nlohmann::json::parse(line);
    std::string text = r["text"];
    auto ids = tok.encode(text);
    EXPECT_EQ(ids, r["ids"].get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(tok.decode(ids), text);  // no normalizer: byte-exact round trip
  }
  EXPECT_GT(n, 200);
}

TEST(TokenizerBpeTrainer, SpecialsFirstDigitsSingle) {
  TrainedTokenizer t = train_committed_corpus();
  Tokenizer tok = Tokenizer::from_json(t.tokenizer_json, t.config_json, "trained");
  auto specials = default_special_tokens();
  for (size_t i = 0; i < specials.size(); ++i) {
    EXPECT_EQ(tok.token_id(specials[i]), static_cast<int32_t>(i));
    EXPECT_TRUE(tok.is_special(static_cast<int32_t>(i)));
  }
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.pad_id(), 10);
  auto ids = tok.encode("12345+678");
  ASSERT_EQ(ids.size(), 9u);  // one pre-token per digit
  EXPECT_EQ(tok.decode(ids), "12345+678");
  EXPECT_EQ(tok.encode("<think>7</think>"), (std::vector<int32_t>{4, *tok.token_id("7"), 5}));
}

TEST(TokenizerBpeTrainer, CustomSpecialsAndTinyCorpus) {
  BpeTrainerOptions opt;
  opt.vocab_size = 300;
  opt.special_tokens = {"<s>", "</s>"};
  opt.min_frequency = 1;
  TrainedTokenizer t = train_bpe("low lower lowest <s>newer</s> wider\n", opt);
  Tokenizer tok = Tokenizer::from_json(t.tokenizer_json, t.config_json, "tiny");
  EXPECT_EQ(tok.bos_id(), -1);  // no DeepSeek bos among the specials
  EXPECT_EQ(tok.encode("<s>low</s>").front(), 0);
  EXPECT_EQ(tok.decode(tok.encode("lowest newer ünïcode")), "lowest newer ünïcode");
  EXPECT_GT(t.n_merges, 5);
}

TEST(TokenizerBpeTrainer, BadInputsAreErrors) {
  BpeTrainerOptions opt;
  opt.vocab_size = 100;  // < 11 specials + 256 bytes
  EXPECT_THROW(train_bpe("text", opt), Error);
  opt.vocab_size = 1000;
  EXPECT_THROW(train_bpe("bad \xFF utf8", opt), Error);
  opt.special_tokens = {"<a>", "<a>"};
  EXPECT_THROW(train_bpe("text", opt), Error);
}

}  // namespace
