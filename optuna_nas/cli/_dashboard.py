from __future__ import annotations

import argparse
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas.cli._recorded import is_ours, open_existing_storage, recorded_artifact_dirs
from optuna_nas.storage import study_id
from optuna_nas.workers import hide_password

HOST = "127.0.0.1"
"""The dashboard is never exposed beyond this machine; reach it remotely through SSH."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser opens many requests at once


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def run_dashboard(args: argparse.Namespace) -> int:
    """Serve optuna-dashboard for the storage (and the weights) on 127.0.0.1 until Ctrl-C."""
    from optuna_dashboard import wsgi

    storage = open_existing_storage(args.storage)
    studies = optuna.get_all_study_summaries(storage)
    if not studies:
        raise ValueError(
            f"no study in {hide_password(args.storage)}; run 'optuna-nas search' first."
        )
    directory = args.artifact_dir or _artifact_dir(storage)
    store = None if directory is None else FileSystemArtifactStore(directory)
    _update_reports(storage, studies, store)
    app = wsgi(storage, artifact_store=store)
    try:
        server = make_server(HOST, args.port, app, _Server, handler_class=_QuietHandler)
    except OSError as exc:
        raise ValueError(
            f"cannot listen on {HOST}:{args.port} ({exc.strerror}); pick another --port."
        ) from None
    if directory is not None:
        print(f"weights and pictures from {directory}", flush=True)
    url = f"http://{HOST}:{server.server_port}"
    print(f"optuna-dashboard on {url}/dashboard (Ctrl-C to stop)", flush=True)
    for study in studies:
        print(f"  {study.study_name}: {url}/dashboard/studies/{study_id(study)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _update_reports(
    storage: optuna.storages.BaseStorage,
    studies: list[optuna.study.StudySummary],
    store: FileSystemArtifactStore | None,
) -> None:
    """Bring each optuna-nas study's report up to date; plain Optuna studies are left alone.

    Trials finished since the last report (other workers', a stopped search's) get their
    notes, and the plots are redrawn. Not without the artifact directory: a note is
    written once, and one written here would lack its picture for good.
    """
    from optuna_nas.report import save_study_report

    if store is None:
        return
    for summary in studies:
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        if not is_ours(study):
            continue
        try:
            save_study_report(study, store)
        except (OSError, optuna.exceptions.StorageInternalError) as exc:
            # The report is an extra: a read-only storage or artifact directory still gets served.
            print(f"study {study.study_name}: report not updated ({exc}); showing what is "
                  "stored.", file=sys.stderr)  # fmt: skip


def _artifact_dir(storage: optuna.storages.BaseStorage) -> str | None:
    """The artifact directory the searches recorded (the first of several), else ./artifacts."""
    recorded = recorded_artifact_dirs(storage)
    found = [d for d in recorded if os.path.isdir(d)]
    if len(found) > 1:
        print(f"the searches recorded several artifact directories {found}; showing the weights "
              f"in {found[0]!r} (pass --artifact-dir for another).", file=sys.stderr)  # fmt: skip
    if found:
        return found[0]
    if os.path.isdir("artifacts"):
        return "artifacts"
    why = (
        f"the recorded {recorded} do not exist here"
        if recorded
        else "none recorded, no ./artifacts"
    )
    print(f"no artifact directory ({why}): weights and pictures not shown; pass --artifact-dir "
          "DIR.", file=sys.stderr)  # fmt: skip
    return None
