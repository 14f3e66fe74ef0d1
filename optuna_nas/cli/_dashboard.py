from __future__ import annotations

import argparse
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas.workers import hide_password, storage_from_url

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

    storage = storage_from_url(args.storage)
    studies = optuna.get_all_study_summaries(storage)
    if not studies:
        raise ValueError(
            f"no study in {hide_password(args.storage)}; run 'optuna-nas search' first."
        )
    store = None
    if os.path.isdir(args.artifact_dir):
        store = FileSystemArtifactStore(args.artifact_dir)
    else:
        message = f"no artifact directory {args.artifact_dir!r}: weights and pictures not shown."
        print(message, file=sys.stderr)
    app = wsgi(storage, artifact_store=store)
    try:
        server = make_server(HOST, args.port, app, _Server, handler_class=_QuietHandler)
    except OSError as exc:
        raise ValueError(
            f"cannot listen on {HOST}:{args.port} ({exc.strerror}); pick another --port."
        ) from None
    url = f"http://{HOST}:{server.server_port}"
    print(f"optuna-dashboard on {url}/dashboard (Ctrl-C to stop)", flush=True)
    for study in studies:
        print(f"  {study.study_name}: {url}/dashboard/studies/{study._study_id}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
