"""A pixel spacing set by a person (session 47): OCTA-500's PNG scans record none, so every vessel measure was in
pixels and the guide told labs to convert by hand. ``Project.set_spacing`` stores it in the manifest
(``ImageRecord.set_spacing``); it wins over the file's (``pixel_spacing``, ``spacing_origin``)."""

import json
import math

import pytest

from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project
from vessel_studio.store.manifest import SPACING_FILE, SPACING_SET, ImageRecord, spacing_from_text, spacing_pair


@pytest.fixture
def proj(tmp_path):
    write_sample_project(tmp_path / "p", n=3, modality="octa", shape=(32, 40), seed=0)
    return Project.open(tmp_path / "p")


def test_set_then_clear_round_trips_through_the_manifest(proj):
    a, b, c = proj.images
    assert a.spacing is None and a.pixel_spacing is None and a.spacing_origin is None
    records = proj.set_spacing([a.id, b.id], 3 / 304)
    assert [r.id for r in records] == [a.id, b.id]
    again = Project.open(proj.folder)  # from the file
    ra, rb, rc = again.images
    assert ra.set_spacing == rb.set_spacing == (3 / 304, 3 / 304)
    assert ra.pixel_spacing == (3 / 304, 3 / 304) and ra.spacing_origin == SPACING_SET
    assert ra.spacing is None  # the file's own stays what it is
    assert rc.set_spacing is None and rc.pixel_spacing is None
    again.set_spacing(a.id, (0.02, 0.01))  # one id as it is; pixels taller than wide
    assert Project.open(proj.folder).image(a.id).pixel_spacing == (0.02, 0.01)
    again.set_spacing([a.id, b.id], None)  # cleared
    data = json.loads(proj.manifest_path.read_text())
    assert all("set_spacing" not in x for x in data["images"])  # as a manifest that never had one
    assert all(r.pixel_spacing is None for r in Project.open(proj.folder).images)
    said = [e["message"] for e in proj.read_log()][-3:]
    assert said == ["pixel spacing set", "pixel spacing set", "pixel spacing cleared"]


def test_a_set_spacing_wins_over_the_files_and_clearing_gives_it_back(proj):
    a = proj.images[0]

    def fn(d):  # as the reader records a calibrated TIFF's spacing when the image is added
        d["images"][0]["spacing"] = [0.02, 0.01]

    proj._update(fn)
    rec = proj.image(a.id)
    assert rec.pixel_spacing == (0.02, 0.01) and rec.spacing_origin == SPACING_FILE
    proj.set_spacing([a.id], 0.005)
    rec = proj.image(a.id)
    assert rec.pixel_spacing == (0.005, 0.005) and rec.spacing_origin == SPACING_SET and rec.spacing == (0.02, 0.01)
    proj.set_spacing([a.id], None)
    rec = proj.image(a.id)
    assert rec.pixel_spacing == (0.02, 0.01) and rec.spacing_origin == SPACING_FILE


@pytest.mark.parametrize("bad", [0, -0.01, math.nan, math.inf, "0.01", True, [], [0.01, 0.01, 0.01], [0.01, 0],
                                 [0.01, "x"], {"row": 0.01}])
def test_a_bad_spacing_is_a_clear_error_and_changes_nothing(proj, bad):
    before = proj.manifest_path.read_bytes()
    with pytest.raises(ValueError, match="pixel spacing must be one or two positive finite numbers of mm per pixel"):
        proj.set_spacing([proj.images[0].id], bad)
    assert proj.manifest_path.read_bytes() == before


def test_an_unknown_image_changes_nothing(proj):
    before = proj.manifest_path.read_bytes()
    with pytest.raises(ValueError, match="has no image with id 'nope'"):
        proj.set_spacing([proj.images[0].id, "nope"], 0.01)
    assert proj.manifest_path.read_bytes() == before
    assert proj.set_spacing([], 0.01) == []


def test_older_manifests_load_and_a_new_one_without_a_set_spacing_is_written_as_before(proj):
    """The key is optional (schema_version stays 1): a manifest of before session 47 (no ``set_spacing``) loads with
    none set, and records with none are written byte for byte as before."""
    old = {"id": "abc", "name": "scan", "file": "images/abc.png", "sha256": "0" * 64, "spacing": [0.01, 0.01],
           "state": "new", "shape": [32, 40], "origin": None}
    rec = ImageRecord.from_dict(old)
    assert rec.set_spacing is None and rec.pixel_spacing == (0.01, 0.01) and rec.spacing_origin == SPACING_FILE
    assert json.dumps(rec.to_dict()) == json.dumps(old)  # the same keys in the same order: the same bytes
    data = json.loads(proj.manifest_path.read_text())
    assert data["schema_version"] == 1 and all("set_spacing" not in x for x in data["images"])
    proj.set_spacing([proj.images[0].id], 0.01)
    assert json.loads(proj.manifest_path.read_text())["schema_version"] == 1


def test_a_corrupt_set_spacing_in_the_manifest_names_the_file(proj):
    data = json.loads(proj.manifest_path.read_text())
    data["images"][0]["set_spacing"] = [0, 0.01]
    proj.manifest_path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"project\.json: corrupt project manifest .*pixel spacing must be"):
        Project.open(proj.folder)


def test_spacing_typed_as_text():
    assert spacing_from_text("3/304") == (3 / 304, 3 / 304)
    assert spacing_from_text(" 0.00987 ") == (0.00987, 0.00987)
    assert spacing_from_text("0.02,0.01") == (0.02, 0.01)
    assert spacing_from_text("6/400, 3/304") == (6 / 400, 3 / 304)
    for bad in ("", "abc", "3/0", "0", "-1", "nan", "inf", "1,2,3", "3/"):
        with pytest.raises(ValueError, match=f"got {bad!r}"):
            spacing_from_text(bad)
    assert spacing_pair(0.01) == (0.01, 0.01) and spacing_pair((0.02, 0.01)) == (0.02, 0.01)
