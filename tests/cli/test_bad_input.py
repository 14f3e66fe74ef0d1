"""Bad input to every verb: exit code 2, one line on stderr naming the flag or the problem,
never a traceback (issue 17). The matrix runs the CLI in this process (``main(argv)``);
a few cases run as real ``optuna-nas`` processes.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from optuna_nas.data import load_data

optuna.logging.set_verbosity(optuna.logging.WARNING)

STUDY = "nas-nb201-synthetic"
SEARCH = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
          "--batch-size", "64", "--val-size", "200", "--train-size", "400", "--test-size", "200",
          "--threads", "1", "--sampler", "random", "--no-progress"]  # fmt: skip
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"


def _main(argv):
    """``optuna-nas ARGV`` in this process: its exit code."""
    from optuna_nas.cli import main

    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # main returns argparse's exit code, but be sure
        return exc.code


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished search (its weights in a directory it records), resumed without repeating
    its options; a FAIL and a RUNNING trial; a plain Optuna study in the same storage."""
    root = tmp_path_factory.mktemp("searched")
    db = f"sqlite:///{root}/nas.db"
    weights = root / "weights"
    common = ["--storage", db, "--study-name", STUDY]
    assert _main(["search", *SEARCH, *common, "--artifact-dir", weights, "--n-trials", 1]) == 0
    # Resume with nothing but the study and the budget: the recorded options are used.
    assert _main(["search", *common, "--n-trials", 2, "--no-progress"]) == 0
    study = optuna.load_study(study_name=STUDY, storage=db)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert study.user_attrs["nas:search"]["dataset"] == "synthetic"
    assert study.user_attrs["nas:search"]["artifact_dir"] == str(weights)
    study.add_trial(create_trial(state=TrialState.FAIL))
    study.ask()  # RUNNING (no heartbeat: it stays RUNNING)
    tnd = optuna.create_study(study_name="tnd", storage=db)
    tnd.set_user_attr("nas:search", {"sampler": "tnd", "artifact_dir": str(weights)})
    plain = optuna.create_study(study_name="plain", storage=db)
    plain.add_trial(create_trial(value=0.5, params={"x": 0.5},
                                 distributions={"x": FloatDistribution(0, 1)}))  # fmt: skip
    artifact = study.trials[0].user_attrs["weights_artifact_id"]
    empty, corrupt = root / "empty", root / "corrupt"
    empty.mkdir()
    shutil.copytree(weights, corrupt)
    (corrupt / artifact).write_bytes(b"not the weights")
    file = root / "a-file.txt"
    file.write_text("x")
    text = root / "notes.txt"  # not an SQLite database
    text.write_text("These are notes, not a database.\n" * 20)
    (root / "empty.db").touch()  # SQLite opens it as an empty database
    return {"db": db, "study": STUDY, "root": root, "weights": weights, "empty": empty,
            "corrupt": corrupt, "file": file, "text": text, "missing": root / "missing", "artifact": artifact,
            "fail": 2, "running": 3}  # fmt: skip


