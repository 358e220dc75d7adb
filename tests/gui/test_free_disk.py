"""The Adaptation panel's "Free disk…" (``store.prune`` in the job runner) and what the Review panel
shows after it: pruned rounds leave Show / Compare with and the rollback choices."""

import importlib

import numpy as np
import pytest

from conftest import calls_on_gui_thread, fake_probability

pytestmark = pytest.mark.gui


def _items(combo):
    return [combo.itemText(i) for i in range(combo.count())]


@pytest.fixture
def four_rounds(studio, tmp_path):
    """Rounds 0-3 with a map of the first image each; round 1 is the label-free hint."""
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    for k, frag in enumerate((9.0, 2.0, 8.0, 7.0)):
        src = tmp_path / f"r{k}"
        (src / "pseudo").mkdir(parents=True)
        (src / "segmenter").mkdir()
        write_prob(src / "pseudo" / f"{image_id}.tif", fake_probability(shape, 20 + k))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"vessel_fraction": 0.1,
                                                                          "fragmentation": frag}))
    studio.project_changed.emit()
    studio.images_changed.emit()
    return image_id


def test_free_disk_prunes_all_but_latest_and_hint_and_review_follows(studio, four_rounds, qtbot, dialogs,
                                                                    monkeypatch):
    """The Review panel follows: the round on screen, pruned, falls back to the latest, whose map and mask are read
    and drawn in a worker (session 44: on the GUI thread at the job's end; at 15 megapixels a map read is 0.76 s of
    it, the mask drawn from it ~0.1 s)."""
    from vessel_studio.gui import review_panel as review_mod
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    adapt, review = studio.panels["Adaptation"], studio.panels["Review"]
    proj = studio.project
    assert adapt.btn_prune.isEnabled()
    review.show_round.setCurrentText("round 2")  # a round about to be pruned is on screen
    assert review.show_round.currentText() == "round 2"

    dialogs.answers["confirm"] = False
    assert adapt.free_disk() is True  # the maps' sizes added up in a worker, then the question
    qtbot.waitUntil(lambda: dialogs.asked == ["Free disk"], timeout=20000)
    assert not studio.runner.running and adapt._measuring is None
    assert all(r.pruned is None for r in Project.open(proj.folder).rounds)

    dialogs.answers["confirm"] = True
    on_gui_thread = calls_on_gui_thread(monkeypatch, (review_mod.ReviewPanel, "_read_map"),
                                        (tasks, "read_maps_for_review"), (tasks, "current_mask"))
    with qtbot.waitSignal(studio.runner.finished, timeout=20000):
        assert adapt.free_disk() is True
    latest = proj.prediction(four_rounds, round=3)
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data, latest), timeout=30000)
    assert on_gui_thread == []
    assert dialogs.asked[-1] == "Free disk" and not dialogs.errors
    assert [r.index for r in Project.open(proj.folder).rounds if r.pruned is not None] == [0, 2]
    assert not (proj.folder / "rounds/round-002/pseudo").exists()
    assert (proj.folder / "rounds/round-002/segmenter").is_dir()
    assert "freed" in adapt.stage.text() and "round(s) 0, 2" in adapt.stage.text()
    # Review: the pruned rounds are no longer offered; the one on screen fell back to the latest
    for combo in (review.show_round, review.compare):
        assert "round 0" not in _items(combo) and "round 2" not in _items(combo)
        assert "round 1" in _items(combo) and "round 3" in _items(combo)
    assert review.show_round.currentText() == "latest round"
    assert "round 2 was pruned (its maps deleted; Adaptation: Make maps again)" in review.showing.text()
    assert np.array_equal(studio.viewer.layers["probability"].data, proj.prediction(four_rounds, round=3))
    # Adaptation: a pruned round is rolled back to after its maps are made again; nothing more to free
    assert _items(adapt.keep_round) == ["no round", "round 0 (maps deleted: made again first)", "round 1",
                                        "round 2 (maps deleted: made again first)"]
    assert not adapt.btn_prune.isEnabled()


