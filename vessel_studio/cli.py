"""Command line: ``vessel-studio <subcommand> ...``; with no arguments it opens the GUI.

Each subcommand lives in its own module ``vessel_studio.commands.<name>`` exposing
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only when their
subcommand runs, so ``vessel-studio --help`` stays fast and the core never imports Qt.
"""

from __future__ import annotations

import argparse
import codecs
import errno
import importlib
import os
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("gui", "open the Vessel Studio window (the default with no arguments)"),
    "segment": ("segment", "segment images with a model or an adapted project"),
    "evaluate": ("evaluate", "score predicted masks against manual labels"),
    "train-segmenter": ("train_segmenter", "train a vessel segmenter on labelled images"),
    "train-generator": ("train_generator", "train a (mask-conditioned) diffusion generator"),
    "translate": ("translate", "latent similarity mining: source images + masks -> synthetic target pairs"),
    "check-inversion": ("check_inversion", "invert and reconstruct with one generator; report PSNR"),
    "renormalize": ("renormalize", "quick label-free step to a new scanner: re-estimate a segmenter's BatchNorm "
                                   "statistics on its images (AdaBN)"),
    "adapt": ("adapt", "adapt to a new scanner: generators, synthesis, co-optimization rounds"),
    "export": ("export", "write a project's masks (corrected where saved), probability maps and vessel measures"),
    "images": ("images", "list a project's images with their states; add images to the project or take them out"),
    "rounds": ("rounds", "list a project's rounds with label-free signals and warnings; roll back rounds"),
    "benchmark": ("benchmark", "run the adaptation benchmark protocol on a dataset pair"),
    "sample-data": ("sample_data", "write a procedural synthetic fundus/OCTA sample project"),
}


def build_parser() -> argparse.ArgumentParser:
    from vessel_studio import __version__

    parser = argparse.ArgumentParser(
        prog="vessel-studio",
        description="Adapt retinal vessel segmentation to a new scanner, then review and correct masks.",
    )
    parser.add_argument("--version", action="version", version=f"vessel-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        mod = _load(module)
        if mod is not None:
            mod.add_arguments(p)
    return parser


def _load(module: str):
    try:
        return importlib.import_module(f"vessel_studio.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"vessel_studio.commands.{module}":
            return None
        raise


def _expand_home(args: argparse.Namespace) -> None:
    """``~`` and ``~/...`` in the options' values made the home folder, as the shell does for a word
    of its own but not after ``=``: ``--out=~/masks`` made a folder named ``~`` in the working folder."""
    def expand(v):
        if isinstance(v, str) and (v == "~" or v.startswith("~/")):
            return os.path.expanduser(v)
        return [expand(x) for x in v] if isinstance(v, list) else v

    for key, value in vars(args).items():
        if not key.startswith("_"):
            setattr(args, key, expand(value))


def _escape(exc: UnicodeError):
    """``surrogateescape`` for the bytes of a file name the locale could not decode (they go out as they came), else
    ``backslashreplace``: a character the output's encoding has no byte for is written as ``\\u00fc``."""
    try:
        return codecs.lookup_error("surrogateescape")(exc)
    except UnicodeError:
        return codecs.lookup_error("backslashreplace")(exc)


def _printable_stdout() -> None:
    """Standard output that writes every name: under a locale whose encoding lacks a name's letters (``LC_ALL=C``
    with ``PYTHONUTF8=0``: ASCII; a Latin-1 locale and "眼底") ``vessel-studio images`` stopped at the first such
    image with "error: 'ascii' codec can't encode character '\\u0308'", the rest of the list unwritten (session 49
    QA). Standard error does so already (Python's ``backslashreplace``)."""
    codecs.register_error("vessel_studio.escape", _escape)
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None and getattr(sys.stdout, "errors", None) in ("strict", "surrogateescape"):
        try:
            reconfigure(errors="vessel_studio.escape")
        except (ValueError, OSError):  # a stream that cannot be reconfigured now: left as it is
            pass


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _printable_stdout()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["gui"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _expand_home(args)
    args._argv = list(argv)  # as given (a report records its command: benchmark)
    mod = _load(args._module)
    if mod is None:
        parser.error(f"subcommand {args.command!r} is not available in this build")
    try:
        return int(mod.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of the output has gone (`vessel-studio images PROJECT | head`): no traceback, and
        # what is left in stdout's buffer goes nowhere at exit (Python's advice for SIGPIPE)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, FileNotFoundError, PermissionError, FileExistsError, NotADirectoryError,
            IsADirectoryError) as exc:
        # Bad input: a clear one-line message naming the file, not a traceback (the last three:
        # an output path whose folder is a file, or a file path that is a folder).
        print(f"vessel-studio {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        # a full disk (checked before each adaptation round, or met while writing), or a read-only file
        # system (a project on a read-only mount: not a PermissionError, which a read-only folder gives):
        # one line, not a traceback; every write is atomic, so what was saved before is whole
        print(f"vessel-studio {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
