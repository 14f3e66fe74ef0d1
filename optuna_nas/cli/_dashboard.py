from __future__ import annotations

import argparse
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas.cli._recorded import open_existing_storage, recorded_artifact_dirs
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
