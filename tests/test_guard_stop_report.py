"""The retrospective guard-as-stopping-rule report (benchmarks/guard_stop_report.py)."""


def test_stops_before_the_first_flagged_round(benchmark_script):
    gs = benchmark_script("guard_stop_report")
    rows = [{"round": 0, "vessel_fraction": 0.10, "source_vessel_fraction": 0.12},
            {"round": 1, "vessel_fraction": 0.08}, {"round": 2, "vessel_fraction": 0.02},  # 0.02 <= 0.25 * 0.12
            {"round": 3, "vessel_fraction": 0.01}]
    g = gs.guard_row("run", rows, {0: 0.5, 1: 0.7, 2: 0.6, 3: 0.4})
    assert g["flagged"] == [2, 3] and g["kind"] == ["collapse"]
    assert g["stopped"] == 1 and g["stopped_dice"] == 0.7 and g["last"] == 0.4


def test_no_flag_no_row_and_a_flagged_round_0_alone_changes_nothing(benchmark_script):
    gs = benchmark_script("guard_stop_report")
    ok = [{"round": 0, "vessel_fraction": 0.10, "source_vessel_fraction": 0.12}, {"round": 1, "vessel_fraction": 0.09}]
    assert gs.guard_row("run", ok, {0: 0.5, 1: 0.6}) is None
    bad0 = [{"round": 0, "vessel_fraction": 0.40}, {"round": 1, "vessel_fraction": 0.20}]  # flood at round 0 only
    g = gs.guard_row("run", bad0, {0: 0.1, 1: 0.3})
    assert g["flagged"] == [0] and g["kind"] == ["flood"] and g["stopped"] == 1
