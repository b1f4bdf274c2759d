"""Business metrics for the admin panel, computed set-based in SQL from subscriptions, plans,
users, instances, deployments and usage: MRR and ARR, subscriptions by plan, monthly churn,
sign-ups and trial conversion, template popularity, gross margin (Railway cost against
revenue) per workspace and per template, and unit economics: CAC per month and channel
(acquisition spend against new paying workspaces), ARPU, LTV, LTV:CAC and payback
(`UnitEconomics` states the formulas).

Subscriptions become "paying spans" (the `spans` CTE) so any moment can be asked about:

- only paid plans count (price > 0), and never `incomplete` subscriptions that never paid;
- a span starts when the trial ends (or at creation without a trial; a `trialing` one
  without a trial end has not started);
- it ends never while the subscription is active, past_due or trialing; at the period end
  when it was cancelled at period end; otherwise when it was cancelled (or last updated,
  when Stripe gave no cancel time);
- a yearly plan counts a twelfth of its price per month.

MRR at a moment is the sum of the monthly prices of the spans covering it (current plan
prices: there is no price history). A customer is a workspace. Monthly churn is the share
of workspaces paying at the start of a month that no longer pay at its end (or now, for the
current month). Money is integer cents; all months are calendar months in UTC.

Every function takes `now`, so tests (and reports for a past date) can fix the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import text
from sqlalchemy.orm import Session

from railsaas.billing.usage import month_of
from railsaas.models.billing import SUBSCRIPTION_IN_MRR
from railsaas.models.instance import ACTIVE as ACTIVE_STATUSES

# SQL lists of the model's status sets (constants, never input).
IN_MRR = ", ".join(f"'{status}'" for status in SUBSCRIPTION_IN_MRR)

SPANS = f"""
spans AS (
    SELECT * FROM (
    SELECT s.id, s.tenant_id, s.plan_id,
           CASE p.interval WHEN 'year' THEN p.price_cents / 12.0
                ELSE p.price_cents::numeric END AS monthly_cents,
           CASE WHEN s.status = 'trialing' THEN coalesce(s.trial_end, 'infinity')
                WHEN s.trial_end > s.created_at THEN s.trial_end
                ELSE s.created_at END AS started,
           CASE WHEN s.status IN ({IN_MRR}) THEN NULL
                WHEN s.cancel_at_period_end AND s.current_period_end IS NOT NULL
                     THEN s.current_period_end
                ELSE coalesce(s.canceled_at, s.updated_at) END AS ended
    FROM subscriptions s
    JOIN plans p ON p.id = s.plan_id
    WHERE s.status NOT IN ('incomplete', 'incomplete_expired') AND p.price_cents > 0
    ) span WHERE ended IS NULL OR ended > started  -- cancelled in the trial: never paid
)"""

# Calendar months (UTC) ending with the one holding :now; `point` is where a month is
# measured: its end, or :now for the current month.
MONTHS = """
months AS (
    SELECT m AS m_start, m + interval '1 month' AS m_end,
           least(m + interval '1 month', CAST(:now AS timestamptz)) AS point
    FROM generate_series(date_trunc('month', CAST(:now AS timestamptz), 'UTC')
                             - (CAST(:months AS int) - 1) * interval '1 month',
                         date_trunc('month', CAST(:now AS timestamptz), 'UTC'),
                         interval '1 month') AS m
)"""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _month(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _cents(value) -> int:
    return int(Decimal(value or 0).quantize(Decimal(1)))


# --- revenue ----------------------------------------------------------------------------------


def mrr(session: Session, now: datetime | None = None) -> int:
    """Monthly recurring revenue now, in cents."""
    sql = (
        "WITH "
        + SPANS
        + """
        SELECT coalesce(sum(monthly_cents), 0) FROM spans
        WHERE started <= :now AND (ended IS NULL OR ended > :now)"""
    )
    return _cents(session.execute(text(sql), {"now": _now(now)}).scalar())


@dataclass(frozen=True)
class MonthValue:
    month: date
    value: int


def mrr_series(session: Session, months: int = 12, now: datetime | None = None) -> list[MonthValue]:
    """MRR at the end of each of the last `months` months (now for the current one)."""
    return [MonthValue(m.month, m.mrr_cents) for m in monthly(session, months, now)]


@dataclass(frozen=True)
class PlanCount:
    plan: str
    active: int
    trialing: int
    past_due: int
    mrr_cents: int

    @property
    def total(self) -> int:
        return self.active + self.trialing + self.past_due


def subscriptions_by_plan(session: Session) -> list[PlanCount]:
    """Live subscriptions by plan and status, with each plan's share of MRR."""
    rows = session.execute(
        text(f"""
        SELECT coalesce(p.name, s.plan_name) AS plan,
               count(*) FILTER (WHERE s.status = 'active'),
               count(*) FILTER (WHERE s.status = 'trialing'),
               count(*) FILTER (WHERE s.status = 'past_due'),
               coalesce(sum(CASE p.interval WHEN 'year' THEN p.price_cents / 12.0
                                 ELSE p.price_cents END)
                        FILTER (WHERE s.status IN ('active', 'past_due')), 0)
        FROM subscriptions s LEFT JOIN plans p ON p.id = s.plan_id
        WHERE s.status IN ({IN_MRR})
        GROUP BY 1 ORDER BY 5 DESC, 1""")
    ).all()
    return [PlanCount(plan, a, t, pd, _cents(m)) for plan, a, t, pd, m in rows]


