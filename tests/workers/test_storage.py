import importlib.util

import optuna
import pytest
from optuna.storages import JournalStorage, RDBStorage

from optuna_nas.workers import hide_password, storage_from_url
from tests.servers import throwaway_study_url


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "redis"])
def test_every_server_url_opens_a_shared_storage(kind):
    with throwaway_study_url(kind) as (url, name):
        storage = storage_from_url(url, heartbeat_interval=5, grace_period=7)
        if kind == "redis":
            assert isinstance(storage, JournalStorage)  # no heartbeat: a journal has none
        else:
            assert isinstance(storage, RDBStorage)
            assert (storage.heartbeat_interval, storage.grace_period) == (5, 7)
            assert storage.get_heartbeat_stale_trial_callback() is not None  # stale -> retried
        study = optuna.create_study(storage=storage, study_name=name)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        # Another process opening the same URL sees the same trials.
        again = optuna.load_study(study_name=name, storage=storage_from_url(url))
        assert [t.value for t in again.trials] == [t.value for t in study.trials]


def test_an_unreachable_server_is_one_clear_error_naming_the_url_and_the_fix():
    with pytest.raises(ValueError) as error:
        storage_from_url("postgresql://me:secret@127.0.0.1:1/nas")
    message = str(error.value)
    assert "cannot open storage postgresql://me:***@127.0.0.1:1/nas" in message
    assert "secret" not in message and "check that the server is running" in message
    with pytest.raises(ValueError, match=r"mysql://root@127.0.0.1:1/x: .*refused"):
        storage_from_url("mysql://root@127.0.0.1:1/x")
    with pytest.raises(ValueError, match="cannot open storage redis://127.0.0.1:1/0"):
        storage_from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="directory exists"):
        storage_from_url("sqlite:////no/such/dir/study.db")
    with pytest.raises(ValueError, match="unsupported storage URL 'study.db'; use sqlite:///"):
        storage_from_url("study.db")


def test_a_missing_driver_names_the_package_and_the_extra(monkeypatch):
    real = importlib.util.find_spec
    absent = {"psycopg", "psycopg2", "pymysql", "MySQLdb", "redis"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n in absent else real(n, *a)
    )
    for url, hint in [
        ("postgresql://u@h/db", "pip install 'optuna-nas[postgres]'"),
        ("mysql://u@h/db", "pip install 'optuna-nas[mysql]'"),
        ("redis://h:6379/0", "pip install 'optuna-nas[redis]'"),
    ]:
        with pytest.raises(ValueError, match="needs the Python package") as error:
            storage_from_url(url)
        assert hint in str(error.value) and url in str(error.value)


def test_hide_password():
    assert hide_password("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert hide_password("sqlite:///x.db") == "sqlite:///x.db"
