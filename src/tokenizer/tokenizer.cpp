#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <deque>
#include <algorithm>
#include <atomic>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace nanoseek {

struct Tokenizer::Impl {
  std::string label;
  Normalizer normalizer;
  PreTokenizer pre;
  BpeModel bpe;
  AddedTokenMatcher raw_added;   // normalized=false tokens, matched on the input text
  AddedTokenMatcher norm_added;  // normalized=true tokens, matched on normalized pieces
  TokenMap added_ids;            // content -> id of added tokens
  std::vector<std::string> text;   // [vocab_size] token string as in tokenizer.json ("" for holes)
  std::vector<std::string> bytes;  // [vocab_size] what the ByteLevel decoder turns the token into
  std::vector<uint8_t> special;    // [vocab_size]
  int32_t bos = -1, eos = -1, pad = -1;

  // Word -> ids cache. Most text repeats a small set of words, so this skips nearly all merge loops. One
  // cache per thread (no lock on the hot path), keyed by this tokenizer's unique serial number.
  static constexpr size_t kCacheMaxWords = 100000, kCacheMaxWordBytes = 128;
  using WordCache = std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>;
  uint64_t serial = next_serial();
  WordCache& thread_cache() const;
  static uint64_t next_serial() {
    static std::atomic<uint64_t> n{0};
    return ++n;
  }

  void encode_word(std::string_view w, WordCache& cache, std::vector<int32_t>& out) const;
  void encode_text(std::string_view piece, WordCache& cache, std::vector<int32_t>& out) const;
};

