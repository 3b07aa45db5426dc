#!/usr/bin/env python3
"""Goldens for nanoseek's checkpoint I/O layer (src/core/dtype, safetensors, npy), written by the reference
implementations (torch dtype conversions, the `safetensors` python library, numpy) into tests/golden/io/.

    python3 tools/reference/make_io_goldens.py                 # (re)write tests/golden/io/*
    python3 tools/reference/make_io_goldens.py --check-cpp DIR  # verify files written by our C++ writers

Files:
  fp8_e4m3.safetensors   decode_f32[256]: torch.float8_e4m3fn of every code; encode_in F32[N] / encode_out U8[N]:
                         torch's f32 -> e4m3fn codes on ties, near-ties, subnormals, saturation, random values.
                         torch's cast is NOT saturating (|x| >= 464 becomes NaN), while nanoseek's encoder is (as
                         DeepSeek's quantizers need); so the reference is `x.clamp(-448, 448).to(float8_e4m3fn)`.
  bf16_f16.safetensors   bf16_in/bf16_out (BF16) and f16_in/f16_out (F16): torch `.to(bfloat16/float16)`.
  fp8_block.safetensors  w [300,200] (bf16-exact values, stored BF16) quantized per 128x128 block exactly like DeepSeek's per-block helper
                         (DeepGEMM test utils) -> "layer.weight" F8_E4M3 [300,200] + "layer.weight_scale_inv"
                         F32 [3,2]; "dequant" F32 = weight.float() * scale_inv (block-expanded) as in
                         DeepSeek-V3 weight_dequant.
  sharded/               a 2-shard HF checkpoint saved by safetensors.torch.save_file + index.json (mixed
                         F32/BF16/I64 and an FP8 weight whose scale lives in the other shard);
  sharded_expected.safetensors  the same tensors as float32 (FP8 dequantized) / int64, for the C++ reader test.
  npy/*.npy              arrays saved by numpy.save (values are documented formulas the C++ test recomputes).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "golden", "io")
FP8 = torch.float8_e4m3fn


def f32_from_bits(bits):
    return torch.tensor(np.array(bits, dtype=np.uint32).view(np.float32))


def fp8_goldens(gen):
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    decode = codes.view(FP8).float()
    finite = decode[~decode.isnan()].unique().sort().values          # -448 .. 448
    pos = finite[finite > 0]
    mids = (pos[:-1] + pos[1:]) / 2                                   # exact ties (fit in f32)
    ties = torch.cat([mids, -mids])
    near = torch.cat([torch.nextafter(ties, torch.full_like(ties, float("inf"))),
                      torch.nextafter(ties, torch.full_like(ties, -float("inf")))])
    specials = torch.tensor([0.0, -0.0, 448.0, -448.0, 449.0, 463.9, 464.0, 464.1, 479.0, 480.0, 500.0, 1e6,
                             -1e6, 3.4e38, float("inf"), -float("inf"), float("nan"), 2.0 ** -9, 2.0 ** -10,
                             2.0 ** -10 * 1.0001, 2.0 ** -10 * 0.9999, 3 * 2.0 ** -10, 2.0 ** -6, 2.0 ** -7,
                             1e-45, -1e-45, 1e-30, 2.0 ** -12])
    mag = torch.exp2(torch.empty(3000).uniform_(-14, 10, generator=gen))
    sign = torch.where(torch.rand(3000, generator=gen) < 0.5, -1.0, 1.0)
    x = torch.cat([finite, ties, near, specials, mag * sign]).float()
    out = x.clamp(-448, 448).to(FP8).view(torch.uint8)
    return {"decode_f32": decode, "encode_in": x, "encode_out": out}


def bf16_f16_goldens(gen):
    rnd = torch.randint(0, 2 ** 31, (2000,), generator=gen, dtype=torch.int64).numpy().astype(np.uint32)
    rnd |= (torch.rand(2000, generator=gen) < 0.5).numpy().astype(np.uint32) << 31
    low = np.array([0x8000, 0x7FFF, 0x8001, 0x0000, 0xFFFF], dtype=np.uint32)
    hi = np.array([0x3F80, 0x3F81, 0x4049, 0x7F7F, 0x0000, 0x0001, 0x007F, 0x0080, 0xFF7F, 0xBF80],
                  dtype=np.uint32)
    tricky = (hi[:, None] << 16 | low[None, :]).ravel()                # ties of both parities, near-ties
    spec = np.array([0x7F800000, 0xFF800000, 0x7FC00000, 0x7F7FFFFF, 0x00000001, 0x80000000], np.uint32)
    bf_in = f32_from_bits(np.concatenate([rnd, tricky, spec]))
    # f16: magnitudes across the whole half range incl. subnormals, overflow boundary, ties.
    mag = torch.exp2(torch.empty(3000).uniform_(-27, 17, generator=gen))
    sign = torch.where(torch.rand(3000, generator=gen) < 0.5, -1.0, 1.0)
    h = torch.arange(0, 0x7C00, 97, dtype=torch.int32).to(torch.int16).view(torch.float16).float()
    hmid = (h[:-1] + h[1:]) / 2
    f16_spec = torch.tensor([65504.0, 65519.0, 65519.996, 65520.0, 65536.0, 1e9, float("inf"), float("nan"),
                             2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -25, 2.0 ** -14, 0.0, -0.0])
    f16_in = torch.cat([mag * sign, h, hmid, -hmid, f16_spec]).float()
    return {"bf16_in": bf_in, "bf16_out": bf_in.to(torch.bfloat16),
            "f16_in": f16_in, "f16_out": f16_in.to(torch.float16)}


def per_block_cast_to_fp8(x):
    """DeepSeek's 128x128 weight quantizer (DeepGEMM tests' per_block_cast_to_fp8), spec §4.3."""
    m, n = x.shape
    pm, pn = (m + 127) // 128 * 128, (n + 127) // 128 * 128
    xp = torch.zeros(pm, pn, dtype=x.dtype)
    xp[:m, :n] = x                                                    # edge blocks are zero-padded
    xv = xp.view(pm // 128, 128, pn // 128, 128)
    amax = xv.abs().float().amax(dim=(1, 3), keepdim=True).clamp(1e-4)
    xs = (xv * (448.0 / amax)).to(FP8)
    return xs.view(pm, pn)[:m, :n].contiguous(), (amax / 448.0).view(pm // 128, pn // 128)


def weight_dequant(q, s):
    """DeepSeek-V3 weight_dequant: W = float(q) * s[r // 128, c // 128]."""
    big = s.repeat_interleave(128, 0).repeat_interleave(128, 1)[:q.shape[0], :q.shape[1]]
    return q.float() * big


def fp8_block_goldens(gen):
    w = torch.randn(300, 200, generator=gen)
    w[:, :128] *= torch.linspace(0.01, 3.0, 300)[:, None]            # blocks of different magnitude
    w[256:, 128:] = 0.0                                               # an all-zero (partial) block: amax clamp
    w[5, 7] = 1000.0                                                  # one outlier block
    w = w.to(torch.bfloat16).float()      # bf16-representable, so "w" can be stored as BF16 (half the bytes)
    q, s = per_block_cast_to_fp8(w)
    assert s.shape == (3, 2)
    return {"w": w.to(torch.bfloat16), "layer.weight": q, "layer.weight_scale_inv": s, "dequant": weight_dequant(q, s)}


def sharded_goldens(gen):
    emb = (torch.arange(16 * 8).reshape(16, 8).float() * 0.125 - 7.0).to(torch.bfloat16)
    norm = torch.linspace(-1.0, 1.0, 8)
    gate = torch.randn(130, 8, generator=gen)                        # 130 rows: 2 row blocks (one partial)
    gq, gs = per_block_cast_to_fp8(gate)
    ln = torch.full((8,), 1.5).to(torch.bfloat16)
    pos = torch.tensor([0, -1, 2 ** 40, 7, 3], dtype=torch.int64)
    shard1 = {"model.embed_tokens.weight": emb, "model.layers.0.mlp.gate_proj.weight": gq,
              "positions": pos}
    shard2 = {"model.norm.weight": norm, "model.layers.0.mlp.gate_proj.weight_scale_inv": gs,
              "model.layers.0.input_layernorm.weight": ln}
    d = os.path.join(OUT, "sharded")
    os.makedirs(d, exist_ok=True)
    files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map, total = {}, 0
    for f, tensors in zip(files, [shard1, shard2]):
        save_file(tensors, os.path.join(d, f), metadata={"format": "pt"})
        for k, v in tensors.items():
            weight_map[k] = f
            total += v.numel() * v.element_size()
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, fh, indent=2)
    expected = {"model.embed_tokens.weight": emb.float(), "model.norm.weight": norm,
                "model.layers.0.mlp.gate_proj.weight": weight_dequant(gq, gs),
                "model.layers.0.mlp.gate_proj.weight_scale_inv": gs,
                "model.layers.0.input_layernorm.weight": ln.float(), "positions": pos}
    save_file(expected, os.path.join(OUT, "sharded_expected.safetensors"))


