// nanoseek generate --model DIR --prompt TEXT [--max-tokens N --temperature T --top-p P --top-k K --seed S --n N]
// Samples continuations of a prompt with the KV-cached engine. --template wraps the prompt as a user turn
// (auto = the template detected from the tokenizer; none = raw text, the default).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "infer/session.h"

namespace nanoseek {
namespace {

struct GenOpts {
  std::string model, prompt, tmpl = "none", weights = "f32";
  int max_tokens = 128, top_k = 0, n = 1;
  float temperature = 0.6f, top_p = 0.95f;
  uint64_t seed = 0;
  bool json = false;
};

int run_generate(const GenOpts& o) {
  TextModel tm = load_text_model(o.model);
  std::string text = o.prompt;
  if (o.tmpl != "none") {
    ChatTemplate t = o.tmpl == "auto" ? tm.chat : parse_chat_template(o.tmpl);
    std::vector<ChatMessage> msgs = {{"user", o.prompt}};
    text = render_chat(t, msgs, true);
  }
  std::vector<int32_t> prompt = tm.tok.encode(text);
  check(!prompt.empty(), "--prompt is empty");
  check(o.n >= 1 && o.n <= 256, "--n must be in [1, 256], got {}", o.n);
  check(o.max_tokens >= 1, "--max-tokens must be >= 1");
  const int64_t max_len = std::min<int64_t>(int64_t(prompt.size()) + o.max_tokens, tm.max_positions());
  const std::unique_ptr<Engine> eng = tm.make_engine(o.n, max_len, parse_decode_weights(o.weights));
  Engine& engine = *eng;
  std::fprintf(stderr, "%s\n", engine.plan().describe().c_str());
  GenerateRequest req;
  req.prompts = {prompt};
  req.n = o.n;
  req.sampling = {o.temperature, o.top_p, o.top_k, o.seed, o.max_tokens, tm.stop_ids, {}, tm.tok.vocab_size()};
  std::unique_ptr<StreamDecoder> stream;
  if (o.n == 1 && !o.json) {  // stream a single sample as it is produced
    stream = std::make_unique<StreamDecoder>(tm.tok);
    std::fputs(text.c_str(), stdout);
    req.on_token = [&](size_t, int32_t id) {
      std::fputs(stream->push(id).c_str(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  auto t0 = std::chrono::steady_clock::now();
  auto out = engine.generate(req);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t total = 0;
  for (const auto& c : out) total += c.tokens.size();
  if (stream) {
    std::fputs(stream->flush().c_str(), stdout);
    std::fputs("\n", stdout);
  } else {
    for (const auto& c : out) {
      if (o.json) {
        nlohmann::json j = {{"sample", c.sample_index}, {"text", tm.tok.decode(c.tokens)}, {"tokens", c.tokens},
                            {"logprobs", c.logprobs}, {"finish_reason", c.finish_reason}};
        fmt::print("{}\n", j.dump());
      } else {
        fmt::print("--- sample {} ({} tokens, {}) ---\n{}{}\n", c.sample_index, c.tokens.size(), c.finish_reason, text,
                   tm.tok.decode(c.tokens));
      }
    }
  }
  std::fprintf(stderr, "%zu prompt tokens, %zu generated in %.2f s (%.1f tok/s)\n", prompt.size(), total, secs,
               double(total) / secs);
  return 0;
}

const bool registered = cli::add_command({"generate", "Sample text from a model directory (KV-cached)", 50,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<GenOpts>();
      app.add_option("--model", o->model, "Model directory (weights + tokenizer)")->required();
      cli::add_weights_option(app, o->weights);
      app.add_option("--prompt", o->prompt, "Prompt text")->required();
      app.add_option("--max-tokens", o->max_tokens, "Maximum new tokens")->capture_default_str();
      app.add_option("--temperature", o->temperature, "Sampling temperature (0 = greedy)")->capture_default_str();
      app.add_option("--top-p", o->top_p, "Nucleus mass kept")->capture_default_str();
      app.add_option("--top-k", o->top_k, "Keep the k most likely tokens (0 = off)")->capture_default_str();
      app.add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
      app.add_option("--n", o->n, "Samples of the prompt (share its prefill)")->capture_default_str();
      app.add_option("--template", o->tmpl, "none | auto | r1 | r1zero | chatml")->capture_default_str();
      app.add_flag("--json", o->json, "One JSON line per sample (text, tokens, logprobs)");
      return [o] { return run_generate(*o); };
    }});

}  // namespace
}  // namespace nanoseek
