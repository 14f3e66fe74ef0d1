"""``ArchitectureSampler``: what every optuna-nas sampler shares with the Optuna API."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.search._history import TrialArchitectures
from optuna_nas.storage import cached_trials

_Candidate = TypeVar("_Candidate", bound=tuple)
_Strategy = TypeVar("_Strategy")


class ArchitectureSampler(BaseSampler, abc.ABC):
    """An Optuna sampler that picks whole architectures of ``space``.

    The space's params are sampled jointly (relative sampling) by
    :meth:`sample_architecture`; any other param the objective suggests (a learning
    rate, say) goes to ``fallback_sampler``, so the sampler works in any study.

    Parameters
    ----------
    space:
        The search space; its params are those of ``space.distributions()``.
    seed:
        Seed of the sampler's random choices (and of the default fallback).
    fallback_sampler:
        Samples params the space does not own (default ``RandomSampler(seed)``).
    """

    def __init__(
        self,
        space: BaseSpace,
        *,
        seed: int | None = None,
        fallback_sampler: BaseSampler | None = None,
    ) -> None:
        self._space = space
        self._rng = np.random.default_rng(seed)
        self._fallback = fallback_sampler or RandomSampler(seed=seed)
        self._distributions = space.distributions()
        self._archs = TrialArchitectures(space)

    @abc.abstractmethod
    def sample_architecture(self, study: optuna.Study, trial: FrozenTrial) -> Architecture:
        """The architecture ``trial`` evaluates (called once per trial)."""

    def history(
        self, study: optuna.Study
    ) -> tuple[set[str], list[tuple[FrozenTrial, Architecture]]]:
        """What storage holds now: the fingerprints taken and the completed trials.

        ``taken``: :meth:`TrialArchitectures.taken` of every trial; the completed ones
        as :meth:`TrialArchitectures.completed` lists them, in trial order.
        """
        return self._archs.read(cached_trials(study))

    @staticmethod
    def strategy(
        what: str,
        given: _Strategy | str | None,
        builtins: Mapping[str, Callable[[], _Strategy]],
        method: str,
        protocol: str,
    ) -> _Strategy:
        """The strategy ``given`` names (or is): a sampler's pluggable part, resolved.

        ``None`` is the first of ``builtins`` (name -> factory); another name must be
        one of them (``ValueError``); an object must have a callable ``method``, given
        with its signature, e.g. ``"fit(evaluated, rng)"``, from the ``protocol`` named
        (``TypeError``).
        """
        names = tuple(builtins)
        if given is None:
            return builtins[names[0]]()
        if isinstance(given, str):
            if given in builtins:
                return builtins[given]()
            raise ValueError(f"{what} must be one of {names}, got {given!r}.")
        if not callable(getattr(given, method.split("(")[0], None)):
            raise TypeError(
                f"{what} must be one of {names} or have a {method} method "
                f"(the {protocol} protocol), got {given!r}."
            )
        return given

    @staticmethod
    def first_claimed(
        study: optuna.Study, trial: FrozenTrial, candidates: Iterable[_Candidate], taken: set[str]
    ) -> _Candidate | None:
        """The first of ``candidates`` (tuples, architecture first) that ``trial`` can claim.

        Another worker may have claimed a candidate since ``taken`` was read: it is
        added to ``taken`` and the next one is tried. ``None`` when all are gone.
        """
        for candidate in candidates:
            arch = candidate[0]
            if TrialArchitectures.claim(study, trial, arch):
                return candidate
            taken.add(arch.fingerprint)
        return None

    def random_new_architecture(
        self, study: optuna.Study, trial: FrozenTrial, taken: set[str]
    ) -> Architecture:
        """A random architecture no live trial holds (fingerprints ``taken``), claimed for ``trial``."""
        for _ in range(1000):
            arch = self._space.sample(self._rng)
            if arch.fingerprint not in taken:
                if TrialArchitectures.claim(study, trial, arch):
                    return arch
                taken.add(arch.fingerprint)
        return arch  # the space is (nearly) exhausted: repeat rather than fail

    # ------------------------------------------------------------------ BaseSampler API
    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._fallback.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        return self._space.to_params(self.sample_architecture(study, trial))

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._fallback.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._fallback.after_trial(study, trial, state, values)
