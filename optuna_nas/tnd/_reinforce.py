"""REINFORCE on the architecture logits: moving-average baseline, reward scaling, collapse guards."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from optuna_nas.tnd._distribution import ArchitectureDistribution, Choices

_MIN_SCALE = 1e-4
"""Reward spreads below this (a hundredth of a percent of accuracy) are noise, not signal."""


class RewardBaseline(NamedTuple):
    """Moving averages of one setting's reward: its mean (the baseline) and its variance."""

    mean: float
    var: float


@dataclass(frozen=True)
class Reinforce:
    """One policy-gradient ascent step on α per batch of sampled architectures.

    ``α += lr * (1/n sum_j w_j A_j ∇ log p(a_j) + entropy_weight * ∇ H(p))`` with the
    advantage ``A_j = (R_j - b) / σ``; then the baseline ``b`` and the reward variance
    ``σ²`` move towards the batch's (``w``-weighted) mean and mean squared deviation by
    ``1 - baseline_decay``. ``w_j`` are importance weights (1 for samples drawn from
    ``p`` itself; see :mod:`optuna_nas.tnd._update`).

    Dividing by ``σ`` (``normalize=True``) gives every trade-off setting the same step
    size whatever its reward's scale: a setting whose cost penalty keeps all rewards
    near 0.1 moves α as fast as one whose rewards are accuracies near 0.9, so one ``lr``
    and one ``entropy_weight`` serve a whole ladder of settings.

    Two guards against collapse onto one op (the known failure of differentiable NAS,
    usually onto ``skip_connect`` or ``none``, which need no training and so win
    early comparisons on half-trained shared weights):

    - the entropy bonus: the search maximises ``E[A] + entropy_weight * H``, whose
      optimum for one decision with op advantages ``r`` is ``softmax(r /
      entropy_weight)``, never a one-hot. It is exact on-policy (unlike ε-exploration,
      whose off-policy samples bias the gradient unless importance-weighted);
    - the probability cap: after each step no choice may be likelier than
      ``max_probability`` (:meth:`ArchitectureDistribution.cap` lowers the decision's
      temperature, keeping the order of its choices). Every op still in the search
      space keeps being sampled, so its shared weights keep training and its reward
      keeps being measured; the derived architecture (the argmax) and shrinking (the
      ranking) are unaffected.

    Parameters
    ----------
    lr:
        Step size on α (advantages are in units of σ when ``normalize``).
    entropy_weight:
        Weight of the entropy bonus (advantage units).
    baseline_decay:
        Weight of the old baseline and variance in the moving averages.
    normalize:
        Divide advantages by the moving reward standard deviation.
    max_probability:
        The cap on any choice's probability (1: no cap).
    """

    lr: float = 1.0
    entropy_weight: float = 0.02
    baseline_decay: float = 0.9
    normalize: bool = True
    max_probability: float = 0.9

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"Reinforce.lr must be a positive number, got {self.lr}.")
        if not (math.isfinite(self.entropy_weight) and self.entropy_weight >= 0):
            raise ValueError(f"Reinforce.entropy_weight must be >= 0, got {self.entropy_weight}.")
        if not 0 <= self.baseline_decay < 1:
            raise ValueError(
                f"Reinforce.baseline_decay must be in [0, 1), got {self.baseline_decay}."
            )
        if not 0 < self.max_probability <= 1:
            raise ValueError(
                f"Reinforce.max_probability must be in (0, 1], got {self.max_probability}."
            )

    def step(
        self,
        dist: ArchitectureDistribution,
        samples: Sequence[Choices],
        rewards: Sequence[float],
        baseline: RewardBaseline | None = None,
        weights: Sequence[float] | None = None,
    ) -> RewardBaseline:
        """Update ``dist`` in place from ``samples`` and their ``rewards``; return the new baseline.

        ``baseline=None`` (the first step) starts it at the batch's mean and variance.
        ``weights``: the samples' importance weights ``p(a) / q(a)`` when they were drawn
        from another distribution ``q`` (default: all 1, drawn from ``dist``).
        """
        if len(samples) != len(rewards) or not samples:
            raise ValueError("step needs one reward per sample and at least one sample.")
        r = np.asarray(rewards, dtype=float)
        w = np.ones(len(r)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != r.shape or (w < 0).any() or w.sum() <= 0:
            raise ValueError("step needs one non-negative weight per sample, not all zero.")
        mean = float((w * r).sum() / w.sum())
        if baseline is None:
            baseline = RewardBaseline(mean, float((w * (r - mean) ** 2).sum() / w.sum()))
        advantages = r - baseline.mean
        if self.normalize:
            advantages = advantages / max(math.sqrt(baseline.var), _MIN_SCALE)
        grad = {name: self.entropy_weight * g for name, g in dist.entropy_grad().items()}
        for choices, weight, advantage in zip(samples, w, advantages, strict=True):
            if weight == 0:  # this distribution can no longer draw the sample
                continue
            for name, g in dist.log_prob_grad(choices).items():
                grad[name] += weight * advantage * g / len(samples)
        dist.ascend(grad, self.lr)
        if self.max_probability < 1:
            dist.cap(self.max_probability)
        deviation = float((w * (r - baseline.mean) ** 2).sum() / w.sum())
        decay = self.baseline_decay
        return RewardBaseline(decay * baseline.mean + (1 - decay) * mean,
                              decay * baseline.var + (1 - decay) * deviation)  # fmt: skip
