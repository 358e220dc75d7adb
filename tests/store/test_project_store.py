"""The project store: manifest, images, corrections, rounds, rollback, stale cleanup."""

from __future__ import annotations

import json
import os
import re
import time

import numpy as np
import pytest
from PIL import Image

from vessel_studio.store import ImageRecord, Project, ProjectBusyError, RoundRecord
from vessel_studio.store.project import STALE_TEMP_S, UnknownImageError


def _write_png(path, arr):
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "target"
    folder.mkdir()
    rng = np.random.default_rng(1)
    paths = []
    for i in range(3):
        arr = rng.integers(0, 255, (40, 48), dtype=np.uint8)
        paths.append(_write_png(folder / f"scan{i}.png", arr))
    return folder, paths


def _fake_round(tmp_path, ids, value=0.7, name="r"):
    import tifffile

    src = tmp_path / f"built-{name}"
    (src / "segmenter").mkdir(parents=True)
    (src / "segmenter" / "config.json").write_text("{}")
    (src / "pseudo").mkdir()
    for i in ids:
        tifffile.imwrite(src / "pseudo" / f"{i}.tif", np.full((40, 48), value, np.float32))
    return src


def test_create_open_and_manifest_schema(tmp_path):
    proj = Project.create(tmp_path / "p", modality="octa", name="my scanner")
    data = json.loads((tmp_path / "p" / "project.json").read_text())
    assert data["schema_version"] == 1
    assert data["modality"] == "octa" and data["name"] == "my scanner"
    assert data["images"] == [] and data["rounds"] == []
    assert "preprocessing" in data
    again = Project.open(tmp_path / "p")
    assert again.name == "my scanner" and again.modality == "octa"
    assert proj.latest_round is None and again.rounds == []
    with pytest.raises(ValueError, match="already exists"):
        Project.create(tmp_path / "p", modality="octa")
    with pytest.raises(ValueError, match="modality"):
        Project.create(tmp_path / "q", modality="xray")



def test_a_project_is_made_only_in_a_new_or_empty_folder(tmp_path):
    """A folder holding other files (a folder of images chosen as the new project's) is refused, naming it and
    what it holds, and left as it was (session 36: the project was made inside it, among the lab's files). A folder
    a killed creation left with its empty subfolders still takes one."""
    lab = tmp_path / "scans"
    lab.mkdir()
    for name in ("a.png", "b.png", "c.png", "d.png"):
        (lab / name).write_bytes(b"x")
    with pytest.raises(ValueError, match=r"scans: not empty \(it holds a\.png, b\.png, c\.png and 1 more\)"):
        Project.create(lab, modality="fundus")
    assert sorted(p.name for p in lab.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
    (tmp_path / "empty").mkdir()
    Project.create(tmp_path / "empty", modality="fundus")
    killed = tmp_path / "killed"
    for sub in ("images", "rounds", "corrections"):
        (killed / sub).mkdir(parents=True)
    (killed / ".project.k2j4x9.tmp.json").write_text("{")  # killed while the manifest was written
    (killed / ".DS_Store").write_bytes(b"x")
    Project.create(killed, modality="octa")
    (tmp_path / "kept" / "images").mkdir(parents=True)
    (tmp_path / "kept" / "images" / "scan.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="it holds images"):
        Project.create(tmp_path / "kept", modality="octa")

def test_what_the_readers_hand_out_cannot_change_the_cached_manifest(tmp_path, images):
    """``images`` and ``rounds`` are read from the cached manifest without copying all of it (session 31: the GUI
    asks for them many times a refresh); changing what they, ``manifest``, ``source`` or ``preprocessing`` hand
    out changes neither the next read nor the file."""
    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="fundus")
    proj.add_images(paths)
    ids = [r.id for r in proj.images]
    proj.commit_round(_fake_round(tmp_path, ids), RoundRecord(index=0, folder="", config={"channels": [8, 16]},
                                                             models={"segmenter": "abc"}, metrics={"agreement": 0.5}))
    proj.set_source({"kind": "procedural", "modality": "fundus", "segmenter": {"path": "s", "hash": "h"}})
    before = (tmp_path / "p" / "project.json").read_text()
    states = [r.state for r in proj.images]
    rnd = proj.rounds[0]
    rnd.config["channels"].append(32)
    rnd.config["new"] = 1
    rnd.models["generator"] = "x"
    rnd.metrics["agreement"] = 0.9
    proj.source["segmenter"]["hash"] = "changed"
    proj.preprocessing["changed"] = True
    proj.manifest()["rounds"][0]["metrics"]["agreement"] = 0.1
    proj.manifest()["images"][0]["state"] = "reviewed"
    again = proj.rounds[0]
    assert again.config == {"channels": [8, 16]} and again.models == {"segmenter": "abc"}
    assert again.metrics == {"agreement": 0.5}
    assert proj.source["segmenter"]["hash"] == "h" and "changed" not in proj.preprocessing
    assert [r.state for r in proj.images] == states and "reviewed" not in states
    with pytest.raises(Exception):  # the image records are immutable
        proj.images[0].state = "reviewed"
    assert (tmp_path / "p" / "project.json").read_text() == before


def test_image_records_are_made_once_per_manifest_read_and_follow_changes(tmp_path, images, monkeypatch):
    """``images`` and ``image(id)`` made every record from the manifest on each call (session 32: 11 ms a call at
    1,000 images, and ``image(id)`` is asked for each image a worker reads, so the Project panel's thumbnails of a
    1,000-image project took ~10 s of CPU); now once per manifest read. A change written by this object or by
    another program is still seen, and the list handed out is the caller's own."""
    from vessel_studio.store import manifest as manifest_mod

    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="fundus")
    proj.add_images(paths)
    made = []
    real = manifest_mod.ImageRecord.from_dict.__func__
    monkeypatch.setattr(manifest_mod.ImageRecord, "from_dict",
                        classmethod(lambda cls, d: made.append(d["id"]) or real(cls, d)))
    ids = [r.id for r in proj.images]
    for _ in range(5):
        assert [r.id for r in proj.images] == ids and proj.image(ids[2]).id == ids[2]
    assert len(made) == 3  # one read of the manifest: each record made once
    mine = proj.images
    mine.pop()
    assert len(proj.images) == 3
    proj.set_state(ids[0], "reviewed")  # through this object
    assert proj.image(ids[0]).state == "reviewed" and proj.images[0].state == "reviewed"
    Project.open(proj.folder).set_state(ids[1], "corrected")  # another program
    assert proj.image(ids[1]).state == "corrected"
    with pytest.raises(UnknownImageError, match="has no image with id 'nope'"):
        proj.image("nope")


