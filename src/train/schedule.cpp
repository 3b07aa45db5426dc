#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nanoseek {

LrKind parse_lr_kind(const std::string& s) {
  if (s == "cosine") return LrKind::Cosine;
  if (s == "wsd") return LrKind::Wsd;
  if (s == "constant") return LrKind::Constant;
  fail("train.schedule '{}' is not one of: cosine, wsd, constant", s);
}

const char* lr_kind_name(LrKind k) {
  switch (k) {
    case LrKind::Cosine: return "cosine";
    case LrKind::Wsd: return "wsd";
    case LrKind::Constant: return "constant";
  }
  return "?";
}

double LrSchedule::at(int64_t step) const {
  if (step < warmup) return lr * double(step + 1) / double(warmup);
  const int64_t T = std::max<int64_t>(total, warmup + 1);
  switch (kind) {
    case LrKind::Constant: return lr;
    case LrKind::Cosine: {
      const double x = std::min(1.0, double(step - warmup) / double(T - warmup));
      return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * x));
    }
    case LrKind::Wsd: {
      const int64_t decay_start = T - int64_t(std::llround(decay_frac * double(T)));
      if (step < decay_start) return lr;
      const double x = std::min(1.0, double(step - decay_start) / double(std::max<int64_t>(1, T - decay_start)));
      return lr + (min_lr - lr) * x;
    }
  }
  return lr;
}

}  // namespace nanoseek
