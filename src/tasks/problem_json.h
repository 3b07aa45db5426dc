// Problems as JSON objects (JSONL lines for the CLI, corpus and evaluation files):
//   {"task","level","seed","question","answer","numbers","target","lang"}
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>

#include "tasks/task.h"

namespace nanoseek {

nlohmann::json problem_to_json(const Problem& p);
// Strict about types; `where` ("file.jsonl line 3") prefixes every error. Missing optional fields
// (seed, question, numbers, target, lang) take their defaults; task and answer are required.
Problem problem_from_json(const nlohmann::json& j, std::string_view where);

}  // namespace nanoseek