def test_add_images_copies_hashes_and_skips_duplicates(tmp_path, images):
    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    recs = proj.add_images([folder])
    assert len(recs) == 3
    assert all(isinstance(r, ImageRecord) and r.state == "new" for r in recs)
    for r, src in zip(recs, paths):
        copied = proj.folder / r.file
        assert copied.is_file() and copied.read_bytes() == src.read_bytes()
        assert r.shape == (40, 48) and r.name == src.stem
        assert r.id == r.sha256[:12]
    # same content under another name: skipped; a repeated path: skipped
    dup = tmp_path / "copy.png"
    dup.write_bytes(paths[0].read_bytes())
    assert proj.add_images([dup, paths[1]]) == []
    assert len(Project.open(proj.folder).images) == 3
    np.testing.assert_array_equal(proj.read_image(recs[1].id), np.asarray(Image.open(paths[1])))


def test_add_images_names_every_unreadable_file_at_once(tmp_path, images):
    """Session 28 QA: a lab's folder with a truncated scan, a 0-byte file and a stack: adding it named
    only the first, so each was found by one more try (each re-reading the whole folder)."""
    from vessel_studio.store import project as store

    folder, paths = images
    data = paths[0].read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    (folder / "zero.png").write_bytes(b"")
    (folder / "stack.tif").write_bytes(b"II*\x00garbage")
    (folder / "Thumbs.db").write_bytes(b"x")  # not an image suffix: not taken
    proj = Project.create(tmp_path / "p", modality="octa")
    with pytest.raises(ValueError) as err:
        proj.add_images([folder])
    text = str(err.value)
    assert text.startswith("3 of the 6 files cannot be added as images (nothing was added): ")
    for name in ("cut.png", "zero.png: empty file", "stack.tif"):
        assert f"{folder / name}" in text and name in text
    assert "Thumbs.db" not in text
    assert proj.images == [] and list((proj.folder / "images").iterdir()) == []
    # one bad file: its own error as before
    (folder / "cut.png").unlink()
    (folder / "stack.tif").unlink()
    with pytest.raises(ValueError, match="^" + re.escape(f"{folder / 'zero.png'}: empty file (0 bytes)") + "$"):
        proj.add_images([folder])
    # many: the first few named, the rest counted
    (folder / "zero.png").unlink()
    for k in range(store.MAX_NAMED_PROBLEMS + 2):
        (folder / f"bad{k}.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"; and 2 more$"):
        proj.add_images([folder])
    assert proj.images == []


def test_an_image_replaced_or_deleted_behind_the_projects_back_is_a_clear_error(tmp_path, images):
    """Its pseudo-labels and corrections belong to the content that was added: another file under
    the same name must not be read (and trained on) as if it were that image."""
    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    recs = proj.add_images([folder])
    (proj.folder / recs[0].file).write_bytes(paths[1].read_bytes())  # a valid image, other content
    with pytest.raises(ValueError, match="^" + re.escape(f"{proj.folder / recs[0].file}: image 'scan0' changed on disk")):
        proj.read_image(recs[0].id)
    (proj.folder / recs[2].file).unlink()
    with pytest.raises(ValueError, match="^" + re.escape(str(proj.folder / recs[2].file))):
        proj.read_image(recs[2].id)
    np.testing.assert_array_equal(proj.read_image(recs[1].id), np.asarray(Image.open(paths[1])))


def test_an_unknown_image_id_is_one_clear_line(tmp_path, images, monkeypatch, capsys):
    """An id the project does not hold: a KeyError for the GUI's look-ups and a ValueError whose text
    names the project and the id (not KeyError's quoted repr), so the command line prints one line."""
    import types

    from vessel_studio import cli

    folder, _ = images
    proj = Project.create(tmp_path / "p", modality="octa")
    proj.add_images([folder])
    for call in (lambda: proj.image("nope"), lambda: proj.set_state("nope", "reviewed"),
                 lambda: proj.save_correction("nope", np.zeros((40, 48), bool))):
        with pytest.raises(KeyError) as info:
            call()
        assert isinstance(info.value, ValueError)
        assert str(info.value) == f"{proj.manifest_path}: project 'p' has no image with id 'nope'"
    # a subcommand that meets one (none takes ids from the user today): one line, exit status 2
    fake = types.SimpleNamespace(add_arguments=lambda p: p.add_argument("project"),
                                 run=lambda args: Project.open(args.project).read_image("nope"))
    monkeypatch.setattr(cli, "_load", lambda module: fake)
    assert cli.main(["rounds", str(proj.folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"vessel-studio rounds: error: {proj.manifest_path}: project 'p' has no image with id 'nope'\n"


def test_add_images_job_progress_and_cancel(tmp_path, images):
    """The job form reports each file read and copied; closed midway it adds nothing and leaves
    no copied file behind."""
    from vessel_studio.events import Progress, collect

    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    job = proj.add_images_job([folder])
    events = [next(job) for _ in range(3 + 2)]  # 3 reads, 2 copies
    assert all(isinstance(e, Progress) and e.stage == "add-images" for e in events)
    assert [e.step for e in events] == [1, 2, 3, 1, 2] and events[-1].total == 3
    assert len(list((proj.folder / "images").iterdir())) == 2
    job.close()
    assert Project.open(proj.folder).images == [] and not any((proj.folder / "images").iterdir())
    recs, events = collect(proj.add_images_job([folder]))
    assert len(recs) == 3 and len(Project.open(proj.folder).images) == 3 and len(events) == 6


def test_bad_image_raises_naming_file_and_writes_nothing(tmp_path, images):
    folder, paths = images
    bad = folder / "broken.png"
    bad.write_bytes(b"not a png at all")
    proj = Project.create(tmp_path / "p", modality="fundus")
    with pytest.raises(ValueError, match="broken.png"):
        proj.add_images([folder])
    assert proj.images == []
    assert list((proj.folder / "images").iterdir()) == []


def test_corrections_and_states(tmp_path, images):
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    rec = proj.add_images(paths[:1])[0]
    assert proj.correction(rec.id) is None
    mask = np.zeros((40, 48), bool)
    mask[10:20, 5:30] = True
    proj.save_correction(rec.id, mask)
    again = Project.open(proj.folder)
    assert again.image(rec.id).state == "corrected"
    np.testing.assert_array_equal(again.correction(rec.id), mask)
    assert list(again.corrections()) == [rec.id]
    with pytest.raises(ValueError, match="does not match"):
        proj.save_correction(rec.id, np.zeros((10, 10), bool))
    proj.set_state(rec.id, "reviewed")
    assert Project.open(proj.folder).image(rec.id).state == "reviewed"
    assert list(proj.corrections()) == [rec.id]  # reviewed after correcting: still trusted
    proj.remove_correction(rec.id)
    assert proj.correction(rec.id) is None and proj.corrections() == {}
    assert proj.image(rec.id).state == "new"
    with pytest.raises(ValueError, match="unknown image state"):
        proj.set_state(rec.id, "done")


def test_a_probability_map_or_nan_given_as_a_correction_is_refused(tmp_path, images):
    """Session 33 API QA: ``project.save_correction(id, project.prediction(id))`` (the ``>= 0.5`` left out)
    saved every pixel above 0 as vessel, a mask the next round trusts (correction_weight 3), and a NaN was
    saved as background, without a word. Masks as 0/1 floats, bools and 0/255 integers are saved as before."""
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    rec = proj.add_images(paths[:1])[0]
    prob = np.random.default_rng(0).random((40, 48)).astype(np.float32)
    with pytest.raises(ValueError, match="holds values between 0 and 1, like a probability map"):
        proj.save_correction(rec.id, prob)
    nan = (prob >= 0.5).astype(np.float64)
    nan[3, 3] = np.nan
    with pytest.raises(ValueError, match="contains NaN or infinite values"):
        proj.save_correction(rec.id, nan)
    assert proj.correction(rec.id) is None and proj.image(rec.id).state == "new"
    for mask in ((prob >= 0.5).astype(np.float32), prob >= 0.5, (prob >= 0.5).astype(np.uint8) * 255):
        proj.save_correction(rec.id, mask)
        np.testing.assert_array_equal(proj.correction(rec.id), prob >= 0.5)


def test_a_correction_of_another_size_put_there_by_hand_is_an_error_naming_it(tmp_path, images):
    """Session 32 QA: a mask of another size copied into corrections/ (save_correction refuses one) was resized
    onto its image by adapt and trained on, and the export failed with 'fov shape (40, 48) does not match mask
    shape (10, 10)', naming no file."""
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    rec = proj.add_images(paths[:1])[0]
    proj.save_correction(rec.id, np.ones((40, 48), bool))
    _write_png(proj.correction_path(rec.id), np.full((10, 10), 255, np.uint8))
    with pytest.raises(ValueError) as err:
        proj.correction(rec.id)
    assert str(err.value).startswith(f"{proj.correction_path(rec.id)}: corrected mask is 10x10 (rows x cols) but "
                                     f"its image {rec.name} is 40x48")
    with pytest.raises(ValueError, match="corrected mask is 10x10"):
        proj.corrections()


@pytest.mark.parametrize("step", ["save", "remove"])
def test_a_correction_cut_between_file_and_state_is_settled_on_open(tmp_path, images, step):
    """save_correction renames the mask into corrections/, then marks the image; remove_correction
    deletes the file, then marks it. A kill -9 between the two steps (here: in set_state) leaves a
    mask whose image is not "corrected" (adaptation would ignore what the person saved, export would
    not) or a "corrected" image without a mask. Opening the project settles the state from the file."""
    import subprocess
    import sys

    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    rec = proj.add_images(paths[:2])[0]
    mask = np.zeros((40, 48), bool)
    mask[10:20, 5:30] = True
    if step == "remove":
        proj.save_correction(rec.id, mask)
    code = ("import os, signal, sys\n"
            "import numpy as np\n"
            "from vessel_studio.store import Project\n"
            "Project.set_state = lambda self, i, s: os.kill(os.getpid(), signal.SIGKILL)\n"
            "p = Project.open(sys.argv[1])\n"
            "m = np.zeros((40, 48), bool); m[10:20, 5:30] = True\n"
            "p.save_correction(sys.argv[2], m) if sys.argv[3] == 'save' else p.remove_correction(sys.argv[2])\n")
    r = subprocess.run([sys.executable, "-c", code, str(proj.folder), rec.id, step], capture_output=True, text=True)
    assert r.returncode == -9, r.stderr
    manifest = json.loads((proj.folder / "project.json").read_text())
    cut = next(x["state"] for x in manifest["images"] if x["id"] == rec.id)
    assert cut == ("new" if step == "save" else "corrected")  # what the kill left
    again = Project.open(proj.folder)
    if step == "save":
        assert again.image(rec.id).state == "corrected" and list(again.corrections()) == [rec.id]
        np.testing.assert_array_equal(again.corrections()[rec.id], mask)
    else:
        assert again.image(rec.id).state == "new" and again.corrections() == {}
    assert [x.state for x in again.images][1] == "new"  # the other image is left as it was
    assert any(e["message"] == "image states settled with the saved corrections" and e["ids"] == [rec.id]
               for e in again.read_log())


def test_commit_rounds_predictions_and_rollback(tmp_path, images):
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    recs = proj.add_images(paths)
    ids = [r.id for r in recs]
    proj.set_state(ids[2], "reviewed")
    assert proj.prediction(ids[0]) is None
    for k in range(3):
        src = _fake_round(tmp_path, ids, value=0.1 * (k + 1), name=str(k))
        proj.commit_round(src, RoundRecord(index=k, folder="", seed=5, metrics={"agreement": 0.5 + k / 10}))
    assert [r.index for r in proj.rounds] == [0, 1, 2]
    assert proj.latest_round.metrics["agreement"] == pytest.approx(0.7)
    assert proj.segmenter_path() == proj.folder / "rounds" / "round-002" / "segmenter"
    assert float(proj.prediction(ids[0]).mean()) == pytest.approx(0.3)
    assert float(proj.prediction(ids[0], round=0).mean()) == pytest.approx(0.1)
    states = {r.id: r.state for r in proj.images}
    assert states[ids[0]] == "predicted" and states[ids[2]] == "reviewed"
    with pytest.raises(ValueError, match="already committed"):
        proj.commit_round(src, RoundRecord(index=1, folder=""))

    assert proj.rollback(0) == [1, 2]
    again = Project.open(proj.folder)
    assert [r.index for r in again.rounds] == [0]
    assert not (proj.folder / "rounds" / "round-001").exists()
    assert not (proj.folder / "rounds" / "round-002").exists()
    assert float(again.prediction(ids[0]).mean()) == pytest.approx(0.1)
    again.rollback(-1)
    assert again.rounds == [] and again.image(ids[0]).state == "new"
    assert again.image(ids[2]).state == "reviewed"
    assert any(e["message"] == "rolled back" for e in again.read_log())


def test_rollback_returns_images_only_the_removed_rounds_predicted_to_new(tmp_path, images):
    """Images added after round 0 become "predicted" when round 1 commits; rolling round 1 back (or
    cancelling the job that committed it) makes them "new" again; round 0's stay "predicted"."""
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images(paths[:2])]
    proj.commit_round(_fake_round(tmp_path, ids, name="a"), RoundRecord(index=0, folder=""))
    later = proj.add_images(paths[2:])[0].id
    proj.commit_round(_fake_round(tmp_path, ids + [later], name="b"), RoundRecord(index=1, folder=""))
    assert {r.id: r.state for r in proj.images} == {ids[0]: "predicted", ids[1]: "predicted", later: "predicted"}
    proj.rollback(0)
    assert {r.id: r.state for r in Project.open(proj.folder).images} == {
        ids[0]: "predicted", ids[1]: "predicted", later: "new"}


@pytest.mark.parametrize(
    "content, match",
    [
        ("{ not json", "invalid JSON"),
        ("[]", "not an object"),
        (json.dumps({"format": "something-else"}), "not a Vessel Studio project"),
        (None, "schema_version"),
    ],
)
def test_corrupt_manifest_is_clear_valueerror(tmp_path, content, match):
    proj = Project.create(tmp_path / "p", modality="octa")
    path = proj.folder / "project.json"
    if content is None:
        data = json.loads(path.read_text())
        data["schema_version"] = 99
        content = json.dumps(data)
        match = "newer"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        Project.open(proj.folder)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("folder", ["../victim", "", "rounds", "rounds/round-000"])
def test_a_round_folder_outside_its_place_is_refused_before_rollback_deletes_it(tmp_path, images, folder):
    """A hand-edited round entry naming another folder: rollback would rmtree it (the project
    itself for "", a folder beside it for "../victim", round 0's folder for round 1)."""
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images(paths)]
    proj.commit_round(_fake_round(tmp_path, ids, name="a"), RoundRecord(index=0, folder=""))
    proj.commit_round(_fake_round(tmp_path, ids, name="b"), RoundRecord(index=1, folder=""))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data.txt").write_text("keep")
    data = json.loads(proj.manifest_path.read_text())
    data["rounds"][1]["folder"] = folder
    proj.manifest_path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"round 1's folder .* is not 'rounds/round-001'") as info:
        Project.open(proj.folder).rollback(0)
    assert str(info.value).startswith(str(proj.manifest_path))
    assert (victim / "data.txt").is_file() and (proj.folder / "rounds" / "round-000" / "pseudo").is_dir()
    assert (proj.folder / "rounds" / "round-001").is_dir()  # not cleaned away as unnamed either


def test_missing_manifest(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="project.json"):
        Project.open(tmp_path / "empty")


def test_stale_temp_folders_and_unnamed_rounds_cleaned_on_open(tmp_path, images):
    proj = Project.create(tmp_path / "p", modality="octa")
    rounds = proj.folder / "rounds"
    (rounds / ".round-000.tmp-1234").mkdir()
    (rounds / "round-000").mkdir()  # renamed into place, but the manifest never named it
    (rounds / ".round-003.abcd.tmp").mkdir()
    (proj.folder / "images" / ".x.abc.tmp.png").write_bytes(b"half")
    (proj.folder / "work").mkdir()
    (proj.folder / "work" / "keep.json").write_text("{}")
    old = time.time() - STALE_TEMP_S - 1  # a killed writer's leftovers, as old as a live writer's never are
    for p in [*rounds.iterdir(), *(proj.folder / "images").iterdir()]:
        os.utime(p, (old, old))
    Project.open(proj.folder)
    assert list(rounds.iterdir()) == []
    assert list((proj.folder / "images").iterdir()) == []
    assert (proj.folder / "work" / "keep.json").is_file()  # resume state is kept


def test_copies_left_by_a_killed_add_are_removed_on_open(tmp_path, images):
    """add_images renames each complete copy into images/ and names them all in the manifest at its
    end: a kill -9 in between leaves unnamed copies. Opening the project removes them once they are
    older than STALE_TEMP_S (an add in another process may still be running before that)."""
    import subprocess
    import sys

    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    code = ("import os, signal, sys\n"
            "from vessel_studio.store import Project\n"
            "job = Project.open(sys.argv[1]).add_images_job([sys.argv[2]])\n"
            "for _ in range(3 + 2): next(job)\n"  # 3 files read, 2 copied
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(proj.folder), str(folder)], capture_output=True, text=True)
    assert r.returncode == -9, r.stderr
    left = sorted(p.name for p in (proj.folder / "images").iterdir())
    assert len(left) == 2 and Project.open(proj.folder).images == []  # young: kept (may be a live add)
    assert sorted(p.name for p in (proj.folder / "images").iterdir()) == left
    old = time.time() - STALE_TEMP_S - 1
    for p in (proj.folder / "images").iterdir():
        os.utime(p, (old, old))
    reopened = Project.open(proj.folder)
    assert list((proj.folder / "images").iterdir()) == [] and reopened.images == []
    assert len(reopened.add_images([folder])) == 3  # added again in full


