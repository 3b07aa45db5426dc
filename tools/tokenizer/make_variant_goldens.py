#!/usr/bin/env python3
"""Goldens for tokenizer.json options the two real files do not use, so every supported branch is checked
against HF: Split behaviours (Removed, MergedWithPrevious, MergedWithNext, Contiguous, invert, String
patterns), ByteLevel with add_prefix_space + use_regex, NFKC normalizer with normalized added tokens,
lstrip / rstrip / single_word added tokens, ignore_merges, byte_fallback and unk_token.

Each variant starts from tests/golden/tokenizer/trained/tokenizer.json; tests/golden/tokenizer/variants.jsonl
holds one line per variant: the overrides (top-level keys replaced, model keys updated, vocab entries removed
or added) and HF's ids + decoded text for the corpus and seeded random strings.

  python3 tools/tokenizer/make_variant_goldens.py --out tests/golden/tokenizer
"""
import argparse, copy, json, os, random, sys, tempfile
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_fuzz import random_text  # noqa: E402

BL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
QWEN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"


def seq(*steps):
    return {"type": "Sequence", "pretokenizers": list(steps)}


def split(pattern, behavior, invert=False, string=False):
    return {"type": "Split", "pattern": {"String" if string else "Regex": pattern}, "behavior": behavior,
            "invert": invert}


def added(i, content, special=False, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {"id": i, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def variants(base):
    specials = base["added_tokens"]
    n = max(base["model"]["vocab"].values()) + 1
    return {
        "gpt2_prefix_space": {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                                "use_regex": True}},
        "split_removed_invert": {"pre_tokenizer": seq(split("\\s+", "Removed"), split("\\p{N}+", "Isolated", True), BL)},
        "split_merged_previous": {"pre_tokenizer": seq(split("[.,!?;]", "MergedWithPrevious"), split(QWEN, "Isolated"), BL)},
        "split_merged_next": {"pre_tokenizer": seq(split(" ", "MergedWithNext", string=True), BL)},
        "split_contiguous": {"pre_tokenizer": seq(split("\\p{P}", "Contiguous"), split(QWEN, "Isolated"), BL)},
        "nfkc_added_flags": {
            "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}]},
            "added_tokens": specials + [
                added(n, "ﬁx", normalized=True),             # NFKC turns it into "fix"
                added(n + 1, "<mask>", lstrip=True, rstrip=True),
                added(n + 2, "ony", single_word=True),
                added(n + 3, "[SEP]", special=True, rstrip=True),
            ]},
        "ignore_merges": {"model": {"ignore_merges": True}},
        "byte_fallback": {"model": {"byte_fallback": True}, "remove_vocab": ["ÿ"],
                          "add_vocab": {"<0xC3>": n, "<0xBF>": n + 1}},
        "unk_fused": {"model": {"unk_token": "<pad>", "fuse_unk": True}, "remove_vocab": ["ÿ", "þ"]},
    }


def apply(base, v):
    j = copy.deepcopy(base)
    for k, val in v.items():
        if k == "model":
            j["model"].update(val)
        elif k == "remove_vocab":
            for t in val:
                del j["model"]["vocab"][t]
        elif k == "add_vocab":
            j["model"]["vocab"].update(val)
        else:
            j[k] = val
    return j


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    base = json.load(open(os.path.join(a.out, "trained", "tokenizer.json")))
    with open(os.path.join(a.out, "corpus.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(l)["text"] for l in f.read().split("\n") if l]
    extra = ["x <mask> y<mask>z  <mask>\t", "ﬁx fix FIX ﬁ", "phony ony tony ony. ony", "a[SEP]  b [SEP]",
             "ÿþ ÿÿ þÿ", "1,000.5! yes?? no;; end.", "   lead", "trail   "]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, v in variants(base).items():
            j = apply(base, v)
            path = os.path.join(d, "tokenizer.json")
            json.dump(j, open(path, "w"))
            tok = Tokenizer.from_file(path)
            rng = random.Random(name)
            texts = corpus[::2] + extra + [random_text(rng, ["<mask>", "[SEP]", "ﬁx", "<think>"]) for _ in range(25)]
            cases = []
            for t in texts:
                ids = tok.encode(t, add_special_tokens=False).ids
                cases.append({"text": t, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
            rows.append({"name": name, "overrides": v, "cases": cases})
            print(f"{name}: {len(cases)} cases")
    with open(os.path.join(a.out, "variants.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