# --- customers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnMonth:
    month: date
    customers: int  # paying workspaces at the start of the month
    churned: int  # of those, not paying at its end (or now)

    @property
    def rate(self) -> float | None:
        return self.churned / self.customers if self.customers else None


def churn_series(
    session: Session, months: int = 12, now: datetime | None = None
) -> list[ChurnMonth]:
    return [m.churn for m in monthly(session, months, now)]


def signups_series(
    session: Session, months: int = 12, now: datetime | None = None
) -> list[MonthValue]:
    """New users per month."""
    return [MonthValue(m.month, m.signups) for m in monthly(session, months, now)]


@dataclass(frozen=True)
class TrialMonth:
    month: date
    ended: int  # trials that ended in the month (up to now)
    converted: int  # of those, still paying after the trial

    @property
    def rate(self) -> float | None:
        return self.converted / self.ended if self.ended else None


def trial_conversion_series(
    session: Session, months: int = 12, now: datetime | None = None
) -> list[TrialMonth]:
    """Trials by the month they ended, and how many became paying subscriptions."""
    return [m.trials for m in monthly(session, months, now)]


# --- every monthly figure at once ------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    """One calendar month's figures (the current one measured now)."""

    month: date
    mrr_cents: int  # MRR at the month's end
    paying: int  # paying workspaces at the month's end
    customers: int  # paying workspaces at its start
    churned: int  # of those, not paying at its end
    signups: int  # new users
    trials_ended: int
    trials_converted: int

    @property
    def churn(self) -> ChurnMonth:
        return ChurnMonth(self.month, self.customers, self.churned)

    @property
    def trials(self) -> TrialMonth:
        return TrialMonth(self.month, self.trials_ended, self.trials_converted)