@pytest.mark.parametrize("kill", ["after the store's removal", None])
def test_maps_of_images_whose_removal_was_killed_are_removed_on_open(tmp_path, images, kill):
    """gui.tasks.remove_images deletes an image's source-only map and FOV estimate after the store's removal: a kill
    -9 in between left them for good (session 44's kill fuzz of ``images --remove``), and the image added again had
    a source-only map it was never segmented for. Opening the project removes them once older than STALE_TEMP_S;
    adding the image again before that deletes its source-only map (as its correction)."""
    import subprocess
    import sys

    from vessel_studio.gui import tasks

    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    a, b, c = (r.id for r in proj.add_images(paths))
    made = []
    for i in (a, b, c):
        for path in (tasks.source_only_path(proj, i), tasks.gui_dir(proj) / tasks.FOV_CACHE / f"{i}.png"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(i.encode())
            made.append(path)
    code = ("import os, signal, sys\n"
            "from vessel_studio.gui import tasks\n"
            "from vessel_studio.store import Project\n"
            "removal = Project.remove_images\n"
            "def killed(self, ids):\n"
            "    removal(self, ids)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "Project.remove_images = killed\n"
            "tasks.remove_images(Project.open(sys.argv[1]), sys.argv[2:])\n")
    if kill:
        r = subprocess.run([sys.executable, "-c", code, str(proj.folder), a, b], capture_output=True, text=True)
        assert r.returncode == -9, r.stderr
    else:  # a removal that was not killed leaves the same
        tasks.remove_images(proj, [a, b])
    assert [r.id for r in Project.open(proj.folder).images] == [c]
    old = time.time() - STALE_TEMP_S - 1
    for p in made:
        if p.exists():
            os.utime(p, (old, old))
    Project.open(proj.folder)
    assert sorted(p.name for p in made if p.exists()) == [f"{c}.png", f"{c}.tif"]  # the image kept keeps its maps
    # young maps (a removal in another process may be deleting them) wait; the image added again loses its old map
    for p in made[:2]:
        p.write_bytes(b"left")
    Project.open(proj.folder)
    assert all(p.exists() for p in made[:2])
    assert [r.id for r in proj.add_images([paths[0]])] == [a] and not tasks.source_only_path(proj, a).exists()
    assert a not in proj.source_only_ids()


def test_only_the_projects_own_unnamed_copies_are_removed(tmp_path, images):
    """Never anything but a copy add_images would have written: a name of 12 hex digits (+ the lower-case
    suffix) that is the start of the file's own sha256, unnamed by the manifest and old."""
    import hashlib

    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    recs = proj.add_images(paths[:2])
    imgs = proj.folder / "images"
    data = paths[2].read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:12]
    orphan = imgs / f"{digest}.png"
    orphan.write_bytes(data)
    keep = [imgs / "notes.txt", imgs / "scan2.png", imgs / "0123456789ab.png",  # not a copy / hash mismatch
            imgs / f"{digest}.PNG", imgs / f"x{digest}.png"]
    for p in keep:
        p.write_bytes(data)
    old = time.time() - STALE_TEMP_S - 1
    for p in imgs.iterdir():
        os.utime(p, (old, old))
    young = imgs / f"{hashlib.sha256(b'young').hexdigest()[:12]}.png"
    young.write_bytes(b"young")
    reopened = Project.open(proj.folder)
    assert not orphan.exists() and all(p.exists() for p in keep) and young.exists()
    assert [r.id for r in reopened.images] == [r.id for r in recs]
    assert all((proj.folder / r.file).is_file() for r in recs)


