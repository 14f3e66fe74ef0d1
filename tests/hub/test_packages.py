"""The OptunaHub packages in hub/package/: layout, README, and a real study through OptunaHub.

``optunahub.load_local_module`` imports a package exactly as ``optunahub.load_module`` does
once it has downloaded it from the registry, so these tests see what a hub user gets.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import optunahub
import pytest
import yaml
from optuna.trial import TrialState
from packaging.version import Version

import optuna_nas
from benchmarks.nb201_table import NB201Table, make_objective
from benchmarks.nb201_table import create_study as table_study
from optuna_nas.storage import keys
from optuna_nas.tnd import _state

optuna.logging.set_verbosity(optuna.logging.WARNING)

REPO = Path(__file__).resolve().parents[2]
REGISTRY = REPO / "hub" / "package"
SAMPLERS = {"lemonade": "LemonadeSampler", "nao": "NAOSampler", "tnd_nas": "TNDSampler"}
FILES = {"README.md", "__init__.py", "LICENSE", "example.py", "requirements.txt"}
FRONT_MATTER = ("author", "title", "description", "tags", "optuna_versions", "license")
N_INITIAL, TRIALS = 4, 8
TINY = optuna_nas.TrainConfig(epochs=1, batch_size=64, lr=0.05)


def load(name: str):  # noqa: ANN201
    return optunahub.load_local_module(package=f"samplers/{name}", registry_root=str(REGISTRY))


def read_readme(name: str) -> tuple[dict, str]:
    text = (REGISTRY / "samplers" / name / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "the README must open with its front matter"
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def test_each_sampler_folder_has_the_files_of_a_registry_package():
    folders = {p.name for p in (REGISTRY / "samplers").iterdir() if p.is_dir()}
    assert folders == set(SAMPLERS)  # a new folder gets a row in SAMPLERS, so all tests see it
    for name in SAMPLERS:
        folder = REGISTRY / "samplers" / name
        assert name.isidentifier()  # OptunaHub imports the folder name as a module
        assert {p.name for p in folder.iterdir()} >= FILES
        requirements = (folder / "requirements.txt").read_text(encoding="utf-8").split()
        assert "optuna-nas" in requirements
        assert (folder / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


@pytest.mark.parametrize("name", SAMPLERS)
def test_the_readme_front_matter_has_what_optunahub_requires(name):
    meta, body = read_readme(name)
    for field in FRONT_MATTER:  # the registry's header check
        assert meta.get(field) not in (None, "", []), f"{field} is missing or empty"
    assert "sampler" in meta["tags"]  # required for a package under samplers/
    assert all(isinstance(tag, str) for tag in meta["tags"])
    assert all(isinstance(v, str) and Version(v) for v in meta["optuna_versions"])
    assert meta["license"] == "MIT License"  # the only license OptunaHub accepts
    assert " " in meta["title"]  # a human-readable title, not a class name
    assert "## Abstract" in body and "## APIs" in body
    assert not re.search(r"<[A-Za-z/!][^>]*>", body), "the registry strips HTML tags"
    # A published example downloads the package; a local path would break for hub users.
    assert f'optunahub.load_module("samplers/{name}")' in body
    assert "load_local_module" not in body


def _documented_signatures(body: str) -> dict[str, str]:
    apis = body.split("## APIs", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^- `(\w+)\((.*?)\)`", apis, flags=re.MULTILINE))


@pytest.mark.parametrize("name", SAMPLERS)
def test_the_readme_apis_are_the_signatures_of_the_code(name):
    module = load(name)
    documented = _documented_signatures(read_readme(name)[1])
    assert set(documented) == set(module.__all__)  # every export is documented, nothing else
    for api, params in documented.items():
        args = ast.parse(f"def f({params}): pass").body[0].args
        actual = inspect.signature(getattr(module, api)).parameters.values()
        assert [a.arg for a in args.args] == [
            p.name for p in actual if p.kind == p.POSITIONAL_OR_KEYWORD
        ], api
        assert [a.arg for a in args.kwonlyargs] == [
            p.name for p in actual if p.kind == p.KEYWORD_ONLY
        ], api
        names = [a.arg for a in args.args + args.kwonlyargs]
        defaults = [None] * (len(args.args) - len(args.defaults)) + args.defaults
        defaults += args.kw_defaults
        params_by_name = {p.name: p for p in actual}
        for arg, default in zip(names, defaults, strict=True):
            if default is not None:
                assert params_by_name[arg].default == ast.literal_eval(default), f"{api}({arg})"


@pytest.mark.parametrize(
    ("name", "options", "mark"),
    [
        ("lemonade", {}, keys.PARENT_TRIAL),
        ("nao", {"max_steps": 40, "n_unlabelled": 50, "n_candidates": 30}, keys.NAO_PREDICTED),
    ],
)
def test_a_hub_sampler_runs_a_study_on_the_nb201_table(name, options, mark):
    module = load(name)
    assert module.__name__ == f"optunahub_registry.package.samplers.{name}"
    sampler_class = getattr(module, SAMPLERS[name])
    assert sampler_class is getattr(optuna_nas, SAMPLERS[name])  # ours, not a copy
    table = NB201Table("cifar10", "model_size", seed=0)
    sampler = sampler_class(table.space, cheap_objectives={table.cost_name: table.cost},
                            n_initial=N_INITIAL, seed=0, **options)  # fmt: skip
    study = table_study(table, sampler)
    study.optimize(make_objective(table), n_trials=TRIALS)
    assert type(study.sampler) is sampler_class
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * TRIALS
    # The random phase, then trials the algorithm chose (it marks them), none repeated.
    assert not any(mark in t.system_attrs for t in study.trials[:N_INITIAL])
    assert all(mark in t.system_attrs for t in study.trials[N_INITIAL:])
    assert len({t.user_attrs["arch"] for t in study.trials}) == TRIALS


def test_tnd_nas_from_the_hub_searches_and_its_sampler_draws_from_the_learned_alpha():
    module = load("tnd_nas")
    assert module.TNDSampler is optuna_nas.TNDSampler
    assert module.TNDSearch is optuna_nas.TNDSearch
    data = optuna_nas.load_data("synthetic", train_size=256, val_size=64, test_size=64)
    space = module.NB201Space(channels=4, cells=1)
    storage = optuna.storages.InMemoryStorage()
    study = optuna_nas.create_study(["error", "params"], storage=storage, study_name="tnd")
    settings = module.trade_off_ladder(space, "params", 2, input_shape=data.input_shape)
    search = module.TNDSearch(study, space, data, settings, search_config=TINY, train_config=TINY,
                              shrink_to=(2,), samples_per_update=2, updates_per_epoch=2,
                              reward_batch_size=64, warmup_epochs=0, artifact_store=False)  # fmt: skip
    derived = search.run()
    assert all(t.state == TrialState.COMPLETE for t in derived)
    assert {s for t in derived for s in t.user_attrs[keys.TND_SETTINGS]} == {
        s.name for s in settings
    }

    worker = optuna.load_study(study_name="tnd", storage=storage,
                               sampler=module.TNDSampler(space, seed=1))  # fmt: skip
    before = len(worker.trials)
    objective = optuna_nas.NASObjective(space, data, ["error", "params"], TINY, False)
    worker.optimize(objective, n_trials=3)
    alpha = _state.published(worker)[keys.TND_ALPHA]
    for trial in worker.trials[before:]:
        assert trial.state == TrialState.COMPLETE
        setting = trial.system_attrs[keys.TND_SETTING]
        for param, op in trial.params.items():  # drawn from the shrunk space: 2 ops per edge
            assert len(alpha[setting][f"normal/{param}"]) == 2
            assert op in alpha[setting][f"normal/{param}"]


@pytest.mark.parametrize("name", SAMPLERS)
def test_without_optuna_nas_loading_says_what_to_install(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna_nas", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"run `pip install optuna-nas`"):
        load(name)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "n_trials", "expected"),
    [
        ("lemonade", 6, "6 trials, 2 of them children of the front, 2 warm-started"),
        ("nao", 12, "12 trials; the Pareto front"),
        ("tnd_nas", 1, "worker trial"),
    ],
)
def test_the_example_runs(name, n_trials, expected, tmp_path):
    example = REGISTRY / "samplers" / name / "example.py"
    # From an empty folder, so nothing it writes can land in the repository.
    done = subprocess.run(
        [sys.executable, str(example), "--n-trials", str(n_trials)],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=3600,  # a guard against a hang, not a speed requirement
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout
    assert not list(tmp_path.iterdir())
