// tokenizer.json options the real files do not use (Split behaviours, invert, String patterns, ByteLevel
// prefix space + regex, NFKC with normalized added tokens, lstrip/rstrip/single_word, ignore_merges,
// byte_fallback, unk_token + fuse_unk), each checked against HF ids and decodes from
// tools/tokenizer/make_variant_goldens.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "test_util.h"

using namespace nanoseek;

namespace {

// Mirrors apply() in make_variant_goldens.py.
std::string apply_overrides(nlohmann::json base, const nlohmann::json& v) {
  for (auto& [k, val] : v.items()) {
    if (k == "model") base["model"].update(val);
    else if (k == "remove_vocab") for (auto& t : val) base["model"]["vocab"].erase(t.get<std::string>());
    else if (k == "add_vocab") base["model"]["vocab"].update(val);
    else base[k] = val;
  }
  return base.dump();
}

TEST(TokenizerVariants, NineOptionSetsMatchHF) {
  const auto base = nlohmann::json::parse(read_file(test::golden_dir() + "/trained/tokenizer.json"));
  std::istringstream in(read_file(test::golden_dir() + "/variants.jsonl"));
  int n_variants = 0;
  for (std::string line; std::getline(in, line); ++n_variants) {
    auto row = nlohmann::json::parse(line);
    std::string name = row["name"];
    Tokenizer tok = Tokenizer::from_json(apply_overrides(base, row["overrides"]), "", name);
    int bad = 0;
    for (auto& c : row["cases"]) {
      std::string text = c["text"];
      auto ids = tok.encode(text);
      bool ok = ids == c["ids"].get<std::vector<int32_t>>() && tok.decode(ids) == c["decoded"].get<std::string>();
      if (!ok && ++bad <= 3) ADD_FAILURE() << name << ": mismatch on " << nlohmann::json(text).dump();
    }
    EXPECT_EQ(bad, 0) << name;
  }
  EXPECT_EQ(n_variants, 9);
}

}  // namespace
