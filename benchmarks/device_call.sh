#!/usr/bin/env bash
# The whole device call of a session with a GPU (benchmarks/DEVICE.md), as ONE command:
#   run(command="bash benchmarks/device_call.sh", carry=["device-kit"], timeout_s=600)
#
# 1. A smoke run: the `gpu` preset's model sizes with every step count cut to a few (seed 0 only),
#    plus benchmarks/gpu_memory.py at the full preset and, in the background, benchmarks/mirror_speed.py
#    --device cuda. It is the first time the CUDA path runs at all; if seed 0's benchmark does not
#    exit 0, the call stops here, so a crash costs a minute or two of device time, not the whole lease.
# 2. The `gpu` preset proper (benchmarks/device_gpu.sh, seeds 0 1 2 at once), with whatever is left of
#    CALL seconds minus a reserve for its report and archives as its budget.
# Results: $OUT/smoke/*.tgz, $OUT/mirror/mirror_speed.{md,json}, $OUT/device-{report,runs}.tgz.
# Environment: CALL=600 (the call's timeout_s), RESERVE=110, PY=python3, KIT=device-kit, and for a
# CPU dry run of the logic: PY=.venv/bin/python INSTALL=0 SMOKE_PRESET=tiny PRESET=tiny OUT=scratch/call-out
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
CALL=${CALL:-600}; RESERVE=${RESERVE:-110}; PY=${PY:-python3}; OUT=${OUT:-scratch/device-out}
export PY OUT
mkdir -p "$OUT/smoke" "$OUT/mirror"
SMALL="--seg-steps 2 --source-generator-steps 2 --set gen_steps=2 gen_finetune_steps=1 n_synthetic=8"
SMALL="$SMALL synth_batch=8 seg_steps=2 seg_finetune_steps=1 rounds=1 steps=10"
echo "== smoke ($(date -u))"
if [ "${INSTALL:-1}" = 1 ]; then
  ( sleep 20; PYTHONPATH=/tmp/site:$PWD timeout 90 $PY benchmarks/mirror_speed.py --device cuda --threads 4 \
      --repeats 5 --out "$OUT/mirror" > "$OUT/mirror/mirror_speed.log" 2>&1 ) &
fi
SEEDS=0 BUDGET=100 MEMCHECK=1 PRESET=${SMOKE_PRESET:-gpu} WORK=/tmp/vs-smoke OUT="$OUT/smoke" EXTRA="$SMALL" \
  bash benchmarks/device_gpu.sh
if ! grep -q "^exit 0 " /tmp/vs-smoke/seed-0.log; then
  echo "smoke run failed: not running the gpu preset"; tail -40 /tmp/vs-smoke/seed-0.log; exit 1
fi
wait
B=$(( CALL - ($(date +%s) - T0) - RESERVE ))
echo "== gpu preset, budget $B s ($(date -u))"
BUDGET=$B MEMCHECK=0 bash benchmarks/device_gpu.sh
echo "device_call.sh done after $(( $(date +%s) - T0 )) s"
