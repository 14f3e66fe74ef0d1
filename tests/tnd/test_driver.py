import json
import tempfile
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.artifacts import download_artifact
from optuna.trial import TrialState

from optuna_nas import Architecture, DartsSpace, NB201Space, TrainConfig, create_study
from optuna_nas.objectives import count_params, register_objective
from optuna_nas.storage import keys
from optuna_nas.tnd import Reinforce, TradeOff, _state, derive, policy_records, trade_off_ladder
from optuna_nas.training import evaluate, load_weights
from tests.tnd.conftest import tiny_search


def _by_fidelity(study, fidelity):
    return [t for t in study.trials if t.user_attrs.get("fidelity") == fidelity]


def test_every_scored_architecture_is_a_supernet_trial_with_values_in_metric_order(nb201_run):
    study = optuna.load_study(study_name=nb201_run.study_name, storage=nb201_run.storage)
    space, shape = nb201_run.space, nb201_run.data.input_shape
    trials = _by_fidelity(study, "supernet")
    # 3 stages x 6 weight steps, an α update every 2 steps, one pool of 6 samples each.
    assert len(trials) == 3 * 3 * 6
    settings = set(nb201_run.search.trade_offs)
    for t in trials:
        assert t.state == TrialState.COMPLETE
        arch = space.from_params(t.params)
        assert arch == Architecture.from_json(t.user_attrs["arch"])
        assert t.values[0] == count_params(arch, shape) == t.user_attrs["params"]
        assert t.values[1] == pytest.approx(1 - t.user_attrs["supernet_accuracy"])
        assert t.user_attrs["supernet_images"] == 64
        assert t.user_attrs["tnd:setting"] in settings and t.user_attrs["tnd:stage"] in (0, 1, 2)
    # Trials of the last stage only use ops its shrunk search space still holds.
    alpha = _state.published(study)[keys.TND_ALPHA]
    for t in trials:
        if t.user_attrs["tnd:stage"] == 2:
            active = alpha[t.user_attrs["tnd:setting"]]
            assert all(op in active[f"normal/{name}"] for name, op in t.params.items())


def test_alpha_stage_and_derived_architectures_are_published(nb201_run):
    study = optuna.load_study(study_name=nb201_run.study_name, storage=nb201_run.storage)
    attrs = _state.published(study)
    assert attrs[keys.TND_STAGE] == {"index": 2, "n_stages": 3, "ops_per_edge": 2, "status": "done"}
    assert set(attrs[keys.TND_ALPHA]) == set(nb201_run.search.trade_offs)
    for alpha in attrs[keys.TND_ALPHA].values():
        assert len(alpha) == 6 and all(len(ops) == 2 for ops in alpha.values())  # shrunk 5->3->2
        assert all(isinstance(v, float) for ops in alpha.values() for v in ops.values())
    assert [t["name"] for t in attrs[keys.TND_TRADE_OFFS]] == list(nb201_run.search.trade_offs)
    assert set(attrs[keys.TND_BASELINES]) == set(nb201_run.search.trade_offs)
    assert all(set(b) == {"mean", "var"} for b in attrs[keys.TND_BASELINES].values())
    dists = _state.read_distributions(study, nb201_run.space)
    derived = _state.read_derived(study)
    assert derived == derive(dists)  # each setting's likeliest architecture no other took
    assert len({a.fingerprint for a in derived.values()}) == 3
    first = next(iter(derived))
    assert derived[first] == dists[first].most_likely()[0]


def test_every_stage_records_what_each_policy_looks_like(nb201_run):
    study = optuna.load_study(study_name=nb201_run.study_name, storage=nb201_run.storage)
    records = policy_records(study)
    assert [r["stage"] for r in records] == [0, 1, 2]
    assert [r["ops_per_edge"] for r in records] == [5, 3, 2]
    assert all(r["updates"] == 3 for r in records)
    dists = _state.read_distributions(study, nb201_run.space)  # α at the end of the last stage
    for name, summary in records[-1]["settings"].items():
        dist = dists[name]
        assert summary["entropy"] == pytest.approx(dist.entropy(), abs=1e-3)
        for decision, top in summary["top"].items():
            assert next(iter(top)) == dist.active_choices(decision)[
                int(np.argmax(dist.probabilities(decision)[dist.active[decision]]))]  # fmt: skip
        assert summary["max_probability"] <= Reinforce().max_probability + 1e-6  # the cap
        assert 0 <= summary["reward"] <= 1 and summary["pool_ess"] >= 1
    for r in records:
        fit = r["supernet"]
        assert 0 <= fit["val_accuracy"] <= 1 and 0 <= fit["train_accuracy"] <= 1
        assert fit["gap"] == pytest.approx(fit["train_accuracy"] - fit["val_accuracy"], abs=1e-3)
    for r in records:  # at most the entropy of uniform choices among the ops left
        assert all(s["entropy"] <= 6 * np.log(r["ops_per_edge"]) + 1e-3
                   for s in r["settings"].values())  # fmt: skip


