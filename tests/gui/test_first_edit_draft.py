"""Session 36 leftover: ``vessel-studio images PROJECT --remove IMAGE`` from a terminal refuses (without
``--force``) an image with unsaved edits that a window autosaved as a draft; but the window autosaved every 3 s, so
an image whose edits were all younger than that had no draft yet and was removed, the edits with it, without a
word. The window now writes the draft at the first edit (after showing the image, a save, a revert), so from then on
the command sees the image as holding a person's work; later edits go to the draft at the 3 s autosave as before."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_the_first_edit_is_autosaved_at_once_and_images_remove_refuses_the_image(studio, capsys, qtbot):
    from vessel_studio.cli import main
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    review._autosave.stop()  # no 3 s tick in this test: only what the edit itself writes
    proj = studio.project
    image_id = review.image_id
    assert image_id is not None and not tasks.draft_path(proj, image_id).exists()
    review.mask_layer.paint((40, 40), 1)  # a brush dab, as the mouse makes it (the layer's paint event)
    # once the event loop is back (well within the 3 s the autosave took)
    qtbot.waitUntil(tasks.draft_path(proj, image_id).is_file, timeout=1000)
    assert review.dirty

    # the terminal, a moment later (another program: its own Project)
    assert main(["images", str(proj.folder), "--remove", image_id]) == 2
    err = capsys.readouterr().err
    assert "hold a person's work" in err and f"{image_id}: unsaved edits" in err and "Nothing was removed" in err
    assert image_id in [r.id for r in Project.open(proj.folder).images]

    # after a save there is no draft; the next edit writes one at once again
    assert review.save()
    review._saver.flush()
    assert not tasks.draft_path(proj, image_id).exists()
    review.mask_layer.paint((60, 60), 1)
    qtbot.waitUntil(tasks.draft_path(proj, image_id).is_file, timeout=1000)
    assert review.dirty


def test_showing_an_image_with_a_draft_does_not_write_it_again(studio, qtbot):
    """Only an edit writes at once: an image shown with its draft (restored) keeps the file as it is (another window
    that wrote it tells its own draft by the file's stat key), until it is edited."""
    import numpy as np

    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    review._autosave.stop()
    proj = studio.project
    other = [r.id for r in proj.images if r.id != review.image_id][0]
    mask = np.zeros(proj.image(other).shape[:2], bool)
    mask[10:20, 10:20] = True
    draft = tasks.write_draft(proj, other, mask)  # another window's autosave
    key = tasks.stat_key(draft)
    studio.select_image(other)
    qtbot.waitUntil(lambda: review.image_id == other and review.dirty, timeout=5000)
    qtbot.wait(100)
    assert tasks.stat_key(draft) == key
    review.mask_layer.paint((40, 40), 1)
    qtbot.waitUntil(lambda: tasks.stat_key(draft) != key, timeout=1000)
