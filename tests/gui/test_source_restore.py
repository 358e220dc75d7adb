"""Opening a project whose rounds were adapted from labelled source images restores them in the
Adaptation panel's "Labelled source images" box when their recorded folders still pair as recorded;
otherwise the box says which folder and what is wrong, and the source stays as it was."""

from __future__ import annotations

import shutil

import pytest
from conftest import paired, wait_restored

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


def test_reopening_restores_the_recorded_source_images(studio, labelled, dialogs, tmp_path, qtbot):
    from vessel_studio.adaptation import SourceBundle

    chooser = studio.panels["Adaptation"].source
    bundle = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels")
    _adapted_from(studio.project, tmp_path, bundle.identity())
    assert studio.source_bundle is None and studio.source_conflict()  # before: procedural, a warning

    assert studio.open_project(studio.project.folder)  # reopened (as after a restart)
    wait_restored(qtbot, chooser)
    bundle_in_use = studio.source_bundle
    assert bundle_in_use is not None and bundle_in_use.images == bundle.images
    assert bundle_in_use.identity() == bundle.identity()
    assert chooser.label.text() == (f"Uses 3 labelled fundus images from {labelled.folder / 'images'} "
                                    "(restored from the project).")
    assert studio.source_conflict() is None and chooser.warning.text() == ""
    assert chooser.btn_masks.isEnabled() and chooser.btn_clear.isEnabled() and not dialogs.errors

    chooser.btn_clear.click()  # the lab's choice from then on: procedural, with the warning again
    assert studio.source_bundle is None and "restored" not in chooser.label.text()
    assert chooser.warning.text().startswith("⚠ differs")


def test_moved_source_folders_are_named_and_procedural_is_kept(studio, labelled, dialogs, tmp_path, qtbot):
    from vessel_studio.adaptation import SourceBundle

    chooser = studio.panels["Adaptation"].source
    record = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels").identity()
    _adapted_from(studio.project, tmp_path, record)
    shutil.move(labelled.folder / "images", tmp_path / "moved")

    assert studio.open_project(studio.project.folder)
    wait_restored(qtbot, chooser)
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
    wait_restored(qtbot, chooser)
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
    wait_restored(qtbot, chooser)
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


@pytest.fixture
def held(monkeypatch):
    """``SourceBundle.from_record`` held until ``held.go`` is set (at most 3 s); ``held.calls``: for each call,
    whether it ran on the GUI thread and whether the GUI thread's event loop turned while it was held (a 20 ms
    QTimer started by the test sets ``held.ticked``)."""
    import threading
    from types import SimpleNamespace

    from vessel_studio.adaptation.job import SourceBundle

    real = SourceBundle.from_record.__func__
    state = SimpleNamespace(go=threading.Event(), ticked=threading.Event(), calls=[])

    def from_record(cls, *args, **kw):
        gui_thread = threading.current_thread() is threading.main_thread()
        state.calls.append((gui_thread, state.ticked.wait(3)))
        state.go.wait(3)
        return real(cls, *args, **kw)

    monkeypatch.setattr(SourceBundle, "from_record", classmethod(from_record))
    return state


