"""benchmarks/gen_step_speed.py: both memory formats train, the synthesis ways agree, the report is written."""

from __future__ import annotations

import json


def test_gen_step_speed_report(tmp_path, benchmark_script):
    gss = benchmark_script("gen_step_speed")
    assert gss.main(["--preset", "tiny", "--train-steps", "3", "--warmup", "1", "--turns", "1",
                     "--synth-repeats", "1", "--out", str(tmp_path), "--name", "t"]) == 0
    res = json.loads((tmp_path / "t.json").read_text())
    train, synth = res["training"], res["synthesis"]
    assert set(train["median_s"]) == {"default", "channels_last"} and train["channels_last_over_default"] > 0
    assert set(synth["rows"]) == {"fp32", "channels_last", "bf16"}
    assert synth["rows"]["fp32"]["max_abs_diff_vs_fp32"] == 0
    assert synth["rows"]["channels_last"]["max_abs_diff_vs_fp32"] < 1e-3  # the same network, another layout
    md = (tmp_path / "t.md").read_text()
    assert "channels_last / default" in md and "| bf16 |" in md


def test_channels_last_training_gives_a_contiguous_generator_close_to_the_default(tmp_path):
    import numpy as np
    import torch

    from vessel_studio.events import collect
    from vessel_studio.models.generator import Generator
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator

    rng = np.random.default_rng(0)
    images = [np.clip(rng.standard_normal((64, 64)) * 0.5, -1, 1).astype(np.float32) for _ in range(2)]
    masks = [(rng.random((64, 64)) < 0.1).astype(np.float32) for _ in range(2)]
    cfg = GeneratorTrainConfig.preset("tiny", steps=3)
    a = collect(train_generator(images, masks, cfg))[0]
    b = collect(train_generator(images, masks, cfg, channels_last=True))[0]
    assert all(p.is_contiguous() for p in b.unet.parameters())  # saved and used as before
    # the same training up to rounding: the losses agree closely; Adam turns rounding-level gradient
    # differences on near-zero gradients into steps of up to about the learning rate, hence the atol
    assert abs(a.training["final_loss_mean_last_100"] - b.training["final_loss_mean_last_100"]) < 1e-5
    for (k, pa), pb in zip(a.unet.state_dict().items(), b.unet.state_dict().values()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=2e-3, msg=k)
    back = Generator.load(b.save(tmp_path / "g"))
    assert back.conditioned