def test_one_supernet_and_one_pool_serve_any_number_of_settings(tiny_data, tmp_path):
    # Twice the settings of nb201_run, the same pool: the same number of scored sub-networks
    # (the search's cost) and a distinct derived architecture per setting.
    space = NB201Space(channels=4, cells=1)
    study = create_study(["error", "params"])
    settings = trade_off_ladder(space, "params", 6, input_shape=tiny_data.input_shape)
    search = tiny_search(study, space, tiny_data, tmp_path, trade_offs=settings)
    derived = search.search()
    trials = _by_fidelity(study, "supernet")
    assert len(trials) == 3 * 3 * 6
    for stage in range(3):  # each setting drew one sample of every pool
        drawn = [t.user_attrs["tnd:setting"] for t in trials if t.user_attrs["tnd:stage"] == stage]
        assert sorted(drawn) == sorted([s.name for s in settings] * 3)
    assert len({a.fingerprint for a in derived.values()}) == 6
    alpha = _state.published(study)[keys.TND_ALPHA]
    assert len({json.dumps(a, sort_keys=True) for a in alpha.values()}) == 6  # six policies


def test_the_derived_set_is_trained_from_scratch_as_full_trials(nb201_run):
    study = optuna.load_study(study_name=nb201_run.study_name, storage=nb201_run.storage)
    derived = _state.read_derived(study)
    full = [t for t in _by_fidelity(study, "full") if "tnd:settings" in t.user_attrs]
    assert [t.number for t in full] == [t.number for t in nb201_run.final]
    assert {t.user_attrs["fingerprint"] for t in full} == {a.fingerprint for a in derived.values()}
    assert sorted(s for t in full for s in t.user_attrs["tnd:settings"]) == sorted(derived)
    assert min(t.number for t in full) > max(t.number for t in _by_fidelity(study, "supernet"))
    for t in full:
        assert t.state == TrialState.COMPLETE and t.user_attrs["epochs"] == 1
        assert "parent_trial" not in t.user_attrs and "inheritance" not in t.user_attrs
        arch = nb201_run.space.from_params(t.params)
        assert t.values == [
            count_params(arch, nb201_run.data.input_shape),
            1 - t.user_attrs["val_accuracy"],
        ]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "w.safetensors"
            from optuna.artifacts import FileSystemArtifactStore

            download_artifact(artifact_store=FileSystemArtifactStore(str(nb201_run.artifacts)),
                              file_path=str(path), artifact_id=t.user_attrs["weights_artifact_id"])  # fmt: skip
            model = nb201_run.space.build(arch, 3, 10)
            model.load_state_dict(load_weights(path), strict=True)
        assert evaluate(model, nb201_run.data) == pytest.approx(t.user_attrs["val_accuracy"])


def test_running_again_resumes_without_searching_or_training_twice(nb201_run, tmp_path):
    study = create_study(["params", "error"], storage=nb201_run.storage, study_name="tnd")
    before = len(study.trials)
    again = tiny_search(study, nb201_run.space, nb201_run.data, nb201_run.artifacts,
                        trade_offs=list(nb201_run.search.trade_offs.values()))  # fmt: skip
    assert [t.number for t in again.run()] == [t.number for t in nb201_run.final]
    assert len(study.trials) == before


