#include "rl/critic.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/safetensors.h"

namespace nanoseek {

Critic::Critic(const LanguageModel& policy, AdamWConfig opt, double lr, double clip)
    : m_(policy.clone()), opt_(*m_, opt), lr_(lr), clip_(clip) {
  std::fill(m_->head_weights(), m_->head_weights() + m_->hidden_size(), 0.f);  // value head row 0 = 0
  m_->enable_grad();
}

void Critic::plan(int64_t B, int64_t T) {
  if (!ws_ || ws_->B != B || ws_->T != T) ws_ = m_->plan(B, T, true);
}

void Critic::values(const Batch& b, std::span<const int64_t> pos, std::span<float> out) {
  plan(b.B, b.T);
  Batch x = b;
  x.targets = nullptr, x.weights = nullptr;
  m_->forward(x, *ws_, LossConfig{0.0, 0.0});
  const int64_t V = m_->vocab_size();
  for (size_t k = 0; k < pos.size(); ++k) out[k] = ws_->logits[size_t(pos[k] * V)];
}

ValueLossOut Critic::accumulate(const Batch& b, std::span<const int64_t> pos, std::span<const float> values_old,
                                std::span<const float> returns, double clip_eps, double scale) {
  plan(b.B, b.T);
  Batch x = b;
  x.targets = nullptr, x.weights = nullptr;
  m_->forward(x, *ws_, LossConfig{0.0, 0.0});
  const int64_t V = m_->vocab_size();
  std::vector<float> v(pos.size()), dv(pos.size());
  for (size_t k = 0; k < pos.size(); ++k) v[k] = ws_->logits[size_t(pos[k] * V)];
  const ValueLossOut out = value_loss(v, values_old, returns, clip_eps, dv);
  std::vector<float> dlogits(ws_->logits.size(), 0.f);
  for (size_t k = 0; k < pos.size(); ++k) dlogits[size_t(pos[k] * V)] = float(double(dv[k]) * scale);
  m_->backward_from_logits(x, *ws_, dlogits.data());
  return out;
}

void Critic::save(const std::string& path) const {
  const auto p = m_->param_buffer();
  const std::vector<int64_t> shape{int64_t(p.size())};
  const int64_t t = opt_.t;
  const TensorWrite w[] = {{"params", DType::F32, shape, p.data()},
                           {"exp_avg", DType::F32, shape, opt_.m.data()},
                           {"exp_avg_sq", DType::F32, shape, opt_.v.data()},
                           {"adam_t", DType::I64, {1}, &t}};
  write_safetensors(path, w);
}

void Critic::load(const std::string& path) {
  const Checkpoint ck = Checkpoint::open(path);
  const auto p = m_->param_buffer();
  const std::vector<int64_t> shape{int64_t(p.size())};
  ck.read_f32("params", shape, p.data());
  ck.read_f32("exp_avg", shape, opt_.m.data());
  ck.read_f32("exp_avg_sq", shape, opt_.v.data());
  const auto t = ck.read_i64("adam_t");
  check(t.size() == 1 && t[0] >= 0, "{}: adam_t must be one non-negative integer", path);
  opt_.t = t[0];
}

void Critic::step(int64_t accum) {
  if (accum > 1) scale_grads(opt_, m_->grad_buffer().data(), 1.f / float(accum));
  const double gn = grad_norm(opt_, m_->grad_buffer().data());
  if (clip_ > 0 && gn > clip_) scale_grads(opt_, m_->grad_buffer().data(), float(clip_ / gn));
  opt_.step(m_->param_buffer().data(), m_->grad_buffer().data(), lr_);
  m_->zero_grad();
}

size_t Critic::bytes() const { return m_->param_buffer().size() * sizeof(float) * 4; }

}  // namespace nanoseek
