"""Label-free round signals and the stopping rule.

The paper's released code picks its checkpoint by Dice on target *test* labels; a lab has no such
labels and this project forbids it (``../shared/BENCHMARK.md``). Rounds are judged here only from
what a lab has after each round:

- ``agreement``: Dice between this round's and the previous round's thresholded pseudo-labels
  (mean over images, inside the FOV). Round 0 is compared with the source segmenter's
  predictions. High agreement = the co-optimization has settled.
- ``confidence``: mean of ``max(p, 1 - p)`` inside the FOV; ``entropy``: mean binary entropy (bits).
- ``vessel_fraction``: share of FOV pixels with ``p >= 0.5`` (a collapse to 0 or a flood to 1 is
  visible here without any label).
- ``generator_loss`` / ``segmenter_loss``: mean of the last training losses of the round.

- ``fragmentation``: 8-connected components of the thresholded pseudo-labels per 1000 skeleton
  pixels, pooled over the images (objects under ``MIN_OBJECT`` px dropped). A vessel tree is
  connected: a prediction that breaks into more pieces per unit of vessel length is less plausible.

``should_stop`` stops when the agreement reaches ``cfg.stop_agreement`` after ``cfg.min_rounds``
co-optimization rounds. ``select_round`` picks, among the committed rounds, the one with the lowest
fragmentation: a label-free choice of the adapted model (``benchmarks/results/selection/`` holds
the rule's pre-registration and its validation). No score that needs labels is used.

``round_warnings`` is the label-free guard: it flags a round whose pseudo-labels have collapsed
(almost no vessel left, measured against what the *source* segmenter marks on the same target
images, ``source_vessel_fraction`` of round 0) or flooded (a large share of the field of view
marked as vessel, or several times what the source segmenter marks there or what vessels cover in
the source masks, ``source_mask_fraction`` of round 0, whichever is larger). Such rounds are what failed adaptations looked like in the benchmark runs
(``benchmarks/results/``); the guard warns (CLI, log, report, GUI) and never reads a label.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from vessel_studio.measures import MIN_OBJECT, small_pieces

EPS = 1e-7


def dice_agreement(a: np.ndarray, b: np.ndarray, fov: np.ndarray | None = None, *, threshold: float = 0.5) -> float:
    """Dice between two probability maps thresholded at ``threshold`` (1.0 when both are empty)."""
    a = np.asarray(a) >= threshold
    b = np.asarray(b) >= threshold
    if a.shape != b.shape:
        raise ValueError(f"dice_agreement: shapes differ {a.shape} vs {b.shape}")
    if fov is not None:
        fov = np.asarray(fov, bool)
        a, b = a & fov, b & fov
    s = int(a.sum()) + int(b.sum())
    if s == 0:
        return 1.0
    return 2.0 * int((a & b).sum()) / s


def confidence_stats(prob: np.ndarray, fov: np.ndarray | None = None, *, threshold: float = 0.5) -> dict[str, float]:
    """``confidence``, ``entropy`` (bits) and ``vessel_fraction`` of one probability map."""
    p = np.asarray(prob, np.float64)
    if fov is not None:
        p = p[np.asarray(fov, bool)]
    p = p.ravel()
    if p.size == 0:
        return {"confidence": float("nan"), "entropy": float("nan"), "vessel_fraction": float("nan")}
    q = np.clip(p, EPS, 1 - EPS)
    ent = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    return {
        "confidence": float(np.maximum(p, 1 - p).mean()),
        "entropy": float(ent.mean()),
        "vessel_fraction": float((p >= threshold).mean()),
    }


def fragment_counts(prob: np.ndarray, fov: np.ndarray | None = None, *, threshold: float = 0.5,
                    min_object: int = MIN_OBJECT) -> tuple[int, int]:
    """(connected components, skeleton pixels) of one thresholded probability map inside ``fov``;
    components under ``min_object`` px (:data:`vessel_studio.measures.MIN_OBJECT`, original resolution)
    are left out."""
    from skimage.morphology import skeletonize

    b = np.asarray(prob) >= threshold
    if fov is not None:
        b &= np.asarray(fov, bool)
    small, n_small, n = small_pieces(b, min_object)
    if n:
        b &= ~small
        n -= n_small
    return n, int(skeletonize(b).sum())


def fragmentation(probs: Sequence[np.ndarray], fovs: Sequence[np.ndarray | None] | None = None, *,
                  threshold: float = 0.5) -> float:
    """Components per 1000 skeleton pixels, pooled over the images (NaN when nothing is marked)."""
    fovs = [None] * len(probs) if fovs is None else fovs
    counts = [fragment_counts(p, f, threshold=threshold) for p, f in zip(probs, fovs)]
    length = sum(c[1] for c in counts)
    return float(1000.0 * sum(c[0] for c in counts) / length) if length else float("nan")


def select_round(history: Sequence[Mapping[str, float]]) -> int | None:
    """The round (``round`` key, else position) with the lowest ``fragmentation``; ties go to the
    later round; None when no round has a finite fragmentation."""
    best, best_f = None, None
    for i, h in enumerate(history):
        f = h.get("fragmentation")
        if f is None or not np.isfinite(f):
            continue
        if best_f is None or f <= best_f:
            best, best_f = int(h.get("round", i)), float(f)
    return best


def review_pick(history: Sequence[Mapping[str, float]]) -> tuple[int | None, list[int]]:
    """The label-free hint for a reviewer: the least fragmented round among those the guard
    (:func:`history_warnings`) does not flag (None if none), and the flagged rounds left out.
    ``select_round`` itself (the benchmarks' pre-registered row) is unchanged; the hint only never
    points at a collapsed or flooded round."""
    flagged = sorted(k for k, ws in history_warnings(history).items() if ws)
    ok = [h for i, h in enumerate(history) if int(h.get("round", i)) not in flagged]
    return select_round(ok), flagged


def prune_keep(rounds) -> list[int]:
    """The rounds that ``rounds --prune`` and the Adaptation panel's "Free disk…" keep whole besides the
    latest (and any asked for): the label-free hint's (:func:`review_pick`), when there is one.
    ``rounds``: the project's round records."""
    pick = review_pick(round_rows(rounds))[0]
    return [] if pick is None else [pick]


def review_hint(history: Sequence[Mapping[str, float]]) -> str | None:
    """:func:`review_pick` as one line, or None."""
    pick, flagged = review_pick(history)
    if pick is None:
        return None
    skipped = f"; flagged by the guard, left out: round(s) {', '.join(map(str, flagged))}" if flagged else ""
    return f"least fragmented pseudo-labels: round {pick}{skipped}"


class SignalAccumulator:
    """:func:`round_signals` one image at a time, so that a round need not hold every image's
    full-resolution map at once (a 15-megapixel map is 58 MB): ``add`` each image's map, FOV and
    (optionally) previous map, then ``result()``. The per-image numbers and their means are computed
    exactly as ``round_signals`` does (it is this class), so the signals are the same bit for bit."""

    def __init__(self) -> None:
        self.stats: list[dict[str, float]] = []
        self.counts: list[tuple[int, int]] = []
        self.agreements: list[float] = []

    def add(self, prob: np.ndarray, fov: np.ndarray | None = None, previous: np.ndarray | None = None) -> None:
        self.stats.append(confidence_stats(prob, fov))
        self.counts.append(fragment_counts(prob, fov))
        if previous is not None:
            self.agreements.append(dice_agreement(prob, previous, fov))

    def result(self) -> dict[str, float]:
        if self.agreements and len(self.agreements) != len(self.stats):
            raise ValueError("round_signals: previous round has a different number of images")
        out = {k: float(np.mean([s[k] for s in self.stats])) for k in ("confidence", "entropy", "vessel_fraction")}
        length = sum(c[1] for c in self.counts)
        out["fragmentation"] = float(1000.0 * sum(c[0] for c in self.counts) / length) if length else float("nan")
        if self.agreements:
            out["agreement"] = float(np.mean(self.agreements))
        return out


def round_signals(
    probs: Sequence[np.ndarray],
    fovs: Sequence[np.ndarray | None],
    previous: Sequence[np.ndarray] | None = None,
) -> dict[str, float]:
    """Mean label-free signals over the target images of one round (fragmentation pooled);
    :class:`SignalAccumulator` computes the same one image at a time."""
    if len(probs) != len(fovs):
        raise ValueError(f"round_signals: {len(probs)} probability maps but {len(fovs)} FOVs")
    if previous is not None and len(previous) != len(probs):
        raise ValueError("round_signals: previous round has a different number of images")
    acc = SignalAccumulator()
    for i, (p, f) in enumerate(zip(probs, fovs)):
        acc.add(p, f, None if previous is None else previous[i])
    return acc.result()


def should_stop(history: Sequence[Mapping[str, float]], *, stop_agreement: float, min_rounds: int = 1) -> tuple[bool, str]:
    """Stop after co-optimization round ``len(history) - 1`` (history[0] is round 0)?

    Returns ``(stop, reason)``. Only label-free signals are used.
    """
    if not history:
        return False, ""
    last = history[-1]
    done = len(history) - 1  # co-optimization rounds completed
    agreement = last.get("agreement")
    if done >= max(1, min_rounds) and agreement is not None and agreement >= stop_agreement:
        return True, (f"pseudo-labels agree {agreement:.3f} >= {stop_agreement:.3f} with the previous round "
                      f"(label-free stopping rule)")
    return False, ""


def summarize(rounds: Iterable[Mapping[str, float]], keys=("agreement", "confidence", "entropy",
                                                             "vessel_fraction", "fragmentation",
                                                             "generator_loss", "segmenter_loss")) -> str:
    """A small Markdown table of label-free signals per round. A signal not recorded is left blank; one that is
    not defined for the round (``fragmentation`` of pseudo-labels without a vessel pixel: nothing to count
    components along) shows "–", and a line under the table says so (it printed "nan" before session 42)."""
    rows = list(rounds)
    head = "| round | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n"
    body = ""
    undefined: set[str] = set()

    def cell(key: str, v) -> str:
        if v is None:
            return ""
        if not np.isfinite(float(v)):
            undefined.add(key)
            return "–"
        return f"{float(v):.4f}"

    for i, r in enumerate(rows):
        body += f"| {r.get('round', i)} | " + " | ".join(cell(k, r.get(k)) for k in keys) + " |\n"
    if undefined:
        why = {"fragmentation": "fragmentation: the round's pseudo-labels mark no vessel pixel, so there is no skeleton "
                                "to count components along"}
        body += "\n–: not defined for that round (" + "; ".join(
            why.get(k, f"{k}: not a finite number") for k in keys if k in undefined) + ")\n"
    return head + body


#: a round whose pseudo-labels mark at most this share of the vessel pixels that the source
#: segmenter marks on the same target images is flagged as collapsed
COLLAPSE_RATIO = 0.25
#: with no source reference (projects adapted before it was recorded): an absolute floor
COLLAPSE_FRACTION = 0.005
#: a round marking more than this share of the FOV as vessel is flagged as flooded (retinal
#: vessels cover roughly a tenth of a fundus FOV; OCT-A large vessels about as much)
FLOOD_FRACTION = 0.35
#: ... or more than this multiple of the source segmenter's vessel fraction
FLOOD_RATIO = 4.0


def round_warnings(signals: Mapping[str, float], *, reference: float | None = None,
                   source_masks: float | None = None, maps: str = "the pseudo-labels") -> list[str]:
    """Label-free warnings for one round's signals (``round_signals`` output or a round's metrics).

    ``reference`` is the source segmenter's mean vessel fraction on the same target images (round
    0's ``source_vessel_fraction``); without it only the absolute bounds apply. ``source_masks``
    is the vessel fraction of the source's own masks (round 0's ``source_mask_fraction``): the
    flood ratio is taken against the larger of the two, so that a source segmenter that misses
    most of the target's vessels (the bundled fundus model marks 1.4 % of OCT-A fields of view)
    does not make every plausible round a "flood" (``benchmarks/results/gui/lab-run-drive-octa500.md``).
    The collapse bound stays relative to the source segmenter alone. ``maps``: the maps ``vessel_fraction`` is of, as
    the warnings name them.
    """
    out: list[str] = []
    vf = signals.get("vessel_fraction")
    if vf is None or not np.isfinite(vf):
        return out
    ref = _positive(reference)
    prior = _positive(source_masks)
    if ref is not None and vf <= COLLAPSE_RATIO * ref:
        out.append(f"collapse: {maps} mark {vf:.1%} of the FOV as vessel, at most "
                   f"{COLLAPSE_RATIO:.0%} of what the source segmenter marks ({ref:.1%})")
    elif ref is None and vf < COLLAPSE_FRACTION:
        out.append(f"collapse: {maps} mark {vf:.2%} of the FOV as vessel")
    flood_ref = max(x for x in (ref, prior, 0.0) if x is not None)
    if vf > FLOOD_FRACTION:
        out.append(f"flood: {maps} mark {vf:.1%} of the FOV as vessel (more than {FLOOD_FRACTION:.0%})")
    elif flood_ref > 0 and vf > FLOOD_RATIO * flood_ref:
        what = (f"what the source segmenter marks ({ref:.1%})" if prior is None or (ref is not None and ref >= prior)
                else f"the vessel share of the source masks ({prior:.1%}; the source segmenter marks "
                     + (f"{ref:.1%})" if ref is not None else "nothing recorded)"))
        out.append(f"flood: {maps} mark {vf:.1%} of the FOV as vessel, more than {FLOOD_RATIO:g}x {what}")
    return out


def _positive(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) or x <= 0 else float(x)


def round_rows(rounds) -> list[dict]:
    """``{"round": index, **metrics}`` per committed round (``store.RoundRecord``s), the rows that
    ``summarize`` and ``history_warnings`` take."""
    return [{"round": r.index, **(r.metrics or {})} for r in rounds]


def report_round_rows(rounds: Sequence[Mapping]) -> list[dict]:
    """The same rows from a benchmark report's per-seed ``adapted["rounds"]`` entries (each with
    ``round`` and ``label_free``), as written by ``adaptation.benchmark``."""
    return [{"round": r["round"], **r["label_free"]} for r in rounds]


def history_warnings(history: Sequence[Mapping[str, float]]) -> dict[int, list[str]]:
    """``round_warnings`` of every round in ``history`` (dicts with ``round`` or in order), with the
    references taken from the first round that recorded them (``source_vessel_fraction``,
    ``source_mask_fraction``: round 0; rounds recorded before session 23 have no
    ``source_mask_fraction`` and keep the flood ratio against the source segmenter alone)."""
    ref, prior = _references(history)
    return {int(h.get("round", i)): round_warnings(h, reference=ref, source_masks=prior)
            for i, h in enumerate(history)}


def _references(history: Sequence[Mapping[str, float]]) -> tuple[float | None, float | None]:
    """The guard's references: the first recorded ``source_vessel_fraction`` and ``source_mask_fraction``."""
    def first(key):
        return next((float(h[key]) for h in history if h.get(key) is not None), None)

    return first("source_vessel_fraction"), first("source_mask_fraction")


#: how :func:`shown_warnings` names a round's delivered maps
DELIVERED = "the delivered maps (what Review, export and segment use)"


def shown_warnings(history: Sequence[Mapping[str, float]]) -> dict[int, list[str]]:
    """The guard's warnings as a person is shown them (the Adaptation panel, ``vessel-studio rounds``, ``export.json``):
    :func:`history_warnings` of the chain's pseudo-labels, and the same bounds on the maps a round delivers
    (``delivered_vessel_fraction``: the merge with the source segmenter, ``AdaptConfig.source_weight``), which
    Review, export and ``segment`` use. Session 40 QA: a tiny run's round delivered maps marking nothing (no pixel
    at p >= 0.5 in either image) while its chain's maps marked about 5 % of each image, and the guard said nothing.
    The job's re-runs (``guard_retries``) and the benchmark's label-free round choice still read
    :func:`history_warnings` alone."""
    ref, prior = _references(history)
    out = history_warnings(history)
    for i, h in enumerate(history):
        dvf = h.get("delivered_vessel_fraction")
        if dvf is None:
            continue
        index = int(h.get("round", i))
        out[index] = out.get(index, []) + round_warnings({"vessel_fraction": float(dvf)}, reference=ref,
                                                         source_masks=prior, maps=DELIVERED)
    return out


#: how the window marks a round the guard flags: "Keep rounds up to" and Review's Show / Compare with ("round 3 (flagged
#: by the guard)")
FLAGGED_MARK = " (flagged by the guard)"


def flagged_rounds(rounds) -> dict[int, list[str]]:
    """The committed rounds (``store.RoundRecord``s) that :func:`shown_warnings` flags, with their warnings."""
    return {k: ws for k, ws in shown_warnings(round_rows(rounds)).items() if ws}


def flag_kinds(warnings: Sequence[str]) -> str:
    """What a round's warnings are of, once each: "collapse", "collapse and flood"."""
    return " and ".join(dict.fromkeys(w.split(":")[0] for w in warnings))


def guard_reruns(rounds) -> list[str]:
    """What the round records say of the guard's re-runs (``AdaptConfig.guard_retries``), one line per round run
    again: how many times (``metrics["guard_retries"]``), and the seed of the run kept (``seed``) with the job's
    (``job_seed``, recorded since session 29). Re-runs stop at the first run the guard does not flag, so the run kept is
    the last; a round still flagged then is kept with its warning (:func:`flagged_rounds`). What the runs before it
    were flagged for is not in the record (the project's ``log.jsonl`` has it: "round flagged by the label-free
    guard; running it again with another seed"). ``vessel-studio rounds`` and the Adaptation panel print these."""
    out = []
    for r in rounds:
        n = (r.metrics or {}).get("guard_retries")
        if not isinstance(n, (int, float)) or not n >= 1:  # not run again (0.0), not recorded, NaN
            continue
        n = int(n)
        runs = ("its first run was" if n == 1 else f"its first {n} runs were") + " flagged by the label-free guard"
        again = "with another seed" if n == 1 else f"{n} times with other seeds"
        seeds = "" if r.seed is None else f", seed {r.seed}"
        if seeds and r.job_seed is not None:
            seeds += f"; the job's seed {r.job_seed}"
        out.append(f"round {r.index}: {runs}, which ran it again {again} (re-run {n} kept{seeds})")
    return out
