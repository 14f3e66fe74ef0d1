import optuna
from optuna.trial import TrialState

from optuna_nas import NB201Space, create_study
from optuna_nas.search import TrialArchitectures, cheap_objectives, pareto_indices

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = NB201Space()


def test_a_claimed_architecture_is_refused_to_every_other_live_trial():
    study = create_study(["error", "params"])
    first, second, third = (study.ask() for _ in range(3))
    arch, other = SPACE.sample(0), SPACE.sample(1)
    frozen = [study._storage.get_trial(t._trial_id) for t in (first, second, third)]
    assert TrialArchitectures.claim(study, frozen[0], arch)
    assert not TrialArchitectures.claim(study, frozen[1], arch)  # a race: the second steps back
    assert TrialArchitectures.claim(study, frozen[1], other)
    # Running trials' claims are taken before their params exist.
    trials = study.get_trials(deepcopy=False)
    assert TrialArchitectures(SPACE).taken(trials) == {arch.fingerprint, other.fingerprint}
    # A failed trial's claim lapses: its heartbeat retry may run the architecture.
    study.tell(first, state=TrialState.FAIL)
    assert TrialArchitectures.claim(study, frozen[2], arch)


def test_completed_trials_decode_once_and_foreign_params_are_skipped():
    study = create_study(["error", "params"])
    params = SPACE.to_params(SPACE.sample(2))
    study.enqueue_trial(params)
    study.optimize(lambda t: (0.5, float(len(SPACE.suggest(t).fingerprint))), n_trials=1)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
    archs = TrialArchitectures(SPACE)
    completed = archs.completed(study.get_trials(deepcopy=False))
    assert [(t.number, a) for t, a in completed] == [(0, SPACE.from_params(params))]


def test_cheap_objectives_follow_the_study_metrics_and_the_front_its_directions():
    study = create_study(["accuracy", "params", "flops"])
    assert sorted(cheap_objectives(study)) == ["flops", "params"]
    assert list(cheap_objectives(create_study(["error"]))) == ["params"]
    given = {"params": lambda a: 1.0}
    assert cheap_objectives(study, given) == given
    for values in ([0.9, 10, 5], [0.8, 5, 5], [0.7, 20, 20], [0.95, 20, 1]):
        study.add_trial(optuna.trial.create_trial(values=values, params={}, distributions={}))
    # accuracy is maximised: trial 2 is dominated by trial 0.
    assert pareto_indices(study, study.trials) == [0, 1, 3]


def test_exact_columns_are_the_cheap_metrics_minimised():
    from optuna_nas.search import exact_columns

    study = create_study(["accuracy", "params"])
    double = {"params": lambda arch: 2.0, "flops": lambda arch: 3.0}  # flops: no column
    columns = exact_columns(study, double)
    assert list(columns) == [1] and columns[1](SPACE.sample(0)) == 2.0
    maximised = optuna.create_study(directions=["minimize", "maximize"])
    maximised.set_metric_names(["error", "params"])
    assert exact_columns(maximised, double)[1](SPACE.sample(0)) == -2.0


def test_one_read_gives_the_taken_fingerprints_and_the_completed_trials_in_order():
    study = create_study(["error", "params"])
    archs = [SPACE.sample(seed) for seed in range(4)]
    states = (TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE)
    for arch, state in zip(archs[:3], states, strict=True):
        study.enqueue_trial(SPACE.to_params(arch))
        trial = study.ask()
        SPACE.suggest(trial)
        study.tell(trial, [0.5, 1.0] if state == TrialState.COMPLETE else None, state=state)
    running = study.ask()  # no params yet, only a claim
    TrialArchitectures.claim(study, study._storage.get_trial(running._trial_id), archs[3])
    taken, complete = TrialArchitectures(SPACE).read(study.get_trials(deepcopy=False))
    # A failed trial's architecture is taken too: it was tried; a running one's claim counts.
    assert taken == {a.fingerprint for a in archs}
    assert [(t.number, a) for t, a in complete] == [(0, archs[0]), (2, archs[2])]
