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


def _maps_and_another_project(studio, seed):
    """The Review panel, the project, two maps of its first image's shape (seeds ``seed`` and ``seed + 1``) and another
    ``Project`` on its folder (a terminal's adapt, another window)."""
    from vessel_studio.store import Project

    proj = studio.project
    shape = proj.images[0].shape[:2]
    maps = {i: fake_probability(shape, seed + i) for i in range(2)}
    return studio.panels["Review"], proj, maps, Project.open(proj.folder)


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
    review, proj, maps, other = _maps_and_another_project(studio, 40)
    image_id = review.image_id
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

    gate, asked = gated_reads
    review, proj, maps, other = _maps_and_another_project(studio, 60)
    image_id = review.image_id
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
    gate, asked = gated_reads
    review, proj, maps, other = _maps_and_another_project(studio, 70)
    ids = [r.id for r in proj.images]
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


def _counting(layer, counts: dict, name: str) -> None:
    """Count the data and contrast-limits sets of ``layer`` (napari's events) into ``counts[name]``."""
    counts[name] = {"data": 0, "contrast_limits": 0}
    layer.events.data.connect(lambda _e: counts[name].__setitem__("data", counts[name]["data"] + 1))
    layer.events.contrast_limits.connect(
        lambda _e: counts[name].__setitem__("contrast_limits", counts[name]["contrast_limits"] + 1))


def test_a_round_arriving_sets_no_hidden_layer_nor_unchanged_contrast_limits(studio, said, qtbot, tmp_path):
    """Session 38: showing a round another program added drew the hidden compared map's placeholder (zeros again), the
    hidden uncertainty layer and contrast limits equal to the layer's again, each a few ms of the GUI thread's napari
    events at OCT-A's 304 px. Now only the probability layer's data and the mask change."""
    review, proj, maps, other = _maps_and_another_project(studio, 80)
    image_id = review.image_id
    commit_rounds(other, tmp_path, {0: {image_id: maps[0]}})
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data, maps[0]), timeout=5000)
    wait_for_workers(qtbot)
    layers = studio.viewer.layers
    assert not layers["compare"].visible and not layers["uncertainty"].visible
    counts: dict = {}
    for name in ("compare", "probability", "uncertainty"):
        _counting(layers[name], counts, name)
    commit_rounds(other, tmp_path, {1: {image_id: maps[1]}})
    qtbot.waitUntil(lambda: np.array_equal(layers["probability"].data, maps[1]), timeout=5000)
    wait_for_workers(qtbot)
    assert counts == {"compare": {"data": 0, "contrast_limits": 0}, "probability": {"data": 1, "contrast_limits": 0},
                      "uncertainty": {"data": 0, "contrast_limits": 0}}
    assert tuple(layers["probability"].contrast_limits) == (0, 1)


@pytest.mark.parametrize("how", ["checkbox", "layer list eye"])
def test_uncertainty_shown_after_a_round_arrived_is_the_new_rounds(studio, said, qtbot, tmp_path, how):
    """The hidden uncertainty layer is filled when it is shown (Uncertainty map ticked, or napari's eye in the layer
    list): with the uncertainty of the map on screen, the round that arrived while it was hidden."""
    review, proj, maps, other = _maps_and_another_project(studio, 90)
    image_id = review.image_id
    layer = studio.viewer.layers["uncertainty"]
    for i in range(2):
        commit_rounds(other, tmp_path, {i: {image_id: maps[i]}})
        qtbot.waitUntil(lambda i=i: np.array_equal(studio.viewer.layers["probability"].data, maps[i]), timeout=5000)
    assert not layer.visible
    if how == "checkbox":
        review.show_unc.setChecked(True)
    else:
        layer.visible = True
    assert layer.visible
    assert np.allclose(layer.data, 1 - np.abs(2 * maps[1] - 1))
    assert tuple(layer.contrast_limits) == (0, 1)
    wait_for_workers(qtbot)


def test_a_correction_saved_in_another_window_is_read_off_the_gui_thread(studio, said, qtbot, tmp_path,
                                                                        reads_on_gui_thread):
    """Session 38: another window's save of the image on screen was followed on the GUI thread (its mask read, the
    statistics computed, every layer set again). Now the mask is read in the worker, and the maps on screen, whose
    files did not change, are neither read again nor set in their layers again."""
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    image_id = review.image_id
    layers = studio.viewer.layers
    shape = layers["mask"].data.shape
    p = fake_probability(shape, 100)
    other = Project.open(studio.project.folder)  # the other window (its project had an adaptation round)
    commit_rounds(other, tmp_path, {0: {image_id: p}})
    qtbot.waitUntil(lambda: np.array_equal(layers["probability"].data, p), timeout=5000)
    wait_for_workers(qtbot)
    prob_before = layers["probability"].data
    counts: dict = {}
    for name in ("compare", "probability", "uncertainty"):
        _counting(layers[name], counts, name)
    reads_on_gui_thread.clear()
    theirs = np.zeros(shape, bool)
    theirs[10:30, 40:60] = True
    other.save_correction(image_id, theirs)  # the other window's save
    qtbot.waitUntil(lambda: np.array_equal(layers["mask"].data > 0, theirs), timeout=5000)
    wait_for_workers(qtbot)
    assert reads_on_gui_thread == []
    assert layers["probability"].data is prob_before
    assert all(c == {"data": 0, "contrast_limits": 0} for c in counts.values()), counts
    assert review._mask_origin == "corrected" and not review.dirty
    assert "vessel fraction" in review.stats.text()


