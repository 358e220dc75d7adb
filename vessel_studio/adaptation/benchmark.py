"""The adaptation benchmark of ``../shared/BENCHMARK.md``, end to end, for one dataset pair.

Per seed, each part cached under ``WORK/<pair>/seed-<s>/`` (a rerun skips finished parts, so
parts can run in separate processes and the report be assembled at the end):

- ``source-only``: a segmenter trained on the source's training split (labels) and applied to the
  target with the target modality's preprocessing (polarity and scale from the modality, as a lab
  would set them);
- ``oracle``: the same segmenter trained on the target's own training labels (a ceiling);
- ``frangi``: Frangi vesselness (sigmas 1–5, bright ridges, on the prepared target image) with an
  Otsu threshold inside the FOV, less a 15-pixel band inside a fundus FOV's rim, whose step is
  otherwise the strongest ridge (no learning);
- ``histmatch``: the source images histogram-matched (inside the FOV) to the pooled target
  training images, then the same segmenter training;
- ``adabn``: the source-only segmenter with its BatchNorm running statistics re-estimated on crops
  of the target's unlabelled training images (AdaBN; weights unchanged; no learning on the target);
- ``adapted``: ``adaptation.adapt`` on a project holding the target training images (no labels),
  starting from the source-only segmenter and a source generator; scored after every round.

Every model is scored on the target's test split (``io.datasets.dataset(..., "test")``; OCT-A 500
10388 excluded) with ``vessel_studio.metrics.score`` per image, inside the FOV (file FOV for
fundus sets, whole image for OCT-A), Dice at threshold 0.5. Target labels are read only here, in
scoring and in the oracle's training, never inside the adaptation job.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from vessel_studio.wording import shown_names

PAIRS: dict[str, dict[str, str]] = {
    "drive-octa500": {"source": "DRIVE", "target": "OCTA-500", "modality": "octa"},
    "drive-chase": {"source": "DRIVE", "target": "CHASE_DB1", "modality": "fundus"},
    "drive-stare": {"source": "DRIVE", "target": "STARE", "modality": "fundus"},
}
PARTS = ("source-only", "oracle", "frangi", "histmatch", "adabn", "adapted")
KEYS = ("dice", "cldice", "auc", "sensitivity", "specificity")
SELECTED = "adapted (selected round, label-free)"
#: segmenter steps of the source-only / oracle / histmatch baselines when ``--seg-steps`` is not given
BASELINE_STEPS = {"tiny": 6, "cpu": 1000, "gpu": 3000}


@dataclass
class BenchmarkSpec:
    pair: str
    data: Path
    work: Path
    preset: str = "cpu"
    seg_steps: int | None = None  # baselines' segmenter steps (None: BASELINE_STEPS[preset])
    adapt_overrides: dict[str, Any] | None = None
    source_generator: str = "fundus-generator"  # a model folder / bundled name, or "train" (DRIVE only)
    source_generator_steps: int | None = None  # with "train": steps (None: the preset's gen_steps)
    threads: int | None = None
    score_only: bool = False  # report from what is cached: never train or adapt


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _write_json(path: Path, obj) -> None:
    from vessel_studio.io.atomic import write_json

    write_json(path, obj)


def _cached(path: Path, fn: Callable[[], Any]):
    if path.is_file():
        return json.loads(path.read_text())
    out = fn()
    _write_json(path, out)
    return out


# --- data -----------------------------------------------------------------------------------


def _test_set(spec: BenchmarkSpec, split: str = "test"):
    """``(name, image, label, fov)`` of the target's ``split`` (the test split unless a report says
    otherwise, as benchmarks/calibration_from_corrections.py does with OCTA-500's ``val``)."""
    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.io.images import read_image, read_mask

    info = PAIRS[spec.pair]
    out = []
    for s in dataset(spec.data, info["target"], split):
        image, _ = read_image(s.image)
        gt = read_mask(s.label, shape=image.shape)
        fov = read_mask(s.fov, shape=image.shape) if s.fov is not None else estimate_fov(image, modality=info["modality"])
        out.append((s.name, image, gt, fov))
    return out


def _score_probs(tests, predict: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]]) -> dict:
    from vessel_studio.metrics import score

    rows = []
    for name, image, gt, fov in tests:
        prob, thr = predict(image, fov)
        s = score(prob, gt, fov=fov, threshold=thr)
        rows.append({"name": name, **{k: float(s[k]) for k in KEYS}})
    mean = {k: float(np.nanmean([r[k] for r in rows])) for k in KEYS}
    return {"mean": mean, "per_image": rows}


def _score_segmenter(seg, tests) -> dict:
    from vessel_studio.device import pick_device

    seg.to(pick_device())  # on the training device: a GPU run would otherwise segment every test image on the CPU
    return _score_probs(tests, lambda img, fov: (seg.predict(img, fov=fov).prob, 0.5))


# --- parts ----------------------------------------------------------------------------------