def monthly(session: Session, months: int = 12, now: datetime | None = None) -> list[Month]:
    """MRR, paying workspaces, churn, sign-ups and trial conversion for each of the last
    `months` months, in one query (the admin page would otherwise ask five times)."""
    sql = (
        "WITH "
        + SPANS
        + ","
        + MONTHS
        + """,
        revenue AS (
            SELECT mo.m_start, coalesce(sum(s.monthly_cents), 0) AS mrr,
                   count(DISTINCT s.tenant_id) AS paying
            FROM months mo
            LEFT JOIN spans s ON s.started <= mo.point
                             AND (s.ended IS NULL OR s.ended > mo.point)
            GROUP BY mo.m_start),
        at_start AS (
            SELECT DISTINCT mo.m_start, s.tenant_id FROM months mo
            JOIN spans s ON s.started <= mo.m_start
                        AND (s.ended IS NULL OR s.ended > mo.m_start)),
        at_point AS (
            SELECT DISTINCT mo.m_start, s.tenant_id FROM months mo
            JOIN spans s ON s.started <= mo.point AND (s.ended IS NULL OR s.ended > mo.point)),
        churn AS (
            SELECT mo.m_start, count(st.tenant_id) AS customers,
                   count(st.tenant_id) FILTER (WHERE ap.tenant_id IS NULL) AS churned
            FROM months mo
            LEFT JOIN at_start st ON st.m_start = mo.m_start
            LEFT JOIN at_point ap ON ap.m_start = st.m_start AND ap.tenant_id = st.tenant_id
            GROUP BY mo.m_start),
        signups AS (
            SELECT mo.m_start, count(u.id) AS n FROM months mo
            LEFT JOIN users u ON u.created_at >= mo.m_start AND u.created_at < mo.m_end
                             AND u.created_at <= CAST(:now AS timestamptz)
            GROUP BY mo.m_start),
        trials AS (
            SELECT s.id, s.trial_end, sp.id IS NOT NULL
                   AND (sp.ended IS NULL OR sp.ended > s.trial_end) AS converted
            FROM subscriptions s LEFT JOIN spans sp ON sp.id = s.id
            WHERE s.trial_end IS NOT NULL AND s.trial_end > s.created_at
              AND s.trial_end <= CAST(:now AS timestamptz)),
        trial_months AS (
            SELECT mo.m_start, count(t.id) AS ended,
                   count(t.id) FILTER (WHERE t.converted) AS converted
            FROM months mo
            LEFT JOIN trials t ON t.trial_end >= mo.m_start AND t.trial_end < mo.m_end
            GROUP BY mo.m_start)
        SELECT mo.m_start, r.mrr, r.paying, c.customers, c.churned, su.n, tm.ended, tm.converted
        FROM months mo
        JOIN revenue r ON r.m_start = mo.m_start
        JOIN churn c ON c.m_start = mo.m_start
        JOIN signups su ON su.m_start = mo.m_start
        JOIN trial_months tm ON tm.m_start = mo.m_start
        ORDER BY mo.m_start"""
    )
    rows = session.execute(text(sql), {"now": _now(now), "months": months}).all()
    return [
        Month(_month(m), _cents(mrr_), paying, customers, churned, signups, ended, conv)
        for m, mrr_, paying, customers, churned, signups, ended, conv in rows
    ]


# --- templates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplatePopularity:
    template: str
    deploys: int  # new deploys in the window
    active: int  # instances active now
    total: int  # instances not deleted


def template_popularity(
    session: Session, days: int = 30, now: datetime | None = None
) -> list[TemplatePopularity]:
    rows = session.execute(
        text("""
        WITH d AS (
            SELECT i.template_id, count(*) AS deploys
            FROM deployments dep JOIN instances i ON i.id = dep.instance_id
            WHERE dep.kind = 'deploy'
              AND dep.created_at > CAST(:now AS timestamptz) - CAST(:days AS int) * interval '1 day'
              AND dep.created_at <= CAST(:now AS timestamptz)
            GROUP BY i.template_id),
        i AS (
            SELECT template_id, count(*) FILTER (WHERE status = ANY(:active)) AS active,
                   count(*) AS total
            FROM instances WHERE status <> 'deleted' GROUP BY template_id)
        SELECT t.name, coalesce(d.deploys, 0), coalesce(i.active, 0), coalesce(i.total, 0)
        FROM templates t
        LEFT JOIN d ON d.template_id = t.id
        LEFT JOIN i ON i.template_id = t.id
        WHERE t.is_active OR i.total > 0 OR d.deploys > 0
        ORDER BY 3 DESC, 2 DESC, 1"""),
        {"now": _now(now), "days": days, "active": sorted(ACTIVE_STATUSES)},
    ).all()
    return [TemplatePopularity(*r) for r in rows]


