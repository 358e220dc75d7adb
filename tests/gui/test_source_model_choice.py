"""The Adaptation panel's source models ("Segmenter…", "Generator…", "Bundled") and FOV masks
("FOV masks…") in the "Labelled source images" box: the choice is checked from config.json
(``adaptation.source_models``, the rule ``adapt`` applies), kept in ``studio.source_bundle``,
recorded by the project and restored when it is opened again."""

from __future__ import annotations

import shutil

import pytest
from conftest import paired, wait_restored

pytestmark = pytest.mark.gui


@pytest.fixture
def labelled(tmp_path):
    """Three small labelled fundus source images with FOV masks (``images/``, ``labels/``, ``fov/``)."""
    from vessel_studio.samples import write_sample_images

    return write_sample_images(tmp_path / "drive-like", n=3, modality="fundus", shape=(48, 48), seed=21)


@pytest.fixture
def lab_models(tiny_models, tmp_path):
    """The lab's own source models (copies of the tiny ones), a generator trained without masks and
    an OCT-A pair, as ``train-segmenter`` / ``train-generator`` write them."""
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    seg, gen = tiny_models
    out = {"seg": tmp_path / "models" / "lab-segmenter", "gen": tmp_path / "models" / "lab-generator"}
    shutil.copytree(seg, out["seg"])
    shutil.copytree(gen, out["gen"])
    fundus = Preprocessing.for_modality("fundus", fov_diameter=None)
    octa = Preprocessing.for_modality("octa", fov_diameter=None)
    Generator(config=GeneratorConfig.preset("tiny"), preprocessing=fundus, conditioned=False).save(
        out.setdefault("plain", tmp_path / "models" / "unconditioned-generator"))
    Generator(config=GeneratorConfig.preset("tiny"), preprocessing=octa, conditioned=True).save(
        out.setdefault("octa_gen", tmp_path / "models" / "octa-generator"))
    Segmenter.create(SegmenterConfig(channels=(8, 16)), octa).save(
        out.setdefault("octa_seg", tmp_path / "models" / "octa-segmenter"))
    (out.setdefault("empty", tmp_path / "models" / "not-a-model")).mkdir()
    return out


@pytest.fixture
def pick(monkeypatch):
    """Answers the folder pickers of ``vessel_studio.gui.dialogs`` from a queue."""
    from vessel_studio.gui import dialogs as mod

    answers: list = []
    monkeypatch.setattr(mod, "pick_folder", lambda parent, title: str(answers.pop(0)) if answers else None)
    return answers


def test_choosing_the_labs_models_and_fov_masks(studio, labelled, lab_models, pick, dialogs, tmp_path, qtbot):
    chooser = studio.panels["Adaptation"].source
    assert chooser.models_label.text() == "Source models: bundled fundus-segmenter, bundled fundus-generator (fundus)"
    assert not chooser.btn_bundled.isEnabled() and not chooser.btn_fovs.isEnabled()

    pick.append(lab_models["gen"])
    assert chooser.choose_generator()
    bundle = studio.source_bundle
    assert bundle.generator == str(lab_models["gen"]) and bundle.segmenter == "fundus-segmenter"
    assert not bundle.images and bundle.modality == "fundus"
    assert chooser.label.text() == "Uses the generator lab-generator with procedural vessel masks."
    pick.append(lab_models["seg"])
    assert chooser.choose_segmenter()
    bundle = studio.source_bundle
    assert (bundle.segmenter, bundle.generator) == (str(lab_models["seg"]), str(lab_models["gen"]))
    assert chooser.models_label.text() == (f"Source models: segmenter {lab_models['seg']}, generator "
                                           f"{lab_models['gen']} (fundus)")
    assert chooser.btn_bundled.isEnabled()

    # labelled images with their FOV masks, chosen before the masks: the models stay
    pick.extend([labelled.folder / "images", labelled.folder / "fov", labelled.folder / "labels"])
    assert chooser.choose_images() and chooser.btn_fovs.isEnabled()
    assert paired(qtbot, chooser, chooser.choose_fovs) and studio.source_bundle is bundle  # waits for the masks
    assert f"(FOV masks {labelled.folder / 'fov'})" in chooser.label.text()
    assert paired(qtbot, chooser, chooser.choose_masks)
    bundle = studio.source_bundle
    assert [e[2] for e in bundle.images] == labelled.fovs and bundle.fovs_folder == labelled.folder / "fov"
    assert (bundle.segmenter, bundle.generator) == (str(lab_models["seg"]), str(lab_models["gen"]))
    assert chooser.label.text() == (f"Uses 3 labelled fundus images from {labelled.folder / 'images'}, FOV masks "
                                    f"from {labelled.folder / 'fov'} (segmenter lab-segmenter and generator "
                                    "lab-generator).")
    ident = bundle.identity()
    assert ident["segmenter"]["path"] == str(lab_models["seg"]) and ident["generator"]["path"] == str(lab_models["gen"])
    assert ident["folders"]["fovs"] == str(labelled.folder / "fov")

    # FOV masks chosen for the images in use are paired at once: a folder lacking one is an error
    partial = tmp_path / "fov-partial"
    shutil.copytree(labelled.folder / "fov", partial)
    (partial / "sample-01.png").unlink()
    pick.append(partial)
    assert paired(qtbot, chooser, chooser.choose_fovs) is False
    title, text = dialogs.errors.pop()
    assert title == "Cannot use these source images" and "sample-01" in text and str(partial) in text
    assert studio.source_bundle is bundle

    assert chooser.use_bundled_models()
    bundle = studio.source_bundle
    assert (bundle.segmenter, bundle.generator, bundle.modality) == ("fundus-segmenter", "fundus-generator", "fundus")
    assert len(bundle.images) == 3 and not dialogs.errors
    chooser.clear()
    assert studio.source_bundle is None and not chooser.btn_bundled.isEnabled()


