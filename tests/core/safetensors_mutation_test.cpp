// Randomized mutation test of the safetensors parser (seeded, deterministic): 20,000 mutants of a valid
// file — byte/bit flips, truncations, header-length edits, JSON field edits, inserted/deleted bytes, and
// combinations. Each must either parse into views that stay inside the file, or throw nanoseek::Error whose
// message names the file. Anything else (another exception type, a view out of bounds) fails the test;
// a crash fails the whole binary. Complements fuzz/fuzz_safetensors.cpp (coverage-guided, needs clang).
#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>
#include <random>

#include "core/fs.h"
#include "core/safetensors.h"
#include "io_test_util.h"

namespace nanoseek {
namespace {

using json = nlohmann::json;

std::string base_file() {
  testing::TempDir dir;
  std::vector<float> a(12, 1.5f);
  std::vector<uint16_t> b(7, 0x3f80);
  std::vector<uint8_t> c(130 * 2, 0x38);
  std::vector<float> s(2, 0.5f);
  std::vector<int64_t> d{1, 2, 3};
  std::vector<TensorWrite> ts{{"a", DType::F32, {3, 4}, a.data()},
                              {"b", DType::BF16, {7}, b.data()},
                              {"l.weight", DType::F8_E4M3, {130, 2}, c.data()},
                              {"l.weight_scale_inv", DType::F32, {2, 1}, s.data()},
                              {"e", DType::F32, {0}, nullptr},
                              {"d", DType::I64, {3}, d.data()}};
  write_safetensors(dir / "base.safetensors", ts, {{"format", "pt"}});
  return read_file(dir / "base.safetensors");
}

struct Mutator {
  std::mt19937_64 rng;
  explicit Mutator(uint64_t seed) : rng(seed) {}
  uint64_t below(uint64_t n) { return n ? rng() % n : 0; }
  bool coin() { return rng() & 1; }

  static uint64_t header_len(const std::string& f) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(f[i]);
    return n;
  }
  static void set_header_len(std::string& f, uint64_t n) {
    for (int i = 0; i < 8; ++i) f[i] = char(n >> (8 * i) & 0xff);
  }

  json interesting_number() {
    static const json pool[] = {0, 1, 2, 3, 4, 7, 8, 12, 128, 255, 256, -1, -8, 1.5, 1e30,
                                int64_t(1) << 31, int64_t(1) << 62, INT64_MAX, UINT64_MAX, "4", nullptr,
                                json::array(), json::object(), true};
    return pool[below(std::size(pool))];
  }

  // Rewrites one field of the parsed header, then re-serializes it (header length kept consistent or not).
  void edit_json(std::string& f) {
    try {
      edit_json_unchecked(f);
    } catch (const json::exception&) {   // an edit that does not fit the mutated JSON: leave f as is
    }
  }
  void edit_json_unchecked(std::string& f) {
    if (f.size() < 8) return;
    uint64_t n = header_len(f);
    if (n > f.size() - 8) return;
    json h = json::parse(f.substr(8, n), nullptr, false);
    if (h.is_discarded() || !h.is_object() || h.empty()) return;
    auto it = h.begin();
    std::advance(it, below(h.size()));
    json& e = it.value();
    const bool obj = e.is_object();
    switch (below(9)) {
      case 0: {
        static const json dtypes = {"F32", "BF16", "F8_E4M3", "I64", "BOOL", "U8", "F64", "XX", 3, nullptr};
        if (obj) e["dtype"] = dtypes[below(dtypes.size())];
        break;
      }
      case 1:
        if (obj && e["shape"].is_array() && !e["shape"].empty())
          e["shape"][below(e["shape"].size())] = interesting_number();
        break;
      case 2:
        if (obj && e["shape"].is_array()) {
          if (coin()) e["shape"].push_back(interesting_number());
          else if (!e["shape"].empty()) e["shape"].erase(e["shape"].size() - 1);
        }
        break;
      case 3:
        if (obj && e["data_offsets"].is_array() && e["data_offsets"].size() == 2) {
          json& o = e["data_offsets"][below(2)];
          if (coin() && o.is_number_unsigned()) o = o.get<uint64_t>() + (coin() ? 1 : -1);   // off by one
          else o = interesting_number();
        }
        break;
      case 4:
        if (obj) e.erase(std::string(std::array{"dtype", "shape", "data_offsets"}[below(3)]));
        break;
      case 5: e = interesting_number(); break;
      case 6:   // swap offsets with the first entry: overlaps and size mismatches
        if (obj) std::swap(e["data_offsets"], h.begin().value()["data_offsets"]);
        break;
      case 7: h["__metadata__"][coin() ? "format" : "k"] = interesting_number(); break;
      case 8: h[it.key() + (coin() ? "" : "x")] = e; break;   // a second tensor on the same bytes
    }
    std::string text = h.dump();
    if (below(4) == 0 && !h.empty()) {   // a duplicate key, which only text editing can produce
      std::string key = h.begin().key();
      text.insert(text.size() - 1, "," + json(key).dump() + ":" + h.begin().value().dump());
    }
    std::string out = f.substr(0, 8) + text + f.substr(8 + n);
    set_header_len(out, coin() ? text.size() : n);
    f = out;
  }

