"""benchmarks/mirror_eval.py finds a seed folder's segmenters and loads them as the benchmark scores them."""
import torch


def test_segmenters_of_a_seed_folder(benchmark_script, tmp_path):
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    me = benchmark_script("mirror_eval")
    run = tmp_path / "drive-octa500" / "seed-0"
    torch.manual_seed(0)
    seg = Segmenter.create(SegmenterConfig(channels=(8, 16)), Preprocessing.for_modality("fundus"))
    for folder in ("source-only", "project/rounds/round-000/segmenter", "project/rounds/round-008/segmenter"):
        seg.save(run / folder)
    found = me.segmenters_of(run)
    assert set(found) == {"source-only", "adapted"}
    assert found["adapted"] == (run / "project/rounds/round-008/segmenter", run / "scores" / "adapted-round-8.json")
    assert found["source-only"] == (run / "source-only", run / "scores" / "source-only.json")
    # the source-only segmenter is scored with the target's preprocessing, as the benchmark does
    so = me.load_as_scored(run / "source-only", "source-only", "drive-octa500")
    assert so.preprocessing == Preprocessing.for_modality("octa")
    ad = me.load_as_scored(run / "project/rounds/round-008/segmenter", "adapted", "drive-octa500")
    assert ad.preprocessing == Preprocessing.for_modality("fundus")
    assert me.weights_hash(run / "source-only") == me.weights_hash(run / "project/rounds/round-008/segmenter")


def test_gap_closed_uses_runs_with_all_three_parts(benchmark_script):
    me = benchmark_script("mirror_eval")

    def row(run, part, plain, mirrored):
        return {"run": run, "pair": "drive-chase", "part": part,
                "plain": dict.fromkeys(("dice", "cldice", "auc"), plain),
                "mirrored": dict.fromkeys(("dice", "cldice", "auc"), mirrored)}

    rows = [row("a", "source-only", 0.6, 0.61), row("a", "oracle", 0.8, 0.81), row("a", "adapted", 0.7, 0.72),
            row("b", "source-only", 0.6, 0.6), row("b", "adapted", 0.9, 0.9)]  # b has no oracle: left out
    g = me.gap_closed({"segmenters": {str(i): r for i, r in enumerate(rows)}})["drive-chase"]
    assert g["runs"] == 1
    assert abs(g["plain"]["gap"] - 0.5) < 1e-9 and abs(g["mirrored"]["gap"] - 0.55) < 1e-9
    text = me.markdown({"segmenters": {str(i): r | {"matches_cache": True} for i, r in enumerate(rows[:3])},
                        "timing": {}}, "cmd")
    assert "| drive-chase | 1 |" in text


def test_weights_hash_is_of_the_tensors(benchmark_script, tmp_path):
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    me = benchmark_script("mirror_eval")
    torch.manual_seed(0)
    seg = Segmenter.create(SegmenterConfig(channels=(8, 16)), Preprocessing.for_modality("fundus"))
    hashes = {me.weights_hash(seg.save(tmp_path / f"m{i}")) for i in range(6)}
    assert len(hashes) == 1  # saved six times: one hash, whatever the header's order
    with torch.no_grad():
        next(seg.net.parameters()).view(-1)[0] += 1.0
    assert me.weights_hash(seg.save(tmp_path / "changed")) not in hashes
