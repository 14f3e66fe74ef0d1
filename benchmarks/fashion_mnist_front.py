"""A found front against hand-made networks: Fashion-MNIST, the same final recipe for all.

Run: ``python -m benchmarks.fashion_mnist_front`` (``--scale cpu``, the default: 40 min
of search and about an hour of final trainings on 2 CPU cores; 4 final epochs keep the
run within 2 hours: one-thread epochs over 60 k images take 5-9 min for VGG-small and
MobileNetV2) or
``python -m benchmarks.fashion_mnist_front --scale gpu`` (one CUDA GPU: 60 min of search,
then an estimated 20-40 min); any option overrides its preset. A stopped run resumes
in the same ``--out-dir``: the search goes on for what is left of its budget, finished
final trainings are kept.

One run does three things and reports them side by side:

1. **Search.** LEMONADE (``LemonadeSampler``, ``NASObjective``) on the NB201 space
   for ``--search-budget`` seconds of wall-clock (``study.optimize(timeout=...)``),
   objectives (validation error, params), every trial ``--epochs`` epochs on
   ``--train-size`` images of the training split; the study is ``study.db`` in
   ``--out-dir``.
2. **Final training of the front.** ``optuna_nas.final.retrain``: the front
   (at most ``--max-front`` members, evenly spread in log params) from scratch
   with the final recipe (``final_config``: the search's recipe for ``--final-epochs``
   epochs) on train + validation (``--final-train-size`` training images plus the
   validation split; by default the whole training split), scored on the test split.
3. **Baselines.** Hand-made networks (``benchmarks/baselines.py``) trained with
   ``train_final`` on the same data with the same ``final_config``.

Every network of steps 2 and 3 trains in its own process with one torch thread,
``--workers`` at a time, longest first. Params count trainable parameters; FLOPs
are ``torch.utils.flop_counter`` on one image; latency is the median of 10 forward
passes at batch 1 on one CPU thread after 3 warm-up passes, as
``optuna_nas.objectives.measure_latency`` times an architecture (the front's three come from the
companion trials' user attrs). The report states for every baseline whether a front
member with no more params reaches at least its test accuracy, and plots test error
against params (``<out>.png`` beside ``<out>``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks._report import emit, machine
from benchmarks.baselines import BASELINES
from optuna_nas import (
    LemonadeSampler,
    NASObjective,
    NB201Space,
    TrainConfig,
    create_study,
    load_data,
)
from optuna_nas.final import choose_trials, final_study_name, retrain, study_config, train_final
from optuna_nas.training import AUGMENT_MIN_EPOCHS, TrainingDiverged

OBJECTIVES = ["error", "params"]
STUDY = "front"
PRESETS = {
    "cpu": {"dataset": "fashion-mnist", "channels": "8,16", "cells": "1", "epochs": 1,
            "train_size": None, "val_size": 5000, "batch_size": 64, "lr": 0.08,
            "search_budget": 2400.0, "n_initial": 8, "final_epochs": 4,
            "final_train_size": None, "max_front": 6, "seed": 0, "device": "cpu",
            "baselines": "lenet5,resnet20-8,vgg-small,mobilenetv2-0.35", "workers": 2},
    "gpu": {"dataset": "fashion-mnist", "channels": "8,16,32", "cells": "1,2,3", "epochs": 5,
            "train_size": None, "val_size": 5000, "batch_size": 256, "lr": 0.08,
            "search_budget": 3600.0, "n_initial": 20, "final_epochs": 30,
            "final_train_size": None, "max_front": 12, "seed": 0, "device": "cuda",
            "baselines": ",".join(BASELINES), "workers": 1},
}  # fmt: skip
"""Defaults of ``--scale``; ``None`` sizes mean all images."""
SEARCH_KEYS = ("dataset", "channels", "cells", "epochs", "train_size", "val_size", "batch_size",
               "lr", "search_budget", "n_initial", "seed", "device")  # fmt: skip
"""The options that define the search: a resumed run must give the same."""
SEARCH_TEST_SIZE = 2000
"""Test images the search scores each trial on (a user attr only; nothing uses it here)."""


@dataclass(frozen=True)
class Row:
    """One trained network of the report."""

    name: str
    params: int
    flops: int
    latency_ms: float
    accuracy: float
    train_seconds: float


# ---------------------------------------------------------------------- the comparison
def compare(front: list[Row], baselines: list[Row]) -> list[str]:
    """One line per baseline: the smallest front member with no more params and at
    least its test accuracy, or the best front member within its params."""
    lines = []
    for b in baselines:
        head = f"- **{b.name}** ({b.params:,} params, {100 * b.accuracy:.2f} %): "
        within = [f for f in front if f.params <= b.params]
        winners = [f for f in within if f.accuracy >= b.accuracy]
        if winners:
            w = min(winners, key=lambda f: (f.params, -f.accuracy))
            lines.append(head + f"beaten by {w.name}: {w.params:,} params, "
                         f"{100 * w.accuracy:.2f} % vs {100 * b.accuracy:.2f} %")  # fmt: skip
        elif within:
            best = max(within, key=lambda f: f.accuracy)
            lines.append(head + f"not beaten: best front member with ≤ its params reaches "
                         f"{100 * best.accuracy:.2f} % ({best.name}, {best.params:,} params)")  # fmt: skip
        else:
            lines.append(head + "not beaten: no front member has ≤ its params")
    return lines


def report(settings: list[str], front: list[Row], baselines: list[Row], figure: str,
           notes: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The markdown report: settings, comparison, table, figure."""
    lines = ["# A found front vs hand-made networks", "", *settings, "", "## Comparison", "",
             "For every baseline, a member of the retrained front with no more params and at "
             "least its test accuracy:", "", *compare(front, baselines), "", "## Networks", "",
             "| network | params | MFLOPs | latency (ms) | test accuracy (%) | train s |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for kind, rows in (("front", front), ("baseline", baselines)):
        for r in sorted(rows, key=lambda r: r.params):
            lines.append(f"| {r.name} ({kind}) | {r.params:,} | {r.flops / 1e6:.2f} | "
                         f"{r.latency_ms:.2f} | {100 * r.accuracy:.2f} | "
                         f"{r.train_seconds:.0f} |")  # fmt: skip
    lines += ["", *notes] if notes else []
    return lines + ["", f"![test error vs params]({figure})"]


def plot(path: str, front: list[Row], baselines: list[Row]) -> None:
    """Test error (%) against params (log x): the front as a line, baselines labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ordered = sorted(front, key=lambda r: r.params)
    ax.plot([r.params for r in ordered], [100 * (1 - r.accuracy) for r in ordered], "o-",
            color="tab:blue", label="found front (retrained)")  # fmt: skip
    for i, (r, marker) in enumerate(zip(baselines, "s^Dvp*hX<>", strict=False)):
        ax.plot(r.params, 100 * (1 - r.accuracy), marker, color=f"C{i + 1}", markersize=9,
                label=r.name)  # fmt: skip
        ax.annotate(r.name, (r.params, 100 * (1 - r.accuracy)), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)  # fmt: skip
    ax.set(xscale="log", xlabel="params", ylabel="test error (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out: str, settings: list[str], front: list[Row], baselines: list[Row],
                 notes: Sequence[str] = ()) -> tuple[str, str]:  # fmt: skip
    """Write ``out`` (markdown) and the plot beside it; their paths."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    png = os.path.splitext(out)[0] + ".png"
    plot(png, front, baselines)
    emit(report(settings, front, baselines, os.path.basename(png), notes), out)
    return out, png


# ---------------------------------------------------------------------- measuring a module
def module_cost(model: nn.Module, input_shape: tuple[int, int, int]) -> tuple[int, int]:
    """Trainable params and FLOPs of one forward pass on one image (eval mode, CPU)."""
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, *input_shape))
    return params, counter.get_total_flops()


