"""Screenshots of optuna-dashboard on an optuna-nas study, taken by headless Chromium.

Run: ``python -m benchmarks.dashboard_screenshot [--storage URL --study-name NAME
--artifact-dir DIR] [--out-dir benchmarks/results]``

Without ``--storage`` it first runs a small LEMONADE search (real training, a few
minutes on 2 CPU cores) into a temporary SQLite file. Then it starts ``optuna-nas
dashboard`` on 127.0.0.1 and saves the study page (with the report's hypervolume and
lineage plots) and the page of a LEMONADE child trial (with its note: cells, costs,
fidelity, parent and inheritance) as PNGs (``dashboard_study.png``,
``dashboard_trials.png``) with a short markdown note (``dashboard.md``), after
checking through the dashboard's API that the notes and the plot are there. Needs
Debian's ``chromium`` (``apt-get install -y chromium``); nothing in the package or CI does.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchmarks._report import emit, machine

# page -> (URL suffix, window height): the study page is long (our plots and picture at the end),
# the trial page starts with the note.
PAGES = {"study": ("", 3300), "trials": ("/trials?numbers={child}", 1700)}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=15000"]  # fmt: skip


def run_search(workdir: str, args: argparse.Namespace) -> tuple[str, str, str]:
    """A small LEMONADE search with lineage; returns (storage URL, study name, artifact dir)."""
    import torch
    from optuna.artifacts import FileSystemArtifactStore

    from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
    from optuna_nas.data import load_data
    from optuna_nas.lemonade import LemonadeSampler
    from optuna_nas.report import save_study_report
    from optuna_nas.workers import queue_trials, run_worker

    torch.set_num_threads(1)
    url, name, artifacts = f"sqlite:///{workdir}/study.db", "nas-nb201-demo", f"{workdir}/artifacts"
    os.makedirs(artifacts)
    space = NB201Space(channels=8, cells=1)
    data = load_data(args.dataset, train_size=args.train_size, val_size=1000, test_size=1000)
    store = FileSystemArtifactStore(artifacts)
    study = create_study(["error", "params"], storage=url, study_name=name,
                         sampler=LemonadeSampler(space, n_initial=args.n_initial, seed=0))  # fmt: skip
    queue_trials(study, args.trials)
    config = TrainConfig(epochs=args.epochs)
    objective = NASObjective(space, data, ["error", "params"], config, store)
    run_worker(study, objective, callbacks=[lambda s, t: print(f"trial {t.number} {t.values}")])
    save_study_report(study, store)
    return url, name, artifacts


def screenshot(chromium: str, url: str, path: str, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--window-size=1500,{height}",
                        f"--user-data-dir={profile}", f"--screenshot={path}", url],
                       check=True, capture_output=True, timeout=120)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", default=None, help="an existing study's storage URL")
    parser.add_argument("--study-name", default=None)
    parser.add_argument("--artifact-dir", default="artifacts")
    parser.add_argument("--trials", type=int, default=16, help="trials of the demo search")
    parser.add_argument("--dataset", default="fashion-mnist", help="dataset of the demo search")
    parser.add_argument("--n-initial", type=int, default=6, help="random trials before LEMONADE")
    parser.add_argument("--train-size", type=int, default=3000, help="training images")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial")
    parser.add_argument("--out-dir", default="benchmarks/results")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    workdir = tempfile.mkdtemp(prefix="nas-dashboard-")
    if args.storage is None:
        args.storage, args.study_name, args.artifact_dir = run_search(workdir, args)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "optuna_nas.cli", "dashboard", "--storage",
                               args.storage, "--artifact-dir", args.artifact_dir, "--port", str(port)])  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        # The dashboard first brings the report up to date (notes of unreported trials).
        studies = _wait_for(f"{base}/api/studies", timeout=600)["study_summaries"]
        study = next(s for s in studies if args.study_name in (None, s["study_name"]))
        detail = _wait_for(f"{base}/api/studies/{study['study_id']}")
        # Show a LEMONADE child (lineage in its user attrs), else the first trial.
        trials = detail["trials"]
        children = [t for t in trials if any(a["key"] == "parent_trial" for a in t["user_attrs"])]
        child = (children or trials)[0]
        checks = _check_report(detail, child)
        os.makedirs(args.out_dir, exist_ok=True)
        saved = []
        for page, (suffix, height) in PAGES.items():
            path = os.path.join(args.out_dir, f"dashboard_{page}.png")
            page_url = suffix.format(child=child["number"])
            url = f"{base}/dashboard/studies/{study['study_id']}{page_url}"
            screenshot(chromium, url, path, height)
            saved.append(f"- `{path}`: {url.replace(base, '')}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir)
    if workdir in args.storage:
        searched = (f"demo LEMONADE search: {args.trials} trials ({args.n_initial} random) on "
                    f"{args.train_size} {args.dataset} images, {args.epochs} epoch(s) each")  # fmt: skip
    else:
        searched = args.storage
    emit([
        "# optuna-dashboard on an optuna-nas study",
        "",
        f"Command: `{' '.join(['python -m benchmarks.dashboard_screenshot', *sys.argv[1:]])}`",
        f"({searched})",
        f"Machine: {machine()}; date: {datetime.date.today()}; browser: "
        f"{subprocess.run([chromium, '--version'], capture_output=True, text=True).stdout.strip()}",
        "",
        f"Study `{study['study_name']}`, served by `optuna-nas dashboard` on 127.0.0.1:",
        "",
        *saved,
        "",
        "Checked through the dashboard's API before the screenshots:",
        "",
        *checks,
    ], os.path.join(args.out_dir, "dashboard.md"))  # fmt: skip


def _check_report(detail: dict, child: dict) -> list[str]:
    """What the screenshots should show, read from the API; exits if any of it is missing."""
    from optuna_nas.report import LINEAGE_PLOT

    note = child["note"]["body"]
    notes = sum(1 for t in detail["trials"] if t["note"]["body"].startswith("### Trial"))
    plots = {p["id"]: json.loads(p["graph_object"]) for p in detail["plotly_graph_objects"]}
    if LINEAGE_PLOT not in plots or "![" not in note or notes < len(detail["trials"]):
        sys.exit(f"the report is incomplete: {notes} notes, plots {sorted(plots)}")
    lines, _, front = plots[LINEAGE_PLOT]["data"]
    heading = note.splitlines()[0].lstrip("# ")
    return [
        f"- {notes} of {len(detail['trials'])} trials have a note; trial {child['number']}'s "
        f"shows its cells picture and begins: {heading}",
        f"- lineage plot: {len(lines['x']) // 3} parent -> child edges, "
        f"{len(front['x'])} Pareto-optimal trial(s) in red",
    ]


def _wait_for(url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our server
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


if __name__ == "__main__":
    main()
