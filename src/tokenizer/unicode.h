// UTF-8 helpers the tokenizer needs: strict validation (with the byte offset of the first bad byte), the
// lossy decoding HF uses when token bytes do not form valid UTF-8, Unicode normalization via utf8proc, and
// the GPT-2 byte-level alphabet (each byte shown as a printable character).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nanoseek::unicode {

inline constexpr size_t kValid = static_cast<size_t>(-1);

// Byte offset of the first byte that starts an invalid/truncated UTF-8 sequence, or kValid.
size_t invalid_utf8_offset(std::string_view s);

// Throws nanoseek::Error "<what>: invalid UTF-8 at byte offset N (byte 0xXX)".
void check_utf8(std::string_view s, std::string_view what);

// Replaces each maximal invalid subsequence by U+FFFD (the same policy as Rust's String::from_utf8_lossy).
std::string lossy_utf8(std::string_view bytes);

// Length of the longest prefix of `bytes` after which the rest is a possibly-incomplete start of one valid
// sequence; streaming decoders emit the prefix and keep the tail for the next token.
size_t stable_utf8_prefix(std::string_view bytes);

enum class NormForm { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view s, NormForm form);  // s must be valid UTF-8

// True when NFC leaves any string made only of "inert" code points unchanged: no combining class, cannot
// compose with a preceding character, not a Hangul jamo, and not a canonical composition exclusion.
// normalize(NFC) uses it to skip utf8proc on most text (CJK, emoji, precomposed Latin).
bool nfc_inert(char32_t cp);
bool nfc_quick_check(std::string_view s);
std::string normalize_utf8proc(std::string_view s, NormForm form);  // no shortcuts (tests compare against it)

void append_utf8(std::string& out, char32_t cp);

// GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards.
const std::array<char32_t, 256>& byte_to_codepoint();
// Inverse; -1 for code points outside the alphabet.
int codepoint_to_byte(char32_t cp);

// Decodes one code point at s[i] (s valid UTF-8), advancing i.
char32_t next_codepoint(std::string_view s, size_t& i);

}  // namespace nanoseek::unicode
