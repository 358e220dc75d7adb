import math

import numpy as np
import pytest

from vessel_studio import metrics as M


def _pair():
    # 4x4: gt has 4 vessel pixels, pred has 3 of them plus 2 false positives
    gt = np.zeros((4, 4), bool)
    gt[0, :] = True
    pred = np.zeros((4, 4), bool)
    pred[0, :3] = True
    pred[2, 1:3] = True
    return pred, gt


def test_confusion_and_basic_metrics_by_hand():
    pred, gt = _pair()
    assert M.confusion(pred, gt) == (3, 2, 1, 10)
    assert M.dice(pred, gt) == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert M.sensitivity(pred, gt) == pytest.approx(3 / 4)
    assert M.specificity(pred, gt) == pytest.approx(10 / 12)
    assert M.accuracy(pred, gt) == pytest.approx(13 / 16)


def test_fov_restricts_counting():
    pred, gt = _pair()
    fov = np.ones((4, 4), bool)
    fov[2:, :] = False  # hides both false positives
    assert M.confusion(pred, gt, fov=fov) == (3, 0, 1, 4)
    assert M.dice(pred, gt, fov=fov) == pytest.approx(6 / 7)
    assert M.specificity(pred, gt, fov=fov) == 1.0


def test_empty_conventions():
    z = np.zeros((5, 5), bool)
    one = z.copy()
    one[2, 2] = True
    assert M.dice(z, z) == 1.0
    assert M.dice(one, z) == 0.0 and M.dice(z, one) == 0.0
    assert math.isnan(M.sensitivity(one, z))
    assert M.specificity(one, z) == pytest.approx(24 / 25)
    assert M.cldice(z, z) == 1.0 and M.cldice(z, one) == 0.0 and M.cldice(one, z) == 0.0
    assert math.isnan(M.auc(np.random.default_rng(0).random((5, 5)), z))
    assert math.isnan(M.specificity(np.ones((5, 5), bool), np.ones((5, 5), bool)))


def test_auc_exact_with_ties():
    # positives: 0.8, 0.4 ; negatives: 0.4, 0.1, 0.2
    prob = np.array([[0.8, 0.4, 0.4, 0.1, 0.2]])
    gt = np.array([[1, 1, 0, 0, 0]])
    # pairs (pos > neg) = 0.8 beats 3, 0.4 beats 2 and ties 1 -> (3 + 2 + 0.5) / 6
    assert M.auc(prob, gt) == pytest.approx(5.5 / 6)
    assert M.auc(1 - prob, gt) == pytest.approx(0.5 / 6)
    assert M.auc(np.full((1, 5), 0.3), gt) == pytest.approx(0.5)


def test_auc_matches_brute_force():
    rng = np.random.default_rng(1)
    prob = np.round(rng.random((12, 12)), 1)  # many ties
    gt = rng.random((12, 12)) < 0.3
    fov = rng.random((12, 12)) < 0.8
    p, g = prob[fov], gt[fov]
    pos, neg = p[g], p[~g]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (pos.size * neg.size)
    assert M.auc(prob, gt, fov=fov) == pytest.approx(brute)


def test_cldice_by_hand():
    gt = np.zeros((9, 9), bool)
    gt[3:6, 1:8] = True  # a 3-px-thick horizontal bar: skeleton = row 4, columns ~1..7
    assert M.cldice(gt, gt) == pytest.approx(1.0)
    pred = np.zeros_like(gt)
    pred[3:6, 1:4] = True  # only the left part
    from skimage.morphology import skeletonize

    sp, sg = skeletonize(pred), skeletonize(gt)
    tprec = (sp & gt).sum() / sp.sum()  # 1: the predicted centre line lies in gt
    tsens = (sg & pred).sum() / sg.sum()
    assert tprec == 1.0 and 0 < tsens < 1
    assert M.cldice(pred, gt) == pytest.approx(2 * tprec * tsens / (tprec + tsens))


