#!/usr/bin/env python3
"""Writes tests/golden/tokenizer/corpus.jsonl (hand-picked strings), stress.txt (~200 KB of seeded
mixed-script text) and train_corpus.txt / train_heldout.txt (synthetic text for the BPE trainer test). Deterministic: re-running gives identical files.

  python3 tools/tokenizer/make_corpus.py --out tests/golden/tokenizer
"""
import argparse, json, os, random

CORPUS = [
    # English prose
    "The quick brown fox jumps over the lazy dog.",
    "It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "I'm sure they'll say we've done it; you'd think he's right. DON'T SHOUT, I'LL HEAR YOU'RE HERE.",
    "Mr. O'Neil paid $1,234.56 (incl. 7.5% tax) on 2024-03-17 at 10:45pm — receipt #A-9931.",
    "  leading spaces and trailing spaces   ",
    "Hello\n\nworld\n\n\n\nend",
    # code
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (auto& [k, v] : map) { if (v >= 0x7fffffff) throw std::runtime_error(\"overflow\"); }",
    "const f = async (x) => { await fetch(`/api/${x}?q=1&r=2`); return x ?? null; };",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%smith%' ORDER BY id DESC;",
    "<html><body><div class=\"x\">a &amp; b</div></body></html>",
    "    indented\n\t\ttabbed\n  \t mixed\t \n",
    # digits
    "1234567890123456789012345678901234567890",
    "3.14159265358979323846 2.718281828 0.000001 1e-10 6.022e23 -42 +7",
    "12+34=46, 999*999=998001, 2^64=18446744073709551616",
    "Phone: +1 (555) 010-9999; IBAN DE89 3704 0044 0532 0130 00",
    "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ①②③ ½ ¼ ² ³ 𝟘𝟙𝟚",
    # CJK, kana, Korean
    "我们在北京的一家小餐馆里吃了晚饭，然后去看了一场电影。",
    "深度求索（DeepSeek）发布了新的推理模型R1，数学成绩很好：AIME 79.8%。",
    "東京都は日本の首都です。ひらがなとカタカナとカンジ。ヴァイオリン、ー、ゞ",
    "대한민국의 수도는 서울입니다. 한국어 형태소 분석은 어렵다!",
    "中文English混合mixed文本text123数字",
    # Arabic, Cyrillic, Greek, Hebrew, Hindi, Thai
    "مرحبا بالعالم! اللغة العربية جميلة جداً.",
    "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Γειά σου Κόσμε· ΑΒΓΔ αβγδ ς",
    "שלום עולם, זה טקסט בעברית.",
    "नमस्ते दुनिया, यह हिंदी पाठ है।",
    "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่าง",
    # emoji
    "I love 🍕 and 🍣! 😀😃😄😁",
    "Family: 👩‍👩‍👧‍👦 couple: 👩‍❤️‍💋‍👨 flag: 🇯🇵🇫🇷 🏴‍☠️",
    "Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 🧑🏽‍💻",
    "Keycaps 1️⃣ #️⃣ and variation ❤︎ vs ❤️",
    # combining accents: NFC vs NFD
    "café naïve résumé Åström",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030astro\u0308m",
    "e\u0301\u0301 a\u0323\u0302 \u1e69 s\u0323\u0307 \u212b \u2126 \ufb01",
    "\u0301 lone combining mark at start",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ｶﾀｶﾅ",
    # characters assigned in Unicode 15-16 (CJK Ext H/I, Egyptian Ext-A, Kawi digits): PCRE2 10.42 lacks them
    "new CJK \U00031350\U00031351 ext-I \U0002EBF0 hieroglyph \U00013460 kawi \U00011F50\U00011F51 x\U0001E4D0y",
    # whitespace
    "a  b   c    d     e",
    "tabs\there\t\tand\t\t\tmore",
    "line1\r\nline2\r\n\r\nline3\r",
    "\n",
    " ",
    "\t",
    "   \n   \n",
    "nbsp\u00a0here, thin\u2009space, ideographic\u3000space, nel\u0085end, ls\u2028ps\u2029.",
    "zero\u200bwidth\u200cjoiner\u200dand\ufeffbom",
    "\x00\x01\x7f control \x1b[31mred\x1b[0m",
    # special tokens inline (both families; each is special in one of the files)
    "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n2+2=4\n</think>\n\n4<｜end▁of▁sentence｜>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|><|endoftext|>text<|im_end|>",
    "<think>reasoning</think><answer>42</answer>",
    "almost special: <|im_start| <｜User <think >",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    "x<|im_end|>y<｜end▁of▁sentence｜>z",
    # empty and tiny
    "",
    "a",
    "A",
    "'",
    "'s",
    "''''",
    "...",
    # assorted punctuation and symbols
    "!!!??? ... --- ___ === +++ *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
    "∀x∈ℝ: x²≥0 ⇒ √(x²)=|x|; ∑ᵢ aᵢ ≤ ∫ f(x) dx ± ε",
    "“Smart quotes” and ‘single’ — em dash – en dash … ellipsis «guillemets»",
    "URL: https://example.com/path?query=1&x=%20y#frag email: a.b+c@d-e.org",
    "LaTeX: \\frac{a}{b} + \\sqrt{x^2 + y^2} = \\boxed{42}",
    "The answer is \\boxed{3\\sqrt{2}}.",
    # long words and runs
    "Supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "                                                                                ",
    "________________________________________________________________________________",
    "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
    "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
]

SCRIPTS = [
    "the of and to in is was for on that with as by at from it this be are",
    "函数 变量 数据 模型 训练 推理 注意力 专家 路由 缓存",
    "ひらがな カタカナ です ます した 東京 大阪",
    "한국어 서울 부산 데이터 모델",
    "مرحبا عالم بيانات نموذج",
    "привет мир данные модель обучение",
    "αβγ δεζ ηθι",
    "😀 👍🏽 👩‍👩‍👧 🇫🇷 ❤️",
    "x = y + 1; if (a < b) { return c; }",
    "café naïve e\u0301 a\u0308",
]


def stress_text(seed=1234, target=200_000):
    rng = random.Random(seed)
    words = [w for s in SCRIPTS for w in s.split(" ")]
    out, size = [], 0
    while size < target:
        r = rng.random()
        if r < 0.70:
            piece = rng.choice(words)
        elif r < 0.80:
            piece = str(rng.randint(0, 10 ** rng.randint(1, 12)))
        elif r < 0.88:
            piece = rng.choice([" ", "  ", "\n", "\t", "\r\n", "\n\n", "   "])
        elif r < 0.95:
            piece = rng.choice(",.;:!?()[]{}\"'-—")
        else:
            piece = chr(rng.choice([rng.randint(0x21, 0x2FF), rng.randint(0x370, 0x52F), rng.randint(0x4E00, 0x9FA5),
                                    rng.randint(0xAC00, 0xD7A3), rng.randint(0x1F300, 0x1F64F)]))
        out.append(piece + (" " if rng.random() < 0.6 else ""))
        size += len(out[-1].encode())
    return "".join(out)


SUBJECTS = ["the model", "a student", "the teacher", "our router", "each expert", "the cache", "this proof",
            "the reward", "a small network", "the optimizer"]
VERBS = ["computes", "checks", "predicts", "stores", "learns", "routes", "verifies", "samples", "updates", "reads"]
OBJECTS = ["the next token", "every gradient", "a long answer", "the attention weights", "two numbers",
           "the final result", "a short sentence", "its own mistakes", "the key and value", "all experts"]
ADVERBS = ["quickly", "carefully", "again", "in parallel", "step by step", "without error", "once more", "slowly"]


def training_text(seed, n_lines):
    """Synthetic but varied text for the BPE trainer test: prose, arithmetic, chat turns, a little CJK."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        r = rng.random()
        if r < 0.20:  # pseudo-words from syllables give the trainer many distinct words
            syl = ["ka", "lo", "mi", "se", "ru", "dat", "ven", "tor", "pha", "qui", "ex", "bro", "zel", "ing", "tion"]
            s = " ".join("".join(rng.choice(syl) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(3, 12)))
            s = s.capitalize() + rng.choice([".", "!", "?", ",", ";"])
        elif r < 0.45:
            s = f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ADVERBS)}."
            if rng.random() < 0.5:
                s += f" Then {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
        elif r < 0.70:
            a, b = rng.randint(0, 9999), rng.randint(0, 9999)
            op = rng.choice("+-*")
            v = a + b if op == "+" else a - b if op == "-" else a * b
            s = f"What is {a} {op} {b}? <think> {a} {op} {b} = {v} </think> <answer>{v}</answer>"
        elif r < 0.85:
            s = (f"<|im_start|>user\nWhy does {rng.choice(SUBJECTS)} {rng.choice(VERBS).rstrip('s')} "
                 f"{rng.choice(OBJECTS)}?<|im_end|>\n<|im_start|>assistant\nBecause it {rng.choice(VERBS)} "
                 f"{rng.choice(OBJECTS)}.<|im_end|>")
        elif r < 0.95:
            s = f"<｜begin▁of▁sentence｜><｜User｜>{rng.randint(1, 99)}+{rng.randint(1, 99)}=?<｜Assistant｜>Let me think."
        else:
            s = rng.choice(["模型预测下一个词。", "専門家のルーティング。", "전문가 라우팅.", "Модель учится.", "café naïve"])
        lines.append(s)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="golden folder (tests/golden/tokenizer)")
    ap.add_argument("--bench-text", help="also write the ~1 MB benchmark text (seeded, not committed) here")
    a = ap.parse_args()
    if a.bench_text:
        with open(a.bench_text, "w", encoding="utf-8", newline="") as f:
            f.write(stress_text(seed=4321, target=1_000_000))
    if not a.out:
        return
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for t in CORPUS:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "stress.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(stress_text())
    with open(os.path.join(a.out, "train_corpus.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(training_text(7, 800))
    with open(os.path.join(a.out, "train_heldout.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(training_text(8, 150))
    print(f"{len(CORPUS)} corpus strings, stress.txt {len(stress_text().encode())} bytes")


if __name__ == "__main__":
    main()
