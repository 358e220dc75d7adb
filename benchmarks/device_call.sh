#!/usr/bin/env bash
# The whole device call of a session with a GPU (benchmarks/DEVICE.md), as ONE command:
#   run(command="bash benchmarks/device_call.sh", carry=["device-kit"], timeout_s=600)
#
# 1. SMOKE=1 (session 18's first call; off by default since the CUDA path has run): the `gpu`
#    preset's model sizes with every step count cut to a few (seed 0 only), plus
#    benchmarks/gpu_memory.py at the full preset. If seed 0's smoke benchmark does not exit 0, the
#    call stops there, so a crash costs a minute or two of device time, not the whole lease.
# 2. SPEED=1 (off by default since session 19 measured it: 0.58x, now the CUDA default):
#    benchmarks/seg_step_speed.py --device cuda (segmenter steps with and without prefetched
#    batches, about 25 s) into $OUT/speed/.
# 3. The `gpu` preset (benchmarks/device_gpu.sh) with the plan of benchmarks/device_plan.env
#    (EXTRA, SEEDS, PARTS, WORK; each can be overridden from the environment; since session 19 the
#    pre-registered candidate of benchmarks/results/gpu-preset-v2/PLAN.md, seeds 0 1 2 with
#    SERIAL=1: one seed's parts after another), with whatever is left of CALL seconds minus RESERVE
#    as its budget.
# Results: $OUT/smoke/*.tgz, $OUT/speed/seg_step_speed-cuda.{md,json}, $OUT/device-{report,runs}.tgz.
# Environment: CALL=600 (the call's timeout_s), RESERVE=60 (session 18: report and archives took 4 s with nothing adapted to score), PY=python3, KIT=device-kit, and for a
# CPU dry run of the logic: PY=.venv/bin/python INSTALL=0 SMOKE=1 SMOKE_PRESET=tiny PRESET=tiny SPEED=1
#   SPEED_ARGS="--device cpu --preset tiny --steps 6 --warmup 1 --turns 1" OUT=scratch/call-out
#   KIT=scratch/kit-small WORK=scratch/call-work EXTRA="--source-generator-steps 4 --set gen_steps=4 rounds=auto"
#   (EXTRA and WORK replace the plan's, which is sized for a GPU)
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
. benchmarks/device_plan.env
CALL=${CALL:-600}; RESERVE=${RESERVE:-60}; PY=${PY:-python3}; OUT=${OUT:-scratch/device-out}
export PY OUT
mkdir -p "$OUT"
if [ "${SMOKE:-0}" = 1 ]; then
  mkdir -p "$OUT/smoke"
  SMALL="--seg-steps 2 --source-generator-steps 2 --set gen_steps=2 gen_finetune_steps=1 n_synthetic=8"
  SMALL="$SMALL synth_batch=8 seg_steps=2 seg_finetune_steps=1 rounds=1 steps=10"
  echo "== smoke ($(date -u))"
  SEEDS=0 BUDGET=100 MEMCHECK=1 PRESET=${SMOKE_PRESET:-gpu} PARTS="adapted frangi histmatch oracle" \
    WORK=/tmp/vs-smoke OUT="$OUT/smoke" EXTRA="$SMALL" bash benchmarks/device_gpu.sh
  if ! grep -q "^exit 0 " /tmp/vs-smoke/seed-0.log; then
    echo "smoke run failed: not running the gpu preset"; tail -40 /tmp/vs-smoke/seed-0.log; exit 1
  fi
fi
if [ "${SPEED:-0}" = 1 ]; then
  mkdir -p "$OUT/speed"
  echo "== segmenter step speed ($(date -u))"
  if [ "${INSTALL:-1}" = 1 ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "${KIT:-device-kit}"/whl/*.whl > /dev/null 2>&1
  fi
  PYTHONPATH=/tmp/site:$PWD timeout 90 $PY benchmarks/seg_step_speed.py \
    ${SPEED_ARGS:---device cuda --preset gpu --steps 120 --warmup 20 --turns 2 --threads 4} \
    --out "$OUT/speed" > "$OUT/speed/seg_step_speed.log" 2>&1
  tail -12 "$OUT/speed/seg_step_speed.log"
fi
B=$(( CALL - ($(date +%s) - T0) - RESERVE ))
export EXTRA=${EXTRA-$PLAN_EXTRA} SEEDS=${SEEDS:-$PLAN_SEEDS} PARTS=${PARTS:-$PLAN_PARTS} WORK=${WORK:-$PLAN_WORK}
export SERIAL=${SERIAL:-1}
echo "== gpu preset, seeds $SEEDS (serial $SERIAL), parts $PARTS, extra '$EXTRA', budget $B s ($(date -u))"
REPORT_TIMEOUT=${REPORT_TIMEOUT:-$(( RESERVE - 20 ))} BUDGET=$B MEMCHECK=0 bash benchmarks/device_gpu.sh
echo "device_call.sh done after $(( $(date +%s) - T0 )) s"
