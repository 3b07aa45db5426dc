// Seeded fuzzing: mutated tokenizer.json files must load or raise nanoseek::Error (never crash or throw
// anything else); random bytes must encode or raise Error exactly when they are invalid UTF-8; random valid
// text must round-trip (decode(encode(x)) == x, or NFC(x) for Qwen3's NFC normalizer); random id streams
// must stream-decode exactly like decode().
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <random>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/unicode.h"

using namespace nanoseek;

namespace {

const std::string& trained_json() {
  static const std::string s = read_file(test::golden_dir() + "/trained/tokenizer.json");
  return s;
}

// Loads and, if that works, encodes/decodes a little text; true when it loaded.
bool load_or_error(const std::string& json, const std::string& what) {
  try {
    Tokenizer tok = Tokenizer::from_json(json, "", "mutant");
    auto ids = tok.encode("Hello 123 <think>héllo</think> 你好");
    (void)tok.decode(ids);
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-nanoseek exception: " << e.what();
    return false;
  }
}

TEST(TokenizerFuzz, ByteMutatedJson2000Cases) {
  std::mt19937_64 rng(1234);
  const std::string& base = trained_json();
  int loaded = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string s = base;
    int n_mut = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n_mut; ++k) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        case 2: s.insert(at, 1, "{}[]\":,0-9e\\ "[rng() % 13]); break;
        case 3: s.resize(at); break;
      }
      if (s.empty()) s = "{";
    }
    loaded += load_or_error(s, "byte mutation " + std::to_string(i));
  }
  EXPECT_GT(loaded, 0);  // some mutations (e.g. inside a merge string) still load
}

TEST(TokenizerFuzz, StructureMutatedJson500Cases) {
  std::mt19937_64 rng(99);
  const nlohmann::json base = nlohmann::json::parse(trained_json());
  const std::vector<nlohmann::json> junk = {nullptr, 0, -1, 1e9, "x", "Metaspace", true, nlohmann::json::array(),
                                            nlohmann::json::object(), nlohmann::json::array({"a", "b", "c"})};
  for (int i = 0; i < 500; ++i) {
    nlohmann::json j = base;
    // Walk to a random node and replace or delete it.
    nlohmann::json* node = &j;
    std::string path;
    for (int depth = 0; depth < 1 + static_cast<int>(rng() % 4); ++depth) {
      if (node->is_object() && !node->empty()) {
        auto it = node->begin();
        std::advance(it, rng() % node->size());
        path += "." + it.key();
        node = &it.value();
      } else if (node->is_array() && !node->empty()) {
        size_t k = rng() % node->size();
        path += "[" + std::to_string(k) + "]";
        node = &(*node)[k];
      }
    }
    *node = junk[rng() % junk.size()];
    load_or_error(j.dump(), "structure mutation at " + path);
  }
}

// Every node of the file (all but the vocab and merge entries, and only the first two added tokens) replaced by
// each value of another type: loads or an Error, never nlohmann's type_error. Regression (issue #11): "model.type",
// "model.fuse_unk", "model.dropout", "decoder.type" and a Split's "behavior" of the wrong type escaped as
// internal errors.
TEST(TokenizerFuzz, EveryFieldWithEveryWrongTypeIsAnError) {
  const nlohmann::json base = nlohmann::json::parse(trained_json());
  const std::vector<nlohmann::json> junk = {nullptr, 0, -1, 1.5, "x", true, nlohmann::json::array(),
                                            nlohmann::json::object(), nlohmann::json::array({1, "b"}),
                                            nlohmann::json{{"type", 3}}};
  std::vector<nlohmann::json::json_pointer> paths;
  std::function<void(const nlohmann::json&, const nlohmann::json::json_pointer&)> walk =
      [&](const nlohmann::json& j, const nlohmann::json::json_pointer& p) {
        paths.push_back(p);
        const std::string s = p.to_string();
        if (s == "/model/vocab" || s == "/model/merges") return;
        if (j.is_object())
          for (auto it = j.begin(); it != j.end(); ++it) walk(it.value(), p / it.key());
        if (j.is_array())
          for (size_t i = 0; i < j.size() && (s != "/added_tokens" || i < 2); ++i) walk(j[i], p / i);
      };
  walk(base, nlohmann::json::json_pointer());
  ASSERT_GT(paths.size(), 30u);
  for (const auto& p : paths)
    for (const auto& v : junk) {
      nlohmann::json j = base;
      j[p] = v;
      load_or_error(j.dump(), p.to_string() + " = " + v.dump());
    }
  nlohmann::json j = base;
  j["model"]["fuse_unk"] = "yes";
  try {
    Tokenizer::from_json(j.dump(), "", "tok.json");
    FAIL() << "fuse_unk \"yes\" accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tok.json: model: field 'fuse_unk' must be true or false, got \"yes\""),
              std::string::npos) << e.what();
  }
}

