import datetime
import hashlib
import os
import shutil
import socket
import subprocess
import sys

import optuna
import pytest
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from optuna_nas import Architecture, NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.final import (
    choose_trials,
    final_config,
    final_data,
    final_records,
    retrain,
    train_final,
)
from optuna_nas.networks import build_network
from optuna_nas.training import evaluate, load_weights

optuna.logging.set_verbosity(optuna.logging.WARNING)
OBJECTIVES = ["error", "params", "flops"]
SEARCH = TrainConfig(epochs=1, batch_size=64, lr=0.05)


@pytest.fixture(scope="module")
def data():
    return load_data("synthetic", train_size=300, val_size=100, test_size=200)


@pytest.fixture(scope="module")
def searched(data, tmp_path_factory):
    """A 3-trial search (sqlite + artifacts) that each test copies."""
    root = tmp_path_factory.mktemp("search")
    (root / "artifacts").mkdir()
    objective = NASObjective(NB201Space(channels=4, cells=1), data, OBJECTIVES, SEARCH,
                             FileSystemArtifactStore(str(root / "artifacts")))  # fmt: skip
    study = create_study(OBJECTIVES, storage=f"sqlite:///{root}/study.db", study_name="s",
                         sampler=optuna.samplers.RandomSampler(seed=0))  # fmt: skip
    study.optimize(objective, n_trials=3)
    return root


@pytest.fixture
def study(searched, tmp_path):
    shutil.copy(searched / "study.db", tmp_path / "study.db")
    shutil.copytree(searched / "artifacts", tmp_path / "artifacts")
    return optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/study.db")


@pytest.fixture
def store(study, tmp_path):
    return FileSystemArtifactStore(str(tmp_path / "artifacts"))


def _final(study):
    return optuna.load_study(study_name="s:final", storage=study._storage)


def test_final_data_trains_on_train_and_validation_and_scores_on_test(data):
    final = final_data(data)
    assert torch.equal(final.train_x, torch.cat([data.train_x, data.val_x]))
    assert torch.equal(final.train_y, torch.cat([data.train_y, data.val_y]))
    assert len(final.train_y) == 400
    for split in ("val", "test"):
        assert torch.equal(getattr(final, f"{split}_x"), data.test_x)
        assert torch.equal(getattr(final, f"{split}_y"), data.test_y)
    assert (final.mean, final.std) == (data.mean, data.std)
    # Twice is once: the test images never end up in the training set.
    assert len(final_data(final).train_y) == 400
    assert len(final_data(final.to("cpu")).train_y) == 400


def test_final_config_keeps_the_recipe_and_trains_longer():
    search = TrainConfig(epochs=1, batch_size=32, lr=0.05, seed=3)
    config = final_config(search)
    assert config.epochs == 10  # 4x the search's, at least 10
    assert (config.batch_size, config.lr, config.seed) == (32, 0.05, 3)
    assert final_config(TrainConfig(epochs=5)).epochs == 20
    assert final_config(None).epochs == 4 * TrainConfig().epochs
    assert final_config(search, 7, device="cpu") == TrainConfig(
        epochs=7, batch_size=32, lr=0.05, seed=3, device="cpu"
    )
    # The study attr nas:train_config, parsed; keys of a newer version are ignored.
    assert final_config({**search.to_dict(), "future_field": 1}) == config
    with pytest.raises(ValueError, match="no field"):
        final_config(search, colour="red")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        final_config(search, 0)


def test_train_final_is_the_recipe_for_any_network(data):
    torch.manual_seed(0)  # a hand-made baseline gets the same recipe as the winners
    model = build_network(NB201Space(channels=4, cells=1).sample(0), 3, 10)
    result, accuracy = train_final(model, data, final_config(SEARCH, 1))
    assert result.epochs == 1 and result.curve == [accuracy]  # val is the test split
    assert accuracy == evaluate(model, data, "test", SEARCH)


def test_retrain_records_two_trials_with_loadable_weights(study, store, data, tmp_path):
    lines = []
    records = retrain(study, [2, 0], epochs=1, data=data, artifact_store=store,
                      on_epoch=lambda n, e, a: lines.append((n, e, a)))  # fmt: skip
    final = _final(study)
    assert final.metric_names == OBJECTIVES and final.directions == study.directions
    assert [r.state for r in final.trials] == [TrialState.COMPLETE] * 2
    assert [r.user_attrs["source_trial"] for r in records] == [2, 0]
    assert [(n, e) for n, e, _ in lines] == [(2, 0), (0, 0)]
    for record in records:
        source = study.trials[record.user_attrs["source_trial"]]
        attrs = record.user_attrs
        assert record.params == source.params and record.distributions == source.distributions
        assert attrs["arch"] == source.user_attrs["arch"]
        assert attrs["arch_str"] == source.user_attrs["arch_str"]
        assert (attrs["fidelity"], attrs["epochs"], attrs["train_images"]) == ("final", 1, 400)
        assert attrs["test_images"] == 200 and attrs["train_seconds"] > 0
        assert record.values == pytest.approx(
            [1 - attrs["test_accuracy"], source.values[1], source.values[2]]
        )
        assert (attrs["params"], attrs["flops"]) == (source.values[1], source.values[2])
        assert attrs["latency_ms"] > 0
        assert '"epochs": 1' in attrs["recipe"] and '"lr": 0.05' in attrs["recipe"]
        # The weights: an artifact of the companion trial, checked, reproducing the accuracy.
        path = str(tmp_path / "w.safetensors")
        download_artifact(artifact_store=store, file_path=path,
                          artifact_id=attrs["weights_artifact_id"])  # fmt: skip
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == attrs["weights_sha256"]
        model = build_network(Architecture.from_json(attrs["arch"]), 3, 10)
        model.load_state_dict(load_weights(path))
        os.remove(path)
        assert evaluate(model, final_data(data), "test", SEARCH) == attrs["test_accuracy"]
    assert final.user_attrs["nas:source_study"] == "s"
    assert final.user_attrs["nas:final_recipe"]["train_images"] == 400
    assert sorted(final_records(study)) == [0, 2]


