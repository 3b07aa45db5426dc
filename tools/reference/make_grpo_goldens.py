#!/usr/bin/env python3
"""Goldens for src/rl/grpo.* and src/rl/ppo.*: the same losses written independently in PyTorch (float64, autograd
for every gradient) on small random batches that cover every switch. Inputs are rounded to float32 first so the C++
test (float inputs) sees exactly the same numbers.

    python3 tools/reference/make_grpo_goldens.py   # writes tests/golden/rl/{grpo,ppo}_cases.json and
                                                   # tests/golden/rl/grpo_stage/ (see grpo_stage_golden below)
"""
import json
import os
import re
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dense_ref  # noqa: E402
import make_dense_goldens  # noqa: E402
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "rl")
MAX_LOG_RATIO = 20.0
ADV_EPS = 1e-4


def f32(t):
    return t.to(torch.float32).to(torch.float64)


def lst(t):
    return [float(v) for v in t.flatten()]


def advantages(rewards, G, scale_by_std):
    r = rewards.view(-1, G)
    mean = r.mean(dim=1, keepdim=True)
    std = r.std(dim=1, keepdim=True, unbiased=True) if G > 1 else torch.zeros_like(mean)
    a = r - mean
    if scale_by_std:
        a = a / (std + ADV_EPS)
    zero = (r == r[:, :1]).all(dim=1).double().mean()
    return a.flatten(), float(zero)


def policy_loss(cfg, offsets, new, old, ref, mask, adv_tok):
    """-J over the batch; new requires grad. adv_tok is per token."""
    S = len(offsets) - 1
    seq = torch.repeat_interleave(torch.arange(S), torch.tensor([offsets[i + 1] - offsets[i] for i in range(S)]))
    x = torch.clamp(new - old, -MAX_LOG_RATIO, MAX_LOG_RATIO)
    rho = torch.exp(x)
    unclipped = rho * adv_tok
    clipped = torch.clamp(rho, 1 - cfg["eps_low"], 1 + cfg["eps_high"]) * adv_tok
    surr = torch.minimum(unclipped, clipped)
    if ref is not None:
        y = torch.clamp(ref - new, -MAX_LOG_RATIO, MAX_LOG_RATIO)
        k3 = torch.exp(y) - y - 1
    else:
        k3 = torch.zeros_like(new)
    per_tok = -(surr - cfg["beta"] * k3) * mask
    n_tok = mask.sum()
    if cfg["agg"] == "token":
        loss = per_tok.sum() / n_tok
    else:
        lens = torch.zeros(S).index_add(0, seq, mask)
        sums = torch.zeros(S).index_add(0, seq, per_tok)
        used = lens > 0
        loss = (sums[used] / lens[used]).mean()
    active = (clipped < unclipped).double() * mask
    low = (active * (adv_tok < 0).double()).sum() / n_tok
    high = (active * (adv_tok > 0).double()).sum() / n_tok
    kl = (k3 * mask).sum().detach() / n_tok
    return loss, dict(kl=float(kl), clip_ratio=float(low + high), clip_ratio_low=float(low),
                      clip_ratio_high=float(high), n_tokens=int(n_tok), n_seqs=int(sum(
                          1 for s in range(S) if mask[offsets[s]:offsets[s + 1]].sum() > 0)))