def module_latency_ms(model: nn.Module, input_shape: tuple[int, int, int],
                      warmup: int = 3, repeats: int = 10) -> float:  # fmt: skip
    """Median latency at batch 1 on one CPU thread, timed as ``measure_latency`` times
    an architecture (which only accepts architectures)."""
    model, x = model.eval(), torch.randn(1, *input_shape)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        with torch.inference_mode():
            for i in range(warmup + repeats):
                start = time.perf_counter()
                model(x)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * statistics.median(times)


# ---------------------------------------------------------------------- the run
def final_data_of(opts: dict):  # noqa: ANN201
    """The search's validation split with ``final_train_size`` training images (the test
    split whole); ``train_final`` / ``retrain`` train on train + validation."""
    return load_data(opts["dataset"], val_size=opts["val_size"], seed=opts["seed"],
                     train_size=opts["final_train_size"])  # fmt: skip


def search(opts: dict, storage: str, artifacts: str) -> tuple[optuna.Study, float, int]:
    """The LEMONADE search for ``search_budget`` s; the study, its wall-clock and its
    number of training images.

    A study already in ``storage`` (a stopped run) searches only for what is left of the
    budget: the time from its first trial's start to its last trial's end is spent."""
    space = NB201Space(channels=_ints(opts["channels"]), cells=_ints(opts["cells"]))
    data = load_data(opts["dataset"], val_size=opts["val_size"], seed=opts["seed"],
                     train_size=opts["train_size"], test_size=SEARCH_TEST_SIZE,
                     device=opts["device"])  # fmt: skip
    sampler = LemonadeSampler(space, seed=opts["seed"], n_initial=opts["n_initial"])
    study = create_study(OBJECTIVES, storage=storage, study_name=STUDY, sampler=sampler)
    settings = {key: opts[key] for key in SEARCH_KEYS}
    if study.user_attrs.setdefault("bench:search", settings) != settings:
        old = study.user_attrs["bench:search"]
        changed = [f"--{k.replace('_', '-')} {old.get(k)} (now {settings[k]})"
                   for k in SEARCH_KEYS if old.get(k) != settings[k]]  # fmt: skip
        raise SystemExit(f"{storage} was searched with {', '.join(changed)}: pass the same "
                         "options to resume it, or another --out-dir.")  # fmt: skip
    study.set_user_attr("bench:search", settings)
    spent = _spent(study)
    recipe = TrainConfig(epochs=opts["epochs"], batch_size=opts["batch_size"], lr=opts["lr"],
                         seed=opts["seed"], device=opts["device"])  # fmt: skip
    objective = NASObjective(space, data, OBJECTIVES, recipe, FileSystemArtifactStore(artifacts))
    start = time.time()

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        values = "failed" if trial.values is None else (
            f"error {trial.values[0]:.4f}, params {trial.values[1]:,.0f}")  # fmt: skip
        print(f"  search {time.time() - start:6.0f}s trial {trial.number}: {values}", flush=True)

    if spent:
        print(f"  search resumed: {len(study.trials)} trials, {spent:.0f} s of "
              f"{opts['search_budget']:.0f} s spent", flush=True)  # fmt: skip
    if opts["search_budget"] - spent > 0:
        # No `catch`: NASObjective fails known problems (divergence, memory) as FAIL itself.
        study.optimize(objective, timeout=opts["search_budget"] - spent, callbacks=[progress])
    return study, spent + time.time() - start, len(data.train_y)


