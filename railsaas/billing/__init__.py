"""Billing: turning plans and usage into money, and holding workspaces that do not pay.

- `gateway`: the one module that talks to Stripe (stripe-python).
- `plans`: the price list admins edit; `limits`: a downgrade below the plan's limits (grace
  period, then the newest beyond them stop); `holds`: the billing hold (dunning, spend cap,
  ended subscription, an admin's suspension) and making instances agree with it, every
  evaluation; `trials`: one free trial per person, customer and card.
- `subscriptions` (Checkout, portal, plan changes, our copy of Stripe's), `stripe_events`
  (webhooks and catch-up), `dunning`, `spend_caps`, `usage` (collection, roll-up, periods,
  prices), `overage` (meter events), `costs`, `notify`.

Sits above `instances`: billing suspends, resumes and stops instances through
`instances.lifecycle`.
"""
