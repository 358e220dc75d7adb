"""Device choice and mixed precision, in one place."""

from __future__ import annotations

import contextlib
import os


def pick_device(requested: str | None = None):
    """``"cuda"`` when available (or requested), else ``"cpu"``. ``VESSEL_STUDIO_DEVICE`` overrides."""
    import torch

    name = requested or os.environ.get("VESSEL_STUDIO_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but no CUDA GPU is available")
    return torch.device(name)


def autocast(device):
    """bf16 autocast on CUDA, a no-op on CPU."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device) -> str:
    """A short human description, e.g. ``"CPU (2 threads)"`` or ``"NVIDIA H100 (80 GB)"``."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    return f"CPU ({torch.get_num_threads()} threads)"


def reset_peak_memory(device) -> None:
    """Start a new peak for ``peak_memory_mb`` on a CUDA device (the CPU's max RSS cannot be reset).
    Before CUDA's first use in the process there is no peak to reset, and resetting would raise
    ("Invalid device argument 0: did you call init?")."""
    import torch

    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device) -> float:
    """Peak memory of this process: CUDA allocator peak on GPU, max RSS on CPU."""
    import resource

    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
