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
