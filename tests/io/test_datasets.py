"""Dataset discovery: the four reference datasets, a lab's own folders, and pairing errors."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.io import Sample, dataset, discover, load_sample, modality_of, write_image, write_mask
from vessel_studio.preprocess import Preprocessing

COUNTS = {
    ("DRIVE", "train"): 20,
    ("DRIVE", "test"): 20,
    ("CHASE_DB1", "train"): 14,
    ("CHASE_DB1", "test"): 14,
    ("STARE", "train"): 10,
    ("STARE", "test"): 10,
    ("OCTA-500", "train"): 140,
    ("OCTA-500", "val"): 10,
    ("OCTA-500", "test"): 50,  # 10388 (the duplicate to exclude) is in Training in this copy
}


@pytest.mark.parametrize("name,split", list(COUNTS))
def test_counts_and_pairing(data_dir, name, split):
    samples = dataset(data_dir, name, split)
    assert len(samples) == COUNTS[name, split]
    assert len({s.name for s in samples}) == len(samples)
    for s in samples:
        assert s.image.is_file() and s.label is not None and s.label.is_file()
        assert (s.fov is None) == (name == "OCTA-500")
        if s.fov is not None:
            assert s.fov.is_file()
    first = samples[0]
    if name == "DRIVE" and split == "train":
        assert (first.image.name, first.label.name, first.fov.name) == (
            "21_training.png",
            "21_manual1.png",
            "21_training_mask.png",
        )
    if name == "CHASE_DB1" and split == "train":
        assert (first.image.name, first.label.name, first.fov.name) == ("Image_01L.jpg", "Image_01L_1stHO.png", "Image_01L.png")
    if name == "STARE" and split == "train":
        assert (first.image.name, first.label.name, first.fov.name) == ("im0001.png", "im0001.ah.png", "im0001.png")
    if name == "OCTA-500":
        assert all(s.image.name == s.label.name for s in samples)
        assert "_images" in first.image.parent.name and "_labels" in first.label.parent.name


def test_octa_duplicate_excluded_from_evaluation(data_dir):
    train = {s.name for s in dataset(data_dir, "OCTA-500", "train")}
    assert "10388" in train and "10333" in train  # present for training (as the data ships)
    for split in ("val", "test"):
        assert "10388" not in {s.name for s in dataset(data_dir, "OCTA-500", split)}


def test_dataset_root_may_be_the_dataset_folder_and_names_are_lenient(data_dir):
    a = dataset(data_dir / "STARE", "STARE", "test")
    b = dataset(data_dir, "stare", "test")
    assert [s.image for s in a] == [s.image for s in b]
    assert len(dataset(data_dir, "octa500", "val")) == 10


def test_dataset_bad_names(data_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        dataset(data_dir, "HRF", "train")
    with pytest.raises(ValueError, match="unknown split"):
        dataset(data_dir, "DRIVE", "training")
    with pytest.raises(ValueError, match="DRIVE has no val split"):
        dataset(data_dir, "DRIVE", "val")
    with pytest.raises(ValueError, match="no DRIVE folder"):
        dataset(tmp_path, "DRIVE", "train")


@pytest.mark.parametrize("name", ["DRIVE", "CHASE_DB1", "STARE", "OCTA-500"])
def test_load_one_sample_each(data_dir, name):
    s = dataset(data_dir, name, "test")[0]
    prep = Preprocessing.for_modality(modality_of(name))
    ls = load_sample(s, prep)
    p = ls.prepared
    assert ls.label_original.dtype == bool and ls.label_original.shape == ls.fov_original.shape
    assert ls.label.dtype == bool and ls.label.shape == p.x.shape == p.fov.shape
    assert 0.03 < ls.label_original[ls.fov_original].mean() < 0.2  # vessel fraction
    assert 0.03 < ls.label[p.fov].mean() < 0.2
    assert abs(p.x[p.fov].mean()) < 1e-3 and abs(p.x[p.fov].std() - 1) < 1e-3
    assert ls.image_meta.path == s.image
    if name == "OCTA-500":
        assert p.scale == 1.0 and p.fov.all()
    else:
        # brought to the fundus model scale: FOV diameter ~540 px
        from vessel_studio.io import fov_diameter

        assert abs(fov_diameter(p.fov) / prep.fov_diameter - 1) <= 0.025
        assert (p.scale == 1.0) == (name == "DRIVE")  # DRIVE is the model scale already
        # vessels are bright after inversion: mean of x on vessels > background
        assert p.x[ls.label & p.fov].mean() > p.x[~ls.label & p.fov].mean() + 0.05


def test_modality_of():
    assert modality_of("OCTA-500") == "octa" and modality_of("octa") == "octa"
    assert modality_of("DRIVE") == "fundus" and modality_of("CHASE_DB1") == "fundus"


# ----------------------------------------------------------------------------- a lab's own folders


def _img(v=100):
    return np.full((16, 16), v, np.uint8)


def test_discover_same_stem_in_separate_folders(tmp_path):
    for stem in ("a", "b"):
        write_image(tmp_path / "img" / f"{stem}.png", _img())
        write_mask(tmp_path / "lab" / f"{stem}.png", _img() > 0)
        write_mask(tmp_path / "fov" / f"{stem}_mask.png", _img() > 0)
    s = discover(tmp_path / "img", labels=tmp_path / "lab", fovs=tmp_path / "fov", require_labels=True)
    assert [x.name for x in s] == ["a", "b"]
    assert s[0] == Sample("a", tmp_path / "img/a.png", tmp_path / "lab/a.png", tmp_path / "fov/a_mask.png")


def test_discover_fov_folder_that_pairs_no_image_is_an_error(tmp_path):
    # a FOV folder with another naming scheme must not fall back to estimated FOVs without a word
    for stem in ("21_training", "22_training"):
        write_image(tmp_path / "img" / f"{stem}.png", _img())
        write_mask(tmp_path / "lab" / f"{stem[:2]}_manual1.png", _img() > 0)
        write_mask(tmp_path / "fov" / f"fov_{stem[:2]}.png", _img() > 0)
    with pytest.raises(ValueError) as e:
        discover(tmp_path / "img", labels=tmp_path / "lab", fovs=tmp_path / "fov", require_labels=True)
    assert str(e.value).startswith(str(tmp_path / "img"))
    assert f"image 21_training.png has no FOV mask in {tmp_path / 'fov'}" in str(e.value)
    with pytest.raises(ValueError, match="22_training.png has no FOV mask"):
        discover(tmp_path / "img", fovs=tmp_path / "fov")


@pytest.mark.parametrize("suffix", ["_label", "_manual1", "_1stHO", ".ah", "_seg", "_gt",
                                    "_manual2", "_2ndHO", ".vk"])  # the second observers' (DRIVE, CHASE_DB1, STARE)
def test_discover_label_suffixes(tmp_path, suffix):
    write_image(tmp_path / "img" / "eye_07.tif", _img())
    write_mask(tmp_path / "lab" / f"eye_07{suffix}.png", _img() > 0)
    (s,) = discover(tmp_path / "img", labels=tmp_path / "lab", require_labels=True)
    assert s.label == tmp_path / "lab" / f"eye_07{suffix}.png"


def test_discover_drive_style_numbers(tmp_path):
    write_image(tmp_path / "img" / "21_training.png", _img())
    write_mask(tmp_path / "lab" / "21_manual1.gif", _img() > 0)
    write_mask(tmp_path / "fov" / "21_training_mask.png", _img() > 0)
    (s,) = discover(tmp_path / "img", labels=tmp_path / "lab", fovs=tmp_path / "fov", require_labels=True)
    assert s.label.name == "21_manual1.gif" and s.fov.name == "21_training_mask.png"


def test_discover_labels_in_the_same_folder(tmp_path):
    write_image(tmp_path / "p1.png", _img())
    write_image(tmp_path / "p2.jpg", np.full((16, 16, 3), 90, np.uint8))
    write_mask(tmp_path / "p1_label.png", _img() > 0)
    write_mask(tmp_path / "p2_label.png", _img() > 0)
    write_mask(tmp_path / "p1_mask.png", _img() > 0)
    (tmp_path / "notes.txt").write_text("x")
    s = discover(tmp_path, labels=tmp_path, fovs=tmp_path, require_labels=True)
    assert [(x.name, x.label.name, x.fov and x.fov.name) for x in s] == [
        ("p1", "p1_label.png", "p1_mask.png"),
        ("p2", "p2_label.png", None),
    ]


def test_discover_unpaired_error_lists_files(tmp_path):
    for stem in ("a", "b", "c"):
        write_image(tmp_path / "img" / f"{stem}.png", _img())
    write_mask(tmp_path / "lab" / "a.png", _img() > 0)
    write_mask(tmp_path / "lab" / "zz_label.png", _img() > 0)
    with pytest.raises(ValueError) as e:
        discover(tmp_path / "img", labels=tmp_path / "lab", require_labels=True)
    msg = str(e.value)
    assert msg.startswith(str(tmp_path / "img"))
    assert "3 file(s) could not be paired" in msg
    assert "image b.png has no label" in msg and "image c.png has no label" in msg and "label zz_label.png matches no image" in msg
    # without require_labels: images without labels are fine
    s = discover(tmp_path / "img", labels=tmp_path / "lab")
    assert [x.label and x.label.name for x in s] == ["a.png", None, None]
    with pytest.raises(ValueError, match="labels are required but no label folder"):
        discover(tmp_path / "img", require_labels=True)


def test_discover_empty_or_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no image files found"):
        discover(tmp_path / "empty")
    with pytest.raises(ValueError, match="nope: not a folder"):
        discover(tmp_path / "nope")


def test_load_sample_wrong_label_size(tmp_path, synthetic_fundus):
    img, mask, fov = synthetic_fundus
    write_image(tmp_path / "x.png", img)
    write_mask(tmp_path / "x_label.png", mask[:50])
    with pytest.raises(ValueError, match=r"x_label.png: mask is 50x96"):
        load_sample(Sample("x", tmp_path / "x.png", tmp_path / "x_label.png"), Preprocessing.for_modality("fundus"))


def test_load_sample_estimates_fov_when_absent(tmp_path, synthetic_fundus):
    img, mask, fov = synthetic_fundus
    write_image(tmp_path / "x.png", img)
    write_mask(tmp_path / "x_label.png", mask)
    ls = load_sample(Sample("x", tmp_path / "x.png", tmp_path / "x_label.png"), Preprocessing.for_modality("fundus", fov_diameter=None))
    assert ls.prepared.scale == 1.0
    assert (ls.fov_original & fov).sum() / (ls.fov_original | fov).sum() > 0.95
    np.testing.assert_array_equal(ls.label, mask)


def test_discover_ambiguous_pairing_is_an_error(tmp_path):
    write_image(tmp_path / "img" / "a.png", _img())
    write_image(tmp_path / "img" / "a.tif", _img())
    write_mask(tmp_path / "lab" / "a.png", _img() > 0)
    with pytest.raises(ValueError, match=r"ambiguous pairing, one label matches several images: a.png <- a.png, a.tif"):
        discover(tmp_path / "img", labels=tmp_path / "lab")


def test_discover_number_fallback_only_for_unique_numbers(tmp_path):
    write_image(tmp_path / "img" / "1_left.png", _img())
    write_image(tmp_path / "img" / "1_right.png", _img())
    write_image(tmp_path / "img" / "2_left.png", _img())
    write_mask(tmp_path / "lab" / "1_manual1.png", _img() > 0)
    write_mask(tmp_path / "lab" / "2_manual1.png", _img() > 0)
    s = {x.name: x.label and x.label.name for x in discover(tmp_path / "img", labels=tmp_path / "lab")}
    assert s == {"1_left": None, "1_right": None, "2_left": "2_manual1.png"}
