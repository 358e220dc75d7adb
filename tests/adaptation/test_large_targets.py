"""Adaptation with many large target images: memory bounded per round, probability maps stored
losslessly compressed, older uncompressed projects continued as before (benchmarks/results/hires-adapt/)."""

from __future__ import annotations

import shutil
import weakref

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, adapt
from vessel_studio.events import collect
from vessel_studio.store import Project

ensure_synthesis()

TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1)


def _old_round_signals(probs, fovs, previous=None):
    """``selection.round_signals`` as it was before it took one image at a time."""
    from vessel_studio.adaptation.selection import confidence_stats, dice_agreement, fragmentation

    stats = [confidence_stats(p, f) for p, f in zip(probs, fovs)]
    out = {k: float(np.mean([s[k] for s in stats])) for k in ("confidence", "entropy", "vessel_fraction")}
    out["fragmentation"] = fragmentation(probs, fovs)
    if previous is not None:
        out["agreement"] = float(np.mean([dice_agreement(a, b, f) for a, b, f in zip(probs, previous, fovs)]))
    return out


def test_signals_one_image_at_a_time_are_the_same_numbers():
    from vessel_studio.adaptation.selection import SignalAccumulator, round_signals

    rng = np.random.default_rng(3)
    probs = [rng.random((40 + i, 50), dtype=np.float32) ** 3 for i in range(4)]
    prev = [rng.random(p.shape, dtype=np.float32) ** 2 for p in probs]
    fovs = [rng.random(p.shape) > 0.2 for p in probs]
    fovs[1] = None
    acc = SignalAccumulator()
    for p, f, q in zip(probs, fovs, prev):
        acc.add(p, f, q)
    want = _old_round_signals(probs, fovs, prev)
    assert acc.result() == want  # exactly: the committed benchmarks' signals must not move
    assert round_signals(probs, fovs, prev) == want
    assert round_signals(probs, fovs) == _old_round_signals(probs, fovs)


def test_targets_keep_model_scale_arrays_and_a_packed_fov(tmp_path):
    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.preprocess import Preprocessing

    proj, _, _ = make_setup(tmp_path, target_shape=(61, 67))
    prep = Preprocessing.for_modality("octa")
    for t in load_targets(proj, prep):
        assert not hasattr(t, "image")  # the original image is not kept
        want = estimate_fov(proj.read_image(t.id), modality="octa")
        assert t.fov.dtype == bool and np.array_equal(t.fov, want) and t.shape == want.shape
        assert t._fov_bits.nbytes == (want.size + 7) // 8


def _track_full_resolution_maps(monkeypatch):
    """Count the full-resolution maps (read from the round's TIFFs, or made by ``predict_target``)
    that are alive at once; returns a dict whose ``max`` is that count."""
    import vessel_studio.adaptation.rounds as rounds

    alive: list = []
    seen = {"max": 0, "made": 0}

    def track(a):
        alive.append(weakref.ref(a))
        seen["made"] += 1
        seen["max"] = max(seen["max"], sum(r() is not None for r in alive))
        return a

    read = rounds.MapsOnDisk.__getitem__
    predict = rounds.predict_target
    monkeypatch.setattr(rounds.MapsOnDisk, "__getitem__", lambda self, key: track(read(self, key)))
    monkeypatch.setattr(rounds, "predict_target", lambda *a, **k: (lambda pm, po: (pm, track(po)))(*predict(*a, **k)))
    return seen


@pytest.mark.parametrize("source_weight", [0.0, 0.5])
def test_a_round_holds_a_few_full_resolution_maps_whatever_the_image_count(tmp_path, monkeypatch, source_weight):
    """Before, a round held every target image's full-resolution maps at once (its own, the previous
    round's or the source-only ones, the delivered ones: ~3 x 58 MB per 15-megapixel image), so memory
    grew with the number of images; now it reads them one image at a time."""
    proj, bundle, _ = make_setup(tmp_path, n_target=7, target_shape=(48, 48))
    seen = _track_full_resolution_maps(monkeypatch)
    res, _ = collect(adapt(proj, TINY.replace(rounds=1, source_weight=source_weight), source=bundle))
    assert [r.index for r in res.rounds] == [0, 1]
    assert seen["made"] > 2 * 7 and seen["max"] <= 4


def test_round_maps_are_compressed_losslessly_and_older_projects_continue_the_same(tmp_path):
    """A round's maps are zlib-compressed TIFFs (~1.7x smaller for a vessel map); a project whose maps
    were written uncompressed (before this change) continues to the same next round, bit for bit."""
    import tifffile

    from vessel_studio.io.images import read_prob

    proj, bundle, _ = make_setup(tmp_path, n_target=3)
    collect(adapt(proj, TINY.replace(rounds=0, source_weight=0.5), source=bundle))
    maps = sorted((proj.folder / "rounds" / "round-000").glob("pseudo*/*.tif"))
    assert len(maps) == 6  # pseudo/ and pseudo-chain/
    for p in maps:
        with tifffile.TiffFile(p) as tif:
            assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    old = tmp_path / "old-project"
    shutil.copytree(proj.folder, old)
    for p in sorted((old / "rounds" / "round-000").glob("pseudo*/*.tif")):
        a = read_prob(p)
        tifffile.imwrite(p, a, photometric="minisblack")  # as write_prob wrote them before
        with tifffile.TiffFile(p) as tif:
            assert tif.pages[0].compression == tifffile.COMPRESSION.NONE
        np.testing.assert_array_equal(read_prob(p), a)
    old_proj = Project.open(old)
    for proj_ in (proj, old_proj):
        collect(adapt(proj_, TINY.replace(rounds=1, source_weight=0.5), source=bundle))
    a, b = Project.open(proj.folder), Project.open(old)
    ra, rb = a.get_round(1), b.get_round(1)
    strip = lambda m: {k: v for k, v in m.items() if not k.startswith("seconds_")}  # noqa: E731
    assert strip(ra.metrics) == strip(rb.metrics)
    from safetensors.numpy import load_file

    for part in ("segmenter", "segmenter-chain", "generator"):  # (the folders' hashes include their cards)
        ta, tb = (load_file(str(x.round_dir(1) / part / "model.safetensors")) for x in (a, b))
        assert ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta)
    for rec in a.images:
        for chain in (False, True):
            np.testing.assert_array_equal(a.prediction(rec.id, 1, chain=chain), b.prediction(rec.id, 1, chain=chain))


def test_corrections_resized_once_give_the_same_round_labels(tmp_path):
    from vessel_studio.adaptation.job import _model_scale_corrections, load_targets
    from vessel_studio.adaptation.rounds import RoundContext, round_labels
    from vessel_studio.preprocess import Preprocessing

    proj, _, _ = make_setup(tmp_path, n_target=3, target_shape=(70, 90))
    prep = Preprocessing.for_modality("octa", fov_diameter=40)  # model scale != original scale
    targets = load_targets(proj, prep)
    for t in targets[:2]:
        mask = np.zeros(t.shape, bool)
        mask[10:20, 5:60] = True
        proj.save_correction(t.id, mask)
    full = proj.corrections()
    small = _model_scale_corrections(proj, targets)
    assert set(small) == set(full) == set(proj.correction_ids()) and len(full) == 2
    assert all(small[i].shape != full[i].shape for i in full)
    labels = [round_labels(RoundContext(cfg=TINY, device=None, work=tmp_path, index=0, targets=targets,
                                        target_prep=prep, source_generator=None, source_segmenter=None,
                                        source=None, corrections=c)) for c in (full, small)]
    for x, y in zip(*labels):
        assert (x is None and y is None) or np.array_equal(x, y)
