"""Trial weights as Optuna artifacts: safetensors files with their sha256 in user attrs.

Weights move between workers through the artifact store; nothing is unpickled, and a
reader checks the digest the writer recorded before it trusts a file, and the
tensors before it builds a network with them.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import torch
from optuna.artifacts import download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound

from optuna_nas.encoding import Architecture
from optuna_nas.networks import build_network
from optuna_nas.storage import keys
from optuna_nas.training import load_weights, save_weights

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore


def upload_weights(store: ArtifactStore, trial: optuna.Trial, model: torch.nn.Module) -> None:
    """Upload ``model``'s weights (safetensors) as an artifact of ``trial``.

    Records the artifact id and the file's sha256 in the trial's user attrs
    ``weights_artifact_id`` and ``weights_sha256``; readers check the digest.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial-{trial.number}.safetensors"
        save_weights(model, path)
        digest = sha256(path)
        artifact_id = upload_artifact(
            artifact_store=store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/octet-stream",
        )
    trial.set_user_attr(keys.WEIGHTS_SHA256, digest)
    trial.set_user_attr(keys.WEIGHTS_ARTIFACT, artifact_id)


def download_weights(
    store: ArtifactStore | None, trial: optuna.trial.FrozenTrial
) -> dict[str, torch.Tensor]:
    """The weights ``trial`` uploaded, after checking their digest.

    Raises
    ------
    KeyError
        If the trial has no weights artifact (or there is no store).
    ValueError
        If the file is missing from the store or its sha256 differs from the recorded one.
    """
    artifact_id = trial.user_attrs.get(keys.WEIGHTS_ARTIFACT)
    if store is None or artifact_id is None:
        raise KeyError(f"trial {trial.number} has no weights artifact")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.safetensors"
        try:
            download_artifact(artifact_store=store, file_path=str(path), artifact_id=artifact_id)
        except ArtifactNotFound:
            raise ValueError(f"weights artifact {artifact_id} is missing from the store") from None
        expected = trial.user_attrs.get(keys.WEIGHTS_SHA256)
        if expected is not None and sha256(path) != expected:
            raise ValueError(f"weights artifact {artifact_id} is corrupt (sha256 mismatch)")
        return load_weights(path)


def load_parent(
    store: ArtifactStore | None,
    parent: optuna.trial.FrozenTrial,
    in_channels: int,
    num_classes: int,
) -> tuple[Architecture, dict[str, torch.Tensor], torch.nn.Module]:
    """A parent trial's architecture, its weights and the parent network holding them.

    Raises
    ------
    KeyError
        If the trial records no architecture or no weights artifact.
    ValueError
        If the file is missing or corrupt (:func:`download_weights`) or holds NaN or
        inf values.
    RuntimeError
        If the tensors do not fit the parent's network (missing or misshapen).
    """
    arch = Architecture.from_json(parent.user_attrs[keys.ARCH_JSON])
    state = download_weights(store, parent)
    broken = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise ValueError(f"weights hold NaN or inf values in {broken[:3]}")
    network = build_network(arch, in_channels, num_classes)
    network.load_state_dict(state)  # strict: RuntimeError for missing or misshapen tensors
    return arch, state, network


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
