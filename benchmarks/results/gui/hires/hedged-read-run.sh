#!/bin/bash
# before (9ac5d9e) / after (HEAD) alternating, with two busy loops at nice 10 standing in for an adaptation
# round's training threads (the studio runs them at background priority: the GUI thread's nice + 10)
cd /work/main
nice -n 10 python3 -c 'while True: pass' & B1=$!
nice -n 10 python3 -c 'while True: pass' & B2=$!
for n in 1 2; do
for side in before after; do
  tree=/work/main; [ $side = before ] && tree=/tmp/base27b
  rm -rf scratch/s27/burst/gui-$side
  xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=$tree .venv/bin/python benchmarks/gui_review.py \
    --files scratch/hires-data/jpeg --steps 12 --pause 0.5 --wait-shown --bursts 4 --burst 4 --burst-gap 0.1 \
    --saves 6 --skip-export --work scratch/s27/burst/gui-$side --out scratch/s27/burst/load-$side-run$n.json > scratch/s27/burst/load-$side-$n.log 2>&1
  echo "$side $n rc=$? $(date +%T) $(cat /proc/loadavg)"
done; done
kill $B1 $B2