def grpo_case(name, seed, P, G, lens, cfg, scale_by_std, reward_values, equal_group=None, mask_frac=0.0,
              masked_seq=None, ratio_std=0.3, ref_std=0.2, huge=False):
    g = torch.Generator().manual_seed(seed)
    S = P * G
    assert len(lens) == S
    offsets = [0]
    for n in lens:
        offsets.append(offsets[-1] + n)
    N = offsets[-1]
    rv = torch.tensor(reward_values)
    rewards = rv[torch.randint(len(reward_values), (S,), generator=g)]
    if equal_group is not None:
        rewards[equal_group * G:(equal_group + 1) * G] = rewards[equal_group * G]
    rewards = f32(rewards)
    adv, frac_zero = advantages(rewards, G, scale_by_std)
    adv = f32(adv)  # the loss golden starts from the float advantages the C++ side also holds
    old = f32(-2.0 * torch.rand(N, generator=g) - 0.05)
    new = f32(old + ratio_std * torch.randn(N, generator=g))
    ref = f32(old + ref_std * torch.randn(N, generator=g)) if cfg["beta"] > 0 else None
    if huge:  # exercise the ±20 log-ratio clamp in both exps
        new[0] = old[0] + 30.0
        new[1] = old[1] - 30.0
        if ref is not None:
            ref[2] = new[2] + 25.0
            ref[3] = new[3] - 25.0
    mask = (torch.rand(N, generator=g) >= mask_frac).double()
    if masked_seq is not None:
        mask[offsets[masked_seq]:offsets[masked_seq + 1]] = 0
    adv_tok = torch.cat([adv[s].repeat(lens[s]) for s in range(S)]) if N else torch.zeros(0)
    newv = new.clone().requires_grad_(True)
    loss, metrics = policy_loss(cfg, offsets, newv, old, ref, mask, adv_tok)
    loss.backward()
    case = dict(name=name, group_size=G, scale_by_std=scale_by_std, eps_low=cfg["eps_low"],
                eps_high=cfg["eps_high"], beta=cfg["beta"], agg=cfg["agg"], offsets=offsets,
                rewards=lst(rewards), advantages=lst(adv), frac_reward_zero_std=frac_zero,
                logp_new=lst(new), logp_old=lst(old), logp_ref=lst(ref) if ref is not None else [],
                mask=[int(m) for m in mask], loss=float(loss.detach()), dlogp_new=lst(newv.grad), **metrics)
    return case


def ppo_case(name, seed, lens, gamma, lam, kl_coef, clip_eps):
    g = torch.Generator().manual_seed(seed)
    offsets = [0]
    for n in lens:
        offsets.append(offsets[-1] + n)
    N, S = offsets[-1], len(lens)
    outcome = f32(torch.randint(2, (S,), generator=g).double())
    old = f32(-2.0 * torch.rand(N, generator=g) - 0.05)
    ref = f32(old + 0.2 * torch.randn(N, generator=g))
    values = f32(0.5 * torch.randn(N, generator=g) + 0.3)
    values_old = f32(values + 0.3 * torch.randn(N, generator=g))
    # token rewards: −kl·(old − ref) everywhere, outcome added on each last token
    rewards = -kl_coef * (old - ref)
    for s in range(S):
        if lens[s]:
            rewards[offsets[s + 1] - 1] += outcome[s]
    rewards = f32(rewards)
    adv = torch.zeros(N)
    for s in range(S):
        next_v = next_a = 0.0
        for t in range(offsets[s + 1] - 1, offsets[s] - 1, -1):
            delta = rewards[t] + gamma * next_v - values[t]
            next_a = delta + gamma * lam * next_a
            next_v = values[t]
            adv[t] = next_a
    adv = f32(adv)
    returns = f32(adv + values)
    white = (adv - adv.mean()) / (adv.std(unbiased=True) + 1e-8)
    v = values.clone().requires_grad_(True)
    vc = values_old + torch.clamp(v - values_old, -clip_eps, clip_eps)
    e1, e2 = (v - returns) ** 2, (vc - returns) ** 2
    vloss = 0.5 * torch.maximum(e1, e2).mean()
    vloss.backward()
    return dict(name=name, offsets=offsets, gamma=gamma, lam=lam, kl_coef=kl_coef, clip_eps=clip_eps,
                outcome=lst(outcome), logp_old=lst(old), logp_ref=lst(ref), values=lst(values),
                values_old=lst(values_old), token_rewards=lst(rewards), advantages=lst(adv), returns=lst(returns),
                whitened=lst(white), value_loss=float(vloss.detach()), value_clip_frac=float((e2 > e1).double().mean()),
                dvalues=lst(v.grad))


