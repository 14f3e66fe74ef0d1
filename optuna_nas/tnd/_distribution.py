"""Architecture logits α: one categorical distribution per decision of a cell space.

NB201: one op decision per edge. DARTS: per node, one decision for its pair of
inputs (the two-inputs rule, as ``DartsSpace`` encodes it) and one op decision per
incoming edge, of which the two chosen edges are used. Shrinking makes choices
inactive (probability zero); their logits are kept but never change again.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.tnd._supernet import Selection, check_fixed_macro

Choices = dict[str, str]
"""Decision name -> the choice taken: what one sample used (DARTS: only chosen edges)."""


class Decision(NamedTuple):
    """One categorical decision: ``source`` is ``None`` for a DARTS node's input pair."""

    kind: str
    target: int
    source: int | None
    choices: tuple[str, ...]


class ArchitectureDistribution:
    """Softmax(α) over the decisions of ``space``; samples, scores and derives architectures.

    Parameters
    ----------
    space:
        An NB201 or DARTS space with a single ``channels`` and ``cells`` value.
    logits:
        Decision name -> choice -> α (missing entries start at 0).
    active:
        Decision name -> the choices still allowed (default: all).
    """

    def __init__(
        self,
        space: BaseSpace,
        logits: Mapping[str, Mapping[str, float]] | None = None,
        active: Mapping[str, Any] | None = None,
    ) -> None:
        check_fixed_macro(space)
        self.space = space
        self.decisions = _decisions(space)
        self.logits = {name: np.zeros(len(d.choices)) for name, d in self.decisions.items()}
        self.active = {name: np.ones(len(d.choices), bool) for name, d in self.decisions.items()}
        for what, given in (("logits", logits), ("active", active)):
            for name, values in (given or {}).items():
                choices = self._check(what, name, values)
                if what == "logits":
                    for choice, value in values.items():
                        self.logits[name][choices.index(choice)] = float(value)
                else:
                    self.active[name][:] = [c in values for c in choices]

    # ------------------------------------------------------------------ probabilities
    def probabilities(self, name: str) -> np.ndarray:
        """Softmax of the active logits of decision ``name`` (0 for inactive choices)."""
        z = np.where(self.active[name], self.logits[name], -np.inf)
        e = np.exp(z - z.max())
        return e / e.sum()

    def active_choices(self, name: str) -> list[str]:
        return [
            c for c, a in zip(self.decisions[name].choices, self.active[name], strict=True) if a
        ]

    def sample(self, rng: np.random.Generator) -> tuple[Architecture, Choices]:
        """A discrete architecture drawn from softmax(α), and the choices it used."""
        return self._draw(
            lambda name: rng.choice(len(self.logits[name]), p=self.probabilities(name))
        )

    def most_likely(self) -> tuple[Architecture, Choices]:
        """The architecture of the most probable choice of every decision it uses."""
        return self._draw(lambda name: int(np.argmax(self.probabilities(name))))

    def probability(self, choices: Choices) -> float:
        """p(choices): 0 if one of them is inactive (removed by shrinking)."""
        return float(
            np.prod([self.probabilities(n)[self._index(n, c)] for n, c in choices.items()])
        )

    def log_prob(self, choices: Choices) -> float:
        return float(
            sum(np.log(self.probabilities(n)[self._index(n, c)]) for n, c in choices.items())
        )

    def log_prob_grad(self, choices: Choices) -> dict[str, np.ndarray]:
        """∂ log p(choices) / ∂α: one-hot minus probabilities on every decision used."""
        grad = {}
        for name, choice in choices.items():
            g = -self.probabilities(name)
            g[self._index(name, choice)] += 1.0
            grad[name] = g
        return grad

    def entropy(self) -> float:
        """Sum of the decisions' entropies (in nats)."""
        return float(sum(_entropy(self.probabilities(name)) for name in self.decisions))

    def entropy_grad(self) -> dict[str, np.ndarray]:
        """∂ entropy / ∂α; zero on inactive choices."""
        grad = {}
        for name in self.decisions:
            p = self.probabilities(name)
            logp = np.log(np.where(p > 0, p, 1.0))
            grad[name] = -p * (logp + _entropy(p))
        return grad

    def ascend(self, grad: Mapping[str, np.ndarray], lr: float) -> None:
        """``α += lr * grad`` on active choices."""
        for name, g in grad.items():
            self.logits[name] += lr * np.where(self.active[name], g, 0.0)

    def cap(self, max_probability: float) -> None:
        """Scale every decision's logits towards its top one until no choice is likelier than
        ``max_probability``; the order of the choices (what shrinking ranks) is kept.

        The scaling is a temperature on one decision: ``α' = top - f (top - α)`` with the
        largest ``f <= 1`` that meets the cap (a decision with one active choice is left alone).
        """
        if not 0 < max_probability <= 1:
            raise ValueError(f"max_probability must be in (0, 1], got {max_probability}.")
        for name in self.decisions:
            active = self.active[name]
            n = int(active.sum())
            if n < 2 or self.probabilities(name).max() <= max_probability:
                continue
            z = self.logits[name][active]
            gap = z.max() - z
            # p_top(f) = 1 / sum(exp(-f * gap)) grows with f; bisect for p_top(f) = cap.
            low, high = 0.0, 1.0
            for _ in range(60):
                mid = (low + high) / 2
                if np.exp(-mid * gap).sum() * max_probability >= 1:
                    low = mid
                else:
                    high = mid
            self.logits[name][active] = z.max() - low * gap

    # ------------------------------------------------------------------ shrinking
    def shrink(self, n_ops: int) -> None:
        """Keep the ``n_ops`` most likely active ops of every op decision (ties: op order)."""
        if n_ops < 1:
            raise ValueError(f"n_ops must be >= 1, got {n_ops}.")
        for name, decision in self.decisions.items():
            if decision.source is None:
                continue
            order = np.argsort(
                -np.where(self.active[name], self.logits[name], -np.inf), kind="stable"
            )
            keep = order[: min(n_ops, int(self.active[name].sum()))]
            self.active[name][:] = False
            self.active[name][keep] = True

    # ------------------------------------------------------------------ the supernet's mixture
    def mixture(self) -> Selection:
        """Every edge's op weights for the supernet's weighted forward pass.

        An op's weight is its probability times the probability that its edge is used
        (1 for NB201; for DARTS the total probability of the input pairs containing it).
        """
        selection: Selection = {}
        for name, d in self.decisions.items():
            if d.source is None:
                continue
            used = 1.0
            if not self.space.rule.fully_connected:
                inputs = f"{d.kind}/node{d.target}/inputs"
                pairs = self.decisions[inputs].choices
                p_pairs = self.probabilities(inputs)
                used = float(sum(p for pair, p in zip(pairs, p_pairs, strict=True)
                                 if str(d.source) in pair.split(",")))  # fmt: skip
            p = self.probabilities(name)
            selection.setdefault(d.kind, {})[f"{d.target}_{d.source}"] = {
                op: used * float(w) for op, w in zip(d.choices, p, strict=True) if w > 0
            }
        return selection

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict[str, dict[str, float]]:
        """Decision -> active choice -> α (JSON-serialisable; inactive choices are absent)."""
        return {
            name: {
                c: float(v)
                for c, v, a in zip(d.choices, self.logits[name], self.active[name], strict=True)
                if a
            }
            for name, d in self.decisions.items()
        }

    @classmethod
    def from_dict(
        cls, space: BaseSpace, data: Mapping[str, Mapping[str, float]]
    ) -> ArchitectureDistribution:
        """Inverse of :meth:`to_dict`; ``ValueError`` names a decision or choice of another space."""
        return cls(space, logits=data, active={name: list(values) for name, values in data.items()})

    # ------------------------------------------------------------------ helpers
    def _check(self, what: str, name: str, values: Any) -> tuple[str, ...]:
        if name not in self.decisions:
            raise ValueError(f"{what}: {name!r} is not a decision of {self.space!r}.")
        choices = self.decisions[name].choices
        unknown = sorted(set(values) - set(choices))
        if unknown:
            raise ValueError(
                f"{what}[{name!r}]: unknown choices {unknown}; allowed {list(choices)}."
            )
        if what == "active" and not len(values):
            raise ValueError(f"active[{name!r}]: at least one choice must stay active.")
        return choices

    def _index(self, name: str, choice: str) -> int:
        return self.decisions[name].choices.index(choice)

    def from_indices(self, indices: Mapping[str, int]) -> tuple[Architecture, Choices]:
        """The architecture that takes choice ``indices[name]`` of every decision it uses."""
        return self._draw(lambda name: indices[name])

    def _draw(self, pick) -> tuple[Architecture, Choices]:  # noqa: ANN001
        choices: Choices = {}
        cells = {}
        first = self.space.rule.n_inputs
        for kind in ("normal", "reduce") if self.space.rule.has_reduce else ("normal",):
            nodes = []
            for target in range(first, first + _n_nodes(self.space)):
                if self.space.rule.fully_connected:
                    sources = list(range(target))
                else:
                    name = f"{kind}/node{target}/inputs"
                    choices[name] = self.decisions[name].choices[pick(name)]
                    sources = [int(s) for s in choices[name].split(",")]
                node = []
                for source in sources:
                    name = f"{kind}/op_{target}<-{source}"
                    choices[name] = self.decisions[name].choices[pick(name)]
                    node.append((choices[name], source))
                nodes.append(tuple(node))
            cells[kind] = tuple(nodes)
        arch = Architecture(space=self.space.kind, normal=cells["normal"], reduce=cells.get("reduce"),
                            channels=self.space.channels[0], cells=self.space.cells[0])  # fmt: skip
        return arch, choices


def _n_nodes(space: BaseSpace) -> int:
    return space.rule.n_nodes or space.nodes  # type: ignore[attr-defined]


def _decisions(space: BaseSpace) -> dict[str, Decision]:
    rule = space.rule
    decisions = {}
    for kind in ("normal", "reduce") if rule.has_reduce else ("normal",):
        for target in range(rule.n_inputs, rule.n_inputs + _n_nodes(space)):
            if not rule.fully_connected:
                pairs = tuple(f"{a},{b}" for a, b in itertools.combinations(range(target), 2))
                decisions[f"{kind}/node{target}/inputs"] = Decision(kind, target, None, pairs)
            for source in range(target):
                decisions[f"{kind}/op_{target}<-{source}"] = Decision(
                    kind, target, source, space.ops
                )
    return decisions


def _entropy(p: np.ndarray) -> float:
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())