def _train(pairs, spec: BenchmarkSpec, seed: int, prep, out: Path, desc: dict):
    from vessel_studio.events import run
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.train.segmenter import SegmenterTrainConfig, train_segmenter

    if (out / "model.safetensors").is_file():
        return Segmenter.load(out)
    steps = spec.seg_steps or BASELINE_STEPS[spec.preset]
    cfg = SegmenterTrainConfig.preset(spec.preset, steps=int(steps), seed=int(seed))
    t = time.perf_counter()

    def on_event(ev):
        if getattr(ev, "step", None) and ev.step % 100 == 0 and getattr(ev, "total", None):
            log(f"  {out.name}: step {ev.step}/{ev.total} {ev.message}")

    seg = run(train_segmenter(pairs, cfg, preprocessing=prep, checkpoint_dir=out.with_name(out.name + "-ckpt"),
                              description=desc), on_event)
    seg.training["seconds"] = round(time.perf_counter() - t, 1)
    seg.save(out)
    return Segmenter.load(out)


def part_source_only(spec: BenchmarkSpec, seed: int, tests) -> dict:
    from vessel_studio.io.datasets import dataset
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import pairs_from_samples

    info = PAIRS[spec.pair]
    out = spec.work / f"seed-{seed}" / "source-only"
    src_prep = Preprocessing.for_modality("fundus")
    pairs = pairs_from_samples(dataset(spec.data, info["source"], "train"), src_prep)
    seg = _train(pairs, spec, seed, src_prep, out, {"datasets": {info["source"]: "train split, 1st observer"}})
    seg.preprocessing = Preprocessing.for_modality(info["modality"])  # applied with the target's preprocessing
    return _score_segmenter(seg, tests)


def part_oracle(spec: BenchmarkSpec, seed: int, tests) -> dict:
    from vessel_studio.io.datasets import dataset
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import pairs_from_samples

    info = PAIRS[spec.pair]
    prep = Preprocessing.for_modality(info["modality"])
    pairs = pairs_from_samples(dataset(spec.data, info["target"], "train"), prep)
    seg = _train(pairs, spec, seed, prep, spec.work / f"seed-{seed}" / "oracle",
                 {"datasets": {info["target"]: "train split labels (oracle)"}})
    return _score_segmenter(seg, tests)


FRANGI_SIGMAS = range(1, 6)


def frangi_otsu(image: np.ndarray, fov: np.ndarray, prep) -> tuple[np.ndarray, float]:
    """The classical baseline on one image: (vesselness scaled to [0, 1] at original resolution, its
    Otsu threshold). The step at a fundus FOV's rim is the strongest "ridge" of the image, so a band of
    3 x the largest sigma inside the rim is left out (an OCT-A FOV, the whole image, has no rim)."""
    from scipy import ndimage
    from skimage.filters import frangi, threshold_otsu

    from vessel_studio.preprocess import prepare, restore

    p = prepare(image, fov=fov, prep=prep)
    v = frangi(p.x, sigmas=FRANGI_SIGMAS, black_ridges=False)
    inner = ndimage.binary_erosion(p.fov, iterations=3 * max(FRANGI_SIGMAS), border_value=1)
    if not inner.any():
        inner = p.fov
    v = np.where(inner, v, 0.0)
    top = float(v[inner].max()) if inner.any() else 1.0
    prob = (v / top if top > 0 else v).astype(np.float32)
    thr = float(threshold_otsu(prob[inner]))
    prob_o = np.clip(restore(prob, p), 0, 1)
    return np.where(fov, prob_o, 0).astype(np.float32), thr


def part_frangi(spec: BenchmarkSpec, seed: int, tests) -> dict:
    from vessel_studio.preprocess import Preprocessing

    prep = Preprocessing.for_modality(PAIRS[spec.pair]["modality"])
    return _score_probs(tests, lambda image, fov: frangi_otsu(image, fov, prep))


def part_histmatch(spec: BenchmarkSpec, seed: int, tests) -> dict:
    from skimage.exposure import match_histograms

    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.io.images import read_image
    from vessel_studio.preprocess import Preprocessing, prepare
    from vessel_studio.train.segmenter import TrainPair, pairs_from_samples

    info = PAIRS[spec.pair]
    prep = Preprocessing.for_modality(info["modality"])
    ref = []
    rng = np.random.default_rng(seed)
    for s in dataset(spec.data, info["target"], "train"):  # images only; labels untouched
        image, _ = read_image(s.image)
        p = prepare(image, fov=estimate_fov(image, modality=info["modality"]), prep=prep)
        vals = p.x[p.fov]
        ref.append(rng.choice(vals, size=min(vals.size, 20000), replace=False))
    ref = np.concatenate(ref)
    pairs = []
    for tp in pairs_from_samples(dataset(spec.data, info["source"], "train"), Preprocessing.for_modality("fundus")):
        x = tp.x.copy()
        fov = tp.fov if tp.fov is not None else np.ones(x.shape, bool)
        x[fov] = match_histograms(x[fov], ref)
        pairs.append(TrainPair(x, tp.label, tp.fov, name=tp.name))
    seg = _train(pairs, spec, seed, prep, spec.work / f"seed-{seed}" / "histmatch",
                 {"datasets": {info["source"]: "train split, histogram-matched to the target train images"}})
    return _score_segmenter(seg, tests)


