"""``scripts/setup.sh`` installs every Debian package that Qt's window needs on a fresh machine.

The Qt libraries of PySide6 and its X11 platform plugin (``libqxcb.so``) link to system libraries; a
missing one makes Qt print "Could not load the Qt platform plugin "xcb"" and abort. Qt 6.5 and newer
need ``libxcb-cursor0``, which setup.sh did not install before session 35, nor eight more (image,
render-util, shape, fontconfig, glib, D-Bus ...): this machine had them from its image, a fresh Debian
does not. Checked here against the Debian packages that provide the libraries (``dpkg -S``) and what
setup.sh's list pulls in with its dependencies (``apt-cache depends --recurse``)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"
QT_LIBS = ("Core", "Gui", "Widgets", "OpenGL", "OpenGLWidgets", "Svg", "DBus", "XcbQpa")


def setup_packages() -> list[str]:
    """The Debian packages setup.sh installs (its ``for pkg in ...; do`` list)."""
    found = re.search(r"for pkg in ([^;]+); do", SETUP.read_text(encoding="utf-8"))
    assert found, "setup.sh's list of Debian packages not found"
    return [word for word in found.group(1).split() if word != "\\"]  # a line continued


def qt_binaries() -> list[Path]:
    spec = importlib.util.find_spec("PySide6")  # found, not imported: this test opens no window
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("PySide6 is not installed")
    qt = Path(list(spec.submodule_search_locations)[0]) / "Qt"
    files = [qt / "lib" / f"libQt6{name}.so.6" for name in QT_LIBS]
    files += [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "plugins" / "xcbglintegrations").glob("*.so"))]
    return [f for f in files if f.is_file()]


def linked_libraries(binaries: list[Path]) -> tuple[set[str], list[str]]:
    """The system libraries the binaries load (outside PySide6's folder), and those ldd cannot find."""
    out = subprocess.run(["ldd", *map(str, binaries)], capture_output=True, text=True, check=True).stdout
    libs, missing = set(), []
    for line in out.splitlines():
        if "=> not found" in line:
            missing.append(line.split()[0])
        elif "=> /" in line and "PySide6" not in line:
            libs.add(line.split("=>")[1].split()[0])
    return libs, missing


def providing_packages(libs: set[str]) -> dict[str, str | None]:
    """The Debian package that installed each library (tried as linked and as resolved, with and without
    /usr: dpkg records the paths a package was built with, before /usr was merged), in one dpkg call."""
    spellings = {}
    for lib in libs:
        real = str(Path(lib).resolve())
        spellings[lib] = list(dict.fromkeys((lib, real, lib.removeprefix("/usr"), real.removeprefix("/usr"),
                                             "/usr" + lib, "/usr" + real)))
    paths = sorted({p for ps in spellings.values() for p in ps})
    out = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True).stdout  # 1 when some are not found
    owner = {}
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return {lib: next((owner[p] for p in ps if p in owner), None) for lib, ps in spellings.items()}


@pytest.mark.skipif(not all(shutil.which(t) for t in ("dpkg", "apt-cache", "ldd")), reason="not a Debian machine")
def test_setup_installs_what_qts_window_links_to():
    binaries = qt_binaries()
    assert binaries, "no Qt libraries found in PySide6"
    libs, missing = linked_libraries(binaries)
    assert missing == [], f"libraries Qt needs are not installed: {missing}"
    owners = providing_packages(libs)
    packages = set(owners.values()) - {None}
    assert "libxcb1" in packages  # the check sees the X11 libraries
    deps = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                           "--no-breaks", "--no-replaces", "--no-enhances", *setup_packages()],
                          capture_output=True, text=True)
    if deps.returncode != 0:
        pytest.skip(f"apt-cache has no package lists here: {deps.stderr.strip()[:200]}")
    pulled = {line.strip().split(":")[0] for line in deps.stdout.splitlines() if not line.startswith(" ")}
    assert sorted(packages - pulled) == [], "setup.sh does not install these packages that Qt's window links to"
