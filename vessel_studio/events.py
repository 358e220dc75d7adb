"""Event records that long jobs yield.

Every long job (training, inversion, synthesis, a co-optimization round) is a plain generator
that yields these small frozen records and *returns* its result. The CLI draws a tqdm bar from
them; the GUI hands the same generator to a napari/superqt thread worker. A consumer cancels a
job by simply stopping iteration and calling ``close()`` on the generator: the job sees
``GeneratorExit`` at its current ``yield`` and must leave saved state as it was before it began.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterable, TypeVar

import numpy as np

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` done in ``stage`` (e.g. "train-segmenter", "invert", "synthesize")."""

    stage: str
    step: int
    total: int
    message: str = ""
    round: int | None = None


@dataclass(frozen=True)
class Metric:
    """A scalar worth showing or logging (loss, label-free agreement, PSNR ...)."""

    stage: str
    name: str
    value: float
    step: int | None = None
    round: int | None = None


@dataclass(frozen=True)
class Artifact:
    """A file or folder the job wrote (a checkpoint, a pseudo-label, a montage)."""

    stage: str
    kind: str
    path: str
    round: int | None = None


@dataclass(frozen=True)
class Preview:
    """A small uint8 thumbnail (at most about 128x128) for live display; never full arrays."""

    stage: str
    caption: str
    image: np.ndarray = field(repr=False)
    round: int | None = None


Event = Progress | Metric | Artifact | Preview
Job = Generator[Event, None, R]


def run(job: Job[R], on_event: Callable[[Event], Any] | None = None) -> R:
    """Drive a job to completion, passing each event to ``on_event``; return its result.

    When ``on_event`` raises (or Ctrl-C / a notebook's interrupt lands while it runs), the job is
    closed before the exception goes on: it is cancelled as a consumer cancels it, and leaves saved
    state as it was, instead of sitting paused (an adaptation would keep its project's job lock and
    the rounds it committed until the generator is garbage-collected)."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            try:
                on_event(event)
            except BaseException:
                job.close()
                raise


def collect(job: Job[R]) -> tuple[R, list[Event]]:
    """Run a job and return ``(result, events)`` (handy in tests)."""
    events: list[Event] = []
    result = run(job, events.append)
    return result, events


def forward(job: Job[R]) -> Generator[Event, None, R]:
    """``result = yield from forward(sub_job)``: a readable alias for ``yield from``."""
    return (yield from job)


def progress_bar(desc: str | None = None):
    """An ``on_event`` callback for the CLI that draws tqdm bars per stage."""
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}

    def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            key = f"{event.stage}/{event.round}"
            bar = bars.get(key)
            if bar is None or bar.total != event.total:
                if bar is not None:
                    bar.close()
                label = event.stage if event.round is None else f"{event.stage} r{event.round}"
                bar = bars[key] = tqdm(total=event.total, desc=desc or label, leave=True)
            bar.n = event.step
            if event.message:
                bar.set_postfix_str(event.message, refresh=False)
            bar.refresh()
        elif isinstance(event, Metric) and event.stage == "guard" and event.name == "retry":
            # a round the label-free guard flagged runs again (adaptation.job, cfg.guard_retries): its bars start
            # over, so say why on a line of its own (session 40 QA: only a "retry=1" postfix said it)
            tqdm.write(f"round {event.round} was flagged by the label-free guard (collapse or flood of its "
                       f"pseudo-labels): running it again with another seed (re-run {int(event.value)})")
        elif isinstance(event, Metric):
            for bar in bars.values():
                bar.set_postfix({event.name: f"{event.value:.4g}"}, refresh=False)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    on_event.close = close  # type: ignore[attr-defined]
    return on_event


def iterate(jobs: Iterable[Job[Any]]) -> Generator[Event, None, list[Any]]:
    """Run several jobs one after the other, forwarding their events; return their results."""
    results = []
    for job in jobs:
        results.append((yield from job))
    return results
