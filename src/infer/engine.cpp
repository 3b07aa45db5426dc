// Generation engine (see engine.h). One engine step = one forward over a mixed set of tokens: every prompt
// token of newly admitted prompts (prefill) plus one token per decoding sequence. Each token carries its cache
// slot and position; all its layer's cache rows are written before that layer's attention, so prefill tokens see
// their own earlier prompt tokens and decode tokens see their whole history.
//
// Absorbed MLA (spec §1.6), per layer, token t at (slot s, position p), head h:
//   cache[s][j] = [RMSNorm(c^KV_j) (kv_lora) | RoPE(k^R_j) (rope)]           written once per token
//   q̃ = W_UK_hᵀ q_nope                                                       [kv_lora]
//   score_j = scale·(q̃·c_j + q_pe·k^R_j), j ≤ p;  ō = Σ_j softmax(score)_j c_j [kv_lora]
//   o_h = W_UV_h ō                                                            [v_head_dim]
// W_UK_h / W_UV_h are row blocks of kv_b_proj read in place (no copies at load).
#include "core/parallel.h"
#include "infer/engine.h"
#include "infer/engine_core.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>

#include "core/error.h"
#include "infer/sampler.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"

namespace nanoseek {

std::string CachePlan::describe() const {
  return fmt::format("KV cache {:.1f} MiB: {} slots x {} tokens x {} layers x {} values ({}, fp32)",
                     double(bytes) / (1 << 20), slots, max_len, layers, values_per_token, kind);
}

namespace {

struct MlaCore final : EngineCore {
  const Model& m;
  const ModelConfig& c;
  std::vector<float> cache;  // [layers][slots][max_len][W]
  int64_t W, max_step;       // values per cached token; tokens per forward chunk
  // per-chunk scratch
  Buf x, q, qa, qa_n, qa_rstd, kva, c_n, c_rstd, qt, obar, o, xnf, rstd_f;
  std::vector<int32_t> posbuf;
  std::vector<LayerActs> acts;  // per layer (FFN half), sized for max_step tokens

  MlaCore(const Model& model, int64_t slots, int64_t max_len) : m(model), c(model.cfg) {
    check(slots >= 1 && max_len >= 2, "engine: need at least 1 slot and 2 positions (got {} x {})", slots, max_len);
    check(max_len <= m.rope.max_pos, "engine: max_len {} exceeds the model's position table ({})", max_len,
          m.rope.max_pos);
    W = c.kv_lora_rank + c.qk_rope_head_dim;
    plan = {slots, max_len, c.num_hidden_layers, W, 0};
    vocab = c.vocab_size;
    plan.bytes = size_t(c.num_hidden_layers * slots * max_len * W) * sizeof(float);
    cache.assign(plan.bytes / sizeof(float), 0.f);
    max_step = std::max<int64_t>(256, slots);
    const int64_t n = max_step, d = c.hidden_size, H = c.num_attention_heads;
    x.resize(n * d);
    q.resize(n * c.q_out_dim());
    if (c.q_lora_rank > 0) qa.resize(n * c.q_lora_rank), qa_n.resize(n * c.q_lora_rank), qa_rstd.resize(n);
    kva.resize(n * W);
    c_n.resize(n * c.kv_lora_rank);
    c_rstd.resize(n);
    qt.resize(n * H * c.kv_lora_rank);
    obar.resize(n * H * c.kv_lora_rank);
    o.resize(n * H * c.v_head_dim);
    xnf.resize(n * d);
    rstd_f.resize(n);
    acts.resize(c.num_hidden_layers);
    for (int64_t L = 0; L < c.num_hidden_layers; ++L) plan_layer_acts(c, L, n, acts[L]);
  }

  float* row(int64_t L, int64_t slot, int64_t pos) {
    return cache.data() + ((L * plan.slots + slot) * plan.max_len + pos) * W;
  }

