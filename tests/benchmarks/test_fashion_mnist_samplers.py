"""The report of the real-training sampler comparison, from hand-made runs."""

import numpy as np

from benchmarks.fashion_mnist_samplers import report

ARGS = {"budget": 100.0, "p_range": (100, 10_000), "grid": 2, "channels": [4], "cells": [1],
        "train_size": 10, "val_size": 10, "test_size": 10, "data_seed": 0, "epochs": 1,
        "batch_size": 8, "lr": 0.1, "n_initial": 2, "error_scale": 0.5}  # fmt: skip


def _run(times, hvs):
    trace = (np.array(times, dtype=float), np.array(hvs, dtype=float))
    return {"trace": trace, "trials": len(times), "failed": 0, "front": 1, "hv_test": 0.5,
            "best_error": 0.2, "train_s": 3.0, "load": 2.0}  # fmt: skip


def test_report_reads_each_run_at_the_budget_and_counts_wins_per_seed():
    results = {
        ("a", 0): _run([10, 60, 120], [0.2, 0.6, 0.9]),  # the 120 s trial is past the budget
        ("b", 0): _run([40, 90], [0.3, 0.7]),
        ("a", 1): _run([30], [0.8]),
        ("b", 1): _run([20, 70], [0.1, 0.5]),
    }
    lines = report(ARGS, "cmd", ["a", "b"], 2, results, (1.0, 2.0))
    over_time = lines[lines.index("| time (s) | a | b |") + 2 :][:2]
    assert over_time == ["| 50 | 0.5000 | 0.2000 |", "| 100 | 0.7000 | 0.6000 |"]
    assert "| a | 0.6000 | 0.8000 | 0.7000 | 1 |" in lines
    assert "| b | 0.7000 | 0.5000 | 0.6000 | 1 |" in lines
