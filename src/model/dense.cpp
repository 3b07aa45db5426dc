// Dense Qwen2 / Llama students: config, tensor registry, forward/backward side by side, HF load/save.
#include "model/dense.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json_io.h"
#include "core/parallel.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/rmsnorm.h"

namespace nanoseek {

using json = nlohmann::json;

// ---------------------------------------------------------------- config


namespace {

const std::set<std::string> kDenseKnown = {
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "rope_theta", "rms_norm_eps", "tie_word_embeddings",
    "max_position_embeddings", "initializer_range", "rope_scaling", "hidden_act", "attention_bias", "mlp_bias",
    "use_sliding_window", "use_mrope"};

}  // namespace

std::vector<std::string> dense_config_keys() { return {kDenseKnown.begin(), kDenseKnown.end()}; }

namespace {

struct DReader {
  const json& j;
  const std::string& label;
  const json& need(const char* k) const {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) fail("{}: required field '{}' is missing", label, k);
    return *it;
  }
  int64_t integer(const char* k) const {
    const json& v = need(k);
    const int64_t x = json_as_int(v, label, k);
    check(x >= 1, "{}: field '{}' must be >= 1, got {}", label, k, x);
    return x;
  }
  double positive(const char* k) const {
    const json& v = need(k);
    check(v.is_number(), "{}: field '{}' must be a number, got {}", label, k, json_brief(v));
    const double x = v.get<double>();
    check(std::isfinite(x) && x > 0, "{}: field '{}' must be > 0, got {}", label, k, x);
    return x;
  }
  bool boolean(const char* k) const {
    const json& v = need(k);
    check(v.is_boolean(), "{}: field '{}' must be true or false, got {}", label, k, json_brief(v));
    return v.get<bool>();
  }
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
};

}  // namespace

DenseConfig parse_dense_config(const json& j, const std::string& label) {
  check(j.is_object(), "{}: config must be a JSON object", label);
  DReader r{j, label};
  DenseConfig c;
  const json& mt = r.need("model_type");
  check(mt.is_string() && is_dense_model_type(mt.get<std::string>()),
        "{}: field 'model_type' must be \"qwen2\" or \"llama\" for a dense model, got {}", label, json_brief(mt));
  c.model_type = mt.get<std::string>();
  c.vocab_size = r.integer("vocab_size");
  c.hidden_size = r.integer("hidden_size");
  c.intermediate_size = r.integer("intermediate_size");
  c.num_hidden_layers = r.integer("num_hidden_layers");
  c.num_attention_heads = r.integer("num_attention_heads");
  c.num_key_value_heads = r.integer("num_key_value_heads");
  c.max_position_embeddings = r.integer("max_position_embeddings");
  c.rope_theta = r.positive("rope_theta");
  c.rms_norm_eps = r.positive("rms_norm_eps");
  c.tie_word_embeddings = r.boolean("tie_word_embeddings");
  c.initializer_range = r.has("initializer_range") ? r.positive("initializer_range") : 0.02;
  if (r.has("head_dim")) {
    c.head_dim = r.integer("head_dim");
  } else {
    check(c.hidden_size % c.num_attention_heads == 0,
          "{}: 'head_dim' is absent and hidden_size {} is not divisible by num_attention_heads {}", label,
          c.hidden_size, c.num_attention_heads);
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  check(c.head_dim % 2 == 0, "{}: field 'head_dim' must be even for rotary embeddings, got {}", label, c.head_dim);
  check(c.num_attention_heads % c.num_key_value_heads == 0,
        "{}: num_attention_heads {} must be a multiple of num_key_value_heads {}", label, c.num_attention_heads,
        c.num_key_value_heads);
  if (r.has("rope_scaling"))
    fail("{}: field 'rope_scaling' = {} is not supported for dense models (only null)", label,
         json_brief(j["rope_scaling"]));
  if (r.has("hidden_act"))
    check(j["hidden_act"] == "silu", "{}: field 'hidden_act' must be \"silu\", got {}", label,
          json_brief(j["hidden_act"]));
  if (r.has("mlp_bias")) check(!r.boolean("mlp_bias"), "{}: field 'mlp_bias' = true is not supported", label);
  if (r.has("use_mrope")) check(!r.boolean("use_mrope"), "{}: field 'use_mrope' = true is not supported", label);
  if (r.has("use_sliding_window"))
    check(!r.boolean("use_sliding_window"), "{}: field 'use_sliding_window' = true is not supported", label);
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;   // Qwen2 always has q/k/v biases and no o bias
  } else {
    // Llama's attention_bias adds biases to q, k, v AND o_proj; we implement the bias-free form only.
    if (r.has("attention_bias"))
      check(!r.boolean("attention_bias"), "{}: field 'attention_bias' = true is not supported for llama", label);
    c.qkv_bias = false;
  }
  // Unknown fields kept verbatim: at most kJsonMaxDepth deep (they came through parse_json), so copying and the
  // indented re-dump are bounded.
  c.extra = json::object();
  for (const auto& [k, v] : j.items())
    if (!kDenseKnown.count(k)) c.extra[k] = v;
  count_dense(c, label);   // sizes whose parameter count or fp32 bytes overflow are an Error here
  return c;
}

