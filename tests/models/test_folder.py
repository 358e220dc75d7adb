import json

import pytest
import torch

from vessel_studio.models import folder as mf


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))


def test_save_load_roundtrip(tmp_path):
    net = _net()
    mf.save_model_folder(tmp_path / "m", kind="toy", config={"a": 1}, state_dict=net.state_dict(), card="# card")
    cfg, state = mf.load_model_folder(tmp_path / "m", kind="toy")
    assert cfg["a"] == 1 and cfg["kind"] == "toy" and cfg["format_version"] == mf.FORMAT_VERSION
    other = _net()
    torch.nn.init.zeros_(other[0].weight)
    mf.load_state_into(other, state, source=tmp_path / "m")
    assert torch.equal(other[0].weight, net[0].weight)
    assert (tmp_path / "m" / "README.md").read_text() == "# card"
    assert len(mf.hash_folder(tmp_path / "m")) == 16


def test_same_weights_same_file(tmp_path):
    # safetensors writes its metadata map in no fixed order: with two keys, 10 saves gave 2 files
    net = _net()
    files = set()
    for i in range(12):
        mf.save_model_folder(tmp_path / f"m{i}", kind="toy", config={"a": 1}, state_dict=net.state_dict())
        files.add((tmp_path / f"m{i}" / mf.WEIGHTS_NAME).read_bytes())
    assert len(files) == 1
    assert len({mf.hash_folder(tmp_path / f"m{i}") for i in range(12)}) == 1


def test_half_storage_loads_as_float32(tmp_path):
    net = _net()
    mf.save_model_folder(tmp_path / "m", kind="toy", config={}, state_dict=net.state_dict(), half=True)
    _, state = mf.load_model_folder(tmp_path / "m")
    assert state["0.weight"].dtype == torch.float32
    assert torch.allclose(state["0.weight"], net[0].weight, atol=1e-3)


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(mf.ModelFolderError, match="no such directory"):
        mf.read_config(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(mf.ModelFolderError, match="no config.json"):
        mf.read_config(tmp_path / "empty")
    net = _net()
    mf.save_model_folder(tmp_path / "m", kind="toy", config={}, state_dict=net.state_dict())
    with pytest.raises(mf.ModelFolderError, match="expected a segmenter"):
        mf.read_config(tmp_path / "m", kind="segmenter")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(mf.ModelFolderError, match="invalid JSON"):
        mf.read_config(tmp_path / "m")
    mf.save_model_folder(tmp_path / "m", kind="toy", config={}, state_dict=net.state_dict())
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(mf.ModelFolderError, match="cannot read weights"):
        mf.load_model_folder(tmp_path / "m")


def test_wrong_shape_is_reported(tmp_path):
    big = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3))
    mf.save_model_folder(tmp_path / "m", kind="toy", config={}, state_dict=big.state_dict())
    _, state = mf.load_model_folder(tmp_path / "m")
    small = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3))
    with pytest.raises(mf.ModelFolderError, match="wrong shape"):
        mf.load_state_into(small, state, source=tmp_path / "m")


def test_checkpoint_resume_restores_optimizer(tmp_path):
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    x = torch.randn(2, 1, 8, 8)
    for _ in range(3):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    mf.save_checkpoint(tmp_path / "ck", step=3, config={"lr": 1e-2}, modules={"net": net}, optimizer=opt,
                       extra={"seed": 7})
    net2 = _net()
    opt2 = torch.optim.AdamW(net2.parameters(), lr=1e-2)
    meta = mf.load_checkpoint(tmp_path / "ck", modules={"net": net2}, optimizer=opt2)
    assert meta["step"] == 3 and meta["extra"] == {"seed": 7}
    for a, b in ((net, opt), (net2, opt2)):
        b.zero_grad()
        a(x).pow(2).mean().backward()
        b.step()
    for p, q in zip(net.parameters(), net2.parameters()):
        assert torch.allclose(p, q)
    assert json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["config"] == {"lr": 1e-2}


