"""The README's "Use it from Python" examples, run as written (in a temporary folder, on the
procedural samples they make, with the bundled models and the ``tiny`` preset), so that the
documentation cannot drift from the library."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Use it from Python"


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of the README's "Use it from Python" section, in order."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_section_has_its_examples():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 2
    assert "import vessel_studio as vs" in blocks[0]


def test_readme_python_examples_run(tmp_path, monkeypatch, one_torch_thread):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for i, block in enumerate(python_blocks(README.read_text(encoding="utf-8"))):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)  # noqa: S102

    # block 1: three images segmented, written and scored
    acc = namespace["acc"]
    assert len(acc) == 3 and 0.0 <= acc.mean()["dice"] <= 1.0 and np.isfinite(acc.pooled()["auc"])
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["sample-00.png", "sample-01.png",
                                                                      "sample-02.png"]
    # block 2: the cancelled job left nothing, the second made rounds 0 and 1, a correction, an export
    from vessel_studio.store import Project

    project = Project.open(tmp_path / "my-project")
    assert [r.index for r in project.rounds] == [0, 1] and not project.job_running()
    assert namespace["result"].segmenter == project.segmenter_path()
    image = project.images[0]
    assert project.image(image.id).state == "corrected"
    assert not project.correction(image.id)[:8].any()
    export = tmp_path / "my-export"
    assert {p.name for p in export.iterdir()} == {"masks", "probabilities", "measures.csv", "export.json"}
    assert len(list((export / "masks").iterdir())) == 3
