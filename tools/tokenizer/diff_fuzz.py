#!/usr/bin/env python3
"""Differential fuzz: random text through HF `tokenizers` and `nanoseek tokenize`, report every mismatch.

  python3 tools/tokenizer/diff_fuzz.py --nanoseek build/nanoseek --n 20000 --seed 1 \
      /work/shared/data/tokenizers/deepseek-v3 /work/shared/data/tokenizers/qwen3
"""
import argparse, json, random, subprocess, sys
from tokenizers import Tokenizer

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  \t\n\r\x0b\x0c",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "éèêëàâäôöûüçñÿÉÈÀÇŒœßſ", "\u0301\u0308\u0327\u0300\u20dd",
    "你好世界中文字符测试龍龘", "ひらがなカタカナーヴ", "한국어조선글", "العربيةمرحبا", "русскийЁё", "Ελληνικά",
    "😀👍🏽👩\u200d👩\u200d👧\u200d👦🇫🇷❤️\ufe0f", "\u00a0\u0085\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u180e\u200b\ufeff",
    "①②½¼²³٣४๕𝟘", "∑∫√∞≈≠≤≥±×÷", "'s'S't're'VE'm'll'd", "\u0000\u0001\u007f\u0080\u009f",
]


def random_text(rng, specials):
    parts = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.08 and specials:
            parts.append(rng.choice(specials))
        elif r < 0.15:
            parts.append(chr(rng.choice([rng.randint(0x20, 0xD7FF), rng.randint(0xE000, 0x10FFFF)])))
        else:
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def run(nanoseek, tok_dir, texts):
    inp = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    r = subprocess.run([nanoseek, "tokenize", "--tokenizer", tok_dir, "--jsonl", "-"], input=inp, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"nanoseek failed: {r.stderr.decode()}")
    return [json.loads(l) for l in r.stdout.decode().split("\n") if l]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--nanoseek", required=True)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    bad = 0
    for d in a.dirs:
        hf = Tokenizer.from_file(d + "/tokenizer.json")
        specials = [t.content for t in hf.get_added_tokens_decoder().values()]
        rng = random.Random(a.seed)
        texts = [random_text(rng, specials) for _ in range(a.n)]
        ours = run(a.nanoseek, d, texts)
        for t, o in zip(texts, ours):
            ids = hf.encode(t, add_special_tokens=False).ids
            dec = hf.decode(ids, skip_special_tokens=False)
            if ids != o["ids"] or dec != o["decoded"]:
                bad += 1
                if bad <= 10:
                    print(f"MISMATCH {d}: {t!r}\n  hf {ids}\n  us {o['ids']}\n  hf {dec!r}\n  us {o['decoded']!r}")
        print(f"{d}: {a.n} random texts, {bad} mismatches so far")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
