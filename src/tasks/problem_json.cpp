#include "tasks/problem_json.h"

#include "core/error.h"

namespace nanoseek {

nlohmann::json problem_to_json(const Problem& p) {
  return {{"task", p.task},         {"level", p.level},     {"seed", p.seed},     {"question", p.question},
          {"answer", p.answer},     {"numbers", p.numbers}, {"target", p.target}, {"lang", p.lang}};
}

Problem problem_from_json(const nlohmann::json& j, std::string_view where) {
  check(j.is_object(), "{}: expected a JSON object", where);
  auto field = [&](const char* key, auto& out, bool required) {
    auto it = j.find(key);
    if (it == j.end()) {
      check(!required, "{}: missing field '{}'", where, key);
      return;
    }
    try {
      it->get_to(out);
    } catch (const nlohmann::json::exception&) {
      fail("{}: field '{}' has the wrong type ({})", where, key, it->type_name());
    }
  };
  Problem p;
  field("task", p.task, true);
  field("answer", p.answer, true);
  field("level", p.level, false);
  field("seed", p.seed, false);
  field("question", p.question, false);
  field("numbers", p.numbers, false);
  field("target", p.target, false);
  field("lang", p.lang, false);
  return p;
}

}  // namespace nanoseek
