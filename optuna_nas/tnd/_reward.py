"""The reward of a sampled sub-architecture: accuracy traded against non-differentiable costs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.objectives import get_objective


@dataclass(frozen=True)
class TradeOff:
    """One trade-off setting: ``reward = accuracy * prod_k (cost_k / target_k) ** w_k``.

    ``w_k`` is ``above`` when ``cost_k`` exceeds its target and ``below`` otherwise
    (MnasNet's soft constraint, which TND-NAS uses with parameters as the cost):
    ``below=0`` rewards accuracy alone under the target, ``above < 0`` penalises every
    factor over it. Several settings with different targets give several points of
    the Pareto front.

    Parameters
    ----------
    name:
        A label for the setting (storage keys, progress lines).
    targets:
        Cheap registered objective (``params``, ``flops``, ``latency``, ...) -> target.
        Empty: the reward is the accuracy.
    above, below:
        Exponents over and under the target.
    """

    name: str
    targets: Mapping[str, float] = field(default_factory=dict)
    above: float = -0.5
    below: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", dict(self.targets))
        for cost, target in self.targets.items():
            spec = get_objective(cost)  # unknown names fail here, listing the known ones
            if not spec.cheap:
                raise ValueError(
                    f"TradeOff {self.name!r}: {cost!r} needs a trained network; a trade-off "
                    "cost must be computable from the architecture (params, flops, latency, ...)."
                )
            if not (isinstance(target, int | float) and math.isfinite(target) and target > 0):
                raise ValueError(
                    f"TradeOff {self.name!r}: target of {cost!r} must be a positive number, got "
                    f"{target!r}."
                )
        if not (math.isfinite(self.above) and math.isfinite(self.below)):
            raise ValueError(f"TradeOff {self.name!r}: exponents must be finite numbers.")

    def reward(self, accuracy: float, costs: Mapping[str, float]) -> float:
        """The reward of an architecture with ``accuracy`` and ``costs`` (by cost name)."""
        reward = accuracy
        for cost, target in self.targets.items():
            ratio = max(costs[cost], 1e-12) / target
            reward *= ratio ** (self.above if ratio > 1 else self.below)
        return float(reward)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "targets": dict(self.targets), "above": self.above,
                "below": self.below}  # fmt: skip


def trade_off_ladder(
    space: BaseSpace,
    cost: str,
    n: int,
    *,
    input_shape: tuple[int, int, int] = (3, 32, 32),
    num_classes: int = 10,
    above: float = -0.5,
    below: float = 0.5,
    seed: int = 0,
) -> list[TradeOff]:
    """``n`` settings whose ``cost`` targets are log-spaced over the space's range of it.

    The range runs from the cheapest to the most expensive of the single-op
    architectures (every edge the same op) and 64 random ones; the last target is the
    top of the range. By default a setting's reward falls on both sides of its target
    (``below=0.5``: a network at half the target loses 30% of its reward, as one at
    twice the target does), in the spirit of TuNAS's absolute-value reward: each
    setting lands near its own target, so the settings spread over the cost axis even
    when weight sharing favours parameter-free ops, as it does early in a search.
    Pass ``below=0`` for MnasNet's one-sided constraint.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    fn = get_objective(cost).bind(input_shape, num_classes)
    values = [fn(arch) for arch in _probe_architectures(space, seed)]
    low, high = min(values), max(values)
    targets = np.geomspace(low, high, n + 1)[1:] if high > low else [high] * n
    return [
        TradeOff(f"{cost}~{target:.3g}", {cost: float(target)}, above=above, below=below)
        for target in targets
    ]


def _probe_architectures(space: BaseSpace, seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(64)]
    for op in space.ops:
        params = {name: _same_op(d.choices, op) for name, d in space.distributions().items()}
        archs.append(space.from_params(params))
    return archs


def _same_op(choices: tuple[Any, ...], op: str) -> Any:
    # Input-pair decisions keep their first choice; op decisions all take `op`.
    return op if op in choices else choices[0]
