// libFuzzer target for the safetensors parser (untrusted input). Built only with
//   cmake -S . -B build-fuzz -DNANOSEEK_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DNANOSEEK_TESTS=OFF \
//         -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined     # instrument the library too
//   cmake --build build-fuzz --target fuzz_safetensors
//   build-fuzz/fuzz_safetensors -max_total_time=120 -max_len=4096 fuzz-corpus/ tests/golden/io/sharded/
// Every input must either parse or throw nanoseek::Error; after a successful parse every tensor's bytes are
// read (so ASan catches a view that leaves the buffer) and a Checkpoint-style decode runs on each tensor.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanoseek;
  try {
    auto f = SafetensorsFile::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    uint64_t sum = 0;
    for (const TensorView& t : f->tensors()) {
      for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
      if (t.numel() <= (1 << 16)) {   // decode small tensors as read_f32 would
        std::vector<float> out(size_t(t.numel()));
        convert_to_f32(t.dtype, t.data, out.data(), out.size());
      }
      if (f->find(t.name) != &t) __builtin_trap();   // index and tensors() must agree
    }
    for (const auto& [k, v] : f->metadata()) sum += k.size() + v.size();
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const Error&) {
  }
  return 0;
}
