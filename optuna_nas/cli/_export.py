"""``optuna-nas export``: a trial's model as files that serve without optuna-nas.

The files come from :func:`optuna_nas.final.export_model`; this module finds the
trial, its weights (the final training's by default) and the study's records, and
writes them beside the model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.cli._inspect import open_study
from optuna_nas.cli._recorded import artifact_dir, require_ours
from optuna_nas.encoding import Architecture
from optuna_nas.final import export_model, final_records, final_study_name
from optuna_nas.networks import build_network
from optuna_nas.storage import keys
from optuna_nas.training import load_weights

_README = """# {study}, trial {trial}

{architecture}

Input: float32 images in [0, 1], shape (N, {shape}), any batch size N; the
normalisation is built in. Output: {classes} logits per image.

```python
import torch

model = {torchscript}  # or {pt2}
logits = model(torch.rand(1, {shape}))
```
{onnx}
`weights.safetensors` holds the bare network's weights (no normalisation) for
`optuna_nas.networks.build_network(Architecture.from_json(...), {channels}, {classes})`;
`architecture.json` is that architecture, `model.json` the trial's records.
"""
_README_ONNX = """
```python
import numpy as np
import onnxruntime

session = onnxruntime.InferenceSession("model.onnx")
x = np.random.rand(1, {shape}).astype(np.float32)
logits = session.run(None, {{"images": x}})[0]
```
"""


def run_export(args: argparse.Namespace) -> int:
    study = open_study(args)
    trial = _exportable(study, args.trial)
    try:
        arch = Architecture.from_json(trial.user_attrs[keys.ARCH_JSON])
    except ValueError as exc:
        raise ValueError(f"trial {trial.number} of study {study.study_name!r}: {exc}") from None
    final = _final_weights(study, trial, getattr(args, "weights", "auto"))
    source = final or trial  # the trial whose weights are exported
    if source.user_attrs.get(keys.WEIGHTS_ARTIFACT) is None:
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
    network = build_network(arch, shape[0], classes)
    try:
        network.load_state_dict(load_weights(weights_path))
    except RuntimeError as exc:  # a digest-less file of another architecture
        reason = str(exc).strip().splitlines()[0]
        raise ValueError(f"trial {trial.number}: the weights file {weights_path} does not fit its "
                         f"architecture ({reason}).") from None  # fmt: skip
    # A final training on other images (--train-size) has its own normalisation.
    norm = source.user_attrs.get("normalization") or study.user_attrs[keys.STUDY_NORMALIZATION]
    exported = export_model(network, out, input_shape=shape, mean=norm["mean"], std=norm["std"])
    if exported.onnx_error is not None:
        print(f"optuna-nas export: trial {trial.number}: {exported.onnx_error}", file=sys.stderr)
    (out / "architecture.json").write_text(arch.to_json() + "\n")
    meta, used = _meta(study, trial, final, arch, shape, classes)
    meta["load"] = exported.load
    if exported.onnx_max_abs_diff is not None:
        meta["onnx_check"] = (f"onnxruntime vs PyTorch on random images, batch sizes 1 and 3: max "
                              f"abs difference {exported.onnx_max_abs_diff:.1e}")  # fmt: skip
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "README.md").write_text(_readme(meta, exported.load))
    files = [*exported.files, "weights.safetensors", "architecture.json", "model.json", "README.md"]
    print(f"exported trial {trial.number} ({used}) to {os.fspath(out)}: {', '.join(files)}")
    return 0


def _meta(
    study: optuna.Study,
    trial: FrozenTrial,
    final: FrozenTrial | None,
    arch: Architecture,
    shape: tuple[int, ...],
    classes: int,
) -> tuple[dict[str, Any], str]:
    """``model.json``'s records, and which weights were used in words."""
    own = trial.user_attrs.get("fidelity") == "final"  # a trial of an S:final study
    meta: dict[str, Any] = {
        "study": study.study_name,
        "trial": trial.number,
        "values": dict(zip(study.metric_names or [], trial.values or [], strict=False)),
        "input_shape": list(shape),
        "num_classes": classes,
        "input": "float images in [0, 1], shape (N, C, H, W); normalisation is built in",
        "architecture": str(arch),
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
    return meta, used


def _readme(meta: dict[str, Any], load: dict[str, str]) -> str:
    shape = ", ".join(map(str, meta["input_shape"]))
    return _README.format(
        study=meta["study"],
        trial=meta["trial"],
        architecture=meta["architecture"],
        shape=shape,
        classes=meta["num_classes"],
        channels=meta["input_shape"][0],
        torchscript=load["model.torchscript.pt"],
        pt2=load["model.pt2"],
        onnx=_README_ONNX.format(shape=shape) if "model.onnx" in load else "",
    )


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
