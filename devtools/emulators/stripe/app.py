"""The emulator's HTTP face: Stripe's REST API under /v1 (form-encoded, Bearer key,
idempotency keys, expand, cursor pagination), the hosted Checkout, portal and invoice pages
a person clicks through, and JSON control endpoints under /_emulator/ for tests and demos.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, redirect, render_template, request

from devtools.emulators.stripe import forms, pdf, shapes
from devtools.emulators.stripe.account import Stripe
from devtools.emulators.stripe.base import DAY
from devtools.emulators.stripe.store import API_VERSION, ApiError, Store, new_id
from devtools.emulators.stripe.webhooks import Dispatcher

Handler = Callable[..., Any]
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#635bff"/></svg>'
)


def create_app(
    store: Store, stripe: Stripe, dispatcher: Dispatcher, api_key: str | None = None
) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.config["JSON_SORT_KEYS"] = False
    app.jinja_env.filters["money"] = _money
    app.jinja_env.filters["date"] = _date

    # --- the REST API --------------------------------------------------------------------

    def api(rule: str, methods: list[str]):
        def register(handler: Handler) -> Handler:
            def view(**ids: str):
                return _api_call(store, stripe, handler, ids, api_key)

            app.add_url_rule(rule, endpoint=f"{methods[0]} {rule}", view_func=view, methods=methods)
            return handler

        return register

    api("/v1/customers", ["POST"])(lambda p: stripe.create_customer(p))
    api("/v1/customers", ["GET"])(lambda p: stripe.list_customers(p))
    api("/v1/customers/<cid>", ["GET"])(lambda p, cid: store.get("customer", cid))
    api("/v1/customers/<cid>", ["POST"])(lambda p, cid: stripe.update_customer(cid, p))
    api("/v1/customers/<cid>", ["DELETE"])(lambda p, cid: stripe.delete_customer(cid))
    api("/v1/products", ["POST"])(lambda p: stripe.create_product(p))
    api("/v1/products", ["GET"])(lambda p: stripe.list_products(p))
    api("/v1/products/<pid>", ["GET"])(lambda p, pid: store.get("product", pid))
    api("/v1/products/<pid>", ["POST"])(lambda p, pid: stripe.update_product(pid, p))
    api("/v1/prices", ["POST"])(lambda p: stripe.create_price(p))
    api("/v1/prices", ["GET"])(lambda p: stripe.list_prices(p))
    api("/v1/prices/<pid>", ["GET"])(lambda p, pid: store.get("price", pid))
    api("/v1/prices/<pid>", ["POST"])(lambda p, pid: stripe.update_price(pid, p))
    api("/v1/payment_methods/<pid>", ["GET"])(
        lambda p, pid: store.get("payment_method", pid, "payment method")
    )
    api("/v1/checkout/sessions", ["POST"])(lambda p: stripe.create_checkout_session(p))
    api("/v1/checkout/sessions", ["GET"])(
        lambda p: store.page(
            store.all(
                "checkout.session",
                lambda s: (
                    (not p.get("customer") or s["customer"] == p["customer"])
                    and (not p.get("status") or s["status"] == p["status"])
                ),
            ),
            p,
            "/v1/checkout/sessions",
        )
    )
    api("/v1/checkout/sessions/<sid>", ["GET"])(
        lambda p, sid: store.get("checkout.session", sid, "checkout.session")
    )
    api("/v1/checkout/sessions/<sid>/expire", ["POST"])(
        lambda p, sid: stripe.expire_checkout_session(sid)
    )
    api("/v1/checkout/sessions/<sid>/line_items", ["GET"])(
        lambda p, sid: stripe._checkout_line_items(
            store.get("checkout.session", sid, "checkout.session")
        )
    )
    api("/v1/billing_portal/configurations", ["POST"])(
        lambda p: stripe.create_portal_configuration(p)
    )
    api("/v1/billing_portal/sessions", ["POST"])(lambda p: stripe.create_portal_session(p))
    api("/v1/subscriptions", ["POST"])(lambda p: stripe.create_subscription(p))
    api("/v1/subscriptions", ["GET"])(lambda p: stripe.list_subscriptions(p))
    api("/v1/subscriptions/<sid>", ["GET"])(lambda p, sid: store.get("subscription", sid))
    api("/v1/subscriptions/<sid>", ["POST"])(lambda p, sid: stripe.update_subscription(sid, p))
    api("/v1/subscriptions/<sid>", ["DELETE"])(lambda p, sid: stripe.cancel_subscription(sid, p))
    api("/v1/invoices", ["GET"])(lambda p: stripe.list_invoices(p))
    api("/v1/invoices/<iid>", ["GET"])(lambda p, iid: store.get("invoice", iid))
    api("/v1/invoices/<iid>/pay", ["POST"])(lambda p, iid: stripe.pay_invoice(iid, p))
    api("/v1/invoice_payments", ["GET"])(lambda p: stripe.list_invoice_payments(p))
    api("/v1/refunds", ["POST"])(lambda p: stripe.create_refund(p))
    api("/v1/refunds/<rid>", ["GET"])(lambda p, rid: store.get("refund", rid))
    api("/v1/payment_intents/<pid>", ["GET"])(
        lambda p, pid: store.get("payment_intent", pid, "payment_intent")
    )
    api("/v1/charges/<cid>", ["GET"])(lambda p, cid: store.get("charge", cid))
    api("/v1/billing/meters", ["POST"])(lambda p: stripe.create_meter(p))
    api("/v1/billing/meters", ["GET"])(lambda p: stripe.list_meters(p))
    api("/v1/billing/meters/<mid>", ["GET"])(
        lambda p, mid: store.get("billing.meter", mid, "billing meter")
    )
    api("/v1/billing/meters/<mid>/event_summaries", ["GET"])(
        lambda p, mid: stripe.meter_summaries(mid, p)
    )
    api("/v1/billing/meter_events", ["POST"])(lambda p: stripe.create_meter_event(p))
    api("/v1/events", ["GET"])(lambda p: stripe.list_events(p))
    api("/v1/events/<eid>", ["GET"])(lambda p, eid: store.get("event", eid))

    @app.route("/v1/<path:rest>", methods=["GET", "POST", "DELETE"])
    def unknown(rest: str):
        return _error(
            ApiError(
                404,
                f"Unrecognized request URL ({request.method}: /v1/{rest}). "
                "The Stripe emulator does not implement it.",
            )
        )

    # --- hosted pages --------------------------------------------------------------------

    @app.get("/_static/emulator.css")
    def css():
        return Response(pdf.CSS, mimetype="text/css")

    @app.get("/favicon.ico")
    def favicon():  # browsers ask for it; a 404 shows up as a console error
        return Response(FAVICON, mimetype="image/svg+xml")

    @app.route("/c/pay/<sid>", methods=["GET", "POST"])
    def checkout_page(sid: str):
        with store.lock:
            stripe.process_due(stripe.now)
            session = store.find(sid)
            if session is None or session["object"] != "checkout.session":
                abort(404)
            error, status = None, 200
            if request.method == "POST":
                f = request.form
                try:
                    stripe.complete_checkout(
                        sid,
                        f.get("card_number", ""),
                        f.get("card_expiry", ""),
                        f.get("card_cvc", ""),
                        f.get("name") or None,
                        f.get("email") or None,
                    )
                except ApiError as exc:
                    error, status = exc.message, exc.status
                else:
                    url = session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid)
                    return redirect(url, code=303)
            view = _checkout_view(store, stripe, session)
        return render_template("checkout.html", s=view, error=error, form=request.form), status

    @app.get("/p/session/<bps>")
    def portal_page(bps: str):
        with store.lock:
            stripe.process_due(stripe.now)
            view = _portal_view(store, stripe, _portal_session(store, bps))
        return render_template(
            "portal.html",
            p=view,
            error=request.args.get("error"),
            notice=request.args.get("notice"),
        )

    @app.post("/p/session/<bps>/<action>")
    def portal_action(bps: str, action: str):
        f = request.form
        with store.lock:
            stripe.process_due(stripe.now)
            session = _portal_session(store, bps)
            settings = stripe.portal_settings(session)
            try:
                notice = _portal_act(store, stripe, session, settings, action, f)
            except ApiError as exc:
                return redirect(f"/p/session/{bps}?error={_q(exc.message)}", code=303)
        return redirect(f"/p/session/{bps}?notice={_q(notice)}", code=303)

    @app.route("/i/<iid>", methods=["GET", "POST"])
    def invoice_page(iid: str):
        error, status = None, 200
        with store.lock:
            stripe.process_due(stripe.now)
            invoice = store.find(iid)
            if invoice is None or invoice["object"] != "invoice":
                abort(404)
            if request.method == "POST":
                f = request.form
                try:
                    stripe.pay_invoice_with_card(
                        iid,
                        f.get("card_number", ""),
                        f.get("card_expiry", ""),
                        f.get("card_cvc", ""),
                        f.get("name") or None,
                    )
                except ApiError as exc:
                    error, status = exc.message, exc.status
                else:
                    return redirect(f"/i/{iid}", code=303)
            view = _invoice_view(store, stripe, invoice)
        return render_template("invoice.html", inv=view, error=error), status

    @app.get("/i/<iid>/pdf")
    def invoice_pdf(iid: str):
        with store.lock:
            invoice = store.find(iid)
            if invoice is None or invoice["object"] != "invoice":
                abort(404)
            view = _invoice_view(store, stripe, invoice)
        body = pdf.invoice_pdf(view)
        return Response(
            body,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="Invoice-{view["number"]}.pdf"'},
        )

    # --- control endpoints ---------------------------------------------------------------

    def control_body() -> dict[str, Any]:
        return request.get_json(silent=True) or request.form.to_dict() or {}

    @app.get("/_emulator/health")
    def health():
        return {"ok": True, "api_version": API_VERSION}

    @app.post("/_emulator/reset")
    def reset():
        store.reset()
        dispatcher.reset()
        return {"ok": True}

    @app.get("/_emulator/clock")
    def clock():
        return {"now": stripe.now, "offset": store.clock.offset}

    @app.post("/_emulator/clock/advance")
    def advance():
        body = control_body()
        seconds = int(
            float(body.get("seconds", 0))
            + float(body.get("minutes", 0)) * 60
            + float(body.get("hours", 0)) * 3600
            + float(body.get("days", 0)) * DAY
        )
        if "to" in body:
            seconds = int(body["to"]) - stripe.now
        with store.lock:
            try:
                store.clock.advance(seconds)
            except ApiError as exc:
                return _error(exc)
            done = stripe.process_due(stripe.now)
        return {"now": stripe.now, "offset": store.clock.offset, "processed": done}

    @app.route("/_emulator/webhooks", methods=["GET", "POST"])
    def webhooks():
        if request.method == "POST":
            try:
                dispatcher.configure(**control_body())
            except (TypeError, ValueError) as exc:
                return {"error": str(exc)}, 400
        s = dispatcher.settings
        return {
            "url": s.url,
            "enabled": s.enabled,
            "duplicates": s.duplicates,
            "delay_seconds": s.delay_seconds,
            "hold": s.hold,
            "max_attempts": s.max_attempts,
            "retry_base_seconds": s.retry_base_seconds,
            "held": dispatcher.held,
        }

    @app.post("/_emulator/webhooks/release")
    def release():
        body = control_body()
        try:
            ids = dispatcher.release(body.get("order", "fifo"), body.get("seed"))
        except ValueError as exc:
            return {"error": str(exc)}, 400
        return {"released": ids}

    @app.post("/_emulator/webhooks/replay")
    def replay():
        body = control_body()
        with store.lock:
            if body.get("event_ids"):
                ids = [e for e in body["event_ids"] if store.find(e)]
            else:
                since = int(body.get("since", 0))
                etype = body.get("type")
                ids = [
                    e["id"]
                    for e in store.all("event")
                    if e["created"] >= since and (not etype or e["type"] == etype)
                ]
        return {"replayed": dispatcher.replay(ids)}

    @app.get("/_emulator/webhooks/deliveries")
    def deliveries():
        return {"deliveries": list(dispatcher.deliveries)}

    @app.post("/_emulator/webhooks/wait")
    def wait():
        idle = dispatcher.wait_idle(float(control_body().get("timeout", 10)))
        return {"idle": idle}, 200 if idle else 504

    @app.post("/_emulator/customers/<cid>/card")
    def set_card(cid: str):
        body = control_body()
        with store.lock:
            try:
                customer = store.get("customer", cid)
                pm = stripe.attach_card(
                    cid,
                    body.get("number", ""),
                    body.get("exp", "12/" + str(_year() + 5)[-2:]),
                    body.get("cvc", "123"),
                    body.get("name"),
                )
                stripe.set_default_card(customer, pm)
            except ApiError as exc:
                return _error(exc)
            return store.render(pm)

    @app.post("/_emulator/checkout/<sid>/pay")
    def pay_checkout(sid: str):
        """The hosted page's submit without the page (scripts and demo seeding)."""
        body = control_body()
        with store.lock:
            try:
                session = stripe.complete_checkout(
                    sid,
                    body.get("number", "4242424242424242"),
                    body.get("exp", "12/" + str(_year() + 5)[-2:]),
                    body.get("cvc", "123"),
                    body.get("name"),
                    body.get("email"),
                )
            except ApiError as exc:
                return _error(exc)
            return store.render(session)

    return app


