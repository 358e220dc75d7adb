"""``vessel-studio gui`` (and ``vessel-studio`` with no arguments) with no display: a message naming
``xvfb-run``, not Qt's abort. Before session 35 the command imported napari and Qt, then Qt printed
"could not connect to display" and aborted the process (SIGABRT, a core dump where they are kept)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vessel_studio import cli

NO_DISPLAY = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def test_no_display_is_a_message_and_no_window(monkeypatch, tmp_path):
    import vessel_studio.gui.app as app

    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    started = []
    monkeypatch.setattr(app, "launch", lambda project=None: started.append(project) or 0)
    for argv in ([], ["gui"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert "no display" in str(exc.value.code) and "xvfb-run -a vessel-studio gui" in str(exc.value.code)
    assert started == []

    (tmp_path / "project.json").write_text("{}")
    for name, value in (("QT_QPA_PLATFORM", "offscreen"), ("WAYLAND_DISPLAY", "wayland-0"), ("DISPLAY", ":1")):
        monkeypatch.setenv(name, value)  # a display, or a platform chosen: the window is left to Qt
        assert cli.main(["gui", str(tmp_path)]) == 0
        monkeypatch.delenv(name)
    assert started == [tmp_path] * 3
    monkeypatch.setattr(sys, "platform", "darwin")  # no DISPLAY there
    assert cli.main(["gui", str(tmp_path)]) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the X11 / Wayland check")
def test_no_display_from_the_shell(tmp_path):
    """The real command in a process with no display: exit status 1 and the message, not a signal."""
    env = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-m", "vessel_studio", "gui"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "vessel-studio gui: error: no display" in done.stderr and "Traceback" not in done.stderr


def test_without_the_gui_extra_a_message_not_a_traceback(monkeypatch):
    """A library-only install (no napari): the install command to run, before the display is looked at;
    before session 35, ``launch`` raised ModuleNotFoundError: No module named 'napari'."""
    monkeypatch.setitem(sys.modules, "napari", None)  # `import napari` raises ModuleNotFoundError
    monkeypatch.setenv("DISPLAY", ":1")
    for argv in ([], ["gui"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert "napari is not installed: pip install 'vessel-studio[gui]'" in str(exc.value.code)
    monkeypatch.delenv("DISPLAY")  # nor does it tell a machine without the extra to find a display
    with pytest.raises(SystemExit) as exc:
        cli.main(["gui"])
    assert "vessel-studio[gui]" in str(exc.value.code) and "xvfb-run" not in str(exc.value.code)