def test_no_pickle_anywhere_in_package():
    from pathlib import Path

    root = Path(mf.__file__).resolve().parents[1]
    offenders = [p for p in root.rglob("*.py") if "torch.load(" in p.read_text() or "pickle.load" in p.read_text()]
    assert offenders == []


def test_a_project_folder_given_as_a_model_says_where_its_models_are(tmp_path):
    """``Segmenter.load(project)`` (the CLI's --model takes a project): the error names the rounds'
    model folders instead of a bare "no config.json"."""
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.store import Project

    proj = Project.create(tmp_path / "proj", modality="fundus")
    with pytest.raises(mf.ModelFolderError, match=r"no config.json \(it is an adaptation project.*segmenter_path"):
        Segmenter.load(proj.folder)


def test_saving_onto_a_folder_of_other_files_or_onto_a_file_is_refused(tmp_path):
    """Session 33 API QA: ``Segmenter.load("fundus-segmenter").save("lab-images")`` replaced the folder of images
    with the model (the images deleted), and ``.save("notes.py")`` replaced the file (moved to a hidden
    ``.notes.py.old-PID`` that a later save deleted); the commands checked their --out themselves. Refused now,
    naming what is there, before anything is written; an absent or empty folder and an earlier model folder of
    model folder (its config broken or not) are written as before."""
    net = _net()
    images = tmp_path / "lab-images"
    images.mkdir()
    (images / "scan-01.png").write_bytes(b"png")
    (tmp_path / "notes.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match=r"lab-images: the toy folder holds files that are not a toy model "
                                         r"\(scan-01.png\).*nothing was changed"):
        mf.save_model_folder(images, kind="toy", config={}, state_dict=net.state_dict())
    with pytest.raises(ValueError, match=r"notes.py: the toy folder is a file, not a folder; choose another toy folder"):
        mf.save_model_folder(tmp_path / "notes.py", kind="toy", config={}, state_dict=net.state_dict())
    mf.save_model_folder(tmp_path / "m", kind="toy", config={"a": 1}, state_dict=net.state_dict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab-images", "m", "notes.py"]
    assert [p.name for p in images.iterdir()] == ["scan-01.png"] and (tmp_path / "notes.py").read_text() == "x = 1\n"
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "m", tmp_path / "empty"):  # an earlier model of the kind, an empty folder
        mf.save_model_folder(folder, kind="toy", config={"a": 2}, state_dict=net.state_dict())
        assert mf.load_model_folder(folder, kind="toy")[0]["a"] == 2


def test_card_and_config_are_utf8_whatever_the_locale(tmp_path):
    """Session 49 QA: under ``LC_ALL=C PYTHONUTF8=0`` (the locale's encoding ASCII) ``vessel-studio renormalize
    --model "models/Modèle/seg é"`` failed after its work with "'ascii' codec can't encode characters": the model card
    (naming the model's path) was written in the locale's encoding, and a config.json holding UTF-8 (edited by hand)
    was "invalid JSON". The card is UTF-8 now, a path's bytes as they came, and config.json is read as UTF-8."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "Modèle"
    script = r'''
import json, sys, torch
from vessel_studio.models import folder as mf
out = sys.argv[1]  # decoded by the C locale: the e-grave as two escaped bytes
mf.save_model_folder(out, kind="toy", config={"a": 1}, state_dict=torch.nn.Conv2d(1, 1, 1).state_dict(),
                     card=f"# Re-normalised\n\n`{out}`: 0.5 \u00d7 the source\n")
cfg = json.loads(open(out + "/config.json", "rb").read())
cfg["note"] = "Gen\u00e8ve"
open(out + "/config.json", "wb").write(json.dumps(cfg, ensure_ascii=False).encode("utf-8"))
assert mf.read_config(out, kind="toy")["note"] == "Gen\u00e8ve"
'''
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    r = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-800:]
    assert (folder / "README.md").read_bytes().decode("utf-8") == f"# Re-normalised\n\n`{folder}`: 0.5 × the source\n"
