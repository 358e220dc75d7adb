"""``resources.is_bundled``: the one rule for "is this a shipped model", used by ``adapt``'s line on
the recorded source models and by the GUI's source texts (``gui.source_text``, no Qt)."""

from __future__ import annotations

import argparse
import os
import shutil

import pytest

from vessel_studio.resources import is_bundled, models_dir


@pytest.fixture
def bundled():
    folder = models_dir() / "fundus-generator"
    if not (folder / "config.json").is_file():
        pytest.skip("bundled fundus-generator not present")
    return folder


def test_bundled_names_and_paths(bundled, tmp_path, monkeypatch):
    assert is_bundled("fundus-generator")
    assert is_bundled(bundled) and is_bundled(str(bundled.absolute()))  # an absolute path into resources/models
    monkeypatch.chdir(bundled.parent.parent)
    assert is_bundled(os.path.join("models", "fundus-generator"))  # a relative spelling of the same folder
    link = tmp_path / "link"
    link.symlink_to(bundled.parent, target_is_directory=True)
    assert is_bundled(link / "fundus-generator")  # the same folder through a link


def test_not_bundled(bundled, tmp_path, monkeypatch):
    copy = tmp_path / "fundus-generator"
    shutil.copytree(bundled, copy)
    assert not is_bundled(copy)  # same name and weights, another folder: the lab's own
    monkeypatch.chdir(tmp_path)
    assert not is_bundled("fundus-generator")  # a folder here wins over the bundled name (resolve_model)
    assert not is_bundled("no-such-model")
    assert not is_bundled(bundled.parent / "no-such-model")  # a path into resources/models that is no folder
    assert not is_bundled(bundled.parent)  # the models folder itself


def test_adapt_and_gui_texts_agree_on_an_absolute_path_into_the_bundle(bundled, tmp_path):
    """An absolute path into resources/models is the bundled model in ``adapt``'s line on the recorded
    models (it listed it as the lab's own before) and in the GUI's texts; a copy elsewhere is the lab's
    own in both."""
    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.commands.adapt import _recorded_models
    from vessel_studio.gui.source_text import describe_bundle, describe_models

    seg = models_dir() / "fundus-segmenter"
    own = tmp_path / "lab-generator"
    shutil.copytree(bundled, own)
    args = argparse.Namespace(source_segmenter=None, source_generator=None)

    reused = SourceBundle(segmenter=str(seg.absolute()), generator=str(bundled.absolute()))
    assert _recorded_models(reused, args) == []
    assert describe_models(reused) == "Source models: bundled fundus-segmenter, bundled fundus-generator (fundus)"
    assert describe_bundle(reused) == "the bundled fundus-generator with procedural vessel masks"

    reused = SourceBundle(segmenter=str(seg.absolute()), generator=str(own))
    assert _recorded_models(reused, args) == [f"generator {own}"]
    assert describe_models(reused) == f"Source models: bundled fundus-segmenter, generator {own} (fundus)"
    assert describe_bundle(reused) == "the generator lab-generator with procedural vessel masks"


def test_gui_text_of_a_name_that_is_no_model():
    """A bare name that resolves to no folder is not called bundled (it was, by the GUI's old rule)."""
    from vessel_studio.gui.source_text import describe_models

    bundle = argparse.Namespace(segmenter="fundus-segmenter", generator="no-such-generator", modality="fundus")
    assert describe_models(bundle).endswith(", generator no-such-generator (fundus)")
