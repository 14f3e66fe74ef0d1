from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.table import Table
from torch import nn

from optuna_nas.cli._recorded import artifact_dir, open_existing_storage, require_ours
from optuna_nas.encoding import Architecture
from optuna_nas.final._records import final_records, final_study_name
from optuna_nas.networks import build_network
from optuna_nas.objectives import format_value
from optuna_nas.storage import keys
from optuna_nas.training import load_weights
from optuna_nas.workers import hide_password


def open_study(args: argparse.Namespace) -> optuna.Study:
    """The study of ``--storage`` (an existing one) and ``--study-name`` (or its only search)."""
    storage = open_existing_storage(args.storage, args.study_name)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    name = args.study_name
    if not names:
        which = "" if name is None else f" {name!r}"
        raise ValueError(
            f"no study{which} in {hide_password(args.storage)}; run 'optuna-nas search' first, or "
            "pass the --storage the search used."
        )
    if name is None:
        searches = [n for n in names if not n.endswith(keys.FINAL_SUFFIX)]  # not retrain's records
        if len(searches) != 1:
            raise ValueError(
                f"--study-name is required; studies in {hide_password(args.storage)}: {names}"
            )
        name = searches[0]
    if name not in names:
        raise ValueError(f"no study {name!r} in {hide_password(args.storage)}; studies: {names}")
    return optuna.load_study(study_name=name, storage=storage)


def front_table(study: optuna.Study) -> Table:
    """The Pareto front as a rich table, sorted by the first objective.

    ``final test acc`` and ``final epochs`` come from the latest final training of
    the trial (``optuna-nas retrain``), blank for trials not retrained.
    """
    names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
    finals = final_records(study)
    table = Table(title=f"Pareto front of {study.study_name}")
    final_columns = ("final test acc", "final epochs") if finals else ()
    for column in ("trial", *names, "test acc", *final_columns, "architecture"):
        table.add_column(column)
    for trial in sorted(study.best_trials, key=lambda t: t.values[0]):
        test = trial.user_attrs.get("test_accuracy")
        final = finals[trial.number].user_attrs if trial.number in finals else {}
        extra = (
            ("" if final.get("test_accuracy") is None else f"{final['test_accuracy']:.4f}",
             str(final.get("epochs", "")))
            if finals
            else ()
        )  # fmt: skip
        table.add_row(
            str(trial.number),
            *(format_value(v) for v in trial.values),
            "" if test is None else f"{test:.4f}",
            *extra,
            trial.user_attrs.get("arch_str", str(trial.params)),
        )
    return table


