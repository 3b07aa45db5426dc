#!/usr/bin/env python3
"""Tokenizer goldens from Hugging Face `tokenizers` (the reference implementation).

For each real tokenizer (deepseek-v3, qwen3) writes tests/golden/tokenizer/<name>.jsonl: one line per corpus
string with the ids of encode(text, add_special_tokens=False) and decode(ids) with special tokens kept and
skipped; and <name>_stress.json: id count and FNV-1a-64 hash of the ids of stress.txt (~200 KB), so the C++
test compares exactly without committing 60K ids.

  python3 tools/tokenizer/make_corpus.py --out tests/golden/tokenizer
  python3 tools/tokenizer/make_goldens.py --tokenizers /work/shared/data/tokenizers --out tests/golden/tokenizer \
      --nanoseek build/nanoseek

With --nanoseek it also proves the BPE trainer: `nanoseek tokenizer train` on train_corpus.txt (vocab 1024) writes
trained/, HF loads it and encodes train_heldout.txt lines plus the corpus; those HF ids go to
trained_heldout.jsonl, and the script fails unless `nanoseek tokenize` gives the same ids and decoded text.
"""
import argparse, json, os, struct, subprocess
import tokenizers
from tokenizers import Tokenizer

NAMES = ["deepseek-v3", "qwen3"]


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for b in b"".join(struct.pack("<I", i) for i in ids):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizers", required=True, help="folder holding deepseek-v3/ and qwen3/")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nanoseek", help="path of the nanoseek binary (enables the trainer golden)")
    a = ap.parse_args()
    with open(os.path.join(a.out, "corpus.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(l)["text"] for l in f.read().split("\n") if l]
    with open(os.path.join(a.out, "stress.txt"), encoding="utf-8", newline="") as f:
        stress = f.read()
    for name in NAMES:
        tok = Tokenizer.from_file(os.path.join(a.tokenizers, name, "tokenizer.json"))
        path = os.path.join(a.out, f"{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for t in texts:
                ids = tok.encode(t, add_special_tokens=False).ids
                f.write(json.dumps({"text": t, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                                    "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)},
                                   ensure_ascii=False) + "\n")
        ids = tok.encode(stress, add_special_tokens=False).ids
        assert tok.decode(ids, skip_special_tokens=False) == stress or name == "qwen3"
        with open(os.path.join(a.out, f"{name}_stress.json"), "w") as f:
            json.dump({"tokenizers_version": tokenizers.__version__, "bytes": len(stress.encode()),
                       "n_ids": len(ids), "fnv1a64_ids_le32": fnv1a64(ids), "first_ids": ids[:32],
                       "decoded_equals_text": tok.decode(ids, skip_special_tokens=False) == stress}, f, indent=1)
        print(f"{name}: {len(texts)} strings -> {path}; stress {len(ids)} ids")
    if a.nanoseek:
        trainer_golden(a.nanoseek, a.out)


def trainer_golden(nanoseek, out):
    tdir = os.path.join(out, "trained")
    subprocess.run([nanoseek, "tokenizer", "train", "--corpus", os.path.join(out, "train_corpus.txt"),
                    "--vocab-size", "1024", "--out", tdir], check=True)
    tok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    with open(os.path.join(out, "train_heldout.txt"), encoding="utf-8", newline="") as f:
        texts = f.read().split("\n")
    with open(os.path.join(out, "corpus.jsonl"), encoding="utf-8") as f:
        texts += [json.loads(l)["text"] for l in f.read().split("\n") if l]
    inp = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    ours = subprocess.run([nanoseek, "tokenize", "--tokenizer", tdir, "--jsonl", "-"], input=inp,
                          capture_output=True, check=True).stdout.decode().split("\n")
    rows, bad = [], 0
    for t, o in zip(texts, ours):
        ids = tok.encode(t, add_special_tokens=False).ids
        dec = tok.decode(ids, skip_special_tokens=False)
        o = json.loads(o)
        if o["ids"] != ids or o["decoded"] != dec:
            bad += 1
            print(f"MISMATCH {t!r}\n  hf {ids}\n  us {o['ids']}")
        rows.append({"text": t, "ids": ids, "decoded": dec})
    with open(os.path.join(out, "trained_heldout.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"trainer: HF vocab {tok.get_vocab_size()}, {len(rows)} held-out strings, {bad} mismatches with nanoseek")
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