S = ["--storage", "{db}", "--study-name", "{study}"]
# fmt: off
# verb, kind of bad value, arguments, what the error line must name
CASES = [
    # search: counts, sizes, fractions, seeds, seconds, lists, paths, storages
    ("search", "zero", ["--train-size", "0"], "--train-size"),
    ("search", "zero", ["--threads", "0"], "--threads"),
    ("search", "zero", ["--n-trials", "0"], "--n-trials"),
    ("search", "zero", ["--epochs", "0"], "--epochs"),
    ("search", "zero", ["--batch-size", "0"], "--batch-size"),
    ("search", "zero", ["--workers", "0"], "--workers"),
    ("search", "zero", ["--val-size", "0"], "--val-size"),
    ("search", "zero", ["--heartbeat-interval", "0"], "--heartbeat-interval"),
    ("search", "negative", ["--test-size", "-5"], "--test-size"),
    ("search", "negative", ["--seed", "-1"], "--seed"),
    ("search", "negative", ["--n-initial", "-3"], "--n-initial"),
    ("search", "negative", ["--max-retry", "-1"], "--max-retry"),
    ("search", "negative", ["--lr", "-0.1"], "--lr"),
    ("search", "negative", ["--timeout", "-1"], "--timeout"),
    ("search", "negative", ["--grace-period", "-60"], "--grace-period"),
    ("search", "nan", ["--lr", "nan"], "--lr"),
    ("search", "nan", ["--val-size", "nan"], "--val-size"),
    ("search", "nan", ["--timeout", "nan"], "--timeout"),
    ("search", "nan", ["--epochs", "nan"], "--epochs"),
    ("search", "huge", ["--seed", str(2**64)], "--seed"),
    ("search", "huge", ["--n-trials", str(10**12)], "--n-trials"),
    ("search", "huge", ["--threads", str(10**6)], "--threads"),
    ("search", "huge", ["--val-size", "1e12"], "--val-size"),
    ("search", "huge", ["--timeout", "1e400"], "--timeout"),
    ("search", "huge", ["--image-size", "100000"], "--image-size"),
    ("search", "huge", ["--channels", str(10**9)], "--channels"),
    ("search", "huge", ["--train-size", "9" * 5000], "--train-size"),
    ("search", "wrong type", ["--n-trials", "abc"], "--n-trials"),
    ("search", "wrong type", ["--epochs", "2.5"], "--epochs"),
    ("search", "wrong type", ["--val-size", "1.5"], "--val-size"),
    ("search", "wrong type", ["--channels", "a,b"], "--channels"),
    ("search", "wrong type", ["--objectives", ","], "--objectives"),
    ("search", "wrong type", ["--space", "nb999"], "--space"),
    ("search", "wrong type", ["--study-name", " "], "--study-name"),
    ("search", "path", ["--storage", "sqlite:///{missing}/x.db"], "--storage"),
    ("search", "path", ["--artifact-dir", "{file}"], "--artifact-dir"),
    ("search", "path", ["--data-root", "{file}"], "--data-root"),
    ("search", "path", ["--dataset", "imagefolder:{missing}", "--storage", "sqlite:///{root}/x.db"],
     "image folder {missing} does not exist"),
    ("search", "unreachable", ["--storage", UNREACHABLE], "cannot open storage"),
    ("search", "malformed", ["--storage", "postgres.db"], "--storage"),
    ("search", "malformed", ["--storage", "postgresql://u@h:abc/x"], "--storage"),
    ("search", "malformed", ["--storage", "redis://h:port/0"], "--storage"),
    ("search", "foreign", ["--storage", "{db}", "--study-name", "plain"], "plain Optuna study"),
    ("search", "wrong type", ["--sampler", "darts"], "--sampler"),
    # search: GPU placement and the Ray cluster (issue 21)
    ("search", "zero", ["--trials-per-gpu", "0"], "--trials-per-gpu"),
    ("search", "negative", ["--trials-per-gpu", "-2"], "--trials-per-gpu"),
    ("search", "huge", ["--trials-per-gpu", "1000"], "--trials-per-gpu"),
    ("search", "wrong type", ["--trials-per-gpu", "two"], "--trials-per-gpu"),
    ("search", "no gpu", ["--device", "cpu", "--trials-per-gpu", "2"], "--trials-per-gpu 2 needs GPUs"),
    ("search", "no gpu", ["--device", "cpu", "--workers", "3", "--trials-per-gpu", "1"],
     "--trials-per-gpu 1 needs GPUs"),
    ("search", "malformed", ["--cluster", "head:port"], "--cluster"),
    ("search", "malformed", ["--cluster", "http://head:6379"], "--cluster"),
    ("search", "malformed", ["--cluster", ""], "--cluster"),
    ("search", "unreachable", ["--cluster", "127.0.0.1:1", "--storage", UNREACHABLE],
     "cannot reach the Ray cluster at 127.0.0.1:1"),
    ("search", "path", ["--cluster", "127.0.0.1:1"], "--cluster needs a storage that every machine"),
    ("search", "tnd", ["--sampler", "tnd", "--cluster", "127.0.0.1:1"], "--cluster does not apply"),
    # search --sampler tnd (TND-NAS's own driver)
    ("search", "tnd", ["--sampler", "tnd", "--workers", "2"], "--workers does not apply"),
    ("search", "tnd", ["--sampler", "tnd", "--n-trials", "0"], "--n-trials"),
    ("search", "tnd", ["--sampler", "tnd", "--epochs", "0"], "--epochs"),
    ("search", "tnd", ["--sampler", "tnd", "--storage", UNREACHABLE], "cannot open storage"),
    ("search", "tnd", ["--sampler", "tnd", "--storage", "{db}", "--study-name", "plain"],
     "plain Optuna study"),
    # worker
    ("worker", "zero", [*S, "--threads", "0"], "--threads"),
    ("worker", "negative", [*S, "--seed", "-1"], "--seed"),
    ("worker", "nan", [*S, "--timeout", "nan"], "--timeout"),
    ("worker", "huge", [*S, "--seed", str(2**33)], "--seed"),
    ("worker", "wrong type", [*S, "--threads", "two"], "--threads"),
    ("worker", "path", ["--storage", "sqlite:///{root}/none.db"], "does not exist"),
    ("worker", "path", [*S, "--artifact-dir", "{file}"], "--artifact-dir"),
    ("worker", "unreachable", ["--storage", UNREACHABLE], "cannot open storage"),
    ("worker", "malformed", ["--storage", "mysql://[::1/x"], "--storage"),
    ("worker", "foreign", ["--storage", "{db}", "--study-name", "plain"], "was not started by"),
    ("worker", "foreign", ["--storage", "{db}", "--study-name", "none"], "no study 'none'"),
    ("worker", "foreign", ["--storage", "{db}", "--study-name", "tnd"], "TND-NAS search"),
    ("worker", "foreign", ["--storage", "{db}"], "--study-name is required"),
    # front (shows any Optuna study's front: see the test below)
    ("front", "path", [], "does not exist"),
    ("front", "path", ["--storage", "sqlite:///{missing}/x.db"], "--storage"),
    ("front", "unreachable", ["--storage", UNREACHABLE], "cannot open storage"),
    ("front", "corrupt", ["--storage", "sqlite:///{text}"], "cannot open storage"),
    ("front", "path", ["--storage", "sqlite:///{root}/empty.db"], "no study in"),
    ("front", "malformed", ["--storage", "http://example.org/db"], "--storage"),
    ("front", "wrong type", ["--storage", "{db}", "--study-name", ""], "--study-name"),
    # export
    ("export", "negative", [*S, "--trial", "-1", "--out", "o"], "--trial"),
    ("export", "nan", [*S, "--trial", "nan", "--out", "o"], "--trial"),
    ("export", "huge", [*S, "--trial", str(10**12), "--out", "o"], "--trial"),
    ("export", "huge", [*S, "--trial", "99", "--out", "o"], "has no trial 99 (its trials: 0-3)"),
    ("export", "wrong type", [*S, "--trial", "x", "--out", "o"], "--trial"),
    ("export", "wrong type", [*S, "--trial", "0", "--out", "o", "--weights", "best"], "--weights"),
    ("export", "wrong type", [*S, "--out", "o"], "--trial"),
    ("export", "path", [*S, "--trial", "0", "--out", "{file}"], "--out"),
    ("export", "path", [*S, "--trial", "0", "--out", "{file}/sub"], "--out"),
    ("export", "path", [*S, "--trial", "0", "--out", "o", "--artifact-dir", "{missing}"],
     "--artifact-dir"),
    ("export", "path", [*S, "--trial", "0", "--out", "o", "--artifact-dir", "{empty}"],
     "trial 0: its weights file {empty}/{artifact} is missing"),
    ("export", "corrupt", [*S, "--trial", "0", "--out", "o", "--artifact-dir", "{corrupt}"],
     "trial 0: its weights file {corrupt}/{artifact} is corrupt"),
    ("export", "state", [*S, "--trial", "{fail}", "--out", "o"], "is FAIL"),
    ("export", "state", [*S, "--trial", "{running}", "--out", "o"], "is RUNNING"),
    ("export", "unreachable", ["--storage", UNREACHABLE, "--trial", "0", "--out", "o"],
     "cannot open storage"),
    ("export", "malformed", ["--storage", "sqlite:", "--trial", "0", "--out", "o"], "--storage"),
    ("export", "foreign", ["--storage", "{db}", "--study-name", "plain", "--trial", "0",
                           "--out", "o"], "plain Optuna study"),
    # dashboard
    ("dashboard", "zero", ["--storage", "{db}", "--port", "0"], "--port"),
    ("dashboard", "negative", ["--storage", "{db}", "--port", "-80"], "--port"),
    ("dashboard", "nan", ["--storage", "{db}", "--port", "nan"], "--port"),
    ("dashboard", "huge", ["--storage", "{db}", "--port", "70000"], "--port"),
    ("dashboard", "wrong type", ["--storage", "{db}", "--port", "http"], "--port"),
    ("dashboard", "path", ["--storage", "{db}", "--artifact-dir", "{missing}"], "--artifact-dir"),
    ("dashboard", "path", ["--storage", "{db}", "--artifact-dir", "{file}"], "--artifact-dir"),
    ("dashboard", "path", ["--storage", "sqlite:///{root}/none.db"], "no study in"),
    ("dashboard", "unreachable", ["--storage", UNREACHABLE], "cannot open storage"),
    ("dashboard", "malformed", ["--storage", "redis://"], "--storage"),
    ("dashboard", "port in use", ["--storage", "{db}", "--port", "{busy}"], "pick another --port"),
    # retrain
    ("retrain", "zero", [*S, "--epochs", "0"], "--epochs"),
    ("retrain", "zero", [*S, "--train-size", "0"], "--train-size"),
    ("retrain", "zero", [*S, "--threads", "0"], "--threads"),
    ("retrain", "negative", [*S, "--test-size", "-5"], "--test-size"),
    ("retrain", "negative", [*S, "--trials", "-1"], "--trials"),
    ("retrain", "nan", [*S, "--epochs", "nan"], "--epochs"),
    ("retrain", "huge", [*S, "--epochs", str(10**9)], "--epochs"),
    ("retrain", "huge", [*S, "--trials", str(10**12)], "--trials"),
    ("retrain", "huge", [*S, "--trials", "0,99"], "has no trial 99"),
    ("retrain", "wrong type", [*S, "--trials", "a,b"], "--trials"),
    ("retrain", "wrong type", [*S, "--train-size", "some"], "--train-size"),
    ("retrain", "path", [*S, "--artifact-dir", "{file}"], "--artifact-dir"),
    ("retrain", "path", [*S, "--data-root", "{file}"], "--data-root"),
    ("retrain", "path", ["--storage", "sqlite:///{root}/none.db"], "does not exist"),
    ("retrain", "unreachable", ["--storage", UNREACHABLE], "cannot open storage"),
    ("retrain", "malformed", ["--storage", "postgres.db"], "--storage"),
    ("retrain", "state", [*S, "--trials", "{fail}"], "is FAIL"),
    ("retrain", "foreign", ["--storage", "{db}", "--study-name", "plain"], "plain Optuna study"),
]
# fmt: on