DenseCounts count_dense(const DenseConfig& c, const std::string& label) {
  auto mul = [&](int64_t a, int64_t b, std::string_view what) { return checked_mul(a, b, label, what); };
  auto add = [&](int64_t a, int64_t b, std::string_view what) { return checked_add(a, b, label, what); };
  const int64_t d = c.hidden_size;
  const int64_t qd = mul(c.num_attention_heads, c.head_dim, "num_attention_heads x head_dim");
  const int64_t kvd = mul(c.num_key_value_heads, c.head_dim, "num_key_value_heads x head_dim");
  // Per layer: two norms, q/k/v/o (+ q/k/v biases), SwiGLU gate/up/down.
  int64_t layer = mul(2, d, "hidden_size");
  layer = add(layer, mul(2, mul(qd, d, "num_attention_heads x head_dim x hidden_size"), "q_proj + o_proj"), "layer");
  layer = add(layer, mul(2, mul(kvd, d, "num_key_value_heads x head_dim x hidden_size"), "k_proj + v_proj"), "layer");
  if (c.qkv_bias) layer = add(layer, add(qd, mul(2, kvd, "k/v bias"), "q/k/v bias"), "layer");
  layer = add(layer, mul(3, mul(c.intermediate_size, d, "intermediate_size x hidden_size"), "mlp"), "layer");
  DenseCounts n;
  const int64_t embed = mul(c.vocab_size, d, "vocab_size x hidden_size");
  n.embedding_params = c.tie_word_embeddings ? embed : mul(2, embed, "2 x vocab_size x hidden_size");
  n.total_params = add(add(n.embedding_params, d, "embedding + final norm"),
                       mul(c.num_hidden_layers, layer, "num_hidden_layers x layer"), "total parameters");
  // The fp32 buffer (every tensor padded to 16 floats, at most 15 tensors a layer) must be addressable in bytes.
  const int64_t tensors = add(3, mul(15, c.num_hidden_layers, "num_hidden_layers"), "tensors");
  mul(add(n.total_params, mul(16, tensors, "padding"), "floats"), 4, "the fp32 parameter bytes");
  // `info` multiplies the cache values by the layers and 2 bytes.
  mul(mul(4, qd, "MHA cache"), c.num_hidden_layers, "MHA cache bytes x num_hidden_layers");
  return n;
}

DenseConfig load_dense_config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  return parse_dense_config(read_json_file(path), path);
}

