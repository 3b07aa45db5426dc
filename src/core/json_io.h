// The one JSON reader for every file nanoseek reads (config.json, tokenizer files, eval.json, trainer_state.json,
// JSONL lines, corpus.json ...): bounded nesting depth and size, duplicate keys rejected, and every failure an Error
// "FILE: line L col C: what" instead of an nlohmann exception, a stack overflow or an unbounded allocation.
//
// Why bounded: nlohmann's parser itself is iterative, but copying, comparing and dumping a json value recurse, so a
// file nested 200,000 deep crashed `extra` copies and one nested 20,000 deep re-dumped with indentation grew 40 KB
// into 800 MB. With the depth cap every value we hold is at most kJsonMaxDepth deep, so any later copy or
// indented dump is bounded (an indented dump adds at most depth x indent bytes per line).
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace nanoseek {

inline constexpr int kJsonMaxDepth = 64;                      // objects/arrays nested inside each other
inline constexpr size_t kJsonMaxBytes = size_t(512) << 20;    // tokenizer.json of big vocabularies is ~10-30 MB

struct JsonLimits {
  int max_depth = kJsonMaxDepth;
  size_t max_bytes = kJsonMaxBytes;
};

// Parses `text` (one whole JSON value; trailing garbage is an error). `label` names the source in every message,
// e.g. "runs/x/config.json" or "data.jsonl line 17".
nlohmann::json parse_json(std::string_view text, const std::string& label, const JsonLimits& limits = {});

// One line of a JSONL file: `label` already names the line ("data.jsonl line 17"), so messages read
// "data.jsonl line 17 col 9: ..." instead of repeating "line 1".
nlohmann::json parse_json_line(std::string_view line, const std::string& label, const JsonLimits& limits = {});

// Reads and parses a whole file; the size cap is checked before reading. Messages start with the path.
nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits = {});

// A value for an error message: its compact dump, cut to ~80 characters.
std::string json_brief(const nlohmann::json& v);

// Typed field access for readers of our own small files (trainer_state.json, eval.json ...). `where` names the file;
// the messages read "FILE: field 'step' must be an integer, got "x"" / "FILE: required field 'step' is missing".
const nlohmann::json& json_need(const nlohmann::json& obj, const char* key, const std::string& where);
int64_t json_int(const nlohmann::json& obj, const char* key, const std::string& where);
double json_number(const nlohmann::json& obj, const char* key, const std::string& where);   // finite
std::string json_string(const nlohmann::json& obj, const char* key, const std::string& where);
bool json_bool(const nlohmann::json& obj, const char* key, const std::string& where);
// Optional fields: `def` when absent or null, else the typed value (a wrong type is the same Error as above).
std::string json_string_or(const nlohmann::json& obj, const char* key, std::string def, const std::string& where);
bool json_bool_or(const nlohmann::json& obj, const char* key, bool def, const std::string& where);

// An integer json value as int64_t, or an Error naming `field` (also for unsigned values above INT64_MAX).
int64_t json_as_int(const nlohmann::json& v, const std::string& where, std::string_view field);

}  // namespace nanoseek
