"""A real optuna-dashboard server, started by ``optuna-nas dashboard``, on a finished search."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.report import HYPERVOLUME_PLOT, LINEAGE_PLOT, save_study_report
from optuna_nas.storage import keys, study_system_attrs
from optuna_nas.workers import queue_trials, run_worker

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A LEMONADE search with lineage (sqlite) and its artifact directory.

    The search reports after 5 trials; the 6th finishes after that (another worker's
    trial, a resumed search's), so only the dashboard can have written its note.
    """
    root = tmp_path_factory.mktemp("search")
    url = f"sqlite:///{root}/study.db"
    space = NB201Space(channels=4, cells=1)
    data = load_data("synthetic", train_size=600, val_size=200, test_size=200)
    store = FileSystemArtifactStore(str(root))
    study = create_study(["error", "params"], storage=url, study_name="nas-dash",
                         sampler=LemonadeSampler(space, n_initial=3, seed=0))  # fmt: skip
    objective = NASObjective(space, data, ["error", "params"],
                             TrainConfig(epochs=1, batch_size=64), store)  # fmt: skip
    queue_trials(study, 5)
    run_worker(study, objective)
    save_study_report(study, store)
    queue_trials(study, 6)
    run_worker(study, objective)
    return url, root, study


@pytest.fixture(scope="module")
def dashboard(finished):
    url, root, _ = finished
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "optuna_nas.cli", "dashboard", "--storage", url,
         "--artifact-dir", str(root), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    # It first brings the report up to date: slow on a busy machine.
    deadline = time.monotonic() + 600
    try:
        while True:
            try:
                _get(f"{base}/api/meta")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.2)
        yield base, port
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own server
        return response.read()


def _attrs(serialized):
    return {a["key"]: a["value"] for a in serialized["user_attrs"]}


def test_the_dashboard_listens_only_on_loopback(dashboard):
    _, port = dashboard
    listening = []
    with open("/proc/net/tcp") as table:
        lines = table.read().splitlines()[1:]
    for line in lines:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:  # 0A: LISTEN
            listening.append(local.split(":")[0])
    assert listening == ["0100007F"]  # 127.0.0.1, not 0.0.0.0


def test_the_dashboard_shows_front_names_lineage_weights_and_our_report(finished, dashboard):
    _, root, study = finished
    base, _ = dashboard
    (summary,) = json.loads(_get(f"{base}/api/studies"))["study_summaries"]
    study_id = summary["study_id"]
    detail = json.loads(_get(f"{base}/api/studies/{study_id}"))
    assert detail["name"] == "nas-dash"
    assert detail["objective_names"] == ["error", "params"]
    assert detail["directions"] == ["minimize", "minimize"]
    assert sorted(t["number"] for t in detail["best_trials"]) == sorted(
        t.number for t in study.best_trials
    )
    trials = {t["number"]: t for t in detail["trials"]}
    assert len(trials) == 6
    children = 0
    for number, trial in trials.items():
        attrs = _attrs(trial)
        assert attrs["arch_str"].startswith("nb201[C=4,N=1]") and "fingerprint" in attrs
        if "parent_trial" in attrs:  # LEMONADE's children show where they come from
            children += 1
            assert int(attrs["parent_trial"]) < number and attrs["operator"]
        # Each trial's weights are its artifact, served byte for byte.
        (weights,) = [a for a in trial["artifacts"] if a["filename"].endswith(".safetensors")]
        assert weights["artifact_id"] == attrs["weights_artifact_id"]
        served = _get(f"{base}/artifacts/{study_id}/{trial['trial_id']}/{weights['artifact_id']}")
        assert served == (root / weights["artifact_id"]).read_bytes()
    assert children >= 1
    # Our report: the hypervolume plot and the picture of the best cells.
    (plot,) = [p for p in detail["plotly_graph_objects"] if p["id"] == HYPERVOLUME_PLOT]
    figure = json.loads(plot["graph_object"])
    assert len(figure["data"][0]["y"]) == 6
    (picture,) = [a for a in detail["artifacts"] if a["filename"] == "best-cells.png"]
    assert picture["mimetype"] == "image/png"
    assert _get(f"{base}/artifacts/{study_id}/{picture['artifact_id']}").startswith(b"\x89PNG")
    # The study page itself (the single-page app) is served.
    assert b"<html" in _get(f"{base}/dashboard/studies/{study_id}").lower()