def _ids():
    seen: dict[str, int] = {}
    for verb, kind, _, _ in CASES:
        key = f"{verb}-{kind}"
        seen[key] = seen.get(key, 0) + 1
        yield f"{key}-{seen[key]}"


@pytest.mark.parametrize(("verb", "kind", "args", "names"), CASES, ids=list(_ids()))
def test_bad_input_is_exit_2_and_one_line_naming_it(
    searched, tmp_path, monkeypatch, capsys, verb, kind, args, names
):
    values = {**searched, "busy": 0}
    busy = None
    if kind == "port in use":
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        values["busy"] = busy.getsockname()[1]
    monkeypatch.chdir(tmp_path)  # no optuna_nas.db here: the default storage does not exist
    try:
        code = _main([verb, *(a.format(**values) for a in args)])
    finally:
        if busy is not None:
            busy.close()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[-1].startswith(f"optuna-nas {verb}: error: "), err
    assert names.format(**values) in lines[-1], err
    assert not (tmp_path / "o").exists()  # nothing was exported
    assert not (tmp_path / "optuna_nas.db").exists()  # no storage was created by mistake


def test_every_verb_is_in_the_matrix():
    from optuna_nas.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    verbs = set(sub.choices)
    assert verbs == {verb for verb, *_ in CASES}
    for verb in verbs:  # each verb: every kind of bad value that applies to it
        kinds = {kind for v, kind, *_ in CASES if v == verb}
        assert {"path", "unreachable", "malformed"} <= kinds, verb


