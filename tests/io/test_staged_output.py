"""``io.folders.staged_output`` (the export's folder written whole): two writers into one folder at once
(session 28 QA: between one's two renames the other's swap failed with "Directory not empty", or its
fallback nested ``masks/masks``)."""

from __future__ import annotations

import contextlib
import threading

import pytest

from vessel_studio.io import folders

ENTRIES = ("masks", "record.json")


def _hammer(out, rounds: int) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(k: int) -> None:
        start.wait()
        for i in range(rounds):
            try:
                with folders.staged_output(out, tag="export", entries=ENTRIES) as tmp:
                    (tmp / "masks").mkdir()
                    for j in range(3):
                        (tmp / "masks" / f"{j}.png").write_bytes(b"x" * (k + 1))
                    (tmp / "record.json").write_text(f"{k} {i}")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_two_writers_into_one_folder_each_swap_a_whole_output(tmp_path):
    out = tmp_path / "export"
    assert _hammer(out, 150) == []
    assert sorted(p.name for p in out.iterdir()) == ["masks", "record.json"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["0.png", "1.png", "2.png"]
    sizes = {len((out / "masks" / f"{j}.png").read_bytes()) for j in range(3)}
    assert len(sizes) == 1  # one writer's files, whole
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no working folder left


def test_without_the_lock_the_swaps_collide(tmp_path, monkeypatch):
    """The same hammering with the swap's lock taken out fails: what the test above depends on."""
    monkeypatch.setattr(folders, "_folder_lock", lambda folder: contextlib.nullcontext())
    collided = any(_hammer(tmp_path / f"export{n}", 150) for n in range(5))
    if not collided:
        pytest.skip("no collision in 750 unlocked swaps on this machine (timing)")


def test_a_working_folder_is_live_before_it_exists(tmp_path, monkeypatch):
    """Session 29: a working folder was made, then counted live; another thread's start (``_sweep``) between
    the two removed it as a leftover of this process, and the writer failed with FileNotFoundError (the test
    above, one run in several under load). Here that other start runs at the very moment the folder is
    counted live."""

    out = tmp_path / "export"

    class SweepWhenAdded(set):
        def add(self, item):
            if "partial" in item:
                folders._sweep(out, "export")  # another writer starting now
            super().add(item)

    monkeypatch.setattr(folders, "_LIVE", SweepWhenAdded())
    with folders.staged_output(out, tag="export", entries=ENTRIES) as tmp:
        (tmp / "record.json").write_text("whole")
    assert (out / "record.json").read_text() == "whole"
