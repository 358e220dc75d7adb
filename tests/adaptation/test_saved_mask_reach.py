"""Which rounds of a running adaptation read a mask saved now (``adaptation.job.saved_mask_reach``), checked
against what ``adapt`` does: the Review panel's note on a saved mask follows it (tests/gui/test_outside_job.py).
Session 39: the note said a mask saved in the last round is not trained on, though a re-run of that round by the
label-free guard reads the saved masks again; and "from its next round" though the stopping rule may end the run
after the round in progress."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, adapt
from vessel_studio.adaptation.job import saved_mask_reach
from vessel_studio.events import Progress
from vessel_studio.store import Project

ensure_synthesis()

TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1)


def test_a_mask_saved_in_the_last_rounds_first_attempt_is_trained_on_by_the_guards_re_run(tmp_path, monkeypatch):
    """What the code does: each attempt of a round builds its ``RoundContext`` (the saved masks read) before its work
    folder is made, so the guard's re-run of the last round trains on a mask saved during the first attempt. While
    the first attempt runs ``saved_mask_reach`` says a re-run may come; during the re-run (the last attempt) none."""
    import vessel_studio.adaptation.job as jobmod

    real, looks = jobmod.history_warnings, []

    def flag_the_first_attempt(history):
        looks.append(1)
        out = real(history)
        return {**out, 0: ["collapse: forced by the test"]} if len(looks) == 1 else out

    monkeypatch.setattr(jobmod, "history_warnings", flag_the_first_attempt)
    proj, bundle, _ = make_setup(tmp_path)
    image = proj.images[0]
    job = adapt(proj, TINY.replace(rounds=0, guard_retries=1, seed=3), source=bundle)
    seen, saved = [], False
    try:
        while True:
            event = next(job)
            if not isinstance(event, Progress) or event.round != 0:
                continue
            reach = saved_mask_reach(proj)
            seen.append((reach.started, reach.in_last_round, reach.retry_left))
            if not saved and (proj.work_dir / "round-000").is_dir():  # the first attempt has begun
                mask = np.zeros(image.shape[:2], bool)
                mask[10:20, :] = True
                proj.save_correction(image.id, mask)
                saved = True
    except StopIteration:
        pass
    assert saved and (True, True, True) in seen and seen[-1] == (True, True, False)
    log = [json.loads(line) for line in (proj.folder / "log.jsonl").read_text().splitlines()]
    trained = [e for e in log if e["message"] == "round trained on corrected masks"]
    assert trained and trained[0]["round"] == 0 and trained[0]["images"] == [image.name]


def test_rounds_auto_is_recorded_resolved_so_the_round_in_progress_and_the_last_are_known(tmp_path):
    """What the code does with ``rounds="auto"``: ``adapt`` resolves it before writing ``work/job.json``, so the run's
    last round is known (``rounds_in_progress`` would give None only for a record holding "auto", which ``adapt`` never
    writes). The default stopping rule may end such a run before that last round: said so (``may_stop``)."""
    from vessel_studio.adaptation.config import CROSS_MODALITY_ROUNDS

    proj, bundle, _ = make_setup(tmp_path)
    job = adapt(proj, AdaptConfig.preset("tiny", threads=1, rounds="auto"), source=bundle)
    try:
        while not (proj.work_dir / "job.json").is_file():
            next(job)
        rounds = json.loads((proj.work_dir / "job.json").read_text())["config"]["rounds"]
        assert rounds == CROSS_MODALITY_ROUNDS and isinstance(rounds, int)  # fundus source, OCT-A project
        reach = saved_mask_reach(proj)
        assert (reach.round, reach.last, reach.started) == (0, rounds, False)
        assert not reach.may_stop  # round 0 never stops a run (selection.should_stop)
    finally:
        job.close()  # a cancel: nothing kept
    assert not Project.open(proj.folder).rounds


def _record(proj, *, base, rounds, retries=0, stop_agreement=0.97, min_rounds=1, folders=()):
    work = proj.work_dir
    work.mkdir(exist_ok=True)
    config = TINY.replace(rounds=rounds, guard_retries=retries, stop_agreement=stop_agreement,
                          min_rounds=min_rounds).to_dict()
    (work / "job.json").write_text(json.dumps({"key": "k", "base_round": base, "config": config}))
    for name in folders:
        (work / name).mkdir()


@pytest.mark.parametrize("base, rounds, retries, stop, min_rounds, folders, stopping, want", [
    # a run making round 0 then 2 more, in round 0: round 0 never stops it
    (None, 2, 0, 0.97, 1, ["round-000"], False, (0, 2, True, False, False)),
    (None, 2, 0, 0.97, 1, [], False, (0, 2, False, False, False)),  # round 0 not begun: it reads the mask
    # a run going on from round 3 (rounds 4..6), in round 4: the stopping rule may end it after round 4
    (3, 3, 0, 0.97, 1, ["round-004"], False, (4, 6, True, False, True)),
    (3, 3, 0, 0.97, 2, ["round-004"], False, (4, 6, True, False, False)),  # min_rounds 2: not after round 4
    (3, 3, 0, 1.01, 1, ["round-004"], False, (4, 6, True, False, False)),  # stop_agreement above 1: never
    (3, 3, 0, 0.97, 1, ["round-004"], True, (4, 4, True, False, False)),  # "Stop after this round": its last
    # the last round (6): the guard may run it again while attempts are left
    (5, 1, 2, 0.97, 1, ["round-006", "round-006-retry-1"], False, (6, 6, True, True, False)),
    (5, 1, 2, 0.97, 1, ["round-006", "round-006-retry-1", "round-006-retry-2"], False, (6, 6, True, False, False)),
    (5, 1, 0, 0.97, 1, ["round-006"], False, (6, 6, True, False, False)),
])
def test_saved_mask_reach_from_the_runs_record(tmp_path, base, rounds, retries, stop, min_rounds, folders, stopping,
                                               want):
    from vessel_studio.store import RoundRecord

    proj = Project.create(tmp_path / "p", modality="octa")
    for k in range(0 if base is None else base + 1):
        (tmp_path / f"r{k}" / "segmenter").mkdir(parents=True)
        proj.commit_round(tmp_path / f"r{k}", RoundRecord(index=k, folder=""))
    _record(proj, base=base, rounds=rounds, retries=retries, stop_agreement=stop, min_rounds=min_rounds,
            folders=folders)
    r = saved_mask_reach(proj, stop_requested=stopping)
    assert (r.round, r.last, r.started, r.retry_left, r.may_stop) == want


def test_saved_mask_reach_is_unknown_without_a_readable_record(tmp_path):
    proj = Project.create(tmp_path / "p", modality="octa")
    assert saved_mask_reach(proj) is None
    proj.work_dir.mkdir()
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": None,
                                                        "config": {"rounds": "auto"}}))
    assert saved_mask_reach(proj) is None  # a record holding "auto" (adapt writes it resolved)
