#!/usr/bin/env bash
# The disk-full experiment of the reliability issue (needs root for the tmpfs mount): a pretraining run writes into
# small filesystems of several sizes. What must hold: the run stops with an error naming the file it could not
# write (not "trains to the end, logs nothing, then fails"), every checkpoint left behind loads, and after the disk
# is freed --resume finishes the run with the same weights as an uninterrupted one.
#   sudo tools/reliability/disk_full.sh [SIZES_KIB="600 1200 2400 4800"]
set -uo pipefail
cd "$(dirname "$0")/../.."
SIZES=${1:-"600 1200 2400 4800"}
BIN=$PWD/build/nanoseek
RECIPE=$PWD/recipes/ci-tiny.toml
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nanoseek-full-XXXXXX")
MNT="$WORK/mnt"
mkdir -p "$MNT"
trap 'umount "$MNT" 2>/dev/null; rm -rf "$WORK"' EXIT
SETS=(--set train.steps=60 --set train.ckpt_every=10 --quiet)
"$BIN" pretrain "$RECIPE" --out "$WORK/ref" "${SETS[@]}" >/dev/null 2>&1 || { echo "reference run failed"; exit 1; }
want=$(sha256sum "$WORK/ref/final/model.safetensors" | cut -d' ' -f1)
ok=1
for kib in $SIZES; do
  mount -t tmpfs -o size="${kib}k" tmpfs "$MNT" || { echo "cannot mount a tmpfs (root needed)"; exit 2; }
  "$BIN" pretrain "$RECIPE" --out "$MNT/run" "${SETS[@]}" >"$WORK/log" 2>&1
  rc=$?
  bad=0
  for c in "$MNT"/run/ckpt-*; do
    [[ -d "$c" ]] || continue
    "$BIN" logits --model "$c" --ids 1,2,3 --out "$WORK/logits.npy" >/dev/null 2>&1 || bad=$((bad + 1))
  done
  steps=$(wc -l <"$MNT/run/metrics.jsonl" 2>/dev/null || echo 0)
  # free the disk: move the run to a roomy place and resume it there
  cp -a "$MNT/run" "$WORK/moved" 2>/dev/null
  umount "$MNT"
  resumed=""
  if [[ $rc != 0 ]]; then
    "$BIN" pretrain "$RECIPE" --out "$WORK/moved" --resume "${SETS[@]}" >"$WORK/log2" 2>&1
    got=$(sha256sum "$WORK/moved/final/model.safetensors" 2>/dev/null | cut -d' ' -f1)
    resumed=$([[ "$got" == "$want" ]] && echo "resume: bitwise equal" || echo "resume: DIFFERENT or failed")
    [[ "$got" == "$want" ]] || ok=0
  fi
  echo "${kib} KiB: rc $rc, metrics lines $steps, unloadable checkpoints $bad, $resumed; said: $(grep -m1 -i 'error' "$WORK/log" | cut -c1-160)"
  [[ $bad == 0 ]] || ok=0
  rm -rf "$WORK/moved"
done

# The disk fills up mid-run (another process takes the space) while only logs are being written
# (no checkpoint until the end): the run must stop at the first log write that fails, naming the file.
mount -t tmpfs -o size=8m tmpfs "$MNT"
"$BIN" pretrain "$RECIPE" --out "$MNT/run" --set train.steps=3000 --set train.ckpt_every=0 --quiet >"$WORK/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s "$MNT/run/metrics.jsonl" ]] && break; sleep 0.1; done
dd if=/dev/zero of="$MNT/filler" bs=4k >/dev/null 2>&1
wait "$pid"
rc=$?
steps=$(wc -l <"$MNT/run/metrics.jsonl")
said=$(grep -m1 -i 'error' "$WORK/log" | cut -c1-160)
echo "filled mid-run (ckpt_every 0, 3000 steps): rc $rc, metrics lines $steps; said: $said"
[[ $rc != 0 && "$said" == *metrics.jsonl* ]] || ok=0
umount "$MNT"
[[ $ok == 1 ]]
