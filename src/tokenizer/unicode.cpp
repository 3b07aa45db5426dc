#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace nanoseek::unicode {
namespace {

// Width of the sequence a lead byte starts and the allowed range of its second byte (Unicode Table 3-7);
// width 0 = never a lead byte.
struct Lead {
  int width;
  uint8_t lo, hi;
};

Lead lead_of(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // excludes surrogates
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // <= U+10FFFF
  return {0, 0, 0};
}

// Number of bytes of a valid sequence starting at s[i] that are present and well formed (0..width); equals
// width when the sequence is complete.
int valid_run(std::string_view s, size_t i, const Lead& l) {
  int k = 1;
  for (; k < l.width && i + k < s.size(); ++k) {
    uint8_t c = static_cast<uint8_t>(s[i + k]);
    bool ok = k == 1 ? (c >= l.lo && c <= l.hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) break;
  }
  return k;
}

}  // namespace

size_t invalid_utf8_offset(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    Lead l = lead_of(b);
    if (l.width == 0 || valid_run(s, i, l) != l.width) return i;
    i += l.width;
  }
  return kValid;
}

void check_utf8(std::string_view s, std::string_view what) {
  size_t at = invalid_utf8_offset(s);
  if (at != kValid)
    fail("{}: invalid UTF-8 at byte offset {} (byte 0x{:02X})", what, at, static_cast<uint8_t>(s[at]));
}

std::string lossy_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    Lead l = lead_of(b);
    int run = l.width == 0 ? 1 : valid_run(s, i, l);
    if (l.width != 0 && run == l.width) {
      out.append(s.substr(i, run));
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal invalid subpart
    }
    i += run;
  }
  return out;
}

size_t stable_utf8_prefix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence is well formed so far but incomplete.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t i = n - back;
    uint8_t b = static_cast<uint8_t>(s[i]);
    if (b >= 0x80 && b <= 0xBF) continue;  // continuation byte: keep looking for its lead
    Lead l = lead_of(b);
    if (l.width > static_cast<int>(back) && valid_run(s, i, l) == static_cast<int>(back)) return i;
    return n;
  }
  return n;
}

namespace {

bool compute_nfc_inert(char32_t cp) {
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97F) || (cp >= 0xD7B0 && cp <= 0xD7FF))
    return false;  // Hangul jamo compose algorithmically
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (p->combining_class != 0) return false;                                 // may be reordered
  if (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000) return false;  // may compose with the previous
  if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) {
    // Canonical decomposition: stable only if it recomposes to itself (not singletons or exclusions).
    std::string s;
    append_utf8(s, cp);
    return normalize_utf8proc(s, NormForm::NFC) == s;
  }
  return true;
}

}  // namespace

bool nfc_inert(char32_t cp) {
  if (cp < 0x300) return true;  // nothing below U+0300 changes, combines or reorders under NFC
  if (cp >= 0x110000 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  static const std::vector<bool> table = [] {  // 136 KB, built once (~1 ms per 100K code points)
    std::vector<bool> t(0x110000);
    for (char32_t c = 0; c < 0x110000; ++c) t[c] = !(c >= 0xD800 && c <= 0xDFFF) && compute_nfc_inert(c);
    return t;
  }();
  return table[cp];
}

bool nfc_quick_check(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!nfc_inert(next_codepoint(s, i))) return false;
  }
  return true;
}

std::string normalize(std::string_view s, NormForm form) {
  bool ascii = true;
  for (char c : s) ascii &= static_cast<uint8_t>(c) < 0x80;
  if (ascii) return std::string(s);  // every normal form of ASCII is itself
  if (form == NormForm::NFC && nfc_quick_check(s)) return std::string(s);
  return normalize_utf8proc(s, form);
}

std::string normalize_utf8proc(std::string_view s, NormForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormForm::NFC: options |= UTF8PROC_COMPOSE; break;
    case NormForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &out,
                                      static_cast<utf8proc_option_t>(options));
  if (len < 0) fail("unicode normalization failed: {}", utf8proc_errmsg(len));
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  std::free(out);
  return r;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const std::array<char32_t, 256>& byte_to_codepoint() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

int codepoint_to_byte(char32_t cp) {
  static const std::array<int16_t, 512> inverse = [] {
    std::array<int16_t, 512> t;
    t.fill(-1);
    const auto& fwd = byte_to_codepoint();
    for (int b = 0; b < 256; ++b) t[fwd[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return cp < 512 ? inverse[cp] : -1;
}

char32_t next_codepoint(std::string_view s, size_t& i) {
  uint8_t b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  int width = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  char32_t cp = b & (0x7F >> width);
  for (int k = 1; k < width; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  i += width;
  return cp;
}

}  // namespace nanoseek::unicode
