"""Pricing usage: Railway's cost marked up, rounded up to a whole cent, and never a cent more
than that because of how unit prices are stored."""

from decimal import Decimal

from railsaas.billing.usage import RAILWAY_CENTS_PER_UNIT, price_cents


def test_a_whole_vcpu_month_costs_exactly_twenty_dollars_plus_markup():
    cost = Decimal(43200) * round(RAILWAY_CENTS_PER_UNIT["CPU_USAGE"], 10)
    assert cost != 2000  # the stored unit price leaves dust
    assert price_cents(cost, 30) == 2600


def test_fractions_of_a_cent_round_up():
    assert price_cents(Decimal("0.2"), 0) == 1
    assert price_cents(Decimal("100.01"), 0) == 101
    assert price_cents(0, 30) == 0
