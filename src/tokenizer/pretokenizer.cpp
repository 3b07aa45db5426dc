#include "tokenizer/pretokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace nanoseek {
namespace {

// The GPT-2 pattern ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string type_of(const nlohmann::json& j, const std::string& where) {
  check(j.is_object() && j.contains("type") && j["type"].is_string(), "{}: must be an object with a string \"type\"",
        where);
  return j["type"].get<std::string>();
}

bool flag(const nlohmann::json& j, const char* key, bool def, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return def;
  check(j[key].is_boolean(), "{}.{} must be true or false", where, key);
  return j[key].get<bool>();
}

void collect_normalizers(const nlohmann::json& j, const std::string& where, std::vector<unicode::NormForm>& out) {
  if (j.is_null()) return;
  std::string type = type_of(j, where);
  if (type == "Sequence") {
    check(j.contains("normalizers") && j["normalizers"].is_array(), "{}.normalizers must be an array", where);
    for (size_t i = 0; i < j["normalizers"].size(); ++i)
      collect_normalizers(j["normalizers"][i], fmt::format("{}.normalizers[{}]", where, i), out);
  } else if (type == "NFC") {
    out.push_back(unicode::NormForm::NFC);
  } else if (type == "NFD") {
    out.push_back(unicode::NormForm::NFD);
  } else if (type == "NFKC") {
    out.push_back(unicode::NormForm::NFKC);
  } else if (type == "NFKD") {
    out.push_back(unicode::NormForm::NFKD);
  } else {
    fail("{}.type '{}' is not supported (supported normalizers: NFC, NFD, NFKC, NFKD, Sequence)", where, type);
  }
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& where) {
  Normalizer n;
  collect_normalizers(j, where, n.forms_);
  return n;
}

std::string Normalizer::apply(std::string_view s) const {
  std::string cur(s);
  for (auto f : forms_) cur = unicode::normalize(cur, f);
  return cur;
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j, const std::string& where) {
  check(!j.is_null(), "{}: a ByteLevel pre-tokenizer is required (only byte-level BPE is supported)", where);
  std::vector<std::pair<const nlohmann::json*, std::string>> list;
  if (type_of(j, where) == "Sequence") {
    check(j.contains("pretokenizers") && j["pretokenizers"].is_array(), "{}.pretokenizers must be an array", where);
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i)
      list.emplace_back(&j["pretokenizers"][i], fmt::format("{}.pretokenizers[{}]", where, i));
  } else {
    list.emplace_back(&j, where);
  }
  PreTokenizer pt;
  bool byte_level = false;
  for (auto& [p, w] : list) {
    std::string type = type_of(*p, w);
    check(!byte_level, "{}: '{}' after ByteLevel is not supported (ByteLevel must be the last pre-tokenizer)", w,
          type);
    if (type == "Split") {
      check(p->contains("pattern") && (*p)["pattern"].is_object(), "{}.pattern must be an object", w);
      const auto& pat = (*p)["pattern"];
      std::string regex;
      if (pat.contains("Regex") && pat["Regex"].is_string()) {
        regex = pat["Regex"].get<std::string>();
      } else if (pat.contains("String") && pat["String"].is_string()) {
        regex = quote_regex(pat["String"].get<std::string>());
      } else {
        fail("{}.pattern must be {{\"Regex\": ...}} or {{\"String\": ...}}", w);
      }
      check(!p->contains("behavior") || (*p)["behavior"].is_string(), "{}.behavior must be a string", w);
      std::string b = p->value("behavior", "");
      SplitBehavior beh;
      if (b == "Removed") beh = SplitBehavior::Removed;
      else if (b == "Isolated") beh = SplitBehavior::Isolated;
      else if (b == "MergedWithPrevious") beh = SplitBehavior::MergedWithPrevious;
      else if (b == "MergedWithNext") beh = SplitBehavior::MergedWithNext;
      else if (b == "Contiguous") beh = SplitBehavior::Contiguous;
      else fail("{}.behavior '{}' is not supported", w, b);
      pt.steps_.push_back({Regex(regex, w + ".pattern"), beh, flag(*p, "invert", false, w)});
    } else if (type == "ByteLevel") {
      byte_level = true;
      pt.add_prefix_space_ = flag(*p, "add_prefix_space", true, w);
      pt.byte_level_step_ = pt.steps_.size();
      if (flag(*p, "use_regex", true, w))
        pt.steps_.push_back({Regex(kGpt2Pattern, w + " (GPT-2 regex)"), SplitBehavior::Isolated, false});
    } else {
      fail("{}.type '{}' is not supported (supported pre-tokenizers: Sequence, Split, ByteLevel)", w, type);
    }
  }
  check(byte_level, "{}: no ByteLevel pre-tokenizer (only byte-level BPE is supported)", where);
  return pt;
}

void PreTokenizer::apply_step(const Step& step, std::string_view s, std::vector<std::string_view>& out) {
  thread_local std::vector<std::pair<size_t, size_t>> found;
  struct Span {
    size_t a, b;
    bool match;
  };
  thread_local std::vector<Span> spans, merged;
  found.clear();
  spans.clear();
  merged.clear();
  step.re.find_all(s, found);
  size_t pos = 0;
  for (auto [a, b] : found) {
    if (a > pos) spans.push_back({pos, a, step.invert});
    spans.push_back({a, b, !step.invert});
    pos = b;
  }
  if (pos < s.size()) spans.push_back({pos, s.size(), step.invert});

  // The five behaviours, following HF's NormalizedString::split.
  bool prev_match = false;
  switch (step.behavior) {
    case SplitBehavior::Isolated:
      merged = spans;
      break;
    case SplitBehavior::Removed:
      for (auto& sp : spans)
        if (!sp.match) merged.push_back(sp);
      break;
    case SplitBehavior::MergedWithPrevious:
      for (auto& sp : spans) {
        if (sp.match && !prev_match && !merged.empty()) merged.back().b = sp.b;
        else merged.push_back(sp);
        prev_match = sp.match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (size_t k = spans.size(); k-- > 0;) {
        auto& sp = spans[k];
        if (sp.match && !prev_match && !merged.empty()) merged.back().a = sp.a;
        else merged.push_back(sp);
        prev_match = sp.match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case SplitBehavior::Contiguous:
      for (auto& sp : spans) {
        if (sp.match == prev_match && !merged.empty()) merged.back().b = sp.b;
        else merged.push_back(sp);
        prev_match = sp.match;
      }
      break;
  }
  for (auto& sp : merged)
    if (sp.b > sp.a) out.push_back(s.substr(sp.a, sp.b - sp.a));
}

void PreTokenizer::split(std::string_view piece, std::vector<std::string_view>& words,
                         std::deque<std::string>& scratch) const {
  thread_local std::vector<std::string_view> cur, next;
  cur.clear();
  if (piece.empty()) return;
  cur.push_back(piece);
  for (size_t k = 0; k <= steps_.size(); ++k) {
    // ByteLevel's prefix space goes on every piece reaching it, before its own regex (if any).
    if (add_prefix_space_ && k == byte_level_step_) {
      for (auto& p : cur)
        if (p.front() != ' ') {
          std::string& prefixed = scratch.emplace_back(1, ' ');
          prefixed.append(p);
          p = prefixed;
        }
    }
    if (k == steps_.size()) break;
    next.clear();
    for (auto p : cur) apply_step(steps_[k], p, next);
    std::swap(cur, next);
  }
  words.insert(words.end(), cur.begin(), cur.end());
}

}  // namespace nanoseek