# --- gross margin -----------------------------------------------------------------------------

# Per workspace and month: Railway cost of its usage (billing's daily roll-up), the
# subscription fee if it paid at any time in the month, and usage billed beyond the plan's
# included usage, marked up.
WORKSPACE_MONTH = """
usage_cost AS (
    SELECT date_trunc('month', CAST(r.day AS timestamp)) AT TIME ZONE 'UTC' AS m_start,
           r.tenant_id, r.instance_id, sum(r.cost_cents) AS cost
    FROM usage_rollups r
    WHERE r.day >= CAST((SELECT min(m_start) FROM months) AT TIME ZONE 'UTC' AS date)
      AND r.day <= CAST((SELECT max(point) FROM months) AT TIME ZONE 'UTC' AS date)
    GROUP BY 1, 2, 3),
ws_cost AS (
    SELECT m_start, tenant_id, sum(cost) AS cost FROM usage_cost GROUP BY 1, 2),
ws_fee AS (
    SELECT mo.m_start, s.tenant_id, sum(s.monthly_cents) AS fee
    FROM months mo JOIN spans s ON s.started < mo.point
                               AND (s.ended IS NULL OR s.ended > mo.m_start)
    GROUP BY 1, 2),
ws AS (
    SELECT coalesce(c.m_start, f.m_start) AS m_start,
           coalesce(c.tenant_id, f.tenant_id) AS tenant_id,
           coalesce(c.cost, 0) AS cost, coalesce(f.fee, 0) AS fee
    FROM ws_cost c FULL JOIN ws_fee f ON f.m_start = c.m_start AND f.tenant_id = c.tenant_id),
ws_rev AS (
    SELECT ws.m_start, ws.tenant_id, ws.cost, ws.fee,
           greatest(0, ws.cost * (100 + CAST(:markup AS int)) / 100.0
                       - coalesce(p.included_usage_cents, 0)) AS usage_rev
    FROM ws JOIN tenants t ON t.id = ws.tenant_id LEFT JOIN plans p ON p.id = t.plan_id)"""


@dataclass(frozen=True)
class Margin:
    label: str
    revenue_cents: int
    cost_cents: int

    @property
    def margin_cents(self) -> int:
        return self.revenue_cents - self.cost_cents

    @property
    def margin_rate(self) -> float | None:
        return self.margin_cents / self.revenue_cents if self.revenue_cents else None


@dataclass(frozen=True)
class MonthMargin:
    month: date
    revenue_cents: int
    cost_cents: int

    @property
    def margin_cents(self) -> int:
        return self.revenue_cents - self.cost_cents


def _markup() -> int:
    return int(current_app.config["USAGE_MARKUP_PERCENT"])


def margin_series(
    session: Session, months: int = 6, now: datetime | None = None
) -> list[MonthMargin]:
    """Revenue (fees + usage billed) against Railway cost, per month."""
    sql = (
        "WITH "
        + SPANS
        + ","
        + MONTHS
        + ","
        + WORKSPACE_MONTH
        + """
        SELECT mo.m_start, coalesce(sum(w.fee + w.usage_rev), 0), coalesce(sum(w.cost), 0)
        FROM months mo LEFT JOIN ws_rev w ON w.m_start = mo.m_start
        GROUP BY mo.m_start ORDER BY mo.m_start"""
    )
    rows = session.execute(
        text(sql), {"now": _now(now), "months": months, "markup": _markup()}
    ).all()
    return [MonthMargin(_month(m), _cents(r), _cents(c)) for m, r, c in rows]


