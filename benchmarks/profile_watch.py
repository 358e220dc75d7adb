"""Profile the watcher's acting looks (``Studio._outside_changed``, everything it runs on the GUI thread) in
``benchmarks/gui_watch.py``'s real window: cProfile on while it acts, off otherwise; prints the 45 costliest
functions by cumulative time. Arguments are gui_watch.py's. Session 31 used it to find what to make cheaper:

    xvfb-run -a .venv/bin/python benchmarks/profile_watch.py --work scratch/s31/watch-prof --repeats 5
    xvfb-run -a .venv/bin/python benchmarks/profile_watch.py --work scratch/s31/watch-hires-prof --images 8 \\
        --rounds 2 --repeats 3 --idle-looks 20 --scale 13

(results: ``benchmarks/results/gui/README.md``, "Session 31"; a profile slows what it times).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    from vessel_studio.gui import studio_watch

    import gui_watch

    prof = cProfile.Profile()
    real = studio_watch.WatchMixin._outside_changed

    def profiled(self, *a, **k):
        prof.enable()
        try:
            return real(self, *a, **k)
        finally:
            prof.disable()

    studio_watch.WatchMixin._outside_changed = profiled
    rc = gui_watch.main(sys.argv[1:] if argv is None else argv)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(45)
    print(out.getvalue())
    return rc


if __name__ == "__main__":
    sys.exit(main())
