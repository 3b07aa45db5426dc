// Exact agreement with HF `tokenizers` 0.23 on the committed corpus and a 200 KB mixed-script stress text
// (goldens from tools/tokenizer/make_goldens.py), for the real DeepSeek-V3 and Qwen3 tokenizer.json files.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/unicode.h"

using namespace nanoseek;

namespace {

uint64_t fnv1a64_le32(const std::vector<int32_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int32_t id : ids)
    for (int k = 0; k < 4; ++k) h = (h ^ ((static_cast<uint32_t>(id) >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
  return h;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

class TokenizerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGolden, CorpusIdsAndDecodeMatchHF) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, GetParam());
  auto rows = read_jsonl(test::golden_dir() + "/" + GetParam() + ".jsonl");
  ASSERT_GE(rows.size(), 70u);
  for (auto& r : rows) {
    std::string text = r["text"];
    auto ids = tok->encode(text);
    EXPECT_EQ(ids, r["ids"].get<std::vector<int32_t>>()) << "text: " << text;
    EXPECT_EQ(tok->decode(ids), r["decoded"].get<std::string>()) << "text: " << text;
    EXPECT_EQ(tok->decode(ids, /*skip_special=*/true), r["decoded_skip_special"].get<std::string>()) << text;
  }
}

TEST_P(TokenizerGolden, Stress200KBHashMatchesHF) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, GetParam());
  std::string text = read_file(test::golden_dir() + "/stress.txt");
  auto g = nlohmann::json::parse(read_file(test::golden_dir() + "/" + GetParam() + "_stress.json"));
  auto ids = tok->encode(text);
  ASSERT_EQ(ids.size(), g["n_ids"].get<size_t>());
  EXPECT_EQ(fmt::format("{:016x}", fnv1a64_le32(ids)), g["fnv1a64_ids_le32"].get<std::string>());
  // No normalizer: decode restores the text byte for byte; Qwen3 normalizes to NFC first.
  std::string expect = GetParam() == "qwen3" ? unicode::normalize(text, unicode::NormForm::NFC) : text;
  EXPECT_EQ(tok->decode(ids), expect);
  EXPECT_EQ(g["decoded_equals_text"].get<bool>(), tok->decode(ids) == text);
}

TEST_P(TokenizerGolden, StreamDecoderEqualsDecodeOnCorpus) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, GetParam());
  for (auto& r : read_jsonl(test::golden_dir() + "/" + GetParam() + ".jsonl")) {
    auto ids = r["ids"].get<std::vector<int32_t>>();
    for (bool skip : {false, true}) {
      StreamDecoder sd(*tok, skip);
      std::string streamed;
      for (int32_t id : ids) streamed += sd.push(id);
      streamed += sd.flush();
      EXPECT_EQ(streamed, tok->decode(ids, skip)) << r["text"].get<std::string>();
    }
  }
}

TEST_P(TokenizerGolden, InvalidUtf8IsErrorWithByteOffset) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, GetParam());
  for (auto [bytes, offset] : std::vector<std::pair<std::string, int>>{
           {"ab\xFF", 2}, {"hello \xE4\xB8", 6}, {"\xC0\xAF", 0}, {"ok\xED\xA0\x80", 2}, {"x\x80y", 1}}) {
    try {
      tok->encode(bytes);
      ADD_FAILURE() << "no error for invalid UTF-8 at " << offset;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fmt::format("byte offset {}", offset)), std::string::npos) << e.what();
    }
  }
}

TEST_P(TokenizerGolden, DecodeRejectsOutOfRangeIds) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, GetParam());
  std::vector<int32_t> bad{tok->vocab_size()};
  EXPECT_THROW(tok->decode(bad), Error);
  std::vector<int32_t> neg{-1};
  EXPECT_THROW(tok->decode(neg), Error);
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, TokenizerGolden, ::testing::Values("deepseek-v3", "qwen3"),
                         [](const auto& info) { return info.param == "qwen3" ? "Qwen3" : "DeepSeekV3"; });

TEST(TokenizerReal, DeepSeekV3VocabAndSpecials) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, "deepseek-v3");
  EXPECT_EQ(tok->vocab_size(), 128815);
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_EQ(tok->token_id("<｜User｜>"), 128803);
  EXPECT_EQ(tok->token_id("<｜Assistant｜>"), 128804);
  EXPECT_TRUE(tok->is_special(0));
  EXPECT_FALSE(tok->is_special(128803));  // <｜User｜> is an added token but not special in this file
  EXPECT_FALSE(tok->token_id("<think>").has_value());  // V3's vocabulary has no <think> token
  EXPECT_EQ(tok->token_text(0), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok->token_id("Ġthe").has_value(), true);
  EXPECT_FALSE(tok->token_id("definitely not a token").has_value());
}

TEST(TokenizerReal, Qwen3VocabAndSpecials) {
  NANOSEEK_REAL_TOKENIZER_OR_SKIP(tok, "qwen3");
  EXPECT_EQ(tok->vocab_size(), 151669);
  EXPECT_EQ(tok->bos_id(), -1);  // bos_token: null
  EXPECT_EQ(tok->eos_id(), 151645);  // <|im_end|>
  EXPECT_EQ(tok->pad_id(), 151643);  // <|endoftext|>
  EXPECT_EQ(tok->token_id("<|im_start|>"), 151644);
  EXPECT_TRUE(tok->is_special(151644));
  EXPECT_FALSE(tok->is_special(151667));  // <think>
  EXPECT_EQ(tok->token_text(151667), "<think>");
}

}  // namespace
