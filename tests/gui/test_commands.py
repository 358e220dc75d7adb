"""``vessel-studio sample-data DIR`` and the argument checks of ``vessel-studio gui``."""

from __future__ import annotations

import pytest

from vessel_studio.cli import main


def test_sample_data_command_writes_a_project(tmp_path, capsys):
    from vessel_studio.store import Project

    rc = main(["sample-data", str(tmp_path / "p"), "--modality", "octa", "-n", "2", "--size", "64"])
    assert rc == 0
    proj = Project.open(tmp_path / "p")
    assert proj.modality == "octa" and len(proj.images) == 2
    assert (tmp_path / "p" / "samples" / "labels" / "sample-00.png").is_file()
    assert f"vessel-studio gui {tmp_path / 'p'}" in capsys.readouterr().out
    # a second time: the folder already holds a project
    assert main(["sample-data", str(tmp_path / "p")]) == 2


def test_gui_command_rejects_a_folder_without_project(tmp_path, capsys):
    assert main(["gui", str(tmp_path)]) == 2
    assert "not a Vessel Studio project" in capsys.readouterr().err