def _held_in_workers(monkeypatch, module, name):
    """``module.name`` made to wait, in a worker thread only, until the event returned (``gate``) is set; ``entered``
    is set when a worker has called it."""
    import threading

    entered, gate = threading.Event(), threading.Event()
    real = getattr(module, name)

    def held(*args, **kw):
        if threading.current_thread() is not threading.main_thread():
            entered.set()
            assert gate.wait(20)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, held)
    return entered, gate


def test_free_disk_adds_up_the_maps_in_a_worker_then_asks(studio, four_rounds, qtbot, dialogs, monkeypatch):
    """Session 46: "Free disk…" added up the maps of the rounds it would delete (``plan_prune``: every map file
    stat-ed) on the GUI thread before its question: 0.14 s for the 7,560 maps of a 945-image project's 8 rounds (median
    of 15), more with each image and round. A worker adds them up now; the stage line says so meanwhile, a second
    click does nothing more, and the question follows."""
    from vessel_studio.store import Project

    prune_mod = importlib.import_module("vessel_studio.store.prune")  # the package names its function prune

    adapt, proj = studio.panels["Adaptation"], studio.project
    entered, gate = _held_in_workers(monkeypatch, prune_mod, "folder_bytes")
    on_gui_thread = calls_on_gui_thread(monkeypatch, (prune_mod, "folder_bytes"))
    assert adapt.free_disk() is True
    qtbot.waitUntil(entered.is_set, timeout=20000)
    assert adapt.stage.text() == "Free disk: adding up the maps of round(s) 0, 2…"
    assert dialogs.asked == [] and not studio.runner.running
    assert adapt.free_disk() is False and adapt.rollback() is False  # while it adds up: nothing more
    gate.set()
    qtbot.waitUntil(lambda: dialogs.asked == ["Free disk"], timeout=20000)
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=20000)
    assert on_gui_thread == []
    assert [r.index for r in Project.open(proj.folder).rounds if r.pruned is not None] == [0, 2]
    assert "freed" in adapt.stage.text() and not dialogs.errors


@pytest.mark.parametrize("meanwhile", ["a job", "a roll back elsewhere"])
def test_free_disks_question_is_not_asked_once_the_project_changed_meanwhile(studio, four_rounds, qtbot, dialogs,
                                                                            monkeypatch, meanwhile):
    """Session 46: while the maps are added up in the worker, a job began (this window's: the runner's Busy rule) or
    another program rolled the project back: the sizes are dropped when they come, nothing is asked or deleted, and
    the stage line says why."""
    from vessel_studio.events import Progress
    from vessel_studio.store import Project

    prune_mod = importlib.import_module("vessel_studio.store.prune")  # the package names its function prune

    adapt, proj = studio.panels["Adaptation"], studio.project
    entered, gate = _held_in_workers(monkeypatch, prune_mod, "folder_bytes")
    assert adapt.free_disk() is True
    qtbot.waitUntil(entered.is_set, timeout=20000)
    if meanwhile == "a job":
        def job():
            yield Progress("test", 1, 1)

        with qtbot.waitSignal(studio.runner.finished, timeout=20000):
            assert studio.start_job("Test job", job)
        why = "Test job began meanwhile"
    else:
        Project.open(proj.folder).rollback(2)  # another program
        studio._tell_outside(studio.project_changed)  # as the watcher tells it
        why = "the project's rounds changed meanwhile"
    gate.set()
    qtbot.waitUntil(lambda: not studio.workers.running(), timeout=20000)
    qtbot.wait(50)  # the worker's value delivered
    assert dialogs.asked == [] and not studio.runner.running
    assert all(r.pruned is None for r in Project.open(proj.folder).rounds)
    assert adapt.stage.text() == f"Free disk: nothing was asked or deleted: {why} (click Free disk again)"
    assert adapt.free_disk() is True  # asked again: measured afresh
    qtbot.waitUntil(lambda: dialogs.asked == ["Free disk"], timeout=20000)


