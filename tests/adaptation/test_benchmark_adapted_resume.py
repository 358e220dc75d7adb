"""The benchmark's adapted part after a run stopped between the adaptation job's end and its
``adapt-result.json`` (session 34 QA): it called ``adapt`` again, which adds the preset's rounds after the
committed ones (a tiny drive-stare run reported round 4 of a 2-round config as its last round)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_finished_adaptation_is_recorded_not_run_again(tmp_path, monkeypatch):
    import vessel_studio.adaptation.job as job
    from vessel_studio.adaptation import benchmark
    from vessel_studio.adaptation.config import AdaptConfig
    from vessel_studio.events import collect

    ensure_synthesis()
    proj, bundle, _ = make_setup(tmp_path / "setup", n_target=2)
    collect(job.adapt(proj, AdaptConfig.preset("tiny", rounds=0, threads=1, stop_agreement=1.01), source=bundle))
    spec = benchmark.BenchmarkSpec(pair="drive-octa500", data=tmp_path, work=tmp_path / "work", preset="tiny")
    base = spec.work / "seed-0"
    base.mkdir(parents=True)
    shutil.move(str(proj.folder), str(base / "project"))  # the job ended; adapt-result.json was never written
    (base / "source-only").mkdir()
    (base / "source-only" / "model.safetensors").write_bytes(b"")  # only looked for before the job

    def again(*args, **kwargs):
        raise AssertionError("adapt was called again on a finished adaptation")

    monkeypatch.setattr(job, "adapt", again)
    import vessel_studio.io.datasets

    monkeypatch.setattr(vessel_studio.io.datasets, "dataset", lambda *a, **k: [])  # the source images: none here
    image = np.zeros((64, 64), np.uint8)
    gt = np.zeros((64, 64), bool)
    gt[:, 30:33] = True
    out = benchmark.part_adapted(spec, 0, [("a", image, gt, np.ones((64, 64), bool))])
    assert [r["round"] for r in out["rounds"]] == [0]
    assert out["result"]["stopped_early"] is False and "recovered" in out["result"]
    assert (base / "adapt-result.json").is_file()

    # a killed job (its work/job.json left) is still resumed by adapt
    (base / "adapt-result.json").unlink()
    (base / "project" / "work").mkdir(exist_ok=True)
    (base / "project" / "work" / job.JOB_FILE).write_text("{}")
    with pytest.raises(AssertionError, match="called again"):
        benchmark.part_adapted(spec, 0, [])
