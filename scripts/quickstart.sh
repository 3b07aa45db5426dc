#!/usr/bin/env bash
# The README's main job: set up, build, then show the model on the real DeepSeek-V3 shape (analytically) and on the
# built-in tiny default (for real: init → logits → KV-cached generation).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo; echo "== DeepSeek-V3 (671B) as configured by its HF config.json"
./build/nanoseek info --config configs/deepseek-v3.json
echo; echo "== the built-in tiny default (configs/tiny.json): init and logits"
./build/nanoseek info --config configs/tiny.json
./build/nanoseek init --config configs/tiny.json --out runs/tiny-init --seed 0
./build/nanoseek logits --model runs/tiny-init --ids 1,2,3,4 --out runs/tiny-init/logits.npy
