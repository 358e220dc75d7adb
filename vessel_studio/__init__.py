"""Vessel Studio: adapt retinal vessel segmentation to a new scanner without labels.

The package imports neither torch nor Qt at import time. A small public API is reachable from the
package itself and imported on first use (PEP 562), so ``import vessel_studio as vs`` stays cheap::

    vs.Segmenter.load("fundus-segmenter").predict(image)        # models.segmenter
    vs.Project.open(folder)                                     # store
    vs.run(vs.adapt(project, vs.AdaptConfig.preset("tiny")))    # adaptation, events
    vs.metrics.score(prob, gt, fov=fov)                         # any submodule, e.g. metrics

Only ``Segmenter``, ``Generator`` and ``renormalize`` import torch when first used. Everything else
lives in the submodules (``vessel_studio.io``, ``vessel_studio.metrics``, ...); see
docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: public name -> the module it comes from (imported on first use)
_API = {
    "Project": "vessel_studio.store",
    "prune": "vessel_studio.store",  # free a project's disk (rounds --prune)
    "Segmenter": "vessel_studio.models.segmenter",
    "Generator": "vessel_studio.models.generator",
    "AdaptConfig": "vessel_studio.adaptation",
    "SourceBundle": "vessel_studio.adaptation",
    "adapt": "vessel_studio.adaptation",
    "restore_round": "vessel_studio.adaptation",  # a pruned round's maps made again (rounds --restore)
    "renormalize": "vessel_studio.train.segmenter",
    "export": "vessel_studio.gui.tasks",  # Qt-free: the job behind the Export panel and `export`
    "read_image": "vessel_studio.io",
    "read_mask": "vessel_studio.io",
    "write_mask": "vessel_studio.io",
    "write_prob": "vessel_studio.io",
    "run": "vessel_studio.events",
}
#: submodules reachable as attributes without importing them first (``vs.metrics.dice``)
_SUBMODULES = frozenset({
    "adaptation", "calibration", "device", "events", "io", "measures", "metrics", "models", "preprocess",
    "resources", "samples", "store", "train",
})

__all__ = ["__version__", *_API]

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ imports on first use
    from vessel_studio.adaptation import AdaptConfig, SourceBundle, adapt, restore_round
    from vessel_studio.events import run
    from vessel_studio.gui.tasks import export
    from vessel_studio.io import read_image, read_mask, write_mask, write_prob
    from vessel_studio.models.generator import Generator
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.store import Project, prune
    from vessel_studio.train.segmenter import renormalize


def __getattr__(name: str):
    import importlib

    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # the next access does not come here
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API, *_SUBMODULES})
