"""The prepared device calls (benchmarks/DEVICE.md): a lent GPU is 15 minutes a session, so a typo in
the plan or a flow that cannot resume costs a whole lease. These check, here, that the plan the
calls read (benchmarks/device_plan.env) is the pre-registered one and that the benchmark accepts it,
and (slow, real data) that the two calls at the ``tiny`` preset run the seeds one after another and
that the second call resumes what the first cut."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"


def _plan() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", ". benchmarks/device_plan.env; "
                          "printf '%s\\n' \"$PLAN_EXTRA\" \"$PLAN_SEEDS\" \"$PLAN_PARTS\" \"$PLAN_WORK\""],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout.splitlines()
    return dict(zip(("extra", "seeds", "parts", "work"), out))


def test_the_plan_is_the_preregistered_candidate_and_the_benchmark_accepts_it():
    import argparse

    from vessel_studio.adaptation.config import CROSS_MODALITY_ROUNDS, AdaptConfig
    from vessel_studio.commands import benchmark as cmd

    plan = _plan()
    assert plan["extra"] in (BENCH / "results" / "gpu-preset-v2" / "PLAN.md").read_text()
    p = argparse.ArgumentParser()
    cmd.add_arguments(p)
    args = p.parse_args(["drive-octa500", "--preset", "gpu", "--seeds", *plan["seeds"].split(),
                         "--parts", *plan["parts"].split(), *shlex.split(plan["extra"])])
    from vessel_studio.commands.checks import parse_set

    overrides = parse_set(args.set)  # as the command reads --set
    cfg = AdaptConfig.preset("gpu", **overrides).resolve_auto("fundus", "octa")
    assert (cfg.gen_steps, cfg.gen_finetune_steps, cfg.n_synthetic, cfg.seg_steps, cfg.seg_finetune_steps) \
        == (400, 50, 128, 1000, 200)
    assert cfg.rounds == CROSS_MODALITY_ROUNDS and cfg.gen_batch == 32 and cfg.gen_crop == 128
    assert args.source_generator_steps == 1200 and args.seeds == [0, 1, 2]


def test_both_calls_read_the_same_plan():
    for name in ("device_call.sh", "device_call2.sh"):
        text = (BENCH / name).read_text()
        assert ". benchmarks/device_plan.env" in text, name
        assert re.search(r"EXTRA=\$\{EXTRA-\$PLAN_EXTRA\}", text), name


FAKE_PY = r"""#!/usr/bin/env bash
# stands in for python in benchmarks/device_gpu.sh: logs when each benchmark command starts and ends
work=""; prev=""
for a in "$@"; do [ "$prev" = "--work" ] && work=$a; prev=$a; done
echo "$(date +%s.%N) start $*" >> "$FAKE_LOG"
case "$*" in
  *"--parts source-generator"*)
    mkdir -p "$work/drive-octa500/seed-0/source-generator"
    echo '{}' > "$work/drive-octa500/seed-0/source-generator-timing.json";;
  *"benchmark"*) sleep 0.4;;
