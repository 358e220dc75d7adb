import errno
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


def test_recover_dir_puts_back_the_version_a_kill_left_aside(tmp_path):
    """A kill between atomic_dir's two renames leaves no folder and the complete old one aside:
    the next atomic_dir (or a resuming trainer) puts it back; stale leftovers are removed."""
    import os
    import time

    from vessel_studio.io.atomic import STALE_DIR_S, atomic_dir, recover_dir

    dest = tmp_path / "ckpt"
    with atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("v1")
    os.replace(dest, tmp_path / ".ckpt.old-12345")  # what the kill left
    stale_tmp = tmp_path / ".ckpt.abc.tmp"
    stale_tmp.mkdir()
    live_tmp = tmp_path / ".ckpt.def.tmp"
    live_tmp.mkdir()
    old = time.time() - STALE_DIR_S - 5
    os.utime(stale_tmp, (old, old))
    assert recover_dir(dest) == dest
    assert (dest / "a.txt").read_text() == "v1"
    assert not (tmp_path / ".ckpt.old-12345").exists()
    assert not stale_tmp.exists() and live_tmp.exists()  # a young one may be another writer's
    with atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("v2")
    assert (dest / "a.txt").read_text() == "v2"


def test_atomic_dir_files_are_readable_like_any_other(tmp_path):
    """safetensors' save_file creates 0600 files; a model folder's files get the usual permissions."""
    import os
    import stat

    import torch
    from safetensors.torch import save_file

    from vessel_studio.io.atomic import atomic_dir

    with atomic_dir(tmp_path / "m") as tmp:
        save_file({"a": torch.zeros(2)}, str(tmp / "model.safetensors"))
    mode = stat.S_IMODE(os.stat(tmp_path / "m" / "model.safetensors").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode & (0o644 & ~umask) == 0o644 & ~umask


def test_a_folder_refusing_new_files_is_named_with_the_file_being_written(tmp_path, monkeypatch):
    """Session 28 QA: saving a correction into a read-only project said "Permission denied:
    '.../corrections/.abc.x1y2.tmp.png'", a name the person never chose; the file meant is named now
    (same exception type and errno, so callers catching OSError / PermissionError are unchanged)."""
    import errno
    import tempfile

    from vessel_studio.io.atomic import write_bytes

    target = tmp_path / "corrections" / "abc.png"
    target.parent.mkdir()

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(target.parent / ".abc.x1y2.tmp.png"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as err:
        write_bytes(target, b"x")
    assert err.value.errno == errno.EACCES and err.value.filename == str(target)
    assert str(err.value) == (f"[Errno 13] Permission denied; no new file can be made in its folder: '{target}'")
    assert ".tmp" not in str(err.value) and not target.exists()


def test_a_file_where_the_folder_should_be_is_named_as_such(tmp_path):
    """Session 33 API QA: ``write_mask("scan.png/mask.png", m)`` with ``scan.png`` a file raised mkdir's
    "FileExistsError: [Errno 17] File exists: '.../scan.png'", as if the mask file existed; now a
    NotADirectoryError (an OSError still) that names the file in the way and the file being written."""
    import numpy as np

    from vessel_studio.io import write_mask

    (tmp_path / "scan.png").write_bytes(b"x")
    for target in (tmp_path / "scan.png" / "mask.png", tmp_path / "scan.png" / "sub" / "mask.png"):
        with pytest.raises(NotADirectoryError, match=r"scan.png is a file, not a folder") as err:
            write_mask(target, np.ones((9, 9), bool))
        assert err.value.filename == str(target)
    assert (tmp_path / "scan.png").read_bytes() == b"x" and [p.name for p in tmp_path.iterdir()] == ["scan.png"]


@pytest.mark.parametrize("stem", ["L" * 245, "眼" * 80], ids=["245-ascii", "80-cjk"])
def test_a_long_name_that_fits_is_written_and_its_killed_temporary_found(tmp_path, stem):
    """Session 49 QA: an image named by 245 ASCII letters (or 80 CJK characters, 240 bytes) made ``segment`` and
    ``export`` fail with "[Errno 36] File name too long" though ``STEM.png`` fits the 255 bytes of ext4: the temporary
    name ``.STEM.<8 random>.tmp.png`` did not. Its stem is cut short now, and a killed write's temporary is still
    found by ``remove_stale_temporaries``."""
    target = tmp_path / f"{stem}.png"
    assert len(os.fsencode(target.name)) <= 255
    atomic.write_bytes(target, b"mask")
    assert target.read_bytes() == b"mask" and os.listdir(tmp_path) == [target.name]

    with atomic.atomic_path(target) as tmp:  # a write killed before its rename: its temporary stays
        tmp.write_bytes(b"half")
        os.link(tmp, tmp_path / "kept")
        left = tmp.name
    os.replace(tmp_path / "kept", tmp_path / left)
    assert atomic.is_temporary_name(left) and len(os.fsencode(left)) <= 255
    old = os.stat(tmp_path / left).st_mtime - atomic.STALE_DIR_S - 1
    os.utime(tmp_path / left, (old, old))
    assert atomic.remove_stale_temporaries([target]) == [tmp_path / left]
    assert os.listdir(tmp_path) == [target.name]


def test_a_name_longer_than_the_folder_takes_is_named_with_its_length(tmp_path):
    """A name over 255 bytes is refused naming the file and its length, not a hidden temporary name or "no new file
    can be made in its folder" (which said the folder was at fault)."""
    target = tmp_path / ("é" * 126 + ".png")  # 256 bytes
    with pytest.raises(OSError) as err:
        atomic.write_bytes(target, b"x")
    assert err.value.errno == errno.ENAMETOOLONG and err.value.filename == str(target)
    assert "256 bytes" in str(err.value) and "at most 255" in str(err.value) and ".tmp" not in str(err.value)
    assert os.listdir(tmp_path) == []
