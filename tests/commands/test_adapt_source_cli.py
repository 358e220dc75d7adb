"""``vessel-studio adapt PROJECT`` continuing a project whose rounds came from labelled source images:
the recorded folders are used again when they pair as recorded, an error names the folder when they
do not (never a silent switch to procedural masks); ``--source-images`` still wins."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adaptation"))
from _adapt_fixtures import record_adapt_sources  # noqa: E402

from vessel_studio.cli import main  # noqa: E402
from vessel_studio.samples import write_sample_images  # noqa: E402
from vessel_studio.store import Project, RoundRecord  # noqa: E402


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A project with one (fake) round adapted from three labelled source images, and an ``adapt``
    that records the source it is given instead of adapting."""
    from vessel_studio.adaptation import SourceBundle

    src = write_sample_images(tmp_path / "src", n=3, modality="fundus", seed=10, shape=(48, 48))
    tgt = write_sample_images(tmp_path / "tgt", n=2, modality="octa", seed=20, shape=(48, 48))
    proj = Project.create(tmp_path / "proj", modality="octa")
    proj.add_images([tgt.folder / "images"])
    (tmp_path / "r0" / "pseudo").mkdir(parents=True)
    proj.commit_round(tmp_path / "r0", RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    bundle = SourceBundle.from_folders(src.folder / "images", src.folder / "labels", fovs=src.folder / "fov")
    proj.set_source(bundle.identity())
    seen = record_adapt_sources(monkeypatch)
    return tmp_path, src, proj, bundle, seen


def test_continuing_reuses_the_recorded_folders(setup, capsys):
    tmp, src, proj, bundle, seen = setup
    assert main(["adapt", str(proj.folder), "--rounds", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    (source,) = seen
    assert source.identity() == bundle.identity() and source.images == bundle.images
    assert (f"no labelled source images given: using the 3 labelled source image(s) this project's rounds were "
            f"adapted from, {src.folder / 'images'} (masks {src.folder / 'labels'}, FOV masks {src.folder / 'fov'})"
            in out)
    assert "procedural" not in out


def test_continuing_when_the_folders_are_gone_is_an_error_naming_the_folder(setup, capsys):
    tmp, src, proj, bundle, seen = setup
    more = write_sample_images(tmp / "more", n=1, modality="octa", seed=30, shape=(48, 48))
    shutil.move(src.folder / "labels", tmp / "moved-labels")
    rc = main(["adapt", str(proj.folder), "--target", str(more.folder / "images"), "--rounds", "1", "--quiet"])
    assert rc == 2 and seen == []
    err = capsys.readouterr().err
    assert f"{src.folder / 'labels'}: the recorded source masks folder is gone" in err
    assert "--source-images and --source-masks" in err and "new project" in err
    assert len(Project.open(proj.folder).images) == 2  # checked before any target image is added


def test_continuing_a_project_recorded_without_folders_is_an_error(setup, capsys):
    tmp, src, proj, bundle, seen = setup
    proj.set_source({k: v for k, v in bundle.identity().items() if k != "folders"})  # an earlier version's record
    assert main(["adapt", str(proj.folder), "--rounds", "1", "--quiet"]) == 2 and seen == []
    err = capsys.readouterr().err
    assert "names no folders" in err and "--source-images and --source-masks" in err


def test_explicit_source_images_win(setup, capsys):
    tmp, src, proj, bundle, seen = setup
    other = write_sample_images(tmp / "other", n=2, modality="fundus", seed=40, shape=(48, 48))
    shutil.rmtree(src.folder)  # the recorded ones are gone: not looked at
    assert main(["adapt", str(proj.folder), "--source-images", str(other.folder / "images"),
                 "--source-masks", str(other.folder / "labels"), "--rounds", "1", "--quiet"]) == 0
    (source,) = seen
    assert [e[0].parent for e in source.images] == [other.folder / "images"] * 2


def test_a_procedural_project_continues_procedural(setup, capsys):
    from vessel_studio.adaptation import SourceBundle

    tmp, src, proj, bundle, seen = setup
    proj.set_source(SourceBundle().identity())
    assert main(["adapt", str(proj.folder), "--rounds", "1", "--quiet"]) == 0
    (source,) = seen
    assert source.images == [] and source.segmenter == "fundus-segmenter"
    assert "using procedural vessel masks" in capsys.readouterr().out


def test_fov_masks_given_as_the_vessel_masks_are_named(setup, capsys):
    """Session 42 QA: DRIVE's FOV masks (``mask/``) given as ``--source-masks`` paired without a word; the adaptation
    would train on FOV discs as vessels. A warning names the first pair's mask (the source is used as given)."""
    tmp, src, proj, bundle, seen = setup
    assert main(["adapt", str(proj.folder), "--source-images", str(src.folder / "images"),
                 "--source-masks", str(src.folder / "fov"), "--rounds", "1", "--quiet"]) == 0
    (source,) = seen
    err = capsys.readouterr().err
    first = source.images[0][1]
    assert f"warning: {first}: " in err and "of the image is marked as vessel" in err
    assert "is this folder the FOV masks?" in err
    assert main(["adapt", str(proj.folder), "--source-images", str(src.folder / "images"),
                 "--source-masks", str(src.folder / "labels"), "--source-fovs", str(src.folder / "fov"),
                 "--rounds", "1", "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err  # the right folders
