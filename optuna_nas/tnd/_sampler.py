from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.encoding import BaseSpace
from optuna_nas.tnd import _state
from optuna_nas.tnd._distribution import ArchitectureDistribution


class TNDSampler(BaseSampler):
    """Draws architectures from the α that a :class:`TNDSearch` published in the study.

    α is read from storage on every trial, so a worker on another machine (any
    objective, e.g. :class:`~optuna_nas.NASObjective` training full networks) samples
    from the search's current distribution, shrunk search space included. Before
    anything is published it samples uniformly, as α = 0 does. The sampler keeps no
    state of its own; the setting each trial drew from is written to its system attr
    ``tnd:setting``.

    Parameters
    ----------
    space:
        The searched space (the one given to :class:`TNDSearch`).
    setting:
        Draw from this trade-off setting's α; ``None`` picks one at random per trial.
    seed:
        Seed of the draws.
    fallback_sampler:
        Samples params the space does not own (default ``RandomSampler``).
    """

    def __init__(
        self,
        space: BaseSpace,
        *,
        setting: str | None = None,
        seed: int | None = None,
        fallback_sampler: BaseSampler | None = None,
    ) -> None:
        self._space = space
        self._setting = setting
        self._rng = np.random.default_rng(seed)
        self._fallback = fallback_sampler or RandomSampler(seed=seed)
        self._distributions = space.distributions()
        ArchitectureDistribution(space)  # a space TND-NAS cannot search fails here, not later

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
        dists = _state.read_distributions(study, self._space)
        if dists is None:
            name, dist = None, ArchitectureDistribution(self._space)
        else:
            name = self._setting or str(self._rng.choice(sorted(dists)))
            if name not in dists:
                raise ValueError(
                    f"TNDSampler(setting={name!r}): study {study.study_name!r} has no such "
                    f"trade-off setting; published settings: {sorted(dists)}."
                )
            dist = dists[name]
            study._storage.set_trial_system_attr(trial._trial_id, _state.SETTING, name)
        arch, _ = dist.sample(self._rng)
        return self._space.to_params(arch)

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
