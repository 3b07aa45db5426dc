#!/usr/bin/env bash
# The README's main job: set up, build, then R1-Zero end to end on the built-in tiny recipe: pretrain a tiny
# DeepSeek-V3 on the task suite, evaluate it (R1 protocol), GRPO with rule rewards, evaluate again, print the
# before/after table. Re-running continues where it stopped (--resume: each stage's output is reused).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo; echo "== DeepSeek-V3 (671B) as configured by its HF config.json"
./build/nanoseek info --config configs/deepseek-v3.json
echo; echo "== R1-Zero on the tiny recipe (recipes/r1zero-tiny.toml)"
./build/nanoseek r1zero recipes/r1zero-tiny.toml --out runs/r1zero-tiny --resume   # --resume: a re-run continues
