"""Admin: the business at a glance. MRR and ARR, subscriptions by plan, monthly churn,
sign-ups and trial conversion, template popularity, Railway cost against revenue (gross
margin) per month, template and workspace, and unit economics (CAC per month and channel,
LTV, LTV:CAC, payback). Figures come from reporting.business;
charts are server-rendered SVG (railsaas.charts)."""

from __future__ import annotations

from flask import render_template

from railsaas import charts
from railsaas.blueprints.admin.blueprint import bp
from railsaas.reporting import business as mb
from railsaas.reporting import replica as reporting


def _label(month) -> str:
    return month.strftime("%b")


@bp.get("/metrics", endpoint="metrics")
def metrics_page():
    with reporting.session() as s:
        return _render(s)


def _render(s):
    # Six queries in all: every monthly series comes from one, margins and acquisition from
    # another, the headline and the unit economics from those.
    months = mb.monthly(s, 12)
    popularity = mb.template_popularity(s, 30)
    summary = mb.summary_of(months, popularity)
    mrr = [mb.MonthValue(m.month, m.mrr_cents) for m in months]
    churn = [m.churn for m in months]
    signups = [mb.MonthValue(m.month, m.signups) for m in months]
    trials = [m.trials for m in months]
    plans = mb.subscriptions_by_plan(s)
    margins, channels = mb.margins_and_acquisition(s, 12)
    margin = margins[-6:]
    by_template = mb.margin_by_template(s)
    by_workspace = mb.margin_by_workspace(s, limit=25)
    units = mb.unit_economics(months, margins, channels)
    headline = mb.trailing(units)

    months = [_label(p.month) for p in mrr]
    figures = {
        "mrr": charts.line(
            months,
            [charts.Series("MRR", [p.value for p in mrr])],
            title="MRR, last 12 months",
            fmt=charts.money,
        ),
        "churn": charts.line(
            [_label(c.month) for c in churn],
            [charts.Series("Churn", [c.rate for c in churn])],
            title="Monthly churn (share of paying workspaces lost)",
            fmt=charts.percent,
        ),
        "signups": charts.bars(
            [_label(m.month) for m in signups],
            [charts.Series("Sign-ups", [m.value for m in signups])],
            title="New sign-ups per month",
        ),
        "trials": charts.line(
            [_label(t.month) for t in trials],
            [charts.Series("Converted", [t.rate for t in trials])],
            title="Trial conversion by month the trial ended",
            fmt=charts.percent,
        ),
        "plans": charts.hbars(
            [(p.plan, p.total) for p in plans], title="Live subscriptions by plan"
        ),
        "popularity": charts.hbars(
            [(t.template, t.active) for t in popularity[:10]], title="Active instances by template"
        ),
        "margin": charts.bars(
            [_label(m.month) for m in margin],
            [
                charts.Series("Revenue", [m.revenue_cents for m in margin]),
                charts.Series("Railway cost", [m.cost_cents for m in margin]),
            ],
            title="Revenue against Railway cost, last 6 months",
            fmt=charts.money,
        ),
        "cac": charts.line(
            [_label(u.months[0]) for u in units],
            [
                charts.Series("CAC", [u.cac_cents for u in units]),
                charts.Series(
                    "Margin per workspace-month", [u.monthly_margin_cents for u in units]
                ),
            ],
            title="CAC against what a paying workspace earns a month",
            fmt=charts.money,
        ),
        "ltv_cac": charts.line(
            [_label(u.months[0]) for u in units],
            [charts.Series("LTV:CAC", [u.ltv_to_cac for u in units])],
            title="LTV:CAC by month (3 or more is healthy)",
        ),
        "channels": charts.hbars(
            _channel_totals(channels),
            title="Acquisition spend by channel, last 12 months",
            fmt=charts.money,
        ),
        "template_margin": charts.hbars(
            [(m.label, m.margin_cents) for m in by_template[:12]],
            title="Gross margin by template, this month",
            fmt=charts.money,
        ),
    }
    return render_template(
        "admin/metrics/index.html",
        summary=summary,
        figures=figures,
        mrr=mrr,
        churn=churn,
        signups=signups,
        trials=trials,
        plans=plans,
        popularity=popularity,
        margin=margin,
        by_template=by_template,
        by_workspace=by_workspace,
        label=_label,
        units=units,
        headline=headline,
        channels=channels,
        trailing_months=mb.TRAILING_MONTHS,
    )


def _channel_totals(channels) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for c in channels:
        totals[c.channel] = totals.get(c.channel, 0) + c.spend_cents
    return sorted(((k, v) for k, v in totals.items() if v), key=lambda kv: -kv[1])[:10]
