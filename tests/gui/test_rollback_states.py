"""The Adaptation panel's Roll back to no round keeps "predicted" the images the bundled model segmented (session 40
QA: they were listed "new", as if never segmented, while Review showed their source-only maps)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

pytestmark = pytest.mark.gui


def test_roll_back_to_no_round_keeps_segmented_images_predicted(studio, tmp_path, qtbot):
    from vessel_studio.gui import tasks
    from vessel_studio.store import RoundRecord

    proj = studio.project
    ids = [r.id for r in proj.images]
    shape = proj.image(ids[0]).shape[:2]
    path = tasks.source_only_path(proj, ids[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.full(shape, 0.6, np.float32))
    proj.set_state(ids[0], "predicted")
    src = tmp_path / "built"
    (src / "segmenter").mkdir(parents=True)
    (src / "segmenter" / "config.json").write_text("{}")
    (src / "pseudo").mkdir()
    for i in ids:
        tifffile.imwrite(src / "pseudo" / f"{i}.tif", np.full(proj.image(i).shape[:2], 0.7, np.float32))
    proj.commit_round(src, RoundRecord(index=0, folder=""))
    studio.images_changed.emit()
    assert studio.panels["Adaptation"]._rollback_now(proj, -1)
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=30000)
    states = {r.id: r.state for r in studio.project.images}
    assert states[ids[0]] == "predicted" and all(states[i] == "new" for i in ids[1:])
    assert "◐ predicted" in studio.panels["Project"].list.item(0).text()
