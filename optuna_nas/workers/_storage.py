"""Storage URLs for shared studies: RDB or a Redis journal, each with a heartbeat."""

from __future__ import annotations

import importlib.util
import warnings
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback

from optuna_nas.storage import HeartbeatJournalStorage

# URL scheme -> (module the driver imports, how to install it).
_DRIVERS = {
    "postgresql+psycopg2": ("psycopg2", "pip install 'optuna-nas[postgres]'"),
    "postgresql+psycopg": ("psycopg", "pip install 'psycopg[binary]'"),
    "mysql+pymysql": ("pymysql", "pip install 'optuna-nas[mysql]'"),
    "mysql+mysqldb": ("MySQLdb", "pip install mysqlclient"),
    "redis": ("redis", "pip install 'optuna-nas[redis]'"),
    "rediss": ("redis", "pip install 'optuna-nas[redis]'"),
}
# SQLAlchemy's default drivers (psycopg 3, MySQLdb) are not the ones our extras install.
_DEFAULT_DRIVERS = {"postgresql": ("psycopg", "psycopg2"), "mysql": ("MySQLdb", "pymysql")}
_URL_FORMS = (
    "sqlite:///file.db, postgresql://user:password@host:5432/db, "
    "mysql://user:password@host:3306/db or redis://host:6379/0"
)


def storage_from_url(
    url: str,
    *,
    heartbeat_interval: int = 60,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> optuna.storages.BaseStorage:
    """Open the Optuna storage of a URL, checking that it is reachable.

    Every storage gets a heartbeat: a trial whose worker stops beating for
    ``grace_period`` seconds (a killed process, a lost machine) becomes FAIL when
    another worker next looks, and a copy of it — same params, same lineage system
    attrs — is queued again (:class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`).
    RDB storages (``sqlite:``, ``postgresql://``, ``mysql://``) keep it in the
    database. ``redis://`` URLs open a :class:`~optuna.storages.JournalStorage` on a
    Redis backend, the same storage ``optuna-dashboard redis://...`` reads
    (``?prefix=NAME`` keeps several journals in one Redis database); Optuna has no
    heartbeat for journals, so ours records each beat in the journal
    (:class:`~optuna_nas.storage.HeartbeatJournalStorage`), and a trial is stale once a watching worker has seen no new
    beat for ``grace_period`` seconds of its own clock (no clocks are compared).

    Parameters
    ----------
    url:
        The storage URL. ``mysql://`` uses PyMySQL when MySQLdb is not installed.
    heartbeat_interval:
        Seconds between heartbeats of a running trial.
    grace_period:
        Seconds without a heartbeat after which a trial is stale (default ``2 *
        heartbeat_interval``).
    max_retry:
        How often a stale trial is queued again (``None``: without limit).

    Raises
    ------
    ValueError
        For an unsupported URL, a missing database driver (naming the extra to
        install), or a server that cannot be reached; the message names the URL
        (password hidden) and the fix.
    """
    shown = hide_password(url)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in _DEFAULT_DRIVERS:
        default, ours = _DEFAULT_DRIVERS[scheme]
        driver = default if importlib.util.find_spec(default) else ours
        url, scheme = f"{scheme}+{driver.lower()}{url[len(scheme) :]}", f"{scheme}+{driver.lower()}"
    module, install = _DRIVERS.get(scheme, (None, None))
    if module is not None and importlib.util.find_spec(module) is None:
        raise ValueError(f"storage {shown} needs the Python package {module!r}: {install}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if scheme in ("redis", "rediss"):
                return _redis_journal(url, heartbeat_interval, grace_period, max_retry)
            if scheme == "sqlite" or scheme.startswith(("postgresql", "mysql")):
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},  # survive a database restart
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry),
                )
    except Exception as exc:  # SQLAlchemy and redis raise many kinds for a bad URL or server
        reason = str(exc.__cause__ or exc).strip().splitlines()[0].rstrip(".")
        fix = (
            "check that the file's directory exists and is writable"
            if scheme == "sqlite"
            else "check that the server is running and reachable, and the URL's host, port, "
            "user, password and database"
        )
        raise ValueError(f"cannot open storage {shown}: {reason}; {fix}.") from None
    raise ValueError(f"unsupported storage URL {shown!r}; use {_URL_FORMS}.")


def _redis_journal(
    url: str, heartbeat_interval: int, grace_period: int | None, max_retry: int | None
) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalRedisBackend

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", [""])[0]
    url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    backend = JournalRedisBackend(url, prefix=prefix)
    return HeartbeatJournalStorage(backend, heartbeat_interval=heartbeat_interval,
                                   grace_period=grace_period,
                                   heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry))  # fmt: skip


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
