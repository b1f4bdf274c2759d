"""The alerting rules, their promtool tests, the runbooks and the Grafana dashboard agree with
one another and with the metrics the app exports.

No database or Redis: the metric families come from `railsaas.observability.metrics` (its
metric objects in the default registry, and the scrape-time collectors run on empty
readings). promtool (Debian's `prometheus` package) runs the rules' own checks; without it
those tests skip, unless REQUIRE_PROMTOOL=1 (CI) makes its absence a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from railsaas.observability import metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*_test.yml"))
DASHBOARD = ROOT / "deploy" / "grafana" / "railsaas.json"
RUNBOOKS = ROOT / "docs" / "operations.md"

# Series that come from outside the app, each named by the scrape config:
EXTERNAL_METRICS = {
    "up",  # Prometheus's own, one per scrape target (RailsaasTargetDown)
    "probe_success",  # the blackbox exporter's probe of /readyz (RailsaasReadyzFailing)
}
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_PARTS = ("**What it means.**", "**What to look at.**", "**What to do.**")


# --- helpers ----------------------------------------------------------------------------------


def alerts() -> list[dict]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.append({**rule, "_file": path.name})
    return found


def unit_tests() -> list[tuple[Path, dict]]:
    return [(path, yaml.safe_load(path.read_text())) for path in TEST_FILES]


_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (a tokenizer, not a parser: enough for the
    expressions here). Label matchers, strings, durations, label lists and Grafana variables
    are dropped first; what remains that is not a function call or keyword is a metric."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        if not m.group(2) and m.group(1) not in _KEYWORDS:
            names.add(m.group(1))
    return names


def exported_metric_names() -> set[str]:
    """Every sample name the app can expose: its metric objects (a counter `x` is exported as
    `x_total`, a histogram as `x_bucket`, `x_sum` and `x_count`) and the families the
    scrape-time collectors always describe."""
    from prometheus_client import REGISTRY

    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
        "unknown": ("",),
    }
    families = list(REGISTRY.collect())
    for collector in (metrics.InstancesCollector({}), metrics.ReadingsCollector({})):
        families.extend(collector.collect())
    return {f.name + s for f in families for s in suffixes[f.type]}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_targets() -> list[tuple[dict, dict]]:
    return [
        (panel, target) for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]


def anchor(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (lower case, punctuation dropped)."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """anchor -> the text under that heading, up to the next heading."""
    sections: dict[str, str] = {}
    current = None
    for line in RUNBOOKS.read_text().splitlines():
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            current = anchor(m.group(1))
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def promtool() -> str:
    """promtool's path; called in each test (not a fixture) so a missing one under
    REQUIRE_PROMTOOL=1 is that test's failure."""
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool is not installed (Debian: apt-get install prometheus)"
        if os.environ.get("REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"{reason}, and REQUIRE_PROMTOOL=1 requires it")
        pytest.skip(f"{reason}; REQUIRE_PROMTOOL=1 makes this a failure")
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


# --- promtool ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_accepts_the_rules(path):
    result = run(promtool(), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_the_rules_pass_their_promtool_unit_tests(path):
    result = run(promtool(), "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_example_scrape_config():
    # --syntax-only: the bearer token file exists on the Prometheus host, not here.
    result = run(promtool(), "check", "config", "--syntax-only", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_parses(tmp_path):
    """Each panel query, as a recording rule (Grafana's interval variables made concrete)."""
    rules = [
        {
            "record": f"railsaas_dashboard:panel_{panel['id']}_{target['refId']}",
            "expr": re.sub(r"\$__(rate_)?interval|\$__range", "5m", target["expr"]),
        }
        for panel, target in dashboard_targets()
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(promtool(), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- rules, unit tests, runbooks --------------------------------------------------------------


def test_each_rules_file_has_a_unit_test_file_that_loads_it():
    assert RULE_FILES, "no rules in deploy/prometheus/rules"
    tests = dict(unit_tests())
    for rules in RULE_FILES:
        test_file = PROMETHEUS / "tests" / f"{rules.stem}_test.yml"
        assert test_file in tests, f"{rules.name} has no {test_file.name}"
        loaded = {(test_file.parent / f).resolve() for f in tests[test_file]["rule_files"]}
        assert rules.resolve() in loaded, f"{test_file.name} does not load {rules.name}"


def test_every_alert_is_labelled_summarised_and_linked_to_its_runbook():
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names)), "alert names must be unique"
    for alert in alerts():
        name = alert["alert"]
        assert alert.get("labels", {}).get("severity") in SEVERITIES, name
        annotations = alert.get("annotations", {})
        assert annotations.get("summary"), f"{name} has no summary"
        assert annotations.get("runbook_url") == f"docs/operations.md#{name.lower()}", name


def test_every_alert_fires_in_one_unit_test_and_stays_silent_in_another():
    firing: set[str] = set()
    silent: set[str] = set()
    for _, content in unit_tests():
        for case in content["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - firing == set(), "alerts never seen firing"
    assert names - silent == set(), "alerts never seen silent"
    assert (firing | silent) - names == set(), "unit tests of alerts that do not exist"


def test_every_alert_has_a_runbook_that_says_what_it_means_where_to_look_and_what_to_do():
    sections = runbook_sections()
    for alert in alerts():
        name = alert["alert"]
        section = sections.get(alert["annotations"]["runbook_url"].split("#", 1)[1])
        assert section is not None, f"docs/operations.md has no section for {name}"
        for part in RUNBOOK_PARTS:
            assert part in section, f"the runbook of {name} lacks {part}"


# --- metric names -----------------------------------------------------------------------------


def test_the_metric_name_reader_skips_labels_functions_and_durations():
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{endpoint!~"ops\\\\..+"}'
        "[$__rate_interval]))) > 2.5 and on() max(b offset 1h) - c == bool 1 "
        'or absent(d{job="x"}) unless vector(0)'
    )
    assert metric_names(expr) == {"a_bucket", "b", "c", "d"}


def test_rules_tests_and_dashboard_name_only_metrics_the_app_exports():
    known = exported_metric_names() | EXTERNAL_METRICS
    used: dict[str, set[str]] = {}
    for alert in alerts():
        used[f"rule {alert['alert']}"] = metric_names(alert["expr"])
    for path, content in unit_tests():
        for case in content["tests"]:
            for series in case.get("input_series", []):
                name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", series["series"]).group(0)
                used.setdefault(f"test file {path.name}", set()).add(name)
    for panel, target in dashboard_targets():
        used.setdefault(f"panel {panel['title']!r}", set()).update(metric_names(target["expr"]))
    unknown = {where: names - known for where, names in used.items() if names - known}
    assert unknown == {}, "names the app does not export"


def test_the_dashboard_shows_every_metric_an_alert_reads():
    def family(name: str) -> str:  # a histogram's _bucket and _count are one metric
        return re.sub(r"_(bucket|count|sum|total)$", "", name)

    alerted = {family(n) for a in alerts() for n in metric_names(a["expr"])}
    shown = {family(n) for _, t in dashboard_targets() for n in metric_names(t["expr"])}
    assert alerted - shown == set()


# --- the dashboard ----------------------------------------------------------------------------


def test_the_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus():
    board = dashboard()
    assert board["title"]
    assert board["uid"]
    assert isinstance(board["schemaVersion"], int)
    assert board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= grid.keys()
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["refId"]
            assert target["datasource"]["uid"] == "${datasource}"


# --- what the app does to feed the rules (no servers) -----------------------------------------


def app_with(redis_url: str, broker_url: str | None = None):
    celery = SimpleNamespace(
        conf=SimpleNamespace(
            broker_url=broker_url or redis_url, task_default_queue="celery", task_queues=None
        )
    )
    return SimpleNamespace(config={"REDIS_URL": redis_url}, extensions={"celery": celery})


def test_redis_readings_report_the_queues_info_and_the_recorded_timestamps(
    servers, redis_conn, monkeypatch
):
    import time

    redis_conn.forget(
        "celery", metrics.BEAT_TICK_KEY, metrics.BACKUP_SUCCESS_KEY, metrics.BACKUP_FAILURE_KEY
    )
    redis_conn.rpush("celery", "m1", "m2", "m3")
    monkeypatch.setattr(metrics, "_beat_written", 0.0)
    try:
        metrics.beat_tick(redis_conn)
        metrics.backup_finished(redis_conn, ok=True, at=1000.0)
        metrics.backup_finished(redis_conn, ok=False, at=2000.0)

        readings = metrics.redis_readings(app_with(servers.redis_url))
        assert readings["redis_up"] == {("redis",): 1}
        assert readings["celery_queue_length"] == {("celery",): 3.0}
        assert readings["beat_last_tick_timestamp_seconds"] == pytest.approx(time.time(), abs=60)
        assert readings["backup_last_success_timestamp_seconds"] == 1000.0
        assert readings["backup_last_failure_timestamp_seconds"] == 2000.0
        assert readings["redis_used_memory_bytes"] > 0
        assert readings["redis_connected_clients"] >= 1
    finally:
        redis_conn.forget(
            "celery", metrics.BEAT_TICK_KEY, metrics.BACKUP_SUCCESS_KEY, metrics.BACKUP_FAILURE_KEY
        )


def test_redis_down_is_a_zero_and_leaves_its_readings_absent(servers):
    nobody = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
    readings = metrics.redis_readings(app_with(nobody))
    assert readings == {"redis_up": {("redis",): 0}}

    readings = metrics.redis_readings(app_with(servers.redis_url, nobody))
    assert readings["redis_up"] == {("redis",): 1, ("broker",): 0}
    assert "celery_queue_length" not in readings


def test_readings_are_exposed_with_their_labels_and_missing_ones_left_out():
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        metrics.ReadingsCollector(
            {"outbox_pending": 4, "redis_up": {("redis",): 1, ("broker",): 0}}
        )
    )
    text = generate_latest(registry).decode()
    assert "railsaas_outbox_pending 4.0" in text
    assert 'railsaas_redis_up{role="broker"} 0.0' in text
    assert "# TYPE railsaas_instances_stuck gauge" in text
    assert "\nrailsaas_instances_stuck " not in text  # described, but not read: no sample


def test_pool_gauges_follow_checkouts_and_the_pool_size(tmp_path):
    from prometheus_client import REGISTRY
    from sqlalchemy import create_engine

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=2, max_overflow=1)
    try:
        before = value("railsaas_db_pool_in_use")
        with engine.connect():
            assert value("railsaas_db_pool_in_use") == before + 1
            with engine.connect():
                assert value("railsaas_db_pool_in_use") == before + 2
            assert metrics.pool_capacity(engine.pool) == 3
            assert value("railsaas_db_pool_size") == sum(
                metrics.pool_capacity(p) for p in list(metrics._pools)
            )
        assert value("railsaas_db_pool_in_use") == before
    finally:
        engine.dispose()