  void mutate_once(std::string& f) {
    if (f.empty()) return;
    uint64_t hl = f.size() >= 8 ? header_len(f) : 0;
    // Bias positions into the length field + header, where the parser's decisions live.
    auto pos = [&] {
      return (hl && hl < f.size() && below(4)) ? below(std::min<uint64_t>(8 + hl, f.size())) : below(f.size());
    };
    switch (below(7)) {
      case 0: f[pos()] = char(rng()); break;
      case 1: f[pos()] ^= char(1 << below(8)); break;
      case 2: f.resize(below(f.size() + 1)); break;
      case 3: if (f.size() >= 8) {
                static const int64_t deltas[] = {-8, -1, 1, 8};
                uint64_t choices[] = {0, 1, hl + deltas[below(4)], f.size() - 8, f.size(), uint64_t(1) << 40,
                                      100'000'001, rng()};
                set_header_len(f, choices[below(std::size(choices))]);
              } break;
      case 4: edit_json(f); break;
      case 5: f.insert(pos(), std::string(1 + below(4), char(rng()))); break;
      case 6: { uint64_t p = pos(); f.erase(p, 1 + below(4)); } break;
    }
  }
};

TEST(SafetensorsMutation, Seeded20000MutantsParseOrThrowErrorNeverCrash) {
  const std::string base = base_file();
  ASSERT_NO_THROW(SafetensorsFile::from_bytes(base, "mut"));
  Mutator m(0x5eed5afe);
  int parsed = 0, errors = 0;
  volatile uint64_t sink = 0;
  std::map<std::string, int> kinds;   // first words of the error after the label, to show coverage
  for (int i = 0; i < 20000; ++i) {
    std::string f = base;
    int rounds = 1 + int(m.below(3));
    for (int r = 0; r < rounds; ++r) m.mutate_once(f);
    try {
      auto st = SafetensorsFile::from_bytes(f, "mut");
      ++parsed;
      auto all = st->bytes();
      uint64_t sum = 0;
      for (const TensorView& t : st->tensors()) {
        ASSERT_EQ(t.nbytes, size_t(t.numel()) * dtype_size(t.dtype)) << "case " << i << " tensor " << t.name;
        ASSERT_TRUE(t.data >= all.data() && t.data + t.nbytes <= all.data() + all.size())
            << "case " << i << " tensor " << t.name << " outside the file";
        for (size_t k = 0; k < t.nbytes; ++k) sum += t.data[k];   // touch every byte (ASan/valgrind builds)
      }
      for (size_t k = 1; k < st->tensors().size(); ++k) {
        const auto &p = st->tensors()[k - 1], &q = st->tensors()[k];
        if (p.nbytes && q.nbytes) {
          ASSERT_LE(p.data + p.nbytes, q.data) << "case " << i << ": overlap";
        }
      }
      sink = sink + sum;
    } catch (const Error& e) {
      ++errors;
      std::string msg = e.what();
      ASSERT_EQ(msg.rfind("mut: ", 0), 0u) << "case " << i << ": message does not name the file: " << msg;
      auto rest = msg.substr(5);
      if (rest.rfind("tensor '", 0) == 0 && rest.find("': ") != std::string::npos)
        rest = rest.substr(rest.find("': ") + 3);
      rest = rest.substr(0, rest.find(", got"));
      kinds[rest.substr(0, rest.find_first_of("0123456789'[(\""))]++;
    } catch (const std::exception& e) {
      FAIL() << "case " << i << ": non-nanoseek exception " << typeid(e).name() << ": " << e.what();
    }
  }
  std::string summary;
  for (const auto& [k, n] : kinds) summary += "  " + std::to_string(n) + "  " + k + "\n";
  std::cout << "parsed " << parsed << ", errors " << errors << ", error kinds:\n" << summary;
  // The mutations must exercise both outcomes and many distinct checks, or the test proves little.
  EXPECT_GT(parsed, 500);
  EXPECT_GT(errors, 10000);
  EXPECT_GE(kinds.size(), 15u);
}

}  // namespace
}  // namespace nanoseek