# --- the API call pipeline ----------------------------------------------------------------


def _api_call(
    store: Store, stripe: Stripe, handler: Handler, ids: dict[str, str], api_key: str | None
):
    auth_error = _check_auth(api_key)
    if auth_error is not None:
        return _error(auth_error)
    try:
        version = shapes.requested_version(request.headers.get("Stripe-Version"))
    except ApiError as exc:
        return _error(exc)
    try:
        pairs = (
            request.form.items(multi=True)
            if request.method == "POST"
            else request.args.items(multi=True)
        )
        params = forms.decode(pairs)
    except forms.FormError as exc:
        return _error(ApiError(400, str(exc), param=exc.param))
    expand = [str(e) for e in forms.as_list(params, "expand")]
    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    fingerprint = hashlib.sha256(
        json.dumps([request.method, request.path, params], sort_keys=True).encode()
    ).hexdigest()
    with store.lock:
        stripe.process_due(stripe.now)
        try:
            replay = store.idempotent(key, fingerprint)
        except ApiError as exc:
            return _error(exc)
        if replay is not None:
            status, body = replay
            return _json(
                body, status, {"Idempotent-Replayed": "true", "Idempotency-Key": key or ""}
            )
        try:
            result = handler(params, **ids)
            body = (
                result
                if result.get("object") == "list" and "url" in result
                else store.render(result)
            )
            body = shapes.shape(store.expand(body, expand), version)
        except forms.FormError as exc:
            return _error(ApiError(400, str(exc), param=exc.param))
        except ApiError as exc:
            if exc.status == 402:  # Stripe keeps card errors under the key, not 400s
                store.remember(key, fingerprint, exc.status, exc.body())
            return _error(exc)
        store.remember(key, fingerprint, 200, body)
    return _json(body, 200, {"Idempotency-Key": key} if key else {})


