// Tokenizer encode throughput (MB/s) on one text, for each tokenizer directory given. Plain main(), no
// benchmark library. Compare with tools/tokenizer/bench_hf.py on the same text (docs/tokenizer.md).
//
//   python3 tools/tokenizer/make_corpus.py --bench-text /tmp/tok_bench_1mb.txt
//   build/tokenizer_bench --text /tmp/tok_bench_1mb.txt ../shared/data/tokenizers/deepseek-v3 ../shared/data/tokenizers/qwen3
//
// Rows: "whole" = one encode() call on the full text; "chunks xT" = the text cut at newlines into ~4 KB
// chunks, encoded by T threads (encode is thread-safe). "cold" = first pass on a freshly loaded tokenizer
// (empty word cache); "warm" = best of 3 further passes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "tokenizer/tokenizer.h"

using namespace nanoseek;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_seconds() {  // process CPU time, summed over threads
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Wall and CPU seconds of one call of f.
struct Timing {
  double wall, cpu;
};
template <class F>
Timing timed(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_seconds();
  f();
  return {seconds_since(t0), cpu_seconds() - c0};
}

std::string fmt_rate(double mb, Timing t, const char* what) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s %.1f MB/s wall (%.1f MB/s per CPU-second)", what, mb / t.wall, mb / t.cpu);
  return buf;
}

std::vector<std::string> chunks_of(const std::string& text, size_t target) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + target);
    size_t nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl + 1;
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// Encodes all chunks with `threads` threads; returns the total id count.
size_t run_chunks(const Tokenizer& tok, const std::vector<std::string>& chunks, int threads) {
  std::atomic<size_t> next{0}, ids{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      size_t local = 0;
      for (size_t i; (i = next.fetch_add(1)) < chunks.size();) local += tok.encode(chunks[i]).size();
      ids += local;
    });
  for (auto& th : pool) th.join();
  return ids;
}

void bench_dir(const std::string& dir, const std::string& text) {
  const double mb = text.size() / 1e6;
  auto chunks = chunks_of(text, 4096);
  auto t0 = std::chrono::steady_clock::now();
  Tokenizer tok = Tokenizer::load(dir);
  std::printf("%s: loaded in %.2f s, vocab %d\n", dir.c_str(), seconds_since(t0), tok.vocab_size());

  auto best = [](Timing a, Timing b) { return a.wall <= b.wall ? a : b; };
  size_t n = 0;
  Timing cold = timed([&] { n = tok.encode(text).size(); }), warm{1e9, 1e9};
  for (int r = 0; r < 3; ++r) warm = best(warm, timed([&] { tok.encode(text); }));
  std::printf("  whole     x1: %zu ids, %s, %s\n", n, fmt_rate(mb, cold, "cold").c_str(),
              fmt_rate(mb, warm, "warm").c_str());

  for (int threads : {1, 2}) {
    Tokenizer fresh = Tokenizer::load(dir);  // empty cache for the cold pass
    size_t ids = 0;
    Timing c = timed([&] { ids = run_chunks(fresh, chunks, threads); }), w{1e9, 1e9};
    for (int r = 0; r < 3; ++r) w = best(w, timed([&] { run_chunks(fresh, chunks, threads); }));
    std::printf("  chunks    x%d: %zu chunks, %zu ids, %s, %s\n", threads, chunks.size(), ids,
                fmt_rate(mb, c, "cold").c_str(), fmt_rate(mb, w, "warm").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string text_path;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--text" && i + 1 < argc) text_path = argv[++i];
    else dirs.push_back(a);
  }
  if (text_path.empty() || dirs.empty()) {
    std::fprintf(stderr, "usage: tokenizer_bench --text FILE TOKENIZER_DIR...\n");
    return 1;
  }
  try {
    std::string text = read_file(text_path);
    std::printf("text: %s, %.2f MB\n", text_path.c_str(), text.size() / 1e6);
    for (auto& d : dirs) bench_dir(d, text);
  } catch (const Error& e) {
    std::fprintf(stderr, "tokenizer_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