def test_score_and_input_checks():
    pred, gt = _pair()
    prob = np.where(pred, 0.9, 0.1)
    s = M.score(prob, gt)
    assert s["dice"] == pytest.approx(M.dice(pred, gt))
    assert set(s) == set(M.NAMES)
    assert math.isnan(M.score(pred, gt)["auc"])  # a bool mask has no probabilities
    with pytest.raises(ValueError, match="shape"):
        M.dice(pred, gt[:3])
    with pytest.raises(ValueError, match="NaN"):
        M.auc(np.full((4, 4), np.nan), gt)
    with pytest.raises(ValueError, match="2-D"):
        M.dice(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_accumulator_mean_std_pooled():
    pred, gt = _pair()
    acc = M.MetricAccumulator()
    acc.add("a", np.where(pred, 0.9, 0.1), gt)
    z = np.zeros((4, 4), bool)
    gt2 = z.copy()
    gt2[1, 1] = True
    acc.add("b", np.where(gt2, 0.7, 0.2).astype(np.float32), gt2)  # perfect
    rows = acc.per_image
    assert [r["name"] for r in rows] == ["a", "b"]
    d_a = 6 / 9
    assert acc.mean()["dice"] == pytest.approx((d_a + 1.0) / 2)
    assert acc.std()["dice"] == pytest.approx(abs(1.0 - d_a) / 2)
    pooled = acc.pooled()
    # pooled confusion: tp 4, fp 2, fn 1
    assert pooled["dice"] == pytest.approx(8 / 11)
    assert pooled["sensitivity"] == pytest.approx(4 / 5)
    assert 0.5 < pooled["auc"] <= 1.0
    summ = acc.summary()
    assert summ["count"] == 2 and summ["pooled"]["dice"] == pytest.approx(8 / 11)


def test_accumulator_skips_nan_in_mean():
    acc = M.MetricAccumulator()
    z = np.zeros((4, 4), bool)
    acc.add("empty", z.astype(np.float32), z)  # sensitivity NaN, dice 1
    pred, gt = _pair()
    acc.add("a", pred.astype(np.float32), gt)
    assert acc.mean()["sensitivity"] == pytest.approx(0.75)


def test_auc_and_pooled_auc_equal_the_ranked_pixels():
    """The AUC counted from the sorted negatives equals ranking every pixel with ties averaged
    (the Mann-Whitney statistic ``rankdata`` gave), per image and pooled, with and without ties."""
    from scipy.stats import rankdata

    def ranked(scores, labels):
        n_pos = int(labels.sum())
        n_neg = labels.size - n_pos
        r = rankdata(scores.astype(np.float64))
        return (r[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

    rng = np.random.default_rng(0)
    acc = M.MetricAccumulator()
    all_p, all_g = [], []
    for q in (None, 10, 1000):
        p = rng.random((120, 90)).astype(np.float32)
        if q:
            p = (np.round(p * q) / q).astype(np.float32)
        g = rng.random(p.shape) < 0.1 + 0.6 * p
        fov = rng.random(p.shape) < 0.8
        assert M.auc(p, g, fov=fov) == pytest.approx(ranked(p[fov], g[fov]), abs=1e-12)
        acc.add(str(q), p, g, fov)
        all_p.append(p[fov])
        all_g.append(g[fov])
    assert acc.pooled()["auc"] == pytest.approx(ranked(np.concatenate(all_p), np.concatenate(all_g)), abs=1e-12)


def test_pooled_auc_keeps_four_bytes_a_pixel(monkeypatch):
    """The accumulator keeps each image's scores once (float32, split by label), not a score and a
    label array per pixel, and pools them without a float64 copy or a rank array (a 15-megapixel
    camera's ten images took 6.5 GB)."""
    monkeypatch.setattr(M, "_AUC_CHUNK", 1000)  # positives compared in chunks
    rng = np.random.default_rng(1)
    acc = M.MetricAccumulator()
    p = rng.random((200, 150)).astype(np.float64)
    g = rng.random(p.shape) < p
    acc.add("a", p, g)
    assert sum(a.nbytes for a in acc._neg + acc._pos) == p.size * 4
    assert acc.pooled()["auc"] == pytest.approx(M.auc(p, g), abs=1e-7)


def test_a_probability_map_given_as_a_mask_is_refused():
    """``dice(pred.prob, gt)`` binarised the map at > 0 (almost every pixel a vessel) without a word;
    masks of any dtype, float 0/1 included, still count as before."""
    rng = np.random.default_rng(0)
    prob = rng.random((16, 16)).astype(np.float32)
    gt = prob > 0.7
    for fn in (M.dice, M.cldice, M.sensitivity, M.specificity, M.accuracy, M.confusion):
        with pytest.raises(ValueError, match="probability map"):
            fn(prob, gt)
    with pytest.raises(ValueError, match="probability map"):
        M.MetricAccumulator().add("x", prob, gt, mask=prob)
    mask = prob >= 0.5
    d = M.dice(mask, gt)
    assert M.dice(mask.astype(np.float32), gt) == d  # 0/1 floats
    assert M.dice(mask.astype(np.uint8) * 255, gt) == d  # a 0/255 PNG
    assert M.dice(mask.astype(np.float64) * 255, gt) == d
    assert M.score(prob, gt)["dice"] == d  # probabilities go to score / the accumulator
    assert M.MetricAccumulator().add("x", prob, gt)["dice"] == d
    assert 0.0 <= M.auc(prob, gt) <= 1.0


def test_accumulator_refuses_what_score_refuses():
    """Session 33 API QA: ``score`` raises on a NaN in the probabilities, but ``MetricAccumulator.add`` counted
    the NaN pixels as background and ranked them into the AUC (an all-NaN map: a row with AUC 0.5, averaged
    into ``mean()`` and pooled); a probability map of another size than its truth, given with a separate
    ``mask``, ended in a bare IndexError."""
    rng = np.random.default_rng(0)
    prob = rng.random((20, 20)).astype(np.float32)
    gt = prob > 0.7
    nan_prob = prob.copy()
    nan_prob[3, 4] = np.nan
    with pytest.raises(ValueError, match="prob contains NaN"):
        M.score(nan_prob, gt)
    acc = M.MetricAccumulator()
    with pytest.raises(ValueError, match="prob contains NaN"):
        acc.add("nan", nan_prob, gt)
    with pytest.raises(ValueError, match=r"prob shape \(10, 20\) does not match gt shape \(20, 20\)"):
        acc.add("small", prob[:10], gt, mask=gt)
    assert len(acc) == 0 and not acc._neg  # nothing of the refused images was kept
    acc.add("ok", prob, gt)
    assert acc.mean()["auc"] == acc.pooled()["auc"] == 1.0
