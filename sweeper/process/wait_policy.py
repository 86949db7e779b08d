"""OpenMP's wait policy for torch's threads: ACTIVE (a thread spins between parallel regions)
when they have cores to themselves, PASSIVE (it sleeps) when they share them.

Measured on an unloaded 2-core machine, a 5-epoch MLP 2x512 at n = 11 on 30k frames through
`sweeper.train.train`, 2 threads, three alternating runs: PASSIVE 7.9-8.3 s, ACTIVE 6.1-6.8 s.
Under load the other way round: threads spinning on cores another process needs made torch
collapse from 0.6 s to 60 s per epoch of a small MLP.

libgomp reads OMP_WAIT_POLICY once, when torch loads it, and under ACTIVE an idle thread spins
for as long as the process lives. So importing sweeper sets PASSIVE: a process that trained and
then waits (a notebook, a benchmark harness between its subprocesses) must not keep a core busy;
one such harness spun at 76% of a core for 7 minutes and slowed the script it timed fourfold.
Only `sweeper run`, whose workers train until they exit, chooses from how busy the cores are,
once it knows its workers and before it imports torch; the workers it spawns inherit that
choice. A user's OMP_WAIT_POLICY always wins. Light on purpose (no torch): sweeper/__init__
imports it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

VARIABLE = "OMP_WAIT_POLICY"
# A copy of the policy sweeper chose, set beside VARIABLE: it tells sweeper's choice, which a
# child process re-makes for itself, from the user's, which it keeps.
CHOSEN = "SWEEPER_OMP_WAIT_POLICY"
# Spinning threads may share half a core with other work: a shell, a browser, a test runner's
# own bookkeeping cost them little. A whole core's worth (another trainer) does not fit.
SLACK_CORES = 0.5
# Long enough for /proc/stat's 10 ms ticks to tell a busy core from an idle one (5 ticks each).
SAMPLE_SECONDS = 0.05


def choose(threads: int, cores: int, busy: float) -> str:
    """ACTIVE when `threads` spinning threads fit on `cores` beside `busy` cores of other work."""
    return "ACTIVE" if threads + busy <= cores + SLACK_CORES else "PASSIVE"


def usable_cores() -> set[int]:
    """The cores this process may run on: a container's or `taskset`'s share of the machine."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # no affinity on macOS
        return set(range(os.cpu_count() or 1))


def busy_cores(cores: set[int]) -> float:
    """How many of `cores` other processes keep busy now, sampled over SAMPLE_SECONDS.

    Not the load average: it decays over minutes, so right after a previous job ends the cores
    look busy for a minute, and a neighbour that has just started is not seen yet."""
    before = _cpu_ticks(cores)
    if before is None:  # no /proc/stat (macOS): the load average is what there is
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    time.sleep(SAMPLE_SECONDS)  # this process sleeps: what runs meanwhile is the others
    after = _cpu_ticks(cores)
    assert after is not None
    busy, total = after[0] - before[0], after[1] - before[1]
    return len(cores) * busy / total if total > 0 else 0.0


def _cpu_ticks(cores: set[int]) -> tuple[int, int] | None:
    """(busy, all) ticks of `cores` since boot, from /proc/stat's per-core lines."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines[1:]:
        name, *fields = line.split()
        if not name.startswith("cpu"):
            break
        if int(name.removeprefix("cpu")) in cores:
            # user nice system idle iowait irq softirq steal (guest time is inside user)
            ticks = [int(value) for value in fields[:8]]
            total += sum(ticks)
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy, total


def user_choice() -> str | None:
    """The OMP_WAIT_POLICY the user set, if any (not one sweeper chose in a parent process)."""
    value = os.environ.get(VARIABLE)
    return None if value is None or value == os.environ.get(CHOSEN) else value


def choose_here(threads: int) -> None:
    """Set the policy for `threads` torch threads in all (this process's, or the sum over the
    workers it is about to start), unless the user chose or torch has already read it."""
    if user_choice() is not None or "torch" in sys.modules:
        return
    cores = usable_cores()
    policy = choose(threads, len(cores), busy_cores(cores))
    os.environ[VARIABLE] = os.environ[CHOSEN] = policy


def passive_at_import() -> None:
    """Sleeping threads for a process that imports sweeper, unless the user chose a policy or
    this is a worker `sweeper run` spawned (it keeps the choice its parent made for all)."""
    if user_choice() is not None:
        return
    if os.environ.get("SWEEPER_WORKER_INDEX", "0") != "0" and VARIABLE in os.environ:
        return
    os.environ[VARIABLE] = os.environ[CHOSEN] = "PASSIVE"


def in_effect() -> str:
    """The policy torch's threads run with, as recorded beside each trial's device."""
    return f"OMP {os.environ.get(VARIABLE, 'default').lower()}"


def users_environ() -> dict[str, str]:
    """This process's environment without sweeper's choice: what a child that is not a sweeper
    worker should start with (a benchmark's baseline, say)."""
    env = dict(os.environ)
    if user_choice() is None:
        env.pop(VARIABLE, None)
    env.pop(CHOSEN, None)
    return env