def test_the_sampler_choices_are_the_samplers_make_sampler_knows():
    from optuna_nas.cli import build_parser
    from optuna_nas.samplers import SAMPLER_NAMES

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    (sampler,) = [a for a in sub.choices["search"]._actions if a.dest == "sampler"]
    assert set(sampler.choices) == set(SAMPLER_NAMES)


def test_export_reads_the_artifact_dir_the_search_recorded(searched, tmp_path, monkeypatch, capsys):
    # Issue 17: 'export' after 'search --artifact-dir DIR' without repeating --artifact-dir.
    monkeypatch.chdir(tmp_path)  # not where the search ran
    code = _main(["export", "--storage", searched["db"], "--study-name", STUDY, "--trial", "1",
                  "--out", "exported"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (tmp_path / "exported" / "model.pt2").is_file()
    assert (tmp_path / "exported" / "weights.safetensors").is_file()
    # An existing output directory is fine: the files are replaced.
    code = _main(["export", "--storage", searched["db"], "--study-name", STUDY, "--trial", "1",
                  "--out", "exported"])  # fmt: skip
    assert code == 0, capsys.readouterr().err


def test_the_dashboard_finds_the_artifact_dir_the_searches_recorded(
    searched, tmp_path, monkeypatch
):
    from optuna_nas.cli._dashboard import _artifact_dir
    from optuna_nas.workers import storage_from_url

    monkeypatch.chdir(tmp_path)  # no ./artifacts here
    assert _artifact_dir(storage_from_url(searched["db"])) == str(searched["weights"])


def test_front_shows_a_plain_optuna_study(searched, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _main(["front", "--storage", searched["db"], "--study-name", "plain"]) == 0
    assert "Pareto front of plain" in capsys.readouterr().out


def test_a_resumed_search_with_other_settings_names_them(searched, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = _main(["search", "--storage", searched["db"], "--study-name", STUDY, "--n-trials", "3",
                  "--epochs", "2", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--epochs was 1, now 2" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("size", "message"),
    [({"train_size": 0}, "train_size=0"), ({"test_size": -5}, "test_size=-5"),
     ({"val_size": float("nan")}, "val_size=nan"), ({"train_size": 2.5}, "train_size=2.5")],
)  # fmt: skip
def test_load_data_refuses_sizes_that_select_nothing_or_slice_backwards(size, message):
    # Issue 17: --train-size 0 trained on nothing, --test-size -5 evaluated on 9,995 images.
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        load_data("synthetic", **size)


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["search", "--dataset", "synthetic", "--train-size", "0"], "argument --train-size"),
        (["export", "--trial", "0", "--out", "{file}"], "argument --out"),
        (["front", "--storage", "postgresql://nobody@127.0.0.1:1/x"], "cannot open storage"),
    ],
    ids=["search-train-size-0", "export-out-existing-file", "front-unreachable-storage"],
)
def test_bad_input_as_a_real_process(searched, tmp_path, argv, names):
    argv = [a.format(**searched) for a in argv]
    done = subprocess.run([sys.executable, "-m", "optuna_nas.cli", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and names in lines[0], done.stderr
