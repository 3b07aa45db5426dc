#include "data/chat_data.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "core/rng.h"
#include "tasks/problem_json.h"

namespace nanoseek {

// --- JSONL ---

namespace {

ChatMessage parse_message(const nlohmann::json& m, const std::string& where, size_t i) {
  check(m.is_object(), "{}: messages[{}] is not an object", where, i);
  for (const auto& [k, v] : m.items())
    check(k == "role" || k == "content", "{}: messages[{}] has unknown field '{}' (expected role, content)", where, i, k);
  check(m.contains("role") && m["role"].is_string(), "{}: messages[{}].role is missing or not a string", where, i);
  check(m.contains("content") && m["content"].is_string(), "{}: messages[{}].content is missing or not a string",
        where, i);
  ChatMessage out{m["role"].get<std::string>(), m["content"].get<std::string>()};
  check(out.role == "system" || out.role == "user" || out.role == "assistant",
        "{}: messages[{}].role is '{}' (expected system, user or assistant)", where, i, out.role);
  check(out.role != "assistant" || !out.content.empty(), "{}: messages[{}].content is empty (an assistant turn "
        "with nothing to learn)", where, i);
  return out;
}

}  // namespace

std::vector<ChatSample> parse_chat_jsonl(std::string_view text, const std::string& label) {
  std::vector<ChatSample> out;
  size_t at = 0;
  for (int64_t lineno = 1; at < text.size(); ++lineno) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = fmt::format("{} line {}", label, lineno);
    nlohmann::json j = parse_json_line(line, where);
    check(j.is_object(), "{}: expected a JSON object, got {}", where, j.type_name());
    check(j.contains("messages"), "{}: missing field 'messages'", where);
    const auto& ms = j["messages"];
    check(ms.is_array() && !ms.empty(), "{}: field 'messages' must be a non-empty array", where);
    ChatSample s;
    s.where = where;
    bool assistant = false;
    for (size_t i = 0; i < ms.size(); ++i) {
      s.messages.push_back(parse_message(ms[i], where, i));
      assistant = assistant || s.messages.back().role == "assistant";
    }
    check(assistant, "{}: 'messages' has no assistant message (nothing to train on)", where);
    j.erase("messages");
    s.meta = std::move(j);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ChatSample> read_chat_jsonl(const std::string& path) { return parse_chat_jsonl(read_file(path), path); }

std::string chat_jsonl_line(const ChatSample& s) {
  nlohmann::json j = s.meta.is_object() ? s.meta : nlohmann::json::object();
  j["messages"] = nlohmann::json::array();
  for (const auto& m : s.messages) j["messages"].push_back({{"role", m.role}, {"content", m.content}});
  return j.dump();
}

void write_chat_jsonl(const std::string& path, const std::vector<ChatSample>& samples) {
  std::string text;
  for (const auto& s : samples) text += chat_jsonl_line(s) + "\n";
  write_file_atomic(path, text);
}

// --- rendering ---

std::string ChatRendering::name() const {
  return use_template ? "template:" + std::string(chat_template_name(tmpl)) : prompt_format_name(format);
}

ChatRendering parse_rendering(std::string_view name, const Tokenizer& tok) {
  ChatRendering r;
  if (name == "template") {
    r.use_template = true;
    r.tmpl = detect_chat_template(tok);
  } else if (name.starts_with("template:")) {
    r.use_template = true;
    r.tmpl = parse_chat_template(name.substr(9));
  } else if (name == "plain" || name == "r1-zero") {
    r.format = parse_prompt_format(name);
  } else {
    fail("rendering '{}' is not one of: plain, r1-zero, template, template:NAME", name);
  }
  return r;
}

ChatRendering rendering_for_model(const std::string& dir, const Tokenizer& tok, std::string_view name) {
  if (name != "auto") return parse_rendering(name, tok);
  const std::string ev = dir + "/eval.json";
  if (file_exists(ev)) {
    const auto j = read_json_file(ev);
    check(j.is_object(), "{}: not a JSON object", ev);
    // One of our own models: its pretraining prompt format, never a template it has not seen.
    check(j.contains("prompt_format") && j["prompt_format"].is_string(), "{}: field 'prompt_format' is missing or "
          "not a string (a model pretrained before it was recorded?); pass --rendering plain, r1-zero or template "
          "explicitly", ev);
    return parse_rendering(j["prompt_format"].get<std::string>(), tok);
  }
  return parse_rendering("template", tok);
}

namespace {

const std::string kMark = "\x01nanoseek-content\x02";  // stands in for assistant content to find its place

void append(TokenizedSample& out, const std::vector<int32_t>& ids, bool loss) {
  out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
  out.loss.insert(out.loss.end(), ids.size(), uint8_t(loss));
}

int32_t need_eos(const Tokenizer& tok, const ChatSample& s) {
  check(tok.eos_id() >= 0, "{}: the tokenizer {} has no eos_token (tokenizer_config.json), needed to close the "
        "assistant turn", s.where, tok.label());
  return tok.eos_id();
}

TokenizedSample tokenize_format(const ChatSample& s, const Tokenizer& tok, PromptFormat f) {
  const auto& ms = s.messages;
  check(ms.size() == 2 && ms[0].role == "user" && ms[1].role == "assistant",
        "{}: prompt format {} takes exactly one user message then one assistant message (got {} messages{}); use "
        "a chat template rendering for multi-turn or system messages", s.where, prompt_format_name(f), ms.size(),
        ms.empty() ? "" : ", first role " + ms[0].role);
  TokenizedSample out;
  append(out, tok.encode(prompt_text(f, ms[0].content)), false);
  append(out, tok.encode(" " + ms[1].content), true);  // document_text puts one space between prompt and solution
  append(out, {need_eos(tok, s)}, true);
  return out;
}

// The text render_chat adds for each message, found by rendering growing prefixes; the assistant content's place
// inside its piece comes from rendering a marker in its stead (templates copy content verbatim).
TokenizedSample tokenize_template(const ChatSample& s, const Tokenizer& tok, ChatTemplate t) {
  const auto& ms = s.messages;
  TokenizedSample out;
  std::string context = render_chat(t, std::span<const ChatMessage>(ms.data(), 0), false);  // BOS / preamble
  std::string prev = context;
  for (size_t i = 0; i < ms.size(); ++i) {
    std::vector<ChatMessage> pre(ms.begin(), ms.begin() + int64_t(i) + 1);
    const std::string full = render_chat(t, pre, false);
    check(full.compare(0, prev.size(), prev) == 0, "{}: messages[{}] ({}) does not extend the rendering of the "
          "messages before it under template {} (system messages must come first)", s.where, i, ms[i].role,
          chat_template_name(t));
    const std::string piece = full.substr(prev.size());
    prev = full;
    if (ms[i].role != "assistant") {
      context += piece;
      continue;
    }
    check(ms[i].content.find(kMark) == std::string::npos, "{}: messages[{}].content contains a reserved byte "
          "sequence", s.where, i);
    pre.back().content = kMark;
    const std::string marked = render_chat(t, pre, false).substr(full.size() - piece.size());
    const size_t at = marked.find(kMark);
    check(at != std::string::npos && marked.substr(0, at) + ms[i].content + marked.substr(at + kMark.size()) == piece,
          "{}: template {} does not render messages[{}] as header + content + tail", s.where, chat_template_name(t), i);
    context += marked.substr(0, at);
    append(out, tok.encode(context), false);
    context.clear();
    append(out, tok.encode(ms[i].content), true);
    const std::vector<int32_t> tail = tok.encode(marked.substr(at + kMark.size()));
    if (!tail.empty()) {
      append(out, {tail[0]}, true);  // the end-of-turn token
      append(out, std::vector<int32_t>(tail.begin() + 1, tail.end()), false);
    } else if (i + 1 == ms.size()) {
      append(out, {need_eos(tok, s)}, true);
    }
  }
  if (!context.empty()) append(out, tok.encode(context), false);  // trailing user turn: context only
  return out;
}

}  // namespace

TokenizedSample tokenize_chat(const ChatSample& s, const Tokenizer& tok, const ChatRendering& r) {
  return r.use_template ? tokenize_template(s, tok, r.tmpl) : tokenize_format(s, tok, r.format);
}

std::string GenerationPrompt::content(std::string_view generated) const {
  std::string s = suffix + std::string(generated);
  return s.starts_with(header) ? s.substr(header.size()) : s;
}

GenerationPrompt generation_prompt(const ChatRendering& r, const std::string& question) {
  GenerationPrompt g;
  if (!r.use_template) {
    g.prompt = prompt_text(r.format, question);
    g.header = " ";
    return g;
  }
  std::vector<ChatMessage> ms = {{"user", question}};
  g.prompt = render_chat(r.tmpl, ms, true);
  const std::string base = render_chat(r.tmpl, ms, false);
  check(g.prompt.starts_with(base), "template {}: the generation prompt does not extend the rendered messages",
        chat_template_name(r.tmpl));
  g.suffix = g.prompt.substr(base.size());
  ms.push_back({"assistant", kMark});
  const std::string marked = render_chat(r.tmpl, ms, false).substr(base.size());
  g.header = marked.substr(0, marked.find(kMark));
  return g;
}

// --- cold-start data from the task suite ---

std::vector<ChatSample> make_task_chat(const TaskChatOptions& o) {
  auto task = make_task(o.task);
  const auto known = task->levels();
  const std::vector<std::string> levels = o.levels.empty() ? known : o.levels;
  for (const auto& l : levels)
    check(std::find(known.begin(), known.end(), l) != known.end(), "tasks chat: task {} has no level '{}'", o.task, l);
  check(!o.styles.empty(), "tasks chat: no styles given");
  std::vector<SolutionStyle> styles;
  for (const auto& s : o.styles) {
    styles.push_back(parse_style(s));
    check(styles.back() != SolutionStyle::Wrong, "tasks chat: style 'wrong' renders incorrect solutions; cold-start "
          "data must verify");
  }
  check(o.n >= 0, "tasks chat: n must be >= 0, got {}", o.n);
  std::vector<ChatSample> out;
  std::vector<uint64_t> state(levels.size());
  for (size_t l = 0; l < levels.size(); ++l) state[l] = Rng::derive(o.seed, l).next();
  for (int64_t i = 0; i < o.n; ++i) {
    const size_t l = size_t(i) % levels.size();
    const SolutionStyle st = styles[(size_t(i) / levels.size()) % styles.size()];
    const Problem p = sample_problem(*task, levels[l], o.split, state[l]);
    ChatSample s;
    s.messages = {{"user", p.question}, {"assistant", task->render_solution(p, st, Rng::derive(o.seed, 1000 + uint64_t(i)).next())}};
    s.meta = {{"problem", problem_to_json(p)}, {"style", style_name(st)}};
    s.where = fmt::format("tasks chat sample {}", i);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace nanoseek
