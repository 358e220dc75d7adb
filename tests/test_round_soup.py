"""The round-soup screen's average (benchmarks/round_soup_eval.py) is the uniform mean of its members."""
import torch


def test_soup_is_the_uniform_mean(benchmark_script, tmp_path):
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    soup = benchmark_script("round_soup_eval").soup
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    folders, states = [], []
    for i in range(3):
        torch.manual_seed(i)
        s = Segmenter.create(SegmenterConfig(channels=(8, 16)), prep)
        with torch.no_grad():
            for m in s.net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean += float(i)
                    m.num_batches_tracked += i + 1
        folders.append(s.save(tmp_path / f"round-{i}"))
        states.append(Segmenter.load(folders[-1]).net.state_dict())
    out = soup(folders).net.state_dict()
    for k, v in out.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, sum(s[k] for s in states) / 3, msg=k)
        else:  # integer buffers come from the last member
            assert torch.equal(v, states[-1][k]), k
