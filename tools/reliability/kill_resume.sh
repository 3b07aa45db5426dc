#!/usr/bin/env bash
# The kill -9 experiment of the reliability issue: a pretraining run is killed with SIGKILL at a random moment N
# times, resumed each time, and must end with weights bitwise equal to an uninterrupted run. Every checkpoint left
# behind must load. Prints one line per kill and a summary.
#   tools/reliability/kill_resume.sh [KILLS=20] [STEPS=300]
set -uo pipefail
cd "$(dirname "$0")/../.."
KILLS=${1:-20}
STEPS=${2:-300}
BIN=$PWD/build/nanoseek
RECIPE=$PWD/recipes/ci-tiny.toml
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nanoseek-kill-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SETS=(--set train.steps="$STEPS" --set train.ckpt_every=10 --set train.keep_ckpts=1 --quiet)

"$BIN" pretrain "$RECIPE" --out "$WORK/ref" "${SETS[@]}" >/dev/null 2>&1 || { echo "reference run failed"; exit 1; }
want=$(sha256sum "$WORK/ref/final/model.safetensors" | cut -d' ' -f1)

out="$WORK/run"
bad_ckpt=0 failed_resume=0 kills=0
for ((i = 1; i <= KILLS; ++i)); do
  args=(--out "$out")
  [[ -d "$out" ]] && args+=(--resume)
  "$BIN" pretrain "$RECIPE" "${args[@]}" "${SETS[@]}" >"$WORK/log" 2>&1 &
  pid=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.5 }')"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
  rc=$?
  for c in "$out"/ckpt-*; do
    # ckpt-tmp is the writer's scratch directory of a checkpoint being written (renamed to ckpt-STEP when whole;
    # never read as a checkpoint, removed by the next run): not a checkpoint
    [[ -d "$c" && "$(basename "$c")" != ckpt-tmp ]] || continue
    "$BIN" logits --model "$c" --ids 1,2,3 --out "$WORK/logits.npy" >/dev/null 2>&1 ||
      { bad_ckpt=$((bad_ckpt + 1)); echo "unloadable: $c"; }
  done
  echo "kill $i: rc $rc, checkpoints: $(ls -d "$out"/ckpt-* 2>/dev/null | xargs -n1 basename 2>/dev/null | tr '\n' ' ')"
  [[ -f "$out/final/model.safetensors" ]] && break
done
# finish the run
"$BIN" pretrain "$RECIPE" --out "$out" --resume "${SETS[@]}" >"$WORK/log" 2>&1 || { failed_resume=1; cat "$WORK/log"; }
got=$(sha256sum "$out/final/model.safetensors" 2>/dev/null | cut -d' ' -f1)
lines=$(wc -l <"$out/metrics.jsonl")
echo "summary: $kills kills, $bad_ckpt unloadable checkpoints, failed final resume: $failed_resume," \
     "final weights $([[ "$got" == "$want" ]] && echo bitwise equal || echo DIFFERENT) to the uninterrupted run," \
     "metrics.jsonl $lines lines for $STEPS steps"
[[ "$got" == "$want" && $bad_ckpt == 0 && $failed_resume == 0 && $lines == "$STEPS" ]]