json dense_config_json(const DenseConfig& c) {
  json j = c.extra;
  const bool qwen = c.model_type == "qwen2";
  if (!j.contains("architectures")) j["architectures"] = {qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["initializer_range"] = c.initializer_range;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["rope_scaling"] = nullptr;
  j["hidden_act"] = "silu";
  if (!qwen) j["attention_bias"] = false;
  return j;
}

// ---------------------------------------------------------------- registry

void dense_for_each_tensor(const DenseConfig& c, DenseWeights& w, const TensorVisitor& fn) {
  const int64_t d = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim;
  w.layers.resize(size_t(c.num_hidden_layers));
  fn({"model.embed_tokens.weight", {V, d}, Init::Normal, Role::Embed}, w.embed);
  for (int64_t L = 0; L < c.num_hidden_layers; ++L) {
    DenseLayerWeights& l = w.layers[L];
    const std::string p = "model.layers." + std::to_string(L) + ".";
    auto emit = [&](const std::string& name, std::vector<int64_t> shape, Init init, Role role, float*& slot) {
      fn({p + name, std::move(shape), init, role, L}, slot);
    };
    emit("input_layernorm.weight", {d}, Init::Ones, Role::Norm, l.in_norm);
    emit("self_attn.q_proj.weight", {qd, d}, Init::Normal, Role::Attn, l.q);
    if (c.qkv_bias) emit("self_attn.q_proj.bias", {qd}, Init::Zeros, Role::Bias, l.q_bias);
    emit("self_attn.k_proj.weight", {kvd, d}, Init::Normal, Role::Attn, l.k);
    if (c.qkv_bias) emit("self_attn.k_proj.bias", {kvd}, Init::Zeros, Role::Bias, l.k_bias);
    emit("self_attn.v_proj.weight", {kvd, d}, Init::Normal, Role::Attn, l.v);
    if (c.qkv_bias) emit("self_attn.v_proj.bias", {kvd}, Init::Zeros, Role::Bias, l.v_bias);
    emit("self_attn.o_proj.weight", {d, qd}, Init::Normal, Role::Attn, l.o);
    emit("post_attention_layernorm.weight", {d}, Init::Ones, Role::Norm, l.post_norm);
    emit("mlp.gate_proj.weight", {F, d}, Init::Normal, Role::DenseFfn, l.mlp.gate);
    emit("mlp.up_proj.weight", {F, d}, Init::Normal, Role::DenseFfn, l.mlp.up);
    emit("mlp.down_proj.weight", {d, F}, Init::Normal, Role::DenseFfn, l.mlp.down);
  }
  fn({"model.norm.weight", {d}, Init::Ones, Role::Norm}, w.norm);
  if (!c.tie_word_embeddings) fn({"lm_head.weight", {V, d}, Init::Normal, Role::Head}, w.lm_head);
}

TensorLayout dense_layout(const DenseConfig& c) {
  return layout_of([&](const TensorVisitor& v) {
    DenseWeights scratch;
    dense_for_each_tensor(c, scratch, v);
  });
}

DenseWeights bind_dense_weights(const DenseConfig& c, float* base) {
  DenseWeights w;
  bind_slots([&](const TensorVisitor& v) { dense_for_each_tensor(c, w, v); }, base);
  if (c.tie_word_embeddings) w.lm_head = w.embed;
  return w;
}

// ---------------------------------------------------------------- activations

namespace {

// Sizes (allocate = false: counts only) every buffer of the dense model's activations; bytes is the total.
DenseActs size_dense_acts(const DenseConfig& c, int64_t B, int64_t T, bool allocate) {
  const size_t N = size_t(B * T), d = size_t(c.hidden_size), F = size_t(c.intermediate_size);
  const size_t qd = size_t(c.num_attention_heads * c.head_dim), kvd = size_t(c.num_key_value_heads * c.head_dim);
  const size_t H = size_t(c.num_attention_heads);
  DenseActs a;
  a.B = B;
  a.T = T;
  size_t bytes = 0;
  auto z = [&](auto& v, size_t n) {
    if (allocate) v.resize(n);
    bytes += n * sizeof(v[0]);
  };
  z(a.pos, N);
  if (allocate)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) a.pos[b * T + t] = int32_t(t);
  a.layers.resize(size_t(c.num_hidden_layers));
  for (auto& l : a.layers) {
    z(l.x_in, N * d); z(l.n1, N * d); z(l.rstd1, N);
    z(l.q, N * qd); z(l.k, N * kvd); z(l.v, N * kvd);
    z(l.P, size_t(B) * H * size_t(T * T)); z(l.att, N * qd);
    z(l.x_mid, N * d); z(l.n2, N * d); z(l.rstd2, N);
    z(l.a, N * F); z(l.b, N * F); z(l.hact, N * F);
  }
  z(a.x_final, N * d); z(a.nf, N * d); z(a.rstdf, N);
  z(a.logits, N * size_t(c.vocab_size));
  for (auto* v : {&a.kx, &a.vx, &a.dkx, &a.dvx, &a.datt, &a.dq}) z(*v, N * qd);
  for (auto* v : {&a.dx, &a.dmid, &a.dn}) z(*v, N * d);
  for (auto* v : {&a.dk, &a.dv}) z(*v, N * kvd);
  for (auto* v : {&a.da, &a.db, &a.dh}) z(*v, N * F);
  a.bytes = bytes;
  return a;
}

}  // namespace

