"""CPU time spent by each part of a benchmark while it runs (Linux /proc): the app's gunicorn
processes, PostgreSQL's, Redis's and the load generator's, so a throughput figure comes with
where its CPU went.

    before = cpu.Usage.now({"app": app_proc.pid})
    ... run wrk under resource's RUSAGE_CHILDREN ...
    spent = cpu.Usage.now({"app": app_proc.pid}) - before   # seconds by part

A process tree (a gunicorn master and its workers) is summed by its root's pid; PostgreSQL
and Redis by process name (every backend of the server, so only meaningful on a machine
where nothing else uses them). Processes that exit between two readings take their time
with them: gunicorn workers and pooled PostgreSQL connections live for the whole run.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
BY_NAME = {"postgres": "postgres", "redis-server": "redis"}


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(name, parent pid, user + system seconds) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces; the fields after it are fixed.
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Usage:
    seconds: dict[str, float] = field(default_factory=dict)
    # The whole machine (/proc/stat, all cores): busy, idle and stolen seconds. Stolen time
    # is the hypervisor running someone else on "our" cores: a run with much of it measured
    # a smaller machine.
    machine: dict[str, float] = field(default_factory=dict)
    # Each process of each tree, by pid: how evenly a tree's processes (gunicorn workers)
    # shared the work. One worker holding every keep-alive connection leaves a core idle.
    processes: dict[int, float] = field(default_factory=dict)

    @classmethod
    def now(cls, trees: dict[str, int]) -> Usage:
        """CPU seconds so far of each tree (part -> root pid), of PostgreSQL and Redis, and of
        this process's waited-for children (the load generator)."""
        stats = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit() and (stat := _stat(pid)) is not None:
                stats[int(pid)] = stat
        part_of = {root: part for part, root in trees.items()}
        totals: dict[str, float] = {part: 0.0 for part in (*trees, *BY_NAME.values())}
        processes: dict[int, float] = {}
        for pid, (name, _, secs) in stats.items():
            in_tree = _tree_part(pid, stats, part_of)
            part = in_tree or BY_NAME.get(name)
            if part is not None:
                totals[part] += secs
            if in_tree is not None:
                processes[pid] = secs
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        totals["load generator"] = children.ru_utime + children.ru_stime
        return cls(totals, _machine(), processes)

    def __sub__(self, earlier: Usage) -> Usage:
        return Usage(
            {k: v - earlier.seconds.get(k, 0.0) for k, v in self.seconds.items()},
            {k: v - earlier.machine.get(k, 0.0) for k, v in self.machine.items()},
            {k: v - earlier.processes.get(k, 0.0) for k, v in self.processes.items()},
        )

    def process_split(self) -> list[float]:
        """The tree processes' shares of their CPU in the interval, largest first (those
        that did nothing, the gunicorn master mostly, left out)."""
        total = sum(self.processes.values())
        if not total:
            return []
        return sorted(
            (round(v / total, 2) for v in self.processes.values() if v > 0.01 * total), reverse=True
        )

    def per_request_ms(self, requests: int) -> dict[str, float]:
        return {k: round(v * 1000 / requests, 2) for k, v in self.seconds.items() if requests}

    def machine_shares(self) -> dict[str, float]:
        """Of all the cores' time in the interval: the share busy, idle and stolen."""
        total = sum(self.machine.values())
        return {k: round(v / total, 3) for k, v in self.machine.items()} if total else {}


def _machine() -> dict[str, float]:
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice (in ticks)
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return {
        "busy": (user + nice + system + irq + softirq) / TICK,
        "idle": (idle + iowait) / TICK,
        "stolen": steal / TICK,
    }


def _tree_part(pid: int, stats: dict, part_of: dict[int, str]) -> str | None:
    seen = 0
    while pid in stats and seen < 64:  # walk up to a named root (or init)
        if pid in part_of:
            return part_of[pid]
        pid, seen = stats[pid][1], seen + 1
    return part_of.get(pid)