def test_the_dashboard_wrote_each_trial_a_note_with_its_cells_and_the_lineage_plot(
    finished, dashboard
):
    _, root, study = finished
    base, _ = dashboard
    (summary,) = json.loads(_get(f"{base}/api/studies"))["study_summaries"]
    study_id = summary["study_id"]
    detail = json.loads(_get(f"{base}/api/studies/{study_id}"))
    edges = []
    for trial in detail["trials"]:  # the last one's note and picture are the dashboard's
        number, attrs, note = trial["number"], _attrs(trial), trial["note"]["body"]
        assert note.startswith(f"### Trial {number}") and f"`{attrs['arch_str']}`" in note
        assert f"| FLOPs | {int(attrs['flops']):,} |" in note
        assert "- 1 epoch(s) on 600 training images" in note
        # The note shows the trial's cells picture, one of the trial's artifacts.
        (cells,) = [a for a in trial["artifacts"] if a["filename"] == f"cells-trial-{number}.png"]
        path = f"/artifacts/{study_id}/{trial['trial_id']}/{cells['artifact_id']}"
        assert f"]({path})" in note
        assert _get(f"{base}{path}") == (root / cells["artifact_id"]).read_bytes()
        if "parent_trial" in attrs:
            parent = int(attrs["parent_trial"])
            edges += [parent, number, None]
            assert f"### Trial {number}: child of [trial {parent}]" in note
            assert f"**Parent: trial {parent}**, by " in note
    assert edges
    (plot,) = [p for p in detail["plotly_graph_objects"] if p["id"] == LINEAGE_PLOT]
    lines, dominated, front = json.loads(plot["graph_object"])["data"]
    assert lines["x"] == edges
    assert sorted(front["x"]) == sorted(t["number"] for t in detail["best_trials"])


def test_notes_wait_for_the_artifact_directory_and_plain_studies_are_left_alone(tmp_path):
    from optuna_nas.cli._dashboard import _update_reports

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path}/study.db")
    ours = create_study(["error", "params"], storage=storage, study_name="ours")
    ours.set_user_attr(keys.STUDY_SPACE, "NB201Space(channels=[4], cells=[1])")
    plain = optuna.create_study(storage=storage, study_name="plain", directions=["minimize"] * 2)
    record = keys.architecture_record(NB201Space(channels=4, cells=1).sample(0), keys.FULL)
    for study in (ours, plain):
        study.add_trial(optuna.trial.create_trial(values=[0.3, 100], user_attrs=record))
    summaries = optuna.get_all_study_summaries(storage)

    def written(study):
        return [k for k in study_system_attrs(study) if k.startswith("dashboard:")]

    # Without the pictures no note: it would stay without its picture.
    _update_reports(storage, summaries, None)
    assert written(ours) == []
    _update_reports(storage, summaries, FileSystemArtifactStore(str(tmp_path)))
    assert any(k.endswith(":note_ver") for k in written(ours))
    assert any(k.startswith(keys.DASHBOARD_TRIAL_ARTIFACT) for k in written(ours))
    assert written(plain) == []


def test_dashboard_on_an_empty_storage_is_a_clear_error(tmp_path, capsys):
    from optuna_nas.cli import main

    assert main(["dashboard", "--storage", f"sqlite:///{tmp_path}/none.db"]) == 2
    assert "no study in sqlite:///" in capsys.readouterr().err
