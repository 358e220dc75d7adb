"""docs/CLI.md lists every option of every subcommand: its options blocks are what scripts/cli_reference.py makes
from the argument parser, and every subcommand has a section. Before session 47 they were written by hand and 81
of the 153 arguments were missing (segment --threshold, all 20 of translate's, ...)."""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vessel_studio.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "cli_reference.py"
DOC = ROOT / "docs" / "CLI.md"


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("cli_reference", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_doc_is_what_the_script_writes(ref):
    text = DOC.read_text(encoding="utf-8")
    new, changed, missing = ref.render(text)
    assert not missing
    assert new == text, (f"docs/CLI.md's options blocks are out of date for {changed}: run "
                         "python scripts/cli_reference.py")


def test_every_command_has_a_section_with_its_block(ref):
    text = DOC.read_text(encoding="utf-8")
    names = [name for name, _, _ in ref.sections(text)]
    assert [n for n in COMMANDS if n not in names] == []
    for name in COMMANDS:
        assert text.count(f"<!-- options: {name} -->") == 1, name


def test_every_option_is_in_its_commands_section_and_has_help(ref):
    text = DOC.read_text(encoding="utf-8")
    bodies = {name: text[a:b] for name, a, b in ref.sections(text)}
    for name, sub in ref.subparsers().items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help string"
            for opt in action.option_strings:
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", bodies[name]), \
                    f"{name}: {opt} not in docs/CLI.md's section"


def _with_dummy_option(command):
    def build():
        parser = build_parser()
        ref_subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        ref_subs[command].add_argument("--dummy-option", type=int, default=3, help="an option added later")
        return parser
    return build


def test_an_option_added_without_regenerating_is_found(ref, monkeypatch):
    """The check is not vacuous: an option added to segment (and only segment) makes its block differ."""
    text = DOC.read_text(encoding="utf-8")
    parser = _with_dummy_option("segment")()
    new, changed, missing = ref.render(text, parser)
    assert changed == ["segment"] and not missing
    assert "| `--dummy-option` | `DUMMY_OPTION` | `3` | an option added later |" in new
    assert new.count("<!-- options: segment -->") == 1
    # the script's --check says so and names the command (its parser from vessel_studio.cli.build_parser)
    import vessel_studio.cli as cli

    monkeypatch.setattr(cli, "build_parser", _with_dummy_option("segment"))
    assert ref.main(["--check"]) == 1


def test_check_and_write(tmp_path, ref, capsys):
    """--check exits 1 naming the command; a write puts the block back after the section's prose, and again is a
    no-op; the output does not depend on $COLUMNS."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- options: adapt -->")
    end = text.index("<!-- /options -->", start) + len("<!-- /options -->\n")
    stale = text[:start] + text[end:]  # adapt's block gone, as before this script
    doc = tmp_path / "CLI.md"
    doc.write_text(stale, encoding="utf-8")
    assert ref.main(["--check", "--doc", str(doc)]) == 1
    assert "adapt" in capsys.readouterr().err
    assert doc.read_text(encoding="utf-8") == stale  # --check writes nothing
    assert ref.main(["--doc", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == text
    env = {"COLUMNS": "40", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(SCRIPT), "--check", "--doc", str(doc)], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_a_command_without_a_section_is_named(tmp_path, ref, capsys):
    text = DOC.read_text(encoding="utf-8")
    doc = tmp_path / "CLI.md"
    doc.write_text(text.replace("## sample-data\n", "## sample data, gone\n"), encoding="utf-8")
    assert ref.main(["--check", "--doc", str(doc)]) == 1
    assert "sample-data" in capsys.readouterr().err
