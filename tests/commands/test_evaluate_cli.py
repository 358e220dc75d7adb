"""``vessel-studio evaluate``: pairing by stem, AUC from probability TIFFs, JSON output."""

import json

import numpy as np
import pytest

from vessel_studio.cli import main
from vessel_studio.io.images import write_mask, write_prob
from vessel_studio import metrics as M


@pytest.fixture
def scored(tmp_path):
    rng = np.random.default_rng(0)
    pred, gt, fov = tmp_path / "pred", tmp_path / "gt", tmp_path / "fov"
    truth = {}
    for k, stem in enumerate(["21_training", "22_training"]):
        g = rng.random((20, 24)) < 0.3
        f = np.ones_like(g)
        f[:3] = False
        prob = np.clip(g * 0.6 + rng.random(g.shape) * 0.5, 0, 1).astype(np.float32)
        write_mask(gt / f"{21 + k}_manual1.png", g)  # DRIVE naming: 21_training <-> 21_manual1
        write_mask(fov / f"{stem}_mask.png", f)
        write_mask(pred / f"{stem}.png", prob >= 0.5)
        write_prob(pred / f"{stem}_prob.tif", prob)
        truth[stem] = (prob, g, f)
    return pred, gt, fov, truth


def test_evaluate_matches_the_metric_functions(scored, tmp_path):
    pred, gt, fov, truth = scored
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["count"] == 2
    rows = {r["name"]: r for r in res["per_image"]}
    for stem, (prob, g, f) in truth.items():
        assert rows[stem]["dice"] == pytest.approx(M.dice(prob >= 0.5, g, fov=f))
        assert rows[stem]["auc"] == pytest.approx(M.auc(prob, g, fov=f), abs=1e-6)
        assert rows[stem]["cldice"] == pytest.approx(M.cldice(prob >= 0.5, g, fov=f))
    assert res["mean"]["dice"] == pytest.approx(np.mean([rows[s]["dice"] for s in truth]))


def test_evaluate_masks_only_and_whole_image(scored, tmp_path):
    pred, gt, _, truth = scored
    for p in pred.glob("*_prob.tif"):
        p.unlink()
    out = tmp_path / "s.json"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    prob, g, _ = truth["21_training"]
    assert res["per_image"][0]["dice"] == pytest.approx(M.dice(prob >= 0.5, g))
    assert res["per_image"][0]["auc"] is None  # no probabilities -> no AUC


def test_evaluate_unpaired_is_an_error(scored, tmp_path, capsys):
    pred, gt, fov, _ = scored
    write_mask(pred / "stranger.png", np.zeros((20, 24), bool))
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 2
    assert "stranger" in capsys.readouterr().err
    assert main(["evaluate", "--pred", str(tmp_path / "none"), "--gt", str(gt)]) == 2


def test_evaluate_bad_threshold_and_json_under_a_file(scored, tmp_path, capsys):
    pred, gt, _, _ = scored
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--threshold", "nan"])
    assert exc.value.code == 2 and "--threshold" in capsys.readouterr().err
    (tmp_path / "afile").write_text("")
    rc = main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--json", str(tmp_path / "afile" / "s.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "afile" in err and "Traceback" not in err


def test_a_float_tiff_without_the_prob_suffix_is_a_probability_map(scored, tmp_path):
    """The GUI's export writes probabilities/<name>.tif: scored as probabilities, not as masks
    (as a mask every p > 0 would be vessel)."""
    _, gt, fov, truth = scored
    probs = tmp_path / "probabilities"
    for stem, (prob, _, _) in truth.items():
        write_prob(probs / f"{stem}.tif", prob)
    out = tmp_path / "s.json"
    assert main(["evaluate", "--pred", str(probs), "--gt", str(gt), "--fov", str(fov), "--json", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())["per_image"]}
    for stem, (prob, g, f) in truth.items():
        assert rows[stem]["dice"] == pytest.approx(M.dice(prob >= 0.5, g, fov=f))
        assert rows[stem]["auc"] == pytest.approx(M.auc(prob, g, fov=f), abs=1e-6)


