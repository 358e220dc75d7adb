"""``adaptation.source_models``: the source segmenter and generator checked from config.json alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _adapt_fixtures import make_source_models  # noqa: E402

from vessel_studio.adaptation.source_models import (  # noqa: E402
    ModalityMismatchError,
    check_source_models,
    read_source_model,
)


def test_bundled_models_pass_and_record_fundus():
    assert check_source_models("fundus-segmenter", "fundus-generator", procedural=True) == "fundus"
    gen = read_source_model("fundus-generator", "generator")
    assert gen.kind == "generator" and gen.conditioned and gen.modality == "fundus"


def test_the_rules(tmp_path):
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.preprocess import Preprocessing

    seg, gen = make_source_models(tmp_path)
    assert check_source_models(seg, gen, procedural=True) == "fundus"
    with pytest.raises(ValueError, match="no such model folder"):
        check_source_models(tmp_path / "nowhere", gen, procedural=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: model folder has no config.json"):
        check_source_models(seg, tmp_path / "empty", procedural=False)
    (gen / "model.safetensors").rename(tmp_path / "weights")
    with pytest.raises(ValueError, match="model folder has no model.safetensors"):
        check_source_models(seg, gen, procedural=False)
    (tmp_path / "weights").rename(gen / "model.safetensors")
    with pytest.raises(ValueError, match="is a segmenter model .* not a generator"):
        check_source_models(seg, seg, procedural=False)
    plain = Generator(config=GeneratorConfig.preset("tiny"), preprocessing=Preprocessing.for_modality("fundus"),
                      conditioned=False).save(tmp_path / "plain")
    assert check_source_models(seg, plain, procedural=False) == "fundus"  # inverts labelled images
    with pytest.raises(ValueError, match="plain: this generator has no mask-conditioning channel"):
        check_source_models(seg, plain, procedural=True)
    octa = Generator(config=GeneratorConfig.preset("tiny"), preprocessing=Preprocessing.for_modality("octa"),
                     conditioned=True).save(tmp_path / "octa")
    with pytest.raises(ModalityMismatchError, match="for octa images and the segmenter .* for fundus images"):
        check_source_models(seg, octa, procedural=False)


def test_a_procedural_record_gives_its_recorded_models(tmp_path):
    from vessel_studio.adaptation import SourceBundle

    seg, gen = make_source_models(tmp_path)
    record = SourceBundle(segmenter=str(seg), generator=str(gen)).identity()
    bundle = SourceBundle.from_record(record)
    assert (bundle.segmenter, bundle.generator, bundle.images) == (str(seg), str(gen), [])
    assert SourceBundle.from_record(SourceBundle().identity()).generator == "fundus-generator"
    (gen / "config.json").write_text((gen / "config.json").read_text() + "\n")  # retrained since
    with pytest.raises(ValueError, match="src-generator: the source generator of this project's rounds is gone"):
        SourceBundle.from_record(record)