def margin_by_workspace(
    session: Session, now: datetime | None = None, limit: int = 50
) -> list[Margin]:
    """This month's revenue and cost per workspace, lowest margin first (the ones to look
    at)."""
    sql = (
        "WITH "
        + SPANS
        + ","
        + MONTHS
        + ","
        + WORKSPACE_MONTH
        + """
        SELECT t.name, w.fee + w.usage_rev, w.cost
        FROM ws_rev w JOIN tenants t ON t.id = w.tenant_id
        WHERE w.m_start = (SELECT max(m_start) FROM months)
        ORDER BY (w.fee + w.usage_rev - w.cost), t.name
        LIMIT :limit"""
    )
    rows = session.execute(
        text(sql), {"now": _now(now), "months": 1, "limit": limit, "markup": _markup()}
    ).all()
    return [Margin(name, _cents(r), _cents(c)) for name, r, c in rows]


def margin_by_template(session: Session, now: datetime | None = None) -> list[Margin]:
    """This month's revenue and cost per template. Each workspace's fee is shared equally
    among the instances it had during the month; its usage revenue follows each instance's
    share of its cost. So a template whose instances cost more than their share of fees
    earns shows a thin or negative margin."""
    period = month_of(_now(now))
    sql = (
        "WITH "
        + SPANS
        + ","
        + MONTHS
        + ","
        + WORKSPACE_MONTH
        + """,
        live AS (
            SELECT i.id, i.tenant_id, i.template_id FROM instances i
            WHERE i.created_at < :period_end
              AND (i.deleted_at IS NULL OR i.deleted_at >= :period_start)),
        per_ws AS (SELECT tenant_id, count(*) AS n FROM live GROUP BY tenant_id),
        per_instance AS (
            SELECT l.template_id, coalesce(uc.cost, 0) AS cost,
                   coalesce(w.fee, 0) / pw.n
                   + CASE WHEN w.cost > 0 THEN w.usage_rev * coalesce(uc.cost, 0) / w.cost
                          ELSE 0 END AS revenue
            FROM live l
            JOIN per_ws pw ON pw.tenant_id = l.tenant_id
            LEFT JOIN usage_cost uc ON uc.instance_id = l.id
                                   AND uc.m_start = (SELECT max(m_start) FROM months)
            LEFT JOIN ws_rev w ON w.tenant_id = l.tenant_id
                              AND w.m_start = (SELECT max(m_start) FROM months))
        SELECT t.name, sum(pi.revenue), sum(pi.cost)
        FROM per_instance pi JOIN templates t ON t.id = pi.template_id
        GROUP BY t.name
        ORDER BY sum(pi.revenue) - sum(pi.cost), t.name"""
    )
    rows = session.execute(
        text(sql),
        {
            "now": _now(now),
            "months": 1,
            "markup": _markup(),
            "period_start": period.start,
            "period_end": period.end,
        },
    ).all()
    return [Margin(name, _cents(r), _cents(c)) for name, r, c in rows]


# --- acquisition and unit economics ----------------------------------------------------------

# A workspace that signed up without a utm_source (or before sources were kept).
UNATTRIBUTED = "(none)"
# The headline unit economics average the last complete months (a month in progress has
# its churn and costs still to come).
TRAILING_MONTHS = 3


@dataclass(frozen=True)
class ChannelMonth:
    """Acquisition in one month through one channel."""

    month: date
    channel: str
    spend_cents: int  # acquisition spend recorded for it
    new_paying: int  # workspaces from this channel whose first paying span began in it

    @property
    def cac_cents(self) -> float | None:
        return self.spend_cents / self.new_paying if self.new_paying else None


