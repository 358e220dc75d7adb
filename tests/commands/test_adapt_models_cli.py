"""``vessel-studio adapt --source-segmenter/--source-generator``: the source models are checked from
their config.json before any work (``adaptation.source_models``, the rule the GUI's source models
use); the source modality follows the models' when ``--source-modality`` is not given."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adaptation"))
from _adapt_fixtures import make_source_models, record_adapt_sources  # noqa: E402

from vessel_studio.cli import main  # noqa: E402
from vessel_studio.samples import write_sample_images  # noqa: E402


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """Source images, target images, the lab's models (fundus, a generator without masks, an OCT-A
    pair) and an ``adapt`` that records the source it is given instead of adapting."""
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    src = write_sample_images(tmp_path / "src", n=2, modality="fundus", seed=10, shape=(48, 48))
    tgt = write_sample_images(tmp_path / "tgt", n=2, modality="octa", seed=20, shape=(48, 48))
    seg, gen = make_source_models(tmp_path)
    octa = Preprocessing.for_modality("octa", fov_diameter=None)
    fundus = Preprocessing.for_modality("fundus", fov_diameter=None)
    models = {"seg": seg, "gen": gen, "plain": tmp_path / "plain-generator",
              "octa_seg": tmp_path / "octa-segmenter", "octa_gen": tmp_path / "octa-generator"}
    Generator(config=GeneratorConfig.preset("tiny"), preprocessing=fundus, conditioned=False).save(models["plain"])
    Generator(config=GeneratorConfig.preset("tiny"), preprocessing=octa, conditioned=True).save(models["octa_gen"])
    Segmenter.create(SegmenterConfig(channels=(8, 16)), octa).save(models["octa_seg"])
    seen = record_adapt_sources(monkeypatch)

    def run(seg, gen, *extra):
        return main(["adapt", str(tmp_path / "proj"), "--target", str(tgt.folder / "images"), "--modality", "octa",
                     "--source-segmenter", str(seg), "--source-generator", str(gen), "--quiet", *extra])

    labelled = ["--source-images", str(src.folder / "images"), "--source-masks", str(src.folder / "labels")]
    return tmp_path, models, seen, run, labelled


@pytest.mark.parametrize("seg, gen, words", [
    ("gen", "gen", ["src-generator: is a generator model", "not a segmenter"]),
    ("seg", "seg", ["src-segmenter: is a segmenter model", "not a generator"]),
    ("seg", "plain", ["plain-generator: this generator has no mask-conditioning channel"]),
    ("octa_seg", "gen", ["src-generator: this generator is for fundus images", "octa-segmenter for octa images"]),
])
def test_wrong_source_models_stop_before_any_work(setup, capsys, seg, gen, words):
    tmp, models, seen, run, labelled = setup
    assert run(models[seg], models[gen]) == 2 and seen == []
    err = capsys.readouterr().err
    for word in words:
        assert word in err
    assert not (tmp / "proj").exists()  # checked before the project is created


def test_source_modality_follows_the_models(setup):
    tmp, models, seen, run, labelled = setup
    assert run(models["octa_seg"], models["octa_gen"]) == 0
    assert seen[-1].modality == "octa" and seen[-1].generator == str(models["octa_gen"])
    assert run(models["octa_seg"], models["octa_gen"], "--source-modality", "fundus") == 0
    assert seen[-1].modality == "fundus"  # an explicit choice wins


def test_a_generator_without_masks_inverts_labelled_images(setup):
    tmp, models, seen, run, labelled = setup
    assert run(models["seg"], models["plain"], *labelled) == 0
    assert seen[-1].generator == str(models["plain"]) and len(seen[-1].images) == 2


def adapted_project(tmp, name: str, source, *, seed: int):
    """An OCT-A project ``tmp/name`` of two target images with one (fake) round adapted from ``source``
    (a SourceBundle, recorded as adapt records it)."""
    from vessel_studio.store import Project, RoundRecord

    tgt = write_sample_images(tmp / f"{name}-images", n=2, modality="octa", seed=seed, shape=(48, 48))
    proj = Project.create(tmp / name, modality="octa")
    proj.add_images([tgt.folder / "images"])
    (tmp / f"{name}-r0" / "pseudo").mkdir(parents=True)
    proj.commit_round(tmp / f"{name}-r0", RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    proj.set_source(source.identity())
    return proj


@pytest.fixture
def procedural_project(setup):
    """A project with one (fake) round adapted from procedural vessel masks with the lab's own models."""
    from vessel_studio.adaptation import SourceBundle

    tmp, models, seen, run, labelled = setup
    proj = adapted_project(tmp, "proc", SourceBundle(segmenter=str(models["seg"]), generator=str(models["gen"])),
                           seed=21)
    return tmp, models, seen, proj