def test_a_label_that_is_not_binary_is_scored_with_a_one_line_warning(scored, tmp_path, capsys):
    """A 0..255 probability image or a JPEG-compressed mask given as a label: still binarised as
    documented (> 0; a JPEG above half its range), with one warning line on stderr naming the file
    and its number of distinct values. Binary labels: no warning."""
    from PIL import Image

    pred, gt, fov, truth = scored
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 0
    assert "warning" not in capsys.readouterr().err
    prob, g, f = truth["21_training"]
    soft = gt / "21_manual1.png"
    Image.fromarray(np.round(prob * 255).astype(np.uint8)).save(soft)  # a probability image as the label
    values = len(np.unique(np.round(prob * 255).astype(np.uint8)))
    (gt / "22_manual1.png").unlink()
    jpeg = gt / "22_manual1.jpg"
    Image.fromarray((truth["22_training"][1] * 255).astype(np.uint8)).save(jpeg, quality=60)
    out = tmp_path / "s.json"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov), "--json", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("warning")]
    assert warnings[0] == (f"warning: {soft}: label has {values} distinct values, not 2 (a JPEG-compressed mask or "
                           "a probability image?); scored as vessel where > 0")
    assert warnings[1].startswith(f"warning: {jpeg}: label has ") and warnings[1].endswith("where > half its range")
    assert len(warnings) == 2
    rows = {r["name"]: r for r in json.loads(out.read_text())["per_image"]}
    assert rows["21_training"]["dice"] == pytest.approx(M.dice(prob >= 0.5, np.round(prob * 255) > 0, fov=f))


