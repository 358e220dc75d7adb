"""A person's corrections are never lost or replaced behind their back: edits after a save, an
accepted mask, a mis-clicked Revert, exported masks of images that share a name."""

from __future__ import annotations

import numpy as np
import pytest

from test_review_export import _review_with_predictions

pytestmark = pytest.mark.gui


def _edit(layer, spot=(40, 40)):
    """Flip one pixel of the mask with the brush (an edit whatever the mask was); its new value."""
    layer.brush_size = 1
    value = 0 if layer.data[spot] else 1
    layer.paint(spot, value)
    assert layer.data[spot] == value
    return spot, value


@pytest.mark.window_smoke
def test_edits_after_a_save_come_back_when_the_project_is_opened_again(studio, make_napari_viewer):
    """Save, edit on, autosave, the app dies: the reopened image shows the later edits (its draft),
    not the older saved correction, and says they are not saved."""
    from vessel_studio.gui import tasks
    from vessel_studio.gui.app import attach

    review = studio.panels["Review"]
    image_id = studio.current_id
    layer = review.mask_layer
    layer.paint((50, 50), 1)
    assert review.save()
    saved = layer.data > 0
    layer.paint((20, 70), 1)
    assert review.dirty
    review.autosave()  # then the app crashed (or the Review dock was closed)
    assert tasks.draft_path(studio.project, image_id).is_file()
    review._release_draft_hold()  # a crash ends its process, which releases its hold of the draft (session 36)

    viewer2 = make_napari_viewer()
    st2 = attach(viewer2, project=studio.project.folder)
    rev2 = st2.panels["Review"]
    assert st2.current_id == image_id
    assert viewer2.layers["mask"].data[20, 70] and viewer2.layers["mask"].data[50, 50]
    assert rev2.dirty and "draft" in rev2.edit_state.text() and "unsaved" in rev2.edit_state.text()
    assert np.array_equal(st2.project.correction(image_id), saved)  # the saved one is untouched
    assert rev2.save()
    assert st2.project.correction(image_id)[20, 70] and not tasks.draft_path(st2.project, image_id).exists()


def test_accept_as_reviewed_keeps_the_mask_on_screen(studio, qtbot, tmp_path):
    """The mask accepted at threshold 0.3 is the image's mask: saved, trusted by the next round,
    exported as shown, and not replaced by another threshold."""
    from vessel_studio.io.images import read_mask

    review, viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, studio.current_id
    review.threshold.setValue(0.3)
    shown = viewer.layers["mask"].data > 0
    assert not np.array_equal(shown, review.prob >= 0.5)
    assert review.mark_reviewed()
    assert proj.image(image_id).state == "reviewed"
    assert np.array_equal(proj.correction(image_id), shown)
    assert image_id in proj.corrections()  # what adaptation reads as trusted labels
    review.threshold.setValue(0.7)
    assert np.array_equal(viewer.layers["mask"].data > 0, shown) and not review.dirty
    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as blocker:
        assert studio.panels["Export"].export_to(tmp_path / "out")
    assert blocker.args[0].status == "done"
    exported = read_mask(tmp_path / "out" / "masks" / f"{proj.image(image_id).name}.png")
    assert np.array_equal(exported > 0, shown)


def test_accept_with_unsaved_edits_saves_them_and_marks_reviewed(studio):
    review, viewer = _review_with_predictions(studio)
    layer = review.mask_layer
    spot, value = _edit(layer)
    assert review.dirty
    assert review.mark_reviewed()
    proj = studio.project
    assert not review.dirty and proj.image(review.image_id).state == "reviewed"
    assert proj.correction(review.image_id)[spot] == value


def test_accept_without_a_mask_is_refused(studio, dialogs):
    """No prediction and nothing painted: an empty mask is not made a trusted label."""
    review = studio.panels["Review"]
    assert review._mask_origin == "none"
    assert review.mark_reviewed() is False
    assert dialogs.errors and dialogs.errors[-1][0] == "Nothing to accept"
    assert studio.project.correction(review.image_id) is None
    assert studio.project.image(review.image_id).state != "reviewed"


