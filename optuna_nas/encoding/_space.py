"""The interface every cell search space shares: params, tokens, validation.

The encoding is plain data and never imports torch or :mod:`optuna_nas.networks`.
:meth:`BaseSpace.build` still returns the network of an architecture, through a
builder that :mod:`optuna_nas.networks` registers here when it is imported
(:func:`register_network_builder`); importing ``optuna_nas`` imports it. This
keeps ``space.build(arch)`` for users while the dependency points one way only:
networks -> encoding.
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution

from optuna_nas.encoding._architecture import Architecture
from optuna_nas.encoding._ops import CELL_RULES, CellRule

if TYPE_CHECKING:
    import optuna

NetworkBuilder = Callable[[Architecture, int, int], Any]
"""``(arch, in_channels, num_classes) -> torch.nn.Module``."""

_network_builder: NetworkBuilder | None = None


def register_network_builder(builder: NetworkBuilder) -> None:
    """Make :meth:`BaseSpace.build` call ``builder`` (replacing any earlier one).

    :mod:`optuna_nas.networks` registers its ``build_network`` when imported.
    """
    global _network_builder
    _network_builder = builder


class BaseSpace(abc.ABC):
    """A cell search space: the decisions, their Optuna params, tokens and the network.

    Every decision is one categorical Optuna param with fixed choices, so any Optuna
    sampler can search the space. Macro choices (``channels``, ``cells``) with a
    single allowed value are fixed and produce no param.
    """

    kind: str
    """Cell kind of the architectures in this space (``Architecture.space``)."""

    def __init__(self, channels: int | Sequence[int], cells: int | Sequence[int]) -> None:
        self.channels = _choices("channels", channels)
        self.cells = _choices("cells", cells)

    @property
    def rule(self) -> CellRule:
        return CELL_RULES[self.kind]

    @property
    def ops(self) -> tuple[str, ...]:
        return self.rule.ops

    # ---------------------------------------------------------------- the decisions
    @abc.abstractmethod
    def _cell_decisions(self) -> dict[str, tuple[Any, ...]]:
        """Cell decisions only: param name -> choices, in a fixed order."""

    @abc.abstractmethod
    def _cells_from_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``normal``/``reduce`` fields of an Architecture from complete cell params."""

    @abc.abstractmethod
    def _cell_params(self, arch: Architecture) -> dict[str, Any]:
        """Inverse of :meth:`_cells_from_params`."""

    def _decisions(self) -> dict[str, tuple[Any, ...]]:
        decisions = dict(self._cell_decisions())
        if len(self.channels) > 1:
            decisions["channels"] = self.channels
        if len(self.cells) > 1:
            decisions["cells"] = self.cells
        return decisions

    def distributions(self) -> dict[str, BaseDistribution]:
        """The Optuna distribution of every param :meth:`suggest` creates."""
        return {
            name: CategoricalDistribution(choices) for name, choices in self._decisions().items()
        }

    def suggest(self, trial: optuna.trial.BaseTrial) -> Architecture:
        """Suggest an architecture with one ``suggest_categorical`` call per decision."""
        params = {
            name: trial.suggest_categorical(name, choices)
            for name, choices in self._decisions().items()
        }
        return self.from_params(params)

    def from_params(self, params: Mapping[str, Any]) -> Architecture:
        """Architecture from Optuna params; params this space does not own are ignored.

        Raises
        ------
        ValueError
            If a param of this space is missing or holds a value outside its choices.
        """
        decisions = self._decisions()
        missing = [name for name in decisions if name not in params]
        if missing:
            hint = ""
            cell_decisions = self._cell_decisions()
            if params and not any(name in cell_decisions for name in params):
                hint = (
                    f" None of the given params ({sorted(params)[:4]}...) belong to this space: "
                    "were they produced by a different space?"
                )
            raise ValueError(f"{self!r}: missing params {missing}.{hint}")
        for name, choices in decisions.items():
            if params[name] not in choices:
                raise ValueError(
                    f"{self!r}: param {name!r} = {params[name]!r} is not one of {list(choices)}."
                )
        return Architecture(
            space=self.kind,
            channels=params.get("channels", self.channels[0]),
            cells=params.get("cells", self.cells[0]),
            **self._cells_from_params(params),
        )

    def to_params(self, arch: Architecture) -> dict[str, Any]:
        """Optuna params of ``arch`` (the inverse of :meth:`from_params`)."""
        self.validate(arch)
        params = self._cell_params(arch)
        if len(self.channels) > 1:
            params["channels"] = arch.channels
        if len(self.cells) > 1:
            params["cells"] = arch.cells
        return params

    def validate(self, arch: Architecture) -> Architecture:
        """Return ``arch`` if it belongs to this space, else raise ``ValueError``."""
        if not isinstance(arch, Architecture):
            raise ValueError(f"{self!r}: expected an Architecture, got {type(arch).__name__}.")
        if arch.space != self.kind:
            raise ValueError(
                f"{self!r}: architecture of space {arch.space!r} does not belong to this "
                f"{self.kind!r} space."
            )
        if arch.channels not in self.channels:
            raise ValueError(
                f"{self!r}: channels={arch.channels} is not one of {list(self.channels)}."
            )
        if arch.cells not in self.cells:
            raise ValueError(f"{self!r}: cells={arch.cells} is not one of {list(self.cells)}.")
        self._validate_cells(arch)
        return arch

    def _validate_cells(self, arch: Architecture) -> None:  # noqa: B027 - optional hook
        """Space-specific cell checks beyond the cell kind's rule."""

    def __contains__(self, arch: object) -> bool:
        try:
            self.validate(arch)  # type: ignore[arg-type]
        except ValueError:
            return False
        return True

    def sample(self, rng: np.random.Generator | int | None = None) -> Architecture:
        """A uniformly random architecture (uniform over the params)."""
        rng = np.random.default_rng(rng)
        params = {
            name: choices[int(rng.integers(len(choices)))]
            for name, choices in self._decisions().items()
        }
        return self.from_params(params)

    # ---------------------------------------------------------------- tokens (NAO)
    # The cell tokens come first, then one token per non-fixed macro choice.
    @property
    @abc.abstractmethod
    def _cell_vocabulary(self) -> tuple[str, ...]: ...

    @property
    @abc.abstractmethod
    def _cell_sequence_length(self) -> int: ...

    @abc.abstractmethod
    def _allowed_cell_tokens(self, prefix: Sequence[int]) -> list[int]: ...

    @abc.abstractmethod
    def _cell_tokens(self, arch: Architecture) -> list[int]: ...

    @abc.abstractmethod
    def _cells_from_tokens(self, tokens: Sequence[int]) -> dict[str, Any]: ...

    def _macro_slots(self) -> list[tuple[str, tuple[int, ...]]]:
        return [
            (name, getattr(self, name))
            for name in ("channels", "cells")
            if len(getattr(self, name)) > 1
        ]

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The fixed token vocabulary; a token is an index into it."""
        macro = tuple(f"{name}={v}" for name, values in self._macro_slots() for v in values)
        return self._cell_vocabulary + macro

    @property
    def sequence_length(self) -> int:
        """Length of every token sequence of this space."""
        return self._cell_sequence_length + len(self._macro_slots())

    def allowed_tokens(self, prefix: Sequence[int]) -> list[int]:
        """Tokens that may follow ``prefix`` in a valid sequence (for constrained decoding)."""
        pos = len(prefix)
        if pos < self._cell_sequence_length:
            return self._allowed_cell_tokens(prefix)
        offset = len(self._cell_vocabulary)
        for slot, (_, values) in enumerate(self._macro_slots()):
            if pos == self._cell_sequence_length + slot:
                return list(range(offset, offset + len(values)))
            offset += len(values)
        return []

    def to_tokens(self, arch: Architecture) -> list[int]:
        """Token sequence of ``arch`` (fixed length; the encoding's edge order is kept)."""
        self.validate(arch)
        tokens = self._cell_tokens(arch)
        if slots := self._macro_slots():  # the vocabulary is built anew on every access
            vocab = self.vocabulary
            tokens += [vocab.index(f"{name}={getattr(arch, name)}") for name, _ in slots]
        return tokens

    def from_tokens(self, tokens: Sequence[int]) -> Architecture:
        """Inverse of :meth:`to_tokens`; ``ValueError`` names an invalid token position."""
        try:
            tokens = [operator.index(t) for t in tokens]
        except TypeError:
            raise ValueError(
                f"{self!r}: tokens must be a sequence of integers, got {tokens!r}."
            ) from None
        if len(tokens) != self.sequence_length:
            raise ValueError(
                f"{self!r}: token sequence has length {len(tokens)}, expected {self.sequence_length}."
            )
        vocab = self.vocabulary
        for pos, token in enumerate(tokens):
            allowed = self.allowed_tokens(tokens[:pos])
            if token not in allowed:
                got = vocab[token] if 0 <= token < len(vocab) else token
                raise ValueError(
                    f"{self!r}: token {got!r} at position {pos} is not allowed there; "
                    f"allowed: {[vocab[t] for t in allowed]}."
                )
        macro = {
            name: self.channels[0] if name == "channels" else self.cells[0]
            for name in ("channels", "cells")
        }
        for slot, (name, _) in enumerate(self._macro_slots()):
            macro[name] = int(vocab[tokens[self._cell_sequence_length + slot]].split("=")[1])
        return Architecture(
            space=self.kind,
            **macro,
            **self._cells_from_tokens(tokens[: self._cell_sequence_length]),
        )

    # ---------------------------------------------------------------- the network
    def build(self, arch: Architecture, in_channels: int = 3, num_classes: int = 10) -> Any:
        """The ``torch.nn.Module`` of ``arch`` for ``in_channels`` x H x W images (H, W >= 8).

        Module names are structural: the op on edge ``s -> t`` of cell ``i`` of stage
        ``k`` is ``stages.k.i.edges.t_s`` in every architecture of the space, so
        weights move between related architectures by name. Equivalent to
        ``optuna_nas.networks.build_network(space.validate(arch), ...)``.
        """
        self.validate(arch)
        if _network_builder is None:
            raise RuntimeError(
                "No network builder is registered: import optuna_nas.networks (importing "
                "optuna_nas does) before calling build()."
            )
        return _network_builder(arch, in_channels, num_classes)


def _choices(name: str, value: int | Sequence[int]) -> tuple[int, ...]:
    values = (value,) if isinstance(value, int) else tuple(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name}: expected a positive int or a list of them, got {value!r}.")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: duplicate values in {list(values)}.")
    return values