def _check_auth(expected: str | None) -> ApiError | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:
        return ApiError(
            401,
            "You did not provide an API key. You need to provide your API key "
            "in the Authorization header, using Bearer auth (e.g. "
            "'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    valid = token.startswith(("sk_test_", "rk_test_", "sk_live_", "rk_live_"))
    if not valid or (expected and token != expected):
        return ApiError(401, f"Invalid API Key provided: {token[:8]}{'*' * 8}{token[-4:]}")
    return None


def _json(body: dict, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, indent=2), status=status, mimetype="application/json")
    response.headers["Request-Id"] = new_id("req", 14)
    response.headers["Stripe-Version"] = request.headers.get("Stripe-Version", API_VERSION)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def _error(exc: ApiError) -> Response:
    headers = {}
    if exc.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if exc.should_retry else "false"
    return _json(exc.body(), exc.status, headers)


# --- views of objects for the hosted pages -------------------------------------------------


def _money(cents: int | None, currency: str = "usd") -> str:
    cents = cents or 0
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get((currency or "").lower(), "")
    sign = "-" if cents < 0 else ""
    text = f"{abs(cents) / 100:,.2f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def _date(ts: int | None) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%B %-d, %Y")


def _year() -> int:
    return datetime.now(UTC).year


def _q(text: str) -> str:
    return quote(text, safe="")