namespace {

// The ByteLevel decoder's rule: a token whose characters all belong to the byte alphabet becomes those
// bytes; any other token (e.g. "<｜User｜>") is taken as its own UTF-8 text.
std::string decoded_bytes(std::string_view tok) {
  std::string out;
  size_t i = 0;
  while (i < tok.size()) {
    int b = unicode::codepoint_to_byte(unicode::next_codepoint(tok, i));
    if (b < 0) return std::string(tok);
    out.push_back(static_cast<char>(b));
  }
  return out;
}


// tokenizer_config.json writes special tokens either as "text" or as {"content": "text", ...}.
int32_t config_token(const nlohmann::json& cfg, const char* key, const Tokenizer::Impl& t, const std::string& where) {
  if (!cfg.is_object() || !cfg.contains(key) || cfg[key].is_null()) return -1;
  const auto& v = cfg[key];
  std::string content;
  if (v.is_string()) content = v.get<std::string>();
  else if (v.is_object() && v.contains("content") && v["content"].is_string()) content = v["content"].get<std::string>();
  else fail("{}: {} must be a string or an object with \"content\"", where, key);
  if (auto it = t.added_ids.find(content); it != t.added_ids.end()) return it->second;
  if (auto it = t.bpe.vocab().find(content); it != t.bpe.vocab().end()) return it->second;
  fail("{}: {} '{}' is not a token of the vocabulary", where, key, content);
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& dir) {
  std::string tj = dir + "/tokenizer.json", cj = dir + "/tokenizer_config.json";
  check(file_exists(tj), "{}: no tokenizer.json (a model/tokenizer directory must carry its tokenizer files)", dir);
  return from_json(read_file(tj), file_exists(cj) ? read_file(cj) : std::string(), tj);
}

Tokenizer Tokenizer::from_json(const std::string& tokenizer_json, const std::string& config_json, std::string label) {
  // Every field is checked with a message naming its JSON path; this net turns any access we did not
  // anticipate (a mistyped field deep in a mutated file) into an Error too, never a crash.
  try {
    return from_json_checked(tokenizer_json, config_json, label);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected JSON structure: {}", label, e.what());
  }
}

Tokenizer Tokenizer::from_json_checked(const std::string& tokenizer_json, const std::string& config_json,
                                       const std::string& label) {
  auto t = std::make_shared<Impl>();
  t->label = label;
  nlohmann::json j = parse_json(tokenizer_json, label);
  check(j.is_object(), "{}: top level must be a JSON object", label);
  t->normalizer = Normalizer::from_json(j.value("normalizer", nlohmann::json()), label + ": normalizer");
  t->pre = PreTokenizer::from_json(j.value("pre_tokenizer", nlohmann::json()), label + ": pre_tokenizer");
  check(j.contains("model"), "{}: missing \"model\"", label);
  t->bpe = BpeModel::from_json(j["model"], label);
  const nlohmann::json dec = j.value("decoder", nlohmann::json());
  check(dec.is_object() && dec.contains("type") && dec["type"] == "ByteLevel",
        "{}: decoder must be {{\"type\": \"ByteLevel\"}} (got {}); other decoders are not supported", label,
        json_brief(dec));
  // post_processor only adds BOS/EOS or adjusts offsets; encode() adds neither, so it is not consulted.

  int32_t max_id = t->bpe.max_id();
  std::vector<AddedToken> added;
  const nlohmann::json at = j.value("added_tokens", nlohmann::json::array());
  check(at.is_array(), "{}: added_tokens must be an array", label);
  for (size_t i = 0; i < at.size(); ++i) {
    const auto& e = at[i];
    std::string w = fmt::format("{}: added_tokens[{}]", label, i);
    check(e.is_object() && e.contains("content") && e["content"].is_string() && e.contains("id") &&
              e["id"].is_number_integer() && e["id"].get<int64_t>() >= 0 && e["id"].get<int64_t>() < (1 << 30),
          "{} must have a string \"content\" and a non-negative integer \"id\"", w);
    AddedToken tok;
    tok.content = e["content"].get<std::string>();
    tok.id = e["id"].get<int32_t>();
    auto get = [&](const char* k, bool def) {
      if (!e.contains(k)) return def;
      check(e[k].is_boolean(), "{}.{} must be true or false", w, k);
      return e[k].get<bool>();
    };
    tok.single_word = get("single_word", false);
    tok.lstrip = get("lstrip", false);
    tok.rstrip = get("rstrip", false);
    tok.normalized = get("normalized", true);  // serde default of HF AddedToken
    tok.special = get("special", false);
    if (tok.content.empty()) continue;  // HF ignores empty added tokens
    unicode::check_utf8(tok.content, w + ".content");
    // HF keeps the model's id when the content is already in the vocab.
    if (auto it = t->bpe.vocab().find(tok.content); it != t->bpe.vocab().end()) tok.id = it->second;
    if (t->added_ids.count(tok.content)) continue;  // first definition wins
    t->added_ids.emplace(tok.content, tok.id);
    max_id = std::max(max_id, tok.id);
    added.push_back(tok);
  }

  // Ids index dense tables; refuse absurdly sparse ids instead of allocating gigabytes.
  size_t n_tokens = t->bpe.vocab().size() + added.size();
  check(static_cast<size_t>(max_id) < 2 * n_tokens + 1024, "{}: max token id {} is far above the {} tokens defined",
        label, max_id, n_tokens);
  t->text.assign(max_id + 1, std::string());
  t->bytes.assign(max_id + 1, std::string());
  t->special.assign(max_id + 1, 0);
  for (auto& [s, id] : t->bpe.vocab()) t->text[id] = s;
  for (auto& a : added) {
    const std::string& prev = t->text[a.id];
    check(prev.empty() || prev == a.content, "{}: added token '{}' has id {} which model.vocab gives to '{}'", label,
          a.content, a.id, prev);
    // HF (0.20+) decodes a normalized added token from its normalized form ("ﬁx" under NFKC -> "fix").
    t->text[a.id] = a.normalized ? t->normalizer.apply(a.content) : a.content;
    t->special[a.id] = a.special;
  }
  for (int32_t id = 0; id <= max_id; ++id) t->bytes[id] = decoded_bytes(t->text[id]);

  // HF matches special tokens first, then the others, each group in file order; normalized ones are
  // matched in their normalized form.
  std::vector<AddedToken> raw, norm;
  std::vector<std::string> raw_pat, norm_pat;
  for (int pass = 0; pass < 2; ++pass)
    for (auto& a : added) {
      if (a.special != (pass == 0)) continue;
      if (a.normalized) norm.push_back(a), norm_pat.push_back(t->normalizer.apply(a.content));
      else raw.push_back(a), raw_pat.push_back(a.content);
    }
  t->raw_added = AddedTokenMatcher(std::move(raw), std::move(raw_pat));
  t->norm_added = AddedTokenMatcher(std::move(norm), std::move(norm_pat));

  if (!config_json.empty()) {
    std::string where = label + " (tokenizer_config.json)";
    nlohmann::json cfg = parse_json(config_json, where);
    check(cfg.is_object(), "{}: top level must be a JSON object", where);
    t->bos = config_token(cfg, "bos_token", *t, where);
    t->eos = config_token(cfg, "eos_token", *t, where);
    t->pad = config_token(cfg, "pad_token", *t, where);
  }
  Tokenizer tok;
  tok.impl_ = std::move(t);
  return tok;
}

Tokenizer::Impl::WordCache& Tokenizer::Impl::thread_cache() const {
  // A thread keeps caches for its 4 most recently used tokenizers; serial numbers are never reused, so a
  // cache can never be picked up by a different tokenizer allocated at the same address.
  thread_local std::vector<std::pair<uint64_t, std::unique_ptr<WordCache>>> caches;
  for (size_t i = 0; i < caches.size(); ++i)
    if (caches[i].first == serial) {
      if (i + 1 != caches.size()) std::rotate(caches.begin() + i, caches.begin() + i + 1, caches.end());
      return *caches.back().second;
    }
  if (caches.size() >= 4) caches.erase(caches.begin());
  caches.emplace_back(serial, std::make_unique<WordCache>());
  return *caches.back().second;
}

void Tokenizer::Impl::encode_word(std::string_view w, WordCache& cache, std::vector<int32_t>& out) const {
  if (w.size() > kCacheMaxWordBytes) {
    bpe.encode_word(w, out);
    return;
  }
  if (auto it = cache.find(w); it != cache.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  size_t start = out.size();
  bpe.encode_word(w, out);
  if (cache.size() >= kCacheMaxWords) cache.clear();  // bounded memory; refills with the current text's words
  cache.emplace(std::string(w), std::vector<int32_t>(out.begin() + start, out.end()));
}

void Tokenizer::Impl::encode_text(std::string_view piece, WordCache& cache, std::vector<int32_t>& out) const {
  thread_local std::vector<std::string_view> words;
  thread_local std::deque<std::string> scratch;
  words.clear();
  scratch.clear();
  pre.split(piece, words, scratch);
  for (auto w : words) encode_word(w, cache, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  unicode::check_utf8(text, impl_->label + ": encode");
  const Impl& t = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  Impl::WordCache& cache = t.thread_cache();
  auto push_id = [&](int32_t id) { ids.push_back(id); };
  auto after_norm = [&](std::string_view piece) { t.encode_text(piece, cache, ids); };
  t.raw_added.split(text, push_id, [&](std::string_view piece) {
    if (t.normalizer.identity()) {
      if (t.norm_added.empty()) t.encode_text(piece, cache, ids);
      else t.norm_added.split(piece, push_id, after_norm);
      return;
    }
    std::string normalized = t.normalizer.apply(piece);
    if (t.norm_added.empty()) t.encode_text(normalized, cache, ids);
    else t.norm_added.split(normalized, push_id, after_norm);
  });
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string raw;
  for (int32_t id : ids) {
    check(id >= 0 && id < vocab_size(), "{}: decode: token id {} is outside the vocabulary [0, {})", impl_->label,
          id, vocab_size());
    if (skip_special && impl_->special[id]) continue;
    raw += impl_->bytes[id];
  }
  return unicode::lossy_utf8(raw);
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->text.size()); }

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  if (auto it = impl_->added_ids.find(token); it != impl_->added_ids.end()) return it->second;
  if (auto it = impl_->bpe.vocab().find(token); it != impl_->bpe.vocab().end()) return it->second;
  return std::nullopt;
}

std::string_view Tokenizer::token_text(int32_t id) const {
  check(id >= 0 && id < vocab_size(), "{}: token id {} is outside the vocabulary [0, {})", impl_->label, id,
        vocab_size());
  return impl_->text[id];
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  check(id >= 0 && id < vocab_size(), "{}: token id {} is outside the vocabulary [0, {})", impl_->label, id,
        vocab_size());
  return impl_->bytes[id];
}

int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && impl_->special[id]; }
const std::string& Tokenizer::label() const { return impl_->label; }

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special) : tok_(tok), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_special(id)) return {};
  pending_ += tok_.token_bytes(id);
  // Emit up to the start of a trailing, still-incomplete character; lossy decoding of that prefix equals
  // the corresponding part of decoding everything, since a lead byte always starts a new subpart.
  size_t n = unicode::stable_utf8_prefix(pending_);
  std::string out = unicode::lossy_utf8(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = unicode::lossy_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace nanoseek
