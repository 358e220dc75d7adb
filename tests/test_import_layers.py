"""docs/ARCHITECTURE.md: "Imports point one way": ``gui``, ``commands`` → ``adaptation``, ``train`` → ``models`` → the
base modules (``io``, ``preprocess``, ``metrics``, ``calibration``, ``store``, ``events`` and the small ones beside
them). Read from the source (every ``import``, those inside functions too), so a lazy import against the rule fails
here: session 43's docs audit found ``io.folders`` importing ``models.folder`` inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import vessel_studio

#: each top-level part of the package and its layer; a module may import its own layer's and lower layers' parts
LAYERS = {
    **dict.fromkeys(("__init__", "__main__", "cli", "gui", "commands"), 3),
    **dict.fromkeys(("adaptation", "train"), 2),
    "models": 1,
    **dict.fromkeys(("io", "preprocess", "metrics", "calibration", "store", "events", "wording", "config", "device",
                     "resources", "samples", "measures"), 0),
}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(root: Path):
    """``(file, importing part, imported part)`` for every import of ``vessel_studio.*`` in the package."""
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root.parent).with_suffix("")
        me = _part(".".join(rel.parts))
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("vessel_studio."):
                    yield f, me, _part(name)


def test_every_part_of_the_package_has_a_layer():
    root = Path(vessel_studio.__file__).parent
    parts = {p.stem if p.is_file() else p.name for p in root.iterdir()
             if (p.is_file() and p.suffix == ".py") or (p / "__init__.py").is_file()}
    assert parts == set(LAYERS)


def test_imports_point_one_way():
    root = Path(vessel_studio.__file__).parent
    against = [f"{f.relative_to(root.parent)}: {me} imports {it}" for f, me, it in _imports(root)
               if LAYERS[it] > LAYERS[me]]
    assert against == []