def test_revert_asks_before_dropping_unsaved_edits(studio, dialogs):
    from vessel_studio.gui import tasks

    review, viewer = _review_with_predictions(studio)
    layer = review.mask_layer
    spot, value = _edit(layer)
    review.autosave()
    dialogs.answers["confirm"] = False  # a mis-click on "Revert edits": stay
    assert review.revert() is False
    assert "Revert edits" in dialogs.asked
    assert review.dirty and layer.data[spot] == value
    assert tasks.draft_path(studio.project, review.image_id).is_file()
    dialogs.answers["confirm"] = True
    assert review.revert()
    assert not review.dirty and layer.data[spot] != value
    assert not tasks.draft_path(studio.project, review.image_id).exists()
    # nothing unsaved: no question
    dialogs.asked.clear()
    assert review.revert() and dialogs.asked == []


def test_discard_saved_mask_asks_then_shows_the_prediction_again(studio, dialogs):
    """A mistaken Accept (or Save): "Discard saved mask" asks (the mask is a trusted label), then
    removes the correction and the image's draft; the image is "predicted" again and shows its
    prediction at the current threshold, and the Project panel's mark follows."""
    from vessel_studio.gui import tasks

    review, viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, review.image_id
    items = studio.panels["Project"].list
    assert not review.btn_discard.isEnabled()  # nothing saved yet
    review.threshold.setValue(0.3)
    assert review.mark_reviewed()
    assert review.btn_discard.isEnabled() and "reviewed" in items.item(0).text()
    spot, value = _edit(review.mask_layer)  # edits on top of the accepted mask, autosaved
    review.autosave()
    assert tasks.draft_path(proj, image_id).is_file()
    dialogs.answers["confirm"] = False  # a mis-click: nothing changes
    assert review.discard_saved() is False
    assert dialogs.asked[-1] == "Discard saved mask"
    assert proj.correction_path(image_id).is_file() and proj.image(image_id).state == "reviewed"
    assert review.dirty and review.mask_layer.data[spot] == value
    dialogs.answers["confirm"] = True
    assert review.discard_saved()
    assert not proj.correction_path(image_id).exists() and not tasks.draft_path(proj, image_id).exists()
    assert proj.correction(image_id) is None and image_id not in proj.corrections()
    assert proj.image(image_id).state == "predicted" and "predicted" in items.item(0).text()
    assert np.array_equal(viewer.layers["mask"].data > 0, review.prob >= 0.3) and not review.dirty
    assert "mask from: prediction (p ≥ 0.30)" in review.edit_state.text()
    assert "predicted" in review.title.text()
    assert not review.btn_discard.isEnabled() and review.discard_saved() is False
    review.threshold.setValue(0.6)  # the mask follows the threshold again
    assert np.array_equal(viewer.layers["mask"].data > 0, review.prob >= 0.6)
    # saving again enables it; an image without a saved mask disables it
    assert review.save() and review.btn_discard.isEnabled()
    review.next()
    assert review.image_id != image_id and not review.btn_discard.isEnabled()


def test_discard_saved_mask_of_an_image_without_a_prediction(studio, monkeypatch):
    """A mask painted from scratch (no prediction) and saved: discarding says the mask will be empty
    (not "back to its prediction"), and the image is "new" again with an empty mask."""
    from vessel_studio.gui import dialogs

    review = studio.panels["Review"]
    proj, image_id = studio.project, review.image_id
    assert review.prob is None
    review.mask_layer.paint((40, 40), 1)
    assert review.save() and proj.image(image_id).state == "corrected"
    asked = []
    monkeypatch.setattr(dialogs, "confirm", lambda parent, title, text: asked.append(text) or True)
    assert review.discard_saved()
    assert "its mask will be empty" in asked[0] and "goes back to its prediction" not in asked[0]
    assert "trusted label" in asked[0]
    assert proj.correction(image_id) is None and proj.image(image_id).state == "new"
    assert not (review.mask_layer.data > 0).any() and review.edit_state.text() == "mask from: empty"


def test_unsaved_line_follows_napari_undo(studio):
    """napari's own Ctrl+Z on the mask layer (no paint event): the next autosave tick says the
    mask now differs from the saved correction."""
    review, viewer = _review_with_predictions(studio)
    layer = review.mask_layer
    _edit(layer)
    assert review.save() and "unsaved" not in review.edit_state.text()
    layer.undo()  # what napari's Ctrl+Z does
    assert review.dirty
    review.autosave()  # the panel's timer
    assert "unsaved" in review.edit_state.text()