def _spent(study: optuna.Study) -> float:
    """Seconds from the first trial's start to the last trial's end (0: no trial)."""
    starts = [t.datetime_start for t in study.trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in study.trials if t.datetime_complete is not None]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0


def spread(trials: list[FrozenTrial], k: int) -> list[FrozenTrial]:
    """At most ``k`` of the front (distinct architectures, by params): the nearest to ``k``
    points evenly spaced in log params from the smallest to the largest, both kept.

    Even in log params rather than by rank, so that a front crowded at the large end
    cannot fill the final phase with its most expensive networks."""
    seen, unique = set(), []
    for t in sorted(trials, key=lambda t: (t.values[1], t.values[0])):
        if t.user_attrs.get("fingerprint") not in seen:
            seen.add(t.user_attrs.get("fingerprint"))
            unique.append(t)
    if k <= 0 or len(unique) <= k:
        return unique
    logp, chosen = np.log([t.values[1] for t in unique]), set()
    for target in np.linspace(logp[0], logp[-1], k):
        free = [i for i in range(len(unique)) if i not in chosen]
        chosen.add(min(free, key=lambda i: abs(logp[i] - target)))
    return [unique[i] for i in sorted(chosen)]


_DATA = None  # the final data, loaded once per worker process


def _init_worker(opts: dict, threads: int) -> None:
    global _DATA
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _DATA = final_data_of(opts)