def test_free_disk_is_off_while_a_job_runs_and_with_nothing_to_free(studio, qtbot, dialogs, tmp_path):
    adapt = studio.panels["Adaptation"]
    assert not adapt.btn_prune.isEnabled()  # no rounds
    assert adapt.free_disk() is False and dialogs.errors[-1][0] == "Free disk"


def test_agreement_is_with_the_latest_earlier_round_that_kept_its_maps(studio, four_rounds, qtbot, dialogs):
    from vessel_studio.store import prune

    review = studio.panels["Review"]
    prune(studio.project, keep=[1])  # rounds 0 and 2 pruned, outside the window
    studio.images_changed.emit()
    review.show_round.setCurrentText("round 3")
    assert "agreement with round 1 (Dice)" in review.stats.text()


def test_the_panel_shows_the_free_disk(studio, monkeypatch):
    import shutil
    from collections import namedtuple

    adapt = studio.panels["Adaptation"]
    assert adapt.disk.text().startswith("disk: ") and "GB free on the project's drive" in adapt.disk.text()
    monkeypatch.setattr(shutil, "disk_usage", lambda p: namedtuple("U", "total used free")(10, 5, 2_500_000_000))
    studio.project_changed.emit()
    assert adapt.disk.text() == "disk: 2.5 GB free on the project's drive"


@pytest.fixture
def rounds_with_models(studio, tmp_path, tiny_models):
    """Rounds 0-3, each with a real (tiny) segmenter and the maps of every image; rounds 0 and 2 pruned."""
    from vessel_studio.store import prune

    proj = _commit_with_models(studio, tmp_path, tiny_models, (5.0, 5.0, 5.0, 5.0))
    prune(proj, keep=[1])
    studio.project_changed.emit()
    studio.images_changed.emit()
    return proj


@pytest.fixture
def whole_rounds_with_models(studio, tmp_path, tiny_models):
    """Rounds 0-3, each with a real (tiny) segmenter and the maps of every image; round 1 is the label-free hint
    (Free disk… prunes rounds 0 and 2)."""
    proj = _commit_with_models(studio, tmp_path, tiny_models, (9.0, 2.0, 8.0, 7.0))
    studio.project_changed.emit()
    studio.images_changed.emit()
    return proj


def _commit_with_models(studio, tmp_path, tiny_models, fragmentation):
    import shutil

    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    proj = studio.project
    seg, _gen = tiny_models
    for k, frag in enumerate(fragmentation):
        src = tmp_path / f"r{k}"
        (src / "pseudo").mkdir(parents=True)
        shutil.copytree(seg, src / "segmenter")
        for j, rec in enumerate(proj.images):
            write_prob(src / "pseudo" / f"{rec.id}.tif", fake_probability(rec.shape[:2], 10 * k + j))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"vessel_fraction": 0.1,
                                                                          "fragmentation": frag}))
    return proj


def test_rolling_back_to_a_pruned_round_makes_its_maps_again_first(studio, rounds_with_models, qtbot, dialogs):
    """Session 27: a pruned round was left out of the roll back choices (the CLI's ``--restore`` had no
    GUI). Choosing it makes its maps again in the job runner (``adaptation.restore``), then rolls back."""
    from vessel_studio.store import Project

    adapt, review = studio.panels["Adaptation"], studio.panels["Review"]
    proj = rounds_with_models
    assert [r.index for r in proj.rounds if r.pruned] == [0, 2] and "round 2" not in _items(review.show_round)
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 2 (maps deleted: made again first)"))
    dialogs.answers["confirm"] = False
    assert adapt.rollback() is False and not studio.runner.running
    dialogs.answers["confirm"] = True
    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as done:
        assert adapt.rollback() is True
    assert done.args[0].name == "Make maps again" and done.args[0].status == "done", done.args[0].error
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=60000)  # the roll back, a job after it
    assert dialogs.asked[-1] == "Roll back"
    fresh = Project.open(proj.folder)
    assert [r.index for r in fresh.rounds] == [0, 1, 2] and fresh.get_round(2).pruned is None
    assert fresh.get_round(0).pruned is not None  # only the round rolled back to is made again
    assert sorted(p.stem for p in (proj.folder / "rounds/round-002/pseudo").glob("*.tif")) == sorted(
        r.id for r in proj.images)
    assert not (proj.folder / "rounds/round-003").exists() and not dialogs.errors
    assert "round 2" in _items(review.show_round)  # Review offers it again
    assert _items(adapt.keep_round) == ["no round", "round 0 (maps deleted: made again first)", "round 1"]