def test_export_keeps_every_image_when_two_share_a_name(studio, tmp_path, qtbot, dialogs):
    """Two images named scan.png / scan.tif (or from two folders): two mask files, the corrected
    one not overwritten by the other's prediction."""
    from PIL import Image

    from vessel_studio.gui import tasks
    from vessel_studio.io.images import read_mask, write_prob

    rng = np.random.default_rng(3)
    a, b = tmp_path / "one" / "scan.png", tmp_path / "two" / "scan.png"
    for path in (a, b):
        path.parent.mkdir()
        Image.fromarray(rng.integers(0, 255, (96, 96, 3), np.uint8)).save(path)
    proj = studio.project
    proj.add_images([a, b])
    recs = [r for r in proj.images if r.name == "scan"]
    assert len(recs) == 2
    corrected = np.zeros((96, 96), bool)
    corrected[10:20, 10:80] = True
    proj.save_correction(recs[0].id, corrected)
    p = np.zeros((96, 96), np.float32)
    p[60:70] = 0.9
    write_prob(tasks.source_only_path(proj, recs[1].id), p)
    own = proj.images[0]  # a name of its own: exported under that name alone
    proj.save_correction(own.id, corrected)

    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as blocker:
        assert studio.panels["Export"].export_to(tmp_path / "out")
    assert blocker.args[0].status == "done"
    masks = tmp_path / "out" / "masks"
    first, second = (read_mask(masks / f"scan-{r.id}.png") for r in recs)
    assert np.array_equal(first, corrected) and np.array_equal(second, p >= 0.5)
    assert not (masks / "scan.png").exists()
    assert np.array_equal(read_mask(masks / f"{own.name}.png"), corrected)
    assert sorted(f.name for f in masks.iterdir()) == sorted([f"{own.name}.png"] + [f"scan-{r.id}.png" for r in recs])


def test_choosing_another_map_to_show_or_compare_keeps_unsaved_edits(studio):
    """Compare with / Show change the maps on screen, never the edits (they dropped them, with no
    question and, within the 3 s before an autosave, no draft either)."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    review, viewer = _review_with_predictions(studio)
    layer = review.mask_layer
    spot, value = _edit(layer)
    review.compare.setCurrentText("source-only")
    assert viewer.layers["compare"].visible
    assert review.dirty and layer.data[spot] == value
    other = (45, 45)
    _, value2 = _edit(layer, other)
    review.show_round.setCurrentText("source-only")
    assert review.dirty and layer.data[spot] == value and layer.data[other] == value2
    # without edits the starting mask follows the map shown
    review.compare.setCurrentText("none")
    assert review.revert() and not review.dirty  # (the test dialogs answer its question "yes")
    p = np.zeros(review.prob.shape, np.float32)
    p[10:20] = 0.9
    write_prob(tasks.source_only_path(studio.project, review.image_id), p)
    review.show_round.setCurrentText("latest round")
    assert np.array_equal(layer.data > 0, p >= 0.5) and not review.dirty


def test_edits_made_while_a_job_stops_for_closing_are_kept(studio, qtbot, dialogs):
    """Close while a job runs: the window waits for the job to stop and stays usable; edits made
    meanwhile are autosaved as a draft when it closes (they were lost with the window)."""
    import threading

    from test_app import _held_job

    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    proj, image_id = studio.project, studio.current_id
    gate = threading.Event()
    assert studio.start_job("Export", _held_job(gate))
    dialogs.answers["confirm"] = True  # cancel the job and close
    assert studio.confirm_close() is False  # not yet: when the job has stopped
    review.mask_layer.paint((60, 30), 1)  # the person goes on correcting meanwhile
    assert review.dirty
    with qtbot.waitSignal(studio.runner.finished, timeout=10000):
        gate.set()
    qtbot.waitUntil(lambda: not hasattr(studio.viewer.window, "_qt_window"), timeout=10000)
    draft = tasks.draft_path(proj, image_id)
    assert draft.is_file()
    from vessel_studio.io.images import read_mask

    assert read_mask(draft)[60, 30]


def test_export_names_the_unsaved_drafts_of_other_images(studio, qtbot, tmp_path, dialogs):
    """A draft of an image not on screen (autosaved before a crash) is not exported: the export
    says so and asks first, instead of writing the older mask with no word."""
    from vessel_studio.gui import tasks

    proj = studio.project
    other = proj.images[2]
    assert other.id != studio.current_id
    draft = np.zeros(other.shape[:2], bool)
    draft[5:9, 5:60] = True
    tasks.write_draft(proj, other.id, draft)
    panel = studio.panels["Export"]
    dialogs.answers["confirm"] = False
    assert panel.export_to(tmp_path / "out") is False
    assert "Unsaved edits not exported" in dialogs.asked and not studio.runner.running
    assert not (tmp_path / "out").exists()
    dialogs.answers["confirm"] = True
    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as blocker:
        assert panel.export_to(tmp_path / "out")
    assert blocker.args[0].status == "done"
    assert tasks.draft_path(proj, other.id).is_file()  # the draft itself is kept
    # no draft: no question
    tasks.drop_draft(proj, other.id)
    dialogs.asked.clear()
    with qtbot.waitSignal(studio.runner.finished, timeout=60000):
        assert panel.export_to(tmp_path / "out2")
    assert "Unsaved edits not exported" not in dialogs.asked


def test_the_unsaved_drafts_question_tells_images_of_one_name_apart(studio, tmp_path, monkeypatch, rename_image):
    """Session 34 guide QA: of two images named alike (``a.png`` and ``a.tif``), the Export panel's question named
    the one with autosaved edits by its bare name, which did not say which; it adds the id, as the Project
    panel's question does."""
    from vessel_studio.gui import dialogs as mod
    from vessel_studio.gui import tasks

    proj = studio.project
    a, b, c = proj.images
    rename_image(proj, b.id, a.name)
    tasks.write_draft(proj, b.id, np.zeros(b.shape[:2], bool))
    asked = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: asked.append(text) or False)
    assert studio.panels["Export"].export_to(tmp_path / "out") is False
    assert f"never saved: {a.name} ({b.id})." in asked[-1]


