// Generation engine (see engine.h). One engine step = one forward over a mixed set of tokens: every prompt
// token of newly admitted prompts (prefill) plus one token per decoding sequence. Each token carries its cache
// slot and position; all its layer's cache rows are written before that layer's attention, so prefill tokens see
// their own earlier prompt tokens and decode tokens see their whole history.
//
// The architecture-specific part, the attention over the cache, is the model's DecodeCore (model/decode_core.h);
// scheduling, sampling, stop rules and slots are here, once for every architecture.
#include "infer/engine.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "core/dtype.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/linear.h"
#include "infer/sampler.h"

namespace nanoseek {

Engine::Engine(const LanguageModel& m, int64_t max_batch, int64_t max_len, DecodeWeights weights)
    : core_(m.decode_core(max_batch, max_len)), model_(&m), weights_(weights) {}
Engine::~Engine() = default;

DecodeWeights parse_decode_weights(const std::string& s) {
  if (s == "f32") return DecodeWeights::F32;
  if (s == "bf16") return DecodeWeights::BF16;
  fail("decode weights '{}': must be f32 or bf16", s);
}
const char* decode_weights_name(DecodeWeights w) { return w == DecodeWeights::BF16 ? "bf16" : "f32"; }

std::unique_ptr<Bf16WeightScope> Engine::use_weights() {
  if (weights_ != DecodeWeights::BF16) return nullptr;
  const std::span<const float> p = model_->param_buffer();
  bf16_.resize(p.size());
  f32_to_bf16_n(bf16_.data(), p.data(), p.size());
  return std::make_unique<Bf16WeightScope>(p.data(), bf16_.data(), p.size());
}
const CachePlan& Engine::plan() const { return core_->plan; }

int64_t sample_slots(int64_t max_batch, int64_t prompts, int n) {
  return std::max<int64_t>(n, std::min<int64_t>(max_batch, prompts * n));
}

void generate_batched(Engine& e, int64_t slots, const std::vector<std::vector<int32_t>>& prompts, int n,
                      const SamplingParams& sampling,
                      const std::function<void(size_t p0, size_t p1, std::vector<Completion>& outs)>& on_batch) {
  const size_t per_call = size_t(std::max<int64_t>(1, slots / n));
  for (size_t p0 = 0; p0 < prompts.size(); p0 += per_call) {
    const size_t p1 = std::min(prompts.size(), p0 + per_call);
    GenerateRequest req;
    req.prompts.assign(prompts.begin() + int64_t(p0), prompts.begin() + int64_t(p1));
    req.n = n;
    req.sampling = sampling;
    req.sampling.seed = sampling.seed + p0;  // streams differ per call and per sample within it
    std::vector<Completion> outs = e.generate(req);
    on_batch(p0, p1, outs);
  }
}

std::span<const int32_t> completion_body(const Completion& c, const std::vector<int32_t>& stop_ids) {
  std::span<const int32_t> body(c.tokens);
  if (!body.empty() && std::find(stop_ids.begin(), stop_ids.end(), body.back()) != stop_ids.end())
    body = body.first(body.size() - 1);
  return body;
}

std::vector<float> Engine::prefill_logits(const std::vector<int32_t>& tokens) {
  const int64_t T = int64_t(tokens.size());
  check(T >= 1 && T <= core_->plan.max_len, "prefill_logits: {} tokens for max_len {}", T, core_->plan.max_len);
  std::vector<int32_t> slot(T, 0), pos(T);
  std::vector<int64_t> rows(T);
  for (int64_t i = 0; i < T; ++i) pos[i] = int32_t(i), rows[i] = i;
  std::vector<float> out(size_t(T * core_->vocab));
  const auto weights = use_weights();
  core_->forward(tokens.data(), slot.data(), pos.data(), T, rows, out.data());
  return out;
}

std::vector<Completion> Engine::generate(const GenerateRequest& req) {
  DecodeCore& E = *core_;
  const int n = req.n;
  const int64_t V = E.vocab, max_len = E.plan.max_len;
  check(n >= 1, "generate: n (samples per prompt) must be >= 1, got {}", n);
  check(n <= E.plan.slots, "generate: n = {} samples per prompt exceeds the engine batch of {} slots", n, E.plan.slots);
  check(req.sampling.stop_strings.empty() || req.detokenize, "generate: stop strings need a detokenize function");
  check_sampling(req.sampling);
  for (size_t p = 0; p < req.prompts.size(); ++p) {
    check(!req.prompts[p].empty(), "generate: prompt {} is empty", p);
    check(int64_t(req.prompts[p].size()) < max_len, "generate: prompt {} has {} tokens; the engine holds {} in total",
          p, req.prompts[p].size(), max_len);
  }
  struct Seq {
    size_t out;            // index into outputs
    int64_t slot;
    std::vector<int32_t> ctx;  // prompt + generated
    Rng rng;
  };
  std::vector<Completion> outputs(req.prompts.size() * size_t(n));
  std::deque<size_t> queue;
  for (size_t p = 0; p < req.prompts.size(); ++p) queue.push_back(p);
  std::vector<int64_t> free_slots;
  for (int64_t s = E.plan.slots - 1; s >= 0; --s) free_slots.push_back(s);
  std::vector<Seq> active;
  std::vector<float> prob;
  std::vector<int32_t> order;
  std::vector<float> logits;
  const auto weights = use_weights();

  // Appends a sampled token; returns true when the sequence is finished.
  auto accept = [&](Seq& s, const float* row) {
    Completion& o = outputs[s.out];
    Sampled t = sample_token(row, V, req.sampling, s.rng, prob, order);
    o.tokens.push_back(t.token);
    o.logprobs.push_back(t.logprob);
    s.ctx.push_back(t.token);
    bool stop = std::find(req.sampling.stop_ids.begin(), req.sampling.stop_ids.end(), t.token) !=
                req.sampling.stop_ids.end();
    if (!stop && !req.sampling.stop_strings.empty()) {
      const std::string text = req.detokenize(o.tokens);
      for (const std::string& ss : req.sampling.stop_strings) stop |= !ss.empty() && text.find(ss) != std::string::npos;
    }
    if (req.on_token && !req.on_token(s.out, t.token)) stop = true;
    if (stop) o.finish_reason = "stop";
    else if (int64_t(o.tokens.size()) >= req.sampling.max_new_tokens || int64_t(s.ctx.size()) >= max_len)
      o.finish_reason = "length";
    return !o.finish_reason.empty();
  };

  while (!queue.empty() || !active.empty()) {
    std::vector<int32_t> tok, slot, pos;
    std::vector<int64_t> rows;
    // decode tokens of running sequences
    for (const Seq& s : active) {
      tok.push_back(s.ctx.back());
      slot.push_back(int32_t(s.slot));
      pos.push_back(int32_t(s.ctx.size() - 1));
      rows.push_back(int64_t(tok.size()) - 1);
    }
    // admit whole prompt groups while n slots are free; prefill each prompt once into its first slot
    struct Admit {
      size_t prompt;
      std::vector<int64_t> slots;
    };
    std::vector<Admit> admitted;
    while (!queue.empty() && int64_t(free_slots.size()) >= n) {
      Admit a{queue.front(), {}};
      queue.pop_front();
      for (int i = 0; i < n; ++i) a.slots.push_back(free_slots.back()), free_slots.pop_back();
      const auto& pr = req.prompts[a.prompt];
      for (size_t j = 0; j < pr.size(); ++j) {
        tok.push_back(pr[j]);
        slot.push_back(int32_t(a.slots[0]));
        pos.push_back(int32_t(j));
      }
      rows.push_back(int64_t(tok.size()) - 1);
      admitted.push_back(std::move(a));
    }
    logits.resize(rows.size() * size_t(V));
    // rows must be increasing for chunking: decode rows come first, then each prompt's last token
    E.forward(tok.data(), slot.data(), pos.data(), int64_t(tok.size()), rows, logits.data());

    std::vector<Seq> next;
    for (size_t i = 0; i < active.size(); ++i) {
      if (accept(active[i], &logits[i * V])) free_slots.push_back(active[i].slot);
      else next.push_back(std::move(active[i]));
    }
    for (size_t k = 0; k < admitted.size(); ++k) {
      const Admit& a = admitted[k];
      const auto& pr = req.prompts[a.prompt];
      const float* row = &logits[(active.size() + k) * V];
      for (int i = 0; i < n; ++i) {
        if (i > 0) E.copy_prefix(a.slots[0], a.slots[i], int64_t(pr.size()));
        const size_t out = a.prompt * size_t(n) + size_t(i);
        outputs[out].prompt_index = int(a.prompt);
        outputs[out].sample_index = i;
        Seq s{out, a.slots[i], pr, Rng::derive(req.sampling.seed, out)};
        if (req.sampling.max_new_tokens <= 0) {
          outputs[out].finish_reason = "length";
          free_slots.push_back(s.slot);
          continue;
        }
        if (accept(s, row)) free_slots.push_back(s.slot);
        else next.push_back(std::move(s));
      }
    }
    active = std::move(next);
  }
  return outputs;
}

}  // namespace nanoseek
