#include "core/npy.h"

#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/fs.h"

namespace nanoseek {

namespace {

constexpr char kMagic[] = "\x93NUMPY";   // 6 bytes

std::string shape_tuple(std::span<const int64_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

void write_npy_raw(const std::string& path, const char* descr, size_t item, const void* data,
                   std::span<const int64_t> shape) {
  size_t n = 1;
  for (int64_t d : shape) {
    check(d >= 0, "{}: negative dimension in shape {}", path, shape_tuple(shape));
    check(!__builtin_mul_overflow(n, size_t(d), &n), "{}: shape {} overflows", path, shape_tuple(shape));
  }
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_tuple(shape));
  // numpy pads the header so the data starts 64-byte aligned; v2.0 only when the header needs > 65535 bytes.
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const size_t pre = v2 ? 12 : 10;
  size_t hlen = (pre + dict.size() + 1 + 63) / 64 * 64 - pre;
  dict.resize(hlen - 1, ' ');
  dict += '\n';
  std::string out(kMagic, 6);
  out += char(v2 ? 2 : 1);
  out += char(0);
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += char(hlen >> (8 * i) & 0xff);
  out += dict;
  out.append(static_cast<const char*>(data), n * item);
  write_file_atomic(path, out);
}

// A minimal reader for the Python dict literal numpy writes: string keys, and string / True / False /
// tuple-of-int values. Anything else is an Error with the byte offset.
struct DictParser {
  std::string_view s;
  const std::string& label;
  size_t i = 0;

  [[noreturn]] void bad(const char* what) { fail("{}: npy header byte {}: {}", label, i, what); }
  void ws() { while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i; }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) { ++i; return true; }
    return false;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad("expected a quoted string");
    char q = s[i++];
    size_t end = s.find(q, i);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(s.substr(i, end - i));
    i = end + 1;
    return out;
  }
  int64_t integer() {
    ws();
    size_t start = i;
    uint64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (v > (uint64_t(std::numeric_limits<int64_t>::max()) - 9) / 10) bad("dimension too large");
      v = v * 10 + uint64_t(s[i++] - '0');
    }
    if (i == start) bad("expected a non-negative integer");
    if (i < s.size() && s[i] == 'L') ++i;   // Python 2 long suffix
    return int64_t(v);
  }
};

}  // namespace

void write_npy(const std::string& path, const float* data, std::span<const int64_t> shape) {
  write_npy_raw(path, "<f4", 4, data, shape);
}

void write_npy_i32(const std::string& path, const int32_t* data, std::span<const int64_t> shape) {
  write_npy_raw(path, "<i4", 4, data, shape);
}

NpyArray parse_npy(std::string_view b, const std::string& label) {
  check(b.size() >= 10 && b.substr(0, 6) == std::string_view(kMagic, 6), "{}: not a .npy file (bad magic)",
        label);
  const int major = uint8_t(b[6]);
  check(major >= 1 && major <= 3, "{}: unsupported .npy format version {}.{}", label, major, int(uint8_t(b[7])));
  size_t pre = major == 1 ? 10 : 12;
  check(b.size() >= pre, "{}: truncated .npy preamble", label);
  size_t hlen = 0;
  for (size_t k = 0; k < pre - 8; ++k) hlen |= size_t(uint8_t(b[8 + k])) << (8 * k);
  check(hlen <= b.size() - pre, "{}: header length {} runs past the end of the file ({} bytes)", label, hlen,
        b.size());

  NpyArray a;
  bool have_descr = false, have_order = false, have_shape = false;
  DictParser p{b.substr(pre, hlen), label};
  if (!p.eat('{')) p.bad("expected '{'");
  while (!p.eat('}')) {
    std::string key = p.str();
    if (!p.eat(':')) p.bad("expected ':'");
    if (key == "descr") {
      a.dtype = p.str();
      have_descr = true;
    } else if (key == "fortran_order") {
      p.ws();
      if (p.s.substr(p.i, 5) == "False") p.i += 5;
      else if (p.s.substr(p.i, 4) == "True") fail("{}: fortran_order arrays are not supported (C order only)", label);
      else p.bad("expected True or False");
      have_order = true;
    } else if (key == "shape") {
      if (!p.eat('(')) p.bad("expected '(' for shape");
      while (!p.eat(')')) {
        a.shape.push_back(p.integer());
        if (!p.eat(',') && (p.ws(), p.i >= p.s.size() || p.s[p.i] != ')')) p.bad("expected ',' or ')' in shape");
      }
      have_shape = true;
    } else {
      p.bad("unknown key in header dict");
    }
    if (!p.eat(',') && (p.ws(), p.i >= p.s.size() || p.s[p.i] != '}')) p.bad("expected ',' or '}'");
  }
  check(have_descr && have_order && have_shape, "{}: npy header lacks one of descr/fortran_order/shape", label);

  size_t item = 0;
  if (a.dtype == "<f4" || a.dtype == "<i4") item = 4;
  else if (a.dtype == "<f8" || a.dtype == "<i8") item = 8;
  else fail("{}: unsupported npy dtype '{}' (supported: <f4 <f8 <i4 <i8)", label, a.dtype);
  size_t n = 1;
  for (int64_t d : a.shape)
    check(!__builtin_mul_overflow(n, size_t(d), &n), "{}: shape {} overflows", label, shape_tuple(a.shape));
  size_t nbytes = 0;
  check(!__builtin_mul_overflow(n, item, &nbytes), "{}: shape {} overflows", label, shape_tuple(a.shape));
  const std::string_view data = b.substr(pre + hlen);
  check(data.size() == nbytes, "{}: {} bytes of data, but shape {} of {} needs {}", label, data.size(),
        shape_tuple(a.shape), a.dtype, nbytes);

  const char* d = data.data();
  if (a.dtype[1] == 'f') {
    a.f32.resize(n);
    for (size_t k = 0; k < n; ++k) {
      if (item == 4) std::memcpy(&a.f32[k], d + 4 * k, 4);
      else { double v; std::memcpy(&v, d + 8 * k, 8); a.f32[k] = float(v); }
    }
  } else {
    a.i64.resize(n);
    for (size_t k = 0; k < n; ++k) {
      if (item == 4) { int32_t v; std::memcpy(&v, d + 4 * k, 4); a.i64[k] = v; }
      else std::memcpy(&a.i64[k], d + 8 * k, 8);
    }
  }
  return a;
}

NpyArray read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

}  // namespace nanoseek
