"""The NAS-Bench-201 report: the main tables and the parallel-quality table, from hand-made rows."""

import argparse

import pytest

from benchmarks.nb201_report import to_markdown
from benchmarks.run_nb201 import main

ARGS = argparse.Namespace(
    dataset="cifar10", seeds=2, seeds_for={"b": 1}, budgets=[10, 20], cost=["model_size"],
    workers=1, in_flight=4, in_flight_samplers=["a"],
)  # fmt: skip
INFO = {"command": "cmd", "date": "today", "wall": 1.0, "skipped": []}


def _row(name, seed, hv, in_flight=1, proposals=20):
    return {"name": name, "cost": "model_size", "seed": seed, "in_flight": in_flight, "hv": hv,
            "calls": 20, "proposals": proposals, "distinct_fp": 18, "distinct_str": 19,
            "seconds": 2.0}  # fmt: skip


def test_report_pairs_the_in_flight_runs_with_the_sequential_ones_by_seed():
    results = [
        _row("a", 0, [0.5, 0.7]),
        _row("a", 1, [0.6, 0.9]),
        _row("a", 1, [0.6, 0.8], in_flight=4),
        _row("a", 0, [0.4, 0.7], in_flight=4),
        _row("b", 0, [0.3, 0.4], proposals=50),
    ]
    lines = to_markdown(results, ["a", "b"], ARGS, INFO).splitlines()
    assert "- Seeds: 0..1 per sampler and cost; fewer: b 0..0" in lines
    # The main table holds the sequential runs only.
    assert "| a | 2 | 0.550 ± 0.071 | 0.800 ± 0.141 | 18.0 / 19.0 | 20 | 2.00 |" in lines
    assert "| b | 1 | 0.300 ± 0.000 | 0.400 ± 0.000 | 18.0 / 19.0 | 20 | 2.00 |" in lines
    assert (
        "Repeats, not evaluated: b asked 50 trials for 20 evaluations (mean over seeds)." in lines
    )
    parallel = lines[lines.index("## Parallel quality: sequential vs 4 trials in flight") :]
    assert "| a | 1 | 2 | 0.550 ± 0.071 | 0.800 ± 0.141 | 2.00 |" in parallel
    assert "| a | 4 | 2 | 0.500 ± 0.141 | 0.750 ± 0.071 | 2.00 |" in parallel
    # Seed 0: -0.1, 0.0; seed 1: 0.0, -0.1.
    assert "| a | Δ | 2 | -0.050 ± 0.071 | -0.050 ± 0.071 | |" in parallel


def test_the_command_writes_both_tables(tmp_path):
    out = tmp_path / "report.md"
    main(["--samplers", "random", "--seeds", "1", "--budgets", "5,10", "--cost", "latency",
          "--in-flight", "3", "--in-flight-samplers", "random", "--workers", "1",
          "--out", str(out)])  # fmt: skip
    lines = out.read_text().splitlines()
    assert sum(line.startswith("| random | 1 | ") for line in lines) == 2  # main and sequential
    assert any(line.startswith("| random | 3 | 1 | ") for line in lines)
    # Random sampling ignores the pending trials: in flight changes nothing.
    assert "| random | Δ | 1 | +0.000 ± 0.000 | +0.000 ± 0.000 | |" in lines


def test_without_in_flight_each_run_is_made_once(tmp_path):
    out = tmp_path / "report.md"
    main(["--samplers", "random,pymoo-nsga2", "--seeds", "2", "--seeds-for", "pymoo-nsga2=1",
          "--budgets", "5", "--cost", "latency", "--workers", "1", "--out", str(out)])  # fmt: skip
    text = out.read_text()
    assert "| random | 2 | " in text and "| pymoo-nsga2 | 1 | " in text
    assert "Parallel quality" not in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds-for", "gp=0"], "--seeds-for: 'gp=0' is not NAME=N"),
        (["--in-flight", "4", "--in-flight-samplers", "pymoo-nsga2"], "are not Optuna samplers"),
        (["--in-flight", "0"], "--in-flight must be at least 1"),
    ],
)
def test_bad_options_name_the_problem(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err
