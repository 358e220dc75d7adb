"""GPU memory of the ``gpu`` preset's training steps: does it fit a 16 GB workstation GPU?

Two ways, each named in the report:

- ``measured`` (only where CUDA is present): a few real optimiser steps of the project's trainers
  (``train_generator`` and ``train_segmenter`` at the ``gpu`` preset's model, batch and crop sizes,
  bf16 autocast as they run) and one chunk of DDIM inversion + decoding at ``synth_batch``;
  ``torch.cuda.max_memory_allocated`` for each.
- ``counted`` (any machine, also a CPU): the bytes a training step keeps on the device, counted
  from the real modules and tensors rather than estimated by formula:
    * persistent state: parameters (fp32), their gradients, AdamW's two moments and, for the
      generator, the EMA copy;
    * activations: every tensor autograd saves for the backward pass, collected with
      ``torch.autograd.graph.saved_tensors_hooks`` during one forward pass (deduplicated by
      storage, parameters left out), at two small batch sizes; the count is linear in the batch
      (checked: the report gives both) and is extrapolated to the preset's batch;
    * with and without bf16 autocast (CPU autocast stands in for CUDA's; its per-op casting
      policy differs in places, so the fp32 count is the upper bound).
  What it leaves out: the CUDA context (~0.5 GB, not counted by ``max_memory_allocated``
  either), allocator fragmentation, cuDNN workspaces and the transient gradient buffers of the
  backward pass. Treat it as a floor with those on top, not as a measurement of a GPU.

    python benchmarks/gpu_memory.py [--preset gpu] [--budget-gb 16] [--name gpu_memory]

Writes ``benchmarks/results/gpu/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "gpu"
GB = 1e9


def _saved_bytes(fn, exclude_ptrs: set[int]) -> int:
    """Bytes of the distinct storages autograd saves for backward while ``fn()`` runs."""
    import torch

    seen: dict[int, int] = {}

    def pack(t):
        try:
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr not in exclude_ptrs:
                seen[ptr] = max(seen.get(ptr, 0), st.nbytes())
        except (RuntimeError, NotImplementedError):
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def _param_ptrs(module) -> set[int]:
    return {p.untyped_storage().data_ptr() for p in module.parameters()} | {
        b.untyped_storage().data_ptr() for b in module.buffers()}


def _n_bytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def _saved_by_batch(module, make_inputs, batches, output=lambda out: out) -> dict:
    """{"fp32" | "bf16-autocast": {batch: saved bytes}} of one forward of ``module``."""
    import torch

    rows = {}
    for dtype in ("fp32", "bf16-autocast"):
        per = {}
        for b in batches:
            args = make_inputs(b)

            def fwd():
                if dtype == "fp32":
                    return output(module(*args))
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return output(module(*args))

            per[b] = _saved_bytes(fwd, _param_ptrs(module))
        rows[dtype] = per
    return rows


def count_generator(acfg, batches=(1, 2)) -> dict:
    import torch

    from vessel_studio.models.generator import Generator, GeneratorConfig

    gen = Generator(config=GeneratorConfig.preset(acfg.gen_model), conditioned=True)
    unet = gen.unet.train()
    params = _n_bytes(unet)
    crop = acfg.gen_crop
    rows = _saved_by_batch(unet, lambda b: (torch.randn(b, 2, crop, crop),
                                            torch.randint(0, gen.config.num_train_timesteps, (b,))),
                           batches, lambda out: out.sample)
    # persistent: params + grads + AdamW (2 moments) + EMA copy, all fp32
    persistent = params * 5
    return {"component": "target generator training step", "model": acfg.gen_model,
            "parameters": sum(p.numel() for p in unet.parameters()), "batch": acfg.gen_batch, "crop": crop,
            "persistent_bytes": persistent, "saved_bytes_by_batch": rows}


def count_segmenter(acfg, batches=(2, 4)) -> dict:
    import torch

    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import SegmenterTrainConfig

    tcfg = SegmenterTrainConfig.preset(acfg.preset_name)
    mcfg = SegmenterConfig(channels=tcfg.channels, blocks_per_level=tcfg.blocks_per_level, norm=tcfg.norm)
    seg = Segmenter.create(mcfg, Preprocessing.for_modality("fundus"))
    net = seg.net.train()
    params = _n_bytes(net)
    crop = acfg.seg_crop
    rows = _saved_by_batch(net, lambda b: (torch.randn(b, 1, crop, crop),), batches)
    return {"component": "segmenter training step", "model": list(mcfg.channels),
            "parameters": sum(p.numel() for p in net.parameters()), "batch": acfg.seg_batch, "crop": crop,
            "persistent_bytes": params * 4, "saved_bytes_by_batch": rows}


def extrapolate(row: dict) -> dict:
    """Saved bytes at the preset's batch from the two counted batches (linear), plus persistent."""
    out = {}
    for dtype, per in row["saved_bytes_by_batch"].items():
        (b1, s1), (b2, s2) = sorted((int(k), v) for k, v in per.items())
        slope = (s2 - s1) / (b2 - b1)
        intercept = s1 - slope * b1
        at = intercept + slope * row["batch"]
        out[dtype] = {"per_sample_bytes": slope, "linear_check": intercept / max(s1, 1),
                      "saved_at_batch_bytes": at, "total_bytes": at + row["persistent_bytes"]}
    return out


