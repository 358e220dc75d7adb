"""benchmarks/reproduce_check.py: equal scores pass, a changed or missing score fails."""
import json


def test_reproduce_check(benchmark_script, tmp_path, capsys):
    rc = benchmark_script("reproduce_check")
    report = {"per_seed": {"1": {"source-only": {"mean": {"dice": 0.66, "auc": 0.95}},
                                 "adapted": {"rounds": [{"round": 0, "scores": {"dice": 0.70, "auc": 0.96}},
                                                        {"round": 1, "scores": {"dice": 0.69, "auc": 0.96}}]}}}}
    rep = tmp_path / "results.json"
    rep.write_text(json.dumps(report))
    run = tmp_path / "drive-chase" / "seed-1"
    (run / "scores").mkdir(parents=True)
    for name, mean in (("source-only", {"dice": 0.66, "auc": 0.95}), ("adapted-round-0", {"dice": 0.70, "auc": 0.96}),
                       ("adapted-round-1", {"dice": 0.69, "auc": 0.96})):
        (run / "scores" / f"{name}.json").write_text(json.dumps({"mean": mean}))
    assert rc.main([str(rep), str(run)]) == 0
    assert "6 scores compared; all equal" in capsys.readouterr().out
    (run / "scores" / "adapted-round-1.json").write_text(json.dumps({"mean": {"dice": 0.6901, "auc": 0.96}}))
    assert rc.main([str(rep), str(run)]) == 1
    assert "seed-1 adapted-round-1 dice: 0.690100 != committed 0.690000" in capsys.readouterr().out
    (run / "scores" / "source-only.json").unlink()
    assert rc.main([str(rep), str(run)]) == 1
    assert "no " in capsys.readouterr().out
    assert rc.main([str(rep), str(tmp_path / "drive-chase" / "seed-7")]) == 1  # no such seed in the report
