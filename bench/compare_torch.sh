#!/usr/bin/env bash
# nanoseek vs the PyTorch reference on the same machine and thread count, interleaved round by round so both see
# the same machine load; prints each measurement and the median ratio. Needs build/model_bench and python3 with
# torch (tools/ only). Usage: bench/compare_torch.sh [CONFIG] [THREADS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
CFG=${1:-tools/reference/configs/bench-30m.json}
THREADS=${2:-2}
ROUNDS=${3:-3}
BENCH=${BENCH:-build/model_bench}
# ours with the spin the nanoseek CLI sets (src/cli/main.cpp; model_bench is not the CLI); torch with its own default
OURS=(env "GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}" "$BENCH")
OUT=$(mktemp)
run() {  # label, command...
  local label=$1; shift
  local line; line=$("$@" | tail -1)
  echo "$label $line" | tee -a "$OUT"
}
export OMP_NUM_THREADS=$THREADS
for r in $(seq "$ROUNDS"); do
  run "ours-train" "${OURS[@]}" "$CFG" --mode train --batch 4 --seq 256 --steps 3 --warmup 1
  run "torch-train" python3 tools/reference/bench_torch.py "$CFG" --batch 4 --seq 256 --threads "$THREADS" --steps 3 --warmup 1
  for b in 1 8 32 64; do
    run "ours-gen-$b" "${OURS[@]}" "$CFG" --mode generate --batch "$b" --prompt 32 --new 64
    run "torch-gen-$b" python3 tools/reference/bench_torch.py "$CFG" --generate --batch "$b" --prompt 32 --new 64 --threads "$THREADS"
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, js = line.split(" ", 1)
    rows.setdefault(label, []).append(json.loads(js)["tokens_per_s"])
print(f"\n{'measurement':<14}{'nanoseek tok/s':>16}{'torch tok/s':>14}{'ratio':>8}")
for kind in ["train"] + [f"gen-{b}" for b in (1, 8, 32, 64)]:
    o, t = statistics.median(rows[f"ours-{kind}"]), statistics.median(rows[f"torch-{kind}"])
    print(f"{kind:<14}{o:>16.1f}{t:>14.1f}{o / t:>8.2f}")
PY
