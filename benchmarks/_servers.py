"""The database servers that shared-study benchmarks and tests use, and throwaway studies.

One home for both: ``tests/servers.py`` adds the skip-or-fail check of a server that
is down; ``benchmarks.fault_tolerance`` uses the servers as they are.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import optuna

URLS = {
    "postgresql": os.environ.get("OPTUNA_NAS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("OPTUNA_NAS_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
    "redis": os.environ.get("OPTUNA_NAS_TEST_REDIS", "redis://127.0.0.1:6379/0"),
}  # fmt: skip


@contextlib.contextmanager
def throwaway_study(kind: str, prefix: str) -> Iterator[tuple[str, str]]:
    """``(url, study_name)`` of a fresh study on the ``kind`` server, deleted afterwards.

    On Redis the study gets a journal of its own (a key prefix), whose keys go too.
    """
    url, name = URLS[kind], f"{prefix}-{uuid.uuid4().hex[:12]}"
    if kind == "redis":
        url = f"{url}?prefix={name}"
    try:
        yield url, name
    finally:
        if kind == "redis":
            import redis

            client = redis.Redis.from_url(URLS["redis"])
            if keys := list(client.scan_iter(f"{name}:*")):
                client.delete(*keys)
        else:
            from optuna_nas.workers import storage_from_url

            storage = storage_from_url(url)
            if name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
                optuna.delete_study(study_name=name, storage=storage)