def write_json(path, obj):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------------------
# The GRPO stage end to end (tests/rl/grpo_stage_golden_test.cpp): one teacher-forced rollout — known prompts,
# completions and sampling log-probs — through a tiny dense Qwen2 policy. The C++ test hands the rollout to the real
# stage (it overrides only the sampling step), which decodes and scores it with the real reward functions, computes
# the advantages, lays out the micro-batches, runs its own forward and backward; here the same quantities come from
# the designed rewards, this file's advantages / policy_loss and dense_ref's float64 forward, autograd for dL/dlogp and
# dL/dθ. Tokens: the trained tokenizer's special tags (<think> …) and single-byte tokens, so the decoded text is
# known exactly without a BPE here.

TOKENIZER = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "tokenizer", "trained",
                         "tokenizer.json")
STAGE_MODEL = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 160, "hidden_size": 32,
               "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "max_position_embeddings": 128, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
               "initializer_range": 0.02, "rope_scaling": None, "hidden_act": "silu", "tie_word_embeddings": True}
# (question, answer) per prompt and G = 4 completions each: (text, ends with EOS, accuracy, format) — the reward
# parts a reader of rl/rewards.h and tasks/answer.h expects; the C++ test asserts the stage scores them so.
STAGE_ROLLOUT = [
    ("What is 3 + 4?", "7", [
        ("<think>\n3 plus 4 is 7\n</think>\n<answer>7</answer>", True, 1, 1),
        ("<think>\nguess\n</think>\n<answer>8</answer>", True, 0, 1),
        ("<answer>7</answer>", True, 1, 0),                              # right answer, no reasoning block
        ("7 7 7 7 7 7 7 7", False, 0, 0),                               # truncated, no answer tags: unparseable
    ]),
    ("What is 12 + 5?", "17", [                                         # every reward 0: a zero-std group
        ("<think>\n12 and 5 make", False, 0, 0),                        # truncated inside the reasoning
        ("", True, 0, 0),                                               # EOS at once: empty text
        ("seventeen", True, 0, 0),
        ("<answer>16</answer>", True, 0, 0),
    ]),
    ("What is 8 + 9?", "17", [
        ("<think>\n8 + 9\n</think> <answer> 17 </answer>", True, 1, 1),  # whitespace around the answer is fine
        ("<think>\nx\n</think>\n<answer>17</answer>\n<answer>18</answer>", True, 0, 0),  # two answers: last wins
        ("<think>\n\n</think>\n<answer>17</answer>", True, 1, 0),        # empty reasoning fails the format
        ("<think>\n8 plus 9 is 17\n</think>\n<answer>\\boxed{17}</answer>", True, 1, 1),
    ]),
]
STAGE_MICRO_ROWS = 6  # 2 micro-batches of 6 rows, straddling the groups of 4
STAGE_CASES = [
    dict(name="seq_std_eps0.2-0.28_w1-0.5", agg="sequence", scale_std=True, eps_low=0.2, eps_high=0.28, beta=0.0,
         reward_weights=[1.0, 0.5]),
    dict(name="token_nostd_eps0.1_w1-1", agg="token", scale_std=False, eps_low=0.1, eps_high=0.1, beta=0.0,
         reward_weights=[1.0, 1.0]),
]
RATIO_MARGIN = 2e-3  # no ratio within this of a clip bound: float32 vs float64 log-probs cannot flip a branch


def byte_level_ids():
    """The trained tokenizer's id of every special token and of every single-byte token (GPT-2 byte alphabet)."""
    tj = json.load(open(TOKENIZER))
    vocab = tj["model"]["vocab"]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_id = {b: vocab[chr(c)] for b, c in zip(bs, cs)}
    special = {t["content"]: t["id"] for t in tj["added_tokens"]}
    return byte_id, special


def encode_plain(text, byte_id, special):
    ids = []
    for piece in re.split(r"(</?think>|</?answer>)", text):
        if piece in special:
            ids.append(special[piece])
        else:
            ids += [byte_id[b] for b in piece.encode()]
    return ids


