import subprocess
import sys

from vessel_studio import cli


def test_help_lists_subcommands(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for name in ("segment", "evaluate", "adapt", "translate", "check-inversion"):
        assert name in out


def test_version_runs_as_module():
    r = subprocess.run([sys.executable, "-m", "vessel_studio", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("vessel-studio ")


def test_resolve_bundled_model_error_lists_names(tmp_path):
    import pytest

    from vessel_studio.resources import resolve_model

    with pytest.raises(FileNotFoundError, match="no such model folder"):
        resolve_model(tmp_path / "nope")