def test_an_add_whose_copies_another_open_removed_copies_them_again(tmp_path, images):
    """An add that takes longer than STALE_TEMP_S: another process's open may remove its copies made so
    far (unnamed, old); the add's commit copies them again, so the manifest names only complete copies."""
    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    job = proj.add_images_job([folder])
    for _ in range(3 + 3):  # every file read and copied; the commit is next
        next(job)
    old = time.time() - STALE_TEMP_S - 1
    for p in (proj.folder / "images").iterdir():
        os.utime(p, (old, old))
    Project.open(proj.folder)
    assert list((proj.folder / "images").iterdir()) == []
    with pytest.raises(StopIteration) as stop:
        next(job)
    recs = stop.value.value
    assert len(recs) == 3 and len(Project.open(proj.folder).images) == 3
    for r, src in zip(recs, paths):
        assert (proj.folder / r.file).read_bytes() == src.read_bytes()


def test_opening_a_project_keeps_another_writers_live_temp_files(tmp_path, images):
    """A GUI saving a correction while another process (``segment --model P``, ``rounds P``)
    opens the project: the open must not delete the writer's fresh temp file under it."""
    from vessel_studio.io.atomic import atomic_path

    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images(paths)]
    with atomic_path(proj.correction_path(ids[0])) as tmp:
        tmp.write_bytes(b"live")
        Project.open(proj.folder)  # clean_stale runs here
    assert proj.correction_path(ids[0]).read_bytes() == b"live"