def test_a_predicted_mask_that_is_not_binary_is_scored_with_a_one_line_warning(scored, tmp_path, capsys):
    """A probability map saved as an 8-bit PNG in --pred is read as a mask (vessel where > 0, nearly
    every pixel): scored so, with one warning line naming the file, its number of distinct values and
    the rule, as for labels. A float TIFF (probabilities) and binary masks: no warning."""
    from PIL import Image

    pred, gt, fov, truth = scored
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 0
    assert "warning" not in capsys.readouterr().err  # binary masks beside float probability TIFFs
    eight_bit = tmp_path / "eight-bit"
    eight_bit.mkdir()
    values = {}
    for stem, (prob, _, _) in truth.items():
        arr = np.round(prob * 255).astype(np.uint8)
        Image.fromarray(arr).save(eight_bit / f"{stem}.png")
        values[stem] = len(np.unique(arr))
    out = tmp_path / "s.json"
    assert main(["evaluate", "--pred", str(eight_bit), "--gt", str(gt), "--fov", str(fov), "--json", str(out)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    assert warnings == [f"warning: {eight_bit / (stem + '.png')}: predicted mask has {values[stem]} distinct values, "
                        "not 2 (a probability map saved as an 8-bit image? evaluate reads probabilities from float "
                        "TIFFs in [0, 1]); scored as vessel where > 0" for stem in sorted(truth)]
    rows = {r["name"]: r for r in json.loads(out.read_text())["per_image"]}
    for stem, (prob, g, f) in truth.items():  # scored as documented: > 0
        assert rows[stem]["dice"] == pytest.approx(M.dice(np.round(prob * 255) > 0, g, fov=f))
    floats = tmp_path / "probabilities"  # the same maps as float TIFFs: probabilities, no warning
    for stem, (prob, _, _) in truth.items():
        write_prob(floats / f"{stem}.tif", prob)
    assert main(["evaluate", "--pred", str(floats), "--gt", str(gt), "--fov", str(fov)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_an_empty_label_is_scored_with_a_one_line_warning(scored, capsys):
    """Session 28 QA: a label with no vessel pixels (a blank export, strokes the reader cannot see) was
    scored Dice 0 without a word."""
    pred, gt, fov, _ = scored
    write_mask(gt / "21_manual1.png", np.zeros((20, 24), bool))
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {gt / '21_manual1.png'}: label has no vessel pixels; scored as it is (Dice 0, "
                        "sensitivity and AUC n/a)"]
    only_outside = np.zeros((20, 24), bool)
    only_outside[0, 0] = True  # outside the FOV (its first rows are False)
    write_mask(gt / "21_manual1.png", only_outside)
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 0
    assert f"label has no vessel pixels inside its FOV mask {fov / '21_training_mask.png'}" in capsys.readouterr().err


def test_two_files_of_one_stem_are_an_error_naming_them(scored, capsys):
    """Session 28 QA: a label folder holding ``21_manual1.png`` and ``21_manual1.gif`` (or predictions
    ``a.png`` and ``a.tif``) was scored with whichever came last, without a word."""
    from PIL import Image

    pred, gt, fov, _ = scored
    Image.open(gt / "21_manual1.png").save(gt / "21_manual1.gif")
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 2
    err = capsys.readouterr().err
    assert "--gt holds two files named '21_manual1': 21_manual1.gif and 21_manual1.png" in err
    (gt / "21_manual1.gif").unlink()
    Image.open(pred / "21_training.png").save(pred / "21_training.bmp")
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 2
    assert "--pred holds two files named '21_training'" in capsys.readouterr().err


def test_an_empty_label_with_an_empty_prediction_is_warned_as_scored(scored, tmp_path, capsys):
    """Session 32 QA: the warning said 'Dice 0' where the image was scored Dice 1 (label and prediction
    both empty: metrics' convention), so the line contradicted the table above it."""
    pred, gt, _, _ = scored
    write_mask(gt / "21_manual1.png", np.zeros((20, 24), bool))
    write_mask(pred / "21_training.png", np.zeros((20, 24), bool))
    (pred / "21_training_prob.tif").unlink()
    out = tmp_path / "s.json"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--json", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())["per_image"]}
    assert rows["21_training"]["dice"] == 1.0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {gt / '21_manual1.png'}: label has no vessel pixels; scored as it is "
                        "(Dice 1 as the prediction is empty too, sensitivity and AUC n/a)"]


def test_an_empty_fov_mask_is_an_error_naming_it(scored, tmp_path, capsys):
    """Session 32 QA: an all-black FOV mask scored the image Dice 1.0 (no pixel counted: prediction and
    label both empty inside it) into the mean, with a warning that said 'Dice 0'."""
    pred, gt, fov, _ = scored
    write_mask(fov / "22_training_mask.png", np.zeros((20, 24), bool))
    out = tmp_path / "s.json"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vessel-studio evaluate: error: {fov / '22_training_mask.png'}: FOV mask is empty")
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_json_under_a_file_is_named_before_scoring(scored, tmp_path, capsys):
    """Session 32 QA: ``--json FILE/scores.json`` scored every image, then failed writing with a bare
    '[Errno 17] File exists: FILE', which reads as if the JSON existed."""
    pred, gt, fov, _ = scored
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--json", str(afile / "scores.json")]) == 2
    out, err = capsys.readouterr()
    assert err == (f"vessel-studio evaluate: error: {afile}: is a file, so {afile / 'scores.json'} cannot be "
                   "created there (nothing was changed)\n")
    assert "pooled" not in out  # nothing scored
    assert afile.read_text() == "keep me"


def test_a_fov_mask_that_is_not_binary_is_scored_with_a_one_line_warning(scored, tmp_path, capsys):
    """Session 34 QA: the images folder given as --fov (STARE test images/ for mask/) was scored with the
    photos as FOV masks (every pixel > 0 inside) without a word, as labels and predicted masks with more than
    two values are not. Binary FOV masks: no warning."""
    from vessel_studio.io.images import write_image

    pred, gt, fov, truth = scored
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 0
    assert "warning" not in capsys.readouterr().err
    photo = (np.arange(20 * 24).reshape(20, 24) % 200 + 1).astype(np.uint8)
    write_image(fov / "22_training_mask.png", photo)
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--fov", str(fov)]) == 0
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning")]
    assert warnings == [f"warning: {fov / '22_training_mask.png'}: FOV mask has 200 distinct values, not 2 (the "
                        "images folder given as --fov?); scored as FOV where > 0"]
