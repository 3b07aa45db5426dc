#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

#include "core/error.h"

using namespace nanoseek;

TEST(TokenizerUnicode, InvalidOffsetPointsAtFirstBadByte) {
  EXPECT_EQ(unicode::invalid_utf8_offset("abc"), unicode::kValid);
  EXPECT_EQ(unicode::invalid_utf8_offset("a\xC3\xA9z"), unicode::kValid);
  EXPECT_EQ(unicode::invalid_utf8_offset("ab\xFFz"), 2u);
  EXPECT_EQ(unicode::invalid_utf8_offset("a\xE4\xB8"), 1u);          // truncated 3-byte sequence
  EXPECT_EQ(unicode::invalid_utf8_offset("\xED\xA0\x80"), 0u);       // UTF-16 surrogate
  EXPECT_EQ(unicode::invalid_utf8_offset("xy\xC0\xAF"), 2u);         // overlong '/'
  EXPECT_EQ(unicode::invalid_utf8_offset("\xF4\x90\x80\x80"), 0u);   // > U+10FFFF
  EXPECT_THROW(unicode::check_utf8("ok\x80", "test"), Error);
}

TEST(TokenizerUnicode, LossyReplacesMaximalSubparts) {
  // Same results as Rust's String::from_utf8_lossy (the Unicode "maximal subpart" practice).
  EXPECT_EQ(unicode::lossy_utf8("a\xE4\xB8z"), "a\xEF\xBF\xBDz");          // one U+FFFD for E4 B8
  EXPECT_EQ(unicode::lossy_utf8("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // one per invalid byte
  EXPECT_EQ(unicode::lossy_utf8("\xF0\x9F\x98"), "\xEF\xBF\xBD");          // truncated emoji
  EXPECT_EQ(unicode::lossy_utf8("\xE0\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: 3
  EXPECT_EQ(unicode::lossy_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(TokenizerUnicode, StablePrefixHoldsBackIncompleteTail) {
  EXPECT_EQ(unicode::stable_utf8_prefix("ab\xE4\xB8"), 2u);
  EXPECT_EQ(unicode::stable_utf8_prefix("ab\xE4\xB8\xAD"), 5u);
  EXPECT_EQ(unicode::stable_utf8_prefix("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(unicode::stable_utf8_prefix("ab\xFF"), 3u);  // invalid: nothing to wait for
}

TEST(TokenizerUnicode, NfcComposesCombiningAccent) {
  EXPECT_EQ(unicode::normalize("e\xCC\x81", unicode::NormForm::NFC), "\xC3\xA9");
  EXPECT_EQ(unicode::normalize("\xC3\xA9", unicode::NormForm::NFD), "e\xCC\x81");
}

TEST(TokenizerUnicode, ByteAlphabetIsABijection) {
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode::codepoint_to_byte(unicode::byte_to_codepoint()[b]), b);
  EXPECT_EQ(unicode::byte_to_codepoint()[' '], 0x120u);  // 'Ġ'
}

// normalize(NFC) skips utf8proc when every code point is "inert"; check that shortcut against utf8proc
// itself: every inert code point after a letter, and random short sequences that pass the quick check.
TEST(TokenizerUnicode, NfcQuickCheckNeverSkipsAChange) {
  auto nfc = [](const std::string& s) { return unicode::normalize_utf8proc(s, unicode::NormForm::NFC); };
  int inert = 0;
  for (char32_t cp = 0x80; cp < 0x110000; ++cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || !unicode::nfc_inert(cp)) continue;
    ++inert;
    std::string s = "x";
    unicode::append_utf8(s, cp);
    ASSERT_EQ(nfc(s), s) << "U+" << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_GT(inert, 200000);
  uint64_t state = 42;
  auto next = [&] { return (state = state * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    for (int k = 0, n = 2 + next() % 3; k < n; ++k) {
      char32_t cp = next() % 2 ? 0x80 + next() % 0x3000 : next() % 0x110000;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x4E00;
      unicode::append_utf8(s, cp);
    }
    if (!unicode::nfc_quick_check(s)) continue;
    ++checked;
    ASSERT_EQ(nfc(s), s);
  }
  EXPECT_GT(checked, 10000);
}
