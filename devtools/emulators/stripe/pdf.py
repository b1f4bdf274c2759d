"""A real (if plain) PDF for `invoice_pdf` links, and the hosted pages' stylesheet.

The PDF is written by hand: one page, Helvetica, one text line per row, with a correct
cross-reference table, so any viewer opens it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CSS = """
:root { color-scheme: light; --ink: #1a1f36; --muted: #697386; --line: #e3e8ee;
  --accent: #635bff; --bad: #c0123c; --good: #0e6245; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: #f6f9fc; }
main { max-width: 960px; margin: 0 auto; padding: 1.5rem 1rem; }
.cols { display: grid; gap: 2rem; grid-template-columns: 1fr; }
@media (min-width: 760px) { .cols { grid-template-columns: 1fr 1fr; } }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1.25rem;
  margin-bottom: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; } h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
.muted { color: var(--muted); } .big { font-size: 2rem; font-weight: 600; }
label { display: block; font-size: .875rem; color: var(--muted); margin: .75rem 0 .25rem; }
input { width: 100%; padding: .6rem .7rem; font-size: 1rem; border: 1px solid var(--line);
  border-radius: 6px; }
.row { display: flex; gap: .75rem; } .row > * { flex: 1; }
button, .button { display: inline-block; margin-top: 1rem; width: 100%; padding: .75rem;
  font-size: 1rem; font-weight: 600; color: #fff; background: var(--accent); border: 0;
  border-radius: 6px; cursor: pointer; text-align: center; text-decoration: none; }
button.secondary { background: #fff; color: var(--ink); border: 1px solid var(--line); }
.error { color: var(--bad); background: #fff0f3; padding: .75rem; border-radius: 6px; }
.notice { color: var(--good); background: #efffed; padding: .75rem; border-radius: 6px; }
table { width: 100%; border-collapse: collapse; } td, th { text-align: left;
  padding: .4rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
td.amount, th.amount { text-align: right; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .8rem;
  background: var(--line); } .badge.paid, .badge.active { background: #d7f7c2; }
.badge.open, .badge.past_due, .badge.unpaid { background: #ffe0e6; }
.hint { font-size: .8rem; color: var(--muted); margin-top: 1rem; }
.plans label { display: flex; gap: .5rem; align-items: center; color: var(--ink);
  font-size: 1rem; border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; }
.plans input { width: auto; }
.testmode { background: #ffde92; text-align: center; font-size: .8rem; padding: .25rem; }
"""


def _escape(text: str) -> str:
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) / 100:,.2f} {currency.upper()}"


def _date(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") if ts else "-"


def invoice_pdf(inv: dict[str, Any]) -> bytes:
    cur = inv["currency"]
    rows = [
        (18, f"Invoice {inv['number']}"),
        (11, f"Status: {inv['status']}"),
        (11, f"Billed to: {inv.get('customer_name') or inv['customer']}"),
        (
            11,
            f"Date: {_date(inv['created'])}   Period: {_date(inv['period_start'])} - "
            f"{_date(inv['period_end'])}",
        ),
        (11, ""),
    ]
    for line in inv["lines"]["data"]:
        rows.append((10, f"{line['description'][:70]}    {_money(line['amount'], cur)}"))
    rows += [
        (11, ""),
        (11, f"Subtotal: {_money(inv['subtotal'], cur)}"),
        (11, f"Amount due: {_money(inv['amount_due'], cur)}"),
        (11, f"Amount paid: {_money(inv['amount_paid'], cur)}"),
        (9, "Stripe emulator - test mode document, not a tax invoice."),
    ]
    text, y = [], 790
    for size, line in rows:
        text.append(f"BT /F1 {size} Tf 50 {y} Td ({_escape(line)}) Tj ET")
        y -= size + 8
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
