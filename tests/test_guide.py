"""docs/GUIDE.md stays in step with the repository: its relative links point at files that exist, and the
window's labels it names in bold that end in "…" (the buttons that open a dialog) are labels in the GUI code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "GUIDE.md"


def test_guide_links_point_at_files():
    text = GUIDE.read_text(encoding="utf-8")
    links = [m.group(1) for m in re.finditer(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in m.group(1)]
    assert links
    missing = [link for link in links if not (GUIDE.parent / link).exists()]
    assert not missing, f"docs/GUIDE.md links to missing files: {missing}"


def test_guide_dialog_buttons_are_the_windows_labels():
    text = GUIDE.read_text(encoding="utf-8")
    labels = sorted({" ".join(m.group(1).split()) for m in re.finditer(r"\*\*([^*]+…)\*\*", text)})  # wrapped lines
    assert "Remove from project…" in labels and "Free disk…" in labels
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "vessel_studio" / "gui").glob("*.py"))
    unknown = [label for label in labels if f'"{label}"' not in code]
    assert not unknown, f"docs/GUIDE.md names labels the GUI does not have: {unknown}"
