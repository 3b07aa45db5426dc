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
