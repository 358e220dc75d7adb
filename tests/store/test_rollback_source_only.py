"""Rolling back keeps "predicted" the images that have a source-only map (session 40 QA, an OCT-A lab in the window).

"Segment with bundled model" marks the images it segments "predicted"; a roll back to no round (the Adaptation
panel's, ``rounds --rollback -1``, a cancelled first adaptation) set every "predicted" image "new" again, while
Review still showed their source-only maps and export wrote masks from them ("predicted", "source-only")."""

from __future__ import annotations

import numpy as np
import tifffile

from vessel_studio.cli import main
from vessel_studio.gui import tasks
from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project, RoundRecord


def _project_with_a_round(tmp_path):
    write_sample_project(tmp_path / "p", n=3, modality="octa", shape=(40, 40), seed=2)
    proj = Project.open(tmp_path / "p")
    ids = [r.id for r in proj.images]
    # the bundled model segmented the first two (as tasks.segment_source_only writes and marks them)
    for i in ids[:2]:
        path = tasks.source_only_path(proj, i)
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, np.full((40, 40), 0.6, np.float32))
        proj.set_state(i, "predicted")
    src = tmp_path / "built"
    (src / "segmenter").mkdir(parents=True)
    (src / "segmenter" / "config.json").write_text("{}")
    (src / "pseudo").mkdir()
    for i in ids:
        tifffile.imwrite(src / "pseudo" / f"{i}.tif", np.full((40, 40), 0.7, np.float32))
    proj.commit_round(src, RoundRecord(index=0, folder=""))
    assert [r.state for r in Project.open(proj.folder).images] == ["predicted"] * 3
    return proj, ids


def test_a_rollback_to_no_round_keeps_source_only_images_predicted(tmp_path):
    proj, ids = _project_with_a_round(tmp_path)
    proj.rollback(-1)
    assert {r.id: r.state for r in proj.images} == {ids[0]: "predicted", ids[1]: "predicted", ids[2]: "new"}


def test_the_rounds_command_keeps_them_predicted(tmp_path, capsys):
    proj, ids = _project_with_a_round(tmp_path)
    assert main(["rounds", str(proj.folder), "--rollback", "-1"]) == 0
    assert [r.state for r in Project.open(proj.folder).images] == ["predicted", "predicted", "new"]


def test_a_cancelled_first_adaptation_leaves_them_predicted(tmp_path):
    """A cancel removes the rounds the job committed (``adaptation.job._undo``): the states are as before the job."""
    from vessel_studio.adaptation import job

    proj, ids = _project_with_a_round(tmp_path)
    job._undo(proj, [], list(proj.rounds), proj.source)
    assert proj.rounds == [] and [r.state for r in proj.images] == ["predicted", "predicted", "new"]
