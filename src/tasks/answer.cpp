#include "tasks/answer.h"

#include <utility>
#include <vector>

namespace nanoseek {

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

namespace {

constexpr std::string_view kTags[] = {"<think>", "</think>", "<answer>", "</answer>"};

bool has_tag(std::string_view s) {
  for (std::string_view t : kTags)
    if (s.find(t) != std::string_view::npos) return true;
  return false;
}

// `s` starts with `open`, and the text up to the first `close` is a non-empty tag-free block: its content, and `s`
// is advanced past `close`. nullopt otherwise.
std::optional<std::string_view> take_block(std::string_view& s, std::string_view open, std::string_view close) {
  if (s.substr(0, open.size()) != open) return std::nullopt;
  size_t end = s.find(close, open.size());
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view inner = s.substr(open.size(), end - open.size());
  if (has_tag(inner) || trim(inner).empty()) return std::nullopt;
  s = s.substr(end + close.size());
  return inner;
}


constexpr std::string_view kBoxed = "\\boxed{";

// The content of the last-closing balanced \boxed{…} in s, with the index one past its closing brace.
std::optional<std::pair<std::string_view, size_t>> last_boxed(std::string_view s) {
  std::vector<std::pair<size_t, bool>> open;  // content start, opened by \boxed{ ?
  std::optional<std::pair<std::string_view, size_t>> best;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') {
      bool boxed = i + 1 >= kBoxed.size() && s.substr(i + 1 - kBoxed.size(), kBoxed.size()) == kBoxed;
      open.emplace_back(i + 1, boxed);
    } else if (s[i] == '}' && !open.empty()) {
      auto [start, boxed] = open.back();
      open.pop_back();
      if (boxed) best = std::pair{s.substr(start, i - start), i + 1};
    }
  }
  return best;
}

// If the whole (trimmed) text is one \boxed{X}, X; else the text unchanged.
std::string_view unwrap_boxed(std::string_view s) {
  for (;;) {
    std::string_view t = trim(s);
    if (t.size() < kBoxed.size() + 1 || t.substr(0, kBoxed.size()) != kBoxed || t.back() != '}') return s;
    // The brace opened by \boxed{ must close at the very end, not earlier ("\boxed{1}+\boxed{2}").
    int depth = 0;
    size_t close = 0;
    for (size_t i = kBoxed.size() - 1; i < t.size(); ++i) {
      if (t[i] == '{') ++depth;
      if (t[i] == '}' && --depth == 0) { close = i; break; }
    }
    if (close != t.size() - 1) return s;
    s = t.substr(kBoxed.size(), t.size() - kBoxed.size() - 1);
  }
}

}  // namespace

std::optional<std::string_view> extract_final_answer(std::string_view completion) {
  std::string_view region = completion;
  size_t close_think = completion.rfind("</think>");
  if (close_think != std::string_view::npos)
    region = completion.substr(close_think + 8);
  else if (completion.find("<think>") != std::string_view::npos)
    return std::nullopt;  // reasoning opened and never closed: everything is reasoning

  std::optional<std::pair<std::string_view, size_t>> tagged;
  size_t ae = region.rfind("</answer>");
  if (ae != std::string_view::npos) {
    size_t as = region.rfind("<answer>", ae);
    if (as != std::string_view::npos) tagged = std::pair{region.substr(as + 8, ae - as - 8), ae + 9};
  }
  auto boxed = last_boxed(region);
  std::optional<std::string_view> chosen;
  if (tagged && (!boxed || tagged->second >= boxed->second)) chosen = tagged->first;
  else if (boxed) chosen = boxed->first;
  if (!chosen) return std::nullopt;
  return unwrap_boxed(*chosen);
}

std::optional<std::string> normalize_integer(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty() || s.size() > 1000) return std::nullopt;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  } else if (s.substr(0, 3) == "\xE2\x88\x92") {  // U+2212 MINUS SIGN
    negative = true;
    s.remove_prefix(3);
  }
  if (s.empty()) return std::nullopt;
  std::string digits;
  size_t first_comma = s.find(',');
  if (first_comma == std::string_view::npos) {
    for (char c : s)
      if (c < '0' || c > '9') return std::nullopt;
    digits = s;
  } else {
    // Strict thousands grouping: 1-3 digits, then groups of ",ddd".
    if (first_comma == 0 || first_comma > 3 || (s.size() - first_comma) % 4 != 0) return std::nullopt;
    for (size_t i = 0; i < s.size(); ++i) {
      bool comma_slot = i >= first_comma && (i - first_comma) % 4 == 0;
      if (comma_slot ? s[i] != ',' : (s[i] < '0' || s[i] > '9')) return std::nullopt;
      if (!comma_slot) digits += s[i];
    }
  }
  size_t nz = digits.find_first_not_of('0');
  if (nz == std::string::npos) return std::string("0");
  return (negative ? "-" : "") + digits.substr(nz);
}

bool has_r1_format(std::string_view completion) {
  std::string_view s = trim(completion);
  bool ok = take_block(s, "<think>", "</think>").has_value();
  s = trim(s);
  return ok && take_block(s, "<answer>", "</answer>").has_value() && s.empty();
}

}  // namespace nanoseek
