import pytest

from vessel_studio import events


def _job(n):
    for i in range(n):
        yield events.Progress("count", i + 1, n)
    yield events.Metric("count", "total", float(n))
    return n * 10


def test_run_returns_result_and_forwards_events():
    seen = []
    assert events.run(_job(3), seen.append) == 30
    assert [e.step for e in seen if isinstance(e, events.Progress)] == [1, 2, 3]
    assert isinstance(seen[-1], events.Metric) and seen[-1].value == 3.0


def test_collect_and_iterate():
    result, evs = events.collect(events.iterate([_job(1), _job(2)]))
    assert result == [10, 20]
    assert len(evs) == 5


def test_closing_a_job_runs_its_cleanup():
    cleaned = []

    def job():
        try:
            for i in range(100):
                yield events.Progress("x", i, 100)
        finally:
            cleaned.append(True)

    g = job()
    next(g)
    next(g)
    g.close()
    assert cleaned == [True]


def test_events_are_frozen():
    p = events.Progress("a", 1, 2)
    with pytest.raises(Exception):
        p.step = 3  # type: ignore[misc]


def test_progress_bar_draws_without_error(capsys):
    cb = events.progress_bar()
    events.run(_job(4), cb)
    cb.close()
    assert "4/4" in capsys.readouterr().err


def test_progress_bar_says_when_the_guard_runs_a_round_again(capsys):
    """Session 40 QA: ``adapt`` with guard_retries ran a flagged round again with only a "retry=1" postfix on its bars
    (which then started over); the terminal now says what happens on a line of its own."""
    cb = events.progress_bar()
    cb(events.Progress("segmenter", 6, 6, round=0))
    cb(events.Metric("guard", "retry", 1.0, round=0))
    cb.close()
    out = capsys.readouterr()
    assert ("round 0 was flagged by the label-free guard (collapse or flood of its pseudo-labels): running it again "
            "with another seed (re-run 1)") in out.out + out.err


@pytest.mark.parametrize("error", [RuntimeError("a bug in the callback"), KeyboardInterrupt()])
def test_run_closes_the_job_when_the_consumer_raises(error):
    """An exception in ``on_event`` (or Ctrl-C while it draws) cancels the job at once, as a
    consumer's close() does, instead of leaving it paused with its lock and half-done state."""
    state = []

    def job():
        state.append("started")
        try:
            for i in range(100):
                yield events.Progress("x", i + 1, 100)
        except GeneratorExit:
            state.append("cancelled")
            raise
        finally:
            state.append("cleaned")
        return 1

    g = job()

    def on_event(event):
        if event.step == 3:
            raise error

    with pytest.raises(type(error)):
        events.run(g, on_event)
    assert state == ["started", "cancelled", "cleaned"]
    assert g.gi_frame is None  # finished: nothing holds on
