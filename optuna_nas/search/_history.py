"""What every architecture sampler reads back from storage: architectures, costs, fronts.

Samplers keep no state that storage cannot rebuild; these helpers rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.study._multi_objective import _fast_non_domination_rank, _is_pareto_front
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.objectives import get_objective
from optuna_nas.storage import CLAIMING_STATES, claim_fingerprint, keys, trial_id

CheapObjective = Callable[[Architecture], float]
"""An objective known before training: ``Architecture -> float``."""


class TrialArchitectures:
    """Decodes the architecture of each trial from its params, once per finished trial.

    Parameters
    ----------
    space:
        The space whose params the trials hold.

    Examples
    --------
    >>> archs = TrialArchitectures(space)                        # doctest: +SKIP
    >>> archs.taken(study.get_trials(deepcopy=False))            # fingerprints in use
    """

    def __init__(self, space: BaseSpace) -> None:
        self.space = space
        self._names = tuple(space.distributions())
        # Keyed by trial id: a finished trial's params never change, so this is safe.
        self._cache: dict[int, Architecture | None] = {}

    def __call__(self, trial: FrozenTrial) -> Architecture | None:
        """The trial's architecture, or ``None`` if its params are not (all) this space's."""
        key = trial_id(trial)
        if key in self._cache:
            return self._cache[key]
        arch = None
        if all(name in trial.params for name in self._names):
            try:
                arch = self.space.from_params(trial.params)
                arch.fingerprint  # noqa: B018 - computed once, here
            except ValueError:
                arch = None
        if trial.state.is_finished():  # a running trial's params may still grow
            self._cache[key] = arch
        return arch

    def taken(self, trials: Sequence[FrozenTrial]) -> set[str]:
        """Fingerprints of the architectures of ``trials``, and those claimed by running ones."""
        return self.read(trials)[0]

    def read(
        self, trials: Sequence[FrozenTrial]
    ) -> tuple[set[str], list[tuple[FrozenTrial, Architecture]]]:
        """:meth:`taken` and :meth:`completed` of ``trials``, in one pass."""
        taken, complete = set(), []
        cache = self._cache  # finished trials, nearly all of them: skip the call
        for t in trials:
            key = trial_id(t)
            if (arch := cache[key] if key in cache else self(t)) is not None:
                taken.add(arch.fingerprint)
                if t.state == TrialState.COMPLETE:
                    complete.append((t, arch))
            if t.state in CLAIMING_STATES and keys.CLAIM in (attrs := t.system_attrs):
                taken.add(attrs[keys.CLAIM])
        return taken, complete

    @staticmethod
    def claim(study: optuna.Study, trial: FrozenTrial, arch: Architecture) -> bool:
        """Reserve ``arch`` for ``trial``; ``False`` if another live trial holds it.

        A trial's params reach storage only when the objective suggests them, after
        the sampler returns, so two workers sampling at the same moment cannot see
        each other's choice in the params. The claim is written first and the live
        trials re-read from storage afterwards: of two workers that claim the same
        architecture at once, at least the later reader sees the other's claim, so
        at most one keeps it (both may step back, never both go on). Failed trials'
        claims do not count, so a heartbeat retry of a failed trial can run.
        """
        return claim_fingerprint(study, trial, arch.fingerprint)

    def completed(self, trials: Sequence[FrozenTrial]) -> list[tuple[FrozenTrial, Architecture]]:
        """``(trial, architecture)`` of every COMPLETE trial of this space."""
        return self.read(trials)[1]


def cheap_objectives(
    study: optuna.Study, given: Mapping[str, CheapObjective] | None = None
) -> dict[str, CheapObjective]:
    """The study's objectives that are known before training, as ``Architecture -> float``.

    Parameters
    ----------
    study:
        The study; its ``metric_names`` select the objectives.
    given:
        Metric name -> function supplied by the user; returned as is when not ``None``.

    Returns
    -------
    dict
        ``given``, or every study metric naming a cheap registered objective (``params``,
        ``flops``, ...) bound to the study's input shape and classes (recorded by
        :class:`~optuna_nas.NASObjective`; CIFAR's ``(3, 32, 32)``, 10 before the first
        trial). Without any, ``{"params": count_params}`` so a size axis always exists.
    """
    if given is not None:
        return dict(given)
    shape = tuple(study.user_attrs.get(keys.STUDY_INPUT_SHAPE, (3, 32, 32)))
    classes = int(study.user_attrs.get(keys.STUDY_NUM_CLASSES, 10))
    functions = {}
    for name in study.metric_names or []:
        try:
            spec = get_objective(name)
        except ValueError:
            continue
        if spec.cheap:
            functions[name] = spec.bind(shape, classes)
    return functions or {"params": get_objective("params").bind(shape, classes)}


def exact_columns(
    study: optuna.Study, cheap: Mapping[str, CheapObjective]
) -> dict[int, CheapObjective]:
    """The study's columns whose objective is in ``cheap``, as minimised functions.

    What the surrogate (:class:`~optuna_nas.surrogate.ObjectiveModel`) takes for the
    study's objectives known before training: column -> ``Architecture -> float``,
    a maximised objective negated like its column of :func:`minimised_values`.
    """
    signs = _signs(study)
    return {
        m: cheap[name] if signs[m] > 0 else _negated(cheap[name])
        for m, name in enumerate(study.metric_names or [])
        if name in cheap
    }


def _negated(function: CheapObjective) -> CheapObjective:
    return lambda arch: -1.0 * function(arch)


def _signs(study: optuna.Study) -> np.ndarray:
    return np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in study.directions])


def minimised_values(study: optuna.Study, trials: Sequence[FrozenTrial]) -> np.ndarray:
    """``(n_trials, n_objectives)`` values of ``trials``, maximised ones negated."""
    values = np.array([t.values for t in trials], dtype=float).reshape(len(trials), -1)
    return values * _signs(study)


def nondomination_ranks(study: optuna.Study, trials: Sequence[FrozenTrial]) -> np.ndarray:
    """Non-domination rank of each trial (0 = on the Pareto front), by the study's directions."""
    if not trials:
        return np.zeros(0, dtype=int)
    return _fast_non_domination_rank(minimised_values(study, trials))


def pareto_indices(study: optuna.Study, trials: Sequence[FrozenTrial]) -> list[int]:
    """Indices of the non-dominated ``trials`` (cheaper than a full ranking)."""
    if not trials:
        return []
    values = minimised_values(study, trials)
    return list(np.flatnonzero(_is_pareto_front(values, assume_unique_lexsorted=False)))
