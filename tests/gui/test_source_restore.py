"""Opening a project whose rounds were adapted from labelled source images restores them in the
Adaptation panel's "Labelled source images" box when their recorded folders still pair as recorded;
otherwise the box says which folder and what is wrong, and the source stays as it was."""

from __future__ import annotations

import shutil

import pytest
from conftest import paired

pytestmark = pytest.mark.gui


@pytest.fixture
def labelled(tmp_path):
    """Three small labelled fundus source images (``images/``, ``labels/``)."""
    from vessel_studio.samples import write_sample_images

    return write_sample_images(tmp_path / "drive-like", n=3, modality="fundus", shape=(48, 48), seed=21)


def _adapted_from(proj, tmp_path, record) -> None:
    """Give the project a (fake) round 0 and the source record ``adapt`` would have written."""
    from vessel_studio.store import RoundRecord

    (tmp_path / "r0" / "pseudo").mkdir(parents=True)
    proj.commit_round(tmp_path / "r0", RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    proj.set_source(record)


def test_reopening_restores_the_recorded_source_images(studio, labelled, dialogs, tmp_path):
    from vessel_studio.adaptation import SourceBundle

    chooser = studio.panels["Adaptation"].source
    bundle = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels")
    _adapted_from(studio.project, tmp_path, bundle.identity())
    assert studio.source_bundle is None and studio.source_conflict()  # before: procedural, a warning

    assert studio.open_project(studio.project.folder)  # reopened (as after a restart)
    restored = studio.source_bundle
    assert restored is not None and restored.images == bundle.images
    assert restored.identity() == bundle.identity()
    assert chooser.label.text() == (f"Uses 3 labelled fundus images from {labelled.folder / 'images'} "
                                    "(restored from the project).")
    assert studio.source_conflict() is None and chooser.warning.text() == ""
    assert chooser.btn_masks.isEnabled() and chooser.btn_clear.isEnabled() and not dialogs.errors

    chooser.btn_clear.click()  # the lab's choice from then on: procedural, with the warning again
    assert studio.source_bundle is None and "restored" not in chooser.label.text()
    assert chooser.warning.text().startswith("⚠ differs")


def test_moved_source_folders_are_named_and_procedural_is_kept(studio, labelled, dialogs, tmp_path):
    from vessel_studio.adaptation import SourceBundle

    chooser = studio.panels["Adaptation"].source
    record = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels").identity()
    _adapted_from(studio.project, tmp_path, record)
    shutil.move(labelled.folder / "images", tmp_path / "moved")

    assert studio.open_project(studio.project.folder)
    assert studio.source_bundle is None and not dialogs.errors
    text = chooser.label.text()
    assert text.startswith("Uses the bundled fundus-generator with procedural vessel masks.\n")
    assert (f"This project's rounds were adapted from 3 labelled fundus images (hash {record['images_hash'][:8]}…), "
            f"not restored: {labelled.folder / 'images'}: the recorded source images folder is gone") in text
    assert "Choose their folders again" in text
    assert chooser.warning.text().startswith("⚠ differs")

    # a mask removed: the folders no longer pair; the box says which file
    shutil.move(tmp_path / "moved", labelled.folder / "images")
    (labelled.folder / "labels" / "sample-01.png").unlink()
    assert studio.open_project(studio.project.folder)
    assert studio.source_bundle is None and not dialogs.errors
    assert "sample-01.png has no label" in chooser.label.text()


def test_a_manifest_without_source_folders_opens(studio, labelled, dialogs, tmp_path, monkeypatch, qtbot):
    """A project adapted before the folders were recorded: it opens, the box says why nothing was
    restored, and the source in use stays (here: procedural)."""
    from vessel_studio.adaptation import SourceBundle

    chooser = studio.panels["Adaptation"].source
    record = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels").identity()
    del record["folders"]
    _adapted_from(studio.project, tmp_path, record)
    assert studio.open_project(studio.project.folder)
    assert studio.source_bundle is None and not dialogs.errors
    assert "not restored: the source record names no folders" in chooser.label.text()
    assert studio.panels["Project"].source.text().startswith("Source: 3 labelled fundus images")
    # choosing the same folders by hand: no warning, and the note is gone
    from vessel_studio.gui import dialogs as mod

    answers = [labelled.folder / "images", labelled.folder / "labels"]
    monkeypatch.setattr(mod, "pick_folder", lambda parent, title: str(answers.pop(0)))
    chooser.choose_images()
    assert paired(qtbot, chooser, chooser.choose_masks)
    assert studio.source_conflict() is None and "not restored" not in chooser.label.text()
