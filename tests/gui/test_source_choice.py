"""The Adaptation panel's "Labelled source images" and the Project panel's readable source line."""

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


@pytest.fixture
def pick(monkeypatch):
    """Answers the folder pickers of ``vessel_studio.gui.dialogs`` from a queue."""
    from vessel_studio.gui import dialogs as mod

    answers: list = []
    monkeypatch.setattr(mod, "pick_folder", lambda parent, title: str(answers.pop(0)) if answers else None)
    return answers


def test_choose_labelled_source_folders_then_clear(studio, labelled, pick, dialogs, qtbot):
    chooser = studio.panels["Adaptation"].source
    project_line = studio.panels["Project"].source
    assert studio.source_bundle is None
    assert "procedural vessel masks" in chooser.label.text()
    assert project_line.text() == ("Source: not adapted yet; adaptation will use the bundled fundus-generator "
                                   "with procedural vessel masks")
    assert not chooser.btn_masks.isEnabled()

    pick.append(labelled.folder / "images")
    assert chooser.choose_images()  # waits for its masks folder
    assert studio.source_bundle is None and "now choose their vessel masks" in chooser.label.text()
    pick.append(labelled.folder / "labels")
    assert paired(qtbot, chooser, chooser.choose_masks) is True
    bundle = studio.source_bundle
    assert [(e[0].name, e[1].name) for e in bundle.images] == [(p.name, q.name) for p, q in zip(labelled.images, labelled.labels)]
    assert bundle.segmenter == "fundus-segmenter" and bundle.generator == "fundus-generator"
    assert chooser.label.text() == f"Uses 3 labelled fundus images from {labelled.folder / 'images'}."
    assert f"3 labelled fundus images from {labelled.folder / 'images'}" in project_line.text()
    assert chooser.btn_clear.isEnabled() and not dialogs.errors

    chooser.btn_clear.click()
    assert studio.source_bundle is None
    assert "procedural vessel masks" in chooser.label.text() and "procedural" in project_line.text()
    assert not chooser.btn_clear.isEnabled()


def test_bad_source_folders_show_an_error_and_keep_the_choice(studio, labelled, pick, dialogs, tmp_path, qtbot):
    chooser = studio.panels["Adaptation"].source
    pick.extend([labelled.folder / "images", labelled.folder / "labels"])
    chooser.choose_images()
    assert paired(qtbot, chooser, chooser.choose_masks)
    good = studio.source_bundle
    # another set whose masks folder lacks one image's mask
    bad = tmp_path / "bad"
    shutil.copytree(labelled.folder / "images", bad / "images")
    shutil.copytree(labelled.folder / "labels", bad / "labels")
    (bad / "labels" / "sample-02.png").unlink()
    pick.append(bad / "images")
    assert chooser.choose_images()  # not paired with the masks in use: waits for its own
    assert studio.source_bundle is good and not dialogs.errors
    pick.append(bad / "labels")
    assert paired(qtbot, chooser, chooser.choose_masks) is False
    title, text = dialogs.errors[-1]
    assert title == "Cannot use these source images"
    assert "sample-02.png has no label" in text and str(bad / "labels") in text
    assert studio.source_bundle is good
    assert chooser.label.text().startswith(f"Uses 3 labelled fundus images from {labelled.folder / 'images'}.")
    # an images folder with no image at all
    empty = tmp_path / "empty"
    empty.mkdir()
    pick.extend([empty, labelled.folder / "labels"])
    chooser.choose_images()
    assert paired(qtbot, chooser, chooser.choose_masks) is False and "no image files" in dialogs.errors[-1][1]
    assert studio.source_bundle is good


def test_run_passes_the_chosen_bundle_to_adapt(studio, labelled, pick, dialogs, qtbot, monkeypatch):
    import vessel_studio.adaptation as adaptation
    from vessel_studio.events import Progress

    seen = []

    def fake_adapt(project, cfg, *, source=None, device=None, stop_requested=None):
        seen.append((project, cfg, source))
        yield Progress("load", 1, 1, "ready")
        return "adapted"

    monkeypatch.setattr(adaptation, "adapt", fake_adapt)
    pick.extend([labelled.folder / "images", labelled.folder / "labels"])
    panel = studio.panels["Adaptation"]
    panel.source.choose_images()
    paired(qtbot, panel.source, panel.source.choose_masks)
    panel.preset.setCurrentText("tiny")
    with qtbot.waitSignal(studio.runner.finished, timeout=30000) as blocker:
        assert panel.run()
    assert blocker.args[0].status == "done", blocker.args[0].error
    (project, cfg, source), = seen
    assert project is studio.project and source is studio.source_bundle and len(source.images) == 3
    assert "Different source" not in dialogs.asked and not dialogs.errors


