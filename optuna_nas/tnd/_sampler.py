from __future__ import annotations

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.search import ArchitectureSampler
from optuna_nas.storage import keys, write_trial_system_attr
from optuna_nas.tnd import _state
from optuna_nas.tnd._distribution import ArchitectureDistribution


class TNDSampler(ArchitectureSampler):
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
        super().__init__(space, seed=seed, fallback_sampler=fallback_sampler)
        self._setting = setting
        ArchitectureDistribution(space)  # a space TND-NAS cannot search fails here, not later

    def sample_architecture(self, study: optuna.Study, trial: FrozenTrial) -> Architecture:
        dists = _state.read_distributions(study, self._space)
        if dists is None:
            dist = ArchitectureDistribution(self._space)
        else:
            name = self._setting or str(self._rng.choice(sorted(dists)))
            if name not in dists:
                raise ValueError(
                    f"TNDSampler(setting={name!r}): study {study.study_name!r} has no such "
                    f"trade-off setting; published settings: {sorted(dists)}."
                )
            dist = dists[name]
            write_trial_system_attr(study, trial, keys.TND_SETTING, name)
        arch, _ = dist.sample(self._rng)
        return arch