def part_adabn(spec: BenchmarkSpec, seed: int, tests) -> dict:
    """Label-free baseline: the source-only segmenter with its BatchNorm running statistics
    re-estimated on crops of the target's unlabelled training images (AdaBN, Li et al. 2016;
    ``train.segmenter.reestimate_norm_statistics``), weights unchanged. Reads no target label."""
    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.io.images import read_image
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing, prepare
    from vessel_studio.train.segmenter import SegmenterTrainConfig, reestimate_norm_statistics

    info = PAIRS[spec.pair]
    src = spec.work / f"seed-{seed}" / "source-only"
    if not (src / "model.safetensors").is_file():
        part_source_only(spec, seed, tests[:1])  # trains (and caches) the source segmenter
    seg = Segmenter.load(src)
    seg.preprocessing = Preprocessing.for_modality(info["modality"])  # as source-only is applied
    prepared = []
    for s in dataset(spec.data, info["target"], "train"):  # images only, FOV estimated as the adaptation does
        image, _ = read_image(s.image)
        prepared.append(prepare(image, fov=estimate_fov(image, modality=info["modality"]), prep=seg.preprocessing))
    cfg = SegmenterTrainConfig.preset(spec.preset)
    reestimate_norm_statistics(seg, [p.x for p in prepared], [p.fov for p in prepared],
                               crop=cfg.crop, batch_size=cfg.batch_size, seed=int(seed))
    return _score_segmenter(seg, tests)


def _adapt_config(spec: BenchmarkSpec, seed: int):
    from vessel_studio.adaptation.config import AdaptConfig

    return AdaptConfig.preset(spec.preset, seed=int(seed), threads=spec.threads, **(spec.adapt_overrides or {}))


def part_adapted(spec: BenchmarkSpec, seed: int, tests) -> dict:
    from vessel_studio.adaptation.job import SourceBundle, adapt
    from vessel_studio.events import Metric, Progress, run
    from vessel_studio.io.datasets import dataset
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.store import Project

    info = PAIRS[spec.pair]
    base = spec.work / f"seed-{seed}"
    src_seg = base / "source-only"
    cfg = _adapt_config(spec, seed)
    folder = base / "project"
    if not (base / "adapt-result.json").is_file() and not spec.score_only:  # a killed run resumes
        if not (src_seg / "model.safetensors").is_file():
            part_source_only(spec, seed, tests[:1])  # trains (and caches) the source segmenter
        proj = Project.open_or_create(folder, modality=info["modality"], name=f"{spec.pair} seed {seed}")
        done = finished_adaptation(proj)
        if done is not None:  # the job finished, the process was stopped before it wrote adapt-result.json
            log(f"{spec.pair} seed {seed}: the adaptation had finished ({done['recovered']})")
            _write_json(base / "adapt-result.json", done)
    if not (base / "adapt-result.json").is_file() and not spec.score_only:  # proj: opened above
        if not proj.images:
            proj.add_images([s.image for s in dataset(spec.data, info["target"], "train")])  # images only
        src = [(s.image, s.label, s.fov) for s in dataset(spec.data, info["source"], "train")]
        generator = spec.source_generator
        if generator == "train":
            generator = train_source_generator(spec, seed, cfg)
        bundle = SourceBundle(segmenter=src_seg, generator=generator, images=src, modality="fundus")
        last = {"t": 0.0}

        def on_event(ev):
            now = time.perf_counter()
            if isinstance(ev, Progress) and (now - last["t"] > 30 or ev.step == ev.total):
                last["t"] = now
                log(f"  adapt r{ev.round} {ev.stage} {ev.step}/{ev.total} {ev.message}")
            elif isinstance(ev, Metric) and ev.stage == "round" and ev.name in ("agreement", "confidence"):
                log(f"  adapt r{ev.round} {ev.name}={ev.value:.4f}")

        res = run(adapt(proj, cfg, source=bundle), on_event)
        _write_json(base / "adapt-result.json", {"stopped_early": res.stopped_early, "reason": res.reason,
                                                 "seconds": res.seconds, "resumed": res.resumed})
    rounds = []
    for r in Project.open(folder).rounds:
        seg = Segmenter.load(folder / r.folder / "segmenter")
        sc = _cached(base / "scores" / f"adapted-round-{r.index}.json", lambda: _score_segmenter(seg, tests))
        label_free = dict(r.metrics or {})
        if "fragmentation" not in label_free:  # rounds committed before the signal was recorded
            label_free["fragmentation"] = _cached(
                base / "label-free" / f"fragmentation-round-{r.index}.json",
                lambda: {"value": _pseudo_fragmentation(folder / r.folder / "pseudo")})["value"]
        rounds.append({"round": r.index, "stage": r.stage, "scores": sc["mean"], "label_free": label_free,
                       "seconds": r.seconds, "per_image": sc["per_image"],
                       "source_weight": float((r.config or {}).get("source_weight", 0.0)),
                       "merge_chain": bool((r.config or {}).get("merge_chain", False))})
    return {"rounds": rounds, "config": cfg.to_dict(),
            "result": json.loads((base / "adapt-result.json").read_text()) if (base / "adapt-result.json").is_file() else None}


def finished_adaptation(project) -> dict | None:
    """``adapt-result.json``'s fields of the project's finished adaptation job, from its log, when the job ended
    (rounds committed, no killed job's ``work/job.json`` to resume) but the benchmark did not record it (stopped
    between the two): ``adapt`` called again added the preset's rounds after them (a tiny run with 2 rounds
    reported round 4 as its last). None when there is a job to run or to resume."""
    from vessel_studio.adaptation.job import JOB_FILE

    if not project.rounds or (project.work_dir / JOB_FILE).is_file():
        return None
    ends = [e for e in project.read_log() if e.get("message") == "adaptation finished"]
    if not ends:
        return None
    end = ends[-1]
    return {"stopped_early": bool(end.get("stopped_early", False)), "reason": end.get("reason", ""),
            "seconds": end.get("seconds"), "resumed": False,
            "recovered": "from the project's log: the benchmark was stopped before it recorded the finished job"}


