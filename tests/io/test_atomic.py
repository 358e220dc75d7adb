import json
import os

import pytest

from vessel_studio.io import atomic


def test_write_json_and_text(tmp_path):
    p = atomic.write_json(tmp_path / "a" / "m.json", {"b": 1})
    assert json.loads(p.read_text()) == {"b": 1}
    atomic.write_text(p, "hello")
    assert p.read_text() == "hello"
    assert sorted(os.listdir(p.parent)) == ["m.json"]  # no temp files left


def test_failed_write_keeps_old_file(tmp_path):
    p = tmp_path / "keep.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_atomic_dir_replaces_whole_folder(tmp_path):
    d = tmp_path / "model"
    with atomic.atomic_dir(d) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError):
        with atomic.atomic_dir(d) as tmp:
            (tmp / "b").write_text("2")
            raise ValueError("boom")
    assert sorted(os.listdir(d)) == ["a"]
    with atomic.atomic_dir(d) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(os.listdir(d)) == ["c"]
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_json_of_numpy_and_dataclass(tmp_path):
    from dataclasses import dataclass

    import numpy as np

    @dataclass
    class C:
        x: int

    p = atomic.write_json(tmp_path / "x.json", {"a": np.float32(1.5), "c": C(2), "n": np.arange(2)})
    assert json.loads(p.read_text()) == {"a": 1.5, "c": {"x": 2}, "n": [0, 1]}


def test_written_files_and_folders_get_normal_permissions(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    p = atomic.write_text(tmp_path / "f.txt", "x")
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask
    d = tmp_path / "d"
    with atomic.atomic_dir(d) as tmp:
        (tmp / "a").write_text("1")
    assert d.stat().st_mode & 0o777 == 0o777 & ~mask
