#include "model/decode_core.h"

#include <fmt/format.h>

#include "core/error.h"

namespace nanoseek {

std::string CachePlan::describe() const {
  return fmt::format("KV cache {:.1f} MiB: {} slots x {} tokens x {} layers x {} values ({}, fp32)",
                     double(bytes) / (1 << 20), slots, max_len, layers, values_per_token, kind);
}

void DecodeCore::check_shape(int64_t slots, int64_t max_len, int64_t max_pos) {
  check(slots >= 1 && max_len >= 2, "engine: need at least 1 slot and 2 positions (got {} x {})", slots, max_len);
  check(max_len <= max_pos, "engine: max_len {} exceeds the model's position table ({})", max_len, max_pos);
}

void DecodeCore::check_inputs(const int32_t* tok, const int32_t* slot, const int32_t* pos, int64_t n) const {
  for (int64_t i = 0; i < n; ++i) {
    check(tok[i] >= 0 && tok[i] < vocab, "token id {} is outside the vocabulary [0, {})", tok[i], vocab);
    check(pos[i] >= 0 && pos[i] < plan.max_len, "position {} exceeds the engine's max_len {}", pos[i], plan.max_len);
    check(slot[i] >= 0 && slot[i] < plan.slots, "cache slot {} outside [0, {})", slot[i], plan.slots);
  }
}

}  // namespace nanoseek
