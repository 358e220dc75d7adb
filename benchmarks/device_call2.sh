#!/usr/bin/env bash
# The second device call of a lease, on the machine benchmarks/device_call.sh left warm (DEVICE.md):
#   run(command="bash benchmarks/device_call2.sh", carry=["device-kit"], timeout_s=240)
# Call it at once after the first call returns (the machine goes back after 30 s idle).
# 1. Resumes the first call's runs (the plan of benchmarks/device_plan.env, the same EXTRA, SEEDS,
#    PARTS and WORK as device_call.sh; WORK survives on a warm machine, every finished part is cached
#    and an adaptation resumes from its last completed step) for BUDGET seconds (default 190), then
#    writes the report of everything both calls finished (REPORT_TIMEOUT 30 s: with timeout_s=240 the
#    call keeps 50 s after the budget for the report and the archives).
# 2. GEN=1 (off by default since session 19 measured it): benchmarks/gen_step_speed.py --device cuda
#    (about 30 s): generator steps default vs channels-last, synthesis forwards fp32 vs channels-last
#    vs bf16, into $OUT/gen/.
# Results: $OUT/device-{report,runs}.tgz (and $OUT/gen/gen_step_speed-cuda.{md,json} with GEN=1).
# CPU dry run: PY=.venv/bin/python INSTALL=0 PRESET=tiny KIT=scratch/kit-small BUDGET=60 EXTRA="" GEN=1
#   GEN_ARGS="--device cpu --preset tiny --train-steps 3 --warmup 1 --turns 1 --synth-repeats 1" OUT=scratch/call-out
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
. benchmarks/device_plan.env
PY=${PY:-python3}; OUT=${OUT:-scratch/device-out}
export PY OUT
export EXTRA=${EXTRA-$PLAN_EXTRA} SEEDS=${SEEDS:-$PLAN_SEEDS} PARTS=${PARTS:-$PLAN_PARTS} WORK=${WORK:-$PLAN_WORK}
export SERIAL=${SERIAL:-1}
echo "== resume, seeds $SEEDS (serial $SERIAL), parts $PARTS, extra '$EXTRA', budget ${BUDGET:-190} s ($(date -u))"
REPORT_TIMEOUT=${REPORT_TIMEOUT:-30} BUDGET=${BUDGET:-190} MEMCHECK=0 bash benchmarks/device_gpu.sh
if [ "${GEN:-0}" = 1 ]; then
  mkdir -p "$OUT/gen"
  echo "== generator step speed ($(date -u))"
  PYTHONPATH=/tmp/site:$PWD timeout 75 $PY benchmarks/gen_step_speed.py \
    ${GEN_ARGS:---device cuda --preset gpu --train-steps 40 --warmup 5 --turns 2 --synth-repeats 10 --threads 4} \
    --out "$OUT/gen" > "$OUT/gen/gen_step_speed.log" 2>&1
  tail -25 "$OUT/gen/gen_step_speed.log"
fi
echo "device_call2.sh done after $(( $(date +%s) - T0 )) s"
