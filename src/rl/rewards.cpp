#include "rl/rewards.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <utf8proc.h>

#include "core/error.h"
#include "tasks/answer.h"

namespace nanoseek {

RewardResult accuracy_reward(const Task& task, const Problem& p, std::string_view completion) {
  Verdict v = task.verify(p, completion);
  return {v == Verdict::Correct ? 1.0 : 0.0, v};
}

namespace {

bool is_han(int32_t c) {
  return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2EBEF) || (c >= 0x2F800 && c <= 0x2FA1F) ||
         (c >= 0x30000 && c <= 0x323AF);
}

bool is_latin(int32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == 0xAA || c == 0xBA || (c >= 0xC0 && c <= 0x2AF) ||
         (c >= 0x1D00 && c <= 0x1DBF) || (c >= 0x1E00 && c <= 0x1EFF) || (c >= 0x2C60 && c <= 0x2C7F) ||
         (c >= 0xA720 && c <= 0xA7FF) || (c >= 0xAB30 && c <= 0xAB6F) || (c >= 0xFB00 && c <= 0xFB06) ||
         (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A);
}

}  // namespace

RewardResult format_reward(std::string_view completion) {
  const bool ok = has_r1_format(completion);
  return {ok ? 1.0 : 0.0, ok ? Verdict::Correct : Verdict::Wrong};
}

RewardResult language_reward(std::string_view completion, std::string_view lang) {
  check(lang == "en" || lang == "zh", "language reward: unknown target language '{}' (valid: en, zh)", lang);
  bool zh = lang == "zh";
  size_t open = completion.find("<think>");
  if (open == std::string_view::npos) return {0.0, Verdict::Unparseable};
  size_t close = completion.find("</think>", open + 7);
  if (close == std::string_view::npos) return {0.0, Verdict::Unparseable};
  std::string_view text = completion.substr(open + 7, close - open - 7);

  size_t words = 0, target = 0;
  bool in_word = false, all_latin = true;
  auto end_word = [&] {
    if (in_word) ++words, target += !zh && all_latin;
    in_word = false;
  };
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0) {  // invalid UTF-8: a separator
      end_word();
      ++i;
      continue;
    }
    i += static_cast<size_t>(n);
    if (is_han(c)) {
      end_word();
      ++words, target += zh;
      continue;
    }
    utf8proc_category_t cat = utf8proc_category(c);
    bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
    bool mark = cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
    if (letter) {
      if (!in_word) in_word = true, all_latin = true;
      all_latin = all_latin && is_latin(c);
    } else if (!(mark && in_word)) {
      end_word();
    }
  }
  end_word();
  if (words == 0) return {1.0, Verdict::Correct};
  double share = static_cast<double>(target) / static_cast<double>(words);
  return {share, target == words ? Verdict::Correct : Verdict::Wrong};
}

std::vector<std::string> reward_names() { return {"accuracy", "format", "language"}; }

RewardFn reward_fn(std::string_view name) {
  if (name == "accuracy") return accuracy_reward;
  if (name == "format")
    return [](const Task&, const Problem&, std::string_view c) { return format_reward(c); };
  if (name == "language")
    return [](const Task&, const Problem& p, std::string_view c) { return language_reward(c, p.lang); };
  fail("unknown reward function '{}' (valid: {})", name, fmt::join(reward_names(), ", "));
}

}  // namespace nanoseek