TEST(TokenizerFuzz, UnknownComponentNamesJsonPath) {
  nlohmann::json j = nlohmann::json::parse(trained_json());
  j["pre_tokenizer"]["pretokenizers"][0]["type"] = "Metaspace";
  try {
    Tokenizer::from_json(j.dump(), "", "tok.json");
    FAIL() << "Metaspace accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pre_tokenizer.pretokenizers[0].type 'Metaspace'"), std::string::npos)
        << e.what();
  }
  j = nlohmann::json::parse(trained_json());
  j["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_THROW(Tokenizer::from_json(j.dump(), "", "tok.json"), Error);
  j = nlohmann::json::parse(trained_json());
  j["model"]["type"] = "WordPiece";
  EXPECT_THROW(Tokenizer::from_json(j.dump(), "", "tok.json"), Error);
}

std::string random_valid_utf8(std::mt19937_64& rng, size_t n_chars) {
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    uint64_t r = rng() % 10;
    char32_t cp;
    if (r < 4) cp = 0x20 + rng() % 0x5F;                                  // ASCII printable
    else if (r < 5) cp = "\t\n\r \x0b\x0c"[rng() % 6];                    // whitespace
    else if (r < 7) cp = 0x80 + rng() % 0x780;                            // Latin..Arabic (incl. combining)
    else if (r < 8) cp = 0x3000 + rng() % 0x7000;                         // CJK, kana
    else if (r < 9) cp = 0x1F300 + rng() % 0x300;                         // emoji
    else cp = static_cast<char32_t>(rng() % 0x110000);                    // anything
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';                           // surrogates are not characters
    unicode::append_utf8(s, cp);
  }
  return s;
}

void round_trip(const Tokenizer& tok, bool nfc, uint64_t seed, int cases) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < cases; ++i) {
    std::string s = random_valid_utf8(rng, rng() % 64);
    std::string expect = nfc ? unicode::normalize(s, unicode::NormForm::NFC) : s;
    ASSERT_EQ(tok.decode(tok.encode(s)), expect) << "case " << i;
  }
}

TEST(TokenizerFuzz, RandomValidUtf8RoundTrips3000Cases) {
  round_trip(Tokenizer::from_json(trained_json(), "", "trained"), false, 5, 1000);
  if (auto* ds = test::real_tokenizer("deepseek-v3")) round_trip(*ds, false, 6, 1000);
  if (auto* qw = test::real_tokenizer("qwen3")) round_trip(*qw, true, 7, 1000);
}

TEST(TokenizerFuzz, RandomBytesEncodeOrErrorAtOffset2000Cases) {
  Tokenizer tok = Tokenizer::from_json(trained_json(), "", "trained");
  std::mt19937_64 rng(11);
  int invalid = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 32, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 4 == 0 ? rng() : 0x20 + rng() % 0x60);
    size_t bad = unicode::invalid_utf8_offset(s);
    if (bad == unicode::kValid) {
      EXPECT_EQ(tok.decode(tok.encode(s)), s);
      continue;
    }
    ++invalid;
    try {
      tok.encode(s);
      ADD_FAILURE() << "invalid UTF-8 accepted, case " << i;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("byte offset " + std::to_string(bad)), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(invalid, 500);
}

TEST(TokenizerFuzz, RandomIdStreamsDecodeLikeDecode1000Cases) {
  std::mt19937_64 rng(3);
  auto check_tok = [&](const Tokenizer& tok) {
    for (int i = 0; i < 500; ++i) {
      std::vector<int32_t> ids(rng() % 20);
      for (auto& id : ids) id = static_cast<int32_t>(rng() % tok.vocab_size());
      StreamDecoder sd(tok);
      std::string streamed;
      for (int32_t id : ids) streamed += sd.push(id);
      streamed += sd.flush();
      std::string full = tok.decode(ids);
      ASSERT_EQ(streamed, full);
      ASSERT_EQ(unicode::invalid_utf8_offset(full), unicode::kValid);
    }
  };
  check_tok(Tokenizer::from_json(trained_json(), "", "trained"));
  if (auto* ds = test::real_tokenizer("deepseek-v3")) check_tok(*ds);
}

}  // namespace
