from __future__ import annotations

import gc
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas.data import ImageData, load_data
from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.networks import inherit_weights
from optuna_nas.objectives import count_flops, count_params, get_objective, measure_latency
from optuna_nas.search._artifacts import load_parent, upload_weights
from optuna_nas.storage import enqueued_params, fresh_system_attrs, keys, trial_by_number
from optuna_nas.training import (
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    evaluate,
    train,
)
from optuna_nas.workers import device_label

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

_logger = logging.getLogger(__name__)


class NASObjective:
    """An Optuna objective that trains the suggested architecture.

    Each call: suggest an architecture (``space.suggest``), build it, warm-start it
    from its parent trial's weights if a sampler set one, train it with the shared
    recipe, record everything in storage, upload the trained weights (safetensors)
    as an artifact of the trial, and return the objective values in the order of
    ``study.metric_names``.

    Parameters
    ----------
    space:
        The search space.
    data:
        An :class:`~optuna_nas.data.ImageData` or the name of a registered dataset.
    objectives:
        Registered objective names, e.g. ``["error", "params"]``.
    train_config:
        The training recipe (default :class:`~optuna_nas.training.TrainConfig`).
    artifact_store:
        Where the weights go: any Optuna artifact store. ``None`` stores them in
        ``./artifacts``; ``False`` keeps no weights (children cannot inherit).
    inherit:
        Warm-start children from their parent's weights (Lamarckian inheritance). With
        ``False`` every trial starts from fresh weights, lineage or not: the baseline
        that shows what inheritance buys.

    Notes
    -----
    Known failures end the trial as FAIL without stopping the study: a diverging
    loss and running out of memory return NaN (Optuna's FAIL), with the reason in
    the user attr ``fail_reason``.

    Examples
    --------
    >>> space = NB201Space(channels=8, cells=1)                     # doctest: +SKIP
    >>> objective = NASObjective(space, "fashion-mnist", ["error", "params"])
    >>> study = optuna_nas.create_study(["error", "params"])
    >>> study.optimize(objective, n_trials=20)
    """

    def __init__(
        self,
        space: BaseSpace,
        data: ImageData | str,
        objectives: Sequence[str] = ("error", "params"),
        train_config: TrainConfig | None = None,
        artifact_store: ArtifactStore | None | bool = None,
        inherit: bool = True,
    ) -> None:
        if not isinstance(space, BaseSpace):
            raise ValueError(f"space must be an optuna_nas space, got {type(space).__name__}.")
        self.space = space
        self.objectives = [get_objective(name) for name in objectives]
        if not self.objectives:
            raise ValueError("objectives must name at least one objective.")
        if len({o.name for o in self.objectives}) != len(self.objectives):
            raise ValueError(f"objectives has duplicates: {list(objectives)}.")
        self.train_config = train_config or TrainConfig()
        self.data = load_data(data) if isinstance(data, str) else data
        if artifact_store is None:
            os.makedirs("artifacts", exist_ok=True)
            artifact_store = FileSystemArtifactStore("artifacts")
        self.artifact_store = artifact_store or None
        self.inherit = inherit
        self.epoch_callbacks: list[Callable[[optuna.Trial, int, float], None]] = []
        """Called as ``fn(trial, epoch, val_accuracy)`` after every epoch (progress displays)."""

    @property
    def metric_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    def check_study(self, study: optuna.Study) -> list[str]:
        """The metric order to return; ``ValueError`` if the study does not fit."""
        names = study.metric_names or self.metric_names
        if sorted(names) != sorted(self.metric_names):
            raise ValueError(
                f"study {study.study_name!r} has metric names {names} but the objective "
                f"computes {self.metric_names}; create the study with "
                f"optuna_nas.create_study({self.metric_names})."
            )
        if len(study.directions) != len(names):
            raise ValueError(
                f"study {study.study_name!r} has {len(study.directions)} direction(s) but the "
                f"objective returns {len(names)} values ({names}); create the study with "
                f"optuna_nas.create_study({self.metric_names})."
            )
        by_name = {o.name: o for o in self.objectives}
        for name, direction in zip(names, study.directions, strict=True):
            expected = by_name[name].direction
            if direction.name.lower() != expected:
                raise ValueError(
                    f"study {study.study_name!r}: objective {name!r} must be {expected}d, but the "
                    f"study direction is {direction.name.lower()}; create the study with "
                    f"optuna_nas.create_study({self.metric_names})."
                )
        # Another kind of space or another dataset: a front of incomparable trials.
        recorded = study.user_attrs
        space, dataset = recorded.get(keys.STUDY_SPACE), recorded.get(keys.STUDY_DATASET)
        if space is not None and not space.startswith(f"{type(self.space).__name__}("):
            raise ValueError(
                f"study {study.study_name!r} was searched in {space}, not in {self.space!r}; "
                "use the same space or a new study name."
            )
        if dataset is not None and dataset != self.data.name:
            raise ValueError(
                f"study {study.study_name!r} was searched on dataset {dataset!r}, not "
                f"{self.data.name!r}; use the same dataset or a new study name."
            )
        return names

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        names = self.check_study(trial.study)
        self._check_enqueued(trial)
        self.record_study(trial.study)
        arch = self.space.suggest(trial)
        data = self.data
        shape, classes = data.input_shape, data.num_classes
        # Trained from its own weights, not a supernet's.
        for key, value in keys.architecture_record(arch, keys.FULL).items():
            trial.set_user_attr(key, value)
        values: dict[str, float] = {
            "params": count_params(arch, shape, classes),
            "flops": count_flops(arch, shape, classes),
        }
        trial.set_user_attr("params", values["params"])
        trial.set_user_attr("flops", values["flops"])
        trial.set_user_attr(keys.TRAIN_SIZE, len(data.train_y))
        trial.set_user_attr(keys.DEVICE, device_label(self.train_config.resolved_device()))
        try:
            latency = measure_latency(arch, shape, classes)
            values["latency"] = latency.milliseconds
            trial.set_user_attr("latency_ms", latency.milliseconds)
            trial.set_user_attr(
                "latency_setup",
                f"batch {latency.batch_size}, {latency.threads} thread(s), {latency.device}",
            )
            accuracy = self._train(trial, arch, names)
        except TrainingDiverged as exc:
            return self._fail(trial, f"diverged: {exc}", len(names))
        except (torch.OutOfMemoryError, MemoryError) as exc:
            return self._fail(trial, f"out of memory: {exc}", len(names))
        except RuntimeError as exc:
            if "can't allocate memory" not in str(exc) and "out of memory" not in str(exc):
                raise
            return self._fail(trial, f"out of memory: {exc}", len(names))
        values["error"] = 1.0 - accuracy
        values["accuracy"] = accuracy
        for objective in self.objectives:
            if objective.name not in values:  # user-registered cheap objectives
                values[objective.name] = objective.evaluate(arch, shape, classes)
        result = tuple(values[name] for name in names)
        return result[0] if len(result) == 1 else result

    # ------------------------------------------------------------------ steps
    def _check_enqueued(self, trial: optuna.Trial) -> None:
        """Refuse enqueued params of another space (ignored silently otherwise) or out of range."""
        fixed = enqueued_params(trial)
        if fixed and not set(fixed) & set(self.space.distributions()):
            raise ValueError(
                f"trial {trial.number} was enqueued with params {sorted(fixed)[:4]}, none of "
                f"which belong to {self.space!r}: were they produced by a different space? "
                "Enqueue space.to_params(architecture) of this space."
            )
        for name, distribution in self.space.distributions().items():
            if name in fixed and fixed[name] not in distribution.choices:
                raise ValueError(
                    f"trial {trial.number} was enqueued with {name}={fixed[name]!r}, not one of "
                    f"{list(distribution.choices)} of {self.space!r}."
                )

    def _train(self, trial: optuna.Trial, arch: Architecture, names: list[str]) -> float:
        data, config = self.data, self.train_config
        start = time.perf_counter()
        model = None
        try:
            torch.manual_seed(config.seed)  # the same architecture starts from the same weights
            model = self.space.build(arch, data.input_shape[0], data.num_classes)
            teacher, inherited_epochs = self._inherit(trial, arch, model)
            build_seconds = time.perf_counter() - start
            curve: list[float] = []
            reported = names[0] if len(names) == 1 and names[0] in ("error", "accuracy") else None

            def on_epoch(epoch: int, accuracy: float) -> None:
                curve.append(accuracy)
                trial.set_user_attr("val_curve", curve)
                for callback in self.epoch_callbacks:
                    callback(trial, epoch, accuracy)
                if reported is not None:
                    trial.report(accuracy if reported == "accuracy" else 1 - accuracy, epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}")

            if teacher is not None:
                distill = _distill(model, teacher, data, config)
                trial.set_user_attr("distill_val_accuracy", distill.val_accuracy)
                del teacher
            result = train(model, data, config, on_epoch=on_epoch)
            # What the weights have seen: a child's error is not a fresh network's.
            trial.set_user_attr(keys.LINEAGE_EPOCHS, inherited_epochs + result.epochs)
            test_accuracy = evaluate(model, data, "test", config)
            trial.set_user_attr("val_accuracy", result.val_accuracy)
            trial.set_user_attr("test_accuracy", test_accuracy)
            trial.set_user_attr(keys.EPOCHS, result.epochs)
            trial.set_user_attr("train_seconds", result.seconds)
            trial.set_user_attr("build_seconds", build_seconds)
            trial.set_user_attr("images_per_second", result.images_per_second)
            if self.artifact_store is not None:
                upload_weights(self.artifact_store, trial, model)
            return result.val_accuracy
        finally:
            del model
            _release_memory()

    def _inherit(
        self, trial: optuna.Trial, arch: Architecture, model: torch.nn.Module
    ) -> tuple[torch.nn.Module | None, int]:
        """Load the parent's weights if a sampler named one.

        Returns a teacher to distil from (or ``None``) and the epochs of training the
        inherited weights carry: the parent's ``lineage_epochs`` for a network morphism,
        0 for an approximate one or fresh weights.
        """
        system = fresh_system_attrs(trial)
        parent_number = system.get(keys.PARENT_TRIAL)
        if parent_number is None:
            return None, 0
        trial.set_user_attr("parent_trial", parent_number)
        trial.set_user_attr("operator", system.get(keys.OPERATOR))
        if not self.inherit:
            trial.set_user_attr("inheritance", "off: trained from fresh weights")
            return None, 0
        try:
            parent = trial_by_number(trial.study, int(parent_number))
            parent_arch, state, teacher = load_parent(
                self.artifact_store, parent, self.data.input_shape[0], self.data.num_classes
            )
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            # A lost, corrupt or foreign parent file costs the warm start, never the trial.
            message = f"failed, trained from scratch: parent trial {parent_number}: {exc}"
            trial.set_user_attr("inheritance", message[:500])
            _logger.warning("trial %d: %s", trial.number, message)
            return None, 0
        # Exact for network morphisms: the child starts with the parent's function.
        report = inherit_weights(parent_arch, state, arch, model)
        trial.set_user_attr("inheritance", report.summary())
        # Where Lamarckian inheritance starts the child: the parent's accuracy for morphisms.
        model.to(self.train_config.resolved_device())
        trial.set_user_attr(
            "initial_val_accuracy", evaluate(model, self.data, "val", self.train_config)
        )
        if system.get(keys.DISTILL):
            # An approximate morphism keeps little of its parent's function (it starts
            # near chance before distillation): its training starts over.
            return teacher, 0
        return None, keys.lineage_epochs(parent)

    def record_study(self, study: optuna.Study) -> None:
        """Record the space, data shape, dataset and recipe in the study's user attrs, once.

        Samplers read the input shape and classes from there to compute cheap
        objectives; resuming with another space or dataset is refused on them.
        """
        if keys.STUDY_SPACE in study.user_attrs:
            return
        study.set_user_attr(keys.STUDY_SPACE, repr(self.space))
        study.set_user_attr(keys.STUDY_INPUT_SHAPE, list(self.data.input_shape))
        study.set_user_attr(keys.STUDY_NUM_CLASSES, self.data.num_classes)
        study.set_user_attr(keys.STUDY_DATASET, self.data.name)
        study.set_user_attr(keys.STUDY_INHERITS, self.inherit and self.artifact_store is not None)
        study.set_user_attr(keys.STUDY_TRAIN_CONFIG, json.dumps(self.train_config.to_dict()))
        study.set_user_attr(
            keys.STUDY_NORMALIZATION, {"mean": list(self.data.mean), "std": list(self.data.std)}
        )

    @staticmethod
    def _fail(trial: optuna.Trial, reason: str, n_values: int) -> float | tuple[float, ...]:
        reason = reason.splitlines()[0][:500]
        trial.set_user_attr(keys.FAIL_REASON, reason)
        _logger.warning("trial %d failed: %s", trial.number, reason)
        # Optuna records a NaN result as FAIL and carries on with the study.
        return math.nan if n_values == 1 else (math.nan,) * n_values


def _distill(
    model: torch.nn.Module, teacher: torch.nn.Module, data: ImageData, config: TrainConfig
) -> TrainResult:
    """Teach an approximate morphism its parent's outputs for a quarter of the trial's budget.

    A quarter of ``config.epochs``; below 4 epochs, one epoch over that fraction of the
    training images, so a 1-epoch search does not pay a whole extra epoch per child.
    """
    if config.epochs >= 4:
        return train(model, data, replace(config, epochs=config.epochs // 4), teacher=teacher)
    n = max(config.batch_size, len(data.train_y) * config.epochs // 4)
    part = replace(data, train_x=data.train_x[:n], train_y=data.train_y[:n])
    return train(model, part, replace(config, epochs=1), teacher=teacher)


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
