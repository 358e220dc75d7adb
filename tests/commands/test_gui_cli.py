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
from vessel_studio.commands import gui as gui_command

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
    # DISPLAY=:1 taken as an X server that answers (one runs there or not, on the machine running the tests)
    monkeypatch.setattr(gui_command, "x_display_problem", lambda display: None, raising=False)
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


def _free_display() -> str:
    """An X display number nothing serves on this machine (no socket, no lock file)."""
    for n in range(4321, 4400):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    pytest.skip("no free X display number")


def _has_libxcb() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libxcb.so.1")
        return True
    except OSError:
        return False


needs_xcb = pytest.mark.skipif(sys.platform != "linux" or not _has_libxcb(), reason="the X display check (libxcb)")


@needs_xcb
def test_an_unreachable_display_is_a_message_and_no_window(monkeypatch):
    """Session 36: with DISPLAY set to a display where no X server runs, the command went on to Qt, which aborted
    the process (SIGABRT). Now the display is connected to first and the message names it."""
    import vessel_studio.gui.app as app

    started = []
    monkeypatch.setattr(app, "launch", lambda project=None: started.append(project) or 0)
    monkeypatch.setattr(sys, "platform", "linux")
    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    display = _free_display()
    for env in ({"DISPLAY": display}, {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
                {"DISPLAY": display, "WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as exc:
            cli.main(["gui"])
        said = str(exc.value.code)
        assert f"cannot connect to the display DISPLAY={display}: no X server answers there" in said
        assert "xvfb-run -a vessel-studio gui" in said and "\n" not in said
    monkeypatch.setenv("DISPLAY", "not a display")
    with pytest.raises(SystemExit) as exc:
        cli.main(["gui"])
    assert "DISPLAY=not a display: not a display name" in str(exc.value.code)
    # QT_QPA_PLATFORM=xcb with no DISPLAY: Qt aborted too
    monkeypatch.delenv("DISPLAY")
    with pytest.raises(SystemExit) as exc:
        cli.main(["gui"])
    assert "QT_QPA_PLATFORM=xcb asks for an X display and DISPLAY is not set" in str(exc.value.code)
    assert started == []


@needs_xcb
def test_a_display_that_answers_is_not_refused(tmp_path):
    """The check connects for real: an X server started for the test (Xvfb) is found reachable."""
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("no Xvfb")
    import time

    display = _free_display()
    server = subprocess.Popen(["Xvfb", display, "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60  # a loaded machine: Xvfb takes a while to listen
        while gui_command.x_display_problem(display) is not None:
            assert server.poll() is None, f"Xvfb {display} exited: {server.stderr.read()[-1000:]}"
            assert time.monotonic() < deadline, f"Xvfb {display} did not answer in 60 s"
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert gui_command.x_display_problem(display) is not None  # gone again


@needs_xcb
def test_an_unreachable_display_from_the_shell(tmp_path):
    """The real command with DISPLAY set to a display nothing serves: exit status 1 and the message, not Qt's
    abort (-6, SIGABRT, before session 36)."""
    env = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["DISPLAY"] = display = _free_display()
    done = subprocess.run([sys.executable, "-m", "vessel_studio", "gui"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert f"vessel-studio gui: error: cannot connect to the display DISPLAY={display}" in done.stderr
    assert "Traceback" not in done.stderr
