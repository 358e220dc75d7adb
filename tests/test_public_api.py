"""``import vessel_studio as vs``: a small public API imported on first use (PEP 562); the import
itself pulls in neither torch nor Qt, and neither do the names that do not need torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import vessel_studio as vs

FORBIDDEN_QT = ("qtpy", "PySide6", "PyQt5", "PyQt6", "napari", "magicgui", "superqt", "vispy")

SCRIPT = """
import json, sys
import vessel_studio as vs
seen = {"import": sorted(m for m in ("torch", *QT) if m in sys.modules)}
vs.Project, vs.AdaptConfig, vs.SourceBundle, vs.adapt, vs.export, vs.run, vs.read_image, vs.read_mask
vs.write_mask, vs.write_prob, vs.metrics.dice, vs.events.Progress, vs.samples.write_sample_project
seen["light names"] = sorted(m for m in ("torch", *QT) if m in sys.modules)
vs.Segmenter, vs.Generator, vs.renormalize
seen["torch names"] = sorted(m for m in ("torch", *QT) if m in sys.modules)
print(json.dumps(seen))
"""


def test_import_and_light_names_pull_in_neither_torch_nor_qt():
    script = f"QT = {FORBIDDEN_QT!r}\n" + SCRIPT
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["import"] == [] and seen["light names"] == []
    assert seen["torch names"] == ["torch"]  # and still no Qt


def test_each_public_name_is_its_modules_object():
    import importlib

    for name, module in vs._API.items():
        assert getattr(vs, name) is getattr(importlib.import_module(module), name), name
    assert set(vs.__all__) == {"__version__", *vs._API}
    assert {"Project", "adapt", "metrics", "io"} <= set(dir(vs))
    assert vs.metrics is importlib.import_module("vessel_studio.metrics")


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'segmenter_load'"):
        vs.segmenter_load  # noqa: B018
    assert not hasattr(vs, "gui_app")
