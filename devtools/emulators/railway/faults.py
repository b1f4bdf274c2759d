"""Fault injection: what the emulator does wrong, on purpose.

Two ways to ask for a fault:
- shares (`*_rate`, 0..1): every request draws; good for soak tests and `make dev` chaos;
- a script (`POST /_emulator/faults/next`): "the next N requests [of operation X] get
  fault F", deterministic, which is what unit tests want. Scripted faults go first.

Kinds:
- `error`: HTTP `error_status` (503) with a JSON error body (a script may set `status` and
  `message`: status 200 with a message is a GraphQL resolver error);
- `rate_limit`: HTTP 429 with `Retry-After: <retry_after>` (integer seconds);
- `timeout`: the answer comes after `timeout_seconds` (then 504), so clients time out;
- `html`: HTTP `html_status` (502) with an HTML page, like a proxy in front of Railway;
- `lose_response`: the operation RUNS (projectCreate creates the project) but the client
  gets a 504 instead of the answer. Shares apply to `lose_response_operations` only;
- `slow`: the operation RUNS and its answer comes after `seconds` (`slow_seconds`, 75 s:
  templateDeployV2 may take longer than 60 s to answer), so a client with a shorter read
  timeout loses it. Shares (`slow_rate`) apply to `lose_response_operations` only.
`latency_ms` delays every GraphQL answer. Deployment outcomes are set on the World:
`deploy_outcomes` (a queue: the next deployments end FAILED or CRASHED), `deploy_fail_rate`
and `deploy_crash_rate`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

KINDS = ("error", "rate_limit", "timeout", "html", "lose_response", "slow")


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    html_rate: float = 0.0
    html_status: int = 502
    lose_response_rate: float = 0.0
    lose_response_operations: list[str] = field(default_factory=lambda: ["ProjectCreate"])
    slow_rate: float = 0.0
    slow_seconds: float = 75.0
    # Restrict the shares above (not latency, not scripts) to these operation names.
    operations: list[str] | None = None


@dataclass
class Scripted:
    fault: str
    times: int
    operation: str | None
    params: dict[str, Any]


class Faults:
    def __init__(
        self, initial: FaultConfig | None = None, rng: random.Random | None = None
    ) -> None:
        self.lock = threading.Lock()
        self.initial = initial or FaultConfig()
        self.config = FaultConfig(**asdict(self.initial))
        self.queue: list[Scripted] = []
        self.rng = rng or random.Random()

    def reset(self) -> None:
        with self.lock:
            self.config = FaultConfig(**asdict(self.initial))
            self.queue.clear()

    def clear(self) -> None:
        with self.lock:
            self.config = FaultConfig()
            self.queue.clear()

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        with self.lock:
            for key, value in values.items():
                setattr(self.config, key, value)

    def script(
        self, fault: str, times: int = 1, operation: str | None = None, **params: Any
    ) -> None:
        if fault not in KINDS:
            raise ValueError(f"unknown fault {fault!r}; one of {KINDS}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self.lock:
            self.queue.append(Scripted(fault, int(times), operation, params))

    def pick(self, operation: str) -> tuple[str, dict[str, Any]] | None:
        """The fault for this request, if any (consumes a scripted one)."""
        with self.lock:
            for item in self.queue:
                if item.operation in (None, operation):
                    item.times -= 1
                    if item.times <= 0:
                        self.queue.remove(item)
                    return item.fault, dict(item.params)
            cfg = self.config
            if cfg.operations is not None and operation not in cfg.operations:
                return None
            draw = self.rng.random()
            for kind, rate in (
                ("error", cfg.error_rate),
                ("rate_limit", cfg.rate_limit_rate),
                ("timeout", cfg.timeout_rate),
                ("html", cfg.html_rate),
            ):
                if draw < rate:
                    return kind, {}
                draw -= rate
            if (
                operation in cfg.lose_response_operations
                and self.rng.random() < cfg.lose_response_rate
            ):
                return "lose_response", {}
            if operation in cfg.lose_response_operations and self.rng.random() < cfg.slow_rate:
                return "slow", {}
            return None

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return {**asdict(self.config), "scripted": [asdict(s) for s in self.queue]}