def test_darts_search_with_mixture_weight_training(tiny_data, tmp_path):
    space = DartsSpace(channels=4, cells=1, nodes=2)
    study = create_study(["error", "params"])
    search = tiny_search(study, space, tiny_data, tmp_path, shrink_to=(4,), weight_training="mixture",
                         samples_per_update=4,
                         trade_offs=[TradeOff("small", {"params": 5000}), TradeOff("accurate")])  # fmt: skip
    final = search.run()
    alpha = _state.published(study)[keys.TND_ALPHA]
    for setting in alpha.values():
        ops = [v for name, v in setting.items() if "/op_" in name]
        inputs = [v for name, v in setting.items() if name.endswith("/inputs")]
        assert len(ops) == 2 * (2 + 3) and all(len(v) == 4 for v in ops)  # 8 ops -> 4
        assert len(inputs) == 4 and [len(v) for v in inputs] == [1, 3, 1, 3]  # pairs kept
    assert len(_by_fidelity(study, "supernet")) == 2 * 3 * 4
    assert final and all(t.state == TrialState.COMPLETE for t in final)
    assert all(
        t.user_attrs["fidelity"] == "full" and "weights_artifact_id" in t.user_attrs for t in final
    )


def test_a_heavy_cost_penalty_moves_alpha_to_parameter_free_ops(tiny_data, tmp_path):
    # The known answer: with reward = accuracy * (params / target) ** -2 and the target at
    # the parameter count of a network without any parametric op, every parametric op
    # on a live path costs far more reward than the accuracy it could add.
    space = NB201Space(channels=4, cells=1)
    study = create_study(["error", "params"])
    setting = TradeOff("tiny", {"params": 4894}, above=-2.0)
    search = tiny_search(study, space, tiny_data, tmp_path, trade_offs=[setting], shrink_to=(3,),
                         updates_per_epoch=6, samples_per_update=8, reinforce=Reinforce(lr=5.0))  # fmt: skip
    search.search()
    derived = _state.read_derived(study)["tiny"]
    assert count_params(derived, tiny_data.input_shape) == 4894  # no live parametric op
    params = [t.values[1] for t in study.trials]
    assert np.mean(params[-12:]) < np.mean(params[:12])  # the samples got cheaper ...
    assert np.mean(np.array(params[-12:]) == 4894) >= 0.75  # ... mostly the cheapest there is
    # Ops on dead edges get no signal; on the live edges α left the parametric ops.
    dist = _state.read_distributions(study, space)["tiny"]
    for k, node in enumerate(derived.without_dead_ops().normal):
        for op, source in node:
            if op != "none":
                name = f"normal/op_{k + 1}<-{source}"
                p = dict(zip(dist.decisions[name].choices, dist.probabilities(name), strict=True))
                assert p["nor_conv_1x1"] + p["nor_conv_3x3"] < 0.2
    # The pull towards parameter-free ops is strong, but the cap keeps every op drawn.
    assert all(s["max_probability"] <= 0.9 + 1e-6
               for r in policy_records(study) for s in r["settings"].values())  # fmt: skip


def test_a_failing_final_trial_is_recorded_and_the_run_goes_on(tiny_data, tmp_path):
    space = NB201Space(channels=4, cells=1)
    study = create_study(["error", "params"])
    search = tiny_search(
        study,
        space,
        tiny_data,
        tmp_path,
        train_config=TrainConfig(epochs=1, batch_size=64, lr=1e20),
    )
    archs = [space.sample(np.random.default_rng(s)) for s in (0, 1)]
    final = search.train_derived({"a": archs[0], "b": archs[1]})
    assert [t.state for t in final] == [TrialState.FAIL, TrialState.FAIL]
    assert all("diverged" in t.user_attrs["fail_reason"] for t in final)
    assert _state.published(study)[keys.TND_STAGE]["status"] == "done"


def test_bad_studies_and_settings_are_clear_errors(tiny_data, tmp_path):
    space = NB201Space(channels=4, cells=1)
    plain = optuna.create_study(directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="create_study"):
        tiny_search(plain, space, tiny_data, tmp_path)
    register_objective("robustness", "maximize", cheap=False, overwrite=True)
    with pytest.raises(ValueError, match="'robustness' needs a trained network"):
        tiny_search(create_study(["error", "robustness"]), space, tiny_data, tmp_path)
    study = create_study(["error", "params"])
    with pytest.raises(ValueError, match="must decrease strictly"):
        tiny_search(study, space, tiny_data, tmp_path, shrink_to=(3, 3))
    with pytest.raises(ValueError, match="weight_training"):
        tiny_search(study, space, tiny_data, tmp_path, weight_training="both")
    with pytest.raises(ValueError, match="distinct names"):
        tiny_search(study, space, tiny_data, tmp_path, trade_offs=[TradeOff("a"), TradeOff("a")])
    with pytest.raises(ValueError, match="single channels"):
        tiny_search(study, NB201Space(channels=[4, 8], cells=1), tiny_data, tmp_path)