def test_wrong_models_are_an_error_and_the_previous_choice_stays(studio, labelled, lab_models, pick, dialogs, qtbot):
    chooser = studio.panels["Adaptation"].source
    pick.append(lab_models["gen"])
    assert chooser.choose_generator()
    good = studio.source_bundle

    def refused(choose, folder, *words):
        pick.append(folder)
        n = len(dialogs.errors)
        assert choose() is False
        assert len(dialogs.errors) == n + 1
        title, text = dialogs.errors[-1]
        assert title == "Cannot use this source model" and str(folder) in text
        for word in words:
            assert word in text
        assert studio.source_bundle is good and chooser.pending_model is None

    refused(chooser.choose_segmenter, lab_models["gen"], "is a generator model", "not a segmenter")
    refused(chooser.choose_generator, lab_models["seg"], "is a segmenter model", "not a generator")
    refused(chooser.choose_segmenter, lab_models["empty"], "model folder has no config.json")
    # procedural vessel masks need mask -> image
    refused(chooser.choose_generator, lab_models["plain"], "no mask-conditioning channel")
    assert "lab-generator" in chooser.label.text()

    # with labelled source images a generator without masks only inverts them: accepted ...
    pick.extend([labelled.folder / "images", labelled.folder / "labels", lab_models["plain"]])
    chooser.choose_images()
    assert paired(qtbot, chooser, chooser.choose_masks) and chooser.choose_generator()
    labelled_bundle = studio.source_bundle
    assert labelled_bundle.generator == str(lab_models["plain"])
    # ... and back to procedural masks is refused while it is the generator
    assert chooser.clear() is False
    assert dialogs.errors[-1][0] == "Cannot use procedural vessel masks"
    assert str(lab_models["plain"]) in dialogs.errors[-1][1]
    assert studio.source_bundle is labelled_bundle


def test_modality_follows_the_models_and_a_mismatch_is_an_error(studio, lab_models, pick, dialogs):
    chooser = studio.panels["Adaptation"].source
    # an OCT-A segmenter while the fundus generator is in use: it waits for an OCT-A generator
    pick.append(lab_models["octa_seg"])
    assert chooser.choose_segmenter() is False
    assert studio.source_bundle is None and not dialogs.errors
    assert chooser.pending_model == ("segmenter", str(lab_models["octa_seg"]), "octa")
    assert "now choose an octa generator" in chooser.label.text()
    # a fundus generator with the waiting OCT-A segmenter: two chosen models of two modalities
    pick.append(lab_models["gen"])
    assert chooser.choose_generator() is False
    title, text = dialogs.errors[-1]
    assert title == "Cannot use this source model" and "fundus images" in text and "octa images" in text
    assert str(lab_models["gen"]) in text and studio.source_bundle is None
    pick.append(lab_models["octa_gen"])
    assert chooser.choose_generator()
    bundle = studio.source_bundle
    assert (bundle.segmenter, bundle.generator, bundle.modality) == (
        str(lab_models["octa_seg"]), str(lab_models["octa_gen"]), "octa")
    assert chooser.pending_model is None and chooser.models_label.text().endswith("(octa)")
    assert chooser.use_bundled_models() and studio.source_bundle is None