def train_job(job: tuple[str, str | int], opts: dict, config: TrainConfig) -> Row | str:
    """Train one network of the final phase: ``("front", trial number)`` or
    ``("baseline", name)``; its row, or why it failed."""
    kind, key = job
    data, epochs = _DATA, config.epochs

    def progress(epoch: int, accuracy: float) -> None:
        print(f"  final {kind} {key} epoch {epoch + 1}/{epochs}: test {accuracy:.4f}", flush=True)

    if kind == "front":
        study = optuna.load_study(study_name=STUDY, storage=opts["storage"])
        store = FileSystemArtifactStore(opts["artifacts"])
        [record] = retrain(study, [key], config=config, data=data, artifact_store=store,
                           on_epoch=lambda _, epoch, acc: progress(epoch, acc))  # fmt: skip
        if record.state != TrialState.COMPLETE:
            return f"trial {key}: final training failed ({record.user_attrs.get('fail_reason')})"
        a = record.user_attrs
        return Row(f"trial {key}", a["params"], a["flops"], a["latency_ms"], a["test_accuracy"],
                   a["train_seconds"])  # fmt: skip
    kept = os.path.join(opts["out_dir"], "baselines", f"{key}.json")
    recipe = repr(config)
    if os.path.exists(kept):
        with open(kept) as f:
            earlier = json.load(f)
        if earlier["config"] == recipe:
            print(f"  final baseline {key}: kept from an earlier run", flush=True)
            return Row(**earlier["row"])
    torch.manual_seed(config.seed)  # as retrain starts every architecture
    model = BASELINES[key](data.input_shape[0], data.num_classes)
    params, flops = module_cost(model, data.input_shape)
    latency = module_latency_ms(model, data.input_shape)
    try:
        result, accuracy = train_final(model, data, config, on_epoch=progress)
    except (TrainingDiverged, torch.OutOfMemoryError, MemoryError) as exc:  # as retrain does
        return f"{key}: final training failed ({type(exc).__name__}: {exc})"
    row = Row(key, params, flops, latency, accuracy, result.seconds)
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    with open(kept, "w") as f:
        json.dump({"config": recipe, "row": dataclasses.asdict(row)}, f)
    return row


def run_final(jobs: list[tuple[str, str | int]], opts: dict, config: TrainConfig,
              data) -> list:  # noqa: ANN001  # fmt: skip
    """Every job, ``workers`` processes at a time (1: in this process, on ``data``)."""
    global _DATA
    if opts["workers"] <= 1:
        _DATA = data
        return [train_job(job, opts, config) for job in jobs]
    with ProcessPoolExecutor(opts["workers"], mp_context=get_context("spawn"),
                             initializer=_init_worker, initargs=(opts, 1)) as pool:  # fmt: skip
        futures = [pool.submit(train_job, job, opts, config) for job in jobs]
        return [f.result() for f in futures]