def test_project_source_line_and_a_changed_source(studio, labelled, pick, dialogs, qtbot, tmp_path, monkeypatch):
    """The recorded source reads as words; running with another source than the rounds' asks first,
    saying that the new rounds go on from the existing ones."""
    import vessel_studio.adaptation as adaptation
    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.store import RoundRecord

    line = studio.panels["Project"].source
    panel = studio.panels["Adaptation"]
    proj = studio.project
    (tmp_path / "r0" / "pseudo").mkdir(parents=True)
    proj.commit_round(tmp_path / "r0", RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    proj.set_source(SourceBundle().identity())  # what adapt records for the bundled procedural source
    studio.project_changed.emit()
    assert line.text() == "Source: bundled fundus-generator, procedural vessel masks"
    assert studio.source_conflict() is None and panel.source.warning.text() == ""

    labelled_bundle = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels")
    record = labelled_bundle.identity()
    proj.set_source(record)
    studio.project_changed.emit()
    assert line.text() == f"Source: 3 labelled fundus images (hash {record['images_hash'][:8]}…)"
    assert "kind" not in line.text() and "images_hash" not in line.text()

    # the studio would adapt from procedural masks: the rounds' source differs
    conflict = studio.source_conflict()
    assert conflict and "round 0" in conflict and "adds rounds from 1 on" in conflict and "no round" in conflict
    assert panel.source.warning.text().startswith("⚠ differs")
    started = []

    def fake_adapt(project, cfg, *, source=None, device=None, stop_requested=None):
        started.append(source)
        return "adapted"
        yield  # noqa: unreachable - a generator

    monkeypatch.setattr(adaptation, "adapt", fake_adapt)
    dialogs.answers["confirm"] = False
    assert panel.run() is False and dialogs.asked[-1] == "Different source" and not studio.runner.running
    dialogs.answers["confirm"] = True
    with qtbot.waitSignal(studio.runner.finished, timeout=30000):
        assert panel.run()
    assert started == [None]

    # choosing the same labelled images as the rounds': nothing to warn about
    pick.extend([labelled.folder / "images", labelled.folder / "labels"])
    panel.source.choose_images()
    assert paired(qtbot, panel.source, panel.source.choose_masks)
    assert studio.source_conflict() is None and panel.source.warning.text() == ""
    assert not dialogs.errors


def test_fov_masks_chosen_as_the_vessel_masks_are_questioned(studio, labelled, pick, dialogs, monkeypatch, qtbot):
    """Session 42 QA (DRIVE as the source of an OCT-A project): DRIVE's ``mask/`` folder (its FOV masks) chosen with
    "Choose masks…" paired without a word, and the box does not name the masks' folder: the adaptation would train on
    FOV discs as vessels. A message asks; the choice stays (the person decides). Vessel masks and FOV masks in their
    places bring none; FOV masks given the vessel masks' folder are questioned too."""
    from vessel_studio.gui import dialogs as mod

    told = []
    monkeypatch.setattr(mod, "info", lambda parent, title, text: told.append((title, text)))
    chooser = studio.panels["Adaptation"].source
    pick.extend([labelled.folder / "images", labelled.folder / "labels", labelled.folder / "fov"])
    assert chooser.choose_images() and paired(qtbot, chooser, chooser.choose_masks)
    assert paired(qtbot, chooser, chooser.choose_fovs)
    assert told == [] and not dialogs.errors  # the right folders

    pick.extend([labelled.folder / "images", labelled.folder / "fov"])  # the FOV masks as the vessel masks
    assert chooser.choose_images() and paired(qtbot, chooser, chooser.choose_masks)
    assert studio.source_bundle.masks_folder == labelled.folder / "fov"  # used as chosen
    (title, text), = told
    assert title == "Check the source masks"
    first = studio.source_bundle.images[0][1]
    assert text.startswith(f"{first}: ") and "of the image is marked as vessel" in text
    assert "is this folder the FOV masks?" in text and text.endswith("(Choose masks…, FOV masks…).")

    told.clear()
    pick.extend([labelled.folder / "images", labelled.folder / "labels", labelled.folder / "labels"])
    assert chooser.choose_images() and paired(qtbot, chooser, chooser.choose_masks) and told == []
    assert paired(qtbot, chooser, chooser.choose_fovs)  # the vessel masks as the FOV masks
    (title, text), = told
    assert title == "Check the source masks" and "is this folder the vessel masks?" in text


def test_pairing_runs_in_a_worker_and_the_window_stays_responsive(studio, labelled, pick, dialogs, qtbot, monkeypatch):
    """Session 44: choosing the masks folder paired the folders (``SourceBundle.from_folders``: every file of both
    folders looked at; 0.57 s for 1,000 pairs) and read the first pair's masks (``masks_mixed_up``) on the GUI
    thread. Both run in a worker now: a timer of the GUI thread fires while they run, and the result (the bundle in
    use, its status line, the "Check the source masks" message) comes when they are done."""
    import threading

    from qtpy.QtCore import QTimer

    from vessel_studio.adaptation import source as source_mod
    from vessel_studio.adaptation.job import SourceBundle
    from vessel_studio.gui import dialogs as mod

    ticked, threads = threading.Event(), []
    real_pair, real_mixed = SourceBundle.from_folders.__func__, source_mod.masks_mixed_up

    def from_folders(cls, *args, **kw):
        threads.append(("from_folders", threading.current_thread() is threading.main_thread()))
        threads.append(("GUI timer fired meanwhile", ticked.wait(5)))  # the GUI thread's event loop runs meanwhile
        return real_pair(cls, *args, **kw)

    def mixed_up(bundle):
        threads.append(("masks_mixed_up", threading.current_thread() is threading.main_thread()))
        return real_mixed(bundle)

    monkeypatch.setattr(SourceBundle, "from_folders", classmethod(from_folders))
    monkeypatch.setattr(source_mod, "masks_mixed_up", mixed_up)
    told, lines = [], []
    monkeypatch.setattr(mod, "info", lambda parent, title, text: told.append(title))
    studio.status.connect(lines.append)
    chooser = studio.panels["Adaptation"].source
    pick.extend([labelled.folder / "images", labelled.folder / "fov"])  # FOV masks as the vessel masks: a message
    assert chooser.choose_images()
    QTimer.singleShot(50, ticked.set)
    assert chooser.choose_masks()
    qtbot.waitUntil(lambda: studio.source_bundle is not None, timeout=30000)
    assert threads == [("from_folders", False), ("GUI timer fired meanwhile", True), ("masks_mixed_up", False)]
    assert studio.source_bundle.masks_folder == labelled.folder / "fov" and not chooser.pairing
    assert lines[-1] == f"adaptation source: 3 labelled images from {labelled.folder / 'images'}"
    assert told == ["Check the source masks"] and not dialogs.errors
    assert chooser.label.text() == f"Uses 3 labelled fundus images from {labelled.folder / 'images'}."


def test_a_pairing_overtaken_by_another_choice_is_dropped(studio, labelled, pick, dialogs, qtbot, monkeypatch):
    """The pairing's result is dropped when the source was set meanwhile (Clear, a model, the project's recorded
    source) or other images were chosen; Run waits for a pairing running (it would adapt from the source before)."""
    import threading

    from vessel_studio.adaptation.job import SourceBundle

    go = threading.Event()
    real_pair = SourceBundle.from_folders.__func__

    def from_folders(cls, *args, **kw):
        go.wait(10)
        return real_pair(cls, *args, **kw)

    monkeypatch.setattr(SourceBundle, "from_folders", classmethod(from_folders))
    lines = []
    studio.status.connect(lines.append)
    chooser, panel = studio.panels["Adaptation"].source, studio.panels["Adaptation"]
    pick.extend([labelled.folder / "images", labelled.folder / "labels"])
    chooser.choose_images()
    assert chooser.choose_masks() and chooser.pairing
    assert f"Pairing {labelled.folder / 'images'} with {labelled.folder / 'labels'}…" in chooser.label.text()
    assert panel.run() is False and dialogs.errors[-1][0] == "Busy" and "still being paired" in dialogs.errors[-1][1]
    assert not studio.runner.running
    dialogs.errors.clear()
    assert chooser.clear()  # the source set meanwhile
    assert not chooser.pairing and "Pairing" not in chooser.label.text()
    assert lines[-2] == (f"adaptation source changed while {labelled.folder / 'images'} was being paired: those "
                         "images are not used")
    go.set()
    from conftest import wait_for_workers

    wait_for_workers(qtbot)
    assert studio.source_bundle is None and lines[-1] == "adaptation source: procedural vessel masks"
    assert "procedural vessel masks" in chooser.label.text() and not dialogs.errors

    # another images folder chosen while the masks of the first are paired: the first pairing is dropped
    go.clear()
    pick.extend([labelled.folder / "images", labelled.folder / "labels", labelled.folder / "images"])
    chooser.choose_images()
    assert chooser.choose_masks() and chooser.choose_images()
    assert not chooser.pairing and "now choose their vessel masks" in chooser.label.text()
    go.set()
    wait_for_workers(qtbot)
    assert studio.source_bundle is None and chooser.pending_images == labelled.folder / "images"
