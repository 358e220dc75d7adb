"""A project's labelled source is recorded with its folders and paired again from them
(``SourceBundle.from_folders`` / ``identity`` / ``from_record``); the resume key ignores the folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vessel_studio.adaptation import AdaptConfig, SourceBundle
from vessel_studio.adaptation.job import _job_key


@pytest.fixture
def labelled(tmp_path):
    from vessel_studio.samples import write_sample_images

    return write_sample_images(tmp_path / "src", n=3, modality="fundus", shape=(48, 48), seed=4)


def test_the_folders_are_recorded_absolute_and_pair_again(labelled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bundle = SourceBundle.from_folders(Path("src/images"), Path("src/labels"), fovs=Path("src/fov"))
    record = bundle.identity()
    assert record["folders"] == {"images": str(labelled.folder / "images"), "masks": str(labelled.folder / "labels"),
                                 "fovs": str(labelled.folder / "fov")}
    assert all(Path(p).is_absolute() for entry in bundle.images for p in entry)
    monkeypatch.chdir(labelled.folder)  # another working directory: the same pairs
    again = SourceBundle.from_record(record)
    assert again.identity() == record and again.images == bundle.images
    assert (again.segmenter, again.generator, again.modality) == ("fundus-segmenter", "fundus-generator", "fundus")


def test_bundles_not_made_from_folders_record_none():
    assert "folders" not in SourceBundle().identity()
    listed = SourceBundle(images=[(Path("/a/1.png"), Path("/b/1.png"), None)])
    assert "folders" not in listed.identity()


def test_the_resume_key_ignores_the_recorded_folders(labelled):
    """A job's key (what a killed job must share with the one resuming it) is the one it had before
    the folders were recorded: they are left out, the images are in ``images_hash`` already."""
    cfg = AdaptConfig.preset("tiny")
    record = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels").identity()
    older = {k: v for k, v in record.items() if k != "folders"}
    assert _job_key(cfg, record, ["a", "b"]) == _job_key(cfg, older, ["a", "b"])
    other = dict(record, folders={"images": "/elsewhere", "masks": "/elsewhere2", "fovs": None})
    assert _job_key(cfg, other, ["a", "b"]) == _job_key(cfg, record, ["a", "b"])


def test_from_record_refuses_what_no_longer_pairs_as_recorded(labelled, tmp_path):
    images, labels = labelled.folder / "images", labelled.folder / "labels"
    record = SourceBundle.from_folders(images, labels).identity()

    old = {k: v for k, v in record.items() if k != "folders"}  # a manifest of an earlier version
    with pytest.raises(ValueError, match="names no folders for its 3 labelled image"):
        SourceBundle.from_record(old)

    shutil.move(labels, tmp_path / "moved")
    with pytest.raises(ValueError, match=f"^{labels}: the recorded source masks folder is gone"):
        SourceBundle.from_record(record)
    shutil.move(tmp_path / "moved", labels)

    (labels / "sample-01.png").unlink()  # an image without its mask: discover's error, and the folders
    with pytest.raises(ValueError, match="sample-01.png has no label.*no longer pair"):
        SourceBundle.from_record(record)
    (images / "sample-01.png").unlink()  # both gone: pairs 2, not 3
    with pytest.raises(ValueError, match=f"^{images}: .* now pairs 2 image\\(s\\), not the recorded 3"):
        SourceBundle.from_record(record)

    # the same count, other files
    record = SourceBundle.from_folders(images, labels).identity()
    (images / "sample-00.png").rename(images / "renamed.png")
    (labels / "sample-00.png").rename(labels / "renamed.png")
    with pytest.raises(ValueError, match="now pairs 2 image\\(s\\) as recorded, but other files"):
        SourceBundle.from_record(record)


def test_from_record_checks_the_models_weights(labelled, tmp_path):
    from vessel_studio.resources import models_dir

    seg = tmp_path / "my-segmenter"
    shutil.copytree(models_dir() / "fundus-segmenter", seg)
    record = SourceBundle.from_folders(labelled.folder / "images", labelled.folder / "labels",
                                       segmenter=seg).identity()
    assert SourceBundle.from_record(record).segmenter == str(seg)
    # a bundled model recorded at another installation's path: the bundled one with those weights
    moved = dict(record, generator=dict(record["generator"], path="/old/install/resources/models/fundus-generator"))
    assert SourceBundle.from_record(moved).generator == "fundus-generator"
    # the recorded folder's weights changed: refused, unless a model is given explicitly
    with open(seg / "config.json", "a") as fh:
        fh.write(" ")
    with pytest.raises(ValueError, match=f"^{seg}: the source segmenter .* gone or changed \\(its weights changed"):
        SourceBundle.from_record(record)
    assert SourceBundle.from_record(record, segmenter="fundus-segmenter").segmenter == "fundus-segmenter"
    shutil.rmtree(seg)
    with pytest.raises(ValueError, match=f"^{seg}: .*no such folder"):
        SourceBundle.from_record(record)
