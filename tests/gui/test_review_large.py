"""The Review panel with a high-resolution camera's images (12-16 megapixels): the field of view and
the label-free statistics of an image above ``tasks.LARGE_IMAGE_PIXELS`` are computed in a worker,
not on the GUI thread (0.3-0.7 s per image there, measured in ``benchmarks/results/gui/hires/``);
another Show / Compare with choice reads no map file that is already on screen. The tests lower the
threshold so that the sample project's 96 x 96 images count as large."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import fake_probability

pytestmark = pytest.mark.gui


def _write_probs(proj):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    probs = {}
    for i, rec in enumerate(proj.images):
        probs[rec.id] = fake_probability(rec.shape[:2], 10 + i)
        write_prob(tasks.source_only_path(proj, rec.id), probs[rec.id])
    return probs


def _record_threads(monkeypatch, owner, name, calls):
    fn = getattr(owner, name)
    main = threading.main_thread()

    def wrapper(*a, **kw):
        calls.append((name, threading.current_thread() is main))
        return fn(*a, **kw)

    monkeypatch.setattr(owner, name, wrapper)


def test_a_large_images_fov_and_statistics_come_from_a_worker(studio, qtbot, monkeypatch):
    import vessel_studio.io.fov as fov_module
    from vessel_studio.gui import tasks

    proj = studio.project
    probs = _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    monkeypatch.setattr(tasks, "LARGE_IMAGE_PIXELS", 1000)
    calls = []
    _record_threads(monkeypatch, fov_module, "estimate_fov", calls)
    _record_threads(monkeypatch, tasks, "label_free_stats", calls)
    review._ahead_timer.stop()  # no read-ahead: the image is read on the GUI thread, its FOV is not
    studio.select_image(ids[1])
    assert review.image_id == ids[1] and review._fov is None
    assert review.stats.text() == "computing…"
    assert not [c for c in calls if c[1]], calls  # nothing of it on the GUI thread
    qtbot.waitUntil(lambda: "vessel fraction" in review.stats.text(), timeout=20000)
    assert calls and not [c for c in calls if c[1]], calls
    fov = fov_module.estimate_fov(proj.read_image(ids[1]), modality="fundus")
    assert np.array_equal(review._fov, fov)  # kept for the measures
    want = tasks.label_free_stats(probs[ids[1]], fov)
    assert f"{want['vessel_fraction']:.3f}" in review.stats.text()
    assert f"{want['mean_uncertainty']:.3f}" in review.stats.text()
    qtbot.waitUntil(lambda: "tortuosity" in review.measures.text(), timeout=20000)


def test_a_late_statistics_result_for_another_image_is_dropped(studio, qtbot, monkeypatch):
    from vessel_studio.gui import tasks

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    monkeypatch.setattr(tasks, "LARGE_IMAGE_PIXELS", 1000)
    studio.select_image(ids[1])
    qtbot.waitUntil(lambda: "vessel fraction" in review.stats.text(), timeout=20000)
    shown = review.stats.text()
    # a result computed for the previous image (or an earlier map) arriving now changes nothing
    review._show_large_stats(ids[0], {"prob": review.prob, "fov": None, "stats": {}})
    review._show_large_stats(ids[1], {"prob": review.prob.copy(), "fov": None, "stats": {}})
    assert review.stats.text() == shown


def test_normal_size_images_keep_their_statistics_on_screen_at_once(studio):
    """Below the threshold (every public data set's images) nothing changes: FOV and statistics are
    there when the image is."""
    proj = studio.project
    _write_probs(proj)
    review = studio.panels["Review"]
    studio.select_image(proj.images[1].id)
    assert review._fov is not None and "vessel fraction" in review.stats.text()


def test_another_compare_choice_reads_no_map_already_on_screen(studio, monkeypatch):
    """Compare with source-only and back to none: the shown map is not read from its file again (a
    15-megapixel float map is 58 MB: ~0.1-0.25 s a read on the GUI thread), while a map rewritten
    meanwhile (another key) is read again."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    proj = studio.project
    probs = _write_probs(proj)
    image_id = proj.images[0].id
    review = studio.panels["Review"]
    review._reload_maps()  # the maps written after the window showed the image
    reads = []
    _record_threads(monkeypatch, tasks, "_read_tif", reads)
    review.compare.setCurrentText(tasks.SOURCE_ONLY)  # a new choice: read once
    assert len(reads) == 1
    assert np.array_equal(studio.viewer.layers["compare"].data, probs[image_id])
    review.compare.setCurrentText("none")
    review.compare.setCurrentText(tasks.SOURCE_ONLY)
    review._reload_maps(keep_edits=True)
    assert len(reads) == 1, reads
    assert np.array_equal(review.prob, probs[image_id])
    new = fake_probability(probs[image_id].shape, 77)
    write_prob(tasks.source_only_path(proj, image_id), new)
    review._reload_maps(keep_edits=True)
    assert len(reads) == 3  # shown and compared: both rewritten
    assert np.array_equal(review.prob, new)
    assert np.array_equal(studio.viewer.layers["compare"].data, new)


def test_a_16_bit_rgb_image_is_shown_in_its_range(studio, tmp_path, qtbot, dialogs):
    """A camera's 16-bit RGB TIFF in the reused RGB image layer: its contrast limits follow its values
    (they stayed at the 8-bit placeholder's 0-255 and the image was drawn all white); back on an 8-bit
    image they are 0-255 again."""
    from vessel_studio.io.images import write_image

    rng = np.random.default_rng(2)
    write_image(tmp_path / "cam16.tif", rng.uniform(1000, 60000, (80, 90, 3)).astype(np.uint16))
    assert studio.add_images([tmp_path / "cam16.tif"])
    qtbot.waitUntil(lambda: not studio.io_runner.running, timeout=10000)
    cam = [r.id for r in studio.project.images if r.name == "cam16"][0]
    assert studio.select_image(cam)
    layer = studio.viewer.layers["image"]
    assert layer.rgb and layer.data.dtype == np.uint16
    lo, hi = layer.contrast_limits
    assert lo >= 1000 - 1 and 59000 < hi <= 60000
    assert studio.select_image(studio.project.images[0].id)
    assert list(layer.contrast_limits) == [0, 255]
    assert not dialogs.errors
