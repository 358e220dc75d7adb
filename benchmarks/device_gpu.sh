#!/usr/bin/env bash
# The `gpu` preset of the adaptation benchmark on the device machine, in ONE call (benchmarks/DEVICE.md).
#
# Prepare here first: python benchmarks/device_kit.py   (data subset + diffusers wheel in device-kit/)
# Then: run(command="bash benchmarks/device_gpu.sh", carry=["device-kit"], timeout_s=600)
#
# What it does, within BUDGET seconds of benchmark work (then ~1 min of reporting and packing):
#   1. installs the carried wheels into /tmp/site and records the machine (nvidia-smi, versions);
#   2. benchmarks/gpu_memory.py at the preset (one step of each trainer and one synthesis chunk,
#      peak CUDA memory against the 16 GB budget), in the background;
#   3. the source generator once (seed 0's, shared by all seeds), while every seed trains its
#      source-only segmenter; then one `vessel-studio benchmark PAIR --preset PRESET --seeds S
#      --parts PARTS` per seed, all seeds at once on the one GPU (each part is cached; a part cut by
#      the budget is lost, but the rounds an adaptation committed are scored);
#   4. a report (`--report-only`: scores whatever finished; trains nothing) and two archives in $OUT:
#      device-report.tgz (results.md/json, the first seed's fp16 segmenter) and device-runs.tgz
#      (logs, scores, timings, peak memory, project manifests and logs; no weights, no maps).
#
# Environment (defaults): KIT=device-kit PAIR=drive-octa500 PRESET=gpu SEEDS="0 1 2" BUDGET=430
#   PARTS="adapted frangi histmatch oracle" PY=python3 WORK=/tmp/vs-work OUT (set by the tool)
#   EXTRA="" (more benchmark arguments, e.g. "--set rounds=1"), MEMCHECK=1, INSTALL=1,
#   SERIAL=0 (1: every seed trains its source-only segmenter at the start as usual, but the seeds' PARTS
#   run one seed after another, in the order of SEEDS, so each adaptation has the GPU to itself and its
#   stage times are those of one run alone; the first seed's parts wait for every seed's source-only
#   segmenter, and the parts get half of the machine's CPU threads), REPORT_TIMEOUT=120 (seconds for
#   the report at the end; the device calls set it inside their reserve).
# Here (CPU dry run of the same flow): PY=.venv/bin/python INSTALL=0 PRESET=tiny OUT=scratch/device-out bash benchmarks/device_gpu.sh
set -u
cd "$(dirname "$0")/.."
KIT=${KIT:-device-kit}; PAIR=${PAIR:-drive-octa500}; PRESET=${PRESET:-gpu}; SEEDS=${SEEDS:-"0 1 2"}
BUDGET=${BUDGET:-430}; PARTS=${PARTS:-"adapted frangi histmatch oracle"}; PY=${PY:-python3}
EXTRA=${EXTRA:-}; W=${WORK:-/tmp/vs-work}; OUT=${OUT:-scratch/device-out}
mkdir -p "$OUT" "$W"
T0=$(date +%s)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if [ "${INSTALL:-1}" = 1 ] && ls "$KIT"/whl/*.whl > /dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$KIT"/whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
{
  date -u
  nvidia-smi 2>&1 | head -15
  $PY -c "import torch, diffusers, vessel_studio; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'diffusers', diffusers.__version__)"
} > "$W/env.txt" 2>&1
cat "$W/env.txt"
if ! $PY -c "import vessel_studio.adaptation.benchmark" 2>> "$W/env.txt"; then
  echo "vessel_studio does not import"; cp "$W/env.txt" "$OUT/"; exit 1
fi
NS=$(echo $SEEDS | wc -w)
TH=$(( $(nproc) / (NS + 1) )); [ "$TH" -lt 1 ] && TH=1

if [ "${MEMCHECK:-1}" = 1 ]; then
  ( timeout $BUDGET $PY benchmarks/gpu_memory.py --preset $PRESET --threads $TH --out "$W/gpu-memory" \
      --note "Device run by benchmarks/device_gpu.sh; measured while the benchmark seeds ran on the same GPU (peaks are per process)." \
      > "$W/gpu-memory.log" 2>&1; echo "exit $?" >> "$W/gpu-memory.log" ) &
fi
# The source generator is trained once (seed 0's, on the source's training split) and shared by every
# seed: the issue's gpu timing counts the adaptation with the source models given. Meanwhile each seed
# trains its source-only segmenter; then it waits for the generator and runs the other parts.
DEADLINE=$(( T0 + BUDGET ))
left() { local l=$(( DEADLINE - $(date +%s) )); [ $l -lt 1 ] && l=1; echo $l; }
BENCH="$PY -m vessel_studio benchmark $PAIR --preset $PRESET --source-generator train --data $KIT/data --work $W --threads $TH"
G0="$W/$PAIR/seed-0"
( timeout $(left) $BENCH --seeds 0 --parts source-generator $EXTRA > "$W/source-generator.log" 2>&1
  echo "exit $? after $(( $(date +%s) - T0 )) s" >> "$W/source-generator.log" ) &
PREV=""
rm -f "$W"/main-done-* "$W"/source-only-done-*
THM=$TH  # CPU threads of the main parts; with SERIAL=1 they run one at a time, so half the machine
[ "${SERIAL:-0}" = 1 ] && THM=$(( $(nproc) / 2 )) && [ "$THM" -lt 1 ] && THM=1
for s in $SEEDS; do
  (
    timeout $(left) $BENCH --seeds $s --parts source-only $EXTRA >> "$W/seed-$s.log" 2>&1
    touch "$W/source-only-done-$s"
    while [ ! -f "$G0/source-generator-timing.json" ] && ! grep -q "^exit" "$W/source-generator.log" 2> /dev/null \
          && [ $(left) -gt 1 ]; do sleep 2; done
    if [ "$s" != 0 ] && [ -f "$G0/source-generator-timing.json" ] && [ ! -d "$W/$PAIR/seed-$s/source-generator" ]; then
      cp -r "$G0/source-generator" "$W/$PAIR/seed-$s/.sg-tmp" && mv "$W/$PAIR/seed-$s/.sg-tmp" "$W/$PAIR/seed-$s/source-generator"
      cp "$G0/source-generator-timing.json" "$W/$PAIR/seed-$s/"
    fi
    if [ "${SERIAL:-0}" = 1 ]; then  # the seeds' main parts one after another, each alone on the GPU:
      for o in $SEEDS; do  # after every seed's source-only segmenter
        while [ ! -f "$W/source-only-done-$o" ] && [ $(left) -gt 1 ]; do sleep 2; done
      done
      if [ -n "$PREV" ]; then  # and after the previous seed's parts
        while [ ! -f "$W/main-done-$PREV" ] && [ $(left) -gt 1 ]; do sleep 2; done
      fi
    fi
    timeout $(left) $BENCH --seeds $s --parts $PARTS $EXTRA --threads $THM >> "$W/seed-$s.log" 2>&1
    echo "exit $? after $(( $(date +%s) - T0 )) s" >> "$W/seed-$s.log"
    touch "$W/main-done-$s"
  ) &
  [ "${SERIAL:-0}" = 1 ] && PREV=$s
done
wait
T1=$(date +%s)
if [ "${SERIAL:-0}" = 1 ]; then
  HOW="the $NS seeds trained their source-only segmenters at the same time, then (after all of those) ran their other parts one after another on one GPU ($THM CPU threads each), so each adaptation had the GPU to itself"
else
  HOW="the $NS seeds ran at the same time on one GPU ($TH CPU threads each), so stage timings are upper bounds for one run alone"
fi
timeout ${REPORT_TIMEOUT:-120} $PY -m vessel_studio benchmark $PAIR --preset $PRESET --seeds $SEEDS --source-generator train \
  --data "$KIT/data" --work "$W" --report-only --save-segmenter --out "$W/report" $EXTRA \
  --note "Run by benchmarks/device_gpu.sh on the device machine: $HOW; one source generator (seed 0's, trained on the source's training split) was shared by all seeds; benchmark work $((T1 - T0)) s of a ${BUDGET} s budget per seed." \
  > "$W/report.log" 2>&1
echo "report exit $?" >> "$W/report.log"
tail -5 "$W"/seed-*.log "$W/report.log" "$W/gpu-memory.log" 2> /dev/null
[ -f "$W/report/results.md" ] && cat "$W/report/results.md"
[ -d "$W/report" ] && tar -C "$W" -czf "$OUT/device-report.tgz" report
tar -C "$W" -czf "$OUT/device-runs.tgz" --exclude='*.safetensors' --exclude='*.tif' --exclude='*.tiff' \
  --exclude='*.npy' --exclude='*-ckpt' --exclude='work' --exclude='images' --exclude='report' .
ls -la "$OUT"
echo "device_gpu.sh done after $(( $(date +%s) - T0 )) s"