DenseActs plan_dense_acts(const DenseConfig& c, int64_t B, int64_t T) {
  check(B >= 1 && T >= 1, "dense activations: batch {} x seq {} must be positive", B, T);
  check(T <= c.max_position_embeddings, "sequence length {} exceeds max_position_embeddings {}", T,
        c.max_position_embeddings);
  const size_t bytes = size_dense_acts(c, B, T, /*allocate=*/false).bytes;
  check_memory(fmt::format("activations for batch {} x seq {}", B, T),
               fmt::format("activations {:.1f} MiB (with backward scratch)", double(bytes) / (1 << 20)),
               double(bytes));
  return size_dense_acts(c, B, T, /*allocate=*/true);
}

// ---------------------------------------------------------------- model

DenseModel::DenseModel(const DenseConfig& c)
    : cfg(c), layout(dense_layout(c)), params(layout.total, 0.f),
      rope(make_rope_half_table(c.head_dim, std::min<int64_t>(c.max_position_embeddings, 1 << 17), c.rope_theta)) {
  w = bind_dense_weights(cfg, params.data());
}

void DenseModel::enable_grad() {
  if (!grads.empty()) return;
  grads.assign(layout.total, 0.f);
  g = bind_dense_weights(cfg, grads.data());
}

void DenseModel::zero_grad() { std::fill(grads.begin(), grads.end(), 0.f); }

OutputHead DenseModel::head() const {
  return {w.norm, w.lm_head, cfg.hidden_size, cfg.vocab_size, float(cfg.rms_norm_eps)};
}

namespace {

void add_bias(float* y, const float* bias, int64_t N, int64_t O) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) y[n * O + o] += bias[o];
}
void bias_backward(float* dbias, const float* dy, int64_t N, int64_t O) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) dbias[o] += dy[n * O + o];
}
// GQA: kx[N,H,D] = kv[N, h / rep, D]   (HF repeat_kv)
void expand_kv(float* kx, const float* kv, int64_t N, int64_t H, int64_t Hkv, int64_t D) {
  const int64_t rep = H / Hkv;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      std::memcpy(kx + (n * H + h) * D, kv + (n * Hkv + h / rep) * D, sizeof(float) * D);
}
// dkv[N,Hkv,D] = Σ over the rep heads sharing it of dkx[N,H,D]   (overwrite)
void reduce_kv(float* dkv, const float* dkx, int64_t N, int64_t H, int64_t Hkv, int64_t D) {
  const int64_t rep = H / Hkv;
  std::fill(dkv, dkv + N * Hkv * D, 0.f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      float* dst = dkv + (n * Hkv + h / rep) * D;
      const float* src = dkx + (n * H + h) * D;
      for (int64_t i = 0; i < D; ++i) dst[i] += src[i];
    }
}
void zero(std::vector<float>& v) { std::fill(v.begin(), v.end(), 0.f); }

}  // namespace

