"""A round another program adds (a terminal's ``vessel-studio adapt``) under the image on screen: its maps and mask are
read in a worker, not on the GUI thread (session 37: each round a terminal added stalled the window 0.2-0.36 s while
the GUI thread read and drew them), and what arrives late is dropped."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import commit_rounds, fake_probability, wait_for_workers

pytestmark = pytest.mark.gui


def _outside(lines):
    return [s for s in lines if "outside this window" in s]


@pytest.fixture
def reads_on_gui_thread(monkeypatch):
    """The reads and computations of maps and masks made on the GUI thread (the project's maps and saved
    corrections, the uncertainty, the mask drawn from a map), by name; cleared by the test when it starts
    watching."""
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    seen: list[str] = []

    def wrap(owner, name):
        real = getattr(owner, name)

        def recorded(*a, **k):
            if threading.current_thread() is threading.main_thread():
                seen.append(name)
            return real(*a, **k)

        monkeypatch.setattr(owner, name, recorded)

    for name in ("prediction", "correction"):
        wrap(Project, name)
    for name in ("uncertainty", "current_mask", "probability", "label_free_stats"):
        wrap(tasks, name)
    return seen


def test_a_round_added_elsewhere_is_read_off_the_gui_thread_and_shown(studio, said, qtbot, tmp_path,
                                                                     reads_on_gui_thread):
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    proj = studio.project
    image_id = review.image_id
    shape = proj.images[0].shape[:2]
    maps = {i: fake_probability(shape, 40 + i) for i in range(2)}
    other = Project.open(proj.folder)  # a terminal's adapt
    commit_rounds(other, tmp_path, {0: {image_id: maps[0]}})
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data, maps[0]), timeout=5000)
    wait_for_workers(qtbot)
    reads_on_gui_thread.clear()
    said.clear()
    commit_rounds(other, tmp_path, {1: {image_id: maps[1]}})
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data, maps[1]), timeout=5000)
    assert _outside(said) == ["the project was changed outside this window: round(s) added: 1"]
    assert reads_on_gui_thread == []
    # the mask on screen is the new map's (no correction: the map at the threshold), with no unsaved edits
    assert np.array_equal(studio.viewer.layers["mask"].data > 0, maps[1] >= review.threshold.value())
    assert not review.dirty
    assert review.edit_state.text().startswith("mask from:")
    assert "round 1" in review.showing.text()
    assert "agreement with round 0" in review.stats.text()  # the statistics of the new map, computed in the worker


def test_a_corrected_image_keeps_its_correction_when_a_round_arrives(studio, qtbot, tmp_path, reads_on_gui_thread):
    """The mask of an image with a saved correction is the correction, read in the worker too."""
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    proj = studio.project
    image_id = review.image_id
    shape = proj.images[0].shape[:2]
    theirs = np.zeros(shape, bool)
    theirs[10:30, 10:30] = True
    review.viewer.layers["mask"].data = theirs.astype(np.uint8)
    assert review.save()
    other = Project.open(proj.folder)
    wait_for_workers(qtbot)
    reads_on_gui_thread.clear()
    p = fake_probability(shape, 50)
    commit_rounds(other, tmp_path, {0: {image_id: p}})
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data, p), timeout=5000)
    assert reads_on_gui_thread == []
    assert np.array_equal(studio.viewer.layers["mask"].data > 0, theirs)
    assert review._mask_origin == "corrected" and not review.dirty


@pytest.fixture
def gated_reads(monkeypatch):
    """``tasks.read_maps_for_review`` held until the test sets the returned event; the image ids it was asked for."""
    from vessel_studio.gui import tasks

    gate, asked = threading.Event(), []
    real = tasks.read_maps_for_review

    def held(proj, image_id, which, **kw):
        asked.append(image_id)
        assert gate.wait(10)
        return real(proj, image_id, which, **kw)

    monkeypatch.setattr(tasks, "read_maps_for_review", held)
    return gate, asked


def test_a_newer_round_arriving_during_the_read_wins(studio, said, qtbot, tmp_path, gated_reads, monkeypatch):
    """Rounds 0 and 1 arrive one after the other while the read for round 0 is still running: round 0's maps, read
    before round 1 was told, are not shown over round 1's (the read asked for round 1 shows it)."""
    from vessel_studio.gui import review_panel
    from vessel_studio.store import Project

    gate, asked = gated_reads
    review = studio.panels["Review"]
    proj = studio.project
    image_id = review.image_id
    shape = proj.images[0].shape[:2]
    maps = {i: fake_probability(shape, 60 + i) for i in range(2)}
    other = Project.open(proj.folder)
    applied = []
    real_reload = review_panel.ReviewPanel._reload_maps

    def reload(self, keep_edits=False, ahead=None):
        applied.append(None if ahead is None else ahead.get("serial"))
        return real_reload(self, keep_edits, ahead)

    before = studio.viewer.layers["probability"].data.copy()
    commit_rounds(other, tmp_path, {0: {image_id: maps[0]}})
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
    qtbot.waitUntil(lambda: "round(s) added: 0" in " ".join(_outside(said)), timeout=5000)
    first = review._maps_wanted[2]
    commit_rounds(other, tmp_path, {1: {image_id: maps[1]}})
    qtbot.waitUntil(lambda: "round(s) added: 1" in " ".join(_outside(said)), timeout=5000)
    assert review._maps_wanted[2] > first
    # nothing was read on the GUI thread meanwhile: the map before stays on screen
    assert np.array_equal(studio.viewer.layers["probability"].data, before)
    monkeypatch.setattr(review_panel.ReviewPanel, "_reload_maps", reload)
    gate.set()
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data, maps[1]), timeout=5000)
    wait_for_workers(qtbot)
    assert first not in applied  # the read for round 0 arrived after round 1 was told: dropped
    assert np.array_equal(studio.viewer.layers["probability"].data, maps[1])


def test_a_read_arriving_after_another_image_was_shown_is_dropped(studio, said, qtbot, tmp_path, gated_reads):
    from vessel_studio.store import Project

    gate, asked = gated_reads
    review = studio.panels["Review"]
    proj = studio.project
    ids = [r.id for r in proj.images]
    shape = proj.images[0].shape[:2]
    maps = {i: fake_probability(shape, 70 + i) for i in range(2)}
    other = Project.open(proj.folder)
    assert review.image_id == ids[0]
    commit_rounds(other, tmp_path, {0: {ids[0]: maps[0], ids[1]: maps[1]}})
    qtbot.waitUntil(lambda: asked == [ids[0]], timeout=5000)
    studio.select_image(ids[1])  # stepped on while image 0's new maps are read
    assert review.image_id == ids[1]
    assert np.array_equal(studio.viewer.layers["probability"].data, maps[1])
    gate.set()
    wait_for_workers(qtbot)
    qtbot.wait(50)
    assert review.image_id == ids[1]
    assert np.array_equal(studio.viewer.layers["probability"].data, maps[1])
