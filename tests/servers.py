"""The real database servers of the shared-study tests, and clean throwaway studies on them.

Tests that use a server skip when it is not listening, except in CI (``CI`` set),
where a missing server is a failure.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

from benchmarks._servers import URLS, throwaway_study


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


def throwaway_study_url(kind: str):
    """``(url, study_name)`` for a fresh study; the study (or Redis journal) is deleted after."""
    server_url(kind)
    return throwaway_study(kind, "test")