def run_front(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # keep architecture strings whole in logs and pipes
    console.print(front_table(open_study(args)))
    return 0


class Normalize(nn.Module):
    """Maps images in [0, 1] to the normalisation the network was trained with."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def run_export(args: argparse.Namespace) -> int:
    study = open_study(args)
    trial = _exportable(study, args.trial)
    try:
        arch = Architecture.from_json(trial.user_attrs[keys.ARCH_JSON])
    except ValueError as exc:
        raise ValueError(f"trial {trial.number} of study {study.study_name!r}: {exc}") from None
    final = _final_weights(study, trial, getattr(args, "weights", "auto"))
    source = final or trial  # the trial whose weights are exported
    artifact_id = source.user_attrs.get(keys.WEIGHTS_ARTIFACT)
    if artifact_id is None:
        raise ValueError(
            f"trial {trial.number} ({trial.state.name}) has no weights artifact to export."
        )
    missing = [k for k in (keys.STUDY_INPUT_SHAPE, keys.STUDY_NUM_CLASSES,
                           keys.STUDY_NORMALIZATION) if k not in study.user_attrs]  # fmt: skip
    if missing:
        raise ValueError(f"study {study.study_name!r} records no {', '.join(missing)} (written by "
                         "NASObjective): was it searched with optuna-nas?")  # fmt: skip
    shape = tuple(study.user_attrs[keys.STUDY_INPUT_SHAPE])
    classes = int(study.user_attrs[keys.STUDY_NUM_CLASSES])
    directory = artifact_dir(study, args.artifact_dir)
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:  # --out is made once the weights are good
        fetched = _fetch_weights(directory, source, trial, Path(tmp) / "weights.safetensors")
        out.mkdir(parents=True, exist_ok=True)
        weights_path = Path(shutil.copyfile(fetched, out / "weights.safetensors"))
    model = build_network(arch, shape[0], classes)
    try:
        model.load_state_dict(load_weights(weights_path))
    except RuntimeError as exc:  # a digest-less file of another architecture
        reason = str(exc).strip().splitlines()[0]
        raise ValueError(f"trial {trial.number}: the weights file {weights_path} does not fit its "
                         f"architecture ({reason}).") from None  # fmt: skip
    # A final training on other images (--train-size) has its own normalisation.
    norm = source.user_attrs.get("normalization") or study.user_attrs[keys.STUDY_NORMALIZATION]
    exported = nn.Sequential(Normalize(norm["mean"], norm["std"]), model).eval()
    example = torch.rand(2, *shape)
    with warnings.catch_warnings():
        # TorchScript is deprecated in favour of torch.export, but is what most serving
        # stacks still load; we write both.
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(exported, example).save(str(out / "model.torchscript.pt"))
    program = torch.export.export(
        exported, (example,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},)
    )
    torch.export.save(program, str(out / "model.pt2"))
    (out / "architecture.json").write_text(arch.to_json() + "\n")
    own = trial.user_attrs.get("fidelity") == "final"  # a trial of an S:final study
    meta = {
        "study": study.study_name,
        "trial": trial.number,
        "values": dict(zip(study.metric_names or [], trial.values or [], strict=False)),
        "input_shape": list(shape),
        "num_classes": classes,
        "input": "float images in [0, 1], shape (N, C, H, W); normalisation is built in",
        "architecture": str(arch),
        "load": "torch.jit.load('model.torchscript.pt') or "
        "torch.export.load('model.pt2').module() -- both need only torch",
        "weights": "final" if final is not None or own else "search",
    }
    used = f"{meta['weights']} weights"
    if final is not None:
        attrs = final.user_attrs
        meta["final"] = {
            "study": final_study_name(study.study_name),
            "trial": final.number,
            "epochs": attrs.get("epochs"),
            "test_accuracy": attrs.get("test_accuracy"),
            "train_images": attrs.get("train_images"),
            "values": dict(zip(study.metric_names or [], final.values or [], strict=False)),
        }
        used = (
            f"final weights: {meta['final']['study']} trial {final.number}, "
            f"{attrs.get('epochs')} epochs, test acc {attrs.get('test_accuracy', 0):.4f}"
        )
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"exported trial {trial.number} ({used}) to {os.fspath(out)}: "
          "model.torchscript.pt, model.pt2, weights.safetensors, architecture.json, model.json")  # fmt: skip
    return 0


def _exportable(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` of ``study`` if it is COMPLETE and has an architecture."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not trials:
        count = len(study.get_trials(deepcopy=False))
        known = f"0-{count - 1}" if count else "none"
        raise ValueError(f"study {study.study_name!r} has no trial {number} (its trials: {known}).")
    trial = trials[0]
    if trial.state != TrialState.COMPLETE:
        raise ValueError(
            f"trial {number} of study {study.study_name!r} is {trial.state.name}; only COMPLETE "
            "trials can be exported (see 'optuna-nas front')."
        )
    if keys.ARCH_JSON not in trial.user_attrs:
        require_ours(study, "export")
        raise ValueError(
            f"trial {number} of study {study.study_name!r} has no architecture (user attr "
            f"{keys.ARCH_JSON!r}); export a trial that optuna-nas trained."
        )
    return trial


def _fetch_weights(directory: str, source: FrozenTrial, trial: FrozenTrial, path: Path) -> Path:
    """Copy ``source``'s weights file to ``path``, checking the digest it recorded."""
    artifact_id = source.user_attrs[keys.WEIGHTS_ARTIFACT]
    stored = os.path.join(directory, artifact_id)
    who = f"trial {trial.number}" + ("" if source is trial else f" (final trial {source.number})")
    try:
        download_artifact(artifact_store=FileSystemArtifactStore(directory),
                          file_path=str(path), artifact_id=artifact_id)  # fmt: skip
    except (ArtifactNotFound, FileNotFoundError):
        raise ValueError(f"{who}: its weights file {stored} is missing (artifact {artifact_id}); "
                         "pass the --artifact-dir the search wrote to.") from None  # fmt: skip
    expected = source.user_attrs.get(keys.WEIGHTS_SHA256)
    if expected is not None and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        raise ValueError(f"{who}: its weights file {stored} is corrupt (sha256 differs from the "
                         "digest the trial recorded); export another trial.")  # fmt: skip
    return path


def _final_weights(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, choice: str
) -> optuna.trial.FrozenTrial | None:
    """The final training whose weights to export, or ``None`` for the search's weights.

    ``auto``: the trial's latest COMPLETE final training if it has weights;
    ``final``: that one, or an error; ``search``: ``None``.
    """
    if choice == "search":
        return None
    record = final_records(study).get(trial.number)
    if record is not None and keys.WEIGHTS_ARTIFACT in record.user_attrs:
        return record
    if choice == "final":
        raise ValueError(
            f"trial {trial.number} of study {study.study_name!r} has no final training with "
            f"weights; run 'optuna-nas retrain --trials {trial.number}' first, or export "
            "--weights search."
        )
    return None
