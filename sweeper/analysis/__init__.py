"""Read-only views of a finished or running study: the report (plots, leaderboard CSV, logged to
the parent run) and the parameter-matched comparison (deep vs shallow, dropout).

May import study, storage and tracking; never training, nor the sweep (which imports it).
"""