def test_a_read_only_project_opens_for_review(tmp_path, images, monkeypatch):
    """A project on a read-only share opens (rounds, segment --model, review); writing to it fails
    naming the file. Simulated with os.open / unlink refusing writes (chmod does not stop root)."""
    from pathlib import Path

    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images(paths)]
    proj.acquire_job_lock()  # work/.job.lock exists, as after any job
    proj.release_job_lock()
    leftover = proj.folder / "corrections" / ".x.abc.tmp.png"
    leftover.write_bytes(b"half")
    old = time.time() - STALE_TEMP_S - 1
    os.utime(leftover, (old, old))
    real_open = os.open

    def read_only_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def no_unlink(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(os, "open", read_only_open)
    monkeypatch.setattr(Path, "unlink", no_unlink)
    p = Project.open(proj.folder)
    assert [r.id for r in p.images] == ids and p.correction(ids[0]) is None and not p.job_running()
    with pytest.raises(PermissionError, match=r"\.lock"):
        p.set_state(ids[0], "reviewed")


def test_job_lock_is_exclusive_and_protects_temp_folders(tmp_path):
    a = Project.create(tmp_path / "p", modality="octa")
    b = Project.open(a.folder)
    a.acquire_job_lock()
    try:
        with pytest.raises(ProjectBusyError):
            b.acquire_job_lock()
        (a.folder / "rounds" / ".round-000.tmp-1").mkdir()
        Project.open(a.folder)  # a job is live: its temp folder must survive
        assert (a.folder / "rounds" / ".round-000.tmp-1").is_dir()
        with pytest.raises(ProjectBusyError):
            b.rollback(-1)  # not while another job runs
        a.rollback(-1)  # the job itself may
    finally:
        a.release_job_lock()
    b.acquire_job_lock()
    b.release_job_lock()


def test_concurrent_manifest_updates_are_not_lost(tmp_path, images):
    """A second Project object (e.g. the GUI) and a round commit do not overwrite each other."""
    _, paths = images
    job_side = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in job_side.add_images(paths)]
    gui_side = Project.open(job_side.folder)
    _ = gui_side.images  # cached
    job_side.commit_round(_fake_round(tmp_path, ids), RoundRecord(index=0, folder=""))
    gui_side.save_correction(ids[1], np.ones((40, 48), bool))
    final = Project.open(job_side.folder)
    assert [r.index for r in final.rounds] == [0]
    assert final.image(ids[1]).state == "corrected"


