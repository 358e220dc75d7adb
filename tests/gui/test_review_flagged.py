"""The label-free guard's flags where a person reviews masks (session 41, leftovers of session 40's QA of the guard):
Review's Show / Compare with mark a round the guard flags "(flagged by the guard)", as the Adaptation panel's "Keep rounds
up to" does, and the line under them says so when the round shown is flagged; the marks follow rounds rolled back and
added outside the window. The Adaptation panel says, after the run too, which rounds the guard ran again."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import fake_probability

pytestmark = pytest.mark.gui

FLAG = " (flagged by the guard)"


def _items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def _commit(proj, tmp_path, index, image_id, p, vf, **record):
    """Round ``index`` with map ``p`` for ``image_id``, its pseudo-labels marking ``vf`` of the FOV (round 0 records the
    source segmenter's 0.10: the guard flags a round at or below 0.025 as a collapse)."""
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    src = tmp_path / f"r{index}-{vf}"
    (src / "pseudo").mkdir(parents=True)
    write_prob(src / "pseudo" / f"{image_id}.tif", p)
    metrics = {"vessel_fraction": vf, "agreement": 0.5, **({"source_vessel_fraction": 0.10} if index == 0 else {}),
               **record.pop("metrics", {})}
    proj.commit_round(src, RoundRecord(index=index, folder="", metrics=metrics, **record))


@pytest.fixture
def flagged_middle(studio, tmp_path):
    """Rounds 0-2 with a map each for the first image; the guard flags round 1 (collapse)."""
    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    maps = {i: fake_probability(shape, 30 + i) for i in range(3)}
    for i, vf in ((0, 0.09), (1, 0.01), (2, 0.08)):
        _commit(proj, tmp_path, i, image_id, maps[i], vf)
    studio.project_changed.emit()
    studio.images_changed.emit()
    return maps


def test_show_and_compare_mark_a_flagged_round_and_the_line_under_them_says_it(studio, flagged_middle):
    """Before session 41 both lists read "round 1" for a round the guard flagged, and nothing in Review said it: a
    person reviewing round 1's masks was not told."""
    from qtpy.QtCore import Qt

    maps = flagged_middle
    review = studio.panels["Review"]
    assert _items(review.show_round) == ["latest round", "source-only", "round 0", "round 1" + FLAG, "round 2"]
    assert _items(review.compare) == ["none", "latest round", "source-only", "round 0", "round 1" + FLAG, "round 2"]
    tip = review.show_round.itemData(3, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("flagged by the label-free guard") and "collapse: the pseudo-labels mark 1.0%" in tip, tip
    assert review.show_round.itemData(2, Qt.ItemDataRole.ToolTipRole) is None
    # the latest round (2) is not flagged: nothing said
    assert review.showing.text() == "Showing round 2, the latest round."
    review.show_round.setCurrentText("round 1" + FLAG)  # the marked item shows round 1's map
    assert np.array_equal(studio.viewer.layers["probability"].data, maps[1])
    text = review.showing.text()
    assert text.startswith("Showing round 1.") and "The label-free guard flagged round 1 (collapse)" in text, text
    review.show_round.setCurrentText("round 2")
    review.compare.setCurrentText("round 1" + FLAG)
    assert np.array_equal(studio.viewer.layers["compare"].data, maps[1])
    text = review.showing.text()
    assert "Compared with round 1 (flagged by the guard)." in text and "guard flagged round" not in text, text


def test_the_latest_round_flagged_is_said_under_latest_round(studio, tmp_path):
    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    for i, vf in ((0, 0.09), (1, 0.5)):  # round 1 floods: more than 35 % of the FOV
        _commit(proj, tmp_path, i, image_id, fake_probability(shape, 40 + i), vf)
    studio.project_changed.emit()
    review = studio.panels["Review"]
    assert review.show_round.currentText() == "latest round"
    text = review.showing.text()
    assert text.startswith("Showing round 1, the latest round.") and "guard flagged round 1 (flood)" in text, text


def test_the_marks_follow_rounds_rolled_back_and_added_outside_the_window(studio, said, qtbot, tmp_path):
    """A terminal's ``rounds --rollback`` then ``adapt``: round 1 goes, and comes back flagged; the chosen round falls
    back to "latest round" when it goes (the note names it "round 1", without the mark), and the marked round can be
    chosen again."""
    from vessel_studio.store import Project

    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    for i in (0, 1):
        _commit(proj, tmp_path, i, image_id, fake_probability(shape, 50 + i), 0.09)
    review = studio.panels["Review"]
    qtbot.waitUntil(lambda: _items(review.show_round)[-1] == "round 1", timeout=5000)
    elsewhere = Project.open(proj.folder)
    elsewhere.rollback(0)
    # the watcher told of it (it acts on a change two of its looks see: a round rolled back and added again between
    # them is no change of the rounds it compares)
    qtbot.waitUntil(lambda: any("rolled back: 1" in s for s in said), timeout=5000)
    assert _items(review.show_round)[-1] == "round 0"
    flooded = fake_probability(shape, 60)
    _commit(elsewhere, tmp_path, 1, image_id, flooded, 0.5)
    qtbot.waitUntil(lambda: _items(review.show_round)[-1] == "round 1" + FLAG, timeout=5000)
    assert _items(review.compare)[-1] == "round 1" + FLAG
    qtbot.waitUntil(lambda: "guard flagged round 1 (flood)" in review.showing.text(), timeout=5000)
    qtbot.waitUntil(lambda: "round 1: flood" in studio.panels["Adaptation"].guard.text(), timeout=5000)
    review.show_round.setCurrentText("round 1" + FLAG)
    assert np.array_equal(studio.viewer.layers["probability"].data, flooded)
    Project.open(proj.folder).rollback(0)
    qtbot.waitUntil(lambda: review.show_round.currentText() == "latest round", timeout=5000)
    assert _items(review.show_round) == ["latest round", "source-only", "round 0"]
    qtbot.waitUntil(lambda: "round 1 was rolled back" in review.showing.text(), timeout=5000)
    assert "flagged" not in review.showing.text()


def test_a_chosen_round_stays_chosen_when_its_mark_changes(studio, tmp_path):
    """The choices are refilled from the records; a chosen round whose mark changed (its record replaced: the same
    index, run again) stays chosen, under its new text (before session 41 the texts were matched whole)."""
    from vessel_studio.store import Project

    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    for i in (0, 1):
        _commit(proj, tmp_path, i, image_id, fake_probability(shape, 70 + i), 0.09)
    studio.project_changed.emit()
    review = studio.panels["Review"]
    review.show_round.setCurrentText("round 1")
    review.compare.setCurrentText("round 0")
    elsewhere = Project.open(proj.folder)
    elsewhere.rollback(0)
    _commit(elsewhere, tmp_path, 1, image_id, fake_probability(shape, 80), 0.01)
    studio.project_changed.emit()
    assert review.show_round.currentText() == "round 1" + FLAG and review.compare.currentText() == "round 0"
    assert "guard flagged round 1 (collapse)" in review.showing.text()


def test_the_adaptation_panel_says_which_rounds_the_guard_ran_again(studio, tmp_path):
    """Session 41: that the guard ran a round again (guard_retries) was said only during the run, in the stage line;
    the round's record keeps it (metrics["guard_retries"], the seed of the run kept and the job's), as
    ``vessel-studio rounds`` prints it, and the panel's guard lines now say it too."""
    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    _commit(proj, tmp_path, 0, image_id, fake_probability(shape, 90), 0.09, metrics={"guard_retries": 0.0})
    _commit(proj, tmp_path, 1, image_id, fake_probability(shape, 91), 0.08, metrics={"guard_retries": 1.0},
            seed=4242, job_seed=3)
    studio.project_changed.emit()
    text = studio.panels["Adaptation"].guard.text()
    assert text == ("round 1: its first run was flagged by the label-free guard, which ran it again with another seed "
                    "(re-run 1 kept, seed 4242; the job's seed 3)"), text


def test_the_guard_is_computed_once_per_refresh_of_the_adaptation_panel(studio, tmp_path, monkeypatch):
    """Before session 41 ``update_guard`` computed the guard's warnings twice (its lines, then Keep rounds up to)."""
    from vessel_studio.adaptation import selection

    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    for i, vf in ((0, 0.09), (1, 0.01), (2, 0.08)):
        _commit(proj, tmp_path, i, image_id, fake_probability(shape, 95 + i), vf)
    calls = []
    real = selection.shown_warnings
    monkeypatch.setattr(selection, "shown_warnings", lambda rows: calls.append(1) or real(rows))
    panel = studio.panels["Adaptation"]
    panel.update_guard()
    assert len(calls) == 1
    assert _items(panel.keep_round) == ["no round", "round 0", "round 1" + FLAG]