def grpo_stage_golden(out_dir, seed=2024):
    byte_id, special = byte_level_ids()
    eos = special["<｜end▁of▁sentence｜>"]
    cfg = STAGE_MODEL
    P32 = make_dense_goldens.make_params(cfg, seed)
    G = len(STAGE_ROLLOUT[0][2])
    prompts, comps, parts = [], [], [[], []]
    for q, _, cs in STAGE_ROLLOUT:
        prompts.append(encode_plain(f"User: {q}\nAssistant:", byte_id, special))
        for text, stop, acc, fmt in cs:
            toks = encode_plain(text, byte_id, special) + ([eos] if stop else [])
            comps.append(dict(text=text, tokens=toks, finish_reason="stop" if stop else "length"))
            parts[0].append(acc)
            parts[1].append(fmt)
    assert max(max(p) for p in prompts) < cfg["vocab_size"] and max(max(c["tokens"]) for c in comps) < cfg["vocab_size"]
    S = len(comps)
    offsets = [0]
    for c in comps:
        offsets.append(offsets[-1] + len(c["tokens"]))

    # log π_θ of every completion token (float64 forward of prompt + completion), and the next-token entropy there
    P = {k: v.to(torch.float64).requires_grad_(True) for k, v in P32.items()}
    logp, ent = [], []
    for i, c in enumerate(comps):
        pr = prompts[i // G]
        ids = torch.tensor([pr + c["tokens"]])
        logits, _ = dense_ref.forward(cfg, P, ids)
        lsm = torch.log_softmax(logits[0], -1)
        for j, t in enumerate(c["tokens"]):
            row = lsm[len(pr) - 1 + j]
            logp.append(row[t])
            ent.append(float(-(row.exp() * row).sum().detach()))
    logp_new = torch.stack(logp)
    N = offsets[-1]

    # π_old: the sampler's log-probs, designed as log π_θ + δ (float32), so ratios e^−δ spread around 1 and some
    # tokens clip on each side; δ is redrawn until every ratio clears every case's clip bounds by RATIO_MARGIN
    g = torch.Generator().manual_seed(seed)
    bounds = [b for c in STAGE_CASES for b in (1 - c["eps_low"], 1 + c["eps_high"])]
    lp = logp_new.detach()
    old = torch.zeros(N)
    for k in range(N):
        while True:
            o = float(f32(lp[k] + 0.3 * torch.randn((), generator=g)))
            rho = float(torch.exp(lp[k] - o))
            if o < 0 and all(abs(rho - b) > RATIO_MARGIN for b in bounds):
                break
        old[k] = o

    golden = dict(config=cfg, micro_rows=STAGE_MICRO_ROWS, group=G, reward_names=["accuracy", "format"],
                  problems=[dict(question=q, answer=a) for q, a, _ in STAGE_ROLLOUT], prompts=prompts,
                  completions=comps, logp_old=lst(old), logp_new=lst(lp), parts=parts, cases=[])
    tensors = {}
    R = STAGE_MICRO_ROWS
    micro = [(offsets[r0], offsets[r0 + R]) for r0 in range(0, S, R)]
    for case in STAGE_CASES:
        w = case["reward_weights"]
        rewards = f32(torch.tensor([w[0] * parts[0][i] + w[1] * parts[1][i] for i in range(S)]))
        adv, frac_zero = advantages(rewards, G, case["scale_std"])
        adv_tok = torch.cat([adv[s].repeat(offsets[s + 1] - offsets[s]) for s in range(S)])
        for t in P.values():
            t.grad = None
        new = logp_new.clone()
        new.retain_grad()
        loss, _ = policy_loss(case, offsets, new, old, None, torch.ones(N), adv_tok)
        loss.backward(retain_graph=True)
        # what the stage reports per micro-batch and the Trainer averages over them
        per_micro = []
        for a, b in micro:
            sub_off = [o - a for o in offsets if a <= o <= b]
            _, m = policy_loss(case, sub_off, lp[a:b], old[a:b], None, torch.ones(b - a), adv_tok[a:b])
            d = old[a:b] - lp[a:b]
            per_micro.append(dict(clip_ratio=m["clip_ratio"], clip_ratio_low=m["clip_ratio_low"],
                                  clip_ratio_high=m["clip_ratio_high"], entropy=sum(ent[a:b]) / (b - a),
                                  ppo_kl=float(d.mean()), logp_drift_max=float(d.abs().max())))
        mean = {k: sum(m[k] for m in per_micro) / len(per_micro) for k in per_micro[0]}
        r = rewards.view(-1, G)
        golden["cases"].append(dict(
            case, rewards=lst(rewards), advantages=lst(adv), frac_reward_zero_std=frac_zero,
            reward=float(rewards.mean()), reward_std=float(r.std(dim=1, unbiased=True).mean()),
            loss=float(loss.detach()), dloss_dlogp=lst(new.grad), metrics=mean))
        for k, t in P.items():
            tensors[f"{case['name']}.grad.{k}"] = t.grad.to(torch.float32)  # float32 rounding (6e-8) is far below the tolerance
    d = os.path.join(out_dir, "grpo_stage")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    st_write.save(P32, os.path.join(d, "model.safetensors"))
    st_write.save(tensors, os.path.join(d, "golden.safetensors"))
    write_json(os.path.join(d, "golden.json"), golden)
    for c in golden["cases"]:
        print(f"grpo_stage {c['name']}: loss {c['loss']:.6f} clip {c['metrics']['clip_ratio']:.3f} "
              f"(low {c['metrics']['clip_ratio_low']:.3f} high {c['metrics']['clip_ratio_high']:.3f}) "
              f"frac_zero_std {c['frac_reward_zero_std']:.3f}; {S} sequences, {N} tokens")


def main():
    os.makedirs(OUT, exist_ok=True)
    acc_fmt = [0.0, 0.5, 1.0, 1.5]  # accuracy + format reward sums
    grpo = [
        grpo_case("seq_beta0.04_std_mask_P2_G4", 12, 2, 4, [5, 3, 7, 1, 4, 6, 2, 5],
                  dict(eps_low=0.2, eps_high=0.2, beta=0.04, agg="sequence"), True, acc_fmt, equal_group=1,
                  mask_frac=0.2, masked_seq=2, ratio_std=0.4),
        grpo_case("token_beta0_nostd_asym_P3_G4", 2, 3, 4, [4, 6, 2, 3, 5, 1, 7, 2, 3, 4, 0, 6],
                  dict(eps_low=0.2, eps_high=0.28, beta=0.0, agg="token"), False, [0.0, 1.0], equal_group=0),
        grpo_case("r1_eps10_beta0.001_seq_P2_G8", 3, 2, 8, [3, 5, 2, 6, 4, 3, 5, 2, 4, 4, 1, 3, 6, 2, 5, 3],
                  dict(eps_low=10.0, eps_high=10.0, beta=0.001, agg="sequence"), True, [0.0, 1.0], ratio_std=0.8),
        grpo_case("huge_ratio_clamp_token_beta0.04_P1_G4", 4, 1, 4, [5, 4, 3, 6],
                  dict(eps_low=0.2, eps_high=0.2, beta=0.04, agg="token"), True, acc_fmt, huge=True),
        grpo_case("seq_beta0_std_asym_mask_P2_G3", 5, 2, 3, [6, 2, 5, 4, 7, 3],
                  dict(eps_low=0.1, eps_high=0.3, beta=0.0, agg="sequence"), True, acc_fmt, mask_frac=0.3,
                  ratio_std=0.5),
    ]
    ppo = [
        ppo_case("gae_g1_l0.95_kl0.05_S4", 6, [5, 3, 1, 6], 1.0, 0.95, 0.05, 0.2),
        ppo_case("gae_g0.99_l1_kl0_S3", 7, [4, 7, 2], 0.99, 1.0, 0.0, 0.1),
    ]
    write_json(os.path.join(OUT, "grpo_cases.json"), grpo)
    write_json(os.path.join(OUT, "ppo_cases.json"), ppo)
    for c in grpo:
        print(f"{c['name']}: loss {c['loss']:.6f} kl {c['kl']:.4g} clip {c['clip_ratio']:.3f} "
              f"tokens {c['n_tokens']} seqs {c['n_seqs']} frac_zero_std {c['frac_reward_zero_std']:.3f}")
    for c in ppo:
        print(f"{c['name']}: value_loss {c['value_loss']:.6f} clip_frac {c['value_clip_frac']:.3f}")
    grpo_stage_golden(OUT)


if __name__ == "__main__":
    main()
