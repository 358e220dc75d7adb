"""What a full adaptation with a preset costs: each stage timed on a short real run, then scaled.

Runs the real ``adaptation.adapt`` job (round 0 and one co-optimization round) on a pair's target
training images, with the preset's batch sizes, crop sizes, networks and denoising steps, but
with fewer optimiser steps and synthetic pairs (``--probe``). The round records' per-stage
seconds give a rate per unit of work (seconds per generator step, per synthetic pair, per
segmenter step, per pseudo-labelling pass); the preset's full cost is those rates times the
preset's step counts and rounds, plus the measured loading time. The source models are the
shipped ones (``fundus-segmenter``, ``fundus-generator``), as a lab would start.

This is a PROJECTION from measured rates, not a timed full run: stage set-up costs (model
loading, checkpoint writes) are spread over fewer steps in the probe, so the projection errs
high. Peak memory (RSS on CPU, the allocator's peak on CUDA) is that of the probe, whose batch
and crop sizes are the preset's.

    python benchmarks/adapt_cost.py --pair drive-octa500 --preset cpu --threads 2
    python benchmarks/adapt_cost.py --pair drive-octa500 --preset gpu --device cuda

Writes ``benchmarks/results/<pair>/cost-<preset>.{json,md}``. No target label is read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data"))

PROBE = {"gen_steps": 30, "gen_finetune_steps": 20, "n_synthetic": 64, "seg_steps": 60, "seg_finetune_steps": 40}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", default="drive-octa500", choices=["drive-octa500", "drive-chase", "drive-stare"])
    ap.add_argument("--preset", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="cpu / cuda (default: the best available)")
    ap.add_argument("--probe", nargs="*", default=[], metavar="KEY=N",
                    help=f"probe sizes (default {' '.join(f'{k}={v}' for k, v in PROBE.items())})")
    ap.add_argument("--work", default=None, help="project folder (default: a temporary one)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from vessel_studio.adaptation import AdaptConfig, SourceBundle, adapt
    from vessel_studio.adaptation.benchmark import PAIRS
    from vessel_studio.device import describe, peak_memory_mb, pick_device
    from vessel_studio.events import Metric, Progress, run
    from vessel_studio.io.datasets import dataset
    from vessel_studio.store import Project

    torch.set_num_threads(args.threads)
    probe = dict(PROBE)
    for item in args.probe:
        k, v = item.split("=", 1)
        if k not in PROBE:
            raise SystemExit(f"--probe {item!r}: expected one of {', '.join(PROBE)}")
        probe[k] = int(v)
    full = AdaptConfig.preset(args.preset)
    cfg = AdaptConfig.preset(args.preset, rounds=1, stop_agreement=1.01, threads=args.threads, **probe)
    info = PAIRS[args.pair]
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: datasets folder not found (set VESSEL_STUDIO_DATA)")
    device = pick_device(args.device)
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="vs-cost-")
        folder = Path(tmp.name) / "project"
    else:
        folder = Path(args.work)
    proj = Project.open_or_create(folder, modality=info["modality"], name=f"cost {args.pair} {args.preset}")
    if not proj.images:
        proj.add_images([s.image for s in dataset(DATA, info["target"], "train")])  # images only
    bundle = SourceBundle(images=[(s.image, s.label, s.fov) for s in dataset(DATA, info["source"], "train")],
                          modality="fundus")
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def on_event(ev):
        if isinstance(ev, Progress) and ev.stage == "load" and ev.step == ev.total:
            marks.setdefault("load", time.perf_counter() - t0)
        if isinstance(ev, Progress) and ev.step == ev.total and ev.stage in ("target-generator", "segmenter"):
            print(f"[{time.perf_counter() - t0:7.1f} s] round {ev.round} {ev.stage} done", flush=True)

    res = run(adapt(proj, cfg, source=bundle, device=device), on_event)
    total = time.perf_counter() - t0
    peak = peak_memory_mb(device)
    rounds = {r.index: r.metrics for r in Project.open(folder).rounds}
    m0, m1 = rounds[0], rounds[1]
    rate = {
        "generator_step_r0": m0["seconds_generator"] / cfg.gen_steps,
        "generator_step_r1": m1["seconds_generator"] / cfg.gen_finetune_steps,
        "synthesis_pair_r0": m0["seconds_synthesize"] / cfg.n_synthetic,
        "synthesis_pair_r1": m1["seconds_synthesize"] / cfg.n_synthetic,
        "segmenter_step_r0": m0["seconds_segmenter"] / cfg.seg_steps,
        "segmenter_step_r1": m1["seconds_segmenter"] / cfg.seg_finetune_steps,
        "pseudo_label_pass": (m0["seconds_pseudo_label"] + m1["seconds_pseudo_label"]) / 2,
    }
    load = marks.get("load", 0.0)
    stages0 = {
        "target generator": full.gen_steps * rate["generator_step_r0"],
        "synthesis": full.n_synthetic * rate["synthesis_pair_r0"],
        "segmenter": full.seg_steps * rate["segmenter_step_r0"],
        "pseudo-labels": rate["pseudo_label_pass"],
    }
    stages_r = {
        "target generator": full.gen_finetune_steps * rate["generator_step_r1"],
        "synthesis": full.n_synthetic * rate["synthesis_pair_r1"],
        "segmenter": full.seg_finetune_steps * rate["segmenter_step_r1"],
        "pseudo-labels": rate["pseudo_label_pass"],
    }
    projected = load + sum(stages0.values()) + full.rounds * sum(stages_r.values())
    report = {
        "pair": args.pair, "preset": args.preset, "device": describe(device), "threads": args.threads,
        "machine": f"{platform.node()} {platform.machine()}", "target_images": len(proj.images),
        "probe": probe, "probe_seconds": round(total, 1), "probe_rounds_seconds": {k: round(v.get("seconds_generator", 0)
                                                                                              + v.get("seconds_synthesize", 0)
                                                                                              + v.get("seconds_segmenter", 0)
                                                                                              + v.get("seconds_pseudo_label", 0), 1)
                                                                                       for k, v in rounds.items()},
        "load_seconds": round(load, 1), "rates_seconds": {k: round(v, 4) for k, v in rate.items()},
        "preset_sizes": {k: getattr(full, k) for k in ("gen_steps", "gen_finetune_steps", "gen_batch", "gen_crop",
                                                      "n_synthetic", "steps", "t0", "seg_steps", "seg_finetune_steps",
                                                      "seg_batch", "seg_crop", "rounds")},
        "projected_stage_seconds": {"round 0": {k: round(v, 1) for k, v in stages0.items()},
                                    "each later round": {k: round(v, 1) for k, v in stages_r.items()}},
        "projected_total_seconds": round(projected, 1),
        "peak_memory_mb": round(peak, 1),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
    }
    out = Path(args.out or REPO / "benchmarks" / "results" / args.pair)
    out.mkdir(parents=True, exist_ok=True)
    from vessel_studio.io.atomic import write_json, write_text

    write_json(out / f"cost-{args.preset}.json", report)
    md = [f"# Cost of one `{args.preset}` adaptation, {args.pair} (projected from a timed probe)", "",
          f"Command: `{report['command']}`", "",
          f"Device: {report['device']}, {args.threads} CPU threads; {report['target_images']} target images; "
          f"probe {json.dumps(probe)} with rounds 0-1 took {report['probe_seconds']} s; peak memory "
          f"{report['peak_memory_mb']} MB.", "",
          "| stage | round 0 (s) | each co-optimization round (s) |", "|---|---|---|"]
    for k in stages0:
        md.append(f"| {k} | {stages0[k]:.0f} | {stages_r[k]:.0f} |")
    md += ["", f"Loading: {load:.0f} s. Projected total for the preset ({full.rounds} co-optimization rounds): "
           f"**{projected / 60:.0f} min** ({projected / 3600:.2f} h).", "",
           "Rates measured in the probe (seconds): " + ", ".join(f"{k} {v:.4f}" for k, v in rate.items()) + ".", "",
           "A projection from measured per-step rates (stage set-up spread over fewer steps makes it err high), "
           "not a timed full run."]
    write_text(out / f"cost-{args.preset}.md", "\n".join(md) + "\n")
    print("\n".join(md))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