def test_edits_made_here_while_another_windows_correction_is_read_stay(studio, said, qtbot, gated_reads):
    """Edits made here after another window saved the image, while its correction is read in the worker: they stay
    (as edits made before the save is noticed do), the status bar says so, and they count as changes to the mask saved
    there (undone to it: nothing unsaved)."""
    from vessel_studio.store import Project

    gate, asked = gated_reads
    review = studio.panels["Review"]
    image_id = review.image_id
    layer = studio.viewer.layers["mask"]
    theirs = np.zeros(layer.data.shape, bool)
    theirs[10:30, 40:60] = True
    Project.open(studio.project.folder).save_correction(image_id, theirs)
    qtbot.waitUntil(lambda: asked == [image_id], timeout=5000)
    layer.data[60:70, 60:70] = 1  # an edit while the read is held
    review._edited()
    mine = layer.data.copy()
    gate.set()
    qtbot.waitUntil(lambda: any("your unsaved edits here stay" in s for s in said), timeout=5000)
    wait_for_workers(qtbot)
    assert np.array_equal(layer.data, mine) and review.dirty
    layer.data = theirs.astype(layer.data.dtype)
    review._edited()
    assert not review.dirty


def test_a_second_save_elsewhere_during_the_read_of_the_first_wins(studio, said, qtbot, gated_reads):
    from vessel_studio.store import Project

    gate, asked = gated_reads
    review = studio.panels["Review"]
    image_id = review.image_id
    layer = studio.viewer.layers["mask"]
    other = Project.open(studio.project.folder)
    first = np.zeros(layer.data.shape, bool)
    first[10:30, 40:60] = True
    other.save_correction(image_id, first)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
    serial = review._maps_wanted[2]
    second = first.copy()
    second[60:80, 60:80] = True
    other.save_correction(image_id, second)  # the state stays "corrected": saved_elsewhere
    qtbot.waitUntil(lambda: review._maps_wanted is not None and review._maps_wanted[2] > serial, timeout=5000)
    gate.set()
    qtbot.waitUntil(lambda: np.array_equal(layer.data > 0, second), timeout=5000)
    wait_for_workers(qtbot)
    assert np.array_equal(layer.data > 0, second) and not review.dirty
    name = studio.project.image(image_id).name
    assert said[-1] == f"the saved mask of {name} was replaced in another window or program: it is shown now"


def test_a_round_added_during_the_read_of_a_correction_saved_elsewhere_keeps_edits_made_meanwhile(
        studio, said, qtbot, tmp_path, gated_reads):
    """Another window saves the image's correction, then a terminal's adapt adds a round while the correction's read
    is held, and edits are made here meanwhile: the round's read (which supersedes the first) shows the new map, keeps
    the edits and counts them as changes to the mask saved there, as the correction's read would have. (Passes on the
    code before e217559 too: the watcher's next look also follows the saved correction, ``saved_elsewhere``.)"""
    from vessel_studio.store import Project

    gate, asked = gated_reads
    review = studio.panels["Review"]
    image_id = review.image_id
    layers = studio.viewer.layers
    layer = layers["mask"]
    shape = layer.data.shape
    other = Project.open(studio.project.folder)
    theirs = np.zeros(shape, bool)
    theirs[10:30, 40:60] = True
    other.save_correction(image_id, theirs)
    qtbot.waitUntil(lambda: asked == [image_id], timeout=5000)
    layer.data[60:70, 60:70] = 1
    review._edited()
    mine = layer.data.copy()
    p = fake_probability(shape, 110)
    commit_rounds(other, tmp_path, {0: {image_id: p}})
    qtbot.waitUntil(lambda: "round(s) added: 0" in " ".join(_outside(said)), timeout=5000)
    gate.set()
    qtbot.waitUntil(lambda: np.array_equal(layers["probability"].data, p), timeout=5000)
    wait_for_workers(qtbot)
    assert np.array_equal(layer.data, mine) and review.dirty
    assert any("your unsaved edits here stay" in s for s in said)
    layer.data = theirs.astype(layer.data.dtype)
    review._edited()
    assert not review.dirty
