"""Trial notes for optuna-dashboard: a trial's cell, costs, fidelity and where it came from.

A note is markdown in the study's system attrs (optuna-dashboard keeps notes there
because a finished trial's own attrs are frozen), so notes are written after the
fact, for every finished trial that has none, by whichever process reports: the
search at its end, ``optuna-nas dashboard`` on start. Trials of other workers and
of resumed searches get theirs the same way, and a note someone wrote by hand in
the dashboard is never replaced.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

# optuna-dashboard's public save_note needs a live optuna.Trial; its format is here.
from optuna_dashboard._note import note_ver_key, split_body

from optuna_nas.encoding import Architecture
from optuna_nas.report._cells import draw_cells
from optuna_nas.storage import keys, study_id, study_system_attrs, trial_id, write_study_system_attr

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_COSTS = (("params", "params", "params"), ("flops", "flops", "FLOPs"),
          ("latency", "latency_ms", "latency (ms)"))  # fmt: skip
"""(objective name, user attr, label): costs shown unless they are objectives already."""
_HOW = {keys.FULL: "trained from its own or inherited weights",
        keys.SUPERNET: "scored with a supernet's shared weights on one validation batch",
        keys.FINAL: "retrained from scratch with the final recipe"}  # fmt: skip


def save_trial_notes(study: optuna.Study, artifact_store: ArtifactStore | None = None) -> list[int]:
    """Write a note for every finished trial with an architecture record and no note yet.

    Parameters
    ----------
    study:
        A study whose trials ran :class:`~optuna_nas.NASObjective` (others are skipped).
    artifact_store:
        Where each trial's cell picture goes; ``None``: notes without pictures.

    Returns
    -------
    list of int
        The numbers of the trials that got a note.
    """
    attrs = study_system_attrs(study)
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    written = []
    for trial in trials:
        if (trial.state not in _FINISHED or keys.ARCH_JSON not in trial.user_attrs
                or note_ver_key(trial_id(trial)) in attrs):  # fmt: skip
            continue
        picture = None
        if artifact_store is not None:
            picture = _upload_cells(study, trial, by_number, artifact_store)
        body = trial_note(study, trial, by_number, picture=picture)
        # The dashboard's note format, its version last: a note cut short is written again.
        for key, value in split_body(body, trial_id(trial)).items():
            write_study_system_attr(study, key, value)
        write_study_system_attr(study, note_ver_key(trial_id(trial)), 1)
        written.append(trial.number)
    return written


def trial_note(
    study: optuna.Study,
    trial: FrozenTrial,
    by_number: Mapping[int, FrozenTrial],
    picture: str | None = None,
) -> str:
    """The markdown note of ``trial``; ``picture``: the URL path of its cell picture."""
    user, system = trial.user_attrs, trial.system_attrs
    parent = system.get(keys.PARENT_TRIAL)
    title = f"### Trial {trial.number}"
    if parent is not None:
        title += f": child of {_trial_link(study, int(parent))} by {_chain(system)}"
    lines = [title, ""]
    if picture is not None:
        shown = "" if parent is None else f" (above) and its parent, trial {parent}"
        lines += [f"![the cell of trial {trial.number}{shown}]({picture})", ""]
    lines += [f"`{user.get(keys.ARCH_STR, '')}`", ""]
    if trial.state == TrialState.FAIL:
        lines += [f"**Failed**: {user.get(keys.FAIL_REASON, 'no reason recorded')}", ""]
    elif trial.state == TrialState.PRUNED:
        lines += ["**Pruned** before the end of its training.", ""]
    lines += [*_measures(study, trial), "", *_fidelity(user)]
    if parent is not None:
        lines += ["", *_inheritance(int(parent), trial, by_number.get(int(parent)))]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ parts of a note
def _measures(study: optuna.Study, trial: FrozenTrial) -> list[str]:
    user = trial.user_attrs
    names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
    rows = list(zip(names, trial.values or (), strict=False))
    rows += [(label, user[attr]) for name, attr, label in _COSTS
             if name not in names and user.get(attr) is not None]  # fmt: skip
    if "val_accuracy" in user:
        accuracies = (user["val_accuracy"], user.get("test_accuracy", float("nan")))
        rows.append(("validation / test accuracy", " / ".join(f"{a:.4g}" for a in accuracies)))
    table = ["| measure | value |", "|:--|--:|"]
    table += [f"| {label} | {_number(value)} |" for label, value in rows]
    if "latency_setup" in user:
        table.append(f"| latency measured on | {user['latency_setup']} |")
    return table


def _fidelity(user: Mapping[str, Any]) -> list[str]:
    epochs, size = user.get(keys.EPOCHS), user.get(keys.TRAIN_SIZE)
    trained = "unrecorded epochs" if epochs is None else f"{epochs} epoch(s)"
    images = "an unrecorded number of" if size is None else f"{size:,}"
    lines = ["**Fidelity**", "", f"- {trained} on {images} training images"]
    if (fidelity := user.get(keys.FIDELITY)) is not None:
        lines[-1] += f" ({_HOW.get(fidelity, fidelity)})"
    lineage = user.get(keys.LINEAGE_EPOCHS)
    if lineage is not None and epochs is not None and lineage != epochs:
        lines.append(f"- {lineage} epoch(s) of training behind its weights, ancestors' included")
    if "train_seconds" in user:
        worker = f" by worker `{user[keys.WORKER]}`" if keys.WORKER in user else ""
        lines.append(f"- trained in {user['train_seconds']:.1f} s{worker}")
    return lines


def _inheritance(parent: int, trial: FrozenTrial, parent_trial: FrozenTrial | None) -> list[str]:
    user = trial.user_attrs
    if trial.system_attrs.get(keys.DISTILL, False):
        kind = "an approximate morphism (the child learns its parent's outputs first)"
    else:
        kind = "a network morphism (the child starts with its parent's function)"
    lines = [f"**Parent: trial {parent}**, by {kind}", ""]
    inheritance = user.get("inheritance")
    if isinstance(inheritance, dict):
        counts = ", ".join(f"{n} {what}" for what, n in inheritance.items() if n)
        lines.append(f"- inherited weight tensors: {counts}")
    elif inheritance is not None:  # off, or failed: the reason
        lines.append(f"- weights: {inheritance}")
    if "initial_val_accuracy" in user:
        line = f"- validation accuracy {user['initial_val_accuracy']:.4g} at the start"
        before = None if parent_trial is None else parent_trial.user_attrs.get("val_accuracy")
        lines.append(line + ("" if before is None else f" (the parent's: {before:.4g})"))
    if "distill_val_accuracy" in user:
        lines.append(f"- validation accuracy {user['distill_val_accuracy']:.4g} after distillation")
    return lines


def _chain(system: Mapping[str, Any]) -> str:
    operators = str(system.get(keys.OPERATOR) or "?").split("+")
    return " → ".join(f"`{op}`" for op in operators)


def _trial_link(study: optuna.Study, number: int) -> str:
    return f"[trial {number}](/dashboard/studies/{study_id(study)}/trials?numbers={number})"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _upload_cells(
    study: optuna.Study,
    trial: FrozenTrial,
    by_number: Mapping[int, FrozenTrial],
    store: ArtifactStore,
) -> str:
    """Draw the trial's cells, above its parent's if it has one, as an artifact of the trial.

    Returns the picture's URL path on the dashboard's server.
    """
    cells = [(f"trial {trial.number}", Architecture.from_json(trial.user_attrs[keys.ARCH_JSON]))]
    parent = by_number.get(trial.system_attrs.get(keys.PARENT_TRIAL, -1))
    if parent is not None and keys.ARCH_JSON in parent.user_attrs:  # what the operators changed
        arch = Architecture.from_json(parent.user_attrs[keys.ARCH_JSON])
        cells.append((f"its parent, trial {parent.number}", arch))
    buffer = io.BytesIO()
    draw_cells(cells).savefig(buffer, format="png", dpi=110)
    buffer.seek(0)
    artifact_id = str(uuid.uuid4())
    store.write(artifact_id, buffer)
    meta = {"artifact_id": artifact_id, "filename": f"cells-trial-{trial.number}.png",
            "mimetype": "image/png", "encoding": None}  # fmt: skip
    write_study_system_attr(
        study, f"{keys.DASHBOARD_TRIAL_ARTIFACT}{trial_id(trial)}:{artifact_id}", json.dumps(meta)
    )
    return f"/artifacts/{study_id(study)}/{trial_id(trial)}/{artifact_id}"
