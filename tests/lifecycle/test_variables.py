"""Template variables: the form's rules, Railway's serializedConfig, import proposals."""

from __future__ import annotations

import re

import pytest

from railsaas.catalog.variables import (
    apply_to_serialized,
    masked,
    parse_specs,
    propose_specs,
    validate_values,
)
from railsaas.errors import ValidationFailed
from tests.support.lifecycle import GHOST_CONFIG, GHOST_VARIABLES


def test_values_get_defaults_and_generated_secrets():
    specs = parse_specs(GHOST_VARIABLES)
    values = validate_values(specs, {"ADMIN_EMAIL": "ada@example.com"})
    assert values["ADMIN_EMAIL"] == "ada@example.com"
    assert values["SITE_TITLE"] == "My blog"
    assert len(values["API_KEY"]) >= 32
    again = validate_values(specs, {"ADMIN_EMAIL": "ada@example.com"})
    assert again["API_KEY"] != values["API_KEY"]


def test_bad_values_are_reported_per_field():
    specs = parse_specs(GHOST_VARIABLES)
    with pytest.raises(ValidationFailed) as exc:
        validate_values(specs, {"ADMIN_EMAIL": "not-an-email", "NOPE": "x"})
    assert set(exc.value.details) == {"variables.ADMIN_EMAIL", "variables.NOPE"}
    with pytest.raises(ValidationFailed) as exc:
        validate_values(specs, {})
    assert exc.value.details == {"variables.ADMIN_EMAIL": "Admin email is required"}


def test_admin_specs_are_validated():
    with pytest.raises(ValidationFailed) as exc:
        parse_specs(
            [
                {"name": "lower-case"},
                {"name": "OK", "pattern": "("},
                {"name": "GEN", "generate": "magic"},
            ]
        )
    assert set(exc.value.details) == {"setup_config.0", "setup_config.1", "setup_config.2"}


def test_values_are_written_into_serialized_config_without_touching_the_rest():
    specs = parse_specs(GHOST_VARIABLES)
    out = apply_to_serialized(GHOST_CONFIG, specs, {"ADMIN_EMAIL": "a@b.co", "API_KEY": "k"})
    ghost = out["services"]["svc-ghost"]
    assert ghost["variables"]["ADMIN_EMAIL"] == {
        "description": "Your login",
        "isOptional": False,
        "value": "a@b.co",
    }
    assert ghost["variables"]["API_KEY"] == {"value": "k"}  # declared nowhere: first service
    assert ghost["networking"] == GHOST_CONFIG["services"]["svc-ghost"]["networking"]
    assert "value" not in GHOST_CONFIG["services"]["svc-ghost"]["variables"]["ADMIN_EMAIL"]


def test_import_proposes_what_a_customer_fills_in():
    proposed = {p["name"]: p for p in propose_specs(GHOST_CONFIG)}
    assert set(proposed) == {"ADMIN_EMAIL", "SITE_TITLE"}
    assert proposed["ADMIN_EMAIL"]["required"] is True
    assert proposed["ADMIN_EMAIL"]["help"] == "Your login"
    assert proposed["SITE_TITLE"]["required"] is False
    assert proposed["SITE_TITLE"]["default"] == "My blog"
    parse_specs(list(proposed.values()))  # a proposal is a valid spec list


def test_secrets_are_masked_for_display():
    rows = {
        r["name"]: r
        for r in masked(parse_specs(GHOST_VARIABLES), {"API_KEY": "s3cret", "SITE_TITLE": "Blog"})
    }
    assert rows["API_KEY"]["value"] != "s3cret"
    assert rows["API_KEY"]["secret"]
    assert rows["SITE_TITLE"]["value"] == "Blog"
    assert rows["ADMIN_EMAIL"]["value"] == ""


def test_metric_charts_are_drawn_by_railsaas_charts_in_time_order():
    from railsaas.instances.insights import metric_chart

    chart = metric_chart("Memory", "MB", [(1_000, 0.5), (1_060, 1.0), (1_030, 0.25)], scale=1024)
    assert chart.svg is not None
    assert 'class="svg-chart' in chart.svg
    # the points' tooltips come in time order: 0.5, 0.25, 1.0 GB -> 512, 256, 1,024 MB
    tips = re.findall(r"<title>Memory, [^<]*: ([^<]*)</title>", chart.svg)
    assert tips == ["512", "256", "1,024"]
    assert chart.latest == "1,024 MB"
    assert metric_chart("CPU", "vCPU", []).svg is None
