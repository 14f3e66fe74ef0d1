"""The contract every optuna-nas sampler keeps: one test, parametrised over all of them.

After Optuna's ``optuna/testing/pytest_samplers.py`` (reusable cases) and
``tests/samplers_tests/test_samplers.py`` (the cases run over every sampler): Optuna's
own basic and multi-objective cases, then ours: valid params, other params go to the
fallback sampler, the random phase comes first, a seed fixes the search, and, for the
samplers that claim architectures, a new sampler resumes from storage and two
samplers on one study never share an architecture. A new sampler gets the whole
contract by adding one :class:`Case` to ``CASES``; its own tests keep only what is
its own (LEMONADE's lineage, NAO's predictions, TND-NAS's α).

Nothing trains: the objective is the parameter count and a made-up error from it
and the architecture's fingerprint, which falls with size so the front spans the
cost axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
import pytest
from optuna.samplers import BaseSampler, RandomSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase, MultiObjectiveSamplerTestCase
from optuna.trial import TrialState

from optuna_nas import NB201Space, create_study
from optuna_nas.encoding import Architecture
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler
from optuna_nas.objectives import count_params
from optuna_nas.search import TrialArchitectures
from optuna_nas.storage import keys
from optuna_nas.tnd import TNDSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = NB201Space(channels=4, cells=1)  # single channels and cells: TND-NAS can search it
METRICS = ["error", "params"]
N_INITIAL = 4
TRIALS = N_INITIAL + 4
# Small EPD fits keep NAO fast; the algorithm is the same.
NAO_FAST = dict(max_steps=40, n_unlabelled=50, n_candidates=30)


@dataclass(frozen=True)
class Case:
    """One sampler of ours, as the contract builds and inspects it."""

    name: str
    make: Callable[..., BaseSampler]
    """``(seed=..., **options) -> a new sampler of SPACE``; options: ``fallback_sampler``
    and, for claiming samplers, ``cheap_objectives``."""
    n_initial: int | None
    """Random trials before the model chooses; ``None``: all (nothing steers it here)."""
    mark: str
    """The system attr of the trials the model chose (not the random phase)."""
    claims: bool
    """Claims each architecture in storage, so none is evaluated twice."""


CASES = [
    Case(
        "lemonade",
        lambda **kw: LemonadeSampler(SPACE, n_initial=N_INITIAL, **kw),
        N_INITIAL,
        keys.PARENT_TRIAL,
        claims=True,
    ),
    Case(
        "nao",
        lambda **kw: NAOSampler(SPACE, n_initial=N_INITIAL, **NAO_FAST, **kw),
        N_INITIAL,
        keys.NAO_PREDICTED,
        claims=True,
    ),
    # TND-NAS's sampler draws from the α a TNDSearch publishes; no search runs here.
    Case("tnd", lambda **kw: TNDSampler(SPACE, **kw), None, keys.TND_SETTING, claims=False),
]
CLAIMING = [case for case in CASES if case.claims]


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request) -> Case:
    return request.param


@pytest.fixture(params=CLAIMING, ids=lambda case: case.name)
def claiming(request) -> Case:
    return request.param


class TestOptunaBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self, case):
        return lambda: case.make(seed=0)


class TestOptunaMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self, case):
        return lambda: case.make(seed=0)


class _RecordingFallback(RandomSampler):
    """A random sampler that records which params it was asked for."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.asked: list[str] = []

    def sample_independent(self, study, trial, param_name, param_distribution):
        self.asked.append(param_name)
        return super().sample_independent(study, trial, param_name, param_distribution)


def _errorish(arch: Architecture) -> float:
    return float(1.0 / np.log(count_params(arch)) + 0.01 * (int(arch.fingerprint, 16) % 7))


def _objective(trial: optuna.Trial) -> tuple[float, int]:
    arch = SPACE.suggest(trial)
    return _errorish(arch), count_params(arch)


def _study(sampler, n_trials, storage=None, study_name=None) -> optuna.Study:
    study = create_study(METRICS, sampler=sampler, storage=storage, study_name=study_name)
    study.optimize(_objective, n_trials=n_trials)
    return study


def _fingerprints(trials) -> list[str]:
    return [SPACE.from_params(t.params).fingerprint for t in trials]


# ---------------------------------------------------------------------- every sampler
def test_every_architecture_is_valid_and_sampled_whole(case):
    fallback = _RecordingFallback(seed=0)
    study = _study(case.make(seed=0, fallback_sampler=fallback), TRIALS)
    distributions = SPACE.distributions()
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE
        arch = SPACE.from_params(trial.params)  # raises for a param outside its choices
        assert arch in SPACE
        assert {name: trial.distributions[name] for name in distributions} == distributions
    # Every space param came from the sampler's proposal: an invalid one would have
    # been replaced by a fallback draw.
    assert fallback.asked == []
    if case.claims:
        fingerprints = _fingerprints(study.trials)
        assert [t.system_attrs[keys.CLAIM] for t in study.trials] == fingerprints
        assert len(set(fingerprints)) == TRIALS


