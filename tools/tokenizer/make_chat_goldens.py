#!/usr/bin/env python3
"""Chat-template goldens rendered by the real Jinja templates (what transformers' apply_chat_template runs:
jinja2 with trim_blocks + lstrip_blocks), written to tests/golden/tokenizer/chat_templates.jsonl.

- deepseek-r1: the chat_template of deepseek-v3/tokenizer_config.json with bos_token, plus "<think>\\n" after
  its generation prompt "<｜Assistant｜>" (the one line R1's template adds for generation).
- chatml: Qwen3's real chat_template on conversations ending in a user turn (where it reduces to plain
  ChatML; its reasoning handling only touches assistant turns after the last user query, and history turns
  holding "</think>", which are left out).
- r1-zero: no Jinja source exists; built from the spec §7.2 wording here and checked by hand.

  python3 tools/tokenizer/make_chat_goldens.py --tokenizers /work/shared/data/tokenizers --out tests/golden/tokenizer
"""
import argparse, json, os
import jinja2

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a careful math tutor."}, {"role": "user", "content": "Solve x^2=9."}],
    [{"role": "system", "content": "Rule one."}, {"role": "system", "content": "Rule two."},
     {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
     {"role": "user", "content": "Tell me a joke.\nA short one."}],
    [{"role": "user", "content": "多少？"}, {"role": "assistant", "content": "<think>\nreason\n</think>\n\n42"},
     {"role": "user", "content": "Why?"}],
    [{"role": "user", "content": ""}],
]

R1_ZERO_PREAMBLE = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves "
                    "it. The assistant first thinks about the reasoning process in the mind and then provides the "
                    "user with the answer. The reasoning process and answer are enclosed within <think> </think> "
                    "and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
                    "<answer> answer here </answer>.")


def r1_zero(msgs, gen):
    out = R1_ZERO_PREAMBLE
    for m in msgs:
        out += f" User: {m['content']}." if m["role"] == "user" else f" Assistant: {m['content']}"
    return out + (" Assistant:" if gen else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizers", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    ds_cfg = json.load(open(os.path.join(a.tokenizers, "deepseek-v3", "tokenizer_config.json")))
    qw_cfg = json.load(open(os.path.join(a.tokenizers, "qwen3", "tokenizer_config.json")))
    ds = env.from_string(ds_cfg["chat_template"])
    qw = env.from_string(qw_cfg["chat_template"])
    rows = []
    for msgs in CONVERSATIONS:
        for gen in (False, True):
            s = ds.render(messages=msgs, add_generation_prompt=gen, bos_token=ds_cfg["bos_token"]["content"])
            if gen:
                assert s.endswith("<｜Assistant｜>")
                s += "<think>\n"
            rows.append({"template": "deepseek-r1", "add_generation_prompt": gen, "messages": msgs, "expected": s})
            # Qwen3 strips "...</think>" from history turns; plain ChatML keeps content verbatim.
            if msgs[-1]["role"] == "user" and not any("</think>" in m["content"] for m in msgs):
                rows.append({"template": "chatml", "add_generation_prompt": gen, "messages": msgs,
                             "expected": qw.render(messages=msgs, add_generation_prompt=gen, tools=None)})
            if all(m["role"] != "system" for m in msgs):
                rows.append({"template": "r1-zero", "add_generation_prompt": gen, "messages": msgs,
                             "expected": r1_zero(msgs, gen)})
    with open(os.path.join(a.out, "chat_templates.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} chat-template cases")


if __name__ == "__main__":
    main()
