#include "tokenizer/bpe_trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/fs.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace nanoseek {

const char* const kTrainerSplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> default_special_tokens() {
  return {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
          "<answer>", "</answer>", "<|im_start|>", "<|im_end|>", "<pad>"};
}

namespace {

using Pair = uint64_t;
Pair make_pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
int32_t left_of(Pair p) { return static_cast<int32_t>(p >> 32); }
int32_t right_of(Pair p) { return static_cast<int32_t>(p & 0xFFFFFFFF); }

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
};

// Heap entry; higher count first, then the smaller pair (HF's trainer uses the same order).
struct Cand {
  int64_t count;
  Pair pair;
  bool operator<(const Cand& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

std::string to_byte_level(std::string_view bytes) {
  std::string s;
  for (unsigned char c : bytes) unicode::append_utf8(s, unicode::byte_to_codepoint()[c]);
  return s;
}

nlohmann::ordered_json pre_tokenizer_json() {
  nlohmann::ordered_json split = {{"type", "Split"},
                                  {"pattern", {{"Regex", kTrainerSplitRegex}}},
                                  {"behavior", "Isolated"},
                                  {"invert", false}};
  nlohmann::ordered_json bl = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  return {{"type", "Sequence"}, {"pretokenizers", {split, bl}}};
}

}  // namespace

TrainedTokenizer train_bpe(std::string_view corpus, const BpeTrainerOptions& opt) {
  unicode::check_utf8(corpus, "BPE training corpus");
  const auto& specials = opt.special_tokens;
  for (size_t i = 0; i < specials.size(); ++i) {
    check(!specials[i].empty(), "special token #{} is empty", i);
    unicode::check_utf8(specials[i], fmt::format("special token #{}", i));
    for (size_t j = 0; j < i; ++j) check(specials[i] != specials[j], "special token '{}' is listed twice", specials[i]);
  }
  const int32_t n_special = static_cast<int32_t>(specials.size());
  check(opt.vocab_size >= n_special + 256, "--vocab-size {} is too small: {} special + 256 byte tokens are needed",
        opt.vocab_size, n_special);

  // 1. Word counts, after cutting out special tokens exactly as encode() will.
  std::vector<AddedToken> added;
  for (int32_t i = 0; i < n_special; ++i) added.push_back({specials[i], i, false, false, false, false, true});
  AddedTokenMatcher matcher(added, specials);
  PreTokenizer pre = PreTokenizer::from_json(pre_tokenizer_json(), "trainer pre_tokenizer");
  std::unordered_map<std::string, int64_t> counts;
  std::vector<std::string_view> words;
  std::deque<std::string> scratch;
  int64_t n_words = 0;
  matcher.split(corpus, [](int32_t) {}, [&](std::string_view piece) {
    words.clear();
    pre.split(piece, words, scratch);
    for (auto w : words) ++counts[std::string(w)], ++n_words;
  });
  // Deterministic order (unordered_map iteration is not).
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());

