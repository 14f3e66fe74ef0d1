"""REINFORCE on the architecture logits, with a moving-average baseline and an entropy bonus."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optuna_nas.tnd._distribution import ArchitectureDistribution, Choices


@dataclass(frozen=True)
class Reinforce:
    """One policy-gradient ascent step on α per batch of sampled architectures.

    ``α += lr * (mean_j (R_j - b) ∇ log p(a_j) + entropy_weight * ∇ H(p))``, then the
    baseline ``b`` moves towards the batch's mean reward by ``1 - baseline_decay``.

    The entropy bonus is the guard against collapse onto one op: the search then
    maximises ``E[R] + entropy_weight * H``, whose optimum for one decision with op
    rewards ``r`` is ``softmax(r / entropy_weight)`` -- never a one-hot, so early
    reward differences from half-trained weights cannot freeze α before the supernet
    has learnt which ops are good. It is exact on-policy (unlike ε-exploration, whose
    off-policy samples bias the gradient unless importance-weighted) and keeps the
    supernet's mixture weights away from zero for every op still in the search space.

    Parameters
    ----------
    lr:
        Step size on α. Rewards are accuracies (differences of ~0.01 between ops), so
        it is large compared with gradient-based α optimisers.
    entropy_weight:
        Weight of the entropy bonus (reward units).
    baseline_decay:
        Weight of the old baseline in the moving average.
    """

    lr: float = 5.0
    entropy_weight: float = 0.005
    baseline_decay: float = 0.9

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"Reinforce.lr must be a positive number, got {self.lr}.")
        if not (math.isfinite(self.entropy_weight) and self.entropy_weight >= 0):
            raise ValueError(f"Reinforce.entropy_weight must be >= 0, got {self.entropy_weight}.")
        if not 0 <= self.baseline_decay < 1:
            raise ValueError(
                f"Reinforce.baseline_decay must be in [0, 1), got {self.baseline_decay}."
            )

    def step(
        self,
        dist: ArchitectureDistribution,
        samples: Sequence[Choices],
        rewards: Sequence[float],
        baseline: float | None,
    ) -> float:
        """Update ``dist`` in place from ``samples`` and their ``rewards``; return the new baseline.

        ``baseline=None`` (the first step) starts the baseline at the batch's mean reward.
        """
        if len(samples) != len(rewards) or not samples:
            raise ValueError("step needs one reward per sample and at least one sample.")
        rewards = np.asarray(rewards, dtype=float)
        if baseline is None:
            baseline = float(rewards.mean())
        grad = {name: self.entropy_weight * g for name, g in dist.entropy_grad().items()}
        for choices, advantage in zip(samples, rewards - baseline, strict=True):
            for name, g in dist.log_prob_grad(choices).items():
                grad[name] += advantage * g / len(samples)
        dist.ascend(grad, self.lr)
        return self.baseline_decay * baseline + (1 - self.baseline_decay) * float(rewards.mean())