def settings_lines(opts: dict, facts: dict) -> list[str]:
    c = facts["config"]
    device = machine()
    if opts["device"].startswith("cuda"):
        device = f"{torch.cuda.get_device_name()} (GPU), {device}"
    per = "1 torch thread each" if opts["workers"] > 1 else f"{facts['threads']} torch thread(s)"
    return [
        f"- command: `{facts['command']}`",
        f"- machine: {device}; torch {torch.__version__}; date: "
        f"{datetime.date.today().isoformat()}; 1-min load average {facts['load'][0]:.1f} "
        f"before, {facts['load'][1]:.1f} after; wall-clock: search {facts['search_s']:.0f} s, "
        f"final trainings {facts['final_s']:.0f} s, total {facts['total_s']:.0f} s",
        f"- data: {opts['dataset']} {tuple(facts['shape'])}; validation split "
        f"{opts['val_size']} images (seed {opts['seed']}); the search trains on "
        f"{facts['search_train']} of the other training images; final trainings on "
        f"{facts['final_train']} (train + validation), scored on all {facts['test']} test images",
        f"- search: `LemonadeSampler(n_initial={opts['n_initial']}, seed={opts['seed']})` in "
        f"`NB201Space(channels=[{opts['channels']}], cells=[{opts['cells']}])`, objectives "
        f"(validation error, params), every trial {_epochs(opts['epochs'])} (batch "
        f"{opts['batch_size']}, lr {opts['lr']}), {opts['search_budget']:.0f} s budget: "
        f"{facts['trials']} trials ({facts['failed']} failed), front of {facts['front']} "
        f"distinct architectures, {facts['retrained']} retrained (at most {opts['max_front']}, "
        "spread evenly by params)",
        f"- final recipe, the same for every network: `final_config` of the search's recipe: "
        f"{_epochs(c.epochs)}, batch {c.batch_size}, SGD + Nesterov lr {c.lr}, warm-up "
        f"{c.warmup_fraction:.0%} + cosine, weight decay {c.weight_decay}, label smoothing "
        f"{c.label_smoothing}, {_augmentation(c)}, seed {c.seed}, from fresh "
        f"weights; {opts['workers']} at a time, {per}; train s includes the per-epoch test pass",
        "- params: trainable; MFLOPs: `torch.utils.flop_counter` on one image; latency: median "
        "of 10 forward passes, batch 1, 1 CPU thread, after 3 warm-up, measured before each "
        "final training (with other workers training: compare within this table only)",
    ]


def _augmentation(config: TrainConfig) -> str:
    if not config.augments():
        return f"no augmentation (fewer than {AUGMENT_MIN_EPOCHS} epochs)"
    return f"random translate {config.translate} px and flips"


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' * (n != 1)}"


def _ints(text: str) -> list[int]:
    return [int(v) for v in str(text).split(",")]


def _size(text: str) -> int | None:
    return None if text == "all" else int(text)