DenseStats DenseModel::forward(const Batch& b, DenseActs& A) const {
  const DenseConfig& c = cfg;
  check(b.B == A.B && b.T == A.T, "dense forward: batch {}x{} does not match the activations planned for {}x{}", b.B,
        b.T, A.B, A.T);
  const int64_t B = b.B, T = b.T, N = B * T, d = c.hidden_size, V = c.vocab_size, F = c.intermediate_size;
  const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim;
  const int64_t qd = H * D, kvd = Hkv * D;
  const float eps = float(c.rms_norm_eps), scale = float(1.0 / std::sqrt(double(D)));
  check(T <= rope.max_pos, "dense forward: sequence length {} exceeds the RoPE table ({} positions)", T, rope.max_pos);
  for (int64_t n = 0; n < N; ++n) {
    check(b.ids[n] >= 0 && b.ids[n] < V, "token id {} at position {} is outside the vocabulary [0, {})", b.ids[n], n, V);
    if (b.targets) check(b.targets[n] < V, "target id {} at position {} is outside the vocabulary", b.targets[n], n);
  }
  embed_forward(A.layers[0].x_in.data(), w.embed, b.ids, N, d);   // x = embed_tokens[ids]
  for (int64_t L = 0; L < c.num_hidden_layers; ++L) {
    const DenseLayerWeights& lw = w.layers[L];
    DenseLayerActs& a = A.layers[L];
    // attention branch: x_mid = x_in + o_proj(attn(rope(q), rope(k), v))
    rmsnorm_forward(a.n1.data(), a.rstd1.data(), a.x_in.data(), lw.in_norm, N, d, eps, d);
    linear_forward(a.q.data(), a.n1.data(), lw.q, N, d, qd);
    linear_forward(a.k.data(), a.n1.data(), lw.k, N, d, kvd);
    linear_forward(a.v.data(), a.n1.data(), lw.v, N, d, kvd);
    if (c.qkv_bias) {
      add_bias(a.q.data(), lw.q_bias, N, qd);
      add_bias(a.k.data(), lw.k_bias, N, kvd);
      add_bias(a.v.data(), lw.v_bias, N, kvd);
    }
    rope_half_forward(a.q.data(), A.pos.data(), N, H, rope);
    rope_half_forward(a.k.data(), A.pos.data(), N, Hkv, rope);
    expand_kv(A.kx.data(), a.k.data(), N, H, Hkv, D);
    expand_kv(A.vx.data(), a.v.data(), N, H, Hkv, D);
    attention_forward(a.att.data(), a.P.data(), a.q.data(), A.kx.data(), A.vx.data(), b.seg, {B, T, H, D, D}, scale);
    linear_forward(a.x_mid.data(), a.att.data(), lw.o, N, qd, d);
    for (int64_t i = 0; i < N * d; ++i) a.x_mid[i] += a.x_in[i];
    // MLP branch: out = x_mid + down(silu(gate(n2)) ⊙ up(n2))
    rmsnorm_forward(a.n2.data(), a.rstd2.data(), a.x_mid.data(), lw.post_norm, N, d, eps, d);
    float* out = L + 1 < c.num_hidden_layers ? A.layers[L + 1].x_in.data() : A.x_final.data();
    swiglu_ffn_forward(lw.mlp, a.n2.data(), a.a.data(), a.b.data(), a.hact.data(), out, N, d, F, 0.f);
    for (int64_t i = 0; i < N * d; ++i) out[i] += a.x_mid[i];
  }
  DenseStats st;
  if (b.targets) st.token_logprobs.assign(size_t(N), 0.f);
  const OutputLoss out = output_forward(head(), {A.x_final.data(), A.nf.data(), A.rstdf.data(), A.logits.data(), N},
                                        b.targets, b.weights, b.targets ? st.token_logprobs.data() : nullptr);
  st.count = out.count;
  st.loss = out.ce;
  return st;
}

void DenseModel::backward(const Batch& b, DenseActs& A, const float* extra_dlogits) {
  check(b.targets != nullptr, "dense backward: the batch has no targets");
  backward_impl(b, A, nullptr, extra_dlogits);
}

void DenseModel::backward_from_logits(const Batch& b, DenseActs& A, const float* dlogits) {
  check(dlogits != nullptr, "backward_from_logits: dlogits is null");
  backward_impl(b, A, dlogits, nullptr);
}

