"""Where studies live: URLs (SQLite, PostgreSQL), Optuna's RDB storage set up for many workers,
what keeps it going through a database outage, locks held in the database, SQLite files.

Imports Optuna and SQLAlchemy, `sweeper.study` for the attribute names; never MLflow (an import
contract checks it).
"""
