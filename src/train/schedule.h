// Learning-rate schedules (step counts are optimizer steps, 0-based):
//   cosine: linear warmup 0 → lr over `warmup` steps, then cosine from lr to min_lr at `total`.
//   wsd:    warmup, stable at lr, then the last `decay_frac` of the steps decay linearly to min_lr
//           (warmup-stable-decay; DeepSeek-V3 §4.2 holds the LR constant for most of training, then decays).
//   constant: warmup, then lr.
#pragma once
#include <cstdint>
#include <string>

namespace nanoseek {

enum class LrKind { Cosine, Wsd, Constant };
LrKind parse_lr_kind(const std::string& s);  // "cosine" | "wsd" | "constant"
const char* lr_kind_name(LrKind k);

struct LrSchedule {
  LrKind kind = LrKind::Cosine;
  double lr = 1e-3, min_lr = 1e-4;
  int64_t warmup = 0, total = 1;
  double decay_frac = 0.2;
  double at(int64_t step) const;
};

}  // namespace nanoseek
