"""Weights artifacts that are missing, broken, foreign or malicious never break or run anything."""

import hashlib
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
from optuna.artifacts import Backoff, FileSystemArtifactStore
from optuna.trial import TrialState, create_trial

from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.storage import keys
from optuna_nas.training import load_weights, save_weights

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space(channels=4, cells=1)
ARCH = SPACE.from_nb201_string("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")


class _Payload:
    """Unpickling this touches a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """One trained trial (user attrs, its artifact directory) and the objective to train children."""
    root = tmp_path_factory.mktemp("artifacts")
    data = load_data("synthetic", train_size=600, val_size=200, test_size=200)
    objective = NASObjective(SPACE, data, ["error", "params"], TrainConfig(epochs=1, batch_size=64),
                             FileSystemArtifactStore(str(root)))  # fmt: skip
    study = create_study(["error", "params"])
    study.enqueue_trial(SPACE.to_params(ARCH))
    study.optimize(objective, n_trials=1)
    return SimpleNamespace(trial=study.trials[0], root=root, objective=objective,
                           study_attrs=study.user_attrs)  # fmt: skip


def _child_of(parent_trial, objective, user_attrs):
    """A study holding the parent with ``user_attrs``, after training one child of it."""
    study = create_study(["error", "params"])
    study.add_trial(create_trial(params=parent_trial.params, distributions=parent_trial.distributions,
                                 values=parent_trial.values, user_attrs=user_attrs))  # fmt: skip
    study.enqueue_trial(SPACE.to_params(ARCH))
    storage, child_id = study._storage, study.trials[1]._trial_id
    storage.set_trial_system_attr(child_id, keys.PARENT_TRIAL, 0)  # as a sampler would
    storage.set_trial_system_attr(child_id, keys.OPERATOR, "test")
    study.optimize(objective, n_trials=1)
    return study.trials[1]


def _plant(root: Path, content: bytes, attrs: dict, with_digest: bool = True) -> dict:
    """Put ``content`` in the store as a new weights artifact; the parent's attrs pointing at it."""
    artifact_id = str(uuid.uuid4())
    (root / artifact_id).write_bytes(content)
    attrs = {**attrs, keys.WEIGHTS_ARTIFACT: artifact_id}
    if with_digest:  # an attacker who can also write the storage
        attrs["weights_sha256"] = hashlib.sha256(content).hexdigest()
    return attrs


def test_the_parent_weights_are_inherited_when_intact(parent):
    child = _child_of(parent.trial, parent.objective, parent.trial.user_attrs)
    assert child.user_attrs["inheritance"]["copied"] > 0


def _foreign(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(
        NB201Space(channels=8, cells=1).build(ARCH.replace(channels=8)), path
    )  # another network's tensors
    return path.read_bytes()


def _nan(tmp_path, root, trial):
    state = load_weights(root / trial.user_attrs[keys.WEIGHTS_ARTIFACT])
    model = SPACE.build(ARCH)
    model.load_state_dict(state)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    save_weights(model, tmp_path / "nan.safetensors")
    return (tmp_path / "nan.safetensors").read_bytes()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("truncated", "not a safetensors weights file"),
        ("garbage", "not a safetensors weights file"),
        ("bit flip", "sha256 mismatch"),
        ("other network", "size mismatch"),
        ("nan", "NaN or inf"),
        ("missing", "is missing from the store"),
        ("malformed architecture", "Architecture JSON is malformed"),
    ],
)
def test_a_broken_parent_file_trains_the_child_from_scratch_and_says_so(
    parent, tmp_path, case, reason
):
    trial, root, objective = parent.trial, parent.root, parent.objective
    good = (root / trial.user_attrs[keys.WEIGHTS_ARTIFACT]).read_bytes()
    content, digest = {
        "truncated": (good[: len(good) // 2], True),
        "garbage": (b"\x00" * 64 + good, True),
        "bit flip": (good[:-1] + bytes([good[-1] ^ 1]), False),  # digest of the good file
        "other network": (_foreign(tmp_path), True),
        "nan": (_nan(tmp_path, root, trial), True),
        "missing": (b"", True),
        "malformed architecture": (good, True),
    }[case]
    attrs = _plant(root, content, trial.user_attrs, with_digest=digest)
    if case == "malformed architecture":
        attrs[keys.ARCH_JSON] = '{"space": "nb201", "normal": [['  # cut short
    if case == "missing":
        (root / attrs[keys.WEIGHTS_ARTIFACT]).unlink()
    child = _child_of(trial, objective, attrs)
    assert child.state == TrialState.COMPLETE
    assert child.user_attrs["inheritance"].startswith(
        "failed, trained from scratch: parent trial 0"
    )
    assert reason in child.user_attrs["inheritance"]
    assert "initial_val_accuracy" not in child.user_attrs


@pytest.mark.parametrize("with_digest", [True, False])
def test_a_malicious_pickle_as_parent_weights_is_refused_and_never_runs(
    parent, tmp_path, with_digest
):
    trial, root, objective = parent.trial, parent.root, parent.objective
    marker = tmp_path / "pwned"
    for evil in (pickle.dumps(_Payload(marker)), _torch_save(_Payload(marker), tmp_path)):
        attrs = _plant(root, evil, trial.user_attrs, with_digest=with_digest)
        child = _child_of(trial, objective, attrs)
        assert child.state == TrialState.COMPLETE  # trained from scratch instead
        assert child.user_attrs["inheritance"].startswith("failed, trained from scratch")
        assert "never unpickles" in child.user_attrs["inheritance"] or not with_digest
        assert not marker.exists()
    # The payload is live: unpickling it (which optuna-nas never does) runs its code.
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_export_refuses_a_malicious_pickle(parent, tmp_path):
    trial, root = parent.trial, parent.root
    storage = f"sqlite:///{tmp_path}/s.db"
    marker = tmp_path / "pwned"
    attrs = _plant(root, pickle.dumps(_Payload(marker)), trial.user_attrs)
    study = create_study(["error", "params"], storage=storage, study_name="s")
    study.add_trial(create_trial(params=trial.params, distributions=trial.distributions,
                                 values=trial.values, user_attrs=attrs))  # fmt: skip
    for key, value in parent.study_attrs.items():  # input shape, classes, normalisation
        study.set_user_attr(key, value)
    done = subprocess.run([sys.executable, "-m", "optuna_nas.cli", "export", "--storage", storage,
                           "--trial", "0", "--out", str(tmp_path / "out"), "--artifact-dir", str(root)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "never unpickles weights" in done.stderr, done.stderr
    assert not marker.exists()


def _torch_save(payload, tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weight": payload}, path)  # torch's zip format: a pickle inside
    return path.read_bytes()


def test_children_inherit_through_any_optuna_artifact_store(parent):
    # Backoff retries a flaky remote store (S3, GCS); the objective only sees the protocol.
    store = Backoff(FileSystemArtifactStore(str(parent.root)), max_retries=2)
    data, config = parent.objective.data, parent.objective.train_config
    objective = NASObjective(SPACE, data, ["error", "params"], config, store)
    child = _child_of(parent.trial, objective, parent.trial.user_attrs)
    assert child.user_attrs["inheritance"]["copied"] > 0
    assert (parent.root / child.user_attrs[keys.WEIGHTS_ARTIFACT]).exists()