esac
echo "$(date +%s.%N) end $*" >> "$FAKE_LOG"
exit 0
"""


def _fake_run(tmp_path, serial: str) -> tuple[dict[tuple[str, str], tuple[float, float]], dict[str, str]]:
    fake = tmp_path / f"py-{serial}"
    fake.write_text(FAKE_PY)
    fake.chmod(0o755)
    log = tmp_path / f"calls-{serial}.log"
    env = {**os.environ, "PY": str(fake), "INSTALL": "0", "MEMCHECK": "0", "SEEDS": "0 1 2", "PARTS": "adapted oracle",
           "SERIAL": serial, "BUDGET": "60", "WORK": str(tmp_path / f"work-{serial}"),
           "OUT": str(tmp_path / f"out-{serial}"), "FAKE_LOG": str(log)}
    subprocess.run(["bash", str(BENCH / "device_gpu.sh")], cwd=REPO, check=True, capture_output=True, env=env)
    spans: dict[tuple[str, str], list[float]] = {}
    threads: dict[str, str] = {}
    for line in log.read_text().splitlines():
        t, _, cmd = line.split(" ", 2)
        m = re.search(r"--seeds (\d) --parts (adapted oracle|source-only)", cmd)
        if m and "--report-only" not in cmd:
            spans.setdefault((m.group(1), m.group(2)), []).append(float(t))
            threads[f"{m.group(1)} {m.group(2)}"] = re.findall(r"--threads (\d+)", cmd)[-1]  # the last one counts
    return {k: (v[0], v[1]) for k, v in spans.items()}, threads


def test_serial_runs_each_seeds_parts_after_the_previous_seeds(tmp_path):
    """``SERIAL=1`` (the plan's default): seed s's main parts start only after seed s-1's ended, so each
    adaptation has the GPU to itself; the source-only segmenters still start together. Without it the
    seeds overlap (which is what makes this test able to fail)."""
    spans, threads = _fake_run(tmp_path, "1")
    main = [spans[(s, "adapted oracle")] for s in "012"]
    assert main[0][1] <= main[1][0] and main[1][1] <= main[2][0], main
    starts = [spans[(s, "source-only")][0] for s in "012"]
    assert max(starts) - min(starts) < 0.8  # launched at once (one after another would take >= 0.8 s)
    # the first seed's parts wait for every seed's source-only segmenter, and get half the threads
    assert main[0][0] >= max(spans[(s, "source-only")][1] for s in "012")
    assert threads["0 adapted oracle"] == str(max(len(os.sched_getaffinity(0)) // 2, 1))  # nproc // 2
    spans, _ = _fake_run(tmp_path, "0")
    main = [spans[(s, "adapted oracle")] for s in "012"]
    assert main[1][0] < main[0][1], main


@pytest.mark.slow
def test_two_calls_run_the_seeds_and_the_second_resumes_what_the_first_left(data_dir, tmp_path):
    """The tiny preset through both call scripts on a 3-sample kit. The first call is killed (SIGKILL to
    every process of it, as a lease ending would) once seed 0's adaptation has committed round 1;
    the second call resumes seed 0 from there (no round run twice) and runs seed 1."""
    import signal
    import time

    kit = tmp_path / "kit"
    subprocess.run([sys.executable, str(BENCH / "device_kit.py"), "--limit", "3", "--no-wheels", "--out", str(kit),
                    "--data", str(data_dir)], check=True, capture_output=True)
    work = tmp_path / "work"
    env = {**os.environ, "PY": sys.executable, "INSTALL": "0", "PRESET": "tiny", "KIT": str(kit),
           "EXTRA": "--source-generator-steps 4 --set gen_steps=4 rounds=3", "SEEDS": "0 1", "PARTS": "adapted",
           "WORK": str(work)}
    log0 = work / "drive-octa500" / "seed-0" / "project" / "log.jsonl"

    def events(seed):
        path = work / "drive-octa500" / f"seed-{seed}" / "project" / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []

    first = subprocess.Popen(["bash", str(BENCH / "device_call.sh")], cwd=REPO, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**env, "CALL": "400", "OUT": str(tmp_path / "out1")})
    deadline = time.monotonic() + 300
    while not any(e.get("round") == 1 and e["message"] == "round committed" for e in events(0)):
        assert first.poll() is None and time.monotonic() < deadline, "the first call ended before round 1"
        time.sleep(0.2)
    # the whole call, including the benchmark processes `timeout` runs in process groups of their own
    os.killpg(first.pid, signal.SIGKILL)
    subprocess.run(["pkill", "-KILL", "-f", str(work)], check=False)
    first.wait()
    time.sleep(0.5)
    assert not any(e["message"] == "adaptation finished" for e in events(0)) and log0.is_file()

    subprocess.run(["bash", str(BENCH / "device_call2.sh")], cwd=REPO, check=True, capture_output=True,
                   env={**env, "BUDGET": "250", "OUT": str(tmp_path / "out2")})
    for s in (0, 1):
        ev = events(s)
        assert [e for e in ev if e["message"] == "adaptation finished"][-1]["rounds"][-1] == 3, s
        assert [e["round"] for e in ev if e["message"] == "round committed"] == [0, 1, 2, 3], s
    assert any(e["message"] == "adaptation resumed" for e in events(0))
    report = (work / "report" / "results.md").read_text()
    assert "adapted (last round)" in report
