"""The target images as a round holds them, and their full-resolution maps read when asked for.

Memory must not grow with the target images' pixel count: a 15-megapixel fundus image is 44 MB as
RGB bytes, its FOV 15 MB as bools and a probability map 58 MB as float32, so a job that held them
for every image passed 8 GB at about 30 such images (``benchmarks/results/hires-adapt/``). A
:class:`TargetImage` keeps the prepared (model-scale) arrays and a packed FOV; :class:`MapsOnDisk`
reads one full-resolution map at a time from its TIFF.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


class TargetImage:
    """A real target image: its FOV at original resolution and its prepared (model-scale) version.

    Only what the rounds use is kept, so that memory does not grow with the images' pixel count
    (a 15-megapixel image is 44 MB as RGB bytes and its FOV 15 MB as bools): the original image is
    not kept (``image`` is accepted and dropped), and the FOV is kept as packed bits (1.9 MB at 15
    MP) and unpacked, the same bools, each time ``fov`` is read."""

    __slots__ = ("id", "name", "prepared", "_fov_bits", "_fov_shape")

    def __init__(self, id: str, name: str, fov: np.ndarray, prepared: Any, image: np.ndarray | None = None):
        self.id, self.name, self.prepared = id, name, prepared
        fov = np.asarray(fov, bool)
        self._fov_shape = fov.shape
        self._fov_bits = np.packbits(fov, axis=None)

    @property
    def fov(self) -> np.ndarray:
        """bool, original resolution (a new array on each read)."""
        n = int(np.prod(self._fov_shape))
        return np.unpackbits(self._fov_bits, count=n).view(bool).reshape(self._fov_shape)

    @property
    def shape(self) -> tuple[int, ...]:
        """The original image's rows and columns."""
        return tuple(self._fov_shape)

    @property
    def unit(self) -> np.ndarray:
        from vessel_studio.preprocess import to_unit

        return to_unit(self.prepared.x)

    def __repr__(self) -> str:
        return f"TargetImage(id={self.id!r}, name={self.name!r}, shape={self.shape})"


class MapsOnDisk(Mapping):
    """Full-resolution probability maps by image id, read from their TIFFs when asked for (one at a
    time), so that a round holds one image's map at once rather than every image's. ``paths``: id
    -> TIFF, or None for an image whose map is all zeros (``shapes[id]`` gives its shape)."""

    def __init__(self, paths: dict[str, Path | None], shapes: dict[str, tuple[int, ...]] | None = None):
        self.paths, self.shapes = dict(paths), dict(shapes or {})

    def __getitem__(self, key: str) -> np.ndarray:
        path = self.paths[key]
        if path is None:
            return np.zeros(self.shapes[key], np.float32)
        from vessel_studio.io.images import read_prob

        return read_prob(path)

    def __iter__(self):
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)
