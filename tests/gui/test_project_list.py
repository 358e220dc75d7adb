"""The Project panel's image list on a large project (session 32: a 1,000-image project stalled the window for
seconds after opening, as each thumbnail scanned the whole list for its row)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import wait_for_workers

pytestmark = pytest.mark.gui


def thumbnails_made(panel, qtbot) -> None:
    """Wait until the window's own thumbnail worker has made the three thumbnails and its ``finished`` has reached the
    panel. Waiting for the thread pool alone was not enough: its queued thumbnails and ``finished`` could arrive after
    a test had cleared the thumbnails, and the panel then read again only those still missing, some with the real
    reader (CI, stop 39: 2 reads where the test expected 3)."""
    qtbot.waitUntil(lambda: len(panel._thumbs) == 3 and panel._thumb_worker is None, timeout=10000)
    wait_for_workers(qtbot)


def test_a_thumbnail_or_a_selection_touches_only_its_own_row(studio, qtbot, monkeypatch):
    """Each thumbnail arriving from the worker, and each image selected elsewhere (Review's Next), read every row of
    the list to find its own: quadratic in the images on opening a project (1,000 OCT-A images: ~1M item reads,
    stalls of seconds, `scratch` probe of session 32). Now each image's row is kept when the list is made."""
    panel = studio.panels["Project"]
    qtbot.waitUntil(lambda: len(panel._thumbs) == 3, timeout=10000)
    wait_for_workers(qtbot)
    ids = [r.id for r in studio.project.images]
    reads = []
    real = panel.list.item
    monkeypatch.setattr(panel.list, "item", lambda row: reads.append(row) or real(row))
    panel._set_thumb(ids[2], np.full((48, 48, 3), 200, np.uint8))
    studio.select_image(ids[1])
    assert panel.list.currentRow() == 1 and not panel.list.item(2).icon().isNull()
    assert reads == [2]  # only this test's own read above


def test_images_listed_while_thumbnails_load_get_theirs(studio, qtbot, tmp_path, monkeypatch):
    """Images added while the thumbnail worker still read the first ones were left without a thumbnail (the
    worker running, no second one started, and none after it) until the list was made again for another reason."""
    from vessel_studio.gui import project_panel
    from vessel_studio.samples import write_sample_images

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    panel._thumbs.clear()
    getattr(panel, "_thumbs_asked", set()).clear()  # (getattr: the test runs on the code before too)
    real = project_panel.thumbnail

    def slow(image, size):
        time.sleep(0.3)
        return real(image, size)

    monkeypatch.setattr(project_panel, "thumbnail", slow)
    panel.refresh()  # a worker for the three images, reading slowly
    assert panel._thumb_worker is not None
    more = write_sample_images(tmp_path / "more", n=2, modality="fundus", shape=(80, 80), seed=51)
    assert studio.add_images(list(more.images))
    qtbot.waitUntil(lambda: panel.list.count() == 5, timeout=10000)
    qtbot.waitUntil(lambda: len(panel._thumbs) == 5, timeout=10000)
    assert all(not panel.list.item(r).icon().isNull() for r in range(5))


def test_a_state_change_updates_the_rows_in_place_and_keeps_the_selection(studio, qtbot):
    """A change of states only (a correction saved, a round added, the same change made elsewhere) updates the
    rows' texts; the rows, their thumbnails and the images selected for Remove stay. Before, the whole list was
    made again at each such change (~45 ms of the GUI thread at 1,000 images) and a selection of several images
    fell back to the image on screen."""
    panel = studio.panels["Project"]
    qtbot.waitUntil(lambda: len(panel._thumbs) == 3, timeout=10000)
    wait_for_workers(qtbot)
    ids = [r.id for r in studio.project.images]
    rows = [panel.list.item(r) for r in range(3)]
    for r in (0, 2):
        rows[r].setSelected(True)
    assert panel.selected_ids() == [ids[0], ids[2]]
    studio.project.set_state(ids[1], "reviewed")
    studio.images_changed.emit()
    assert [panel.list.item(r) for r in range(3)] == rows  # the same rows
    assert panel.list.item(1).text().endswith("● reviewed") and panel.selected_ids() == [ids[0], ids[2]]
    assert all(not panel.list.item(r).icon().isNull() for r in range(3))
    assert "1 reviewed" in panel.counts.text()


def test_a_thumbnail_failing_with_a_runtime_error_leaves_the_others_and_the_close(studio, qtbot, monkeypatch):
    """A thumbnail whose reading raised a RuntimeError (torch's or a decoder's "can't allocate memory") ended the
    thumbnail worker without ``finished``: superqt's generator worker takes a RuntimeError for its own deletion, warns
    and stops. The images after it got no thumbnail, the panel made none again (its worker never done) and closing the
    window waited its whole 10 s for the worker (session 34 leftover). Now that image's row shows a warning sign and
    the error, the others get theirs, and the close does not wait."""
    from vessel_studio.gui import project_panel

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    panel._thumbs.clear()
    getattr(panel, "_thumbs_asked", set()).clear()
    ids = [r.id for r in studio.project.images]
    real, calls = project_panel.thumbnail, []

    def reader(image, size):
        calls.append(size)
        if len(calls) == 1:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")
        return real(image, size)

    monkeypatch.setattr(project_panel, "thumbnail", reader)
    panel.refresh()  # the three images' thumbnails again, the first one failing
    qtbot.waitUntil(lambda: panel._thumb_worker is None, timeout=10000)
    assert set(panel._thumbs) == set(ids[1:]) and len(calls) == 3
    row = panel._items[ids[0]]
    assert not row.icon().isNull() and "RuntimeError: DefaultCPUAllocator" in row.toolTip()
    assert all(not panel._items[i].icon().isNull() and not panel._items[i].toolTip() for i in ids[1:])
    t = time.monotonic()
    studio.viewer.close()
    assert studio.workers.running() == 0 and time.monotonic() - t < 5


def test_a_generator_worker_raising_a_runtime_error_ends_with_errored_and_finished(qtbot):
    """Any generator worker a window starts (``jobs.start_worker`` / ``Workers.start``): a RuntimeError out of its
    generator reaches ``errored`` (as a ``GeneratorRuntimeError``: superqt would swallow a RuntimeError) and
    ``finished`` follows, so :meth:`Workers.end` does not wait for it (it waited the full timeout)."""
    from superqt.utils import create_worker

    from vessel_studio.gui import jobs

    def gen():
        yield 1
        raise RuntimeError("CUDA error: an illegal memory access")

    for workers in (jobs.Workers(), None):
        worker = create_worker(gen, _start_thread=False, _ignore_errors=True)
        errors, finished = [], []
        worker.errored.connect(errors.append)
        worker.finished.connect(lambda f=finished: f.append(1))
        jobs.start_worker(worker, workers)
        qtbot.waitUntil(lambda f=finished: bool(f), timeout=5000)
        assert len(errors) == 1 and "RuntimeError: CUDA error" in str(errors[0])
        assert isinstance(errors[0].original, RuntimeError)
        if workers is not None:
            t = time.monotonic()
            assert workers.end(10000) and time.monotonic() - t < 1


@pytest.mark.parametrize("ratio", [2.0, 1.5])
def test_thumbnails_are_made_at_the_screens_device_pixels(studio, qtbot, monkeypatch, ratio):
    """Session 43 (high-resolution screens): on a 3840 x 2160 screen scaled to 200 % (``QT_SCALE_FACTOR=2``) the
    image list's 48 px thumbnails were made of 48 px (``thumbnail(image, 48)``, device pixel ratio 1), each of their
    pixels drawn as 2 x 2 beside sharp text. Now they are made at the list's device pixel ratio (96 px at 200 %, 72 px
    at 150 %) and shown at 48 logical px. The ratio is the screen's (the test's X screen is not scaled: the list's is
    given)."""
    from vessel_studio.gui import project_panel

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    panel._thumbs.clear()
    getattr(panel, "_thumbs_asked", set()).clear()
    sizes = []
    real = project_panel.thumbnail
    monkeypatch.setattr(project_panel, "thumbnail", lambda image, size: sizes.append(size) or real(image, size))
    monkeypatch.setattr(panel.list, "devicePixelRatioF", lambda: ratio)
    panel.refresh()  # the three images' thumbnails again
    qtbot.waitUntil(lambda: len(panel._thumbs) == 3 and panel._thumb_worker is None, timeout=10000)
    wait_for_workers(qtbot)
    assert sizes == [round(48 * ratio)] * 3  # before: [48, 48, 48]
    for image_id, pix in panel._thumbs.items():  # the sample images are 96 x 96
        assert pix.devicePixelRatio() == ratio  # before: 1.0
        assert (pix.width(), pix.height()) == (round(48 * ratio),) * 2  # before: 48 x 48
        assert pix.deviceIndependentSize().width() == pytest.approx(48)  # the row's icon as large as it was
        icon = panel._items[image_id].icon()
        drawn = icon.pixmap(panel.list.iconSize(), ratio)  # what the row draws at that ratio: no pixel doubled
        assert (drawn.width(), drawn.height()) == (round(48 * ratio),) * 2


def test_thumbnails_stay_48_px_on_an_unscaled_screen(studio, qtbot):
    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    for pix in panel._thumbs.values():
        assert (pix.width(), pix.height(), pix.devicePixelRatio()) == (48, 48, 1.0)


@pytest.mark.parametrize("shape, size, expected", [
    ((96, 96, 3), 72, (72, 72)),  # before: 48 x 48 (every 2nd pixel)
    ((60, 60), 48, (48, 48)),  # before: 30 x 30
    ((960, 999, 3), 96, (92, 96)),  # CHASE_DB1's size; before: 88 x 91
    ((605, 700, 3), 72, (63, 72)),  # STARE's; before: 61 x 70
    ((40, 30), 48, (40, 30)),  # a smaller image: its own size
])
def test_a_thumbnail_has_the_longest_side_asked_for(shape, size, expected):
    """``qtutil.thumbnail`` took every n-th pixel, n rounded up: a side of ``size`` only where the image's was a
    multiple of it, down to about half of it otherwise (the image list's thumbnails are made at 72 and 96 px on
    screens scaled to 150 and 200 %, ``ProjectPanel.thumb_ratio``)."""
    from vessel_studio.gui.qtutil import thumbnail

    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    thumb = thumbnail(image, size)
    assert thumb.shape[:2] == expected and thumb.dtype == np.uint8


def test_thumbnails_are_made_again_on_a_screen_of_another_scale(studio, qtbot, monkeypatch):
    """A window moved from a monitor at 100 % to a laptop's screen at 200 % (``QT_SCREEN_SCALE_FACTORS``, or Wayland's
    per-screen scales) kept the thumbnails made for the first, each pixel drawn as 2 x 2 (session 43: reproduced under
    Xvfb with two RandR monitors, ``scratch`` of the helper). Qt then sends the widgets ``DevicePixelRatioChange``; the
    thumbnails are made again at the new ratio (the ratio is given here: the test's X screen is not scaled)."""
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    assert {pix.devicePixelRatio() for pix in panel._thumbs.values()} == {1.0}
    monkeypatch.setattr(panel.list, "devicePixelRatioF", lambda: 2.0)
    QApplication.sendEvent(panel, QEvent(QEvent.Type.DevicePixelRatioChange))
    qtbot.waitUntil(lambda: {pix.devicePixelRatio() for pix in panel._thumbs.values()} == {2.0}, timeout=10000)
    qtbot.waitUntil(lambda: panel._thumb_worker is None, timeout=10000)
    wait_for_workers(qtbot)
    assert len(panel._thumbs) == 3 and all(pix.width() == 96 for pix in panel._thumbs.values())
    assert all(panel._items[i].icon().pixmap(panel.list.iconSize(), 2.0).width() == 96 for i in panel._thumbs)


def test_a_scale_change_while_thumbnails_load_makes_them_again_once_the_worker_has_finished(studio, qtbot,
                                                                                            monkeypatch):
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import project_panel

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    panel._thumbs.clear()
    panel._thumbs_asked.clear()
    real = project_panel.thumbnail
    monkeypatch.setattr(project_panel, "thumbnail", lambda image, size: (time.sleep(0.3), real(image, size))[1])
    panel.refresh()  # a worker for the three images at 100 %, reading slowly
    assert panel._thumb_worker is not None
    monkeypatch.setattr(panel.list, "devicePixelRatioF", lambda: 2.0)
    QApplication.sendEvent(panel, QEvent(QEvent.Type.DevicePixelRatioChange))
    qtbot.waitUntil(lambda: len(panel._thumbs) == 3 and panel._thumb_worker is None
                    and {pix.devicePixelRatio() for pix in panel._thumbs.values()} == {2.0}, timeout=15000)
    wait_for_workers(qtbot)


def test_thumbnails_reach_the_list_in_a_few_batches_not_one_by_one(studio, qtbot, monkeypatch):
    """Session 45: each thumbnail handed from the worker was set in the list on its own turn of the event loop, and
    each such turn repainted the whole window (~60 ms a frame with napari's canvas drawn in software): opening a
    1,000-image project took ~49 s until its last thumbnail, with ~166 stalls over 100 ms (medians of 6,
    ``benchmarks/gui_stalls.py``). Now they come in batches (``THUMB_BATCH_S``): 30 thumbnails made 20 ms apart
    reach the list in a few turns, all of them set, the rows selected meanwhile still selected. A turn is counted
    where the list's model reports a change and no earlier change of the same turn was seen (a 0 ms timer ends a
    turn): each such turn asks for one repaint. ``THUMB_BATCH_S`` is made longer than the worker's run here, so that
    the count does not depend on the machine's speed (session 46: at 0.2 s a loaded machine, each thumbnail taking
    over 60 ms, could make more than the 10 turns this test allowed): one batch, at the worker's end."""
    from qtpy.QtCore import QTimer
    from qtpy.QtGui import QIcon

    from vessel_studio.gui import project_panel

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    ids = [r.id for r in studio.project.images]
    for image_id in ids:
        panel._items[image_id].setIcon(QIcon())  # so that each row's thumbnail is seen set again
    panel._thumbs.clear()
    panel._thumbs_asked.clear()
    for r in (0, 2):
        panel.list.item(r).setSelected(True)
    real = project_panel.thumbnail
    monkeypatch.setattr(project_panel, "thumbnail", lambda image, size: (time.sleep(0.02), real(image, size))[1])
    monkeypatch.setattr(project_panel, "THUMB_BATCH_S", 600.0, raising=False)  # (raising: runs on the code before)
    turns, open_turn = [], []

    def changed(*_args):
        if not open_turn:
            open_turn.append(1)
            turns.append(time.monotonic())
            QTimer.singleShot(0, open_turn.clear)

    panel.list.model().dataChanged.connect(changed)
    panel._load_thumbs(ids * 10)  # 30 thumbnails, 20 ms or more apart
    qtbot.waitUntil(lambda: panel._thumb_worker is None, timeout=15000)
    wait_for_workers(qtbot)
    panel.list.model().dataChanged.disconnect(changed)
    assert len(turns) == 1  # before session 45: one a thumbnail (30)
    assert set(panel._thumbs) == set(ids)
    assert all(not panel._items[i].icon().isNull() for i in ids)
    assert panel.selected_ids() == [ids[0], ids[2]]


def test_thumbnails_of_a_project_left_meanwhile_are_dropped_and_the_next_ones_come_at_once(studio, qtbot, tmp_path,
                                                                                         monkeypatch):
    """Opening another project while the thumbnails of the first were still being made: the first's worker read on
    through all of its images (1,000 of them: ~49 s) before the new project's thumbnails were begun, and its
    thumbnails were still taken in. Now it stops at its next batch, what it still hands over is dropped, and the new
    project's thumbnails are made at once."""
    from vessel_studio.gui import project_panel
    from vessel_studio.samples import write_sample_project

    write_sample_project(tmp_path / "other", n=2, modality="fundus", shape=(80, 80), seed=61)
    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    old = [r.id for r in studio.project.images]
    panel._thumbs.clear()
    panel._thumbs_asked.clear()
    real = project_panel.thumbnail
    monkeypatch.setattr(project_panel, "thumbnail", lambda image, size: (time.sleep(0.1), real(image, size))[1])
    panel._load_thumbs(old * 20)  # 60 slow thumbnails: 6 s
    qtbot.wait(150)  # the worker under way
    assert studio.open_project(tmp_path / "other") is not False
    shown = set(panel._thumbs) & set(old)  # those handed over before (in the list until it was made again)
    new = [r.id for r in studio.project.images]
    assert len(new) == 2 and not set(new) & set(old)
    qtbot.waitUntil(lambda: set(panel._thumbs) >= set(new), timeout=3000)  # before: after the 60 old ones
    wait_for_workers(qtbot)
    assert set(panel._thumbs) & set(old) == shown  # before: the old project's taken in after it was left
    assert panel._thumb_worker is None and all(not panel._items[i].icon().isNull() for i in new)


def test_a_thumbnail_of_an_image_removed_meanwhile_is_dropped(studio, qtbot, monkeypatch):
    """An image taken out of the project while its thumbnail was being made: the thumbnail was kept by the panel (for
    the window's life); it is dropped, and the other images get theirs."""
    import threading

    from vessel_studio.gui import project_panel

    panel = studio.panels["Project"]
    thumbnails_made(panel, qtbot)
    ids = [r.id for r in studio.project.images]
    panel._thumbs.clear()
    panel._thumbs_asked.clear()
    gate, begun = threading.Event(), threading.Event()
    real = project_panel.thumbnail

    def held(image, size):  # the first image's thumbnail waits until that image has been removed
        begun.set()
        gate.wait(10)
        return real(image, size)

    monkeypatch.setattr(project_panel, "thumbnail", held)
    panel.refresh()  # a worker for the three images
    qtbot.waitUntil(begun.is_set, timeout=5000)
    assert studio.remove_images([ids[0]])
    assert ids[0] not in panel._items
    gate.set()
    qtbot.waitUntil(lambda: panel._thumb_worker is None, timeout=10000)
    wait_for_workers(qtbot)
    assert set(panel._thumbs) == set(ids[1:])  # before: the removed image's kept too
    assert all(not panel._items[i].icon().isNull() for i in ids[1:])
