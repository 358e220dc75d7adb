"""A job's disk: a committed round's maps are on disk once. The round folder is assembled and
committed with hard links (``io.atomic.link_or_copy``), and a committed round's work copies of its
full-resolution maps are deleted at once, not at the job's end; the model-scale maps a resumed
job reads stay."""

from __future__ import annotations

import os

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, adapt
from vessel_studio.events import Progress
from vessel_studio.io import atomic
from vessel_studio.store import Project, RoundRecord

ensure_synthesis()

TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1, source_weight=0.5)


def test_a_committed_rounds_work_maps_go_at_once(tmp_path):
    proj, bundle, _ = make_setup(tmp_path)
    job = adapt(proj, TINY, source=bundle)
    for ev in job:  # round 1 has started: round 0 is committed
        if isinstance(ev, Progress) and ev.round == 1:
            break
    work = proj.folder / "work" / "round-000"
    try:
        assert [r.index for r in Project.open(proj.folder).rounds] == [0]
        assert not (work / "pseudo").exists() and not (work / "pseudo-delivered").exists()
        assert not (work / "final").exists()
        assert sorted(p.name for p in (work / "pseudo-model").glob("*.npy"))  # what a resumed job reads
        committed = proj.folder / "rounds" / "round-000"
        maps = sorted((committed / "pseudo").glob("*.tif")) + sorted((committed / "pseudo-chain").glob("*.tif"))
        assert len(maps) == 2 * len(proj.images)
        assert all(p.stat().st_nlink == 1 for p in maps)  # the only copy left
    finally:
        job.close()


def _round_src(tmp_path):
    src = tmp_path / "built"
    (src / "pseudo").mkdir(parents=True)
    atomic.write_bytes(src / "pseudo" / "a.tif", b"map")
    return src


def test_commit_round_links_when_asked_and_copies_where_it_cannot(tmp_path, monkeypatch):
    proj = Project.create(tmp_path / "p", modality="octa")
    src = _round_src(tmp_path)
    proj.commit_round(src, RoundRecord(index=0, folder=""), link=True)
    got = proj.folder / "rounds" / "round-000" / "pseudo" / "a.tif"
    assert os.path.samefile(got, src / "pseudo" / "a.tif") and got.stat().st_nlink == 2
    proj.commit_round(src, RoundRecord(index=1, folder=""))  # the default: a copy
    other = proj.folder / "rounds" / "round-001" / "pseudo" / "a.tif"
    assert not os.path.samefile(other, src / "pseudo" / "a.tif") and other.read_bytes() == b"map"

    def no_links(a, b):
        raise OSError(95, "Operation not supported")  # e.g. exFAT

    monkeypatch.setattr(os, "link", no_links)
    proj.commit_round(src, RoundRecord(index=2, folder=""), link=True)
    copied = proj.folder / "rounds" / "round-002" / "pseudo" / "a.tif"
    assert not os.path.samefile(copied, src / "pseudo" / "a.tif") and copied.read_bytes() == b"map"


def test_a_file_replaced_at_one_name_leaves_its_link_alone(tmp_path):
    """Why linking is safe: every writer replaces a file (a new inode), never writes into it."""
    a = tmp_path / "a.bin"
    atomic.write_bytes(a, b"one")
    atomic.link_or_copy(a, tmp_path / "b.bin")
    atomic.write_bytes(a, b"two")
    assert (tmp_path / "b.bin").read_bytes() == b"one" and a.read_bytes() == b"two"
