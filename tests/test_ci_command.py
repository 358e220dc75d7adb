"""CI runs the README's test command: the two must not drift apart (session 29 added ``-n 2`` to both); and then the
tests of the whole window the default run leaves out (``-m window``, session 46), as the README says."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if "-m pytest" in line and not line.lstrip().startswith("#")]
    assert lines, "no pytest command"
    return lines[0].split("&&")[-1].strip()


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("Run the tests", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert _pytest_line(section) == _pytest_line((ROOT / ".ci" / "run").read_text())
    assert "pytest-xdist" in (ROOT / "pyproject.toml").read_text()  # what -n needs


def test_ci_runs_the_window_tests_the_default_run_leaves_out():
    window = ".venv/bin/python -m pytest -n 2 -m window"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if "-m pytest" in line
          and not line.lstrip().startswith("#")]
    assert ci == [_pytest_line((ROOT / ".ci" / "run").read_text()), window]  # the default run first, then these
    assert window in (ROOT / "README.md").read_text()
    assert "not window" in (ROOT / "pyproject.toml").read_text()  # what the default run leaves out
