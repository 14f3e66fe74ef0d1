"""The final training recipe: more epochs, train on train + validation, score on test.

This module knows nothing about Optuna: a hand-made baseline network gets exactly
the recipe the search's winners get by calling :func:`train_final` itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from optuna_nas.data import ImageData
from optuna_nas.training import TrainConfig, TrainResult, evaluate, train

MIN_EPOCHS = 10
"""The fewest epochs :func:`final_config` chooses by default."""
EPOCH_FACTOR = 4
"""Default final epochs: this many times the search's epochs (at least :data:`MIN_EPOCHS`)."""


def final_data(data: ImageData) -> ImageData:
    """The splits of the final training: train on train + validation, score on test.

    The search needed a validation split to choose architectures; once they are
    chosen those images are better spent on training. The result's ``val`` split is
    the test split: :func:`~optuna_nas.training.train` evaluates it after every
    epoch, and that number is shown as progress only — nothing (no epoch, no
    architecture, no hyperparameter) is chosen on it, so the final test accuracy
    stays an unbiased estimate.

    The normalisation (``mean``, ``std``) stays that of ``data``'s training split:
    the validation images are a random draw from the same images, and models
    exported from the study build the search's normalisation in.

    Parameters
    ----------
    data:
        The search's splits, e.g. from :func:`~optuna_nas.data.load_data`. Data
        whose validation split already is its test split (this function's output)
        is returned unchanged, so applying it twice never trains on test images.

    Returns
    -------
    ImageData
        ``train`` = ``data.train`` followed by ``data.val``; ``val`` = ``test`` =
        ``data.test``.
    """
    if _is_final(data):
        return data
    return dataclasses.replace(
        data,
        train_x=torch.cat([data.train_x, data.val_x.to(data.train_x.device)]),
        train_y=torch.cat([data.train_y, data.val_y.to(data.train_y.device)]),
        val_x=data.test_x,
        val_y=data.test_y,
    )


def _is_final(data: ImageData) -> bool:
    if data.val_x is data.test_x and data.val_y is data.test_y:
        return True
    return (
        data.val_x.shape == data.test_x.shape
        and data.val_y.shape == data.test_y.shape
        and torch.equal(data.val_y, data.test_y.to(data.val_y.device))
        and torch.equal(data.val_x, data.test_x.to(data.val_x.device))
    )


def final_config(
    search_config: TrainConfig | dict[str, Any] | None,
    epochs: int | None = None,
    **overrides: Any,
) -> TrainConfig:
    """The final recipe: the search's recipe trained for longer.

    Batch size, learning rate, schedule, regularisation, augmentation and seed
    stay those of the search, so the ranking the search measured carries over;
    only the number of epochs grows. The default is ``4 x`` the search's epochs
    and at least 10: searches train each candidate for a few epochs, enough to
    rank architectures but far from convergence, and published NAS pipelines
    retrain the winners for much longer than they searched (DARTS, Liu et al.
    2019: 50 search epochs, 600 final ones).
    ``4 x`` keeps a final training affordable on a CPU; the floor of 10 gives the
    warm-up and the cosine schedule room after a 1-3 epoch search.

    Parameters
    ----------
    search_config:
        The search's recipe: a :class:`~optuna_nas.training.TrainConfig`, its
        ``to_dict()`` (the study user attr ``nas:train_config``, parsed), or
        ``None`` for the default recipe. Keys a dict has that ``TrainConfig``
        does not know (a newer version wrote it) are ignored.
    epochs:
        Final epochs (default: ``max(10, 4 * search epochs)``).
    **overrides:
        Other ``TrainConfig`` fields to change, e.g. ``device="cuda"``.

    Raises
    ------
    ValueError
        For an override ``TrainConfig`` has no field for, or an invalid value.
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"final_config: TrainConfig has no field(s) {unknown}.")
    if search_config is None:
        base = TrainConfig()
    elif isinstance(search_config, TrainConfig):
        base = search_config
    else:
        base = TrainConfig(**{k: v for k, v in search_config.items() if k in fields})
    if epochs is None:
        epochs = max(MIN_EPOCHS, EPOCH_FACTOR * base.epochs)
    return dataclasses.replace(base, epochs=epochs, **overrides)


def train_final(
    model: nn.Module,
    data: ImageData,
    config: TrainConfig,
    on_epoch: Callable[[int, float], None] | None = None,
) -> tuple[TrainResult, float]:
    """Train ``model`` with the final recipe and report its test accuracy.

    Parameters
    ----------
    model:
        A freshly initialised network (seed it before building it for a
        reproducible start, e.g. ``torch.manual_seed(config.seed)``).
    data:
        The search's splits; training uses :func:`final_data` of them (train +
        validation), so passing ``final_data``'s output is the same.
    config:
        The final recipe, usually from :func:`final_config`.
    on_epoch:
        ``fn(epoch, test_accuracy)`` after every epoch, for progress displays.

    Returns
    -------
    tuple[TrainResult, float]
        The training result (its ``curve`` is the per-epoch test accuracy) and the
        final model's test accuracy.

    Raises
    ------
    TrainingDiverged
        If the loss becomes NaN or infinite.
    """
    final = final_data(data)
    result = train(model, final, config, on_epoch=on_epoch)
    return result, evaluate(model, final, "test", config)