def _checkout_view(store: Store, stripe: Stripe, session: dict) -> dict[str, Any]:
    items = stripe._checkout_line_items(session)["data"]
    customer = store.find(session["customer"]) if session["customer"] else None
    trial = session["_subscription_data"]["trial_period_days"]
    return {
        "id": session["id"],
        "status": session["status"],
        "items": items,
        "currency": session["currency"],
        "total": session["amount_total"],
        "recurring_total": sum(i["amount_total"] for i in items),
        "interval": items[0]["price"]["recurring"]["interval"] if items else "month",
        "trial_days": trial,
        "cancel_url": session["cancel_url"],
        "email": session["customer_email"] or (customer or {}).get("email") or "",
        "expired": session["status"] == "expired",
    }


def _portal_session(store: Store, bps: str) -> dict:
    session = store.find(bps)
    if session is None or session["object"] != "billing_portal.session":
        abort(404)
    return session


def _portal_view(store: Store, stripe: Stripe, session: dict) -> dict[str, Any]:
    customer = store.get("customer", session["customer"])
    settings = stripe.portal_settings(session)
    subs = []
    for sub in stripe._subscriptions_of(customer["id"]):
        rendered = store.render(sub)
        licensed = [
            it
            for it in rendered["items"]["data"]
            if it["price"]["recurring"]["usage_type"] == "licensed"
        ]
        metered = [
            it
            for it in rendered["items"]["data"]
            if it["price"]["recurring"]["usage_type"] == "metered"
        ]
        current = licensed[0] if licensed else None
        subs.append(
            {
                "id": sub["id"],
                "status": sub["status"],
                "cancel_at_period_end": sub["cancel_at_period_end"],
                "period_end": rendered["items"]["data"][0]["current_period_end"],
                "trial_end": sub["trial_end"] if sub["status"] == "trialing" else None,
                "item_id": current["id"] if current else None,
                "price": current["price"] if current else None,
                "name": stripe._price_label(current["price"]) if current else "",
                "metered": [stripe._price_label(m["price"]) for m in metered],
            }
        )
    pm_id = customer["invoice_settings"]["default_payment_method"]
    pm = store.find(pm_id) if pm_id else None
    invoices = [
        store.render(i)
        for i in reversed(store.all("invoice", lambda i: i["customer"] == customer["id"]))
    ][:24]
    options = [
        {
            "id": pr["id"],
            "name": stripe._price_label(pr),
            "amount": pr["unit_amount"],
            "currency": pr["currency"],
            "interval": pr["recurring"]["interval"],
        }
        for pr in settings["prices"]
    ]
    return {
        "id": session["id"],
        "customer": customer,
        "subscriptions": subs,
        "options": options,
        "settings": settings,
        "card": pm["card"] if pm else None,
        "invoices": invoices,
        "return_url": session["return_url"],
    }


