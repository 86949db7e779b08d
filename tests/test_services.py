"""The service fixtures give real, isolated PostgreSQL databases and a real MLflow server."""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlalchemy

from tests.fixtures.services import PostgresCluster


def test_postgres_url_is_an_empty_database_of_its_own(postgres_url: str) -> None:
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:
        assert sqlalchemy.inspect(connection).get_table_names() == []
        connection.exec_driver_sql("CREATE TABLE t (x int)")
        connection.exec_driver_sql("INSERT INTO t VALUES (42)")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT x FROM t").scalar() == 42
        name = connection.exec_driver_sql("SELECT current_database()").scalar()
    engine.dispose()
    assert name is not None and name.startswith("sweeper_test_")


def test_own_cluster_stops_and_starts_keeping_its_data(
    own_postgres_cluster: PostgresCluster,
) -> None:
    conninfo = own_postgres_cluster.url.replace("+psycopg", "")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("CREATE TABLE t (x int)")
        connection.execute("INSERT INTO t VALUES (7)")

    own_postgres_cluster.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conninfo, connect_timeout=3)
    own_postgres_cluster.start()

    with psycopg.connect(conninfo) as connection:
        assert connection.execute("SELECT x FROM t").fetchone() == (7,)


def test_mlflow_server_answers_on_loopback_and_tracks_runs(mlflow_server: str) -> None:
    from mlflow import MlflowClient

    assert urlsplit(mlflow_server).hostname == "127.0.0.1"
    with urllib.request.urlopen(f"{mlflow_server}/health", timeout=5) as response:
        assert response.read() == b"OK"
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.create_experiment("fixture-check")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "val_acc", 0.5, step=1)
    client.set_terminated(run.info.run_id)
    finished = client.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.metrics == {"val_acc": 0.5}
