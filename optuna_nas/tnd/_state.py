"""What the TND-NAS driver publishes in the study's system attrs, so any worker can read it.

All values are JSON: ``tnd:alpha`` maps each trade-off setting to its α (decision ->
active choice -> logit; choices removed by shrinking are absent), ``tnd:stage`` says
where the search is, ``tnd:trade_offs`` and ``tnd:baselines`` describe the reward,
``tnd:derived`` holds the architecture each setting derived at the end of the search
(the keys: :mod:`optuna_nas.storage.keys`).
"""

from __future__ import annotations

from typing import Any

import optuna

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.storage import keys, study_system_attrs, write_study_system_attr
from optuna_nas.tnd._distribution import ArchitectureDistribution


def publish(study: optuna.Study, **attrs: Any) -> None:
    """Write study system attrs (``tnd:<key>``) through the storage, visible to every worker."""
    for key, value in attrs.items():
        write_study_system_attr(study, f"{keys.TND_PREFIX}{key}", value)


def published(study: optuna.Study) -> dict[str, Any]:
    """The study's system attrs as storage holds them now (not a cached copy)."""
    return study_system_attrs(study)


def read_distributions(
    study: optuna.Study, space: BaseSpace
) -> dict[str, ArchitectureDistribution] | None:
    """Each setting's current α as a distribution, or ``None`` before the driver published any.

    Raises
    ------
    ValueError
        If the published α belongs to a different space (another ``space`` or node count).
    """
    alpha = published(study).get(keys.TND_ALPHA)
    if not alpha:
        return None
    try:
        return {name: ArchitectureDistribution.from_dict(space, a) for name, a in alpha.items()}
    except ValueError as exc:
        raise ValueError(
            f"study {study.study_name!r} holds TND-NAS logits of another space "
            f"({published(study).get(keys.TND_SPACE)}), not of {space!r}: {exc}"
        ) from None


def read_derived(study: optuna.Study) -> dict[str, Architecture] | None:
    """The derived architecture of each setting, once the search has finished."""
    derived = published(study).get(keys.TND_DERIVED)
    if not derived:
        return None
    return {name: Architecture.from_json(text) for name, text in derived.items()}