def test_a_manifest_replaced_while_it_is_read_is_not_cached_as_the_new_one(tmp_path, images, monkeypatch):
    """One Project object read by a worker thread (the GUI's thumbnails, read-ahead) while the GUI
    thread commits a round: the reader loaded the old file, the writer replaced it, and the reader
    then cached the old content under the new file's key (stat taken after the read), so the
    project went on answering with the old rounds (a flaky 'Showing round 1' with three rounds).
    The key is taken before the read: a file replaced meanwhile is read again on the next call."""
    import vessel_studio.store.project as mod

    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images(paths)]
    writer = Project.open(proj.folder)  # stands in for the other thread's write through the same folder
    real = mod.load_manifest
    raced = []

    def read_then_replaced(path):
        data = real(path)  # the old content ...
        if not raced:
            raced.append(True)
            writer.commit_round(_fake_round(tmp_path, ids), RoundRecord(index=0, folder=""))  # ... replaced
        return data

    monkeypatch.setattr(mod, "load_manifest", read_then_replaced)
    proj._cache = None
    assert proj.rounds == []  # read before the commit landed
    monkeypatch.setattr(mod, "load_manifest", real)
    assert [r.index for r in proj.rounds] == [0]


def test_log_survives_a_torn_line(tmp_path):
    proj = Project.create(tmp_path / "p", modality="octa")
    proj.log("hello", n=1)
    with open(proj.folder / "log.jsonl", "ab") as fh:
        fh.write(b'{"time": "x", "mess')  # a crash mid-append
    proj.log("after")
    msgs = [e["message"] for e in proj.read_log()]
    assert msgs[0] == "project created" and "hello" in msgs