def npy_goldens():
    d = os.path.join(OUT, "npy")
    os.makedirs(d, exist_ok=True)
    # Formulas mirrored in tests/core/npy_test.cpp.
    np.save(os.path.join(d, "f4_2x3.npy"), (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3))
    np.save(os.path.join(d, "f8_4.npy"), np.array([1.0, -2.5, 1e-3, 3.0e38], dtype=np.float64))
    np.save(os.path.join(d, "i4_3x1x2.npy"), (np.arange(6, dtype=np.int32) - 3).reshape(3, 1, 2))
    np.save(os.path.join(d, "i8_scalar.npy"), np.array(-(2 ** 40), dtype=np.int64))
    np.save(os.path.join(d, "f4_0x3.npy"), np.zeros((0, 3), dtype=np.float32))
    np.save(os.path.join(d, "u1_3.npy"), np.array([1, 2, 3], dtype=np.uint8))          # unsupported -> Error
    np.save(os.path.join(d, "f4_fortran_2x2.npy"), np.asfortranarray(np.eye(2, 3, dtype=np.float32)[:, :2]))


def check_cpp(d):
    """Files written by our C++ writers (see the report of tests/core): numpy and safetensors must read them."""
    a = np.load(os.path.join(d, "cpp_f4_2x3.npy"))
    assert a.dtype == np.float32 and a.shape == (2, 3), (a.dtype, a.shape)
    assert np.array_equal(a, (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3)), a
    b = np.load(os.path.join(d, "cpp_i4_4.npy"))
    assert b.dtype == np.int32 and np.array_equal(b, np.array([-2, 0, 7, 2 ** 31 - 1], np.int32)), b
    c = np.load(os.path.join(d, "cpp_f4_scalar.npy"))
    assert c.shape == () and c == np.float32(3.25), c
    with safe_open(os.path.join(d, "cpp.safetensors"), "pt") as f:
        a = f.get_tensor("a")
        assert torch.equal(a, (torch.arange(6, dtype=torch.float32) * 0.5 - 1).reshape(2, 3)), a
        b = f.get_tensor("b")
        assert b.dtype == torch.int64 and b.tolist() == [5, -6], b
        assert f.metadata() == {"k": "v"}, f.metadata()
        bf = f.get_tensor("bf")
        assert bf.dtype == torch.bfloat16 and bf.float().tolist() == [1.0, -2.0, 0.5], bf
    print("check-cpp: numpy and safetensors read all C++-written files correctly")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-cpp", metavar="DIR", help="verify C++-written npy/safetensors files in DIR")
    args = ap.parse_args()
    if args.check_cpp:
        check_cpp(args.check_cpp)
        return
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240917)
    save_file(fp8_goldens(gen), os.path.join(OUT, "fp8_e4m3.safetensors"))
    save_file(bf16_f16_goldens(gen), os.path.join(OUT, "bf16_f16.safetensors"))
    save_file(fp8_block_goldens(gen), os.path.join(OUT, "fp8_block.safetensors"))
    sharded_goldens(gen)
    npy_goldens()
    for root, _, files in os.walk(OUT):
        for f in sorted(files):
            p = os.path.join(root, f)
            print(f"{os.path.relpath(p, ROOT)}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    sys.exit(main())
