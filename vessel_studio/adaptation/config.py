"""``AdaptConfig``: every size, step count and switch of an adaptation job, with presets.

Presets (same code, different sizes):

- ``tiny``: tests; a few optimiser / denoising steps on 32×32 crops; seconds on a CPU.
- ``cpu``: this 2-core machine; generators and segmenter on 64×64 crops, sized so that one
  adaptation of DRIVE -> OCTA-500 (140 target images) takes about 20 min on ONE core: target
  generator 150 steps of batch 8 (+50 per round), 128 synthetic pairs per round, segmenter 300
  steps (+150 per round), up to 5 co-optimization rounds within one modality and 8 across
  modalities (``rounds = "auto"``; fewer when the label-free stopping rule fires). These are the
  sizes the committed benchmark results were measured with (``benchmarks/results/``); the earlier,
  larger ``cpu`` sizes (1500/400 generator steps, 512 pairs, 1500/500 segmenter steps, 3 rounds)
  were never run to the end and were replaced by these.
  Rounds: 2 until session 9, 5 since (pre-registered test in benchmarks/results/more-rounds/:
  DRIVE -> OCTA-500 0.632 -> 0.714 Dice, the fundus pairs within 0.01); since session 11 8 across
  modalities (benchmarks/results/rounds-8/: rounds 6-8 gave held-out OCT-A seeds +0.041 and fresh
  seeds 5-6 +0.030, and CHASE_DB1 -0.006, so the fundus pairs keep 5); about 3 min per round here.
- ``gpu``: one H100-class GPU, sized (session 4, not yet run on a GPU) for the two limits a lab
  has: 16 GB of GPU memory and about 5 minutes per pair on one H100/H200. Target generator
  (24 M parameters) 1200 steps of batch 32 on 128×128 crops (+300 per round), 1024 synthetic
  pairs per round, segmenter 3000 steps of batch 32 (+1000 per round), 2 rounds. Batch 32, not
  64: ``benchmarks/gpu_memory.py`` counts the tensors a generator training step saves for
  backward at 11.1 GB (bf16) to 22.1 GB (fp32) for batch 64, so batch 64 does not fit 16 GB
  once CUDA autocast keeps its normalisation layers in fp32; batch 32 is half of that. The step
  counts follow from the H200 timing in ENVIRONMENT.md (one forward of the 24 M model: about
  0.74 ms per 128×128 image in bf16 eager): about 85 s of generator training, 20 s of
  fine-tuning per round, 23 s of synthesis per round and tens of seconds of segmenter work,
  a projection. Measured on one H200 (benchmarks/results/drive-octa500/gpu/README.md): 10.8 GB
  peak for a generator step (session 18), and DRIVE -> OCTA-500 seed 0 adapted through its 2
  rounds to Dice 0.592 in about 463 s of stages (session 19): over the 5 minutes, and round for
  round within the ``cpu`` preset's seed spread (which gains most in its later rounds). A cheaper candidate with
  ``rounds="auto"`` is pre-registered in benchmarks/results/gpu-preset-v2/PLAN.md; these sizes
  stay until it is run.

The config is frozen, written into the project manifest with every round and into the job's
``work/job.json`` (a resumed job must use the same config).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

from vessel_studio.config import check_fields

PRESET_NAMES = ("tiny", "cpu", "gpu")
#: ``AdaptConfig.seg_augment`` -> SegmenterTrainConfig overrides of the adaptation's segmenter training.
SEG_AUGMENT: dict[str, dict[str, float]] = {
    "mild": {},
    "strong": dict(contrast_jitter=0.5, blur_sigma=1.0, noise_sd=0.3),
}

#: ``AdaptConfig.source_share = "auto"`` within one modality (fundus camera -> fundus camera).
SAME_MODALITY_SOURCE_SHARE = 0.25
#: ``AdaptConfig.source_weight = "auto"`` within one modality: the delivered segmenter is the halfway
#: weight interpolation of the source segmenter and the adapted one (pre-registered in
#: benchmarks/results/weight-merge/PREREGISTRATION.md; outcome in OUTCOME.md there).
SAME_MODALITY_SOURCE_WEIGHT = 0.5
#: ``AdaptConfig.rounds = "auto"``: co-optimization rounds within one modality and across modalities
#: (pre-registered in benchmarks/results/rounds-8/: the rounds beyond 5 helped DRIVE -> OCTA-500 and
#: not the fundus pairs, which barely move after round 0).
SAME_MODALITY_ROUNDS = 5
CROSS_MODALITY_ROUNDS = 8


def _real(value) -> bool:
    """A real number, not a bool (True is an int to Python, never a rate or a fraction here)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


