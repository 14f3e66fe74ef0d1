"""Samplers by name: ours and Optuna's, built the way ``optuna-nas search`` builds them.

This module sits above the algorithm subpackages (``lemonade``, ``nao``, ``tnd``) and
imports all of them; no algorithm imports it. The CLI, the workers it starts and the
benchmarks build their samplers here, so a name means the same sampler everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import optuna

from optuna_nas.encoding import BaseSpace
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler
from optuna_nas.tnd import TNDSampler

DEFAULT_N_INITIAL: Mapping[str, int] = MappingProxyType(
    {"tpe": 10, "nsga2": 8, "lemonade": 20, "nao": 10}
)
"""Each sampler's own number of random trials before its model or evolution starts."""

_Factory = Callable[[BaseSpace, int | None, int | None], optuna.samplers.BaseSampler]
_FACTORIES: dict[str, _Factory] = {  # (space, seed, n_initial) -> sampler
    "random": lambda space, seed, n: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda space, seed, n: optuna.samplers.TPESampler(seed=seed, n_startup_trials=n),
    # The first generation is the random phase; later ones are the same size.
    "nsga2": lambda space, seed, n: optuna.samplers.NSGAIISampler(
        seed=seed, population_size=max(2, n)
    ),
    "lemonade": lambda space, seed, n: LemonadeSampler(space, seed=seed, n_initial=n),
    "nao": lambda space, seed, n: NAOSampler(space, seed=seed, n_initial=n),
    # A worker joining a TND-NAS study samples from the α the driver publishes.
    "tnd": lambda space, seed, n: TNDSampler(space, seed=seed),
}

SAMPLER_NAMES = tuple(sorted(_FACTORIES))
"""The names :func:`make_sampler` knows."""


def make_sampler(
    name: str, space: BaseSpace, seed: int | None, n_initial: int | None = None
) -> optuna.samplers.BaseSampler:
    """Build a sampler from its name.

    Parameters
    ----------
    name:
        One of :data:`SAMPLER_NAMES`: ``"lemonade"``, ``"nao"`` and ``"tnd"`` are ours,
        ``"random"``, ``"tpe"`` and ``"nsga2"`` Optuna's.
    space:
        The searched space (ignored by Optuna's samplers).
    seed:
        The sampler's seed.
    n_initial:
        Random trials before the model or evolution starts; ``None`` (or 0) takes
        :data:`DEFAULT_N_INITIAL`. For ``"nsga2"`` it is the population size (at least
        2): the first generation is the random phase and later ones are the same size.
        ``"random"`` and ``"tnd"`` ignore it.

    Returns
    -------
    optuna.samplers.BaseSampler
        A new sampler. ``"tnd"`` gives a :class:`~optuna_nas.tnd.TNDSampler`, which
        samples from the α a :class:`~optuna_nas.tnd.TNDSearch` publishes in the study
        (how a worker joins a TND-NAS study); the search itself is not a sampler.

    Raises
    ------
    ValueError
        For an unknown ``name``, naming the choices.
    """
    if name not in _FACTORIES:
        raise ValueError(f"unknown sampler {name!r}; choose one of {sorted(_FACTORIES)}.")
    return _FACTORIES[name](space, seed, n_initial or DEFAULT_N_INITIAL.get(name))
