// Reading the final answer out of a model completion. Linear time in the input and allocation-free where it can
// be, since verifiers see 1 MB of junk as readily as a clean answer.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace nanoseek {

// The final answer's text (untrimmed):
//  - the search region is the text after the last "</think>"; if there is none but a "<think>" opened, the
//    reasoning never closed and there is no answer (nullopt); with neither tag, the whole completion;
//  - within it, the last complete `<answer>…</answer>` (last "</answer>" and the last "<answer>" before it) or the
//    last balanced `\boxed{…}`, whichever ends later;
//  - an answer whose trimmed text is exactly `\boxed{X}` yields X.
std::optional<std::string_view> extract_final_answer(std::string_view completion);

// An integer answer normalized to its canonical decimal form ("-42", "0", "1234567"), or nullopt if the text is not
// an integer. Accepted: surrounding ASCII whitespace, a leading '+' or '-' (or U+2212 minus), leading zeros, and
// thousands separators only as strict groups of three ("1,234,567"; not "1,23" nor "1234,567"). Rejected (nullopt):
// exponents ("1e3"), decimals ("5.0"), inner spaces, any other character, more than 1000 characters. Digit strings of
// any length within that bound are accepted (no overflow: the comparison is textual).
std::optional<std::string> normalize_integer(std::string_view text);

std::string_view trim(std::string_view s);  // ASCII whitespace

// The R1 output shape: exactly `<think>…</think>` then `<answer>…</answer>` (surrounding whitespace allowed), each
// block non-empty and free of further tags. What the format reward (rl/rewards.h) scores and evaluation reports.
bool has_r1_format(std::string_view completion);

}  // namespace nanoseek
