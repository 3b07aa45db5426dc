// Shared by the tokenizer tests: the real tokenizers (loaded once per process) and golden paths.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "core/fs.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek::test {

inline std::string golden_dir() { return std::string(NANOSEEK_SOURCE_DIR) + "/tests/golden/tokenizer"; }
inline std::string real_tokenizer_dir(const std::string& name) {
  return std::string(NANOSEEK_SOURCE_DIR) + "/../shared/data/tokenizers/" + name;
}

// nullptr when the shared tokenizer files are absent (tests then GTEST_SKIP).
inline const Tokenizer* real_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<Tokenizer> tok;
  if (file_exists(real_tokenizer_dir(name) + "/tokenizer.json"))
    tok = std::make_unique<Tokenizer>(Tokenizer::load(real_tokenizer_dir(name)));
  return cache.emplace(name, std::move(tok)).first->second.get();
}

}  // namespace nanoseek::test

#define NANOSEEK_REAL_TOKENIZER_OR_SKIP(var, name)                                                        \
  const nanoseek::Tokenizer* var = nanoseek::test::real_tokenizer(name);                                  \
  if (!var) GTEST_SKIP() << "real tokenizer files absent: " << nanoseek::test::real_tokenizer_dir(name) \
                         << " (shared data folder not mounted)"
