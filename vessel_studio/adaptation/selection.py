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

``should_stop`` stops when the agreement reaches ``cfg.stop_agreement`` after ``cfg.min_rounds``
co-optimization rounds. The adapted model is the last committed round (no selection among rounds
by any score that needs labels).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

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


def round_signals(
    probs: Sequence[np.ndarray],
    fovs: Sequence[np.ndarray | None],
    previous: Sequence[np.ndarray] | None = None,
) -> dict[str, float]:
    """Mean label-free signals over the target images of one round."""
    if len(probs) != len(fovs):
        raise ValueError(f"round_signals: {len(probs)} probability maps but {len(fovs)} FOVs")
    stats = [confidence_stats(p, f) for p, f in zip(probs, fovs)]
    out = {k: float(np.mean([s[k] for s in stats])) for k in ("confidence", "entropy", "vessel_fraction")}
    if previous is not None:
        if len(previous) != len(probs):
            raise ValueError("round_signals: previous round has a different number of images")
        out["agreement"] = float(np.mean([dice_agreement(a, b, f) for a, b, f in zip(probs, previous, fovs)]))
    return out


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
                                                             "vessel_fraction", "generator_loss",
                                                             "segmenter_loss")) -> str:
    """A small Markdown table of label-free signals per round."""
    rows = list(rounds)
    head = "| round | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n"
    body = ""
    for i, r in enumerate(rows):
        vals = [("" if r.get(k) is None else f"{float(r[k]):.4f}") for k in keys]
        body += f"| {r.get('round', i)} | " + " | ".join(vals) + " |\n"
    return head + body