def test_params_outside_the_space_go_to_the_fallback_sampler(case):
    fallback = _RecordingFallback(seed=0)
    study = create_study(METRICS, sampler=case.make(seed=0, fallback_sampler=fallback))
    study.optimize(
        lambda t: (t.suggest_float("lr", 1e-3, 1.0, log=True), count_params(SPACE.suggest(t))),
        n_trials=TRIALS,
    )
    assert fallback.asked == ["lr"] * TRIALS
    lrs = [t.params["lr"] for t in study.trials]
    assert all(1e-3 <= lr <= 1.0 for lr in lrs) and len(set(lrs)) == TRIALS
    if case.n_initial is not None:  # also once the model chooses the architectures
        assert case.mark in study.trials[-1].system_attrs


def test_the_random_phase_comes_first(case):
    study = _study(case.make(seed=1), TRIALS)
    marked = [case.mark in t.system_attrs for t in study.trials]
    n_random = TRIALS if case.n_initial is None else case.n_initial
    assert marked == [False] * n_random + [True] * (TRIALS - n_random)


def test_the_same_seed_gives_the_same_search(case):
    searches = [[t.params for t in _study(case.make(seed=7), TRIALS).trials] for _ in range(2)]
    assert searches[0] == searches[1]
    other = _study(case.make(seed=8), TRIALS)
    assert [t.params for t in other.trials] != searches[0]


# ---------------------------------------------------------- samplers that claim archs
def test_a_new_sampler_continues_from_storage(claiming, tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    _study(claiming.make(seed=2), TRIALS, storage, "s")
    # Another worker, or the same script after a restart: no state but storage.
    study = optuna.load_study(study_name="s", storage=storage, sampler=claiming.make(seed=3))
    study.optimize(_objective, n_trials=3)
    assert all(claiming.mark in t.system_attrs for t in study.trials[TRIALS:])
    assert len(set(_fingerprints(study.trials))) == TRIALS + 3


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask and tell, not optimize
def test_two_samplers_asking_at_once_never_share_an_architecture(claiming, tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    study1 = _study(claiming.make(seed=0), 0, storage, "s")
    study2 = optuna.load_study(study_name="s", storage=storage, sampler=claiming.make(seed=1))
    rounds = 6
    for _ in range(rounds):
        # Both trials are running before either samples: the second sees only a claim.
        trials = [study1.ask(), study2.ask()]
        archs = [SPACE.suggest(t) for t in trials]
        for study, trial, arch in zip((study1, study2), trials, archs, strict=True):
            study.tell(trial, (_errorish(arch), count_params(arch)))
    done = study1.trials
    fingerprints = _fingerprints(done)
    assert len(set(fingerprints)) == len(done) == 2 * rounds
    assert [t.system_attrs[keys.CLAIM] for t in done] == fingerprints
    model_rounds = rounds - N_INITIAL // 2
    assert sum(claiming.mark in t.system_attrs for t in done) == 2 * model_rounds


def test_a_candidate_another_sampler_claims_meanwhile_is_given_up(claiming, monkeypatch):
    storage = optuna.storages.InMemoryStorage()
    name = _study(claiming.make(seed=0), TRIALS, storage).study_name
    failed = []
    claim = TrialArchitectures.claim

    def recording_claim(study, trial, arch):
        if not (claimed := claim(study, trial, arch)):
            failed.append(arch)
        return claimed

    monkeypatch.setattr(TrialArchitectures, "claim", staticmethod(recording_claim))
    other = []

    def params(arch):
        # Sampler 2 samples while sampler 1 scores its candidates: sampler 1's view of
        # the taken architectures is then out of date, as in a race between processes.
        if not other:
            study2 = optuna.load_study(study_name=name, storage=storage,
                                       sampler=claiming.make(seed=5))  # fmt: skip
            other.append(study2.ask())
            other.append(SPACE.suggest(other[0]))
        return count_params(arch)

    # The same seed and storage: sampler 1's first choice is the one sampler 2 claimed.
    study1 = optuna.load_study(study_name=name, storage=storage,
                               sampler=claiming.make(seed=5, cheap_objectives={"params": params}))  # fmt: skip
    trial = study1.ask()
    arch = SPACE.suggest(trial)
    assert failed == [other[1]]  # the race happened, and sampler 1 gave way
    assert arch != other[1]
    for t, a in ((trial, arch), (other[0], other[1])):
        assert storage.get_trial_system_attrs(t._trial_id)[keys.CLAIM] == a.fingerprint
