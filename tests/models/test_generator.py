"""Generator model: config, conditioning channel, save/load, clear errors on bad folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vessel_studio.models.folder import ModelFolderError
from vessel_studio.models.generator import Generator, GeneratorConfig, mask_channel, pad_to_multiple


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kw) -> Generator:
    torch.manual_seed(0)
    return Generator(config=GeneratorConfig.preset("tiny", **kw), conditioned=True)


def test_presets_and_dict_roundtrip():
    for name in ("tiny", "cpu", "gpu"):
        cfg = GeneratorConfig.preset(name)
        assert GeneratorConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert GeneratorConfig.preset("gpu").block_out_channels == (64, 128, 256, 256)
    assert GeneratorConfig.preset("tiny").multiple == 2
    with pytest.raises(ValueError, match="unknown generator preset"):
        GeneratorConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown fields"):
        GeneratorConfig.from_dict({"blocks": [1]})


def test_schedule_is_the_papers():
    g = tiny()
    s = g.noise_scheduler()
    assert s.config.num_train_timesteps == 1000 and s.config.beta_schedule == "linear"
    assert s.config.prediction_type == "epsilon"
    assert float(s.betas[0]) == pytest.approx(1e-4) and float(s.betas[-1]) == pytest.approx(0.02)


def test_mask_channel_values():
    x = torch.zeros(2, 1, 4, 4)
    assert torch.equal(mask_channel(None, x), torch.zeros_like(x))
    m = np.array([[[0.0, 0.5, 1.0, 1.0]] * 4] * 2, np.float32)
    c = mask_channel(m, x)
    assert c.shape == x.shape
    assert torch.allclose(c[0, 0, 0], torch.tensor([-1.0, 0.0, 1.0, 1.0]))
    nan = np.full((2, 4, 4), np.nan, np.float32)
    assert torch.equal(mask_channel(nan, x), torch.zeros_like(x))  # "no mask" per sample
    with pytest.raises(ValueError, match="does not match"):
        mask_channel(np.zeros((2, 4, 5)), x)


def test_eps_conditioned_and_unconditional_differ():
    g = tiny()
    x = torch.randn(2, 1, 16, 16)
    m = (torch.rand(2, 1, 16, 16) > 0.5).float()
    with torch.no_grad():
        a, b = g.eps(x, 100, m), g.eps(x, 100, None)
    assert a.shape == (2, 1, 16, 16)
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="multiples of 2"):
        g.eps(torch.randn(1, 1, 15, 16), 10)


def test_pad_to_multiple():
    x = torch.arange(15.0).reshape(1, 1, 3, 5)
    p, (h, w) = pad_to_multiple(x, 4)
    assert p.shape == (1, 1, 4, 8) and (h, w) == (3, 5)
    assert torch.equal(p[..., :3, :5], x)


def test_save_load_equal(tmp_path):
    g = tiny()
    g.training = {"note": "test"}
    g.save(tmp_path / "gen")
    h = Generator.load(tmp_path / "gen")
    assert h.config == g.config and h.conditioned and h.training == {"note": "test"}
    for (k, a), (_, b) in zip(g.unet.state_dict().items(), h.unet.state_dict().items()):
        assert torch.equal(a, b), k
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(g.eps(x, 5), h.eps(x, 5))
    g.save(tmp_path / "half", half=True)
    h2 = Generator.load(tmp_path / "half")
    with torch.no_grad():
        assert torch.allclose(g.eps(x, 5), h2.eps(x, 5), atol=5e-2)


def test_preprocessing_is_saved(tmp_path):
    from vessel_studio.preprocess import Preprocessing

    g = tiny()
    g.preprocessing = Preprocessing.for_modality("octa")
    g.save(tmp_path / "g")
    assert Generator.load(tmp_path / "g").preprocessing == Preprocessing.for_modality("octa")


def test_load_errors_name_the_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFolderError, match="empty.*no config.json"):
        Generator.load(empty)
    with pytest.raises(ModelFolderError, match="no such model folder"):
        Generator.load(tmp_path / "absent")

    g = tiny()
    g.save(tmp_path / "g")
    cfg_path = tmp_path / "g" / "config.json"
    cfg = json.loads(cfg_path.read_text())

    # config that does not match the weights
    cfg2 = dict(cfg, architecture=dict(cfg["architecture"], block_out_channels=[16, 32]))
    cfg_path.write_text(json.dumps(cfg2))
    with pytest.raises(ModelFolderError, match=r"g: weights do not match the config"):
        Generator.load(tmp_path / "g")
    cfg2 = dict(cfg, architecture=dict(cfg["architecture"], block_out_channels=[40_000, 80_000]))
    cfg_path.write_text(json.dumps(cfg2))  # too big to build: refused on the meta device first
    with pytest.raises(ModelFolderError, match=r"g: weights do not match the config"):
        Generator.load(tmp_path / "g")

    # config without an architecture
    cfg3 = {k: v for k, v in cfg.items() if k != "architecture"}
    cfg_path.write_text(json.dumps(cfg3))
    with pytest.raises(ModelFolderError, match="no 'architecture'"):
        Generator.load(tmp_path / "g")

    # invalid architecture values
    cfg_path.write_text(json.dumps(dict(cfg, architecture=dict(cfg["architecture"], in_channels=3))))
    with pytest.raises(ModelFolderError, match="invalid generator architecture"):
        Generator.load(tmp_path / "g")

    # a segmenter folder is not a generator
    cfg_path.write_text(json.dumps(dict(cfg, kind="segmenter")))
    with pytest.raises(ModelFolderError, match="expected a generator"):
        Generator.load(tmp_path / "g")


def test_wrong_shape_weights(tmp_path):
    from safetensors.torch import save_file

    g = tiny()
    g.save(tmp_path / "g")
    state = {k: v.clone() for k, v in g.unet.state_dict().items()}
    key = next(k for k in state if k.endswith("conv_in.weight"))
    state[key] = torch.zeros(8, 3, 3, 3)
    save_file(state, str(tmp_path / "g" / "model.safetensors"))
    with pytest.raises(ModelFolderError, match="wrong shape.*conv_in"):
        Generator.load(tmp_path / "g")


def test_bundled_fundus_generator_loads():
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.resources import models_dir

    if not (models_dir() / "fundus-generator" / "config.json").is_file():
        pytest.skip("bundled fundus-generator not present")
    g = Generator.load("fundus-generator")
    assert g.conditioned and g.preprocessing == Preprocessing.for_modality("fundus")
    assert g.config.block_out_channels == (32, 64, 128)
    assert (models_dir() / "fundus-generator" / "model.safetensors").stat().st_size < 50 * 2**20
    with torch.no_grad():
        e = g.eps(torch.zeros(1, 1, 16, 16), 10, torch.zeros(1, 1, 16, 16))
    assert torch.isfinite(e).all()


def test_channels_last_eps_is_the_same_network_and_saves_as_before(tmp_path):
    import torch

    from vessel_studio.models.generator import Generator, GeneratorConfig

    torch.manual_seed(0)
    gen = Generator(config=GeneratorConfig.preset("tiny"), conditioned=True)
    x = torch.randn(3, 1, 32, 32)
    m = (torch.rand(3, 1, 32, 32) < 0.2).float()
    with torch.no_grad():
        plain = gen.eps(x, 300, m)
        gen.use_channels_last()
        assert gen.channels_last and gen.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
        fast = gen.eps(x, 300, m)
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-5)
    back = Generator.load(gen.save(tmp_path / "g"))
    assert not back.channels_last
    for (k, a), b in zip(gen.unet.state_dict().items(), back.unet.state_dict().values()):
        assert torch.equal(a, b), k
    gen.use_channels_last(False)
    assert gen.unet.conv_in.weight.is_contiguous()
