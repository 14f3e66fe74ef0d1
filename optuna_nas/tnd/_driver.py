"""``TNDSearch``: the TND-NAS study driver (Lyu, Wen et al., arXiv 2111.03892)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.data import ImageData, load_data
from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.objectives import get_objective
from optuna_nas.search import NASObjective
from optuna_nas.storage import keys
from optuna_nas.tnd import _state
from optuna_nas.tnd._derive import derive
from optuna_nas.tnd._distribution import ArchitectureDistribution
from optuna_nas.tnd._policy import record_stage, supernet_fit
from optuna_nas.tnd._reinforce import Reinforce, RewardBaseline
from optuna_nas.tnd._reward import TradeOff, trade_off_ladder
from optuna_nas.tnd._supernet import build_supernet, check_fixed_macro
from optuna_nas.tnd._training import SupernetTrainer
from optuna_nas.tnd._update import PoolUpdate
from optuna_nas.training import TrainConfig

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore


_FIT_ARCHS = 4
"""Sub-networks the end-of-stage overfitting check scores on a training and a validation batch."""


@dataclass(frozen=True)
class TNDEvent:
    """Progress of a :class:`TNDSearch`, for displays.

    ``kind`` is ``"stage"`` (a search stage starts; ``total`` weight steps), ``"update"``
    (α was updated after ``done`` weight steps of the stage), ``"final"`` (full training
    of ``total`` derived architectures starts), ``"epoch"`` (an epoch of a final trial
    ended; ``done`` of ``total`` epochs) or ``"trial"`` (``done`` of ``total`` final
    trials finished).
    """

    kind: str
    stage: int
    n_stages: int
    done: int
    total: int
    message: str


class TNDSearch:
    """TND-NAS: one weight-sharing supernet, α per trade-off by REINFORCE, shrinking by α.

    One supernet and one stream of α updates serve every trade-off setting, so a front
    of 12 settings costs about what a front of 3 does. The supernet's weights train on
    the train split, each step on one architecture drawn from one setting's α (the
    settings take turns; ``weight_training="sampled"``) or on that setting's α-weighted
    mixture of all ops still in its search space (``"mixture"``, the continuous
    relaxation of the paper, 3-5x the memory per image). Every ``1 / updates_per_epoch``
    of an epoch, ``samples_per_update`` discrete architectures are drawn from the
    settings' softmax(α) and scored on one validation batch with the shared weights;
    every setting turns each sample's accuracy and costs into its reward and updates
    its α by REINFORCE on the whole pool, importance-weighted, with a moving-average
    baseline, rewards scaled by their moving standard deviation, an entropy bonus and
    a cap on any op's probability (:mod:`optuna_nas.tnd._update`,
    :class:`Reinforce`). After each stage every setting's edges keep only their most
    likely ops (``shrink_to``). Finally each setting's most likely architecture (with
    ``distinct``, the most likely one no earlier setting derived) is trained from
    scratch by :class:`~optuna_nas.NASObjective`.

    Everything lands in the study: each scored architecture is a COMPLETE trial with
    user attr ``fidelity="supernet"`` (values from the validation batch), the derived
    ones are ordinary trials with ``fidelity="full"``; α, the stage and the derived
    architectures are study system attrs (``optuna_nas.tnd._state``), which
    :class:`TNDSampler` reads so other workers can join, and each stage's policy
    (entropy, top ops, rewards, the supernet's overfitting) is the study user attr
    ``tnd:policy:<stage>`` that optuna-dashboard shows.

    Parameters
    ----------
    study:
        A study made by :func:`optuna_nas.create_study` (its metric names say which
        values each trial gets: ``error``/``accuracy`` and cheap costs).
    space:
        ``NB201Space`` or ``DartsSpace`` with a single ``channels`` and ``cells`` value.
    data:
        An :class:`~optuna_nas.data.ImageData` or a registered dataset name.
    trade_offs:
        The reward settings, one α each (default: 3 settings whose targets span the
        range of the study's first cheap metric, see :func:`trade_off_ladder`).
    shrink_to:
        Ops kept per edge after each stage; ``len(shrink_to) + 1`` stages (default NB201
        ``(3, 2)``, DARTS ``(5, 3)``).
    search_config:
        The supernet's training recipe; ``epochs`` is per stage (default 2 epochs).
    train_config:
        The recipe for training the derived architectures from scratch.
    reinforce:
        The α update (learning rate, entropy bonus, baseline decay, probability cap).
    samples_per_update:
        Architectures scored per α update, shared by all settings (at least one per setting).
    updates_per_epoch:
        α updates per epoch of weight training (evenly spaced; at most one per step).
    reward_batch_size:
        Validation images each sampled architecture is scored on.
    warmup_epochs:
        Weight-only epochs before α starts to move.
    weight_training:
        ``"sampled"`` (one architecture drawn from α per step: the weights train the way
        rewards are measured, with the memory of one sub-network) or ``"mixture"`` (all
        active ops weighted by softmax(α), as in DARTS and the TND-NAS paper).
    distinct:
        Derive a different architecture for every setting (see :func:`derive`).
    artifact_store:
        Where the final trials' weights go (see :class:`~optuna_nas.NASObjective`).
    seed:
        Seed of the architecture draws.
    callbacks:
        Called with every :class:`TNDEvent`.
    """

    def __init__(
        self,
        study: optuna.Study,
        space: BaseSpace,
        data: ImageData | str,
        trade_offs: Sequence[TradeOff] | None = None,
        *,
        shrink_to: Sequence[int] | None = None,
        search_config: TrainConfig | None = None,
        train_config: TrainConfig | None = None,
        reinforce: Reinforce | None = None,
        samples_per_update: int = 16,
        updates_per_epoch: int = 4,
        reward_batch_size: int = 256,
        warmup_epochs: int = 1,
        weight_training: str = "sampled",
        distinct: bool = True,
        artifact_store: ArtifactStore | None | bool = None,
        seed: int = 0,
        callbacks: Sequence[Callable[[TNDEvent], None]] = (),
    ) -> None:
        check_fixed_macro(space)
        self.study, self.space = study, space
        self.data = load_data(data) if isinstance(data, str) else data
        shape, classes = self.data.input_shape, self.data.num_classes
        self.metric_names = _check_metrics(study)
        if trade_offs is None:
            cheap = [n for n in self.metric_names if get_objective(n).cheap] or ["params"]
            trade_offs = trade_off_ladder(
                space, cheap[0], 3, input_shape=shape, num_classes=classes
            )
        self.trade_offs = {t.name: t for t in trade_offs}
        if not self.trade_offs or len(self.trade_offs) != len(trade_offs):
            raise ValueError("trade_offs must be a non-empty list of settings with distinct names.")
        default_shrink = (3, 2) if space.kind == "nb201" else (5, 3)
        self.shrink_to = tuple(default_shrink if shrink_to is None else shrink_to)
        counts = (len(space.ops), *self.shrink_to)
        if any(b >= a for a, b in itertools.pairwise(counts)) or min(counts) < 1:
            raise ValueError(
                f"shrink_to={list(self.shrink_to)} must decrease strictly from the "
                f"{len(space.ops)} ops of {space!r} and stay >= 1."
            )
        self.search_config = search_config or TrainConfig(epochs=2)
        self.train_config = train_config or TrainConfig()
        self.reinforce = reinforce or Reinforce()
        if weight_training not in ("mixture", "sampled"):
            raise ValueError(
                f"weight_training must be 'mixture' or 'sampled', got {weight_training!r}."
            )
        for name, value in (("samples_per_update", samples_per_update),
                            ("updates_per_epoch", updates_per_epoch),
                            ("reward_batch_size", reward_batch_size)):  # fmt: skip
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}.")
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}.")
        self.samples_per_update, self.updates_per_epoch = samples_per_update, updates_per_epoch
        self.reward_batch_size, self.warmup_epochs = reward_batch_size, warmup_epochs
        self.weight_training, self.distinct = weight_training, distinct
        self.objective = NASObjective(space, self.data, self.metric_names, self.train_config,
                                      artifact_store)  # fmt: skip
        self.callbacks = list(callbacks)
        self._rng = np.random.default_rng(seed)
        cost_names = {n for n in self.metric_names if get_objective(n).cheap}
        cost_names |= {c for t in self.trade_offs.values() for c in t.targets}
        self._cost_fns = {n: get_objective(n).bind(shape, classes) for n in cost_names}
        self._cost_cache: dict[str, dict[str, float]] = {}

    @property
    def n_stages(self) -> int:
        return len(self.shrink_to) + 1

    # ------------------------------------------------------------------ the whole run
    def run(self) -> list[FrozenTrial]:
        """Search (unless this study already finished its search), then train the derived set."""
        stage = _state.published(self.study).get(keys.TND_STAGE) or {}
        derived = None
        if stage.get("status") in ("final", "done"):
            derived = _state.read_derived(self.study)
        if derived is None:
            derived = self.search()
        return self.train_derived(derived)

    def search(self) -> dict[str, Architecture]:
        """Train the supernet, update α and shrink; return each setting's derived architecture."""
        self.objective.record_study(self.study)
        config = self.search_config
        torch.manual_seed(config.seed)
        supernet = build_supernet(self.space, self.data.input_shape[0], self.data.num_classes)
        steps_per_epoch = len(self.data.train_y) // min(config.batch_size, len(self.data.train_y))
        epochs = [self.warmup_epochs + config.epochs] + [config.epochs] * len(self.shrink_to)
        trainer = SupernetTrainer(supernet, self.data, config, steps_per_epoch * sum(epochs))
        dists = {name: ArchitectureDistribution(self.space) for name in self.trade_offs}
        baselines: dict[str, RewardBaseline | None] = {name: None for name in self.trade_offs}
        pool = PoolUpdate(self.space, self.metric_names, self.trade_offs, self.reinforce,
                          self.samples_per_update, self._costs, self._rng)  # fmt: skip
        _state.publish(self.study, space=repr(self.space),
                       trade_offs=[t.to_dict() for t in self.trade_offs.values()])  # fmt: skip
        for stage, n_epochs in enumerate(epochs):
            if stage > 0:
                for dist in dists.values():
                    dist.shrink(self.shrink_to[stage - 1])
            n_ops = len(self.space.ops) if stage == 0 else self.shrink_to[stage - 1]
            self._publish(stage, "search", n_ops, dists, baselines)
            total = steps_per_epoch * n_epochs
            self._emit("stage", stage, 0, total,
                       f"stage {stage + 1}/{self.n_stages}: {n_ops} ops per edge")  # fmt: skip
            start = time.perf_counter()
            warmup_steps = steps_per_epoch * self.warmup_epochs if stage == 0 else 0
            updates, stats = 0, {}
            for step in range(total):
                # The settings take turns: each trains the weights of what it samples.
                dist = list(dists.values())[step % len(dists)]
                if self.weight_training == "mixture":
                    supernet.mix(dist.mixture())
                else:
                    supernet.select(dist.sample(self._rng)[0])
                trainer.step()
                if not _ends_a_slice(
                    step % steps_per_epoch, self.updates_per_epoch, steps_per_epoch
                ):
                    continue
                trainer.check_finite()  # one host sync per α update, not per step
                if step < warmup_steps:
                    self._emit("update", stage, step + 1, total, "warm-up: weights only")
                    continue
                batch = trainer.validation_batch(self.reward_batch_size, self._rng)
                trials, stats = pool(supernet, batch, dists, baselines, stage)
                self.study.add_trials(trials)
                updates += 1
                self._publish(stage, "search", n_ops, dists, baselines)
                record_stage(self.study, stage, ops_per_edge=n_ops, updates=updates, dists=dists,
                             rewards=stats)  # fmt: skip
                self._emit("update", stage, step + 1, total, _summary(stats, dists, len(trials)))
            trainer.check_finite()
            # A fixed number of the latest pool's networks: the check costs the same for any
            # number of settings.
            archs = pool.last[:_FIT_ARCHS] or [d.most_likely()[0] for d in dists.values()][:1]
            fit = supernet_fit(trainer, archs, self.reward_batch_size, self._rng)
            record_stage(self.study, stage, ops_per_edge=n_ops, updates=updates, dists=dists,
                         rewards=stats, fit=fit)  # fmt: skip
            seconds = time.perf_counter() - start
            self._emit("update", stage, total, total,
                       f"stage {stage + 1} done in {seconds:.0f}s; supernet train/val accuracy "
                       f"{fit['train_accuracy']:.3f}/{fit['val_accuracy']:.3f}")  # fmt: skip
        derived = derive(dists, distinct=self.distinct)
        _state.publish(self.study, derived={n: a.to_json() for n, a in derived.items()})
        self._publish(self.n_stages - 1, "final", self.shrink_to[-1], dists, baselines)
        return derived

    def train_derived(self, derived: Mapping[str, Architecture]) -> list[FrozenTrial]:
        """Train each distinct derived architecture from scratch as an ordinary trial (once)."""
        settings: dict[str, list[str]] = {}
        archs: dict[str, Architecture] = {}
        for name, arch in derived.items():
            settings.setdefault(arch.fingerprint, []).append(name)
            archs[arch.fingerprint] = arch
        trained = {t.user_attrs.get(keys.FINGERPRINT) for t in self._final_trials()
                   if t.state == TrialState.COMPLETE}  # fmt: skip
        todo = [f for f in archs if f not in trained]
        for fingerprint in todo:
            self.study.enqueue_trial(self.space.to_params(archs[fingerprint]),
                                     user_attrs={keys.TND_SETTINGS: settings[fingerprint]})  # fmt: skip
        last = self.n_stages - 1
        self._emit("final", last, 0, len(todo), f"training {len(todo)} derived architecture(s)")
        epochs = self.train_config.epochs

        def on_epoch(trial: optuna.Trial, epoch: int, accuracy: float) -> None:
            self._emit(
                "epoch", last, epoch + 1, epochs, f"trial {trial.number} val acc {accuracy:.3f}"
            )

        finished = []

        def on_trial(study: optuna.Study, trial: FrozenTrial) -> None:
            finished.append(trial.number)
            self._emit("trial", last, len(finished), len(todo),
                       f"trial {trial.number} {trial.state.name} values={trial.values}")  # fmt: skip

        self.objective.epoch_callbacks.append(on_epoch)
        try:
            if todo:
                self.study.optimize(self.objective, n_trials=len(todo), callbacks=[on_trial],
                                    catch=(Exception,))  # fmt: skip
        finally:
            self.objective.epoch_callbacks.remove(on_epoch)
        stage = _state.published(self.study).get(keys.TND_STAGE) or {}
        _state.publish(self.study, stage={**stage, "status": "done"})
        return self._final_trials()

    # ------------------------------------------------------------------ helpers
    def _costs(self, arch: Architecture) -> dict[str, float]:
        key = arch.fingerprint
        if key not in self._cost_cache:
            self._cost_cache[key] = {name: fn(arch) for name, fn in self._cost_fns.items()}
        return self._cost_cache[key]

    def _final_trials(self) -> list[FrozenTrial]:
        return [t for t in self.study.get_trials(deepcopy=False)
                if keys.TND_SETTINGS in t.user_attrs and t.user_attrs.get(keys.FIDELITY) == keys.FULL]  # fmt: skip

    def _publish(self, stage: int, status: str, n_ops: int, dists: dict, baselines: dict) -> None:
        _state.publish(
            self.study,
            alpha={name: dist.to_dict() for name, dist in dists.items()},
            baselines={n: None if b is None else b._asdict() for n, b in baselines.items()},
            stage={
                "index": stage,
                "n_stages": self.n_stages,
                "ops_per_edge": n_ops,
                "status": status,
            },  # fmt: skip
        )

    def _emit(self, kind: str, stage: int, done: int, total: int, message: str) -> None:
        event = TNDEvent(kind, stage, self.n_stages, done, total, message)
        for callback in self.callbacks:
            callback(event)


def _summary(stats: Mapping[str, Mapping[str, float]], dists: Mapping, n: int) -> str:
    """One line for the progress display, as long for 12 settings as for 3."""
    rewards = [s["reward"] for s in stats.values()]
    entropies = [d.entropy() for d in dists.values()]
    return (f"{n} samples for {len(stats)} settings: reward {min(rewards):.3f}-{max(rewards):.3f}, "
            f"entropy {min(entropies):.2f}-{max(entropies):.2f}")  # fmt: skip


def _ends_a_slice(position: int, slices: int, steps: int) -> bool:
    """Whether step ``position`` of an epoch of ``steps`` ends one of ``slices`` equal slices."""
    return (position + 1) * slices // steps > position * slices // steps


def _check_metrics(study: optuna.Study) -> list[str]:
    names = study.metric_names
    if not names:
        raise ValueError(
            f"study {study.study_name!r} has no metric names; create it with "
            "optuna_nas.create_study([...]) so every trial's values have a meaning."
        )
    for name in names:
        spec = get_objective(name)
        if not spec.cheap and name not in ("error", "accuracy"):
            raise ValueError(
                f"study metric {name!r} needs a trained network and is neither 'error' nor "
                "'accuracy'; TND-NAS can only score those on the supernet."
            )
    return list(names)