def test_a_cancelled_restore_deletes_nothing(studio, rounds_with_models, qtbot, dialogs, monkeypatch):
    import threading

    from vessel_studio.adaptation import rounds as rounds_mod
    from vessel_studio.store import Project

    adapt = studio.panels["Adaptation"]
    proj = rounds_with_models
    entered, gate = threading.Event(), threading.Event()
    real = rounds_mod.write_maps

    def held(*a, **kw):
        entered.set()
        assert gate.wait(20)
        return real(*a, **kw)

    monkeypatch.setattr(rounds_mod, "write_maps", held)
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 0 (maps deleted: made again first)"))
    dialogs.answers["confirm"] = True
    assert adapt.rollback() is True
    qtbot.waitUntil(entered.is_set, timeout=20000)
    assert adapt.restore_bar.isVisible() or not adapt.isVisible()
    adapt.restore_bar.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=20000)
    fresh = Project.open(proj.folder)
    assert [r.index for r in fresh.rounds] == [0, 1, 2, 3] and fresh.get_round(0).pruned is not None
    assert "nothing was deleted" in adapt.stage.text()
    assert not list((proj.folder / "rounds").glob(".*restore*"))


def test_a_cancel_during_the_restores_last_step_rolls_nothing_back(studio, rounds_with_models, qtbot, dialogs,
                                                                   monkeypatch):
    """Session 27 QA: Cancel (or closing the window: "cancel it and close") pressed while the restore moved
    its maps in, after its last progress event, let it end "done", and the roll back then deleted the
    rounds after it all the same."""
    from pathlib import Path

    from vessel_studio.io import atomic
    from vessel_studio.store import Project

    adapt = studio.panels["Adaptation"]
    proj = rounds_with_models
    real = atomic._fsync_dir

    def cancel_then_sync(path):  # the restore's last step (its maps moved in), after its last event: Cancel
        if Path(path) == proj.round_dir(0):
            studio.runner.cancel()
        return real(path)

    monkeypatch.setattr(atomic, "_fsync_dir", cancel_then_sync)
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 0 (maps deleted: made again first)"))
    dialogs.answers["confirm"] = True
    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as done:
        assert adapt.rollback() is True
    assert done.args[0].status == "done" and done.args[0].cancel_asked
    fresh = Project.open(proj.folder)
    assert [r.index for r in fresh.rounds] == [0, 1, 2, 3] and fresh.get_round(0).pruned is None
    assert "nothing was deleted" in adapt.stage.text() and not dialogs.errors


@pytest.mark.parametrize("action, title", [("rollback", "Roll back"), ("restore_maps", "Make maps again")])
def test_a_pruned_round_whose_segmenter_is_gone_is_refused_before_asking(studio, rounds_with_models, dialogs,
                                                                          action, title):
    """Rolling back to it (session 27) or making its maps again (session 28): the dialog names the folder."""
    adapt = studio.panels["Adaptation"]
    proj = rounds_with_models
    (proj.folder / "rounds/round-002/segmenter/model.safetensors").unlink()
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 2 (maps deleted: made again first)"))
    asked = len(dialogs.asked)
    assert getattr(adapt, action)() is False and not studio.runner.running
    title_got, text = dialogs.errors[-1]
    assert title_got == title and "round-002" in text and "cannot be made again" in text
    assert len(dialogs.asked) == asked  # refused before the question
    assert [r.index for r in proj.rounds] == [0, 1, 2, 3]