def test_import_store_pulls_no_torch_or_qt():
    import subprocess
    import sys

    code = (
        "import sys, vessel_studio.store; "
        "bad=[m for m in ('torch','qtpy','PySide6','napari') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert r.returncode == 0, r.stdout + r.stderr


def test_job_lock_is_not_reentrant_on_one_project_object(tmp_path):
    """Two jobs of one Project object (a notebook's forgotten, unclosed adapt generator and a new
    one) would share work/ and the first to end would release the other's lock: refused."""
    a = Project.create(tmp_path / "p", modality="octa")
    a.acquire_job_lock()
    try:
        with pytest.raises(ProjectBusyError, match="close()"):
            a.acquire_job_lock()
        assert a.job_running()  # the refused call took nothing away
    finally:
        a.release_job_lock()
    assert not a.job_running()
    a.acquire_job_lock()
    a.release_job_lock()


def test_an_image_name_given_for_an_id_is_named_in_the_error(tmp_path):
    from vessel_studio.store import UnknownImageError

    proj = Project.create(tmp_path / "p", modality="octa")
    img = tmp_path / "scan-01.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(img)
    (rec,) = proj.add_images([img])
    with pytest.raises(UnknownImageError, match=f"'scan-01' is the name of image '{rec.id}'"):
        proj.image("scan-01")
    with pytest.raises(UnknownImageError, match=r"with id 'nope'$"):
        proj.image("nope")


def test_remove_images_takes_one_id_as_add_images_takes_one_path(tmp_path, images):
    """Session 33 API QA: ``project.remove_images(image.id)`` took the id's characters for ids ("no image with id
    '8'")."""
    _, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    recs = proj.add_images(paths)
    assert [r.id for r in proj.remove_images(recs[0].id)] == [recs[0].id]
    assert [r.id for r in Project.open(proj.folder).images] == [r.id for r in recs[1:]]
    with pytest.raises(UnknownImageError, match=r"with id 'nope'"):
        proj.remove_images("nope")


def test_remove_images_takes_them_out_with_their_corrections_and_keeps_the_rounds(tmp_path, images):
    """Session 28: an image added by mistake could not be taken out (``remove_image`` left its saved
    correction, and nothing called it)."""
    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    recs = proj.add_images([folder])
    a, b, c = (r.id for r in recs)
    proj.commit_round(_fake_round(tmp_path, [a, b, c]), RoundRecord(index=0, folder=""))
    proj.save_correction(a, np.ones((40, 48), bool))
    with pytest.raises(ValueError, match="nope"):
        proj.remove_images([b, "nope"])
    assert [r.id for r in proj.images] == [a, b, c]  # an unknown id: nothing changed
    proj.acquire_job_lock()
    try:
        with pytest.raises(ProjectBusyError):
            Project.open(proj.folder).remove_images([a])
    finally:
        proj.release_job_lock()
    gone = proj.remove_images([a, b, a])
    assert [r.id for r in gone] == [a, b]
    fresh = Project.open(proj.folder)
    assert [r.id for r in fresh.images] == [c] and fresh.correction_ids() == []
    assert sorted(p.name for p in (proj.folder / "images").iterdir()) == [f"{c}.png"]
    assert not proj.correction_path(a).exists() and all(p.is_file() for p in paths)  # the originals stay
    assert fresh.prediction_path(a, round=0).is_file()  # the round's history is kept
    assert fresh.read_log()[-1]["message"] == "images removed"
    assert [r.id for r in fresh.add_images([paths[0]])] == [a]  # added again: the same id, no old correction
    assert fresh.image(a).state == "new" and fresh.correction(a) is None


def _removal_cut_after_the_manifest_edit(tmp_path, images):
    """A project of three images, the first two with a saved correction, whose ``remove_images`` of the first
    died right after its manifest edit (before deleting any file): the project, the two ids, the image files."""
    folder, paths = images
    proj = Project.create(tmp_path / "p", modality="octa")
    a, b, _c = (r.id for r in proj.add_images([folder]))
    for i in (a, b):
        proj.save_correction(i, np.ones((40, 48), bool))
    real_unlink = type(proj.folder).unlink

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt  # the process dies right after the manifest edit

    type(proj.folder).unlink = killed
    try:
        with pytest.raises(KeyboardInterrupt):
            proj.remove_images([a])
    finally:
        type(proj.folder).unlink = real_unlink
    return proj, a, b, paths


def test_a_correction_left_by_a_removal_cut_short_is_deleted_on_open(tmp_path, images):
    """A kill inside ``remove_images`` after its manifest edit leaves the image's copy and saved
    correction unnamed: opening the project removes both once older than STALE_TEMP_S; a correction of
    an image still in the project is never touched."""
    proj, a, b, _paths = _removal_cut_after_the_manifest_edit(tmp_path, images)
    assert proj.correction_path(a).is_file() and a not in [r.id for r in Project.open(proj.folder).images]
    old = time.time() - STALE_TEMP_S - 1
    for p in [proj.correction_path(a), proj.correction_path(b), *(proj.folder / "images").iterdir()]:
        os.utime(p, (old, old))
    fresh = Project.open(proj.folder)
    assert not proj.correction_path(a).exists() and not (proj.folder / "images" / f"{a}.png").exists()
    assert proj.correction_path(b).is_file() and fresh.correction_ids() == [b]


def test_the_busy_error_names_the_process_holding_the_project(tmp_path, images):
    """Session 28 (the guide's helper): a lab whose terminal's ``vessel-studio adapt`` held the project was told
    about "an adaptation generator that was neither run to its end nor closed" (a Python user's case); the lock
    file now says which process holds it and since when."""
    import subprocess
    import sys

    folder, _ = images
    proj = Project.create(tmp_path / "p", modality="octa")
    proj.add_images([folder])
    code = ("import sys, time\nfrom vessel_studio.store import Project\n"
            "p = Project.open(sys.argv[1]); p.acquire_job_lock(); print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(proj.folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ProjectBusyError) as err:
            Project.open(proj.folder).remove_images([proj.images[0].id])
        text = str(err.value)
        assert f"in process {holder.pid} since " in text and "wait until it ends" in text
        assert "generator" not in text and len(Project.open(proj.folder).images) == 3
    finally:
        holder.kill()
        holder.wait()
    assert Project.open(proj.folder).remove_images([proj.images[0].id])  # free once that process is gone
    with pytest.raises(ProjectBusyError, match="in this process"):  # this process's own unclosed job: the hint
        proj.acquire_job_lock()
        Project.open(proj.folder).acquire_job_lock()
    proj.release_job_lock()


def test_an_image_added_again_after_a_removal_cut_short_has_no_correction(tmp_path, images):
    """Session 28 QA: killed inside ``remove_images`` after its manifest edit, the removed image's saved
    correction stays (clean_stale deletes it only after STALE_TEMP_S); the same file added again got its id
    back and the correction with it: "corrected" again, a trusted label of the adaptation, which the
    removal had said was deleted. A new image has no saved correction: adding it deletes such a file."""
    proj, a, b, paths = _removal_cut_after_the_manifest_edit(tmp_path, images)
    assert proj.correction_path(a).is_file()  # the leftover, younger than STALE_TEMP_S
    fresh = Project.open(proj.folder)
    assert [r.id for r in fresh.add_images([paths[0]])] == [a]
    assert fresh.image(a).state == "new" and fresh.correction(a) is None and not proj.correction_path(a).exists()
    fresh.clean_stale()
    assert fresh.image(a).state == "new" and fresh.correction_ids() == [b]


def test_the_projects_own_files_are_not_added_as_images(tmp_path, images):
    """Session 28 QA: "Add folder…" (or a drop) on the project's ``corrections/`` added its saved masks as new
    target images (and ``images/`` its own copies under new names after a removal)."""
    folder, _ = images
    proj = Project.create(tmp_path / "p", modality="octa")
    a = proj.add_images([folder])[0]
    proj.save_correction(a.id, np.ones((40, 48), bool))
    for given in ([proj.folder / "corrections"], [proj.correction_path(a.id)], [folder, proj.folder / "images"]):
        with pytest.raises(ValueError, match="a file of the project itself"):
            proj.add_images(given)
    assert len(Project.open(proj.folder).images) == 3
    mine = proj.folder / "samples"  # a lab's folder beside the project's own (the sample project's layout)
    mine.mkdir()
    rng = np.random.default_rng(5)
    _write_png(mine / "new.png", rng.integers(0, 255, (40, 48), dtype=np.uint8))
    assert [r.name for r in proj.add_images([mine])] == ["new"]


def test_roll_back_prune_and_restore_name_the_job_holding_the_project(tmp_path, images):
    """Session 28: their refusals said "an adaptation job is running" whatever held the project (a removal, a
    restore) and not where; they name the holder now, and a free lock names none."""
    import subprocess
    import sys

    from vessel_studio.adaptation.restore import restore_round_job
    from vessel_studio.events import run
    from vessel_studio.store import prune

    folder, _ = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images([folder])]
    for k in range(2):
        proj.commit_round(_fake_round(tmp_path, ids, name=f"r{k}"), RoundRecord(index=k, folder=""))
    code = ("import sys, time\nfrom vessel_studio.store import Project\n"
            "p = Project.open(sys.argv[1]); p.acquire_job_lock(); print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(proj.folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for action in (lambda: proj.rollback(0), lambda: prune(proj, keep=[]),
                       lambda: run(restore_round_job(proj, 0))):
            with pytest.raises(ProjectBusyError, match=f"\\(process {holder.pid}, since .*\\) holds this project"):
                action()
    finally:
        holder.kill()
        holder.wait()
    assert not proj.job_running()
    proj.rollback(0)  # free once that process is gone
    assert [r.index for r in proj.rounds] == [0]


def test_a_killed_writers_temp_file_inside_a_committed_round_goes_on_open(tmp_path, images):
    """Before session 43 a resumed job could commit a map's temporary file that a kill cut
    (``rounds/round-000/pseudo/.ID.<random>.tmp.tif``): ``pseudo/*.tif`` readers took it for a map (a prune
    listed it among the images to make maps for again). Opening such an older project removes it once old,
    as the temporary files at the project's top levels are; the committed maps stay."""
    folder, _ = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images([folder])]
    proj.commit_round(_fake_round(tmp_path, ids), RoundRecord(index=0, folder=""))
    pseudo = proj.folder / "rounds" / "round-000" / "pseudo"
    stray = pseudo / f".{ids[0]}.k2x9q1ab.tmp.tif"
    stray.write_bytes(b"II*\x00half")  # cut in the middle of its write
    stray_dir = proj.folder / "rounds" / "round-000" / ".segmenter.q8w7e6r5.tmp"
    stray_dir.mkdir()
    Project.open(proj.folder)
    assert stray.is_file() and stray_dir.is_dir()  # young: another process's live write, maybe
    old = time.time() - STALE_TEMP_S - 1
    for p in (stray, stray_dir):
        os.utime(p, (old, old))
    Project.open(proj.folder)
    assert not stray.exists() and not stray_dir.exists()
    assert sorted(p.name for p in pseudo.iterdir()) == sorted(f"{i}.tif" for i in ids)
    assert (proj.folder / "rounds" / "round-000" / "segmenter" / "config.json").is_file()


