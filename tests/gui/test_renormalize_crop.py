""""Re-normalise to these images" (Review panel; ``tasks.segment_source_only(renormalize=True)``)
draws crops of ``tasks.RENORMALIZE_CROP`` px, which the crop sampler zero-pads in a smaller image:
statistics of mostly padding. The job stops before the re-estimation with an error naming the
smallest image's file and both sizes, shown as the Review panel's job line; nothing is segmented."""

from __future__ import annotations

import pytest

from vessel_studio.events import collect
from vessel_studio.gui import tasks


def test_renormalising_images_smaller_than_its_crop_is_refused(tmp_path, tiny_models, monkeypatch):
    import vessel_studio.train.segmenter as ts
    from vessel_studio.samples import write_sample_images
    from vessel_studio.store import Project

    big = write_sample_images(tmp_path / "big", n=2, modality="fundus", seed=1, shape=(96, 96))
    small = write_sample_images(tmp_path / "small", n=1, modality="fundus", seed=2, shape=(40, 56))
    proj = Project.create(tmp_path / "proj", modality="fundus")
    proj.add_images([big.folder / "images", small.folder / "images"])
    rec = next(r for r in proj.images if proj.read_image(r.id).shape[:2] == (40, 56))
    monkeypatch.setattr(ts, "reestimate_norm_statistics_job", lambda *a, **k: pytest.fail("re-estimated"))
    ids = [r.id for r in proj.images]
    with pytest.raises(ValueError) as err:
        collect(tasks.segment_source_only(proj, ids, model=str(tiny_models[0]), renormalize=True))
    assert str(err.value) == (
        f"{proj.image_path(rec.id)} ({rec.name}): the smallest image is 40×56 px, smaller than the re-normalisation's crop of "
        "64 px; crops would be mostly padding, so untick \"Re-normalise to these images\" to segment without it "
        "(nothing was segmented)")
    assert not any(tasks.source_only_path(proj, i).exists() for i in ids)
    assert {r.state for r in Project.open(proj.folder).images} == {"new"}
    # without re-normalising the same images are segmented (the check is the re-normalisation's only)
    done, _ = collect(tasks.segment_source_only(proj, ids, model=str(tiny_models[0])))
    assert done == ids


def test_the_review_panel_shows_the_error(studio, tiny_models, qtbot, dialogs, monkeypatch):
    """In the window: the Segmentation job fails with that line in the Review panel (its job bar) and
    the studio's error dialog for a failed job, no map written; the panel stays usable."""
    monkeypatch.setattr(tasks, "RENORMALIZE_CROP", 128)  # the sample project's images are 96×96 px
    review = studio.panels["Review"]
    review.segmenter_model = str(tiny_models[0])
    review.renormalize.setChecked(True)
    with qtbot.waitSignal(studio.runner.finished, timeout=180000) as blocker:
        assert review.segment_missing()
    outcome = blocker.args[0]
    assert outcome.status == "error" and isinstance(outcome.error, ValueError)
    proj = studio.project
    line = review.jobbar.label.text()
    first = proj.images[0]
    assert line.startswith(f"Segmentation failed: ValueError: {proj.image_path(first.id)} ({first.name}): the smallest "
                           "image is 96×96 px, smaller than the re-normalisation's crop of 128 px")
    assert line.endswith("(nothing was segmented)")
    assert dialogs.errors == [("Segmentation failed", line.removeprefix("Segmentation failed: "))]
    assert not any(tasks.source_only_path(proj, r.id).exists() for r in proj.images)
    review.renormalize.setChecked(False)
    with qtbot.waitSignal(studio.runner.finished, timeout=180000) as blocker:
        assert review.segment_missing()
    assert blocker.args[0].status == "done"
