#!/bin/bash
# A (no corrections) and C (10 validation images accepted unedited), round 0, cpu preset, seed 0, in parallel
set -e
DATA=${DATA:-/work/shared/data}; W=${W:-scratch/s25/accept}; OUT=benchmarks/results/accept-round0
PY=.venv/bin/python; mkdir -p $W
for m in none accept; do
  rm -rf $W/$m $W/$m-accepted; $PY $OUT/make_project.py $W/$m $DATA $m
done
$PY -m vessel_studio evaluate --pred $W/accept-accepted --gt $DATA/OCTA-500/Validation/OCTA500_3M_val_labels \
    --json $OUT/accepted-masks-vs-validation-labels.json
for m in none accept; do
  ( /usr/bin/time -v nice -n 10 $PY -m vessel_studio adapt $W/$m --source-images $DATA/DRIVE/training/images \
      --source-masks $DATA/DRIVE/training/1st_manual --preset cpu --rounds 0 --seed 0 --threads 1 --quiet \
      > $W/$m.log 2>&1 ) &
done
wait
for m in none accept; do
  $PY -m vessel_studio segment --model $W/$m --out $W/$m-pred --modality octa $DATA/OCTA-500/Testing/OCTA500_3M_test_images > /dev/null
  $PY -m vessel_studio evaluate --pred $W/$m-pred --gt $DATA/OCTA-500/Testing/OCTA500_3M_test_labels --json $OUT/$m.json
  $PY -m vessel_studio rounds $W/$m > $OUT/$m-rounds.txt
  grep -E "Elapsed|Maximum resident" $W/$m.log > $OUT/$m-time.txt || true
done