def _portal_act(store: Store, stripe: Stripe, session: dict, settings: dict, action: str, f) -> str:
    customer = store.get("customer", session["customer"])
    if action == "payment_method":
        pm = stripe.attach_card(
            customer["id"],
            f.get("card_number", ""),
            f.get("card_expiry", ""),
            f.get("card_cvc", ""),
            f.get("name") or None,
        )
        stripe.set_default_card(customer, pm)
        for invoice in store.all(
            "invoice", lambda i: i["customer"] == customer["id"] and i["status"] == "open"
        ):
            try:  # a new card settles what is owed, as the portal offers to
                stripe.pay_invoice(invoice["id"], {"payment_method": pm["id"]})
            except ApiError:
                break
        return "Your payment method was updated."
    sub = store.get("subscription", f.get("subscription", ""))
    if sub["customer"] != customer["id"]:
        raise ApiError(404, "No such subscription.")
    if action == "update":
        if not settings["update_enabled"]:
            raise ApiError(400, "Plan changes are not enabled.")
        price_id = f.get("price", "")
        if price_id not in {p["id"] for p in settings["prices"]}:
            raise ApiError(400, "Choose one of the plans offered.")
        item_id = f.get("item", "")
        stripe.update_subscription(
            sub["id"],
            {
                "items": [{"id": item_id, "price": price_id}],
                "proration_behavior": settings["proration_behavior"],
            },
        )
        return "Your plan was updated."
    if action == "cancel":
        if not settings["cancel_enabled"]:
            raise ApiError(400, "Cancellation is not enabled.")
        if settings["cancel_mode"] == "immediately":
            stripe.cancel_subscription(sub["id"])
            return "Your plan was canceled."
        stripe.update_subscription(sub["id"], {"cancel_at_period_end": "true"})
        return "Your plan will be canceled at the end of the billing period."
    if action == "renew":
        stripe.update_subscription(sub["id"], {"cancel_at_period_end": "false"})
        return "Your plan will renew."
    abort(404)
    raise AssertionError  # unreachable: abort raises


def _invoice_view(store: Store, stripe: Stripe, invoice: dict) -> dict[str, Any]:
    rendered = store.render(invoice)
    customer = store.find(invoice["customer"]) or {}
    rendered["customer_name"] = customer.get("name") or customer.get("email") or ""
    return rendered