def test_an_interrupted_retrain_resumes_without_redoing_finished_models(study, store, data):
    def interrupt(number, epoch, accuracy):
        if number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        retrain(study, [0, 1], epochs=1, data=data, artifact_store=store,
                on_epoch=interrupt)  # fmt: skip
    states = [(t.user_attrs["source_trial"], t.state) for t in _final(study).trials]
    assert states == [(0, TrialState.COMPLETE), (1, TrialState.FAIL)]
    first = _final(study).trials[0]

    trained = []
    callback = lambda s, t: trained.append(t.user_attrs["source_trial"])  # noqa: E731
    records = retrain(study, [0, 1], epochs=1, data=data, artifact_store=store,
                      callbacks=[callback])  # fmt: skip
    assert trained == [1]  # trial 0 was not trained again
    assert records[0].number == first.number
    assert records[0].user_attrs["train_seconds"] == first.user_attrs["train_seconds"]
    final = _final(study)
    assert [t.state for t in final.trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                               TrialState.COMPLETE]  # fmt: skip
    assert not final.get_trials(states=(TrialState.RUNNING,))
    # Another recipe is another final training.
    retrain(study, [0], epochs=2, data=data, artifact_store=store)
    assert final_records(study)[0].user_attrs["epochs"] == 2


def test_trials_a_killed_retrain_left_running_are_failed_when_the_next_starts(study, data):
    retrain(study, [0], epochs=1, data=data, artifact_store=False)
    final = _final(study)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    owners = {  # source trial -> the process that trained it
        1: {"retrain:pid": dead.pid, "retrain:host": host},  # killed
        2: {"retrain:pid": os.getpid(), "retrain:host": host},  # this process, not training it
        5: {"retrain:pid": os.getppid(), "retrain:host": host},  # alive
        6: {"retrain:pid": dead.pid, "retrain:host": "elsewhere"},  # cannot be checked
    }
    for source, owner in owners.items():
        final._storage.create_new_trial(final._study_id, template_trial=_running(source, owner))
    retrain(study, [0], epochs=1, data=data, artifact_store=False)
    states = {t.user_attrs["source_trial"]: t.state for t in _final(study).trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.FAIL, 2: TrialState.FAIL,
                      5: TrialState.RUNNING, 6: TrialState.RUNNING}  # fmt: skip
    failed = [t for t in _final(study).trials if t.state == TrialState.FAIL]
    assert all("retrain process ended" in t.user_attrs["fail_reason"] for t in failed)
    assert len(_final(study).trials) == 5  # trial 0 finished: not retrained


def _running(source, system_attrs):
    return FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, values=None,
        datetime_start=datetime.datetime.now(), datetime_complete=None, params={},
        distributions={}, user_attrs={"source_trial": source}, system_attrs=system_attrs,
        intermediate_values={}, trial_id=-1,
    )  # fmt: skip


def _trial(values, state=TrialState.COMPLETE, **user_attrs):
    attrs = {"arch": "{}", **user_attrs}
    return optuna.trial.create_trial(
        state=state, values=values if state == TrialState.COMPLETE else None,
        params={"op": "a"}, distributions={"op": CategoricalDistribution(["a", "b"])},
        user_attrs={k: v for k, v in attrs.items() if v is not None},
    )  # fmt: skip


def test_the_default_trials_are_the_front_of_fully_trained_trials():
    study = create_study(["error", "params"])
    study.add_trial(_trial([0.3, 100]))  # 0: front
    study.add_trial(_trial([0.2, 200], fidelity="full"))  # 1: front
    study.add_trial(_trial([0.4, 300]))  # 2: dominated
    study.add_trial(_trial([0.1, 50], fidelity="supernet"))  # 3: a supernet score, left out
    study.add_trial(_trial(None, state=TrialState.FAIL))  # 4
    assert [t.number for t in choose_trials(study)] == [0, 1]
    assert [t.number for t in choose_trials(study, [2, 3, 2])] == [2, 3]


@pytest.mark.parametrize(
    ("trials", "message"),
    [
        ([7], "has no trial 7 (its trials: 0-2)"),
        ([1], "trial 1 of study 'x' is FAIL; only COMPLETE trials can be retrained"),
        ([2], "trial 2 of study 'x' has no architecture"),
        ([], "no trial to retrain was given"),
    ],
)
def test_bad_trials_are_one_clear_error(trials, message):
    study = create_study(["error", "params"], study_name="x")
    study.add_trial(_trial([0.3, 100]))
    study.add_trial(_trial(None, state=TrialState.FAIL))
    study.add_trial(_trial([0.3, 100], arch=None))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose_trials(study, trials)


def test_a_study_without_architectures_is_one_clear_error():
    study = create_study(["error", "params"], study_name="plain")
    study.add_trial(_trial([0.3, 100], arch=None))
    with pytest.raises(ValueError, match="no COMPLETE, fully trained trial with an architecture"):
        retrain(study)