# New paying workspaces and spend per month and channel (`channel_rows`), over `months`.
ACQUISITION = f"""
first_paid AS (
    SELECT tenant_id, min(started) AS at FROM spans
    WHERE started <= CAST(:now AS timestamptz) GROUP BY tenant_id),
won AS (
    SELECT mo.m_start, coalesce(t.utm_source, '{UNATTRIBUTED}') AS channel, count(*) AS n
    FROM months mo
    JOIN first_paid f ON f.at >= mo.m_start AND f.at < mo.point
    JOIN tenants t ON t.id = f.tenant_id
    GROUP BY 1, 2),
spent AS (
    SELECT CAST(a.month AS timestamp) AT TIME ZONE 'UTC' AS m_start, a.channel,
           sum(a.amount_cents) AS cents
    FROM acquisition_spend a
    WHERE a.month >= CAST((SELECT min(m_start) FROM months) AT TIME ZONE 'UTC' AS date)
      AND a.month <= CAST((SELECT max(m_start) FROM months) AT TIME ZONE 'UTC' AS date)
    GROUP BY 1, 2),
channel_rows AS (
    SELECT coalesce(s.m_start, w.m_start) AS m_start, coalesce(s.channel, w.channel) AS channel,
           coalesce(s.cents, 0) AS cents, coalesce(w.n, 0) AS n
    FROM spent s FULL JOIN won w ON w.m_start = s.m_start AND w.channel = s.channel)"""


def acquisition(
    session: Session, months: int = 12, now: datetime | None = None
) -> list[ChannelMonth]:
    """Spend and new paying workspaces per month and channel. A workspace is new in the
    month its first paying span began (a trial counts once it converts); its channel is its
    utm_source, matched with the spend's channel."""
    return margins_and_acquisition(session, months, now)[1]


def margins_and_acquisition(
    session: Session, months: int = 12, now: datetime | None = None
) -> tuple[list[MonthMargin], list[ChannelMonth]]:
    """`margin_series` and `acquisition` in one query (the metrics page's query budget):
    two row shapes told apart by their first column."""
    sql = (
        "WITH "
        + SPANS
        + ","
        + MONTHS
        + ","
        + WORKSPACE_MONTH
        + ","
        + ACQUISITION
        + """,
        margin_rows AS (
            SELECT mo.m_start, coalesce(sum(w.fee + w.usage_rev), 0) AS revenue,
                   coalesce(sum(w.cost), 0) AS cost
            FROM months mo LEFT JOIN ws_rev w ON w.m_start = mo.m_start
            GROUP BY mo.m_start)
        SELECT 'margin', m_start, NULL, revenue, cost FROM margin_rows
        UNION ALL
        SELECT 'channel', m_start, channel, cents, n FROM channel_rows
        ORDER BY 1, 2, 3"""
    )
    rows = session.execute(
        text(sql), {"now": _now(now), "months": months, "markup": _markup()}
    ).all()
    margins = [
        MonthMargin(_month(m), _cents(r), _cents(c))
        for kind, m, _, r, c in rows
        if kind == "margin"
    ]
    channels = [
        ChannelMonth(_month(m), channel, _cents(cents), int(n))
        for kind, m, channel, cents, n in rows
        if kind == "channel"
    ]
    return margins, channels


