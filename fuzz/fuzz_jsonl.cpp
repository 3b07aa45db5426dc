// libFuzzer target for the JSONL readers: chat/SFT data (parse_chat_jsonl over the whole input), and each line as
// `nanoseek tokenize` ({"text"}) and `nanoseek tasks verify` (a problem + completion) read it. Every input must
// succeed or throw nanoseek::Error; a parsed chat file must write back and re-read to the same messages.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json_io.h"
#include "data/chat_data.h"
#include "tasks/problem_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanoseek;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const std::vector<ChatSample> s = parse_chat_jsonl(text, "data.jsonl");
    for (const ChatSample& c : s) {
      const std::vector<ChatSample> back = parse_chat_jsonl(chat_jsonl_line(c), "back");
      if (back.size() != 1 || back[0].messages.size() != c.messages.size()) __builtin_trap();
    }
  } catch (const Error&) {
  }
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    try {
      const nlohmann::json j = parse_json_line(line, "in.jsonl line 1");
      if (j.is_object() && j.contains("text")) json_string(j, "text", "in.jsonl line 1");
      problem_from_json(j, "t.jsonl line 1");
    } catch (const Error&) {
    }
  }
  return 0;
}
