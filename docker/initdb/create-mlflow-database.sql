-- Runs once, when the postgres volume is first initialised. Optuna's study storage lives in
-- POSTGRES_DB; MLflow gets a database of its own (both keep an `alembic_version` table).
CREATE DATABASE mlflow;
