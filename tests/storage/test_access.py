"""The named storage functions do what Optuna's private API did, on real storages."""

import optuna
import pytest
from optuna.trial import TrialState

from optuna_nas import NB201Space, create_study
from optuna_nas import storage as nas_storage
from optuna_nas.storage import keys

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space()


pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")


@pytest.fixture(params=["memory", "sqlite"])
def study(request, tmp_path):
    url = None if request.param == "memory" else f"sqlite:///{tmp_path}/s.db"
    return create_study(["error", "params"], storage=url)


def _frozen(study, trial):
    return nas_storage.read_trial(study, nas_storage.trial_id(trial))


def test_a_sampler_writes_what_the_running_trial_reads_back(study):
    parent = study.ask()
    study.tell(parent, [0.5, 10.0])
    trial = study.ask()
    nas_storage.write_lineage(study, _frozen(study, trial), parent.number, "widen", False)
    nas_storage.write_trial_system_attr(study, _frozen(study, trial), "x:y", [1, 2])
    system = nas_storage.fresh_system_attrs(trial)
    assert (system[keys.PARENT_TRIAL], system[keys.OPERATOR], system[keys.DISTILL]) == (
        0, "widen", False)  # fmt: skip
    assert system["x:y"] == [1, 2]
    assert nas_storage.trial_by_number(study, parent.number).values == [0.5, 10.0]
    assert len(nas_storage.cached_trials(study)) == 2


def test_enqueued_params_are_the_fixed_ones(study):
    params = SPACE.to_params(SPACE.sample(0))
    study.enqueue_trial(params)
    assert nas_storage.enqueued_params(study.ask()) == params
    assert nas_storage.enqueued_params(study.ask()) == {}


def test_a_fingerprint_is_claimed_once_among_live_trials(study):
    first, second = (_frozen(study, study.ask()) for _ in range(2))
    assert nas_storage.claim_fingerprint(study, first, "abc")
    assert not nas_storage.claim_fingerprint(study, second, "abc")
    study.tell(first.number, state=TrialState.FAIL)  # a failed trial's claim lapses
    assert nas_storage.claim_fingerprint(study, second, "abc")


def test_a_waiting_trial_starts_once_and_can_be_failed(study):
    study.enqueue_trial({})
    (waiting,) = study.get_trials(states=(TrialState.WAITING,))
    assert nas_storage.start_waiting_trial(study, waiting)
    assert not nas_storage.start_waiting_trial(study, waiting)  # another worker lost the race
    nas_storage.fail_trial(study, nas_storage.trial_id(waiting), "gone\nsecond line")
    failed = nas_storage.read_trial(study, nas_storage.trial_id(waiting))
    assert failed.state == TrialState.FAIL and failed.user_attrs[keys.FAIL_REASON] == "gone"


def test_study_attrs_and_sibling_studies(study):
    nas_storage.write_study_system_attr(study, keys.TND_STAGE, {"index": 0})
    assert nas_storage.study_system_attrs(study)[keys.TND_STAGE] == {"index": 0}
    assert nas_storage.study_in_same_storage(study, "nope") is None
    other = create_study(["error"], storage=nas_storage.storage_of(study), study_name="other")
    assert nas_storage.study_in_same_storage(study, "other").study_name == "other"
    assert nas_storage.study_key(other) != nas_storage.study_key(study)
    assert nas_storage.study_id(other) != nas_storage.study_id(study)


def test_the_heartbeat_interval_is_none_without_a_heartbeat(tmp_path):
    assert nas_storage.heartbeat_interval(create_study(["error"])) is None
    rdb = create_study(["error"], storage=f"sqlite:///{tmp_path}/h.db")
    assert nas_storage.heartbeat_interval(rdb) == 60
    trial = rdb.ask()
    nas_storage.record_heartbeat(rdb, nas_storage.trial_id(trial))  # no error: it beats
