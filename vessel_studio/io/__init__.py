"""Reading scanner files and datasets, FOV masks, atomic writes.

Public names: ``read_image``, ``read_mask``, ``write_mask``, ``write_prob``, ``read_prob``, ``write_image``,
``ImageMeta``, ``ImageReadError`` (images); ``estimate_fov``, ``fov_diameter`` (fov);
``Sample``, ``LoadedSample``, ``dataset``, ``discover``, ``modality_of``, ``load_sample``,
``list_images`` (datasets). Importing this package pulls in numpy only (no torch, no Qt).
"""

from vessel_studio.io.datasets import (
    DATASETS,
    LoadedSample,
    Sample,
    dataset,
    discover,
    list_images,
    load_sample,
    modality_of,
)
from vessel_studio.io.fov import estimate_fov, fov_diameter
from vessel_studio.io.images import (
    IMAGE_EXTENSIONS,
    ImageMeta,
    ImageReadError,
    is_image_file,
    read_image,
    read_mask,
    read_prob,
    write_image,
    write_mask,
    write_prob,
)

__all__ = [
    "DATASETS",
    "IMAGE_EXTENSIONS",
    "ImageMeta",
    "ImageReadError",
    "LoadedSample",
    "Sample",
    "dataset",
    "discover",
    "estimate_fov",
    "fov_diameter",
    "is_image_file",
    "list_images",
    "load_sample",
    "modality_of",
    "read_image",
    "read_mask",
    "read_prob",
    "write_image",
    "write_mask",
    "write_prob",
]
