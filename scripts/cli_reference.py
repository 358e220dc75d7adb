"""Write the options of every subcommand into docs/CLI.md, from the argument parser itself.

Each ``## NAME`` section of docs/CLI.md (NAME a subcommand of ``vessel_studio.cli.COMMANDS``) ends with a block
between ``<!-- options: NAME -->`` and ``<!-- /options -->``: the command's usage line and a table of its arguments
(option, value, default, help), made from ``vessel_studio.cli.build_parser()``. The prose above the block is the
section's own and is kept as it is; the block is made here and nowhere else.

    python scripts/cli_reference.py           # rewrite docs/CLI.md's blocks (atomic write)
    python scripts/cli_reference.py --check   # exit 1 naming the commands whose block differs

The output does not depend on the terminal: the usage lines are wrapped at a fixed width (argparse otherwise wraps
them at $COLUMNS). tests/test_cli_reference.py checks that docs/CLI.md is what this script writes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "CLI.md"
WIDTH = 100  # usage lines wrap here, whatever the terminal's width
BEGIN = "<!-- options: {name} -->"
END = "<!-- /options -->"
_BLOCK = re.compile(r"<!-- options: (?P<name>[\w-]+) -->\n.*?<!-- /options -->\n", re.S)
_SECTION = re.compile(r"^## (?P<name>.+)$", re.M)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=WIDTH)


def subparsers(parser: argparse.ArgumentParser | None = None) -> dict[str, argparse.ArgumentParser]:
    """Subcommand name -> its parser, in the order of ``COMMANDS``."""
    if parser is None:
        from vessel_studio.cli import build_parser

        parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise ValueError("the vessel-studio parser has no subcommands")


def _cell(text: str) -> str:
    """Help text as a table cell: ``<stem>`` shown, not taken for an HTML tag; ``|`` not a column."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("\n", " ") + "`"


def _value(action: argparse.Action, fmt: argparse.HelpFormatter) -> str:
    if action.nargs == 0:  # store_true / store_false / count-like flags
        return "flag"
    default = action.dest.upper() if action.option_strings else action.dest
    return _code(fmt._format_args(action, default))


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if not action.option_strings:
        return "optional" if action.nargs in ("?", "*") else "required"
    d = action.default
    if action.nargs == 0:
        return "off" if not d else "on"
    if d is None or d == [] or d is argparse.SUPPRESS:
        return "–"
    if isinstance(d, (list, tuple)):
        return _code(" ".join(str(x) for x in d))
    return _code(str(d))


def block(name: str, sub: argparse.ArgumentParser) -> str:
    """The Markdown block of one subcommand, markers included."""
    sub.formatter_class = _formatter
    fmt = sub._get_formatter()
    usage = sub.format_usage().strip()
    rows = []
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            option = _code(", ".join(action.option_strings))
        else:  # a positional argument: its name as the usage line shows it
            option = _code(action.metavar if isinstance(action.metavar, str) else action.dest)
        help_ = fmt._expand_help(action) if action.help else ""
        rows.append(f"| {option} | {_value(action, fmt)} | {_default(action)} | {_cell(help_)} |")
    lines = [BEGIN.format(name=name),
             f"Options (`vessel-studio {name} --help`):", "",
             "```text", usage, "```", "",
             "| option | value | default | what it does |", "|---|---|---|---|", *rows, END]
    return "\n".join(lines) + "\n"


def sections(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of each ``## `` section: from its heading to the next one (or the end)."""
    heads = list(_SECTION.finditer(text))
    return [(m.group("name").strip(), m.start(), heads[i + 1].start() if i + 1 < len(heads) else len(text))
            for i, m in enumerate(heads)]


def render(text: str, parser: argparse.ArgumentParser | None = None) -> tuple[str, list[str], list[str]]:
    """docs/CLI.md's text with every command's block made anew.

    Returns (new text, commands whose block differs from the text's, commands with no section). A section's block
    replaces the one it has, else it goes at the section's end, after its prose; a block of a name that is no
    subcommand is removed (and counts as differing)."""
    subs = subparsers(parser)
    changed: list[str] = []
    out: list[str] = []
    pos = 0
    seen = set()
    for name, start, end in sections(text):
        body = text[start:end]
        olds = list(_BLOCK.finditer(body))
        stale = [m.group("name") for m in olds if m.group("name") != name or name not in subs]
        changed += stale
        kept = _BLOCK.sub("", body) if olds else body
        if name in subs:
            seen.add(name)
            new = block(name, subs[name])
            mine = [m for m in olds if m.group("name") == name]
            if len(mine) == 1 and not stale and mine[0].group(0) == new:
                out.append(text[pos:end])
                pos = end
                continue
            changed.append(name)
            if len(mine) == 1 and not stale:
                body = body[:mine[0].start()] + new + body[mine[0].end():]
            else:  # no block yet (or a stray one): at the end of the section, after its prose
                body = kept.rstrip("\n") + "\n\n" + new + ("" if end == len(text) else "\n")
        else:
            body = kept
        out.append(text[pos:start] + body)
        pos = end
    out.append(text[pos:])
    missing = [n for n in subs if n not in seen]
    return "".join(out), sorted(set(changed), key=changed.index), missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 naming the commands whose block in docs/CLI.md differs")
    ap.add_argument("--doc", type=Path, default=DOC, help="the reference to write (default docs/CLI.md)")
    args = ap.parse_args(argv)
    try:
        text = args.doc.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"cli_reference: error: {args.doc}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    new, changed, missing = render(text)
    if missing:
        print(f"cli_reference: error: {args.doc} has no '## NAME' section for: {', '.join(missing)} "
              "(write the section's prose first; its options block is added here)", file=sys.stderr)
        return 1 if args.check else 2
    if args.check:
        if new != text:
            print(f"{args.doc}: options out of date for: {', '.join(changed) or '(layout)'}; "
                  "run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        from vessel_studio.io.atomic import write_text

        write_text(args.doc, new)
        print(f"wrote {args.doc} ({', '.join(changed)})")
    else:
        print(f"{args.doc} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
