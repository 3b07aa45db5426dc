#include "model/checkpoint.h"

#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "core/safetensors.h"

namespace nanoseek {

void init_weights(Model& m, uint64_t seed) {
  const TensorLayout& t = m.layout;
  const float std_ = float(m.cfg.initializer_range);
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < t.specs.size(); ++i) {
    float* p = m.params.data() + t.offsets[i];
    const int64_t n = t.specs[i].numel();
    switch (t.specs[i].init) {
      case Init::Ones:
        for (int64_t j = 0; j < n; ++j) p[j] = 1.f;
        break;
      case Init::Zeros:
        for (int64_t j = 0; j < n; ++j) p[j] = 0.f;
        break;
      case Init::Normal: {
        Rng r = Rng::derive(seed, i);
        for (int64_t j = 0; j < n; ++j) p[j] = float(r.normal()) * std_;
        break;
      }
    }
  }
}

void load_weights(Model& m, const std::string& path_or_dir) {
  Checkpoint ck = Checkpoint::open(path_or_dir);
  std::set<std::string> expected;
  const TensorLayout& t = m.layout;
  for (size_t i = 0; i < t.specs.size(); ++i) {
    const TensorSpec& s = t.specs[i];
    check(ck.has(s.name), "{}: tensor '{}' {} is missing (the config expects it)", ck.label(), s.name,
          shape_str(s.shape));
    ck.read_f32(s.name, s.shape, m.params.data() + t.offsets[i]);
    expected.insert(s.name);
    expected.insert(s.name + "_scale_inv");
  }
  for (const std::string& n : mtp_duplicate_names(m.cfg)) expected.insert(n), expected.insert(n + "_scale_inv");
  std::vector<std::string> extra;
  for (const std::string& n : ck.names())
    if (!expected.count(n)) extra.push_back(n);
  if (!extra.empty()) {
    std::string list;
    for (size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
    fail("{}: {} tensor(s) not described by the config (e.g. {}): wrong config.json for these weights?", ck.label(),
         extra.size(), list);
  }
}

std::unique_ptr<Model> load_model(const std::string& dir) {
  auto m = std::make_unique<Model>(load_config(dir));
  load_weights(*m, dir);
  return m;
}

void save_model(const Model& m, const std::string& dir, DType dtype, size_t max_shard_bytes) {
  check(dtype == DType::F32 || dtype == DType::BF16, "save_model: dtype {} is not supported (F32, BF16)",
        dtype_name(dtype));
  make_dirs(dir);
  const TensorLayout& t = m.layout;
  std::vector<TensorWrite> out;
  std::vector<std::vector<uint16_t>> bf16;  // storage for converted tensors
  auto add = [&](const std::string& name, const std::vector<int64_t>& shape, const float* p) {
    if (dtype == DType::F32) {
      out.push_back({name, DType::F32, shape, p});
      return;
    }
    int64_t n = 1;
    for (auto s : shape) n *= s;
    bf16.emplace_back(size_t(n));
    for (int64_t j = 0; j < n; ++j) bf16.back()[j] = f32_to_bf16(p[j]);
    out.push_back({name, DType::BF16, shape, bf16.back().data()});
  };
  bf16.reserve(t.specs.size() + 2 * m.cfg.num_nextn_predict_layers);
  for (size_t i = 0; i < t.specs.size(); ++i) {
    const TensorSpec& s = t.specs[i];
    // The router correction bias stays fp32, as in the released checkpoints.
    if (s.role == Role::RouterBias) out.push_back({s.name, DType::F32, s.shape, m.params.data() + t.offsets[i]});
    else add(s.name, s.shape, m.params.data() + t.offsets[i]);
  }
  const auto dups = mtp_duplicate_names(m.cfg);
  const std::vector<int64_t> vd = {m.cfg.vocab_size, m.cfg.hidden_size};
  for (size_t i = 0; i < dups.size(); i += 2) {
    add(dups[i], vd, m.w.embed);
    add(dups[i + 1], vd, m.w.lm_head);
  }
  write_checkpoint(dir, out, max_shard_bytes);
  save_config(m.cfg, dir + "/config.json");
}

void Model::init(uint64_t seed) { init_weights(*this, seed); }
void Model::save(const std::string& dir, DType dtype, size_t max_shard_bytes) const {
  save_model(*this, dir, dtype, max_shard_bytes);
}
void Model::load_weights(const std::string& dir) { nanoseek::load_weights(*this, dir); }
nlohmann::json Model::config_json() const { return config_to_json(cfg); }

}  // namespace nanoseek
