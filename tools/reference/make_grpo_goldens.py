#!/usr/bin/env python3
"""Goldens for src/rl/grpo.* and src/rl/ppo.*: the same losses written independently in PyTorch (float64, autograd
for every gradient) on small random batches that cover every switch. Inputs are rounded to float32 first so the C++
test (float inputs) sees exactly the same numbers.

    python3 tools/reference/make_grpo_goldens.py   # writes tests/golden/rl/{grpo,ppo}_cases.json
"""
import json
import os
import tempfile

import torch

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


if __name__ == "__main__":
    main()
