"""``vessel-studio benchmark PAIR``: the adaptation benchmark protocol (../shared/BENCHMARK.md).

Runs source-only, oracle, Frangi + Otsu, histogram-matched source and the adapted model after
each round, per seed, scores them on the target's test split and writes ``results.json`` and
``results.md`` (and, with ``--save-segmenter``, the first seed's adapted segmenter in half
precision) into ``--out``. Parts are cached under ``--work`` so an interrupted run resumes; each
part's options are recorded beside its cache (``settings/PART.json``) and a run with other options is
refused while it is there. Bad options are refused before any work (``benchmark.check_spec``), and
an ``--out`` holding the report of another pair or preset is left alone.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pair", choices=["drive-octa500", "drive-chase", "drive-stare"], help="source -> target pair")
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default="cpu",
                   help="size of the training and adaptation (default %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="run the protocol once per seed; the report gives the mean and sd over them (default 0 1 2)")
    p.add_argument("--data", default=None, help="datasets root (default: ../shared/data or $VESSEL_STUDIO_DATA)")
    p.add_argument("--out", default=None,
                   help="results folder (default: WORK/PAIR/report, so that a run never overwrites the committed "
                        "results in benchmarks/results/PAIR: name that folder to write there)")
    p.add_argument("--work", default="scratch/benchmark",
                   help="cache of models and projects (not committed); a part cached there with other options "
                        "(preset, --seg-steps, --set, source generator) is refused, not reported under these")
    p.add_argument("--parts", nargs="+", default=None,
                   choices=["source-generator", "source-only", "oracle", "frangi", "histmatch", "adabn", "adapted"],
                   help="run only these parts (the report includes whatever is cached); 'source-generator' only "
                        "trains the source generator of --source-generator train (the adapted part trains it when "
                        "missing)")
    p.add_argument("--seg-steps", type=int, default=None, help="steps of the baseline segmenters (default: preset)")
    p.add_argument("--source-generator", default="fundus-generator",
                   help="source generator folder/name, or 'train' to train one on the source split only")
    p.add_argument("--source-generator-steps", type=int, default=None,
                   help="with --source-generator train: its training steps (default: the preset's gen_steps)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="AdaptConfig overrides, e.g. --set gen_steps=500 rounds=2")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    p.add_argument("--note", action="append", default=[], help="a note written into the report; repeatable")
    p.add_argument("--save-segmenter", action="store_true",
                   help="save the first seed's adapted segmenter (fp16) under OUT/segmenter")
    p.add_argument("--report-only", action="store_true", help="assemble the report from cached parts")


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from vessel_studio.adaptation.benchmark import (PARTS, BenchmarkSpec, check_report_folder, peak_memory,
                                                    run_benchmark, summarize, write_report)

    given = args.data or os.environ.get("VESSEL_STUDIO_DATA")
    data = Path(given or Path(__file__).resolve().parents[2].parent / "shared" / "data")
    if not data.is_dir():  # the default is a checkout's: an installed package's names a folder in its Python
        default = "" if given else " (the default, ../shared/data beside a checkout of the repository)"
        raise ValueError(f"{data}: datasets folder not found{default}; pass --data DIR or set VESSEL_STUDIO_DATA")
    out = Path(args.out) if args.out else Path(args.work) / args.pair / "report"
    if args.out:
        from vessel_studio.io.folders import check_writable

        check_writable(args.out)  # the report is written at the end, hours later
    check_report_folder(out, args.pair, args.preset)
    from vessel_studio.commands.checks import parse_set

    overrides = parse_set(args.set)  # seed, threads and preset_name: check_spec says which option chooses them
    spec = BenchmarkSpec(pair=args.pair, data=data, work=Path(args.work), preset=args.preset,
                         seg_steps=args.seg_steps, adapt_overrides=overrides,
                         source_generator=args.source_generator,
                         source_generator_steps=args.source_generator_steps, threads=args.threads,
                         score_only=bool(args.report_only))
    parts = args.parts or list(PARTS)
    if args.report_only:
        parts = [p for p in PARTS if any((Path(args.work) / args.pair / f"seed-{s}" / "scores" / f"{p}.json").is_file()
                                         or (p == "adapted" and (Path(args.work) / args.pair / f"seed-{s}" / "project" / "project.json").is_file())
                                         for s in args.seeds)]
    results = run_benchmark(spec, args.seeds, parts)
    given = getattr(args, "_argv", None)  # cli.main's argv: benchmarks/adaptation.py's sys.argv has no "benchmark"
    if given is not None and "benchmark" in given:
        argv = list(given)[list(given).index("benchmark") + 1:]
    else:
        argv = sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "benchmark" else [args.pair]
    shown, skip = [], False
    for a in argv:  # the notes are written into the report anyway
        if skip:
            skip = False
        elif a == "--note":
            skip = True
        else:
            shown.append(a)
    command = "vessel-studio benchmark " + " ".join(shlex.quote(a) for a in shown)
    import json

    work = Path(args.work) / args.pair  # run_benchmark's cache: WORK/PAIR
    timings = {}
    first = work / f"seed-{args.seeds[0]}"
    for name in ("timings.json", "source-generator-timing.json"):
        if (first / name).is_file():
            t = json.loads((first / name).read_text())
            timings.update({"source-generator": t["seconds"]} if name.startswith("source") else t)
    summary = summarize(args.pair, results, command=command, spec=spec, notes=args.note, timings=timings,
                        memory=peak_memory(work, args.seeds))
    seg = None
    if args.save_segmenter:
        first = results[str(args.seeds[0])].get("adapted")
        if first and first["rounds"]:
            seg = work / f"seed-{args.seeds[0]}" / "project" / "rounds" / f"round-{first['rounds'][-1]['round']:03d}" / "segmenter"
        else:  # said: the report was written without it and nothing told (session 34 QA)
            print(f"warning: --save-segmenter: seed {args.seeds[0]} has no adapted round in {work}; no segmenter "
                  "saved with the report", file=sys.stderr)
    paths = write_report(summary, out, adapted_segmenter=seg)
    from vessel_studio.adaptation.benchmark import markdown

    print(markdown(summary))
    for p in paths:
        print(f"wrote {p}")
    return 0