def test_make_maps_again_restores_a_pruned_round_without_rolling_back(studio, rounds_with_models, qtbot, dialogs):
    """Session 28: the GUI could make a pruned round's maps again only on the way to rolling back to it
    (the rounds after it deleted); Review could not show it otherwise (session 27's note)."""
    from vessel_studio.store import Project

    adapt, review = studio.panels["Adaptation"], studio.panels["Review"]
    proj = rounds_with_models
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 1"))
    assert not adapt.btn_restore.isEnabled() and adapt.restore_maps() is False  # round 1 kept its maps
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 2 (maps deleted: made again first)"))
    assert adapt.btn_restore.isEnabled()
    dialogs.answers["confirm"] = False
    assert adapt.restore_maps() is False and not studio.runner.running
    dialogs.answers["confirm"] = True
    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as done:
        assert adapt.restore_maps() is True
    assert done.args[0].name == "Make maps again" and done.args[0].status == "done", done.args[0].error
    assert dialogs.asked[-1] == "Make maps again" and not dialogs.errors
    fresh = Project.open(proj.folder)
    assert [r.index for r in fresh.rounds] == [0, 1, 2, 3]  # nothing rolled back
    assert fresh.get_round(2).pruned is None and fresh.get_round(0).pruned is not None
    assert sorted(p.stem for p in (proj.folder / "rounds/round-002/pseudo").glob("*.tif")) == sorted(
        r.id for r in proj.images)
    assert "round 2" in _items(review.show_round)  # Review offers it again
    assert "round 2's maps were made again" in adapt.stage.text()
    assert _items(adapt.keep_round) == ["no round", "round 0 (maps deleted: made again first)", "round 1",
                                        "round 2"]
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 2"))
    assert not adapt.btn_restore.isEnabled()


def test_the_round_chosen_to_keep_stays_chosen_after_a_job(studio, rounds_with_models, qtbot, dialogs):
    """Session 35 QA: every job's end refilled "Keep rounds up to" and set it back to the latest-but-one, so
    "Make maps again" of round 0, cancelled, then clicked again made round 2's maps (the window showed round 2
    chosen), and Roll back the same way rolled back to round 2. The person's choice stays while it is offered;
    a roll back done starts the choices again from the latest-but-one."""
    from vessel_studio.store import Project

    adapt = studio.panels["Adaptation"]
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 0 (maps deleted: made again first)"))
    with qtbot.waitSignal(studio.runner.finished, timeout=60000):
        assert adapt.restore_maps() is True
        adapt.restore_bar.cancel()  # cancelled, or done before the cancel reached it: round 0 either way
    assert adapt.keep_round.currentData() == 0 and adapt.keep_round.currentText().startswith("round 0")
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 1"))
    with qtbot.waitSignal(studio.runner.finished, timeout=60000):
        assert adapt.free_disk() is True  # another job's end keeps it too (its question once its sizes are added up)
    assert adapt.keep_round.currentData() == 1
    assert adapt.rollback() is True  # round 1's maps made again first (the free disk pruned them), then rolled back
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=60000)
    assert [r.index for r in Project.open(studio.project.folder).rounds] == [0, 1], dialogs.asked
    assert adapt.keep_round.currentData() == 0  # the latest-but-one of what is left
    assert not dialogs.errors


