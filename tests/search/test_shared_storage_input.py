"""Bad input to a (shared) study from Python: one clear error before anything trains."""

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState

from optuna_nas import DartsSpace, NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.workers import queue_trials, run_worker

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space(channels=4, cells=1)


@pytest.fixture(scope="module")
def data():
    return load_data("synthetic", train_size=600, val_size=200, test_size=200)


def _objective(data, tmp_path, space=SPACE):
    return NASObjective(space, data, ["error", "params"], TrainConfig(epochs=1, batch_size=64),
                        FileSystemArtifactStore(str(tmp_path)))  # fmt: skip


def _untrained(study):
    return all("train_seconds" not in t.user_attrs for t in study.trials)


def test_a_study_resumed_with_another_space_or_dataset_is_refused(data, tmp_path):
    study = create_study(["error", "params"])
    study.optimize(_objective(data, tmp_path), n_trials=1)
    darts = _objective(data, tmp_path, DartsSpace(channels=4, cells=1, nodes=2))
    with pytest.raises(
        ValueError,
        match=r"was searched in NB201Space\(channels=\[4\], cells=\[1\]\), not in DartsSpace",
    ):
        darts.check_study(study)
    other = load_data("synthetic", train_size=600, val_size=200, test_size=200)
    other.name = "other-synthetic"
    with pytest.raises(ValueError, match="on dataset 'synthetic', not 'other-synthetic'"):
        study.optimize(_objective(other, tmp_path), n_trials=1)
    assert "train_seconds" not in study.trials[-1].user_attrs


def test_a_study_with_the_wrong_number_of_objectives_is_refused(data, tmp_path):
    study = optuna.create_study(directions=["minimize"] * 3)
    with pytest.raises(ValueError, match=r"3 direction\(s\) but the objective returns 2 values"):
        study.optimize(_objective(data, tmp_path), n_trials=1)
    assert _untrained(study)


def test_params_enqueued_from_another_space_fail_before_training(data, tmp_path):
    study = create_study(["error", "params"])
    study.enqueue_trial(DartsSpace().to_params(DartsSpace().sample(0)))
    with pytest.raises(ValueError, match="were they produced by a different space"):
        study.optimize(_objective(data, tmp_path), n_trials=1)
    # A value outside this space's choices names the param; a worker logs it and goes on.
    study = create_study(["error", "params"])
    study.enqueue_trial({**SPACE.to_params(SPACE.sample(0)), "op_1<-0": "sep_conv_3x3"})
    queue_trials(study, 2)
    run_worker(study, _objective(data, tmp_path))
    failed, done = study.trials
    assert failed.state == TrialState.FAIL and done.state == TrialState.COMPLETE
    assert "enqueued with op_1<-0='sep_conv_3x3', not one of" in failed.user_attrs["fail_reason"]
    assert "train_seconds" not in failed.user_attrs