def test_the_restore_runs_in_a_worker_and_run_waits_for_it(studio, labelled, dialogs, tmp_path, qtbot, held):
    """Session 45: opening a project recorded with 1,000 labelled source pairs paired them again (``from_record``:
    every file of both folders looked at, the two source models hashed) on the GUI thread: the window froze for
    0.67 s (benchmarks/gui_stalls.py), longer on a network drive. It runs in a worker now: the GUI thread's event loop
    turns meanwhile, the box says it is restoring, Run refuses ("Busy"), and the source is used once paired."""
    from qtpy.QtCore import QTimer

    from vessel_studio.adaptation import SourceBundle

    chooser, panel = studio.panels["Adaptation"].source, studio.panels["Adaptation"]
    bundle = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels")
    _adapted_from(studio.project, tmp_path, bundle.identity())
    lines = []
    studio.status.connect(lines.append)
    timer = QTimer()
    timer.timeout.connect(held.ticked.set)
    timer.start(20)
    assert studio.open_project(studio.project.folder)
    qtbot.waitUntil(lambda: bool(held.calls), timeout=10000)
    assert held.calls == [(False, True)]  # in a worker, the GUI thread's timer firing meanwhile
    assert chooser.restoring and studio.source_bundle is None
    assert (f"Restoring the source of this project's rounds: pairing {labelled.folder / 'images'} with "
            f"{labelled.folder / 'labels'} again…") in chooser.label.text()
    # not said to differ from the rounds' source while that source is being restored (it differs only for the moment)
    assert studio.source_conflict().startswith("This project's round 0 was adapted from 3 labelled fundus images")
    assert chooser.warning.text() == "" and not chooser.warning.isVisibleTo(chooser)
    assert panel.run() is False and dialogs.errors == [("Busy", dialogs.errors[0][1])]
    assert "still being restored" in dialogs.errors[0][1] and not studio.runner.running
    held.go.set()
    wait_restored(qtbot, chooser)
    assert studio.source_bundle.identity() == bundle.identity()
    assert chooser.label.text() == (f"Uses 3 labelled fundus images from {labelled.folder / 'images'} "
                                    "(restored from the project).")
    assert lines[-1] == ("adaptation source restored from the project: 3 labelled images from "
                         f"{labelled.folder / 'images'}")
    assert studio.source_conflict() is None and chooser.warning.text() == ""


def test_a_restore_overtaken_by_another_project_or_source_is_dropped(studio, labelled, dialogs, tmp_path, qtbot,
                                                                     held, monkeypatch):
    """The restore's result is dropped when another project was opened meanwhile, or a source set or other images
    chosen: the source in use stays as the later choice left it."""
    from conftest import wait_for_workers

    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.gui import dialogs as mod

    chooser = studio.panels["Adaptation"].source
    adapted = studio.project.folder
    _adapted_from(studio.project, tmp_path, SourceBundle.from_folders(labelled.folder / "images",
                                                                      labelled.folder / "labels").identity())
    lines = []
    studio.status.connect(lines.append)
    held.ticked.set()
    assert studio.open_project(adapted)
    assert chooser.restoring
    assert studio.new_project(tmp_path / "other", "fundus")  # another project while it runs: dropped
    assert not chooser.restoring and "Restoring" not in chooser.label.text()
    held.go.set()
    wait_for_workers(qtbot)
    assert studio.source_bundle is None and chooser.label.text() == (
        "Uses the bundled fundus-generator with procedural vessel masks.")
    assert not any("restored" in line for line in lines) and not dialogs.errors

    # a source set meanwhile (the bundled models chosen): dropped, with a status line
    held.go.clear()
    assert studio.open_project(adapted) and chooser.restoring
    assert chooser.use_bundled_models() and not chooser.restoring
    assert lines[-2] == ("adaptation source changed while the source of this project's rounds was being restored: "
                         "it is not restored")
    held.go.set()
    wait_for_workers(qtbot)
    assert studio.source_bundle is None and "restored" not in chooser.label.text()

    # other images chosen meanwhile: dropped, the images wait for their masks
    held.go.clear()
    assert studio.open_project(adapted) and chooser.restoring  # another Project object: restored again
    monkeypatch.setattr(mod, "pick_folder", lambda parent, title: str(labelled.folder / "labels"))
    assert chooser.choose_images() and not chooser.restoring
    assert lines[-1] == (f"source images {labelled.folder / 'labels'} chosen while the source of this project's "
                         "rounds was being restored: it is not restored")
    held.go.set()
    wait_for_workers(qtbot)
    assert studio.source_bundle is None and chooser.pending_images == labelled.folder / "labels"
    assert "now choose their vessel masks" in chooser.label.text() and not dialogs.errors