  // Runs tokens [n] at (slot, pos) through the model; for each i in logit_rows writes logits to out + k·V.
  void forward(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n,
               const std::vector<int64_t>& logit_rows, float* out) override {
    for (int64_t i = 0; i < n; ++i) {
      check(tok[i] >= 0 && tok[i] < c.vocab_size, "token id {} is outside the vocabulary [0, {})", tok[i],
            c.vocab_size);
      check(pos[i] >= 0 && pos[i] < plan.max_len, "position {} exceeds the engine's max_len {}", pos[i], plan.max_len);
    }
    size_t next_row = 0;
    for (int64_t c0 = 0; c0 < n; c0 += max_step) {
      const int64_t cn = std::min(max_step, n - c0);
      std::vector<int64_t> rows;
      while (next_row < logit_rows.size() && logit_rows[next_row] < c0 + cn) rows.push_back(logit_rows[next_row++] - c0);
      chunk(tok + c0, slot + c0, pos + c0, cn, rows, out);
      out += int64_t(rows.size()) * c.vocab_size;
    }
  }

  void chunk(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n, const std::vector<int64_t>& rows,
             float* out) {
    const int64_t d = c.hidden_size, H = c.num_attention_heads, nope = c.qk_nope_head_dim, R = c.qk_rope_head_dim;
    const int64_t Dq = c.qk_head_dim(), Dv = c.v_head_dim, kvl = c.kv_lora_rank, kvb = nope + Dv;
    const float eps = float(c.rms_norm_eps), scale = m.attn_scale;
#pragma omp parallel for schedule(static) if (worth_parallel(n * d))
    for (int64_t i = 0; i < n; ++i) std::memcpy(&x[i * d], m.w.embed + int64_t(tok[i]) * d, sizeof(float) * d);
    for (int64_t L = 0; L < c.num_hidden_layers; ++L) {
      const LayerWeights& lw = m.w.layers[L];
      LayerActs& a = acts[L];
      float* xn = a.attn.xn.data();
      rmsnorm_forward(xn, a.attn.rstd_in.data(), x.data(), lw.in_norm, n, d, eps, d);
      if (c.q_lora_rank > 0) {
        const int64_t ql = c.q_lora_rank;
        linear_forward(qa.data(), xn, lw.attn.q_a, n, d, ql);
        rmsnorm_forward(qa_n.data(), qa_rstd.data(), qa.data(), lw.attn.q_a_norm, n, ql, eps, ql);
        linear_forward(q.data(), qa_n.data(), lw.attn.q_b, n, ql, H * Dq);
      } else {
        linear_forward(q.data(), xn, lw.attn.q, n, d, H * Dq);
      }
      rope_forward(q.data(), pos, n, H, H * Dq, Dq, nope, m.rope);
      linear_forward(kva.data(), xn, lw.attn.kv_a, n, d, W);
      rope_forward(kva.data(), pos, n, 1, W, 0, kvl, m.rope);
      rmsnorm_forward(c_n.data(), c_rstd.data(), kva.data(), lw.attn.kv_a_norm, n, kvl, eps, W);
      for (int64_t i = 0; i < n; ++i) {  // write the compressed cache rows first
        float* r = row(L, slot[i], pos[i]);
        std::memcpy(r, &c_n[i * kvl], sizeof(float) * kvl);
        std::memcpy(r + kvl, &kva[i * W + kvl], sizeof(float) * R);
      }
      // q̃_h = q_nope_h · W_UK_h   ([n, nope] × [nope, kvl])
      for (int64_t h = 0; h < H; ++h)
        gemm(false, false, n, kvl, nope, 1.f, &q[h * Dq], H * Dq, lw.attn.kv_b + h * kvb * kvl, kvl, 0.f,
             &qt[h * kvl], H * kvl);
      int64_t work = 0;
      for (int64_t i = 0; i < n; ++i) work += (pos[i] + 1) * H * 2 * (kvl + R);
#pragma omp parallel if (worth_parallel(work))
      {
        std::vector<float> sc(size_t(plan.max_len));
#pragma omp for collapse(2) schedule(dynamic)
        for (int64_t i = 0; i < n; ++i)
          for (int64_t h = 0; h < H; ++h) {
            const float* qth = &qt[(i * H + h) * kvl];
            const float* qpe = &q[i * H * Dq + h * Dq + nope];
            const int64_t len = pos[i] + 1;
            float mx = -INFINITY;
            for (int64_t j = 0; j < len; ++j) {
              const float* r = row(L, slot[i], j);
              float s = 0;
              for (int64_t k = 0; k < kvl; ++k) s += qth[k] * r[k];
              for (int64_t k = 0; k < R; ++k) s += qpe[k] * r[kvl + k];
              sc[j] = s * scale;
              mx = std::max(mx, sc[j]);
            }
            double z = 0;
            for (int64_t j = 0; j < len; ++j) z += sc[j] = std::exp(sc[j] - mx);
            float* ob = &obar[(i * H + h) * kvl];
            std::fill(ob, ob + kvl, 0.f);
            for (int64_t j = 0; j < len; ++j) {
              const float p = float(sc[j] / z);
              const float* r = row(L, slot[i], j);
              for (int64_t k = 0; k < kvl; ++k) ob[k] += p * r[k];
            }
          }
      }
      // o_h = ō_h · W_UV_hᵀ   ([n, kvl] × [kvl, Dv])
      for (int64_t h = 0; h < H; ++h)
        gemm(false, true, n, Dv, kvl, 1.f, &obar[h * kvl], H * kvl, lw.attn.kv_b + (h * kvb + nope) * kvl, kvl, 0.f,
             &o[h * Dv], H * Dv);
      std::memcpy(a.x_mid.data(), x.data(), sizeof(float) * n * d);
      gemm(false, true, n, d, H * Dv, 1.f, o.data(), H * Dv, lw.attn.o, H * Dv, 1.f, a.x_mid.data(), d);
      LayerCtx cx{m, L, 1, n, pos, nullptr};
      ffn_forward(cx, a, x.data(), nullptr);
    }
    if (rows.empty()) return;
    const int64_t nr = int64_t(rows.size()), V = c.vocab_size;
    for (int64_t k = 0; k < nr; ++k) std::memcpy(&xnf[k * d], &x[rows[k] * d], sizeof(float) * d);
    rmsnorm_forward(xnf.data(), rstd_f.data(), xnf.data(), m.w.norm, nr, d, eps, d);
    linear_forward(out, xnf.data(), m.w.lm_head, nr, d, V);
  }

  void copy_prefix(int64_t from, int64_t to, int64_t len) override {
    for (int64_t L = 0; L < c.num_hidden_layers; ++L)
      std::memcpy(row(L, to, 0), row(L, from, 0), sizeof(float) * len * W);
  }
};

}  // namespace

Engine::Engine(const Model& m, int64_t max_batch, int64_t max_len) : core_(new MlaCore(m, max_batch, max_len)) {}
Engine::Engine(const DenseModel& m, int64_t max_batch, int64_t max_len)
    : core_(make_dense_core(m, max_batch, max_len).release()) {}
Engine::~Engine() { delete core_; }
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
  core_->forward(tokens.data(), slot.data(), pos.data(), T, rows, out.data());
  return out;
}

std::vector<Completion> Engine::generate(const GenerateRequest& req) {
  EngineCore& E = *core_;
  const int n = req.n;
  const int64_t V = E.vocab, max_len = E.plan.max_len;
  check(n >= 1, "generate: n (samples per prompt) must be >= 1, got {}", n);
  check(n <= E.plan.slots, "generate: n = {} samples per prompt exceeds the engine batch of {} slots", n, E.plan.slots);
  check(req.sampling.stop_strings.empty() || req.detokenize, "generate: stop strings need a detokenize function");
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