def test_edits_undone_after_an_autosave_do_not_come_back(studio, make_napari_viewer):
    """Paint, autosave, undo back to the saved state: the next tick drops the draft, so opening the
    image again shows the saved state, not the undone edits as "unsaved"."""
    from vessel_studio.gui import tasks
    from vessel_studio.gui.app import attach

    review = studio.panels["Review"]
    layer = review.mask_layer
    image_id = studio.current_id
    before = layer.data > 0
    _edit(layer)
    review.autosave()
    assert tasks.draft_path(studio.project, image_id).is_file()
    review.undo()
    assert not review.dirty
    review.autosave()
    assert not tasks.draft_path(studio.project, image_id).exists()
    viewer2 = make_napari_viewer()
    st2 = attach(viewer2, project=studio.project.folder)
    assert np.array_equal(viewer2.layers["mask"].data > 0, before) and not st2.panels["Review"].dirty


def test_run_adaptation_names_the_unsaved_drafts_of_other_images(studio, dialogs):
    """The next round trusts saved corrections only: drafts of other images are named before it
    starts (they were left out with no word)."""
    from vessel_studio.gui import tasks

    proj = studio.project
    other = proj.images[1]
    tasks.write_draft(proj, other.id, np.ones(other.shape[:2], bool))
    dialogs.answers["confirm"] = False
    assert studio.panels["Adaptation"].run() is False
    assert "Unsaved edits not used" in dialogs.asked and not studio.runner.running


