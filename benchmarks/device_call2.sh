#!/usr/bin/env bash
# The second device call of a lease, on the machine benchmarks/device_call.sh left warm (DEVICE.md):
#   run(command="bash benchmarks/device_call2.sh", carry=["device-kit"], timeout_s=240)
# Call it at once after the first call returns (the machine goes back after 30 s idle).
# 1. Resumes the first call's `gpu` adaptation (SEEDS, default "0"; /tmp/vs-work survives on a warm
#    machine and the job resumes from its last completed step) for BUDGET seconds (default 140), then
#    writes the report of every round committed by both calls.
# 2. benchmarks/gen_step_speed.py --device cuda (about 30 s): generator steps default vs channels-last,
#    synthesis forwards fp32 vs channels-last vs bf16, into $OUT/gen/.
# Results: $OUT/device-{report,runs}.tgz, $OUT/gen/gen_step_speed-cuda.{md,json}.
# CPU dry run: PY=.venv/bin/python INSTALL=0 PRESET=tiny KIT=scratch/kit-small BUDGET=60
#   GEN_ARGS="--device cpu --preset tiny --train-steps 3 --warmup 1 --turns 1 --synth-repeats 1" OUT=scratch/call-out
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
PY=${PY:-python3}; OUT=${OUT:-scratch/device-out}
export PY OUT
mkdir -p "$OUT/gen"
echo "== resume, seeds ${SEEDS:-0}, budget ${BUDGET:-140} s ($(date -u))"
SEEDS=${SEEDS:-0} PARTS=${PARTS:-adapted} BUDGET=${BUDGET:-140} MEMCHECK=0 bash benchmarks/device_gpu.sh
echo "== generator step speed ($(date -u))"
PYTHONPATH=/tmp/site:$PWD timeout 75 $PY benchmarks/gen_step_speed.py \
  ${GEN_ARGS:---device cuda --preset gpu --train-steps 40 --warmup 5 --turns 2 --synth-repeats 10 --threads 4} \
  --out "$OUT/gen" > "$OUT/gen/gen_step_speed.log" 2>&1
tail -25 "$OUT/gen/gen_step_speed.log"
echo "device_call2.sh done after $(( $(date +%s) - T0 )) s"
