"""Importing the core pulls in no Qt, napari, magicgui or superqt (only vessel_studio.gui may)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = [
    "vessel_studio",
    "vessel_studio.events",
    "vessel_studio.device",
    "vessel_studio.resources",
    "vessel_studio.cli",
    "vessel_studio.io",
    "vessel_studio.io.images",
    "vessel_studio.io.fov",
    "vessel_studio.io.datasets",
    "vessel_studio.preprocess",
    "vessel_studio.metrics",
    "vessel_studio.models",
    "vessel_studio.models.segmenter",
    "vessel_studio.models.generator",
    "vessel_studio.train",
    "vessel_studio.train.segmenter",
    "vessel_studio.train.generator",
    "vessel_studio.adaptation",
    "vessel_studio.store",
    "vessel_studio.samples",
    "vessel_studio.measures",
    "vessel_studio.gui.tasks",  # the GUI's Qt-free work functions
]
FORBIDDEN = ("qtpy", "PySide6", "PyQt5", "PyQt6", "napari", "magicgui", "superqt", "vispy")

SCRIPT = """
import importlib, json, os, sys


def load(mods):
    missing = []
    for m in mods:
        try:
            importlib.import_module(m)
        except ModuleNotFoundError as exc:
            if exc.name == m:  # a module of the contract not written yet
                missing.append(m)
            else:
                raise
    return missing


missing = load(json.loads(sys.argv[1]))
# exercise a little of the core too (lazy imports inside functions)
from vessel_studio.samples import synthetic_octa
from vessel_studio.measures import measure_vessels
g, m = synthetic_octa((64, 64), seed=0)
measure_vessels(m)
core = {"loaded": sorted({k.split('.')[0] for k in sys.modules}), "missing": missing}
# then, in the same process, the GUI's (the second test: this probe does see Qt when something imports it)
os.environ["QT_API"] = "pyside6"
load(json.loads(sys.argv[2]))
print(json.dumps({"core": core, "with_gui": sorted({k.split('.')[0] for k in sys.modules})}))
"""


@pytest.fixture(scope="module")
def probe():
    """One process (one interpreter and torch start-up, not two): the top-level modules loaded after importing
    the core, and after importing the GUI's ``vessel_studio.gui.jobs`` too, in the same process."""
    import importlib.util

    gui = ["vessel_studio.gui.jobs"] if importlib.util.find_spec("qtpy") else []  # without Qt: the core half only
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(CORE), json.dumps(gui)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_imports_no_gui_toolkit(probe):
    result = probe["core"]
    bad = [m for m in result["loaded"] if m in FORBIDDEN]
    assert not bad, f"importing the core loaded {bad}"
    assert "vessel_studio" in result["loaded"]


def test_the_check_can_fail(probe):
    """The same probe sees Qt when the GUI is imported (so the test above is not vacuous)."""
    pytest.importorskip("qtpy")
    assert "qtpy" in probe["with_gui"]
