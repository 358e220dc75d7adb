"""The Project panel's "Remove from project…" (session 28): an image added by mistake taken out of the
project, with its saved correction and unsaved edits, and the Review panel following without asking
about edits of an image that is gone."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _select(panel, ids):
    from qtpy.QtCore import Qt

    panel.list.clearSelection()
    for row in range(panel.list.count()):
        item = panel.list.item(row)
        item.setSelected(item.data(Qt.ItemDataRole.UserRole) in ids)


def test_removing_the_image_on_screen_with_unsaved_edits_shows_the_next_one(studio, dialogs, qtbot):
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    panel, review = studio.panels["Project"], studio.panels["Review"]
    proj = studio.project
    a, b, c = (r.id for r in proj.images)
    originals = [r.origin for r in proj.images]
    studio.select_image(b)
    assert review.image_id == b
    review.mask_layer.paint((40, 40), 1)
    assert review.save()  # a saved correction of b
    review.mask_layer.paint((20, 70), 1)
    review.autosave()  # and unsaved edits, autosaved
    assert review.dirty and tasks.draft_path(proj, b).is_file()
    _select(panel, {b})
    assert panel.selected_ids() == [b] and panel.btn_remove.isEnabled()
    dialogs.answers["confirm"] = False
    assert panel.remove_selected() is False and [r.id for r in proj.images] == [a, b, c]
    asked = len(dialogs.asked)
    dialogs.answers["confirm"] = True
    assert panel.remove_selected() is True
    assert dialogs.asked[asked:] == ["Remove from project"]  # not "unsaved edits: save, discard or stay?"
    fresh = Project.open(proj.folder)
    assert [r.id for r in fresh.images] == [a, c] and fresh.correction_ids() == []
    assert not tasks.draft_path(proj, b).exists() and not proj.correction_path(b).exists()
    assert all(__import__("pathlib").Path(o).is_file() for o in originals)  # the files added from stay
    assert studio.current_id == c and review.image_id == c and not review.dirty  # the image after it
    assert panel.list.count() == 2 and not dialogs.errors
    review.autosave()
    assert not tasks.draft_path(proj, b).exists()  # no draft of the removed image written back


def test_removing_every_image_leaves_review_empty_and_the_last_removed_shows_the_one_before(studio, dialogs):
    panel, review = studio.panels["Project"], studio.panels["Review"]
    proj = studio.project
    a, b, c = (r.id for r in proj.images)
    studio.select_image(c)
    _select(panel, {c})
    assert panel.remove_selected() is True and studio.current_id == b and review.image_id == b
    _select(panel, {a, b})
    assert panel.selected_ids() == [a, b]
    assert panel.remove_selected() is True
    assert proj.images == [] and studio.current_id is None and review.image_id is None
    assert review.title.text() == "No image" and not panel.btn_remove.isEnabled() and not dialogs.errors


def test_removing_is_refused_while_a_job_runs(studio, dialogs, qtbot, monkeypatch):
    import threading

    panel = studio.panels["Project"]
    proj = studio.project
    gate = threading.Event()

    def job():
        yield from ()
        gate.wait(20)
        return 0

    assert studio.start_job("Segmentation", job)
    qtbot.waitUntil(lambda: studio.runner.running, timeout=5000)
    _select(panel, {proj.images[0].id})
    assert not panel.btn_remove.isEnabled()
    assert studio.remove_images([proj.images[0].id]) is False
    assert dialogs.errors[-1][0] == "Busy" and len(proj.images) == 3
    gate.set()
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=20000)
    _select(panel, {proj.images[0].id})
    assert panel.btn_remove.isEnabled()


def test_a_removed_images_unsaved_edits_are_not_asked_about_elsewhere(studio, dialogs):
    """The image on screen is kept; another one, with an autosaved draft, is removed: leaving the
    project no longer names it."""
    from vessel_studio.gui import tasks

    panel = studio.panels["Project"]
    proj = studio.project
    a, b, _c = (r.id for r in proj.images)
    tasks.write_draft(proj, b, np.ones(proj.image(b).shape[:2], bool))
    assert tasks.draft_ids(proj) == [b]
    studio.select_image(a)
    _select(panel, {b})
    assert panel.remove_selected() is True and studio.current_id == a
    assert tasks.draft_ids(proj) == [] and not tasks.draft_path(proj, b).exists()


def test_the_question_tells_images_of_one_name_apart(studio, dialogs, monkeypatch, rename_image):
    """Session 28 (the guide's helper): two images named alike (``a.png`` and ``a.tif``) were both asked
    about as "a"."""
    from vessel_studio.gui import dialogs as mod

    panel = studio.panels["Project"]
    proj = studio.project
    a, b, c = proj.images
    rename_image(proj, b.id, a.name)
    studio.images_changed.emit()
    asked = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: asked.append(text) or False)
    _select(panel, {b.id, c.id})
    assert panel.remove_selected() is False
    assert f"{a.name} ({b.id}), {c.name}?" in asked[0] and len(proj.images) == 3


def _click(qtbot, panel, row, modifier=None):
    from qtpy.QtCore import Qt

    rect = panel.list.visualItemRect(panel.list.item(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                     modifier or Qt.KeyboardModifier.NoModifier, rect.center())


def test_ctrl_click_selects_several_images_to_remove(studio, dialogs, qtbot):
    """Session 28 QA: a Ctrl-click in the list showed the image (the studio then made its row current with
    a clear-and-select) and the click's toggle took it off again: nothing was selected, so several images
    could not be picked with the mouse as the tool tip says."""
    from qtpy.QtCore import Qt

    panel, proj = studio.panels["Project"], studio.project
    a, b, c = (r.id for r in proj.images)
    _click(qtbot, panel, 0)
    _click(qtbot, panel, 2, Qt.KeyboardModifier.ControlModifier)
    assert panel.selected_ids() == [a, c] and studio.current_id == c
    assert panel.remove_selected() is True
    assert [r.id for r in proj.images] == [b] and studio.current_id == b and not dialogs.errors


def test_stepping_in_review_leaves_only_the_image_on_screen_selected(studio, dialogs, qtbot):
    """An image shown from elsewhere (Review's Next) makes its row the selection: an earlier multi-selection
    left selected beside it would be what "Remove from project…" takes out, images not on screen."""
    from qtpy.QtCore import Qt

    panel, review, proj = studio.panels["Project"], studio.panels["Review"], studio.project
    a, b, c = (r.id for r in proj.images)
    _click(qtbot, panel, 0)
    _click(qtbot, panel, 1, Qt.KeyboardModifier.ControlModifier)
    assert panel.selected_ids() == [a, b] and studio.current_id == b
    review.next()
    assert studio.current_id == c and panel.selected_ids() == [c]


def test_the_image_after_a_removed_one_is_the_review_queues_next(studio, dialogs):
    """Session 28 QA: with "most uncertain first" as the queue, removing the image on screen showed the next
    image in project order, not the queue's next."""
    panel, review = studio.panels["Project"], studio.panels["Review"]
    a, b, c = (r.id for r in studio.project.images)
    review.order = [c, a, b]  # as the "most uncertain first" job leaves it
    studio.select_image(c)
    _select(panel, {c})
    assert panel.remove_selected() is True
    assert studio.current_id == a and review.image_id == a  # the queue's next, not b


def test_an_image_removed_by_another_program_gets_no_new_draft(studio, qtbot):
    """Session 28 leftover: `vessel-studio images PROJECT --remove` from a terminal while the window showed that
    image with unsaved edits; the window's autosave wrote its draft again, which came back with the image when
    it was added again. Now the autosave writes none and says why (once)."""
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    review._autosave.stop()
    image_id = studio.current_id
    review.mask_layer.paint((40, 40), 1)
    review.mask_layer.paint((40, 48), 1)
    messages = []
    studio.status.connect(messages.append)
    Project.open(studio.project.folder).remove_images([image_id])  # another program's Project
    review.mask_layer.paint((60, 60), 1)
    review.autosave()
    review.mask_layer.paint((70, 70), 1)
    review.autosave()
    assert not tasks.draft_path(studio.project, image_id).exists()
    assert [m for m in messages if "no longer in the project" in m] and len(messages) == 1


def test_the_question_names_unsaved_edits_only_when_there_are_some(studio, dialogs, monkeypatch):
    """Session 34 guide QA: the guide says the question names the image's unsaved edits "if it has them"; it
    named "their unsaved edits" whenever the image on screen was among those removed, edits or not."""
    from vessel_studio.gui import dialogs as mod

    panel, review = studio.panels["Project"], studio.panels["Review"]
    b = studio.project.images[1].id
    studio.select_image(b)
    asked = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: asked.append(text) or False)
    _select(panel, {b})
    assert not review.dirty and panel.remove_selected() is False
    assert "unsaved edits" not in asked[-1]
    review.mask_layer.paint((40, 40), 1)  # edits on screen, not yet autosaved
    assert review.dirty and panel.remove_selected() is False
    assert "their unsaved edits" in asked[-1]
