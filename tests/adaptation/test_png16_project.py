"""A project that holds 16-bit colour or gray+alpha PNGs, adapted while Vessel Studio read them at 8 bits (their high
bytes; before sessions 34 / 35), goes on with the code that reads their 16 bits (session 35): its earlier rounds' maps
stay readable and exportable, and a new round adapts on the images' full values. What the change does to a real
project (session 35, DRIVE test 01-03 stored as 12-bit PNGs, rounds 0-1 with the code before 0a9a4e9, the tiny
preset): the same round-1 segmenter's masks moved Dice 0.82 / 0.87 from the 8-bit reading's and scored 0.825 / 0.824
against the 1st observer instead of 0.743 / 0.774; the next round's agreement was 0.868 (0.962 with the 8-bit
reading): the images' content is the same, standardised per image (``preprocess.prepare``), only less coarse."""

from __future__ import annotations

import numpy as np

from _adapt_fixtures import ensure_synthesis, make_source_models

from vessel_studio.adaptation import AdaptConfig, SourceBundle, adapt
from vessel_studio.events import collect
from vessel_studio.io import images as io_images
from vessel_studio.io.images import read_image
from vessel_studio.store import Project

ensure_synthesis()

TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1, rounds=1)


def test_project_adapted_at_8_bits_goes_on_at_16(tmp_path, monkeypatch, write_png16):
    from vessel_studio.gui import tasks
    from vessel_studio.samples import write_sample_images

    src = write_sample_images(tmp_path / "src", n=2, modality="fundus", seed=10, shape=(96, 96))
    tgt = write_sample_images(tmp_path / "tgt", n=3, modality="octa", seed=20, shape=(64, 64))
    folder = tmp_path / "t16"
    folder.mkdir()
    full = {}
    for k, f in enumerate(sorted(tgt.images)):
        a8, _ = read_image(f)
        g = a8 if a8.ndim == 2 else a8[..., 1]
        v = g.astype(np.uint16) * 16 + g // 16  # a 12-bit device: 0-4095
        kinds = [(np.stack([v, v, v], -1), 2, False), (np.stack([v, np.full_like(v, 65535)], -1), 4, True),
                 (np.stack([v, v, v], -1), 2, True)]
        a, colour_type, interlaced = kinds[k]
        write_png16(folder / f"scan{k}.png", a, colour_type, interlaced=interlaced)
        full[f"scan{k}"] = v
    sdir, gdir = make_source_models(tmp_path)
    bundle = SourceBundle(segmenter=sdir, generator=gdir, modality="fundus",
                          images=list(zip(src.images, src.labels, src.fovs)))
    proj = Project.create(tmp_path / "proj", modality="octa")
    proj.add_images([folder])

    # rounds 0-1 as the code before read them: Pillow's 8 bits (the reading still taken should Pillow's internals
    # differ), values 0-15
    with monkeypatch.context() as m:
        m.setattr(io_images, "_png_colour_16", lambda *a: None)
        assert max(int(proj.read_image(r.id).max()) for r in proj.images) <= 15
        collect(adapt(proj, TINY, source=bundle))
    proj = Project.open(proj.folder)
    assert [r.index for r in proj.rounds] == [0, 1]
    before = {r.id: proj.prediction(r.id) for r in proj.images}  # round 1's maps

    # the same project now: its files read at 16 bits, a new round adapts, round 1's maps are as they were
    for rec in proj.images:
        arr = proj.read_image(rec.id)
        assert arr.dtype == np.uint16 and np.array_equal(arr if arr.ndim == 2 else arr[..., 0], full[rec.name])
    result, _ = collect(adapt(proj, TINY, source=bundle))
    proj = Project.open(proj.folder)
    assert [r.index for r in proj.rounds] == [0, 1, 2] and [r.index for r in result.rounds] == [2]
    for rec in proj.images:
        p = proj.prediction(rec.id)
        assert p.shape == rec.shape[:2] and np.isfinite(p).all() and 0 <= p.min() <= p.max() <= 1
        assert np.array_equal(proj.prediction(rec.id, round=1), before[rec.id])
    assert np.isfinite(proj.rounds[2].metrics["agreement"])
    for rnd in (1, 2):
        out = collect(tasks.export(proj, tmp_path / f"export-{rnd}", round=rnd))[0]
        assert len(list((out / "masks").glob("*.png"))) == 3 and (out / "measures.csv").is_file()