def test_continuing_a_procedural_project_reuses_its_recorded_models(procedural_project, capsys):
    tmp, models, seen, proj = procedural_project
    assert main(["adapt", str(proj.folder), "--rounds", "1", "--quiet"]) == 0
    (source,) = seen
    assert source.images == [] and source.segmenter == str(models["seg"]) and source.generator == str(models["gen"])
    assert source.identity() == proj.source
    out = capsys.readouterr().out
    assert (f"using procedural vessel masks rendered by the source generator, with the source models this "
            f"project's rounds were adapted from: segmenter {models['seg']}, generator {models['gen']}") in out


def test_continuing_a_procedural_project_whose_models_changed_is_an_error(procedural_project, capsys):
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.preprocess import Preprocessing

    tmp, models, seen, proj = procedural_project
    more = write_sample_images(tmp / "more", n=1, modality="octa", seed=30, shape=(48, 48))
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)  # other weights in the recorded folder
    Generator(config=GeneratorConfig.preset("tiny"), preprocessing=prep, conditioned=True).save(models["gen"])
    rc = main(["adapt", str(proj.folder), "--target", str(more.folder / "images"), "--rounds", "1", "--quiet"])
    assert rc == 2 and seen == []
    err = capsys.readouterr().err
    assert f"{models['gen']}: the source generator of this project's rounds is gone or changed (its weights changed" \
        in err
    assert "procedural vessel masks" in err and "--source-segmenter and --source-generator" in err
    assert len(err.strip().splitlines()) == 1
    assert len(type(proj).open(proj.folder).images) == 2  # checked before any target image is added


def test_procedural_project_explicit_models_win(procedural_project, capsys):
    import shutil

    tmp, models, seen, proj = procedural_project
    shutil.rmtree(models["seg"])  # the recorded segmenter is gone: not looked at when both are given
    assert main(["adapt", str(proj.folder), "--source-segmenter", "fundus-segmenter",
                 "--source-generator", "fundus-generator", "--rounds", "1", "--quiet"]) == 0
    (source,) = seen
    assert (source.segmenter, source.generator) == ("fundus-segmenter", "fundus-generator")
    assert "with the source models" not in capsys.readouterr().out


def test_procedural_project_one_model_given_keeps_the_recorded_partner(procedural_project, capsys):
    tmp, models, seen, proj = procedural_project
    assert main(["adapt", str(proj.folder), "--source-generator", "fundus-generator", "--rounds", "1", "--quiet"]) == 0
    (source,) = seen
    assert (source.segmenter, source.generator) == (str(models["seg"]), "fundus-generator")
    assert (f"with the source models this project's rounds were adapted from: segmenter {models['seg']}"
            in capsys.readouterr().out)


def test_one_model_given_is_checked_with_the_recorded_partner_it_is_used_with(setup, capsys):
    """The source models are checked once, as the pair in use: one OCT-A model given on a project whose
    rounds were adapted from the lab's OCT-A pair is checked with the recorded OCT-A partner (it was also
    checked with the bundled fundus one, which is not used, and stopped with a modality mismatch)."""
    from vessel_studio.adaptation import SourceBundle

    tmp, models, seen, run, labelled = setup
    proj = adapted_project(tmp, "octa-proc", SourceBundle(segmenter=str(models["octa_seg"]),
                                                          generator=str(models["octa_gen"]), modality="octa"), seed=22)
    assert main(["adapt", str(proj.folder), "--source-segmenter", str(models["octa_seg"]), "--rounds", "1",
                 "--quiet"]) == 0, capsys.readouterr().err
    (source,) = seen
    assert (source.segmenter, source.generator, source.modality) == (str(models["octa_seg"]),
                                                                     str(models["octa_gen"]), "octa")
    # the partner it is used with is still checked: a fundus segmenter with the recorded OCT-A generator
    assert main(["adapt", str(proj.folder), "--source-segmenter", str(models["seg"]), "--rounds", "1",
                 "--quiet"]) == 2 and len(seen) == 1
    assert f"{models['octa_gen']}: this generator is for octa images" in capsys.readouterr().err
