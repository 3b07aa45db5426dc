// Chat templates as code (no template engine). Three formats:
//   DeepSeekR1 — the DeepSeek-V3 tokenizer_config.json template plus R1's generation prompt:
//                <｜begin▁of▁sentence｜>{system prompts joined by "\n\n"}<｜User｜>{user}<｜Assistant｜>{assistant}
//                <｜end▁of▁sentence｜>...  and, with add_generation_prompt, "<｜Assistant｜><think>\n".
//                Assistant content is kept verbatim (R1's released template also drops "...</think>" from
//                earlier assistant turns; we keep it so SFT targets with reasoning render intact).
//   R1Zero     — the plain-text R1-Zero prompt of spec §7.2 ("A conversation between User and Assistant. ...
//                User: prompt. Assistant:"); no special tokens, no BOS in the text (prepend bos_id() if the
//                model expects one); system messages are an Error (the preamble is fixed).
//   ChatML     — Qwen style: "<|im_start|>{role}\n{content}<|im_end|>\n" per message, generation prompt
//                "<|im_start|>assistant\n" (no default system prompt is inserted).
// Tool calls / tool roles are not supported: an unknown role is an Error naming the message index.
#pragma once
#include <span>
#include <string>
#include <string_view>

namespace nanoseek {

class Tokenizer;

enum class ChatTemplate { DeepSeekR1, R1Zero, ChatML };

struct ChatMessage {
  std::string role, content;  // role: "system", "user" or "assistant"
};

std::string render_chat(ChatTemplate tmpl, std::span<const ChatMessage> messages, bool add_generation_prompt);

// The R1-Zero preamble up to (not including) " User:", exactly as in R1-arXiv Table 1.
extern const char* const kR1ZeroPreamble;

// DeepSeekR1 when the tokenizer has <｜User｜> and <｜Assistant｜>, else ChatML when it has <|im_start|> and
// <|im_end|>, else R1Zero (plain text works with any vocabulary).
ChatTemplate detect_chat_template(const Tokenizer& tok);

// "deepseek-r1" | "r1-zero" | "chatml" (case-insensitive; "r1", "deepseek", "qwen" accepted as aliases).
ChatTemplate parse_chat_template(std::string_view name);
std::string_view chat_template_name(ChatTemplate t);

}  // namespace nanoseek