def test_a_prune_does_not_list_a_temp_file_as_an_image_with_a_map(tmp_path, images):
    from vessel_studio.store.prune import prune

    folder, _ = images
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images([folder])]
    for k in (0, 1):
        proj.commit_round(_fake_round(tmp_path, ids, name=str(k)), RoundRecord(index=k, folder=""))
    (proj.folder / "rounds" / "round-000" / "pseudo" / f".{ids[0]}.k2x9q1ab.tmp.tif").write_bytes(b"II*\x00")
    prune(proj, keep=[1])
    x = json.loads(proj.manifest_path.read_text())["rounds"][0]
    assert x["pruned_images"] == sorted(ids)


def test_names_of_files_the_locale_could_not_decode_are_text(tmp_path):
    """Session 49 QA: an image added from a file named in Latin-1 on a UTF-8 disk (an old archive's b"M\\xfcller.png")
    was named "M\\udcfcller" (Python's escape of the byte): the window's title and list showed "Mller", and export
    stopped at measures.csv ("surrogates not allowed"). Under LC_ALL=C PYTHONUTF8=0 "Müller.png" came as
    "M\\udcc3\\udcbcller". The name is text now: UTF-8 bytes read as such, others U+FFFD; the project's own name too."""
    import os

    from vessel_studio.io import write_mask

    rng = np.random.default_rng(3)
    folder = tmp_path / "scans"
    latin1 = os.fsdecode(os.fsencode(folder) + b"/M\xfcller.png")
    write_mask(latin1, rng.uniform(size=(32, 32)) > 0.5)
    write_mask(folder / "Genève.png", rng.uniform(size=(32, 32)) > 0.5)
    ascii_locale = os.fsencode(folder).decode("ascii", "surrogateescape") + "/Gen\udcc3\udca8ve.png"  # as C decodes it
    proj = Project.create(os.fsdecode(os.fsencode(tmp_path) + b"/proj \xe9t\xe9"), modality="octa")
    assert proj.name == "proj \ufffdt\ufffd"
    said = [e.message for e in proj.add_images_job([latin1, ascii_locale])]  # the window's status line shows them
    assert {"read M\ufffdller.png", "copied M\ufffdller.png", "read Genève.png", "copied Genève.png"} <= set(said)
    assert sorted(r.name for r in Project.open(proj.folder).images) == ["Genève", "M\ufffdller"]


def test_a_project_folder_named_in_a_macs_form_is_named_when_typed_in_the_other(tmp_path):
    """Session 49 QA: a project folder copied from a Mac is named in decomposed Unicode ("Mu" + U+0308 "ller"), which
    ``ls`` shows as the "Müller" a person types; opening it so said "Projet Müller: no such project folder", naming
    what ``ls`` listed. The folder of that name in the other form is named, to give instead."""
    import unicodedata

    mac = tmp_path / unicodedata.normalize("NFD", "Projet Müller")
    Project.create(mac, modality="octa")
    typed = tmp_path / "Projet Müller"
    assert typed != mac and not typed.exists()
    with pytest.raises(ValueError) as err:
        Project.open(typed)
    assert str(err.value).startswith(f"{typed}: no such project folder; {mac} is a folder of that name in another "
                                     "Unicode form")
    assert Project.open(mac).folder == mac
    with pytest.raises(ValueError, match=r"Projet Mxller: no such project folder$"):
        Project.open(tmp_path / "Projet Mxller")