def test_the_question_names_the_latest_round_once_when_it_is_the_hint(studio, tmp_path, qtbot, dialogs, monkeypatch):
    """Session 42 QA (an OCT-A `tiny` trial, whose last round was the least fragmented): the question said "Kept
    whole: round(s) 2 (the latest and round 2, the label-free hint)". It says the latest is also the hint."""
    from vessel_studio.gui import dialogs as mod
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    proj = studio.project
    image_id = proj.images[0].id
    for k, frag in enumerate((9.0, 8.0, 2.0)):  # round 2, the latest, is the label-free hint
        src = tmp_path / f"r{k}"
        (src / "pseudo").mkdir(parents=True)
        write_prob(src / "pseudo" / f"{image_id}.tif", fake_probability(proj.images[0].shape[:2], 30 + k))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"vessel_fraction": 0.1,
                                                                          "fragmentation": frag}))
    studio.project_changed.emit()
    questions = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: questions.append(text) or False)
    assert studio.panels["Adaptation"].free_disk() is True  # asked once the sizes are added up, answered no
    qtbot.waitUntil(lambda: bool(questions), timeout=20000)
    assert "Kept whole: round(s) 2 (the latest, also the label-free hint). " in questions[0]
    assert "and round 2" not in questions[0]


def test_the_roll_back_question_names_one_round_in_the_singular(studio, rounds_with_models, dialogs, monkeypatch):
    """Session 42 QA (an OCT-A trial rolled back to its pruned round 1): "then round 2 of this project are deleted"."""
    from vessel_studio.gui import dialogs as mod

    adapt = studio.panels["Adaptation"]
    questions = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: questions.append(text) or False)
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 2 (maps deleted: made again first)"))
    assert adapt.rollback() is False
    assert "then round 3 of this project is deleted (models, pseudo-labels, samples)." in questions[-1]
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 0 (maps deleted: made again first)"))
    assert adapt.rollback() is False
    assert "then rounds 1, 2, 3 of this project are deleted (models, pseudo-labels, samples)." in questions[-1]


@pytest.mark.parametrize("chosen_meanwhile", [False, True])
def test_a_round_chosen_when_pruned_is_chosen_again_once_its_maps_are_made_again(
        studio, whole_rounds_with_models, qtbot, dialogs, chosen_meanwhile):
    """Session 47 QA: round 2 chosen in Show, "Free disk…" pruned it (Show fell back to the latest round, the line
    saying "round 2 was pruned (...; Adaptation: Make maps again)"); "Make maps again" made its maps (the Adaptation
    panel said "Review shows it again"), and Show stayed on the latest round, its line still saying round 2 was
    pruned. Show chooses round 2 again, its map on screen, and the line no longer says so; Compare with, whose round 0
    is still pruned, keeps its fallback and its note. A choice made meanwhile (round 1) stays."""
    proj = whole_rounds_with_models
    adapt, review = studio.panels["Adaptation"], studio.panels["Review"]
    image_id = review.image_id
    review.show_round.setCurrentText("round 2")
    review.compare.setCurrentText("round 0")
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data,
                                           proj.prediction(image_id, round=2)), timeout=20000)
    with qtbot.waitSignal(studio.runner.finished, timeout=20000):
        assert adapt.free_disk() is True
    assert [r.index for r in proj.rounds if r.pruned is not None] == [0, 2]
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data,
                                           proj.prediction(image_id, round=3)), timeout=20000)
    assert (review.show_round.currentText(), review.compare.currentText()) == ("latest round", "none")
    assert "round 2 was pruned" in review.showing.text() and "round 0 was pruned" in review.showing.text()
    if chosen_meanwhile:
        review.show_round.setCurrentText("round 1")
    adapt.keep_round.setCurrentIndex(_items(adapt.keep_round).index("round 2 (maps deleted: made again first)"))
    with qtbot.waitSignal(studio.runner.finished, timeout=60000) as done:
        assert adapt.restore_maps() is True
    assert done.args[0].status == "done", done.args[0].error
    shown = 1 if chosen_meanwhile else 2
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["probability"].data,
                                           proj.prediction(image_id, round=shown)), timeout=20000)
    assert review.show_round.currentText() == f"round {shown}" and review.compare.currentText() == "none"
    assert "round 2 was pruned" not in review.showing.text()
    assert ("round 0 was pruned" in review.showing.text()) is not chosen_meanwhile  # a choice clears the note
    assert not dialogs.errors
