"""Train a study's chosen architectures from scratch and record them in ``S:final``."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.data import ImageData
from optuna_nas.encoding import Architecture
from optuna_nas.final import _records
from optuna_nas.final._recipe import final_data, train_final
from optuna_nas.final._study import (
    Size,
    check_data,
    choose_trials,
    metric_names,
    study_config,
    study_data,
)
from optuna_nas.networks import build_network
from optuna_nas.objectives import count_flops, count_params, get_objective, measure_latency
from optuna_nas.search import create_study, upload_weights
from optuna_nas.storage import (
    complete_trial,
    create_running_trial,
    fail_trial,
    keys,
    read_trial,
    storage_of,
)
from optuna_nas.training import TrainConfig, TrainingDiverged

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

_logger = logging.getLogger(__name__)


def retrain(
    study: optuna.Study,
    trials: Iterable[int | FrozenTrial] | None = None,
    *,
    epochs: int | None = None,
    config: TrainConfig | None = None,
    data: ImageData | None = None,
    artifact_store: ArtifactStore | None | bool = None,
    train_size: Size = None,
    test_size: Size = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    on_epoch: Callable[[int, int, float], None] | None = None,
) -> list[FrozenTrial]:
    """Train chosen trials of a search from scratch with the final recipe.

    Each model starts from fresh weights (``torch.manual_seed(config.seed)``),
    trains on the search's train + validation images (:func:`final_data`) and is
    scored on the test split. Each result is a COMPLETE trial of the companion
    study ``f"{study.study_name}:final"`` in the same storage (same objectives and
    directions; the source trial's params, so the dashboard shows them), whose
    values are the objectives of the final model with ``error = 1 - test
    accuracy``. User attrs: ``source_trial``, ``arch``, ``arch_str``, ``params``,
    ``flops``, ``latency_ms``, ``test_accuracy``, ``test_curve``, ``train_seconds``,
    ``epochs``, ``train_images``, ``test_images``, ``recipe``, ``normalization``,
    ``weights_artifact_id``, ``weights_sha256`` and ``fidelity="final"``; the
    weights are a safetensors artifact of the companion trial.

    Resuming: a source trial that already has a COMPLETE companion trial with the
    same recipe on the same numbers of images is not trained again (its record is
    returned). An interrupted retrain ends its current trial as FAIL; a killed one
    leaves it RUNNING, and the next retrain on that host marks it FAIL (see
    :func:`~optuna_nas.final._records.fail_stale`). A source trial another live
    retrain is training is skipped with a warning.

    Parameters
    ----------
    study:
        The search study.
    trials:
        Trial numbers (or trials) to retrain. Default: the Pareto front of the
        COMPLETE trials whose ``fidelity`` is ``"full"`` or missing (TND-NAS
        supernet scores are left out).
    epochs:
        Final epochs (default: :func:`final_config`'s, 4x the search's, at least 10).
    config:
        The final recipe; default :func:`study_config` (the search's recipe, longer).
    data:
        The search's splits (default: rebuilt by :func:`study_data` from the study's
        recorded settings; call it yourself for data in another ``root``).
    artifact_store:
        Where the weights go; default the search's ``artifact_dir`` (recorded by
        ``optuna-nas search``) or ``./artifacts``; ``False`` stores no weights.
    train_size, test_size:
        With ``data=None``: training (before the validation images are added) and
        test images to use, ``"all"``, or ``None`` for the search's.
    callbacks:
        ``fn(final_study, final_trial)`` after each model this call trains.
    on_epoch:
        ``fn(source_trial_number, epoch, test_accuracy)`` after every epoch.

    Returns
    -------
    list[FrozenTrial]
        A companion trial per chosen trial, in the order given (COMPLETE, or FAIL
        with ``fail_reason`` for a diverged or out-of-memory training).

    Raises
    ------
    ValueError
        For an unknown trial number, a trial that is not COMPLETE or has no
        architecture, a study without metric names, or data of another shape.
    """
    names = metric_names(study)
    sources = choose_trials(study, trials)
    if config is None:
        config = study_config(study, epochs)
    elif epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    if data is None:
        data = study_data(study, train_size=train_size, test_size=test_size,
                          device=config.resolved_device())  # fmt: skip
    elif train_size is not None or test_size is not None:
        raise ValueError("train_size and test_size select images of data rebuilt from the "
                         "study; with data=... pass data of the size you want.")  # fmt: skip
    check_data(study, data)
    data = final_data(data)  # train + validation; data already merged stays as it is
    store = _artifact_store(study, artifact_store)
    final = open_final_study(study, config, data)
    for number in _records.fail_stale(final):
        _logger.warning("%s trial %d was left RUNNING by a killed retrain: marked FAIL",
                        final.study_name, number)  # fmt: skip
    recipe = _records.recipe_json(config)
    train_images, test_images = len(data.train_y), len(data.test_y)
    results = []
    for source in sources:
        done = _records.finished_record(final, source.number, recipe, train_images, test_images)
        if done is not None:
            results.append(done)
            continue
        busy = _records.running_elsewhere(final, source.number)
        if busy is not None:
            _logger.warning(
                "trial %d is being retrained by process %s on %s (%s trial %d); skipped",
                source.number, busy.system_attrs.get(keys.RETRAIN_PID),
                busy.system_attrs.get(keys.RETRAIN_HOST), final.study_name, busy.number,
            )  # fmt: skip
            continue
        record = _train_one(final, source, names, config, data, store, on_epoch)
        results.append(record)
        for callback in callbacks:
            callback(final, record)
    return results


def open_final_study(study: optuna.Study, config: TrainConfig, data: ImageData) -> optuna.Study:
    """The companion study ``S:final`` (created on first use), with the recipe recorded.

    ``data`` are the final splits (:func:`final_data`).
    """
    names = metric_names(study)
    final = create_study(names, storage=storage_of(study),
                         study_name=_records.final_study_name(study.study_name))  # fmt: skip
    if final.directions != study.directions:
        raise ValueError(
            f"study {final.study_name!r} has directions {[d.name for d in final.directions]}, "
            f"not those of {study.study_name!r}; delete it or rename the search study."
        )
    final.set_user_attr(keys.STUDY_SOURCE, study.study_name)
    for key in (keys.STUDY_SPACE, keys.STUDY_DATASET):
        if key in study.user_attrs:
            final.set_user_attr(key, study.user_attrs[key])
    final.set_user_attr(keys.STUDY_INPUT_SHAPE, list(data.input_shape))
    final.set_user_attr(keys.STUDY_NUM_CLASSES, data.num_classes)
    final.set_user_attr(keys.STUDY_NORMALIZATION, _normalization(data))
    final.set_user_attr(keys.STUDY_TRAIN_CONFIG, json.dumps(config.to_dict()))
    final.set_user_attr(keys.STUDY_RECIPE, {
        "recipe": json.loads(_records.recipe_json(config)),
        "data": "trained on the search's train + validation images, scored on its test images",
        "train_images": len(data.train_y),
        "test_images": len(data.test_y),
    })  # fmt: skip
    return final


def _train_one(
    final: optuna.Study,
    source: FrozenTrial,
    names: list[str],
    config: TrainConfig,
    data: ImageData,
    store: ArtifactStore | None,
    on_epoch: Callable[[int, int, float], None] | None,
) -> FrozenTrial:
    arch = Architecture.from_json(source.user_attrs[keys.ARCH_JSON])
    shape, classes = data.input_shape, data.num_classes
    template = FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, values=None,
        datetime_start=datetime.datetime.now(), datetime_complete=None,
        params=dict(source.params), distributions=dict(source.distributions),
        user_attrs={
            keys.SOURCE_TRIAL: source.number, **keys.architecture_record(arch, keys.FINAL),
            keys.RECIPE: _records.recipe_json(config),
            keys.EPOCHS: config.epochs, "device": str(config.resolved_device()),
            "train_images": len(data.train_y), "test_images": len(data.test_y),
            "normalization": _normalization(data),
        },
        system_attrs=_records.owner(), intermediate_values={}, trial_id=-1,
    )  # fmt: skip
    trial_id = create_running_trial(final, template)
    _records.claim(trial_id)
    trial = optuna.trial.Trial(final, trial_id)
    model = None
    try:
        latency = measure_latency(arch, shape, classes)
        values = {
            "params": count_params(arch, shape, classes),
            "flops": count_flops(arch, shape, classes),
            "latency": latency.milliseconds,
        }
        trial.set_user_attr("params", values["params"])
        trial.set_user_attr("flops", values["flops"])
        trial.set_user_attr("latency_ms", latency.milliseconds)
        torch.manual_seed(config.seed)  # the same architecture starts from the same weights
        model = build_network(arch, shape[0], classes)
        curve: list[float] = []

        def epoch_done(epoch: int, accuracy: float) -> None:
            curve.append(accuracy)
            trial.set_user_attr("test_curve", curve)
            if on_epoch is not None:
                on_epoch(source.number, epoch, accuracy)

        result, accuracy = train_final(model, data, config, on_epoch=epoch_done)
        trial.set_user_attr("test_accuracy", accuracy)
        trial.set_user_attr("train_seconds", result.seconds)
        trial.set_user_attr(keys.EPOCHS, result.epochs)
        trial.set_user_attr("images_per_second", result.images_per_second)
        if store is not None:
            upload_weights(store, trial, model)
        values.update(error=1.0 - accuracy, accuracy=accuracy)
        for name in names:
            if name not in values:  # user-registered cheap objectives
                values[name] = get_objective(name).evaluate(arch, shape, classes)
        complete_trial(final, trial_id, [values[n] for n in names])
    except (TrainingDiverged, torch.OutOfMemoryError, MemoryError) as exc:
        fail_trial(final, trial_id, f"{type(exc).__name__}: {exc}")
        _logger.warning("final training of trial %d failed: %s", source.number, exc)
    except BaseException as exc:  # interrupted or broken: nothing stays RUNNING
        fail_trial(final, trial_id, f"interrupted: {type(exc).__name__}: {exc}")
        raise
    finally:
        _records.release(trial_id)
        del model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return read_trial(final, trial_id)


def _artifact_store(
    study: optuna.Study, artifact_store: ArtifactStore | None | bool
) -> ArtifactStore | None:
    if artifact_store is False:
        return None
    if artifact_store is not None and artifact_store is not True:
        return artifact_store
    settings = study.user_attrs.get(keys.SEARCH_SETTINGS) or {}
    directory = settings.get("artifact_dir") or "artifacts"
    os.makedirs(directory, exist_ok=True)
    return FileSystemArtifactStore(directory)


def _normalization(data: ImageData) -> dict[str, list[float]]:
    return {"mean": list(data.mean), "std": list(data.std)}