def parse(argv: list[str] | None) -> dict:
    """The options, presets filled in, and the command that reruns them."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                argument_default=argparse.SUPPRESS)  # fmt: skip
    p.add_argument("--scale", choices=sorted(PRESETS), default="cpu", help="preset of defaults")
    p.add_argument("--dataset", help="fashion-mnist, synthetic, cifar10, ...")
    p.add_argument("--channels", help="NB201 first-stage widths, e.g. 4,8,16")
    p.add_argument("--cells", help="NB201 cells per stage, e.g. 1,2")
    p.add_argument("--epochs", type=int, help="per search trial")
    p.add_argument("--train-size", type=_size, help="search training images (or all)")
    p.add_argument("--val-size", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--search-budget", type=float, help="seconds of search")
    p.add_argument("--n-initial", type=int, help="LEMONADE's random trials")
    p.add_argument("--final-epochs", type=int)
    p.add_argument(
        "--final-train-size",
        type=_size,
        help="final training images besides the validation split (or all)",
    )
    p.add_argument("--max-front", type=int, help="front members retrained (0: all)")
    p.add_argument("--baselines", help=f"comma-separated, of {','.join(BASELINES)}")
    p.add_argument("--seed", type=int, help="split, sampler and training seed")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--workers", type=int, help="networks trained at a time in the final phase")
    p.add_argument("--threads", type=int, help="torch threads of the search (default: all)")
    p.add_argument("--out", default="benchmarks/results/fashion_mnist_front.md")
    p.add_argument(
        "--out-dir",
        default=os.path.join(tempfile.gettempdir(), "fashion_mnist_front"),
        help="where the study (study.db), the weights and finished baselines go; a run "
        "stopped there resumes with the same options",
    )
    ns = vars(p.parse_args(argv))
    opts = PRESETS[ns["scale"]] | ns
    opts.setdefault("threads", len(os.sched_getaffinity(0)))
    unknown = set(opts["baselines"].split(",")) - set(BASELINES)
    if unknown:
        p.error(f"unknown baselines {sorted(unknown)}; known: {sorted(BASELINES)}")
    shown = ["scale"] + [k for k in opts if k not in ("scale", "out", "out_dir")]
    opts["command"] = "python -m benchmarks.fashion_mnist_front " + " ".join(
        f"--{k.replace('_', '-')} {'all' if opts[k] is None else opts[k]}" for k in shown
    )
    return opts


def main(argv: list[str] | None = None) -> tuple[str, str]:
    """Search, retrain the front, train the baselines, write the report; its paths."""
    opts = parse(argv)
    started, load = time.time(), os.getloadavg()[0]
    torch.set_num_threads(opts["threads"])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.makedirs(opts["out_dir"], exist_ok=True)
    db = os.path.join(opts["out_dir"], "study.db")
    resumed = os.path.exists(db)  # a stopped run: what it finished is kept
    opts["storage"] = f"sqlite:///{db}"
    opts["artifacts"] = os.path.join(opts["out_dir"], "artifacts")
    os.makedirs(opts["artifacts"], exist_ok=True)

    study, search_s, search_train = search(opts, opts["storage"], opts["artifacts"])
    all_trials = study.get_trials(deepcopy=False)
    front = spread(choose_trials(study), opts["max_front"])
    config = study_config(study, opts["final_epochs"])
    final = create_study(OBJECTIVES, storage=opts["storage"], study_name=final_study_name(STUDY))
    done = final.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if other := sorted({t.user_attrs.get("epochs") for t in done} - {config.epochs}, key=str):
        raise SystemExit(f"{db} holds final trainings of {other} epochs: pass --final-epochs "
                         f"{other[0]} to resume it, or another --out-dir.")  # fmt: skip
    data = final_data_of(opts)
    baselines = opts["baselines"].split(",")
    cost = {("front", t.number): t.user_attrs["flops"] for t in front}
    for name in baselines:
        cost["baseline", name] = module_cost(BASELINES[name](data.input_shape[0],
                                             data.num_classes), data.input_shape)[1]  # fmt: skip
    jobs = sorted(cost, key=cost.get, reverse=True)  # longest first: the workers end together
    final_start = time.time()
    results = dict(zip(jobs, run_final(jobs, opts, config, data), strict=True))
    front_rows = [r for (kind, _), r in results.items() if kind == "front" and isinstance(r, Row)]
    base_rows = [
        results["baseline", n] for n in baselines if isinstance(results["baseline", n], Row)
    ]
    notes = [r for r in results.values() if isinstance(r, str)]
    if resumed:
        notes.append(f"Resumed from a stopped run in the same --out-dir: the search was not "
                     f"redone ({len(all_trials)} trials), finished final trainings were kept; "
                     "the wall-clock above counts the search's own span and this run's final "
                     "trainings.")  # fmt: skip
    facts = {
        "command": opts["command"], "load": (load, os.getloadavg()[0]), "config": config,
        "search_s": search_s, "final_s": time.time() - final_start,
        "total_s": time.time() - started, "threads": opts["threads"], "shape": data.input_shape,
        "search_train": search_train, "final_train": len(data.train_y) + len(data.val_y),
        "test": len(data.test_y), "trials": len(all_trials),
        "failed": sum(t.state == TrialState.FAIL for t in all_trials),
        "front": len(spread(choose_trials(study), 0)), "retrained": len(front),
    }  # fmt: skip
    return write_report(opts["out"], settings_lines(opts, facts), front_rows, base_rows, notes)


if __name__ == "__main__":
    main()