def _recorded_then_reopened(studio, chosen, tmp_path, qtbot):
    """What adapt records for the ``chosen`` bundle, with a (fake) round 0; the project opened again
    with no source in use, as after a restart; the source bundle the studio restored (in a worker: waited for)."""
    from vessel_studio.store import RoundRecord

    (tmp_path / "r0" / "pseudo").mkdir(parents=True)
    studio.project.commit_round(tmp_path / "r0", RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    studio.project.set_source(chosen.identity())
    studio.source_bundle = None  # as after a restart
    assert studio.open_project(studio.project.folder)
    wait_restored(qtbot, studio.panels["Adaptation"].source)
    return studio.source_bundle


def test_reopening_restores_the_labs_models_and_fov_masks(studio, labelled, lab_models, pick, dialogs, tmp_path, qtbot):
    chooser = studio.panels["Adaptation"].source
    pick.extend([lab_models["seg"], lab_models["gen"], labelled.folder / "images", labelled.folder / "fov",
                 labelled.folder / "labels"])
    chooser.choose_segmenter()
    chooser.choose_generator()
    chooser.choose_images()
    paired(qtbot, chooser, chooser.choose_fovs)
    assert paired(qtbot, chooser, chooser.choose_masks)
    chosen = studio.source_bundle
    restored = _recorded_then_reopened(studio, chosen, tmp_path, qtbot)
    assert restored is not None and restored.identity() == chosen.identity()
    assert (restored.segmenter, restored.generator) == (str(lab_models["seg"]), str(lab_models["gen"]))
    assert restored.fovs_folder == labelled.folder / "fov" and [e[2] for e in restored.images] == labelled.fovs
    assert chooser.label.text().endswith("(segmenter lab-segmenter and generator lab-generator) "
                                         "(restored from the project).")
    assert chooser.models_label.text() == (f"Source models: segmenter {lab_models['seg']}, generator "
                                           f"{lab_models['gen']} (fundus)")
    assert studio.source_conflict() is None and not dialogs.errors

    # the lab's generator retrained since: not restored, the box names it
    (lab_models["gen"] / "config.json").write_text((lab_models["gen"] / "config.json").read_text() + "\n")
    studio.source_bundle = None
    assert studio.open_project(studio.project.folder)
    wait_restored(qtbot, chooser)
    assert studio.source_bundle is None and not dialogs.errors
    assert f"not restored: {lab_models['gen']}: the source generator of this project's rounds is gone or changed" \
        in chooser.label.text()


def test_reopening_restores_the_labs_models_of_procedural_masks(studio, lab_models, pick, dialogs, tmp_path, qtbot):
    chooser = studio.panels["Adaptation"].source
    pick.extend([lab_models["octa_seg"], lab_models["octa_gen"]])
    chooser.choose_segmenter()
    assert chooser.choose_generator()
    chosen = studio.source_bundle
    restored = _recorded_then_reopened(studio, chosen, tmp_path, qtbot)
    assert restored is not None and not restored.images and restored.identity() == chosen.identity()
    assert (restored.segmenter, restored.generator, restored.modality) == (
        str(lab_models["octa_seg"]), str(lab_models["octa_gen"]), "octa")
    assert chooser.label.text() == ("Uses the generator octa-generator with procedural vessel masks (segmenter "
                                    "octa-segmenter) (restored from the project).")
    assert studio.source_conflict() is None and not dialogs.errors

    # a project of the bundled procedural source restores nothing: the source in use stays
    from vessel_studio.adaptation import SourceBundle

    studio.project.set_source(SourceBundle().identity())
    assert studio.open_project(studio.project.folder)
    wait_restored(qtbot, chooser)
    assert studio.source_bundle is restored and "not restored" not in chooser.label.text()
