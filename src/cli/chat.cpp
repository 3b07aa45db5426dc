// nanoseek chat --model DIR — interactive terminal chat. Reasoning inside <think>…</think> is shown dimmed (or
// prefixed "think> " when stdout is not a terminal), apart from the answer. Only answers are kept in the history,
// as the DeepSeek-R1 template does. Commands: /reset, /quit (or Ctrl-D).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "infer/session.h"

namespace nanoseek {
namespace {

struct ChatOpts {
  std::string model, tmpl = "auto", system, weights = "f32";
  int max_tokens = 512;
  float temperature = 0.6f, top_p = 0.95f;
  uint64_t seed = 0;
};

int run_chat(const ChatOpts& o) {
  TextModel tm = load_text_model(o.model);
  const ChatTemplate tmpl = o.tmpl == "auto" ? tm.chat : parse_chat_template(o.tmpl);
  const bool tty = isatty(STDOUT_FILENO);
  // The whole context window, capped: a 128K-position model's full K/V cache would not fit in memory.
  const int64_t max_len = std::min<int64_t>(tm.max_positions(), 8192);
  const std::unique_ptr<Engine> eng = tm.make_engine(1, max_len, parse_decode_weights(o.weights));
  Engine& engine = *eng;
  std::fprintf(stderr, "chat with %s (template %s). %s. /reset clears, /quit or Ctrl-D exits.\n", o.model.c_str(),
               std::string(chat_template_name(tmpl)).c_str(), engine.plan().describe().c_str());
  std::vector<ChatMessage> history;
  if (!o.system.empty()) history.push_back({"system", o.system});
  uint64_t turn = 0;
  std::string line;
  for (;;) {
    std::fputs(tty ? "\033[1m>>> \033[0m" : ">>> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/quit") break;
    if (line == "/reset") {
      history.resize(o.system.empty() ? 0 : 1);
      continue;
    }
    if (line.empty()) continue;
    history.push_back({"user", line});
    const std::string text = render_chat(tmpl, history, true);
    std::vector<int32_t> prompt = tm.tok.encode(text);
    if (int64_t(prompt.size()) + 1 >= max_len) {
      std::fprintf(stderr, "the conversation (%zu tokens) no longer fits the context (%lld): /reset\n", prompt.size(),
                   (long long)max_len);
      history.pop_back();
      continue;
    }
    GenerateRequest req;
    req.prompts = {prompt};
    req.sampling = {o.temperature, o.top_p, 0, o.seed + turn++, o.max_tokens, tm.stop_ids, {}, tm.tok.vocab_size()};
    StreamDecoder stream(tm.tok, /*skip_special=*/true);
    // the R1 generation prompt ends inside "<think>\n": the reply starts as reasoning
    ThinkSplitter split(text.size() >= 8 && text.find("<think>", text.size() - 9) != std::string::npos);
    std::string answer;
    bool last_reasoning = false, started = false;
    auto emit = [&](bool reasoning, const std::string& piece) {
      if (!reasoning) answer += piece;
      if (!started || reasoning != last_reasoning) {
        if (tty) std::fputs(reasoning ? "\033[2m" : "\033[0m", stdout);
        else std::fputs(reasoning ? "\nthink> " : "\n", stdout);
        started = true;
        last_reasoning = reasoning;
      }
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
    };
    req.on_token = [&](size_t, int32_t id) {
      split.push(stream.push(id), emit);
      return true;
    };
    engine.generate(req);
    split.push(stream.flush(), emit);
    split.flush(emit);
    std::fputs(tty ? "\033[0m\n" : "\n", stdout);
    history.push_back({"assistant", answer});
  }
  return 0;
}

const bool registered = cli::add_command({"chat", "Interactive chat; reasoning shown apart from the answer", 55,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<ChatOpts>();
      app.add_option("--model", o->model, "Model directory (weights + tokenizer)")->required();
      app.add_option("--template", o->tmpl, "auto | r1 | r1zero | chatml")->capture_default_str();
      app.add_option("--system", o->system, "System prompt");
      cli::add_weights_option(app, o->weights);
      app.add_option("--max-tokens", o->max_tokens, "Maximum tokens per reply")->capture_default_str();
      app.add_option("--temperature", o->temperature, "Sampling temperature")->capture_default_str();
      app.add_option("--top-p", o->top_p, "Nucleus mass kept")->capture_default_str();
      app.add_option("--seed", o->seed, "Seed of the first reply (then +1 per turn)")->capture_default_str();
      return [o] { return run_chat(*o); };
    }});

}  // namespace
}  // namespace nanoseek
