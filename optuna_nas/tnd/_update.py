"""One α update of every trade-off setting from one shared pool of scored sub-networks.

The paper searches one trade-off per run. Here one supernet serves all settings, and so
does one pool of samples per update, so the search's cost does not grow with the
number of settings: ``n`` architectures are drawn (the settings take turns, sample
``j`` from setting ``j mod S``), each is scored once on the validation batch with the
shared weights, and every setting's reward of every sample comes from that one
accuracy and the sample's cheap costs. Each setting's REINFORCE step then uses the
whole pool, weighted by multiple importance sampling with the balance heuristic
(Veach and Guibas 1995): sample ``a`` counts for setting ``s`` with weight
``p_s(a) / q(a)``, ``q = sum_k (n_k / n) p_k`` the mixture the pool was drawn from.
That keeps each setting's gradient estimate unbiased, bounds every weight by
``n / n_s``, and lets neighbouring settings of a ladder, whose policies overlap, learn
from each other's samples. A sample that uses an op a setting's shrinking removed
has weight 0 for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, create_trial

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.storage import keys
from optuna_nas.tnd._distribution import ArchitectureDistribution, Choices
from optuna_nas.tnd._reinforce import Reinforce, RewardBaseline
from optuna_nas.tnd._reward import TradeOff
from optuna_nas.tnd._supernet import Supernet
from optuna_nas.tnd._training import supernet_accuracy


class Scored(NamedTuple):
    """One pool sample: who drew it, what it is, and what the shared weights made of it."""

    owner: str
    arch: Architecture
    choices: Choices
    accuracy: float
    costs: dict[str, float]


def pool_owners(names: Sequence[str], n: int, offset: int) -> list[str]:
    """Which setting draws each of ``n`` samples: turns starting at setting ``offset``."""
    return [names[(offset + j) % len(names)] for j in range(n)]


def pool_weights(probabilities: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Balance-heuristic weights ``p_s(a_j) / q(a_j)`` from ``probabilities[s, j] = p_s(a_j)``.

    ``counts[s]``: how many of the samples setting ``s`` drew; ``q`` mixes the settings'
    distributions in those proportions, the density the pool was drawn from.
    """
    q = (counts[:, None] * probabilities).sum(axis=0) / counts.sum()
    return probabilities / q


class PoolUpdate:
    """Draws, scores and records one pool, and steps every setting's α on it.

    Parameters
    ----------
    space, metric_names, trade_offs, reinforce:
        As the :class:`~optuna_nas.tnd.TNDSearch` holds them.
    samples:
        Pool size per update (at least one sample per setting is drawn).
    costs:
        Architecture -> its cheap costs by name (cached by the caller).
    rng:
        The search's generator of architecture draws.
    """

    def __init__(
        self,
        space: BaseSpace,
        metric_names: Sequence[str],
        trade_offs: Mapping[str, TradeOff],
        reinforce: Reinforce,
        samples: int,
        costs: Callable[[Architecture], dict[str, float]],
        rng: np.random.Generator,
    ) -> None:
        self.space, self.metric_names = space, list(metric_names)
        self.trade_offs, self.reinforce = trade_offs, reinforce
        self.n = max(samples, len(trade_offs))
        self.costs, self.rng = costs, rng
        self._offset = 0
        self.last: list[Architecture] = []
        """The architectures of the latest pool, in drawing order."""
        self._distributions: dict[str, BaseDistribution] = space.distributions()

    def __call__(
        self,
        supernet: Supernet,
        batch: tuple[torch.Tensor, torch.Tensor],
        dists: Mapping[str, ArchitectureDistribution],
        baselines: dict[str, RewardBaseline | None],
        stage: int,
    ) -> tuple[list[FrozenTrial], dict[str, dict[str, float]]]:
        """One update; returns the pool as supernet trials and each setting's reward statistics.

        ``baselines`` is updated in place.
        """
        names = list(dists)
        owners = pool_owners(names, self.n, self._offset)
        self._offset = (self._offset + self.n) % len(names)
        x, y = batch
        pool, accuracy = [], {}
        for owner in owners:
            arch, choices = dists[owner].sample(self.rng)
            # The same batch: score each network once (by its exact encoding, as the
            # supernet's edges are positional where fingerprints identify isomorphic cells).
            key = arch.to_json()
            if key not in accuracy:
                accuracy[key] = supernet_accuracy(supernet.select(arch), x, y)
            pool.append(Scored(owner, arch, choices, accuracy[key], self.costs(arch)))
        self.last = [p.arch for p in pool]
        # Every probability under the policies the pool was drawn from, before any step.
        probabilities = np.array([[dists[s].probability(p.choices) for p in pool] for s in names])
        counts = np.array([owners.count(s) for s in names], dtype=float)
        weights = pool_weights(probabilities, counts)
        stats, trials = {}, []
        for i, name in enumerate(names):
            rewards = [self.trade_offs[name].reward(p.accuracy, p.costs) for p in pool]
            w = weights[i]
            baselines[name] = self.reinforce.step(dists[name], [p.choices for p in pool], rewards,
                                                  baselines[name], weights=w)  # fmt: skip
            own = [r for r, p in zip(rewards, pool, strict=True) if p.owner == name]
            stats[name] = {
                "reward": round(float(np.mean(own)), 4),
                "baseline": round(baselines[name].mean, 4),
                "reward_std": round(float(np.sqrt(baselines[name].var)), 4),
                # Kish's effective sample size of the weighted pool.
                "pool_ess": round(float(w.sum() ** 2 / (w**2).sum()), 2),
            }
        for p, prob in zip(pool, probabilities[[names.index(p.owner) for p in pool],
                                               range(len(pool))], strict=True):  # fmt: skip
            reward = self.trade_offs[p.owner].reward(p.accuracy, p.costs)
            trials.append(self._trial(p, len(y), {
                keys.TND_SETTING: p.owner, keys.TND_TRIAL_STAGE: stage, keys.TND_REWARD: reward,
                keys.TND_LOG_PROB: float(np.log(prob))}))  # fmt: skip
        return trials, stats

    def _trial(self, p: Scored, n_images: int, extra: dict[str, Any]) -> FrozenTrial:
        values = [1.0 - p.accuracy if n == "error" else p.accuracy if n == "accuracy"
                  else p.costs[n] for n in self.metric_names]  # fmt: skip
        attrs = {
            **keys.architecture_record(p.arch, keys.SUPERNET),
            "supernet_accuracy": p.accuracy,
            "supernet_images": n_images,
            **p.costs,
            **extra,
        }
        return create_trial(params=self.space.to_params(p.arch), distributions=self._distributions,
                            values=values, user_attrs=attrs)  # fmt: skip
