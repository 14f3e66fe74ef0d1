import json
import math
import subprocess
import sys
import textwrap

import optuna
import pytest
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState

import optuna_nas
from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.storage import keys

optuna.logging.set_verbosity(optuna.logging.WARNING)
CONFIG = TrainConfig(epochs=2, batch_size=64, lr=0.05)


@pytest.fixture(scope="module")
def data():
    return load_data("synthetic", train_size=1200, val_size=200, test_size=200)


def _objective(data, tmp_path, config=CONFIG, space=None, objectives=("error", "params")):
    (tmp_path / "artifacts").mkdir(parents=True, exist_ok=True)
    store = FileSystemArtifactStore(str(tmp_path / "artifacts"))
    return NASObjective(space or NB201Space(channels=4, cells=1), data, objectives, config, store)


def test_study_on_sqlite_reopened_in_a_fresh_process(data, tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    study = create_study(["error", "params"], storage=storage, study_name="e2e",
                         sampler=optuna.samplers.RandomSampler(seed=1))  # fmt: skip
    study.optimize(_objective(data, tmp_path), n_trials=3)
    check = textwrap.dedent(f"""
        import json, optuna, tempfile, os
        from optuna.artifacts import FileSystemArtifactStore, download_artifact
        from optuna_nas import Architecture, NB201Space, TrainConfig
        from optuna_nas.data import load_data
        from optuna_nas.training import evaluate, load_weights
        study = optuna.load_study(study_name="e2e", storage={storage!r})
        data = load_data("synthetic", train_size=1200, val_size=200, test_size=200)
        store = FileSystemArtifactStore({str(tmp_path / "artifacts")!r})
        out = []
        for t in study.trials:
            arch = Architecture.from_json(t.user_attrs["arch"])
            path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
            download_artifact(artifact_store=store, file_path=path,
                              artifact_id=t.user_attrs["weights_artifact_id"])
            model = NB201Space(channels=4, cells=1).build(arch, 3, 10)
            model.load_state_dict(load_weights(path), strict=True)
            out.append(dict(state=t.state.name, values=t.values, attrs=t.user_attrs,
                            acc=evaluate(model, data, "val")))
        print(json.dumps(dict(metric_names=study.metric_names, trials=out)))
    """)
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["metric_names"] == ["error", "params"]
    assert len(result["trials"]) == 3
    for t in result["trials"]:
        attrs = t["attrs"]
        assert t["state"] == "COMPLETE"
        assert t["values"][0] == pytest.approx(1 - attrs["val_accuracy"])
        assert t["values"][1] == attrs["params"]
        assert len(attrs["val_curve"]) == 2 and attrs["val_curve"][-1] == attrs["val_accuracy"]
        assert attrs["epochs"] == 2 and attrs["train_seconds"] > 0
        assert attrs["flops"] > 0 and attrs["latency_ms"] > 0 and 0 <= attrs["test_accuracy"] <= 1
        assert attrs["arch_str"].startswith("nb201[C=4,N=1]")
        # The stored weights reproduce the recorded validation accuracy exactly.
        assert t["acc"] == pytest.approx(attrs["val_accuracy"], abs=1e-9)


def test_nan_fails_the_trial_with_its_reason_and_the_study_goes_on(data, tmp_path):
    study = create_study(["error", "params"])
    study.optimize(_objective(data, tmp_path, TrainConfig(epochs=1, lr=1e20)), n_trials=2)
    study.optimize(_objective(data, tmp_path), n_trials=1)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert "diverged" in study.trials[0].user_attrs["fail_reason"]


def test_out_of_memory_fails_one_trial_and_the_next_runs(data, tmp_path):
    # 200,000 channels: the 3x3 convs need ~1.4 TB, a real allocation failure on this CPU.
    huge = NB201Space(channels=200_000, cells=1)
    study = create_study(["error", "params"])
    study.optimize(_objective(data, tmp_path, space=huge), n_trials=1)
    study.optimize(_objective(data, tmp_path), n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert "out of memory" in study.trials[0].user_attrs["fail_reason"]


def test_single_objective_reports_intermediate_values_and_prunes(data, tmp_path):
    study = create_study(["error"], pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    study.optimize(_objective(data, tmp_path, objectives=["error"]), n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]


def test_values_follow_the_study_metric_order(data, tmp_path):
    study = create_study(["params", "error"])
    study.optimize(_objective(data, tmp_path, objectives=["error", "params"]), n_trials=1)
    trial = study.trials[0]
    assert trial.values == [trial.user_attrs["params"], 1 - trial.user_attrs["val_accuracy"]]


def test_wrong_directions_or_objectives_fail_before_training(data, tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_metric_names(["error", "params"])
    with pytest.raises(ValueError, match="must be minimized"):
        study.optimize(_objective(data, tmp_path), n_trials=1)
    study = create_study(["error", "flops"])
    with pytest.raises(ValueError, match="metric names"):
        study.optimize(_objective(data, tmp_path), n_trials=1)
    with pytest.raises(ValueError, match="unknown objective"):
        NASObjective(NB201Space(), data, ["error", "size"])
    with pytest.raises(ValueError, match="already exists with objectives"):
        storage = optuna.storages.InMemoryStorage()
        create_study(["error"], storage=storage, study_name="s")
        create_study(["params"], storage=storage, study_name="s")


class _ParentSampler(optuna.samplers.RandomSampler):
    """Names trial 0 as every later trial's parent, as LEMONADE does (through storage)."""

    def __init__(self, seed, distill=False):
        super().__init__(seed=seed)
        self.distill = distill

    def before_trial(self, study, trial):
        if trial.number > 0:
            study._storage.set_trial_system_attr(trial._trial_id, keys.PARENT_TRIAL, 0)
            study._storage.set_trial_system_attr(trial._trial_id, keys.OPERATOR, "test")
            study._storage.set_trial_system_attr(trial._trial_id, keys.DISTILL, self.distill)


def test_a_child_inherits_its_parents_weights(data, tmp_path):
    study = create_study(["error", "params"], sampler=_ParentSampler(seed=0))
    arch = {"op_1<-0": "nor_conv_3x3", "op_2<-0": "skip_connect", "op_2<-1": "nor_conv_1x1",
            "op_3<-0": "nor_conv_3x3", "op_3<-1": "none", "op_3<-2": "nor_conv_1x1"}  # fmt: skip
    study.enqueue_trial(arch)
    study.enqueue_trial(arch)
    objective = _objective(data, tmp_path)
    study.optimize(objective, n_trials=2)
    child = study.trials[1]
    assert child.user_attrs["parent_trial"] == 0 and child.user_attrs["operator"] == "test"
    summary = child.user_attrs["inheritance"]
    assert summary["copied"] > 0 and summary["new"] == 0 and summary["shape_mismatch"] == 0
    # Warm-started from the trained parent, the child starts better than from scratch.
    assert child.user_attrs["val_curve"][0] > study.trials[0].user_attrs["val_curve"][0]


def test_without_inheritance_a_child_starts_from_fresh_weights(data, tmp_path):
    study = create_study(["error", "params"], sampler=_ParentSampler(seed=0))
    arch = NB201Space(channels=4, cells=1).to_params(NB201Space(channels=4, cells=1).sample(0))
    study.enqueue_trial(arch)
    study.enqueue_trial(arch)
    objective = _objective(data, tmp_path)
    objective.inherit = False
    study.optimize(objective, n_trials=2)
    parent, child = study.trials
    # Same architecture, same seed, fresh weights: the same run as the parent's.
    assert child.user_attrs["inheritance"].startswith("off")
    assert child.user_attrs["parent_trial"] == 0 and "initial_val_accuracy" not in child.user_attrs
    assert child.user_attrs["val_curve"] == parent.user_attrs["val_curve"]
    assert parent.user_attrs["fidelity"] == child.user_attrs["fidelity"] == "full"


def test_a_missing_parent_artifact_trains_from_scratch_and_says_so(data, tmp_path):
    study = create_study(["error", "params"], sampler=_ParentSampler(seed=0))
    study.optimize(_objective(data, tmp_path / "a"), n_trials=1)
    study.optimize(_objective(data, tmp_path / "b"), n_trials=1)  # parent's weights are not there
    child = study.trials[1]
    assert child.state == TrialState.COMPLETE
    assert child.user_attrs["inheritance"].startswith("failed, trained from scratch")


def test_public_api_is_importable():
    for name in ("Architecture", "NB201Space", "DartsSpace", "NASObjective", "create_study",
                 "TrainConfig", "load_data", "retrain"):  # fmt: skip
        assert hasattr(optuna_nas, name)
    assert math.isfinite(CONFIG.lr) and torch.get_num_threads() >= 1


def test_a_morphism_child_starts_with_its_parents_accuracy(data, tmp_path):
    from optuna_nas.lemonade import activate_edge

    space = NB201Space(channels=4, cells=1)
    parent = space.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    )
    # activate_edge: edge 3<-1 gets a conv whose output starts at zero.
    child = parent.replace(normal=[[["nor_conv_3x3", 0]], [["none", 0], ["none", 1]],
                                   [["skip_connect", 0], ["nor_conv_1x1", 1], ["none", 2]]])  # fmt: skip
    assert child != parent and activate_edge.exact
    study = create_study(["error", "params"], sampler=_ParentSampler(seed=0))
    study.enqueue_trial(space.to_params(parent))
    study.enqueue_trial(space.to_params(child))
    study.optimize(_objective(data, tmp_path, space=space), n_trials=2)
    trained_parent, started_child = study.trials
    assert started_child.user_attrs["initial_val_accuracy"] == pytest.approx(
        trained_parent.user_attrs["val_accuracy"], abs=0.01
    )


def test_an_approximate_child_is_distilled_from_its_parent_first(data, tmp_path):
    space = NB201Space(channels=4, cells=1)
    parent = space.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    )
    child = space.from_nb201_string(  # the 3x3 conv made cheaper: an approximate morphism
        "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    )
    study = create_study(["error", "params"], sampler=_ParentSampler(seed=0, distill=True))
    study.enqueue_trial(space.to_params(parent))
    study.enqueue_trial(space.to_params(child))
    study.optimize(_objective(data, tmp_path, space=space), n_trials=2)
    distilled = study.trials[1]
    assert distilled.state == TrialState.COMPLETE
    assert distilled.user_attrs["inheritance"]["mapped"] >= 1  # the kernel's centre tap
    # One short distillation epoch ran (its effect on accuracy is tested in tests/training).
    assert 0 <= distilled.user_attrs["distill_val_accuracy"] <= 1
