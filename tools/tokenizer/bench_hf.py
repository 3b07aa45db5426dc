#!/usr/bin/env python3
"""HF `tokenizers` encode throughput on the same text and with the same protocol as bench/tokenizer_bench.cpp.

  python3 tools/tokenizer/make_corpus.py --bench-text /tmp/tok_bench_1mb.txt
  RAYON_NUM_THREADS=1 python3 tools/tokenizer/bench_hf.py --text /tmp/tok_bench_1mb.txt DIR...
  RAYON_NUM_THREADS=2 python3 tools/tokenizer/bench_hf.py --text /tmp/tok_bench_1mb.txt DIR...

Wall-clock MB/s is the figure to compare on a quiet machine; MB per CPU-second (process CPU time summed over
threads) is printed too because it stays meaningful when other jobs share the cores.
"whole" = encode(text) once (HF runs one input on one thread); "chunks" = encode_batch over the same ~4 KB
newline-aligned chunks (parallel over RAYON_NUM_THREADS threads). cold = first pass after loading; warm = best
of 3 further passes.
"""
import argparse, os, time
from tokenizers import Tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", required=True)
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    raw = open(a.text, "rb").read()
    text = raw.decode("utf-8")
    mb = len(raw) / 1e6
    # Chunk on bytes like the C++ bench so both see identical chunks.
    chunks, pos = [], 0
    while pos < len(raw):
        end = min(len(raw), pos + 4096)
        nl = raw.find(b"\n", end)
        end = len(raw) if nl == -1 else nl + 1
        chunks.append(raw[pos:end].decode("utf-8"))
        pos = end
    threads = os.environ.get("RAYON_NUM_THREADS", "(all)")
    print(f"text: {a.text}, {mb:.2f} MB, RAYON_NUM_THREADS={threads}")
    for d in a.dirs:
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        print(f"{d}: loaded in {time.perf_counter() - t0:.2f} s")
        out = []
        cold = timeit(lambda: out.append(len(tok.encode(text, add_special_tokens=False).ids)))
        warm = min((timeit(lambda: tok.encode(text, add_special_tokens=False)) for _ in range(3)), key=lambda t: t[0])
        print(f"  whole     x1: {out[0]} ids, {fmt(mb, cold, 'cold')}, {fmt(mb, warm, 'warm')}")
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        out = []
        cold = timeit(lambda: out.append(sum(len(e.ids) for e in tok.encode_batch(chunks, add_special_tokens=False))))
        warm = min((timeit(lambda: tok.encode_batch(chunks, add_special_tokens=False)) for _ in range(3)),
                   key=lambda t: t[0])
        print(f"  chunks    x{threads}: {len(chunks)} chunks, {out[0]} ids, {fmt(mb, cold, 'cold')}, {fmt(mb, warm, 'warm')}")


def timeit(f):
    """(wall seconds, process CPU seconds summed over threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t0, time.process_time() - c0


def fmt(mb, t, what):
    return f"{what} {mb / t[0]:.1f} MB/s wall ({mb / t[1]:.1f} MB/s per CPU-second)"


if __name__ == "__main__":
    main()
