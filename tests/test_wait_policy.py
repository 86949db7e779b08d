"""OpenMP's wait policy: threads spin when they have the cores, sleep when they share them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.process.wait_policy import choose, usable_cores
from tests.cli import sweeper
from tests.test_run import mlflow_runs, write_study


@pytest.mark.parametrize(
    ("threads", "cores", "busy", "policy"),
    [
        (2, 2, 0.1, "ACTIVE"),  # one worker on an idle 2-core machine
        (2, 2, 0.4, "ACTIVE"),  # a shell and a browser beside it
        (2, 2, 1.0, "PASSIVE"),  # another trainer on one of the cores
        (4, 2, 0.0, "PASSIVE"),  # --workers 2 x 2 threads on 2 cores
        (8, 16, 7.0, "ACTIVE"),  # half of a big machine, the other half busy
        (8, 16, 9.0, "PASSIVE"),
    ],
)
def test_threads_spin_only_where_they_fit_on_the_free_cores(
    threads: int, cores: int, busy: float, policy: str
) -> None:
    assert choose(threads, cores, busy) == policy


def policy_in(code: str, env: dict[str, str], affinity: set[int] | None = None) -> str:
    """OMP_WAIT_POLICY in a fresh process once it has run `code`."""
    code += "; import os; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=None if affinity is None else lambda: os.sched_setaffinity(0, affinity),
    )
    return result.stdout.strip()


def test_importing_sweeper_makes_threads_sleep_unless_the_user_chose() -> None:
    assert policy_in("import sweeper", {}) == "PASSIVE"
    assert policy_in("import sweeper", {"OMP_WAIT_POLICY": "active"}) == "active"
    run_decides = "from sweeper.process.wait_policy import choose_here; choose_here(999)"
    assert policy_in(run_decides, {"OMP_WAIT_POLICY": "active"}) == "active"
    assert policy_in(run_decides, {}) == "PASSIVE"  # more threads than cores


def test_a_process_that_trained_and_now_waits_keeps_no_core_busy() -> None:
    # a notebook or a benchmark harness: torch worked on 2 threads, then the process idles
    code = (
        "import sweeper, time, torch; torch.set_num_threads(2); x = torch.randn(20_000_000)\n"
        "for _ in range(5): (x * 2).sum()\n"
        "before = time.process_time(); time.sleep(1.0); print(time.process_time() - before)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # a spinning OpenMP thread burns the whole second (measured: 1.00 s with ACTIVE, 0.00 s)
    assert float(done.stdout) < 0.5, done.stdout


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_a_core_kept_busy_by_another_process_makes_threads_sleep() -> None:
    core = {min(usable_cores())}
    busy = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        preexec_fn=lambda: os.sched_setaffinity(0, core),
    )
    try:
        # what `sweeper run` decides for one thread on a core another process spins on
        code = "from sweeper.process.wait_policy import choose_here; choose_here(1)"
        assert policy_in(code, {}, affinity=core) == "PASSIVE"
    finally:
        busy.kill()
        busy.wait()


def test_workers_that_oversubscribe_the_cores_run_torch_with_sleeping_threads(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "tiny.py", epochs=1)
    # two workers with a core's worth of threads each: twice the cores
    env = {"OMP_DISPLAY_ENV": "TRUE", "SWEEPER_THREADS": str(len(usable_cores()))}
    result = sweeper(
        "run", "tiny.py", "-n", "2", "--workers", "2", "--data", tiny_corpus, cwd=tmp_path, env=env
    )
    # what OpenMP itself read when torch loaded it in the parent
    assert set(re.findall(r"OMP_WAIT_POLICY = '(\w+)'", result.stderr)) == {"PASSIVE"}
    assert "thread(s), OMP passive" in result.stderr  # the summary line
    _, _, children = mlflow_runs(tmp_path, "tiny")
    devices = {r.data.tags["sweeper.device"] for r in children}
    assert len(children) == 2 and all(d.endswith("OMP passive") for d in devices)
