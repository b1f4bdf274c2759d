"""Uptime: each running instance's public domain asked every minute from the worker, the
answers kept (raw for UPTIME_RAW_HOURS, hourly roll-ups for UPTIME_ROLLUP_DAYS), incidents
told to the workspace, and the figures the instance page and the public status page show.

- `probe`: asking one domain, politely and safely: our User-Agent, a short timeout, no
  redirects followed (3xx counts as up, so no other host is ever asked), only the domain's
  own address over https, and never a private or loopback one unless the development setting
  UPTIME_ALLOW_PRIVATE allows it (resolved first, then connected to by that address, so DNS
  cannot swap it in between).
- `monitor`: the minute's run (claim due monitors, probe with bounded concurrency outside
  any transaction, record), incidents (down for two consecutive checks: told once, and the
  recovery once), the hourly roll-up and retention. System context: these are jobs.
- `figures`: 24 h / 7 d / 30 d uptime and the latency chart of one instance, the opt-ins.
- `status_page`: the workspace's public page, read with nobody signed in.

Only the Railway domain (`instances.domain`) is checked: a custom domain is the customer's
word until its DNS is verified, and we do not record that verification (yet), so checking it
would let anyone point the checker at a host of their choosing.

Depends on `instances` (authorization of instance reads) and `platform` (notifications).
"""
