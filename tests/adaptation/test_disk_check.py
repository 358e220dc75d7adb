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
    need = disk.round_need(proj, [], TINY, 2)
    with pytest.raises(disk.InsufficientDiskError, match=rf"--prune` would free {disk.amounts(need, 0, freed)[2]} "):
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


def test_the_message_never_says_a_round_needs_what_is_free():
    """Session 35 QA (a 140 MB disk): "round 2 needs about 0.1 GB of disk ... and 0.1 GB is free" (both "{:.1f} GB",
    91 MB needed, 84 MB free), and "0.0 GB is free" on a 20 MB disk. Under 1 GB the amounts are MB,
    given with decimals enough to tell the need from the free space."""
    assert disk.amounts(91_000_000, 84_000_000, 1_000_000) == ["91 MB", "84 MB", "1 MB"]
    assert disk.amounts(67_300_001, 20_900_000) == ["67 MB", "21 MB"]
    assert disk.amounts(3_240_000_000, 3_210_000_000, 500_000_000) == ["3.24 GB", "3.21 GB", "0.50 GB"]
    assert disk.amounts(3_201_000_000, 3_199_000_000) == ["3.201 GB", "3.199 GB"]
    assert disk.amounts(1_500_000_000, 900_000_000) == ["1.5 GB", "0.9 GB"]


def test_too_little_disk_names_amounts_that_differ(tmp_path):
    proj, _, _ = make_setup(tmp_path)

    class T:
        shape = (100, 100)

    cfg = TINY.resolve_auto("fundus", "fundus")
    need = disk.round_need(proj, [T()], cfg, None)  # ~67 MB: the margin and a small map
    with pytest.raises(disk.InsufficientDiskError) as err:
        disk.check_disk(proj, [T()], cfg, 0, None, free=need - 2_000_000)
    msg = str(err.value)
    assert f"needs about {need / 1e6:.0f} MB of disk" in msg
    assert f"and {(need - 2_000_000) / 1e6:.0f} MB is free" in msg, msg