def _pseudo_fragmentation(folder: Path) -> float:
    """``selection.fragmentation`` of a committed round's pseudo-label TIFFs (the target images'
    probabilities at original resolution, zero outside the FOV): reads no label."""
    import tifffile

    from vessel_studio.adaptation.selection import fragmentation

    from vessel_studio.io.atomic import is_temporary_name

    return fragmentation([np.asarray(tifffile.imread(p), np.float32) for p in sorted(Path(folder).glob("*.tif"))
                          if not is_temporary_name(p.name)])


def train_source_generator(spec: BenchmarkSpec, seed: int, cfg) -> Path:
    """A mask-conditioned source generator trained on the source's training split only."""
    from vessel_studio.adaptation.job import load_sources
    from vessel_studio.adaptation.rounds import derive_seed
    from vessel_studio.events import run
    from vessel_studio.io.datasets import dataset
    from vessel_studio.models.generator import GeneratorConfig
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator

    out = spec.work / f"seed-{seed}" / "source-generator"
    if (out / "model.safetensors").is_file():
        return out
    info = PAIRS[spec.pair]
    prep = Preprocessing.for_modality("fundus")
    src = load_sources([(s.image, s.label, s.fov) for s in dataset(spec.data, info["source"], "train")], prep)
    steps = int(spec.source_generator_steps or cfg.gen_steps)
    tcfg = GeneratorTrainConfig.preset(cfg.gen_model, model=GeneratorConfig.preset(cfg.gen_model), steps=steps,
                                       batch_size=cfg.gen_batch, crop_size=cfg.gen_crop, lr=cfg.gen_lr,
                                       seed=derive_seed(seed, "source-generator"),
                                       warmup=min(100, max(1, steps // 10)),
                                       checkpoint_every=max(1, min(200, steps // 4)))
    t = time.perf_counter()

    def on_event(ev):
        if getattr(ev, "total", None) and ev.step % 50 == 0:
            log(f"  source-generator step {ev.step}/{ev.total} {ev.message}")

    gen = run(train_generator(src.images, src.masks, tcfg, fovs=src.fovs, preprocessing=prep,
                              checkpoint_dir=out.with_name("source-generator-ckpt"),
                              description={"datasets": {info["source"]: "train split images + 1st observer masks"}}),
              on_event)
    gen.training["seconds"] = round(time.perf_counter() - t, 1)
    gen.save(out)
    _write_json(spec.work / f"seed-{seed}" / "source-generator-timing.json",
                {"seconds": round(time.perf_counter() - t, 1), "steps": steps})
    return out


PART_FUNCS = {"source-only": part_source_only, "oracle": part_oracle, "frangi": part_frangi,
              "histmatch": part_histmatch, "adabn": part_adabn, "adapted": part_adapted}


# --- driver and report ----------------------------------------------------------------------


def check_spec(spec: BenchmarkSpec, seeds: Sequence[int], parts: Sequence[str]) -> None:
    """The options refused before any work (a ``ValueError`` naming the option): they failed when the part that
    reads them started, after the parts before it had trained (a cpu run: an hour), or with a traceback, or were
    silently read as the preset's (a step count of 0). ``spec.work`` is the work folder as given (not WORK/PAIR)."""
    if spec.pair not in PAIRS:
        raise ValueError(f"unknown pair {spec.pair!r} (choose from {', '.join(PAIRS)})")
    if spec.preset not in BASELINE_STEPS:
        raise ValueError(f"unknown preset {spec.preset!r} (choose from {', '.join(BASELINE_STEPS)})")
    unknown = [p for p in parts if p not in PARTS and p != "source-generator"]
    if unknown:
        raise ValueError(f"--parts: unknown part(s) {', '.join(map(repr, unknown))} (choose from source-generator, "
                         f"{', '.join(PARTS)})")
    if not list(seeds):
        raise ValueError("--seeds: give at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"--seeds: a seed must be an integer >= 0, got {s!r}")
    twice = sorted({int(s) for s in seeds if list(seeds).count(s) > 1})
    if twice:
        raise ValueError(f"--seeds: seed {', '.join(map(str, twice))} given twice (a seed counts once in the report)")
    for name in ("seg_steps", "source_generator_steps", "threads"):
        value = getattr(spec, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
    chosen = {"seed": ("the seed", "--seeds"), "threads": ("the thread count", "--threads"),
              "preset_name": ("the preset", "--preset")}
    for key, value in (spec.adapt_overrides or {}).items():
        if key in chosen:
            raise ValueError(f"--set {key}={value}: {chosen[key][0]} is chosen with {chosen[key][1]}")
        if isinstance(value, (list, dict)):
            raise ValueError(f"--set {key}={json.dumps(value)}: a number, true/false, null or a word, not a list or "
                             "an object")
    train = spec.source_generator == "train"
    if spec.source_generator_steps is not None and not train:
        raise ValueError(f"--source-generator-steps is for --source-generator train; the source generator "
                         f"{spec.source_generator!r} is not trained here")
    if "source-generator" in parts and not train:
        raise ValueError(f"--parts source-generator trains the source generator of --source-generator train; "
                         f"with --source-generator {spec.source_generator} there is nothing to train")
    if spec.score_only:
        return
    if "adapted" in parts or "source-generator" in parts:
        try:
            for s in seeds:
                _adapt_config(spec, s)  # --set's unknown keys and bad values
        except TypeError as exc:
            raise ValueError(f"--set: {exc}") from None
    if "adapted" in parts and not train:
        from vessel_studio.adaptation.source_models import read_source_model

        model = read_source_model(spec.source_generator, "generator")
        if model.modality not in (None, "fundus"):
            raise ValueError(f"{model.folder}: --source-generator records the {model.modality} modality; the "
                             f"source of {spec.pair} ({PAIRS[spec.pair]['source']}) is fundus")


def _segmenter_settings(spec: BenchmarkSpec) -> dict:
    return {"preset": spec.preset, "steps": int(spec.seg_steps or BASELINE_STEPS[spec.preset])}


def part_settings(spec: BenchmarkSpec, seed: int, part: str) -> dict | None:
    """What a part's cached result depends on besides the data (None: nothing but the data: ``frangi``).
    Recorded in ``WORK/PAIR/seed-S/settings/PART.json`` when the part is first made; a later run whose
    options change it is refused while the part's cache is there (:func:`check_cache_settings`)."""
    if part in ("source-only", "oracle", "histmatch"):
        return {"segmenter": _segmenter_settings(spec)}
    if part == "adabn":  # the source-only segmenter, re-estimated on crops of the preset's size
        return {"segmenter": _segmenter_settings(spec), "preset": spec.preset}
    if part == "source-generator":
        cfg = _adapt_config(spec, seed)
        return {"preset": spec.preset, "steps": int(spec.source_generator_steps or cfg.gen_steps),
                **{k: getattr(cfg, k) for k in ("gen_model", "gen_batch", "gen_crop", "gen_lr")}}
    if part == "adapted":
        from vessel_studio.resources import is_bundled

        gen = spec.source_generator
        if gen != "train" and not is_bundled(gen):
            gen = str(Path(gen).resolve())
        cfg = {k: v for k, v in _adapt_config(spec, seed).to_dict().items() if k != "threads"}  # as the job's key
        return {"segmenter": _segmenter_settings(spec), "source_generator": gen, "adapt": cfg}
    return None


def _cache_paths(base: Path, part: str) -> list[Path]:
    """What a part leaves in the seed's folder (a finished or killed run): its cache."""
    if part in ("source-only", "oracle", "histmatch"):
        return [base / part, base / f"{part}-ckpt", base / "scores" / f"{part}.json"]
    if part == "source-generator":
        return [base / "source-generator", base / "source-generator-ckpt"]
    if part == "adapted":
        return [base / "project", base / "adapt-result.json", *sorted((base / "scores").glob("adapted-round-*.json"))]
    return [base / "scores" / f"{part}.json"]


def _differences(old, new, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in _differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix[:-1]} {old!r} (cached) / {new!r} (now)"]


def check_cache_settings(spec: BenchmarkSpec, seeds: Sequence[int], parts: Sequence[str]) -> None:
    """Refuse a run whose options differ from those the cached parts were made with (``part_settings``),
    before any work, and record the settings of the parts not cached yet. A cached part was reused whatever the
    options: a rerun with ``--seg-steps 50`` (or ``--set gen_steps=9``, another ``--preset``) in the same
    ``--work`` reported the earlier models' scores under the new options. ``spec.work`` is WORK/PAIR. A cache
    made before the settings were recorded is taken as it is (nothing says what made it)."""
    needed = list(parts)
    if ("adabn" in needed or "adapted" in needed) and "source-only" not in needed:
        needed.append("source-only")  # both start from the source-only segmenter
    if "adapted" in needed and spec.source_generator == "train" and "source-generator" not in needed:
        needed.append("source-generator")
    stale, record = [], []
    for seed in seeds:
        base = spec.work / f"seed-{seed}"
        for part in needed:
            want = part_settings(spec, seed, part)
            if want is None:
                continue
            want = json.loads(json.dumps(want, default=str))
            path = base / "settings" / f"{part}.json"
            cached = [p for p in _cache_paths(base, part) if p.exists()]
            have = json.loads(path.read_text()) if path.is_file() else None
            if cached and have is not None and have != want:
                diff = _differences(have, want)
                stale.append(f"{part} of seed {seed} ({shown_names(diff, 4)}; cached in {base}: "
                             f"{', '.join(p.relative_to(base).as_posix() for p in cached[:3])}"
                             f"{' ...' if len(cached) > 3 else ''})")
            elif not cached and have != want:
                record.append((path, want))
    if stale:
        raise ValueError(f"{spec.work}: cached parts were made with other options: {'; '.join(stale)}. Give the "
                         "options they were made with, another --work, or delete those folders to make them again "
                         "(nothing was changed)")
    if not spec.score_only:
        for path, want in record:
            _write_json(path, want)


def check_cached_test_names(spec: BenchmarkSpec, seeds: Sequence[int], parts: Sequence[str], tests) -> None:
    """Refuse cached scores made on other test images than those of ``--data``'s test split (another datasets
    root in the same ``--work``: a 2-image device kit's scores were reported for the full test split, and the
    other way round), before any work. ``spec.work`` is WORK/PAIR."""
    want = sorted(str(t[0]) for t in tests)
    for seed in seeds:
        scores = spec.work / f"seed-{seed}" / "scores"
        paths = [scores / f"{p}.json" for p in parts if p not in ("adapted", "source-generator")]
        if "adapted" in parts:
            paths += sorted(scores.glob("adapted-round-*.json"))
        for path in paths:
            if not path.is_file():
                continue
            have = sorted(str(r.get("name")) for r in json.loads(path.read_text()).get("per_image", []))
            if have != want:
                raise ValueError(f"{path}: scored on {len(have)} test image(s) ({', '.join(have[:3])}"
                                 f"{', ...' if len(have) > 3 else ''}), but the test split under {spec.data} has "
                                 f"{len(want)} ({', '.join(want[:3])}{', ...' if len(want) > 3 else ''}): the cache "
                                 "was made with other data; give the --data it was made with, another --work, or "
                                 "delete it to score again (nothing was changed)")


def run_benchmark(spec: BenchmarkSpec, seeds: Sequence[int], parts: Sequence[str] = PARTS) -> dict:
    import torch

    check_spec(spec, seeds, parts)
    # WORK/PAIR in a copy: the caller's spec is left as it was (a second call with it nested WORK/PAIR/PAIR
    # and trained every part again there: test_benchmark_cli's rerun "from the cached source-only model")
    spec = dataclasses.replace(spec, work=Path(spec.work) / spec.pair)
    check_cache_settings(spec, seeds, parts)
    if spec.score_only and not any(
            (spec.work / f"seed-{s}" / ("project/project.json" if p == "adapted" else f"scores/{p}.json")).is_file()
            for s in seeds for p in parts):
        raise ValueError(f"{spec.work}: nothing cached for seed(s) {', '.join(map(str, seeds))} (report only: "
                         "give the --work and --seeds of the run)")
    if spec.threads:
        torch.set_num_threads(int(spec.threads))
    log(f"{spec.pair}: reading the test split")
    tests = _test_set(spec)
    check_cached_test_names(spec, seeds, parts, tests)
    from vessel_studio.device import peak_memory_mb, pick_device, reset_peak_memory

    device = pick_device()
    results: dict[str, Any] = {}
    for seed in seeds:
        per: dict[str, Any] = {}
        for part in parts:
            t = time.perf_counter()
            base = spec.work / f"seed-{seed}"
            path = base / "scores" / f"{part}.json"
            if spec.score_only and not (base / "project" / "project.json" if part == "adapted" else path).is_file():
                log(f"{spec.pair} seed {seed}: {part} not cached (report only: left out)")
                continue
            log(f"{spec.pair} seed {seed}: {part}")
            done = {"adapted": base / "adapt-result.json",
                    "source-generator": base / "source-generator" / "model.safetensors"}.get(part, path)
            first_run = not spec.score_only and not done.is_file()  # not a cached rerun: time and memory recorded
            reset_peak_memory(device)
            if part == "source-generator":  # not scored: trains (or finds) the source generator the adaptation uses
                if spec.source_generator == "train":
                    log(f"{spec.pair} seed {seed}: source generator "
                        f"{train_source_generator(spec, seed, _adapt_config(spec, seed))}")
                else:
                    first_run = False
            elif part == "adapted":
                per[part] = part_adapted(spec, seed, tests)
            else:
                per[part] = _cached(path, lambda: PART_FUNCS[part](spec, seed, tests))
            mem_path = base / "memory" / f"{part}.json"  # one file a part: parts of a seed may run in parallel
            if first_run and not mem_path.is_file():
                _write_json(mem_path, {"peak_mb": round(peak_memory_mb(device), 1), "device": device.type})
            if part == "source-generator":
                continue
            timing = base / "timings.json"
            tim = json.loads(timing.read_text()) if timing.is_file() else {}
            if first_run and part not in tim:
                tim[part] = round(time.perf_counter() - t, 1)
                _write_json(timing, tim)
            per[part]["seconds_this_call"] = round(time.perf_counter() - t, 1)
            if part != "adapted":
                log(f"{spec.pair} seed {seed}: {part} dice {per[part]['mean']['dice']:.4f}")
        results[str(seed)] = per
    return results


def summarize(pair: str, results: dict, *, command: str, spec: BenchmarkSpec, notes: Sequence[str] = (),
              timings: dict | None = None, memory: dict | None = None) -> dict:
    seeds = list(results)
    methods: dict[str, dict[str, list[float]]] = {}

    def add(name, scores):
        for k in KEYS:
            methods.setdefault(name, {}).setdefault(k, []).append(float(scores[k]))

    from vessel_studio.adaptation.selection import history_warnings, report_round_rows, select_round

    selected: dict[str, int] = {}  # seed -> round chosen by selection.select_round (label-free)

    per_round: dict[int, dict[str, list[float]]] = {}
    label_free: dict[int, list[dict]] = {}
    guard: dict[int, list[list[str]]] = {}  # round -> per seed: the label-free guard's warnings
    for s in seeds:
        r = results[s]
        for part in ("source-only", "oracle", "frangi", "histmatch", "adabn"):
            if part in r:
                add(part, r[part]["mean"])
        if "adapted" in r and r["adapted"]["rounds"]:
            rounds = r["adapted"]["rounds"]
            add("adapted (last round)", rounds[-1]["scores"])
            rows = report_round_rows(rounds)
            pick = select_round(rows)
            if pick is not None:
                add(SELECTED, next(rd["scores"] for rd in rounds if rd["round"] == pick))
                selected[s] = pick
            flags = history_warnings(rows)
            for rd in rounds:
                for k in KEYS:
                    per_round.setdefault(rd["round"], {}).setdefault(k, []).append(float(rd["scores"][k]))
                label_free.setdefault(rd["round"], []).append(rd["label_free"])
                guard.setdefault(rd["round"], []).append(flags.get(rd["round"], []))
    delivered = sorted({(rd.get("source_weight", 0.0), rd.get("merge_chain", False)) for s in seeds
                        for rd in (results[s].get("adapted") or {}).get("rounds", [])})
    table = {m: {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
                     "n_seeds": len(v)} for k, v in d.items()} for m, d in methods.items()}
    gap = None
    if all(m in table for m in ("source-only", "oracle", "adapted (last round)")):
        so, orc, ad = (table[m]["dice"]["mean"] for m in ("source-only", "oracle", "adapted (last round)"))
        gap = (ad - so) / (orc - so) if orc != so else None
    return {
        "pair": pair,
        "preset": spec.preset,
        "seeds": [int(s) for s in seeds],
        "command": command,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "baseline_segmenter_steps": spec.seg_steps or BASELINE_STEPS[spec.preset],
        "adapt_overrides": spec.adapt_overrides or {},
        "source_generator": spec.source_generator,
        "table": table,
        "rounds": {str(k): {kk: float(np.mean(v)) for kk, v in d.items()} for k, d in sorted(per_round.items())},
        "label_free": {str(k): v for k, v in sorted(label_free.items())},
        "guard": {str(k): v for k, v in sorted(guard.items())},
        "gap_closed_dice": gap,
        "delivered": [{"source_weight": w, "merge_chain": c} for w, c in delivered],
        "selected_round": selected,
        "notes": list(notes),
        "timings": dict(timings or {}),
        "peak_memory": dict(memory or {}),
        "per_seed": results,
    }


def markdown(summary: dict) -> str:
    def fmt(cell):
        if cell is None:
            return ""
        sd = cell.get("sd")
        return f"{cell['mean']:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")

    lines = [f"# Adaptation benchmark: {summary['pair']}", "",
             f"Command: `{summary['command']}`", "",
             f"Preset `{summary['preset']}`; seeds {summary['seeds']}; machine: {summary['machine']}.",
             f"Baseline segmenter steps: {summary['baseline_segmenter_steps'] or 'preset'}; "
             f"adaptation overrides: `{json.dumps(summary['adapt_overrides'])}`; "
             f"source generator: `{summary['source_generator']}`.", "",
             "| method | Dice | clDice | AUC | sensitivity | specificity |", "|---|---|---|---|---|---|"]
    table = summary["table"]
    order = [m for m in ("source-only", "oracle", "frangi", "histmatch", "adabn", "adapted (last round)", SELECTED)
             if m in table]
    for m in order + [m for m in table if m not in order]:  # the same order whatever the JSON's key order
        d = table[m]
        lines.append(f"| {m} | " + " | ".join(fmt(d.get(k)) for k in KEYS) + " |")
    if summary["gap_closed_dice"] is not None:
        lines += ["", f"Gap closed (Dice) = (adapted − source-only) / (oracle − source-only) = "
                      f"{summary['gap_closed_dice']:.3f}"]
    for d in summary.get("delivered", []):
        if d["source_weight"] > 0:
            lines += ["", f"The adapted rows score the segmenter each round delivers: the weight interpolation "
                          f"{d['source_weight']:g} × source segmenter + {1 - d['source_weight']:g} × adapted "
                          f"(`source_weight`, resolved from the modalities). "
                          + ("It is also the co-optimization chain (`merge_chain`)." if d["merge_chain"] else
                             "The label-free signals below are the co-optimization chain's (unmerged, "
                             "`segmenter-chain/`), which the next round fine-tunes.")]
    if summary.get("selected_round"):
        lines += ["", f"`{SELECTED}`: per seed the round with the lowest label-free fragmentation of its "
                      "pseudo-labels (`selection.select_round`): "
                      + ", ".join(f"seed {k}: round {v}" for k, v in summary["selected_round"].items()) + "."]
    if summary["rounds"]:
        lines += ["", "## Per round (mean over seeds; round 0 = latent similarity mining alone)", "",
                  "| round | Dice | clDice | AUC | agreement | confidence | vessel fraction | fragmentation "
                  "| generator loss | guard: seeds flagged |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        # runs from before session 23 did not record the source masks' vessel share (the guard's other reference)
        masks_share = any("source_mask_fraction" in x for v in summary["label_free"].values() for x in v)
        for k, d in summary["rounds"].items():
            lf = summary["label_free"].get(k, [{}])
            a = lambda key: np.mean([x.get(key, np.nan) for x in lf])  # noqa: E731
            flags = summary.get("guard", {}).get(k, [])
            kinds = sorted({f.split(":")[0] for seed in flags for f in seed})
            flagged = f"{sum(1 for seed in flags if seed)}/{len(flags)}" + (f" ({', '.join(kinds)})" if kinds else "")
            lines.append(f"| {k} | {d['dice']:.3f} | {d['cldice']:.3f} | {d['auc']:.3f} | {a('agreement'):.3f} | "
                         f"{a('confidence'):.3f} | {a('vessel_fraction'):.3f} | {a('fragmentation'):.2f} | "
                         f"{a('generator_loss'):.4f} | {flagged} |")
        lines += ["", "Agreement, confidence, vessel fraction and fragmentation (components per 1000 skeleton "
                      "pixels of the pseudo-labels) are label-free (the stopping rule and the round selection see "
                      "only these); Dice/clDice/AUC use the test labels and were not used for any choice. The guard "
                      "(`selection.round_warnings`) flags rounds from label-free signals only: collapse = vessel "
                      "fraction at most a quarter of the source segmenter's on the same target images, flood = "
                      "more than 35 % of the FOV or 4x the source segmenter's"
                      + (" (or of the vessel share of the source masks where that is larger, round 0's "
                         "`source_mask_fraction`)." if masks_share else "."), "",
                  "Stage wall-clock seconds per round (mean over seeds):", "",
                  ]
        deliver = any("seconds_deliver" in x for v in summary["label_free"].values() for x in v)
        lines += ["| round | target generator | synthesis | segmenter | pseudo-labels |" + (" deliver |" if deliver else ""),
                  "|---|---|---|---|---|" + ("---|" if deliver else "")]
        for k in summary["rounds"]:
            lf = summary["label_free"].get(k, [{}])
            a = lambda key: np.mean([x.get(key, np.nan) for x in lf])  # noqa: E731
            lines.append(f"| {k} | {a('seconds_generator'):.0f} | {a('seconds_synthesize'):.0f} | "
                         f"{a('seconds_segmenter'):.0f} | {a('seconds_pseudo_label'):.0f} |"
                         + (f" {a('seconds_deliver'):.0f} |" if deliver else ""))
    if summary.get("timings"):
        lines += ["", "Wall-clock seconds per part (first run of each): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in summary["timings"].items())]
    if summary.get("peak_memory"):
        mem = summary["peak_memory"]
        devices = sorted({v["device"] for v in mem.values()})
        lines += ["", "Peak memory per part (MB, the largest over the seeds' first runs; "
                  + ("CUDA allocator peak of the part" if devices == ["cuda"] else
                     "on the CPU the process's max RSS so far, parts running in order in one process")
                  + "): " + ", ".join(f"{k} {v['peak_mb']:.0f}" + ("" if len(devices) == 1 else f" ({v['device']})")
                                      for k, v in mem.items())]
    if summary["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in summary["notes"]]
    return "\n".join(lines) + "\n"


def check_report_folder(out: Path, pair: str, preset: str) -> None:
    """Refuse a report folder (``--out``) whose ``results.json`` is not a report of ``pair`` with ``preset``:
    ``--out benchmarks/results/drive-stare`` on drive-chase, or with ``--preset tiny`` over the committed cpu
    results, replaced those results without a word. The same pair and preset may be written again (a committed
    report is updated by naming its folder)."""
    path = Path(out) / "results.json"
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict) or (old.get("pair"), old.get("preset")) != (pair, preset):
        what = (f"the report of {old.get('pair')} with the {old.get('preset')} preset"
                if isinstance(old, dict) and old.get("pair") else "a results.json that is not a benchmark report")
        raise ValueError(f"{path}: --out holds {what}, which this run ({pair}, preset {preset}) would replace; choose "
                         "another --out, or delete that results.json to replace it (nothing was changed)")


def write_report(summary: dict, out: Path, *, adapted_segmenter: Path | None = None) -> list[Path]:
    from vessel_studio.io.atomic import write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    slim = {k: v for k, v in summary.items() if k != "per_seed"}
    slim["per_seed"] = {
        s: {part: ({"rounds": [{k: v for k, v in rd.items() if k != "per_image"} for rd in r["rounds"]],
                    "config": r.get("config"), "result": r.get("result")}
                   if part == "adapted" else {"mean": r["mean"]})
            for part, r in d.items()}
        for s, d in summary["per_seed"].items()
    }
    paths = [out / "results.json", out / "results.md"]
    _write_json(paths[0], slim)
    write_text(paths[1], markdown(summary))
    if adapted_segmenter is not None:
        from vessel_studio.models.segmenter import Segmenter

        seg = Segmenter.load(adapted_segmenter)
        card = (f"# Adapted segmenter: {summary['pair']}\n\nAdapted by `vessel-studio adapt` inside the benchmark "
                f"run `{summary['command']}` (seed {summary['seeds'][0]}, last round). Half precision. Source "
                "labels: DRIVE training split (research and education only; see the DRIVE terms). Target images "
                "used without labels. Scores: results.md beside this folder.\n")
        merge = (seg.training or {}).get("weight_interpolation")
        if merge:
            card += (f"\nThe segmenter that round delivers: the weight interpolation {merge['base_weight']:g} × "
                     f"source segmenter + {1 - merge['base_weight']:g} × adapted (`AdaptConfig.source_weight`).\n")
        seg.save(out / "segmenter", half=True, card=card)
        paths.append(out / "segmenter")
    return paths


def peak_memory(work: Path, seeds: Sequence[int]) -> dict:
    """{part: {"peak_mb", "device"}}: the largest peak over the seeds' ``memory/<part>.json`` (written
    by ``run_benchmark`` when a part first runs)."""
    out: dict[str, dict] = {}
    for s in seeds:
        for path in sorted((Path(work) / f"seed-{s}" / "memory").glob("*.json")):
            part, v = path.stem, json.loads(path.read_text())
            if part not in out or v["peak_mb"] > out[part]["peak_mb"]:
                out[part] = {"peak_mb": float(v["peak_mb"]), "device": v["device"]}
    return {p: out[p] for p in ("source-generator",) + PARTS if p in out}
