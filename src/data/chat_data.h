// Chat data for supervised fine-tuning: JSONL samples {"messages":[{"role","content"},...]} (other top-level keys,
// e.g. "problem", are kept as metadata), rendered to tokens with a per-token loss mask.
//
// Loss covers exactly the assistant content tokens and the one token that closes each assistant turn (EOS or the
// template's end-of-turn token); system/user text, template markup and the assistant header are context only.
// Each piece (context run, assistant content, end token) is tokenized on its own and the ids concatenated, so the
// mask boundary is a token boundary and the prompt tokenizes exactly as at generation time.
//
// Two renderings:
//   prompt format (data/corpus.h; our own models) — exactly one user turn then one assistant turn:
//       encode(prompt_text(f, user))  |  encode(" " + assistant) EOS        (loss right of the bar)
//     the same bytes as the pretraining document_text + EOS, split where generation starts.
//   chat template (tokenizer/chat_template.h; real checkpoints) — any number of turns, system messages first:
//       each message's text is what render_chat adds for it; an assistant turn splits into header | content
//       end-token [rest of the tail is context], e.g. ChatML "<|im_start|>assistant\n" | C "<|im_end|>" "\n".
//     A final assistant turn whose template adds no closing token (r1-zero) gets EOS.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "data/corpus.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace nanoseek {

struct ChatSample {
  std::vector<ChatMessage> messages;
  nlohmann::json meta = nlohmann::json::object();  // the line's other top-level keys
  std::string where;                                // "file.jsonl line 7", for errors downstream
};

// Strict: every line (blank lines skipped) is an object with a non-empty "messages" array of objects holding exactly
// string "role" (system|user|assistant) and string "content"; at least one assistant message, whose content is not
// empty. Errors name the file, line and field.
std::vector<ChatSample> parse_chat_jsonl(std::string_view text, const std::string& label);
std::vector<ChatSample> read_chat_jsonl(const std::string& path);
// One JSONL line (no newline): {"messages":[...]} plus meta's keys.
std::string chat_jsonl_line(const ChatSample& s);
// All samples, one per line, written atomically.
void write_chat_jsonl(const std::string& path, const std::vector<ChatSample>& samples);

struct ChatRendering {
  bool use_template = false;                 // false: prompt format; true: chat template
  PromptFormat format = PromptFormat::Plain;
  ChatTemplate tmpl = ChatTemplate::R1Zero;
  std::string name() const;                  // "plain", "r1-zero", "template:chatml", ...
};
// "plain" | "r1-zero" | "template" (the tokenizer's, detect_chat_template) | "template:NAME" (parse_chat_template).
ChatRendering parse_rendering(std::string_view name, const Tokenizer& tok);
// For a model directory: DIR/eval.json's "prompt_format" (what our pretraining recorded; an eval.json without it is
// an Error), else — no eval.json, a real checkpoint — the tokenizer's chat template; `name` other than "auto"
// overrides both.
ChatRendering rendering_for_model(const std::string& model_dir, const Tokenizer& tok, std::string_view name = "auto");

struct TokenizedSample {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> loss;  // loss[i] = 1: token i is a training target (predicted from token i−1)
};

TokenizedSample tokenize_chat(const ChatSample& s, const Tokenizer& tok, const ChatRendering& r);

// Generation for one user question, and the way back from generated text to the assistant message content (the
// inverse of tokenize_chat's split): content = (suffix + generated) without the turn header, where suffix is what
// the prompt holds after the user turn. E.g. deepseek-r1: suffix "<｜Assistant｜><think>\n", header
// "<｜Assistant｜>" → content "<think>\n" + generated; plain: suffix "", header " " → generated minus one leading
// space. The content is the whole assistant text the rewards expect (rl/rewards.h).
struct GenerationPrompt {
  std::string prompt, suffix, header;
  std::string content(std::string_view generated) const;
};
GenerationPrompt generation_prompt(const ChatRendering& r, const std::string& question);

// Cold-start chat data from the task suite: user = the question (train split by default), assistant = a readable
// solution. Sample i uses level levels[i % L] and style styles[(i / L) % S]; problems and solution seeds are drawn
// from `seed`. meta: {"problem": problem_to_json, "style"}.
struct TaskChatOptions {
  std::string task = "add";
  std::vector<std::string> levels;                       // empty = every level of the task
  std::vector<std::string> styles = {"long", "selfcheck"};  // any but "wrong" (cold-start data must be correct)
  int64_t n = 100;
  Split split = Split::Train;
  uint64_t seed = 0;
};
std::vector<ChatSample> make_task_chat(const TaskChatOptions& o);

}  // namespace nanoseek
