"""The adaptation checks the free disk before each round: too little stops it at the round's start
with the numbers and what --prune would free; the rounds before stay and a rerun goes on."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, adapt
from vessel_studio.adaptation import disk
from vessel_studio.events import collect
from vessel_studio.store import Project

ensure_synthesis()

TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1)
Usage = namedtuple("Usage", "total used free")


def _free(monkeypatch, free_of):
    real = shutil.disk_usage
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda p: Usage(*real(p)[:2], free_of()))


def test_round_zero_estimate_from_image_sizes(tmp_path):
    proj, _, _ = make_setup(tmp_path)

    class T:
        shape = (1000, 2000)

    one = disk.round_need(proj, [T()], TINY.resolve_auto("fundus", "octa"), None)  # across modalities: weight 0
    assert one == int(1000 * 2000 * 4 / disk.COMPRESSION) + disk.MARGIN_BYTES
    two = disk.round_need(proj, [T()], TINY.replace(source_weight=0.5), None)
    assert two - disk.MARGIN_BYTES == 2 * (one - disk.MARGIN_BYTES)  # pseudo/ and pseudo-chain/
    assert disk.round_need(proj, [T()], TINY.replace(source_weight=0.5, merge_chain=True), None) == one


def test_too_little_disk_stops_before_the_round_and_a_rerun_goes_on(tmp_path, monkeypatch):
    proj, bundle, _ = make_setup(tmp_path)
    free = {"bytes": 10**12}
    _free(monkeypatch, lambda: free["bytes"])
    collect(adapt(proj, TINY.replace(rounds=0), source=bundle))  # round 0
    need = disk.round_need(proj, [], TINY, 0)
    assert need > disk.MARGIN_BYTES  # the committed round 0's size
    free["bytes"] = need - 1
    with pytest.raises(disk.InsufficientDiskError) as err:
        collect(adapt(proj, TINY.replace(rounds=1), source=bundle))
    msg = str(err.value)
    assert msg.startswith(f"{proj.folder}: round 1 needs about") and "is free" in msg
    assert "goes on from round 1" in msg and err.value.errno == 28
    assert [r.index for r in Project.open(proj.folder).rounds] == [0]
    free["bytes"] = need
    res, _ = collect(adapt(proj, TINY.replace(rounds=1), source=bundle))
    assert [r.index for r in res.rounds] == [1]


def test_the_message_names_what_prune_would_free(tmp_path, monkeypatch):
    from vessel_studio.adaptation.selection import review_pick, round_rows
    from vessel_studio.store import plan_prune

    proj, bundle, _ = make_setup(tmp_path)
    collect(adapt(proj, TINY.replace(rounds=2), source=bundle))  # rounds 0-2
    pick = review_pick(round_rows(proj.rounds))[0]
    keep = [] if pick is None else [pick]  # None: every round flagged by the guard, or no fragmentation
    freed = plan_prune(proj, keep=keep).bytes  # what `rounds --prune` deletes: not the hint's round
    assert freed > 0  # at least one of rounds 0 and 1 is neither the latest nor the hint
    with pytest.raises(disk.InsufficientDiskError, match=rf"--prune` would free {freed / 1e9:.1f} GB"):
        disk.check_disk(proj, [], TINY, 3, 2, free=0)
    disk.check_disk(proj, [], TINY, 3, 2, free=10**12)  # enough: no error
    from vessel_studio.store import prune

    prune(proj, keep=keep)  # nothing left to free: says so
    with pytest.raises(disk.InsufficientDiskError, match="free some space on that disk"):
        disk.check_disk(proj, [], TINY, 3, 2, free=0)


def test_the_cli_says_it_in_one_line(tmp_path, monkeypatch, capsys):
    from vessel_studio.cli import main

    proj = Project.create(tmp_path / "p", modality="octa")

    def full(args):
        raise OSError(28, "No space left on device", str(proj.folder / "x.tif"))

    import vessel_studio.commands.rounds as rounds_cmd

    monkeypatch.setattr(rounds_cmd, "run", full)
    assert main(["rounds", str(proj.folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vessel-studio rounds: error: [Errno 28] No space left on device") and len(err.splitlines()) == 1
