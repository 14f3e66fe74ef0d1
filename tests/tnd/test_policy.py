import numpy as np
import pytest

from optuna_nas import NB201Space, create_study
from optuna_nas.tnd import ArchitectureDistribution, policy_records, policy_summary
from optuna_nas.tnd._policy import record_stage

SPACE = NB201Space(channels=4, cells=1)


def test_a_uniform_policy_has_full_entropy_and_a_peaked_one_shows_its_dominant_op():
    uniform = policy_summary(ArchitectureDistribution(SPACE))
    assert uniform["entropy"] == pytest.approx(6 * np.log(5), abs=1e-3)
    assert uniform["entropy_ratio"] == 1.0 and uniform["max_probability"] == pytest.approx(0.2)
    assert all(len(top) == 2 for top in uniform["top"].values())
    logits = {name: {"skip_connect": 3.0} for name in ArchitectureDistribution(SPACE).decisions}
    logits["normal/op_1<-0"] = {"nor_conv_3x3": 3.0}
    peaked = ArchitectureDistribution(SPACE, logits=logits)
    peaked.shrink(2)
    summary = policy_summary(peaked)
    assert summary["dominant_op"] == "skip_connect" and summary["dominant_share"] == 0.833
    assert list(summary["top"]["normal/op_1<-0"]) == ["nor_conv_3x3", "none"]
    p = peaked.probabilities("normal/op_2<-1").max()
    assert summary["max_probability"] == pytest.approx(p, abs=1e-4)
    assert summary["entropy"] == pytest.approx(peaked.entropy(), abs=1e-4)
    assert summary["entropy_ratio"] == pytest.approx(peaked.entropy() / (6 * np.log(2)), abs=1e-4)


def test_stage_records_are_study_user_attrs_read_back_in_stage_order():
    study = create_study(["error", "params"])
    dists = {"a": ArchitectureDistribution(SPACE), "b": ArchitectureDistribution(SPACE)}
    for stage in (10, 2):
        record_stage(study, stage, ops_per_edge=5, updates=stage, dists=dists,
                     rewards={"a": {"reward": 0.5}}, fit={"train_accuracy": 0.9})  # fmt: skip
    records = policy_records(study)
    assert [r["stage"] for r in records] == [2, 10]
    assert set(study.user_attrs) == {"tnd:policy:2", "tnd:policy:10"}
    assert (
        records[0]["settings"]["a"]["reward"] == 0.5 and "reward" not in records[0]["settings"]["b"]
    )
    assert records[0]["supernet"] == {"train_accuracy": 0.9}
