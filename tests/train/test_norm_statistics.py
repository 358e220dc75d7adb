"""reestimate_norm_statistics: BatchNorm running statistics from unlabelled images (AdaBN)."""
import numpy as np
import pytest
import torch


def _seg(norm="batch", seed=0):
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    torch.manual_seed(seed)
    return Segmenter.create(SegmenterConfig(channels=(8, 16), norm=norm),
                            Preprocessing.for_modality("fundus", fov_diameter=None))


def _images(n=3, shape=(48, 56), shift=2.0):
    rng = np.random.default_rng(1)
    return [(rng.normal(size=shape) * 1.5 + shift).astype(np.float32) for _ in range(n)]


def test_first_norm_gets_the_mean_and_variance_of_its_inputs():
    from vessel_studio.train.segmenter import reestimate_norm_statistics

    seg = _seg()
    first = seg.net.down[0][0].n1  # the first BatchNorm the stem's output goes through
    seen = []
    hook = first.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().clone()))
    weights = {k: v.clone() for k, v in seg.net.named_parameters()}
    reestimate_norm_statistics(seg, _images(), crop=16, batch_size=4, batches=6, seed=3)
    hook.remove()
    assert len(seen) == 6
    # cumulative average of the batches' means and (unbiased) variances, per channel
    mean = torch.stack([x.mean(dim=(0, 2, 3)) for x in seen]).mean(0)
    var = torch.stack([x.var(dim=(0, 2, 3), unbiased=True) for x in seen]).mean(0)
    torch.testing.assert_close(first.running_mean, mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(first.running_var, var, rtol=1e-4, atol=1e-5)
    assert first.momentum == 0.1 and not seg.net.training
    for k, v in seg.net.named_parameters():  # no weight changes
        assert torch.equal(v, weights[k]), k


def test_deterministic_and_changes_predictions():
    from vessel_studio.train.segmenter import reestimate_norm_statistics

    x = _images(1)[0]
    a, b = _seg(), _seg()
    before = a.predict_logits_prepared(x)  # leaves a channels-last: the statistics must not depend on it
    for s in (a, b):
        reestimate_norm_statistics(s, _images(), crop=16, batch_size=4, batches=3, seed=5)
    assert all(torch.equal(u, v) for u, v in zip(a.net.state_dict().values(), b.net.state_dict().values()))
    after = a.predict_logits_prepared(x)
    assert not np.allclose(before, after)


def test_crops_come_from_inside_the_fov():
    from vessel_studio.train.segmenter import reestimate_norm_statistics

    imgs = [np.zeros((64, 64), np.float32)]
    imgs[0][20:44, 20:44] = 5.0  # bright square = the FOV, zeros outside
    fov = np.zeros((64, 64), bool)
    fov[20:44, 20:44] = True
    seg = _seg()
    seen = []
    seg.net.stem.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    reestimate_norm_statistics(seg, imgs, [fov], crop=8, batch_size=8, batches=20, seed=0)
    frac_inside = float(torch.cat(seen).gt(0).float().mean())
    assert frac_inside > 0.8  # fov_bias 0.9 of centres inside; crops of 8 px are mostly inside the square


def test_group_norm_segmenter_is_unchanged_and_errors_are_clear():
    from vessel_studio.train.segmenter import reestimate_norm_statistics

    g = _seg("group")
    state = {k: v.clone() for k, v in g.net.state_dict().items()}
    reestimate_norm_statistics(g, _images(), crop=16, batches=2)
    assert all(torch.equal(v, state[k]) for k, v in g.net.state_dict().items())
    with pytest.raises(ValueError, match="no images"):
        reestimate_norm_statistics(_seg(), [], crop=16, batches=1)
    with pytest.raises(ValueError, match="2 images but 1 FOVs"):
        reestimate_norm_statistics(_seg(), _images(2), [None], crop=16, batches=1)


def test_job_reports_progress_and_a_cancel_restores_the_old_statistics():
    from vessel_studio.train.segmenter import reestimate_norm_statistics_job

    seg = _seg()
    before = {k: v.clone() for k, v in seg.net.state_dict().items()}
    job = reestimate_norm_statistics_job(seg, _images(), crop=16, batch_size=2, batches=5)
    events = [next(job), next(job)]
    assert [(e.stage, e.step, e.total) for e in events] == [("renormalize", 1, 5), ("renormalize", 2, 5)]
    job.close()  # cancelled between batches
    assert all(torch.equal(v, before[k]) for k, v in seg.net.state_dict().items())
    assert seg.net.down[0][0].n1.momentum == 0.1
