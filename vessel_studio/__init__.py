"""Vessel Studio: adapt retinal vessel segmentation to a new scanner without labels.

The package imports neither torch nor Qt at import time; import the submodules you need
(``vessel_studio.io``, ``vessel_studio.models``, ``vessel_studio.adaptation`` ...).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
