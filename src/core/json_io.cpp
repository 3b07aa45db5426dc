#include "core/json_io.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace nanoseek {

using json = nlohmann::json;

namespace {

// 1-based line and column of byte `offset` in `text`.
std::pair<size_t, size_t> line_col(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') ++line, line_start = i + 1;
  return {line, offset - line_start + 1};
}

// Offset of the bracket that opens nesting level max_depth + 1 (strings skipped), or text.size() if none.
size_t too_deep_offset(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) return i;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return text.size();
}

// nlohmann's what() without its "[json.exception.parse_error.101] parse error at line 1, column 2: " prefix
// (we print our own position, computed the same way for every kind of error).
std::string plain_message(const char* what) {
  std::string_view m = what;
  if (m.rfind("[json.exception.", 0) == 0) {
    const size_t close = m.find("] ");
    if (close != std::string_view::npos) m.remove_prefix(close + 2);
  }
  if (m.rfind("parse error", 0) == 0) {
    const size_t colon = m.find(": ");
    if (colon != std::string_view::npos) m.remove_prefix(colon + 2);
  }
  return std::string(m);
}

// Builds the DOM without recursion, refusing nesting beyond the cap and duplicate keys. Containers are linked by
// pointers into their parent; a parent is only modified after its open child is closed, so the pointers stay valid.
class BoundedBuilder {
 public:
  explicit BoundedBuilder(int max_depth) : max_depth_(max_depth) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool v) { return put(json(v)); }
  bool number_integer(json::number_integer_t v) { return put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return put(json(v)); }
  bool string(json::string_t& v) { return put(json(std::move(v))); }
  bool binary(json::binary_t& v) { return put(json(std::move(v))); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { stack_.pop_back(); return true; }
  bool end_array() { stack_.pop_back(); return true; }
  bool key(json::string_t& k) {
    if (stack_.back()->contains(k)) {
      duplicate = true;
      duplicate_key = k;
      return false;
    }
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const json::exception& ex) {
    error_position_ = position;
    error_ = plain_message(ex.what());
    return false;
  }

  json root;
  bool too_deep = false, duplicate = false;
  std::string duplicate_key, error_;
  size_t error_position_ = 0;

 private:
  bool put(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
    } else if (stack_.back()->is_array()) {
      stack_.back()->push_back(std::move(v));
    } else {
      (*stack_.back())[key_] = std::move(v);
    }
    return true;
  }
  bool open(json&& empty) {
    if (int(stack_.size()) >= max_depth_) {
      too_deep = true;
      return false;
    }
    json* slot;
    if (stack_.empty()) {
      root = std::move(empty);
      slot = &root;
    } else if (stack_.back()->is_array()) {
      stack_.back()->push_back(std::move(empty));
      slot = &stack_.back()->back();
    } else {
      slot = &((*stack_.back())[key_] = std::move(empty));
    }
    stack_.push_back(slot);
    return true;
  }

  int max_depth_;
  std::vector<json*> stack_;
  std::string key_;
};

// "LABEL: line L col C" for a file, "LABEL col C" for a JSONL line (whose label names the line).
std::string where_at(std::string_view text, size_t offset, const std::string& label, bool one_line) {
  const auto [line, col] = line_col(text, offset);
  return one_line ? fmt::format("{} col {}", label, col) : fmt::format("{}: line {} col {}", label, line, col);
}

json parse_bounded(std::string_view text, const std::string& label, const JsonLimits& limits, bool one_line) {
  check(text.size() <= limits.max_bytes, "{}: {} bytes of JSON exceeds the limit of {} bytes", label, text.size(),
        limits.max_bytes);
  BoundedBuilder b(limits.max_depth);
  if (json::sax_parse(text.data(), text.data() + text.size(), &b)) return std::move(b.root);
  if (b.too_deep)
    fail("{}: JSON nested deeper than {} levels", where_at(text, too_deep_offset(text, limits.max_depth), label, one_line),
         limits.max_depth);
  if (b.duplicate) fail("{}: duplicate key '{}' in a JSON object", label, b.duplicate_key);
  // nlohmann's position counts the characters read, the offending one included.
  fail("{}: {}", where_at(text, b.error_position_ > 0 ? b.error_position_ - 1 : 0, label, one_line), b.error_);
}

}  // namespace

json parse_json(std::string_view text, const std::string& label, const JsonLimits& limits) {
  return parse_bounded(text, label, limits, false);
}

json parse_json_line(std::string_view line, const std::string& label, const JsonLimits& limits) {
  return parse_bounded(line, label, limits, true);
}

json read_json_file(const std::string& path, const JsonLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  check(ec || size <= limits.max_bytes, "{}: {} bytes of JSON exceeds the limit of {} bytes", path, size_t(size),
        limits.max_bytes);
  return parse_json(read_file(path), path, limits);   // read_file names the path if it cannot be read
}

std::string json_brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

const json& json_need(const json& obj, const char* key, const std::string& where) {
  check(obj.is_object(), "{}: expected a JSON object, got {}", where, json_brief(obj));
  const auto it = obj.find(key);
  check(it != obj.end(), "{}: required field '{}' is missing", where, key);
  return *it;
}

int64_t json_as_int(const json& v, const std::string& where, std::string_view field) {
  check(v.is_number_integer(), "{}: field '{}' must be an integer, got {}", where, field, json_brief(v));
  if (v.is_number_unsigned())
    check(v.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()),
          "{}: field '{}' = {} is out of range (at most {})", where, field, json_brief(v),
          std::numeric_limits<int64_t>::max());
  return v.get<int64_t>();
}

int64_t json_int(const json& obj, const char* key, const std::string& where) {
  return json_as_int(json_need(obj, key, where), where, key);
}

double json_number(const json& obj, const char* key, const std::string& where) {
  const json& v = json_need(obj, key, where);
  check(v.is_number(), "{}: field '{}' must be a number, got {}", where, key, json_brief(v));
  const double x = v.get<double>();
  check(std::isfinite(x), "{}: field '{}' must be finite, got {}", where, key, json_brief(v));
  return x;
}

std::string json_string(const json& obj, const char* key, const std::string& where) {
  const json& v = json_need(obj, key, where);
  check(v.is_string(), "{}: field '{}' must be a string, got {}", where, key, json_brief(v));
  return v.get<std::string>();
}

bool json_bool(const json& obj, const char* key, const std::string& where) {
  const json& v = json_need(obj, key, where);
  check(v.is_boolean(), "{}: field '{}' must be true or false, got {}", where, key, json_brief(v));
  return v.get<bool>();
}

std::string json_string_or(const json& obj, const char* key, std::string def, const std::string& where) {
  check(obj.is_object(), "{}: expected a JSON object, got {}", where, json_brief(obj));
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? def : json_string(obj, key, where);
}

bool json_bool_or(const json& obj, const char* key, bool def, const std::string& where) {
  check(obj.is_object(), "{}: expected a JSON object, got {}", where, json_brief(obj));
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? def : json_bool(obj, key, where);
}

}  // namespace nanoseek