@dataclass(frozen=True)
class UnitEconomics:
    """CAC, ARPU, gross margin, churn and what follows from them, for a month or several
    (sums first, then ratios: a quiet month weighs less than a busy one).

    CAC = acquisition spend / new paying workspaces
    ARPU = MRR / paying workspaces (per month, at each month's end)
    gross margin = (revenue - Railway cost) / revenue (revenue: fees and usage billed)
    LTV = ARPU x gross margin / monthly churn
    payback = CAC / (ARPU x gross margin), in months"""

    months: tuple[date, ...]
    spend_cents: int
    new_paying: int
    mrr_cents: int  # summed over the months
    paying: int  # summed over the months (paying-workspace-months)
    customers: int  # paying at the months' starts, summed
    churned: int
    revenue_cents: int
    cost_cents: int

    @property
    def cac_cents(self) -> float | None:
        return self.spend_cents / self.new_paying if self.new_paying else None

    @property
    def arpu_cents(self) -> float | None:
        return self.mrr_cents / self.paying if self.paying else None

    @property
    def gross_margin(self) -> float | None:
        if not self.revenue_cents:
            return None
        return (self.revenue_cents - self.cost_cents) / self.revenue_cents

    @property
    def churn(self) -> float | None:
        return self.churned / self.customers if self.customers else None

    @property
    def monthly_margin_cents(self) -> float | None:
        """What a paying workspace leaves after Railway's cost, per month."""
        if self.arpu_cents is None or self.gross_margin is None:
            return None
        return self.arpu_cents * self.gross_margin

    @property
    def ltv_cents(self) -> float | None:
        """None without churn to divide by (no paying customer lost: LTV not yet known)."""
        if self.monthly_margin_cents is None or not self.churn:
            return None
        return self.monthly_margin_cents / self.churn

    @property
    def ltv_to_cac(self) -> float | None:
        if self.ltv_cents is None or not self.cac_cents:
            return None
        return self.ltv_cents / self.cac_cents

    @property
    def payback_months(self) -> float | None:
        if (
            self.cac_cents is None
            or not self.monthly_margin_cents
            or self.monthly_margin_cents <= 0
        ):
            return None
        return self.cac_cents / self.monthly_margin_cents


def unit_economics(
    months: list[Month], margins: list[MonthMargin], channels: list[ChannelMonth]
) -> list[UnitEconomics]:
    """Each month's unit economics from figures the page reads anyway (`monthly`,
    `margin_series`, `acquisition` over the same months): no query of its own."""
    margin_of = {m.month: m for m in margins}
    spend: dict[date, int] = {}
    won: dict[date, int] = {}
    for c in channels:
        spend[c.month] = spend.get(c.month, 0) + c.spend_cents
        won[c.month] = won.get(c.month, 0) + c.new_paying
    out = []
    for m in months:
        margin = margin_of.get(m.month)
        out.append(
            UnitEconomics(
                (m.month,),
                spend.get(m.month, 0),
                won.get(m.month, 0),
                m.mrr_cents,
                m.paying,
                m.customers,
                m.churned,
                margin.revenue_cents if margin else 0,
                margin.cost_cents if margin else 0,
            )
        )
    return out


def combined(rows: list[UnitEconomics]) -> UnitEconomics:
    """Several months as one: every count summed, the ratios taken of the sums."""
    return UnitEconomics(
        tuple(d for r in rows for d in r.months),
        *(
            sum(getattr(r, f) for r in rows)
            for f in (
                "spend_cents",
                "new_paying",
                "mrr_cents",
                "paying",
                "customers",
                "churned",
                "revenue_cents",
                "cost_cents",
            )
        ),
    )


def trailing(rows: list[UnitEconomics], count: int = TRAILING_MONTHS) -> UnitEconomics:
    """The last `count` complete months (the month in progress left out)."""
    return combined(rows[-count - 1 : -1] if len(rows) > count else rows[:-1])


# --- the page's headline numbers --------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    mrr_cents: int
    arr_cents: int
    paying_workspaces: int
    active_instances: int
    churn_last_month: float | None
    signups_this_month: int


def summary(session: Session, now: datetime | None = None) -> Summary:
    now = _now(now)
    return summary_of(monthly(session, 2, now), template_popularity(session, 30, now))


def summary_of(months: list[Month], popularity: list[TemplatePopularity]) -> Summary:
    """The headline numbers from figures the page reads anyway, with no query of its own:
    MRR, paying workspaces and sign-ups from this month (measured now), churn from the last,
    active instances from the templates' counts (every instance has a template)."""
    this = months[-1]
    last = months[-2] if len(months) > 1 else None
    return Summary(
        this.mrr_cents,
        this.mrr_cents * 12,
        this.paying,
        sum(t.active for t in popularity),
        last.churn.rate if last else None,
        this.signups,
    )