@pytest.mark.parametrize("which", ["correction", "draft"])
def test_an_unreadable_saved_mask_is_named_and_no_other_mask_is_saved_under_its_image(studio, dialogs, which):
    """Stepping to an image whose saved correction (or draft) is unreadable: an error naming the
    file, and no mask on screen, where the previous image's mask stayed under this image's name
    (a Save would then have written the previous image's mask as this image's correction)."""
    from vessel_studio.gui import tasks

    review, viewer = _review_with_predictions(studio)
    proj = studio.project
    second = proj.images[1]
    path = proj.correction_path(second.id) if which == "correction" else tasks.draft_path(proj, second.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a png")
    review.next()
    assert studio.current_id == second.id
    assert dialogs.errors and dialogs.errors[-1][0] == "Cannot show the mask" and str(path) in dialogs.errors[-1][1]
    assert review.image_id is None and not review.dirty
    assert review.save() is False and path.read_bytes() == b"not a png"
    review.next()  # the next image shows as usual
    assert review.image_id == proj.images[2].id and review.mask_layer.data.shape == proj.images[2].shape[:2]


def test_a_restored_draft_undone_to_the_saved_mask_says_so(studio, make_napari_viewer):
    """A draft restored over a saved correction, its edits undone with the eraser: no draft is
    left and the line says the mask is the saved correction, not a restored draft."""
    from vessel_studio.gui import tasks
    from vessel_studio.gui.app import attach

    review = studio.panels["Review"]
    image_id = studio.current_id
    review.mask_layer.paint((5, 5), 1)  # no prediction: an empty mask is not saved
    assert review.save()
    spot, value = _edit(review.mask_layer)
    review.autosave()
    review._release_draft_hold()  # as a crash ends its process (session 36)
    viewer2 = make_napari_viewer()
    st2 = attach(viewer2, project=studio.project.folder)
    rev2 = st2.panels["Review"]
    assert rev2.dirty and "draft" in rev2.edit_state.text()
    viewer2.layers["mask"].brush_size = 1
    viewer2.layers["mask"].paint(spot, 1 - value)  # the person takes the edit back by hand
    rev2.autosave()
    assert not rev2.dirty and not tasks.draft_path(st2.project, image_id).exists()
    assert "saved correction" in rev2.edit_state.text() and "draft" not in rev2.edit_state.text()


def test_discard_saved_mask_waits_for_a_running_adaptation(studio, qtbot, dialogs):
    """Each adaptation round trains on the saved masks it read when it started: "Discard saved mask"
    during an adaptation left the mask in the round in progress and removed it from the later ones,
    silently half applied. The button is disabled while an adaptation runs (its tooltip says why, as
    Run and Roll back wait for a running job) and the call is refused; another job (a segmentation)
    does not disable it. Saving or accepting a mask then says that the adaptation trusts it in the rounds it
    starts from now on (from its next round where its ``work/job.json`` says it has one: test_outside_job)."""
    from vessel_studio.gui import review_correction

    review, _viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, review.image_id
    assert review.save() and review.btn_discard.isEnabled()
    tip = review.btn_discard.toolTip()
    statuses = []
    studio.status.connect(statuses.append)

    def held(name):
        return _held(studio, name)

    gate = held("Segmentation")
    assert review.btn_discard.isEnabled()
    with qtbot.waitSignal(studio.runner.finished, timeout=30000):
        gate.set()
    gate = held("Adaptation")
    assert not review.btn_discard.isEnabled()
    assert review.btn_discard.toolTip() == review_correction.DISCARD_BUSY_TIP != tip
    assert "adaptation is running" in review.btn_discard.toolTip()
    assert review.discard_saved() is False
    assert dialogs.errors and dialogs.errors[-1][0] == "Busy" and "Discard saved mask" not in dialogs.asked
    assert proj.correction_path(image_id).is_file()
    _edit(review.mask_layer)
    # this stand-in job wrote no work/job.json to say which round it is in: what is true of any run
    assert review.save() and "the running adaptation trusts it in the rounds it starts from now on" in statuses[-1]
    assert review.mark_reviewed() and "in the rounds it starts from now on" in statuses[-1]
    assert not review.btn_discard.isEnabled()  # saving does not enable it meanwhile
    review.next()
    review.previous()  # another image shown meanwhile: still disabled
    assert review.image_id == image_id and not review.btn_discard.isEnabled()
    with qtbot.waitSignal(studio.runner.finished, timeout=30000):
        gate.set()
    assert review.btn_discard.isEnabled() and review.btn_discard.toolTip() == tip
    assert review.save() and "adaptation" not in statuses[-1]
    assert review.discard_saved() and not proj.correction_path(image_id).exists()


def test_discard_saved_mask_waits_for_a_running_export(studio, qtbot, dialogs):
    """An export writes each image's saved mask in its turn: "Discard saved mask" during it left the
    discarded mask in the export folder when the export had passed that image (and not when it had
    not), half applied. The button is disabled while an export runs (its tooltip says why) and the
    call is refused; a save or an accept goes through and says that the running export may already
    have written the image's previous mask."""
    from vessel_studio.gui import review_correction

    review, _viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, review.image_id
    assert review.save() and review.btn_discard.isEnabled()
    tip = review.btn_discard.toolTip()
    statuses = []
    studio.status.connect(statuses.append)
    gate = _held(studio, "Export", "export")
    assert not review.btn_discard.isEnabled()
    assert review.btn_discard.toolTip() == review_correction.DISCARD_EXPORT_TIP != tip
    assert "export is running" in review.btn_discard.toolTip()
    assert review.discard_saved() is False
    assert dialogs.errors[-1] == ("Busy", review_correction.DISCARD_EXPORT_TIP)
    assert "Discard saved mask" not in dialogs.asked and proj.correction_path(image_id).is_file()
    _edit(review.mask_layer)
    assert review.save() and "the running export may already have written this image's previous mask" in statuses[-1]
    assert review.mark_reviewed() and "export again" in statuses[-1]
    assert np.array_equal(proj.correction(image_id), review.mask_layer.data > 0)  # saved all the same
    with qtbot.waitSignal(studio.runner.finished, timeout=30000):
        gate.set()
    assert review.btn_discard.isEnabled() and review.btn_discard.toolTip() == tip
    assert review.save() and "export" not in statuses[-1]
    assert review.discard_saved() and not proj.correction_path(image_id).exists()


def test_mask_from_names_the_threshold_the_mask_was_drawn_at(studio):
    """Session 34 QA: the Mask threshold moved during unsaved edits keeps the mask (as the guide says), but
    "mask from" named the new threshold; with the edits undone, the line said p ≥ 0.30 over a p ≥ 0.50 mask, and
    Accept saved that p ≥ 0.50 mask. The line names the threshold the mask was drawn at, and that Revert edits
    draws it at the threshold chosen."""
    from vessel_studio.io.images import read_mask

    review, viewer = _review_with_predictions(studio)
    layer, image_id = review.mask_layer, review.image_id
    _edit(layer)
    review.threshold.setValue(0.3)
    assert np.array_equal(review._baseline, review.prob >= 0.5)  # the edits kept the p >= 0.50 mask
    text = review.edit_state.text()
    assert "unsaved" in text and "prediction (p ≥ 0.50)" in text and "p ≥ 0.30" in text and "Revert edits" in text
    layer.undo()  # napari's Ctrl+Z: no unsaved edits, the mask is p >= 0.50 still
    review.autosave()
    assert not review.dirty and np.array_equal(layer.data > 0, review.prob >= 0.5)
    assert "mask from: prediction (p ≥ 0.50)" in review.edit_state.text()
    assert review.revert()  # nothing unsaved: no question; drawn at the threshold chosen
    assert np.array_equal(layer.data > 0, review.prob >= 0.3)
    assert review.edit_state.text() == "mask from: prediction (p ≥ 0.30)"
    assert review.mark_reviewed()
    assert np.array_equal(read_mask(studio.project.correction_path(image_id)) > 0, review.prob >= 0.3)


def test_mask_from_names_the_map_the_mask_was_drawn_from(studio, tmp_path):
    """Show changed during unsaved edits: the edits stay on the mask drawn from the earlier map, and the line
    says which map that was (it said "prediction" as if it were the map now shown)."""
    from conftest import commit_rounds

    from vessel_studio.gui import tasks

    review, viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, review.image_id
    commit_rounds(proj, tmp_path, {0: {r.id: np.full(r.shape[:2], 0.9, np.float32) for r in proj.images}})
    review.show_round.setCurrentText("source-only")
    assert review.edit_state.text() == "mask from: prediction (p ≥ 0.50)"
    _edit(review.mask_layer)
    review.show_round.setCurrentText("round 0")
    assert review.dirty and review._shown == 0
    text = review.edit_state.text()
    assert "the source-only prediction (p ≥ 0.50)" in text and "Revert edits" in text
    review.mask_layer.undo()
    review.autosave()
    assert np.array_equal(review.mask_layer.data > 0, review._maps[tasks.SOURCE_ONLY][1] >= 0.5)
    assert "the source-only prediction (p ≥ 0.50)" in review.edit_state.text()
    assert review.revert()
    assert review.mask_layer.data.all() and review.edit_state.text() == "mask from: prediction (p ≥ 0.50)"


def test_revert_of_an_image_without_a_prediction_says_its_mask_goes_empty(studio, monkeypatch):
    """Session 34 QA: Revert edits on a mask painted from scratch asked to "go back to its prediction"; there
    was none, and the mask went empty."""
    from vessel_studio.gui import dialogs

    review = studio.panels["Review"]
    assert review.prob is None
    review.mask_layer.paint((40, 40), 1)
    asked = []
    monkeypatch.setattr(dialogs, "confirm", lambda parent, title, text: asked.append(text) or True)
    assert review.revert()
    assert "prediction" not in asked[0].replace("no prediction", "") and "empty" in asked[0]
    assert not (review.mask_layer.data > 0).any()


def test_queue_ordered_with_unsaved_edits_answered_stay_gives_the_image_its_new_place(studio, dialogs, qtbot):
    """Session 34 QA: "most uncertain first" chosen with unsaved edits, the question to show the first image
    answered Cancel: the image stays, and the title gives its place in that queue (it kept the project order's)."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    proj = studio.project
    review = studio.panels["Review"]
    for i, rec in enumerate(proj.images):  # the first image the surest, the last the least sure
        p = np.clip(0.5 + (np.random.default_rng(i).uniform(0, 1, rec.shape[:2]) - 0.5) * (4 - i), 0, 1)
        write_prob(tasks.source_only_path(proj, rec.id), p.astype(np.float32))
    review._reload_maps()
    first = proj.images[0].id
    assert review.image_id == first and "(1/3)" in review.title.text()
    _edit(review.mask_layer)
    dialogs.answers["save_discard_cancel"] = "cancel"
    with qtbot.waitSignal(studio.runner.finished, timeout=30000):
        review.queue.setCurrentText("most uncertain first")
    qtbot.waitUntil(lambda: "Unsaved correction" in dialogs.asked, timeout=5000)
    assert review.order[-1] == first and review.image_id == first and review.dirty
    assert "(3/3)" in review.title.text()


def test_save_without_a_mask_is_refused(studio, dialogs, tmp_path):
    """Session 34 QA: Save correction (Alt+S) on an image not yet segmented, nothing painted, wrote an empty mask
    as its correction ("corrected", a trusted label the next round trains on as "no vessels"); Accept refused the
    same. Both refuse, and say why: no prediction yet, or (another map exists) none of the round chosen in Show."""
    from conftest import commit_rounds

    review = studio.panels["Review"]
    proj, image_id = studio.project, review.image_id
    assert review._mask_origin == "none"
    assert review.save() is False
    assert dialogs.errors[-1][0] == "Nothing to save" and "no predicted mask yet" in dialogs.errors[-1][1]
    assert proj.correction(image_id) is None and image_id not in proj.corrections()
    assert proj.image(image_id).state == "new"
    # a round without this image's map chosen in Show, the image segmented: Save and Accept name Show
    others = [r for r in proj.images if r.id != image_id]
    commit_rounds(proj, tmp_path, {0: {r.id: np.full(r.shape[:2], 0.9, np.float32) for r in others}})
    _review_with_predictions(studio)
    review.show_round.setCurrentText("round 0")
    assert review.prob is None and review._mask_origin == "none"
    assert review.mark_reviewed() is False and review.save() is False
    assert [e[0] for e in dialogs.errors[-2:]] == ["Nothing to accept", "Nothing to save"]
    assert all("Show" in e[1] for e in dialogs.errors[-2:])
    assert proj.correction(image_id) is None
    # painted from scratch: saved
    review.mask_layer.paint((40, 40), 1)
    assert review.save() and proj.image(image_id).state == "corrected"
    # a saved mask erased to nothing is a person's choice: saved
    review.mask_layer.data = np.zeros_like(review.mask_layer.data)
    assert review.save() and not proj.correction(image_id).any()


def test_save_of_an_empty_mask_painted_before_the_prediction_came_says_revert(studio, dialogs):
    """Painted on an image not yet segmented, a segmentation finishing meanwhile (the edits stay), the strokes
    undone: the mask is empty and not drawn from the prediction now shown. Save is refused, and the reason names
    Revert edits (not "no predicted mask yet", nor Show); Revert draws the mask from the prediction."""
    from test_review_export import _write_source_only

    review = studio.panels["Review"]
    proj, image_id = studio.project, review.image_id
    assert review.prob is None and review._mask_origin == "none"
    review.mask_layer.paint((40, 40), 1)
    _write_source_only(proj)
    review._reload_maps(keep_edits=True)  # what the end of a segmentation does
    assert review.prob is not None and review._mask_origin == "none" and review.dirty
    review.mask_layer.undo()
    assert review.save() is False
    assert dialogs.errors[-1][0] == "Nothing to save" and "Revert edits" in dialogs.errors[-1][1]
    assert "no predicted mask yet" not in dialogs.errors[-1][1] and "Show" not in dialogs.errors[-1][1]
    assert proj.correction(image_id) is None
    assert review.revert() and review._mask_origin == "predicted"
    assert review.save() and np.array_equal(proj.correction(image_id), review.prob >= 0.5)


def test_the_threshold_draws_an_empty_mask_shown_before_the_prediction_came(studio):
    """The same empty mask (painted before the prediction came, undone): no saved mask, no unsaved edits, so the
    Mask threshold draws it from the prediction, as the guide says; it stayed empty ("mask from: empty")."""
    from test_review_export import _write_source_only

    review = studio.panels["Review"]
    review.mask_layer.paint((40, 40), 1)
    _write_source_only(studio.project)
    review._reload_maps(keep_edits=True)
    review.mask_layer.undo()
    assert not review.dirty and review._mask_origin == "none"
    review.threshold.setValue(0.4)
    assert np.array_equal(review.mask_layer.data > 0, review.prob >= 0.4) and not review.dirty
    assert review.edit_state.text() == "mask from: prediction (p ≥ 0.40)"


def test_a_restored_draft_of_an_image_without_a_prediction_undone_is_empty(studio, dialogs):
    """Session 34 QA: a draft painted on an image with no prediction, restored and its strokes erased by hand: the
    line said "mask from: prediction (p ≥ 0.50)" (there was none) and Save wrote the empty mask as a correction."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    proj, image_id = studio.project, review.image_id
    drawn = np.zeros(review.mask_layer.data.shape, bool)
    drawn[40:43, 40:43] = True
    tasks.write_draft(proj, image_id, drawn)
    review._reload_maps()  # the image opened again
    assert review._mask_origin == "draft" and review.dirty and review.prob is None
    review.mask_layer.data = np.zeros_like(review.mask_layer.data)  # the eraser over the strokes
    review.autosave()
    assert not review.dirty and not tasks.draft_path(proj, image_id).exists()
    assert review.edit_state.text() == "mask from: empty"
    assert review.save() is False and dialogs.errors[-1][0] == "Nothing to save"
    assert proj.correction(image_id) is None


def test_a_mask_saved_in_this_windows_adaptations_last_round_is_not_said_to_be_trained_on(studio, qtbot):
    """Session 39 QA: as for a terminal's ``adapt`` (test_outside_job), a mask saved while this window's adaptation
    ran its last round (begun: its work folder there) was said to be trusted "from its next round"; it had none."""
    import json

    review, _viewer = _review_with_predictions(studio)
    proj = studio.project
    proj.work_dir.mkdir(exist_ok=True)
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": None, "config": {"rounds": 0}}))
    (proj.work_dir / "round-000").mkdir()
    statuses = []
    studio.status.connect(statuses.append)
    gate = _held(studio, "Adaptation")
    _edit(review.mask_layer)
    assert review.save() and "is in its last round" in statuses[-1] and "next round" not in statuses[-1]
    with qtbot.waitSignal(studio.runner.finished, timeout=30000):
        gate.set()


def _held(studio, name: str, stage: str = "round"):
    """A job named ``name`` started in the studio, emitting ``stage`` progress until the gate returned is set."""
    import threading

    from vessel_studio.events import Progress

    gate = threading.Event()

    def job():
        while not gate.is_set():
            yield Progress(stage, 0, 1)
            gate.wait(0.02)
        return None

    assert studio.start_job(name, job)
    return gate