@dataclass(frozen=True)
class AdaptConfig:
    preset_name: str = "cpu"
    seed: int = 0
    # --- target generator (step 1) and its fine-tuning per round (step 4) ---
    gen_steps: int = 150
    gen_finetune_steps: int = 50
    gen_batch: int = 8
    gen_crop: int = 64
    gen_lr: float = 5e-4
    gen_model: str = "cpu"  # GeneratorConfig preset, used when target_init == "scratch"
    target_init: str = "source"  # "source": start from the source generator's weights; "scratch"
    cond_dropout: float = 0.2  # target generator: probability of training a sample without its mask
    # --- latent similarity mining / re-synthesis ---
    n_synthetic: int = 128
    t0: float = 0.3
    steps: int = 50  # DDIM steps over the whole schedule (t0 * steps of them are run)
    # target-side decoding: "ddim" (deterministic, the default) | "ddpm" (stochastic, as the paper's released
    # code and this project's default until session 3). Measured (benchmarks/results/*/, seed 0): DDPM's fresh
    # noise erased the source structure the inversion had kept (label-free probe on DRIVE -> CHASE_DB1 at
    # t0 0.3: structure Dice 0.044 DDPM vs 0.169 DDIM, unconditional; 0.414 vs 0.468 conditioned), and the
    # fundus pairs' round-0 segmenters collapsed with it.
    synth_mode: str = "ddim"
    # round 0: decode with the target generator conditioned on the SOURCE masks (True), or
    # unconditionally as in the paper (False, the default). The target generator starts from the
    # mask-conditioned source generator and is trained on target images with an empty mask channel,
    # so it keeps the source's mask pathway. Measured (benchmarks/results/*/): with source_share it
    # keeps DRIVE -> CHASE_DB1 / STARE from collapsing (seed 0) but made one of three OCTA-500 seeds
    # collapse; off by default, an option.
    lsm_masks: bool = False
    synth_batch: int = 32
    # the generators' inference (inversion, decoding, procedural source images) in channels-last memory
    # format, the same network up to rounding. On this CPU, DRIVE -> CHASE_DB1 seed 0 side by side with
    # the default: synthesis 0.84x, the whole adaptation 0.92x the time (STARE seed 0: 0.82x, 0.91x), Dice per
    # round within 0.003
    # (benchmarks/results/channels-last/OUTCOME.md). Off by default until all pairs are run with it; on an
    # H200 a synthesis forward took 1.38x as long (benchmarks/results/generator/gen_step_speed-cuda.md), so
    # it is a CPU option only.
    gen_channels_last: bool = False
    vessel_min: float = 0.02  # source crops hold at least this vessel fraction
    procedural_images: int = 8  # source masks drawn when the lab has no labelled source images
    procedural_size: int = 512  # px; the tree generator draws fundus-scale vessels at 512
    # --- segmenter (step 3) and its fine-tuning per round ---
    seg_steps: int = 300
    seg_finetune_steps: int = 150
    seg_batch: int = 8
    seg_crop: int = 64
    seg_lr: float = 1e-3
    seg_finetune_lr: float = 5e-4
    # appearance augmentation of the adaptation's segmenter training: "mild" (the trainer's default
    # flips, rotations and +-10 % intensity jitter; what every committed result before session 6 used) or
    # "strong" (+ vessel contrast scaled by U(0.5, 1.25), Gaussian blur sigma U(0, 1) px and noise sd
    # U(0, 0.3), see SEG_AUGMENT), so that the segmenter does not learn the synthetic images' vessel
    # contrast as the definition of a vessel.
    seg_augment: str = "strong"  # default since session 6 (benchmarks/results/seg-augment/)
    # share of the segmenter's training pairs that are the labelled SOURCE images themselves (with
    # their real masks), kept in every round so the segmenter does not forget what vessels are while
    # it learns from synthetic pairs whose images show their masks only in part (0, the default:
    # synthetic and pseudo-labelled pairs only, as the paper). Ignored with procedural sources.
    # "auto": SAME_MODALITY_SOURCE_SHARE when the source bundle's modality is the target project's
    # (a scanner change within one modality), 0 across modalities; resolved by ``resolve_auto``
    # when a job starts, and the resolved number is what the job and the manifest record.
    source_share: float | str = 0.0
    # share of each round's synthetic pairs left out before the segmenter trains: those whose image the
    # segmenter the round starts from (the source one in round 0) agrees least with their mask (Dice),
    # i.e. images that do not show the vessels of their label. 0: keep all (the default, the paper).
    synth_filter: float = 0.0
    # rounds >= 1 also train the segmenter on round 0's synthetic pairs (latent similarity mining's, which
    # the project keeps in round 0's ``synthetic/images.npy`` and ``masks.npy`` when this is on), beside the
    # round's own: the re-synthesised pairs of a generator fine-tuned on pseudo-labels are added to, not
    # swapped for, the pairs round 0's segmenter learned from. False: each round's own pairs only (the
    # paper, every committed headline). Measured (benchmarks/results/synth-replay/, plan first, seeds 0-2):
    # last round DRIVE -> CHASE_DB1 +0.0058 (every seed up), DRIVE -> STARE -0.0006; not adopted. Across
    # modalities it collapsed DRIVE -> OCTA-500 seed 0 from round 4 (round 8: 0.067 against 0.721).
    synth_replay: bool = False
    # weight of the source segmenter in the segmenter a round DELIVERS (what the project segments with,
    # its pseudo-label maps shown for review, ``segment --model PROJECT``): the delivered model is the
    # weight interpolation source_weight * source + (1 - source_weight) * adapted (WiSE-FT). The
    # co-optimization chain (the next round's starting segmenter, the pseudo-labels that condition the
    # generator and train the segmenter, the label-free signals) keeps the unmerged model, saved beside
    # it as ``segmenter-chain/`` with its maps in ``pseudo-chain/``. 0: deliver the adapted model as is.
    # "auto" (the default since session 8): SAME_MODALITY_SOURCE_WEIGHT within one modality, 0 across
    # modalities; resolved when a job starts, like source_share.
    source_weight: float | str = "auto"
    # BatchNorm statistics of each round's trained segmenter: "source" keeps those of its training
    # batches (synthetic, pseudo-labelled and source pairs; the paper, every committed result);
    # "target" re-estimates them on crops of the real target images right after training (AdaBN,
    # ``train.segmenter.reestimate_norm_statistics``; weights unchanged), before it pseudo-labels
    # and before any merge. Pre-registered for testing in benchmarks/results/adabn/NEXT-PLAN.md.
    seg_norm: str = "source"
    # with source_weight > 0: the merge is also the chain (it pseudo-labels the target images and the
    # next round fine-tunes it), so no segmenter-chain/ is kept. False: the chain stays unmerged.
    merge_chain: bool = False
    # --- co-optimization rounds ---
    # co-optimization rounds after round 0; the job stops earlier when stop_agreement is reached.
    # "auto": SAME_MODALITY_ROUNDS within one modality, CROSS_MODALITY_ROUNDS across (resolved when a
    # job starts and recorded as a number, like source_weight).
    rounds: int | str = 5
    # generator conditioning: "soft" probabilities | "hard" (p >= 0.5). Hard measured on DRIVE -> CHASE_DB1
    # seeds 0-2 (benchmarks/results/pseudo-hard/OUTCOME.md): last round +0.0039 Dice, under the plan's bar.
    pseudo_mode: str = "soft"
    pseudo_real: bool = True  # add confidently pseudo-labelled real target images to the segmenter data
    real_weight: float = 0.5  # loss weight of a pseudo-labelled real image
    confidence_margin: float = 0.3  # pixels with |p - 0.5| < margin are left out of the real pairs' loss
    # the co-optimization chain's pseudo-labels (what conditions the generator's fine-tuning, trains the
    # segmenter on real target images and feeds the label-free signals) are the probabilities averaged
    # over each target image and its three flips (``Segmenter.predict_prepared(mirror=True)``, 4x the
    # network passes of that stage, a few seconds a round on the cpu preset). The maps a round delivers
    # for review stay plain unless the chain is what is delivered (no merge). False: plain, as every
    # committed result before session 16. Measured (benchmarks/results/pseudo-mirror/OUTCOME.md, plan
    # first, 3 seeds per fundus pair): last-round Dice CHASE_DB1 -0.0003, STARE -0.0000; not adopted.
    pseudo_mirror: bool = False
    correction_weight: float = 3.0  # corrected masks: trusted labels (loss weight, generator oversampling)
    stop_agreement: float = 0.97  # stop when successive rounds' pseudo-labels agree this much (Dice)
    min_rounds: int = 1
    # a round that the label-free guard flags (collapse or flood of its pseudo-labels,
    # ``selection.round_warnings``) is run again this many times with another seed before it is kept
    # (then kept with its warning). 0: keep it and warn, as before (the default).
    guard_retries: int = 0
    # --- outputs ---
    n_preview: int = 4
    threads: int | None = None  # torch CPU threads (None: leave as set)

    def __post_init__(self):
        if self.preset_name not in PRESET_NAMES:
            raise ValueError(f"AdaptConfig: unknown preset {self.preset_name!r} (choose from {', '.join(PRESET_NAMES)})")
        # fractions are numbers (session 34: --set t0=abc was a TypeError traceback; stop_agreement took anything,
        # a word failing after round 1 had trained, NaN never stopping)
        for name in ("t0", "cond_dropout", "synth_filter", "stop_agreement"):
            value = getattr(self, name)
            if not _real(value) or math.isnan(value):
                raise ValueError(f"AdaptConfig: {name} must be a number, got {value!r}")
        if not 0.0 <= self.stop_agreement < math.inf:
            raise ValueError(f"AdaptConfig: stop_agreement must be a number >= 0 (above 1: never stop early), got "
                             f"{self.stop_agreement!r}")
        if not 0.0 < self.t0 <= 1.0:
            raise ValueError(f"AdaptConfig: t0 must be in (0, 1], got {self.t0}")
        if self.synth_mode not in ("ddpm", "ddim"):
            raise ValueError(f"AdaptConfig: synth_mode must be 'ddpm' or 'ddim', got {self.synth_mode!r}")
        if self.pseudo_mode not in ("soft", "hard"):
            raise ValueError(f"AdaptConfig: pseudo_mode must be 'soft' or 'hard', got {self.pseudo_mode!r}")
        if self.seg_augment not in SEG_AUGMENT:
            raise ValueError(f"AdaptConfig: seg_augment must be one of {', '.join(SEG_AUGMENT)}, got {self.seg_augment!r}")
        if self.target_init not in ("source", "scratch"):
            raise ValueError(f"AdaptConfig: target_init must be 'source' or 'scratch', got {self.target_init!r}")
        if not isinstance(self.lsm_masks, bool):
            raise ValueError(f"AdaptConfig: lsm_masks must be true or false, got {self.lsm_masks!r}")
        if self.source_share != "auto" and (isinstance(self.source_share, (str, bool))
                                             or not 0.0 <= self.source_share < 1.0):
            raise ValueError(f"AdaptConfig: source_share must be in [0, 1) or 'auto', got {self.source_share!r}")
        if self.source_weight != "auto" and (isinstance(self.source_weight, (str, bool))
                                              or not 0.0 <= self.source_weight < 1.0):
            raise ValueError(f"AdaptConfig: source_weight must be in [0, 1) or 'auto', got {self.source_weight!r}")
        if not isinstance(self.pseudo_mirror, bool):
            raise ValueError(f"AdaptConfig: pseudo_mirror must be true or false, got {self.pseudo_mirror!r}")
        if self.seg_norm not in ("source", "target"):
            raise ValueError(f"AdaptConfig: seg_norm must be 'source' or 'target', got {self.seg_norm!r}")
        if not isinstance(self.synth_replay, bool):
            raise ValueError(f"AdaptConfig: synth_replay must be true or false, got {self.synth_replay!r}")
        if not isinstance(self.merge_chain, bool):
            raise ValueError(f"AdaptConfig: merge_chain must be true or false, got {self.merge_chain!r}")
        if isinstance(self.synth_filter, (str, bool)) or not 0.0 <= self.synth_filter < 1.0:
            raise ValueError(f"AdaptConfig: synth_filter must be in [0, 1), got {self.synth_filter!r}")
        if not 0.0 <= self.cond_dropout <= 1.0:
            raise ValueError(f"AdaptConfig: cond_dropout must be in [0, 1], got {self.cond_dropout}")
        # counts are integers (session 33 API QA: gen_steps="10" or seed=1.5 ran and were recorded as given)
        for name, least in (("seed", None), ("gen_steps", 1), ("gen_finetune_steps", 0), ("gen_batch", 1),
                            ("gen_crop", 1), ("n_synthetic", 1), ("steps", 1), ("synth_batch", 1),
                            ("procedural_images", 1), ("procedural_size", 1), ("seg_steps", 1),
                            ("seg_finetune_steps", 0), ("seg_batch", 1), ("seg_crop", 1), ("min_rounds", 0),
                            ("n_preview", 0), ("threads", 1)):
            value = getattr(self, name)
            if name == "threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (least is not None
                                                                                    and value < least):
                need = "an integer" if least is None else f"an integer >= {least}"
                raise ValueError(f"AdaptConfig: {name} must be {need}, got {value!r}")
        # learning rates and loss weights: a negative one failed in the optimiser or trained backwards after
        # the stages before it had run (seg_lr=-1: after the generator's training and the synthesis)
        for name in ("gen_lr", "seg_lr", "seg_finetune_lr"):
            value = getattr(self, name)
            if not _real(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"AdaptConfig: {name} must be a positive number, got {value!r}")
        for name in ("real_weight", "correction_weight"):
            value = getattr(self, name)
            if not _real(value) or not math.isfinite(value) or value < 0:
                raise ValueError(f"AdaptConfig: {name} must be a number >= 0, got {value!r}")
        if self.rounds != "auto" and (isinstance(self.rounds, (str, bool, float)) or int(self.rounds) < 0):
            raise ValueError(f"AdaptConfig: rounds must be an integer >= 0 or 'auto', got {self.rounds!r}")
        if not _real(self.guard_retries) or int(self.guard_retries) != self.guard_retries or self.guard_retries < 0:
            raise ValueError(f"AdaptConfig: guard_retries must be an integer >= 0, got {self.guard_retries!r}")

    @classmethod
    def preset_values(cls, name: str) -> dict[str, Any]:
        presets: dict[str, dict[str, Any]] = {
            "tiny": dict(
                gen_steps=6, gen_finetune_steps=4, gen_batch=4, gen_crop=32, gen_model="tiny",
                n_synthetic=8, steps=10, synth_batch=8, procedural_images=2, procedural_size=96,
                seg_steps=6, seg_finetune_steps=4, seg_batch=2, seg_crop=32, rounds=2, n_preview=2,
            ),
            "cpu": dict(
                gen_steps=150, gen_finetune_steps=50, gen_batch=8, gen_crop=64, gen_lr=5e-4, gen_model="cpu",
                n_synthetic=128, steps=50, synth_batch=32, seg_steps=300, seg_finetune_steps=150,
                seg_batch=8, seg_crop=64, rounds="auto", procedural_size=512,
            ),
            "gpu": dict(
                gen_steps=1200, gen_finetune_steps=300, gen_batch=32, gen_crop=128, gen_lr=2e-4, gen_model="gpu",
                n_synthetic=1024, steps=50, synth_batch=64, seg_steps=3000, seg_finetune_steps=1000,
                seg_batch=32, seg_crop=128, rounds=2, procedural_images=16, procedural_size=512,
            ),
        }
        if name not in presets:
            raise ValueError(f"AdaptConfig: unknown preset {name!r} (choose from {', '.join(PRESET_NAMES)})")
        return presets[name]

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "AdaptConfig":
        """The named preset with ``overrides`` (field names of this class)."""
        check_fields(cls, overrides)
        return cls(preset_name=name, **{**cls.preset_values(name), **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AdaptConfig":
        check_fields(cls, d)
        return cls(**dict(d))

    def replace(self, **changes: Any) -> "AdaptConfig":
        return dataclasses.replace(self, **changes)

    def resolve_auto(self, source_modality: str, target_modality: str) -> "AdaptConfig":
        """This config with ``source_share`` / ``source_weight`` / ``rounds = "auto"`` replaced by their
        numbers for this pair of modalities (numbers are kept as they are)."""
        same = str(source_modality) == str(target_modality)
        changes: dict[str, float] = {}
        if self.source_share == "auto":
            changes["source_share"] = SAME_MODALITY_SOURCE_SHARE if same else 0.0
        if self.source_weight == "auto":
            changes["source_weight"] = SAME_MODALITY_SOURCE_WEIGHT if same else 0.0
        if self.rounds == "auto":
            changes["rounds"] = SAME_MODALITY_ROUNDS if same else CROSS_MODALITY_ROUNDS
        return self.replace(**changes) if changes else self

    def key(self) -> str:
        """A short hash of the config (for resume checks)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


#: AdaptConfig fields a project's rounds record that are not carried into the rounds a run adds:
#: ``rounds`` is how many this run adds (--rounds / the panel's Rounds, else the preset's), ``threads`` how
#: this machine runs them
NOT_CARRIED = ("preset_name", "rounds", "threads")


def recorded_config(project) -> dict[str, Any] | None:
    """The configuration the project's rounds were adapted with, for continuing it as one longer job would:
    ``{"round", "preset", "fields"}``, the latest round's recorded AdaptConfig as its preset and the fields
    that differ from that preset (what ``adapt``'s --seed, --t0, --steps, --count and --set gave; "auto"
    fields compared resolved for the recorded source's modality, as the job records them). ``adapt PROJECT``
    run again and the GUI's Adaptation panel both take it for what is not given (session 29: they used the
    defaults, cpu and seed 0, so a project started with ``--preset tiny`` got cpu rounds; the panel, whatever
    its form showed). A round the label-free guard re-ran records a derived seed and the job's as ``job_seed``
    (rounds recorded before session 29's last change: the latest round's that was not re-run). None for a project without rounds (or rounds that record no config)."""
    rounds = [r for r in project.rounds if r.config.get("preset_name")]
    if not rounds:
        return None
    config = dict(rounds[-1].config)
    if rounds[-1].job_seed is not None:  # re-run by the guard with a derived seed: the job's (session 29)
        config["seed"] = rounds[-1].job_seed
    else:  # rounds recorded before job_seed: the latest round's that the guard did not re-run
        kept = next((r for r in reversed(rounds) if not r.metrics.get("guard_retries")), None)
        if kept is not None and "seed" in kept.config:
            config["seed"] = kept.config["seed"]
    source_modality = (project.source or {}).get("modality") or "fundus"
    return config_record(config, rounds[-1].index, source_modality, project.modality)


def config_record(config: dict[str, Any], index: int, source_modality: str, modality: str) -> dict[str, Any]:
    """A recorded AdaptConfig (``to_dict()``, "auto" fields resolved) as ``recorded_config`` gives it: ``{"round",
    "preset", "fields"}``, its preset and the fields that differ from that preset's for these modalities."""
    name = str(config["preset_name"])
    preset = AdaptConfig.preset(name).resolve_auto(source_modality, modality).to_dict()
    names = {f.name for f in dataclasses.fields(AdaptConfig)} - set(NOT_CARRIED)  # a removed field is dropped
    return {"round": index, "preset": name,
            "fields": {k: v for k, v in config.items() if k in names and v != preset[k]}}


def recorded_config_items(recorded: dict[str, Any], given=frozenset()) -> list[str]:
    """``recorded_config``'s preset and fields as a line names them ("preset tiny", "seed 3", "t0 0.4"), the seed
    even when it is the default 0, less those in ``given`` (AdaptConfig field names an option set; the preset is
    ``preset_name``): what the command's and the Adaptation panel's "continuing with the project's configuration"
    say."""
    taken = [] if "preset_name" in given else [f"preset {recorded['preset']}"]
    return taken + [f"{k} {v}" for k, v in {"seed": 0, **recorded["fields"]}.items() if k not in given]
