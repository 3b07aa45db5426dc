#include "tokenizer/chat_template.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {

const char* const kR1ZeroPreamble =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.";

namespace {

constexpr const char* kBos = "<｜begin▁of▁sentence｜>";
constexpr const char* kEos = "<｜end▁of▁sentence｜>";
constexpr const char* kUser = "<｜User｜>";
constexpr const char* kAssistant = "<｜Assistant｜>";

[[noreturn]] void bad_role(std::string_view tmpl, size_t i, const std::string& role) {
  fail("chat template {}: messages[{}] has role '{}' (supported: system, user, assistant)", tmpl, i, role);
}

std::string render_r1(std::span<const ChatMessage> msgs, bool gen) {
  // System prompts are gathered first and placed right after BOS, as the V3/R1 template does.
  std::string out = kBos;
  bool first_system = true;
  for (auto& m : msgs)
    if (m.role == "system") {
      if (!first_system) out += "\n\n";
      out += m.content;
      first_system = false;
    }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.role == "user") out += kUser + m.content;
    else if (m.role == "assistant") out += kAssistant + m.content + kEos;
    else if (m.role != "system") bad_role("deepseek-r1", i, m.role);
  }
  if (gen) out += std::string(kAssistant) + "<think>\n";
  return out;
}

std::string render_r1_zero(std::span<const ChatMessage> msgs, bool gen) {
  std::string out = kR1ZeroPreamble;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.role == "user") out += " User: " + m.content + ".";
    else if (m.role == "assistant") out += " Assistant: " + m.content;
    else if (m.role == "system") fail("chat template r1-zero: messages[{}] is a system message, but the R1-Zero "
                                      "prompt has a fixed preamble and no system role", i);
    else bad_role("r1-zero", i, m.role);
  }
  if (gen) out += " Assistant:";
  return out;
}

std::string render_chatml(std::span<const ChatMessage> msgs, bool gen) {
  std::string out;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant") bad_role("chatml", i, m.role);
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace

std::string render_chat(ChatTemplate tmpl, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  switch (tmpl) {
    case ChatTemplate::DeepSeekR1: return render_r1(messages, add_generation_prompt);
    case ChatTemplate::R1Zero: return render_r1_zero(messages, add_generation_prompt);
    case ChatTemplate::ChatML: return render_chatml(messages, add_generation_prompt);
  }
  fail("render_chat: unknown template value {}", static_cast<int>(tmpl));
}

ChatTemplate detect_chat_template(const Tokenizer& tok) {
  if (tok.token_id(kUser) && tok.token_id(kAssistant)) return ChatTemplate::DeepSeekR1;
  if (tok.token_id("<|im_start|>") && tok.token_id("<|im_end|>")) return ChatTemplate::ChatML;
  return ChatTemplate::R1Zero;
}

ChatTemplate parse_chat_template(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "deepseek-r1" || n == "r1" || n == "deepseek") return ChatTemplate::DeepSeekR1;
  if (n == "r1-zero" || n == "r1zero") return ChatTemplate::R1Zero;
  if (n == "chatml" || n == "qwen") return ChatTemplate::ChatML;
  fail("unknown chat template '{}' (choose deepseek-r1, r1-zero or chatml)", name);
}

std::string_view chat_template_name(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::DeepSeekR1: return "deepseek-r1";
    case ChatTemplate::R1Zero: return "r1-zero";
    case ChatTemplate::ChatML: return "chatml";
  }
  return "unknown";
}

}  // namespace nanoseek
