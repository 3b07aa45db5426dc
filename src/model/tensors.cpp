#include "model/tensors.h"

#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "core/safetensors.h"

namespace nanoseek {

namespace {
// Every tensor starts on a 64-byte boundary of the flat buffer (16 floats).
size_t padded(int64_t numel) { return (size_t(numel) + 15) / 16 * 16; }
}  // namespace

void TensorLayout::add(const TensorSpec& s) {
  specs.push_back(s);
  offsets.push_back(total);
  total += padded(s.numel());
  params += size_t(s.numel());
}

TensorLayout layout_of(const std::function<void(const TensorVisitor&)>& walk) {
  TensorLayout t;
  walk([&](const TensorSpec& s, float*&) { t.add(s); });
  return t;
}

void bind_slots(const std::function<void(const TensorVisitor&)>& walk, float* base) {
  size_t off = 0;
  walk([&](const TensorSpec& s, float*& slot) {
    slot = base + off;
    off += padded(s.numel());
  });
}

void init_tensors(const TensorLayout& t, float* params, uint64_t seed, double std) {
  const float sd = float(std);
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < t.specs.size(); ++i) {
    float* p = params + t.offsets[i];
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
        for (int64_t j = 0; j < n; ++j) p[j] = float(r.normal()) * sd;
        break;
      }
    }
  }
}

bool decays(const TensorSpec& s) { return s.role != Role::Norm && s.role != Role::Bias && s.shape.size() >= 2; }

std::vector<ParamSpan> trainable_spans(const TensorLayout& layout) {
  std::vector<ParamSpan> spans;
  std::set<size_t> seen;  // a tied lm_head shares embed's offset
  for (size_t i = 0; i < layout.specs.size(); ++i) {
    const auto& s = layout.specs[i];
    if (!s.trainable || !seen.insert(layout.offsets[i]).second) continue;
    spans.push_back({layout.offsets[i], size_t(s.numel()), decays(s)});
  }
  return spans;
}

void load_tensors(const std::string& dir, const TensorLayout& t, float* params,
                  const std::vector<std::string>& aliases, const std::function<bool(const std::string&)>& ignore) {
  const Checkpoint ck = Checkpoint::open(dir);
  std::set<std::string> expected;
  for (size_t i = 0; i < t.specs.size(); ++i) {
    const TensorSpec& s = t.specs[i];
    check(ck.has(s.name), "{}: tensor '{}' {} is missing (the config expects it)", ck.label(), s.name,
          shape_str(s.shape));
    ck.read_f32(s.name, s.shape, params + t.offsets[i]);
    expected.insert(s.name);
    expected.insert(s.name + "_scale_inv");
  }
  for (const std::string& n : aliases) expected.insert(n), expected.insert(n + "_scale_inv");
  std::vector<std::string> extra;
  for (const std::string& n : ck.names())
    if (!expected.count(n) && !(ignore && ignore(n))) extra.push_back(n);
  if (!extra.empty()) {
    std::string list;
    for (size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
    fail("{}: {} tensor(s) not described by the config (e.g. {}): wrong config.json for these weights?", ck.label(),
         extra.size(), list);
  }
}

void save_tensors(const std::string& dir, const TensorLayout& t, const float* params,
                  const std::vector<TensorAlias>& aliases, nlohmann::json config, DType dtype,
                  size_t max_shard_bytes) {
  check(dtype == DType::F32 || dtype == DType::BF16, "save: dtype {} is not supported (F32 or BF16)",
        dtype_name(dtype));
  make_dirs(dir);
  std::vector<TensorWrite> out;
  std::vector<std::vector<uint16_t>> bf16(t.specs.size() + aliases.size());  // storage of converted tensors
  auto add = [&](size_t slot, const std::string& name, const std::vector<int64_t>& shape, const float* p,
                 bool keep_f32) {
    if (dtype == DType::F32 || keep_f32) {
      out.push_back({name, DType::F32, shape, p});
      return;
    }
    int64_t n = 1;
    for (auto s : shape) n *= s;
    std::vector<uint16_t>& b = bf16[slot];
    b.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) b[size_t(j)] = f32_to_bf16(p[j]);
    out.push_back({name, DType::BF16, shape, b.data()});
  };
  for (size_t i = 0; i < t.specs.size(); ++i)
    add(i, t.specs[i].name, t.specs[i].shape, params + t.offsets[i], !t.specs[i].trainable);
  for (size_t i = 0; i < aliases.size(); ++i)
    add(t.specs.size() + i, aliases[i].name, aliases[i].shape, aliases[i].data, false);
  write_checkpoint(dir, out, max_shard_bytes);
  config["torch_dtype"] = dtype == DType::BF16 ? "bfloat16" : "float32";
  write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
}

}  // namespace nanoseek
