#!/bin/bash
# first-image stall, session-start code (2acb629) vs this session's main, alternated, one trial each
for i in 1 2 3 4 5; do
  for v in before main; do
    d=/work/main; [ $v = before ] && d=/work/wt-before
    (cd $d && PYTHONPATH=$d xvfb-run -a -s "-screen 0 1600x1000x24" /work/main/.venv/bin/python benchmarks/gui_job_start.py \
      --jobs add,open --variants after --trials 1 --out /work/main/scratch/s24/first/$v-$i.json > /work/main/scratch/s24/first/$v-$i.log 2>&1)
  done
done
echo done > /work/main/scratch/s24/first/DONE