  // 2. Token table: specials, bytes, then merges.
  std::vector<std::string> tok_bytes;  // raw bytes of each non-special token, indexed by id - n_special
  std::unordered_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) {
    tok_bytes.push_back(std::string(1, static_cast<char>(b)));
    id_of[tok_bytes.back()] = n_special + b;
  }
  std::vector<Word> ws;
  ws.reserve(sorted.size());
  for (auto& [w, c] : sorted) {
    Word word{{}, c};
    for (unsigned char b : w) word.syms.push_back(n_special + b);
    ws.push_back(std::move(word));
  }

  // 3. Pair statistics and where each pair occurs.
  std::unordered_map<Pair, int64_t> pair_count;
  std::unordered_map<Pair, std::vector<int32_t>> where;
  for (int32_t wi = 0; wi < static_cast<int32_t>(ws.size()); ++wi) {
    auto& s = ws[wi].syms;
    for (size_t k = 0; k + 1 < s.size(); ++k) {
      Pair p = make_pair_key(s[k], s[k + 1]);
      pair_count[p] += ws[wi].count;
      where[p].push_back(wi);
    }
  }
  std::priority_queue<Cand> heap;
  for (auto& [p, c] : pair_count) heap.push({c, p});

  // 4. Merge loop.
  const int32_t target = opt.vocab_size - n_special - 256;
  std::vector<std::pair<int32_t, int32_t>> merges;
  int32_t next_id = n_special + 256;
  int32_t report_every = std::max(1, target / 20);
  int64_t last_best = 0;
  std::map<Pair, int64_t> delta;  // ordered: heap pushes in a deterministic order
  while (static_cast<int32_t>(merges.size()) < target && !heap.empty()) {
    Cand top = heap.top();
    heap.pop();
    auto pc = pair_count.find(top.pair);
    if (pc == pair_count.end() || pc->second != top.count) continue;  // stale entry
    if (top.count < opt.min_frequency) break;
    int32_t a = left_of(top.pair), b = right_of(top.pair);
    std::string merged = tok_bytes[a - n_special] + tok_bytes[b - n_special];
    int32_t new_id;
    if (auto it = id_of.find(merged); it != id_of.end()) {
      new_id = it->second;  // same string reached by another merge path: reuse its id, as HF does
    } else {
      new_id = next_id++;
      tok_bytes.push_back(merged);
      id_of[merged] = new_id;
    }
    merges.emplace_back(a, b);
    last_best = top.count;
    delta.clear();
    std::vector<int32_t> occ = std::move(where[top.pair]);
    where.erase(top.pair);
    std::sort(occ.begin(), occ.end());
    occ.erase(std::unique(occ.begin(), occ.end()), occ.end());
    for (int32_t wi : occ) {
      auto& s = ws[wi].syms;
      int64_t c = ws[wi].count;
      bool has = false;
      for (size_t k = 0; k + 1 < s.size() && !has; ++k) has = s[k] == a && s[k + 1] == b;
      if (!has) continue;
      for (size_t k = 0; k + 1 < s.size(); ++k) delta[make_pair_key(s[k], s[k + 1])] -= c;
      std::vector<int32_t> out;
      out.reserve(s.size());
      for (size_t k = 0; k < s.size(); ++k) {
        if (k + 1 < s.size() && s[k] == a && s[k + 1] == b) out.push_back(new_id), ++k;
        else out.push_back(s[k]);
      }
      s = std::move(out);
      for (size_t k = 0; k + 1 < s.size(); ++k) {
        Pair p = make_pair_key(s[k], s[k + 1]);
        delta[p] += c;
        if (s[k] == new_id || s[k + 1] == new_id) where[p].push_back(wi);
      }
    }
    for (auto& [p, d] : delta) {
      if (d == 0) continue;
      int64_t& c = pair_count[p];
      c += d;
      if (c > 0) heap.push({c, p});
      else pair_count.erase(p);
    }
    if (opt.progress && (merges.size() % report_every == 0))
      opt.progress(static_cast<int32_t>(merges.size()), target, top.count);
  }
  if (opt.progress) opt.progress(static_cast<int32_t>(merges.size()), target, last_best);

  // 5. tokenizer.json in HF's layout.
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int32_t i = 0; i < n_special; ++i) vocab[specials[i]] = i;
  for (size_t i = 0; i < tok_bytes.size(); ++i) vocab[to_byte_level(tok_bytes[i])] = n_special + static_cast<int32_t>(i);
  nlohmann::ordered_json merge_list = nlohmann::ordered_json::array();
  for (auto [a, b] : merges)
    merge_list.push_back({to_byte_level(tok_bytes[a - n_special]), to_byte_level(tok_bytes[b - n_special])});
  nlohmann::ordered_json added_json = nlohmann::ordered_json::array();
  for (int32_t i = 0; i < n_special; ++i)
    added_json.push_back({{"id", i}, {"content", specials[i]}, {"single_word", false}, {"lstrip", false},
                          {"rstrip", false}, {"normalized", false}, {"special", true}});
  nlohmann::ordered_json bl = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  nlohmann::ordered_json model = {{"type", "BPE"},          {"dropout", nullptr},
                                  {"unk_token", nullptr},    {"continuing_subword_prefix", nullptr},
                                  {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                                  {"byte_fallback", false},  {"ignore_merges", false},
                                  {"vocab", vocab},          {"merges", merge_list}};
  nlohmann::ordered_json tj = {{"version", "1.0"},  {"truncation", nullptr},   {"padding", nullptr},
                               {"added_tokens", added_json}, {"normalizer", nullptr},
                               {"pre_tokenizer", pre_tokenizer_json()}, {"post_processor", bl},
                               {"decoder", bl},     {"model", model}};

  auto has = [&](const char* s) { return std::find(specials.begin(), specials.end(), s) != specials.end(); };
  auto opt_tok = [&](const char* s) { return has(s) ? nlohmann::ordered_json(s) : nlohmann::ordered_json(nullptr); };
  nlohmann::ordered_json cfg = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                                {"bos_token", opt_tok("<｜begin▁of▁sentence｜>")},
                                {"eos_token", opt_tok("<｜end▁of▁sentence｜>")},
                                {"pad_token", opt_tok("<pad>")},
                                {"add_bos_token", false},
                                {"add_eos_token", false},
                                {"clean_up_tokenization_spaces", false},
                                {"model_max_length", 1000000}};

  TrainedTokenizer t;
  t.tokenizer_json = tj.dump(1, ' ', false) + "\n";
  t.config_json = cfg.dump(1, ' ', false) + "\n";
  t.vocab_size = n_special + static_cast<int32_t>(tok_bytes.size());
  t.n_merges = static_cast<int32_t>(merges.size());
  t.n_words = n_words;
  t.n_unique_words = static_cast<int64_t>(sorted.size());
  return t;
}

void save_trained_tokenizer(const TrainedTokenizer& t, const std::string& dir) {
  make_dirs(dir);
  write_file_atomic(dir + "/tokenizer.json", t.tokenizer_json);
  write_file_atomic(dir + "/tokenizer_config.json", t.config_json);
}

}  // namespace nanoseek
