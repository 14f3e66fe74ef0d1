"""The real database servers of the shared-study tests, and clean throwaway studies on them.

Tests that use a server skip when it is not listening, except in CI (``CI`` set),
where a missing server is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

import optuna
import pytest

URLS = {
    "postgresql": os.environ.get("OPTUNA_NAS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("OPTUNA_NAS_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
    "redis": os.environ.get("OPTUNA_NAS_TEST_REDIS", "redis://127.0.0.1:6379/0"),
}  # fmt: skip


def server_url(kind: str) -> str:
    """The URL of a running server of ``kind`` (skip, or in CI fail, if it is down)."""
    url = URLS[kind]
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError as exc:
        message = f"no {kind} server at {parts.hostname}:{parts.port} ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@contextmanager
def throwaway_study_url(kind: str):
    """``(url, study_name)`` for a fresh study; the study (or Redis journal) is deleted after."""
    url, name = server_url(kind), f"test-{uuid.uuid4().hex[:12]}"
    if kind == "redis":
        url = f"{url}?prefix={name}"  # a journal of its own
    try:
        yield url, name
    finally:
        if kind == "redis":
            import redis

            client = redis.Redis.from_url(URLS["redis"])
            keys = list(client.scan_iter(f"{name}:*"))
            if keys:
                client.delete(*keys)
        else:
            from optuna_nas.workers import storage_from_url

            storage = storage_from_url(url)
            if name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
                optuna.delete_study(study_name=name, storage=storage)
