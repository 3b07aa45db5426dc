// The generation engine: prefill, then KV-cached decode with the compressed MLA cache and absorbed attention
// (spec §1.5–§1.6), for a batch of sequences with different prompt and output lengths in one engine step.
// G samples of one prompt share its prefill (the cache rows of the prompt are copied, not recomputed).
// Any LanguageModel: only its DecodeCore (the attention over the cache) is per architecture — the compressed MLA
// cache of DeepSeek-V3, the GQA K/V cache of dense students; everything here exists once.
// The engine reads the model's weights in place: a trainer updating them is seen by the next generate call.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <memory>

#include "model/language_model.h"
#include "ops/linear.h"

namespace nanoseek {

struct SamplingParams {
  float temperature = 1.0f;   // 0 = greedy (argmax)
  float top_p = 1.0f;         // nucleus mass kept (1 = off)
  int top_k = 0;              // 0 = off
  uint64_t seed = 0;          // sample i of prompt p draws from Rng::derive(seed, p·n + i): batch-independent
  int max_new_tokens = 256;
  std::vector<int32_t> stop_ids;          // e.g. EOS; the stop token is included in the output tokens
  std::vector<std::string> stop_strings;  // checked on decoded text (needs detokenize in GenerateRequest)
  int64_t vocab_limit = 0;  // sample only ids < vocab_limit (the tokenizer's size; 0 = every id of the model)
};

// An Error naming the option unless temperature is finite and >= 0, top_p finite and in (0, 1], top_k >= 0 and
// max_new_tokens >= 0. Engine::generate checks every request with it (so every command does); a NaN temperature
// used to make every comparison false and end each sample after one token.
void check_sampling(const SamplingParams& sp);

struct Completion {
  int prompt_index = 0;             // which prompt
  int sample_index = 0;             // which of its n samples
  std::vector<int32_t> tokens;      // generated tokens (prompt excluded)
  std::vector<float> logprobs;      // log π(token) under the sampling distribution's model (temperature-free)
  std::string finish_reason;        // "stop" (stop id / string) or "length"
};

// Streaming callback: (completion index in the output vector, newly sampled token). Return false to stop that
// sequence early.
using TokenCallback = std::function<bool(size_t, int32_t)>;

struct GenerateRequest {
  std::vector<std::vector<int32_t>> prompts;
  int n = 1;                        // samples per prompt (G)
  SamplingParams sampling;
  TokenCallback on_token;           // optional
  std::function<std::string(const std::vector<int32_t>&)> detokenize;  // needed only for stop_strings
};

// Which weights the engine's matmuls read. BF16: a bf16 copy of the model's parameters (round to nearest even),
// refreshed from the fp32 weights at every generate / prefill_logits call (so a trainer's updates are seen), read by
// every matmul of the forward (ops/linear.h Bf16WeightScope): half the bytes per decode step for 1.5x the weight
// memory. Embedding rows, norm gains and biases are read fp32. Logits equal an fp32 engine's on a model whose matmul
// weights were rounded to bf16 (tests/infer/engine_bf16_test.cpp).
enum class DecodeWeights { F32, BF16 };
DecodeWeights parse_decode_weights(const std::string& s);   // "f32" | "bf16"; Error otherwise
const char* decode_weights_name(DecodeWeights w);

class Engine {
 public:
  // Reserves the model's cache for `max_batch` concurrent sequences of up to `max_len` tokens (prompt +
  // generated); plan().describe() says what it holds and its size.
  Engine(const LanguageModel& m, int64_t max_batch, int64_t max_len, DecodeWeights weights = DecodeWeights::F32);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  const CachePlan& plan() const;
  // Generates all prompts × n samples, scheduling up to max_batch sequences at a time.
  std::vector<Completion> generate(const GenerateRequest& req);
  // Teacher-forced logits through the cache (prefill of `tokens` into a fresh sequence): [T, V]. Test hook that the
  // cached path equals the full forward at every position.
  std::vector<float> prefill_logits(const std::vector<int32_t>& tokens);

 private:
  // the bf16 copy (BF16 only) refreshed from the model, and the scope that makes the forward read it
  std::unique_ptr<Bf16WeightScope> use_weights();
  std::unique_ptr<DecodeCore> core_;
  const LanguageModel* model_;
  DecodeWeights weights_;
  std::vector<uint16_t> bf16_;
};

// Many prompts × n samples each through one engine of `slots` slots, at most max(1, slots / n) prompts per call, so
// every sample of a prompt is in flight together (evaluation, rejection sampling, distillation). The call starting
// at prompt p0 samples with seed sampling.seed + p0: each sample's stream depends only on the prompt list.
// on_batch(p0, p1, outs) gets the completions of prompts [p0, p1) (their prompt_index counts from p0).
int64_t sample_slots(int64_t max_batch, int64_t prompts, int n);  // max(n, min(max_batch, prompts·n))
void generate_batched(Engine& e, int64_t slots, const std::vector<std::vector<int32_t>>& prompts, int n,
                      const SamplingParams& sampling,
                      const std::function<void(size_t p0, size_t p1, std::vector<Completion>& outs)>& on_batch);
// The sampling of the R1-protocol tools (evaluation, rejection sampling, distillation) from their options `o`
// (temperature, top_p, max_new_tokens, seed): ids below vocab_limit, stopping at stop_ids.
template <class Options>
SamplingParams protocol_sampling(const Options& o, int64_t vocab_limit, std::vector<int32_t> stop_ids) {
  SamplingParams sp;
  sp.temperature = o.temperature;
  sp.top_p = o.top_p;
  sp.max_new_tokens = o.max_new_tokens;
  sp.seed = o.seed;
  sp.vocab_limit = vocab_limit;
  sp.stop_ids = std::move(stop_ids);
  check_sampling(sp);
  return sp;
}
// The completion's tokens without the stop token that ended it (a final id in stop_ids).
std::span<const int32_t> completion_body(const Completion& c, const std::vector<int32_t>& stop_ids);

}  // namespace nanoseek