void DenseModel::backward_impl(const Batch& b, DenseActs& A, const float* dlogits_given, const float* extra_dlogits) {
  const DenseConfig& c = cfg;
  check(!grads.empty(), "dense backward: call enable_grad() first");
  check(b.B == A.B && b.T == A.T, "dense backward: batch {}x{} does not match the activations", b.B, b.T);
  const int64_t B = b.B, T = b.T, N = B * T, d = c.hidden_size, V = c.vocab_size, F = c.intermediate_size;
  const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim;
  const int64_t qd = H * D, kvd = Hkv * D;
  const float scale = float(1.0 / std::sqrt(double(D)));
  // head: logits become their gradient in place (g.lm_head == g.embed when tied)
  const OutputActs out{A.x_final.data(), A.nf.data(), A.rstdf.data(), A.logits.data(), N};
  output_dlogits(out, V, b.targets, b.weights, 1.f, dlogits_given, extra_dlogits);
  zero(A.dx);
  output_backward(head(), out, g.norm, g.lm_head, A.dn.data(), A.dx.data());
  for (int64_t L = c.num_hidden_layers - 1; L >= 0; --L) {
    const DenseLayerWeights& lw = w.layers[L];
    DenseLayerWeights& lg = g.layers[L];
    DenseLayerActs& a = A.layers[L];
    // MLP branch (dx = d out)
    A.dmid = A.dx;   // residual
    zero(A.dn);
    swiglu_ffn_backward(lw.mlp, lg.mlp, a.n2.data(), a.a.data(), a.b.data(), a.hact.data(), A.dx.data(), A.dn.data(),
                        A.dh.data(), A.da.data(), A.db.data(), N, d, F);
    rmsnorm_backward(A.dmid.data(), lg.post_norm, A.dn.data(), a.x_mid.data(), lw.post_norm, a.rstd2.data(), N, d, d);
    // attention branch (dmid = d x_mid)
    A.dx = A.dmid;   // residual
    zero(A.datt);
    linear_backward_input(A.datt.data(), A.dmid.data(), lw.o, N, qd, d);
    linear_backward_weight(lg.o, A.dmid.data(), a.att.data(), N, qd, d);
    expand_kv(A.kx.data(), a.k.data(), N, H, Hkv, D);
    expand_kv(A.vx.data(), a.v.data(), N, H, Hkv, D);
    zero(A.dq);
    zero(A.dkx);
    zero(A.dvx);
    attention_backward(A.dq.data(), A.dkx.data(), A.dvx.data(), A.datt.data(), a.P.data(), a.q.data(), A.kx.data(),
                       A.vx.data(), {B, T, H, D, D}, scale);
    reduce_kv(A.dk.data(), A.dkx.data(), N, H, Hkv, D);
    reduce_kv(A.dv.data(), A.dvx.data(), N, H, Hkv, D);
    rope_half_backward(A.dq.data(), A.pos.data(), N, H, rope);
    rope_half_backward(A.dk.data(), A.pos.data(), N, Hkv, rope);
    if (c.qkv_bias) {
      bias_backward(lg.q_bias, A.dq.data(), N, qd);
      bias_backward(lg.k_bias, A.dk.data(), N, kvd);
      bias_backward(lg.v_bias, A.dv.data(), N, kvd);
    }
    zero(A.dn);
    linear_backward_input(A.dn.data(), A.dq.data(), lw.q, N, d, qd);
    linear_backward_input(A.dn.data(), A.dk.data(), lw.k, N, d, kvd);
    linear_backward_input(A.dn.data(), A.dv.data(), lw.v, N, d, kvd);
    linear_backward_weight(lg.q, A.dq.data(), a.n1.data(), N, d, qd);
    linear_backward_weight(lg.k, A.dk.data(), a.n1.data(), N, d, kvd);
    linear_backward_weight(lg.v, A.dv.data(), a.n1.data(), N, d, kvd);
    rmsnorm_backward(A.dx.data(), lg.in_norm, A.dn.data(), a.x_in.data(), lw.in_norm, a.rstd1.data(), N, d, d);
  }
  embed_backward(g.embed, A.dx.data(), b.ids, N, d);
}

// ---------------------------------------------------------------- HF load

std::unique_ptr<DenseModel> load_dense_model(const std::string& dir) {
  auto m = std::make_unique<DenseModel>(load_dense_config(dir));
  m->load_weights(dir);
  return m;
}

bool DenseModel::ignores_tensor(const std::string& n) const {
  return n.ends_with("rotary_emb.inv_freq") || (n == "lm_head.weight" && cfg.tie_word_embeddings);
}

// ---------------------------------------------------------------- LanguageModel

namespace {
DenseActs& dense_acts_of(Activations& a) {
  auto* d = dynamic_cast<DenseActs*>(&a);
  check(d != nullptr, "dense model: the activations were planned by another architecture");
  return *d;
}
int64_t token_id_field(const json& extra, const char* key) {
  const auto it = extra.find(key);
  return it != extra.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}
}  // namespace

int64_t DenseModel::bos_id() const { return token_id_field(cfg.extra, "bos_token_id"); }
int64_t DenseModel::eos_id() const { return token_id_field(cfg.extra, "eos_token_id"); }
json DenseModel::config_json() const { return dense_config_json(cfg); }
std::unique_ptr<Activations> DenseModel::plan(int64_t B, int64_t T, bool) const {
  return std::make_unique<DenseActs>(plan_dense_acts(cfg, B, T));
}
StepStats DenseModel::forward(const Batch& b, Activations& acts, const LossConfig&) const {
  DenseStats d = forward(b, dense_acts_of(acts));
  StepStats st;
  st.loss = st.ce = d.loss;
  st.ce_count = d.count;
  st.token_logprobs = std::move(d.token_logprobs);
  return st;
}
void DenseModel::backward(const Batch& b, Activations& acts, const LossConfig&, const float* extra_dlogits) {
  backward(b, dense_acts_of(acts), extra_dlogits);
}
void DenseModel::backward_from_logits(const Batch& b, Activations& acts, const float* dlogits) {
  backward_from_logits(b, dense_acts_of(acts), dlogits);
}
std::unique_ptr<LanguageModel> DenseModel::clone() const {
  auto m = std::make_unique<DenseModel>(cfg);
  m->params = params;
  return m;
}
}  // namespace nanoseek