def measure(acfg, device="cuda") -> list[dict]:
    """Real steps of the project's trainers and one synthesis chunk on ``device``; the peak
    memory columns are CUDA's allocator statistics (None on a CPU, where this only checks that
    the steps run)."""
    import numpy as np
    import torch

    from vessel_studio.adaptation.synthesis import translate
    from vessel_studio.events import run
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator
    from vessel_studio.train.segmenter import SegmenterTrainConfig, TrainPair, train_segmenter

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    rng = np.random.default_rng(0)
    size = max(4 * acfg.gen_crop, 128)
    images = [rng.uniform(-1, 1, (size, size)).astype(np.float32) for _ in range(4)]
    masks = [(rng.uniform(0, 1, (size, size)) > 0.85).astype(np.float32) for _ in range(4)]
    rows = []

    def peak(name, fn):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        t = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        rows.append({"component": name,
                     "peak_allocated_bytes": torch.cuda.max_memory_allocated(dev) if cuda else None,
                     "peak_reserved_bytes": torch.cuda.max_memory_reserved(dev) if cuda else None,
                     "seconds": round(time.perf_counter() - t, 2)})

    gcfg = GeneratorTrainConfig.preset(acfg.gen_model, model=GeneratorConfig.preset(acfg.gen_model), steps=3,
                                       batch_size=acfg.gen_batch, crop_size=acfg.gen_crop, checkpoint_every=1000)
    holder = {}
    peak("target generator training step (3 steps)",
         lambda: holder.setdefault("gen", run(train_generator(images, masks, gcfg, device=dev))))
    scfg = SegmenterTrainConfig.preset(acfg.preset_name, steps=3, batch_size=acfg.seg_batch, crop=acfg.seg_crop)
    pairs = [TrainPair(i, m, None, weight=1.0, name=str(k)) for k, (i, m) in enumerate(zip(images, masks))]
    prep = Preprocessing.for_modality("octa")
    peak("segmenter training step (3 steps)",
         lambda: run(train_segmenter(pairs, scfg, preprocessing=prep, device=dev)))
    gen: Generator = holder["gen"]
    gen.to(dev)
    crops = np.stack([im[:acfg.gen_crop, :acfg.gen_crop] for im in images] * (acfg.synth_batch // 4 + 1))[:acfg.synth_batch]
    cm = np.stack([m[:acfg.gen_crop, :acfg.gen_crop] for m in masks] * (acfg.synth_batch // 4 + 1))[:acfg.synth_batch]
    peak(f"synthesis chunk ({acfg.synth_batch} crops, inversion + decoding)",
         lambda: run(translate(gen, gen, crops, cm, t0=acfg.t0, steps=acfg.steps, mode=acfg.synth_mode,
                               target_masks=True, batch_size=acfg.synth_batch, device=dev)))
    return rows


def markdown(rep: dict) -> str:
    lines = [f"# GPU memory of the `{rep['preset']}` preset", "",
             f"Command: `{rep['command']}`", "",
             f"Machine: {rep['machine']}; torch {rep['torch']}; budget {rep['budget_gb']:.0f} GB.", ""]
    if rep["measured"]:
        lines += ["## Measured on the GPU (`torch.cuda.max_memory_allocated`)", "",
                  "| component | peak allocated (GB) | peak reserved (GB) | seconds |", "|---|---|---|---|"]
        for r in rep["measured"]:
            lines.append(f"| {r['component']} | {r['peak_allocated_bytes'] / GB:.2f} | "
                         f"{r['peak_reserved_bytes'] / GB:.2f} | {r['seconds']} |")
        lines.append("")
    else:
        lines += ["No CUDA device here: nothing below was measured on a GPU.", ""]
    lines += ["## Counted (persistent state + tensors saved for backward; see the script's docstring)", "",
              "| component | parameters | batch × crop | persistent (GB) | saved activations fp32 (GB) | "
              "saved activations bf16 autocast (GB) | total fp32 / bf16 (GB) | linearity check |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rep["counted"]:
        e = r["extrapolated"]
        lines.append(
            f"| {r['component']} | {r['parameters'] / 1e6:.1f} M | {r['batch']} × {r['crop']}² | "
            f"{r['persistent_bytes'] / GB:.2f} | {e['fp32']['saved_at_batch_bytes'] / GB:.2f} | "
            f"{e['bf16-autocast']['saved_at_batch_bytes'] / GB:.2f} | "
            f"{e['fp32']['total_bytes'] / GB:.2f} / {e['bf16-autocast']['total_bytes'] / GB:.2f} | "
            f"intercept {e['fp32']['linear_check']:+.3f} of the smallest batch |")
    lines += ["", "Counted at the batch sizes in `saved_bytes_by_batch` of the JSON and extrapolated linearly "
              "(the intercept column: a linear count has an intercept near 0).", ""]
    for n in rep.get("notes", []):
        lines.append(f"- {n}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="gpu", choices=["tiny", "cpu", "gpu"])
    ap.add_argument("--budget-gb", type=float, default=16.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--name", default="gpu_memory")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args(argv)

    import torch

    from vessel_studio.adaptation.config import AdaptConfig
    from vessel_studio.io.atomic import write_json, write_text

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    acfg = AdaptConfig.preset(args.preset)
    counted = []
    for fn in (count_generator, count_segmenter):
        row = fn(acfg)
        row["extrapolated"] = extrapolate(row)
        counted.append(row)
        e = row["extrapolated"]
        print(f"{row['component']}: total fp32 {e['fp32']['total_bytes'] / GB:.2f} GB, "
              f"bf16 autocast {e['bf16-autocast']['total_bytes'] / GB:.2f} GB", flush=True)
    measured = measure(acfg, "cuda") if torch.cuda.is_available() else []
    for r in measured:
        print(f"{r['component']}: peak allocated {r['peak_allocated_bytes'] / GB:.2f} GB", flush=True)
    rep = {"preset": args.preset, "budget_gb": args.budget_gb,
           "command": "python benchmarks/gpu_memory.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "machine": f"{platform.machine()}" + (f", {torch.cuda.get_device_name(0)}" if measured else ", no CUDA"),
           "torch": torch.__version__, "config": acfg.to_dict(), "counted": counted, "measured": measured,
           "notes": args.note}
    out = Path(args.out)
    write_json(out / f"{args.name}.json", rep)
    write_text(out / f"{args.name}.md", markdown(rep))
    print(f"wrote {out / (args.name + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
