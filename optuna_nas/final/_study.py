"""What a search study recorded: the trials to retrain, its recipe and its data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, Literal

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.data import ImageData, load_data
from optuna_nas.final._recipe import final_config
from optuna_nas.objectives import get_objective
from optuna_nas.search import pareto_indices
from optuna_nas.storage import keys
from optuna_nas.training import TrainConfig

Size = int | Literal["all"] | None
"""A subset size: a count, ``"all"`` images, or ``None`` for the search's own."""


def choose_trials(
    study: optuna.Study, trials: Iterable[int | FrozenTrial] | None = None
) -> list[FrozenTrial]:
    """The search trials a retrain trains: ``trials``, checked, or the full-fidelity front.

    Raises
    ------
    ValueError
        For an unknown number, a trial that is not COMPLETE or one without an
        architecture (user attr ``arch``).
    """
    everything = study.get_trials(deepcopy=False)
    if trials is None:
        eligible = [t for t in everything if t.state == TrialState.COMPLETE
                    and t.user_attrs.get(keys.FIDELITY, keys.FULL) == keys.FULL
                    and keys.ARCH_JSON in t.user_attrs]  # fmt: skip
        if not eligible:
            raise ValueError(
                f"study {study.study_name!r} has no COMPLETE, fully trained trial with an "
                "architecture (user attr 'arch') to retrain: was it searched with optuna-nas?"
            )
        return [eligible[i] for i in pareto_indices(study, eligible)]
    by_number = {t.number: t for t in everything}
    chosen: list[FrozenTrial] = []
    for item in trials:
        number = item.number if isinstance(item, FrozenTrial) else int(item)
        trial = by_number.get(number)
        if trial is None:
            known = f"0-{len(everything) - 1}" if everything else "none"
            raise ValueError(
                f"study {study.study_name!r} has no trial {number} (its trials: {known})."
            )
        if trial.state != TrialState.COMPLETE:
            raise ValueError(
                f"trial {number} of study {study.study_name!r} is {trial.state.name}; only "
                "COMPLETE trials can be retrained."
            )
        if keys.ARCH_JSON not in trial.user_attrs:
            raise ValueError(
                f"trial {number} of study {study.study_name!r} has no architecture (user attr "
                "'arch'): was the study searched with optuna-nas?"
            )
        if all(t.number != number for t in chosen):
            chosen.append(trial)
    if not chosen:
        raise ValueError("no trial to retrain was given.")
    return chosen


def study_data(
    study: optuna.Study,
    *,
    train_size: Size = None,
    test_size: Size = None,
    root: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> ImageData:
    """The search's splits, rebuilt from what the study recorded.

    ``optuna-nas search`` records its options (``nas:search``: dataset, image size,
    validation size, subset sizes, seed), which give back the same split. A study
    made in Python records only its dataset name (``nas:dataset``); it is loaded
    with :func:`~optuna_nas.data.load_data`'s default split — pass ``data=`` to
    :func:`retrain` if the search used another.

    Parameters
    ----------
    train_size, test_size:
        A count, ``"all"``, or ``None`` for the search's.
    root:
        Where the datasets are (``--data-root``).
    """
    settings = study.user_attrs.get(keys.SEARCH_SETTINGS)
    sizes = {"train_size": train_size, "test_size": test_size}
    if settings is not None:
        kwargs = {k: settings.get(k) for k in ("val_size", "train_size", "test_size", "seed")}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if settings.get("image_size") is not None:
            kwargs["image_size"] = settings["image_size"]
        name = settings["dataset"]
    elif keys.STUDY_DATASET in study.user_attrs:
        kwargs, name = {}, study.user_attrs[keys.STUDY_DATASET]
    else:
        raise ValueError(
            f"study {study.study_name!r} records no dataset (user attr {keys.SEARCH_SETTINGS!r} or "
            f"{keys.STUDY_DATASET!r}); pass data=... (the search's splits)."
        )
    for key, size in sizes.items():
        if size == "all":
            kwargs.pop(key, None)
        elif size is not None:
            kwargs[key] = int(size)
    return load_data(name, root=root, device=device, **kwargs)


def study_config(study: optuna.Study, epochs: int | None = None, **overrides: Any) -> TrainConfig:
    """:func:`final_config` of the recipe the study recorded (``nas:train_config``).

    A study without one gets the final version of the default recipe.
    """
    recorded = study.user_attrs.get(keys.STUDY_TRAIN_CONFIG)
    return final_config(json.loads(recorded) if recorded else None, epochs, **overrides)


def metric_names(study: optuna.Study) -> list[str]:
    """The study's metric names, each a registered objective; ``ValueError`` otherwise."""
    names = study.metric_names
    if not names:
        raise ValueError(
            f"study {study.study_name!r} has no metric names, so its values cannot be matched "
            "to objectives; create studies with optuna_nas.create_study([...])."
        )
    for name in names:
        get_objective(name)  # unknown names fail before any training
    return list(names)


def check_data(study: optuna.Study, data: ImageData) -> None:
    """Refuse data whose images or classes differ from those the study searched on."""
    shape = study.user_attrs.get(keys.STUDY_INPUT_SHAPE)
    classes = study.user_attrs.get(keys.STUDY_NUM_CLASSES)
    if shape is not None and list(data.input_shape) != list(shape):
        raise ValueError(f"the data has images of shape {list(data.input_shape)}, but study "
                         f"{study.study_name!r} searched on {list(shape)}.")  # fmt: skip
    if classes is not None and data.num_classes != classes:
        raise ValueError(f"the data has {data.num_classes} classes, but study "
                         f"{study.study_name!r} searched with {classes}.")  # fmt: skip
