"""Products and prices (licensed and metered)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from devtools.emulators.stripe import forms
from devtools.emulators.stripe.base import (
    Base,
    _allowed,
)
from devtools.emulators.stripe.store import ApiError, changed, new_id


class CatalogMixin(Base):
    # === products and prices =============================================================

    def create_product(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "id",
                "name",
                "description",
                "metadata",
                "active",
                "default_price_data",
                "tax_code",
                "unit_label",
                "statement_descriptor",
            },
        )
        product = {
            "id": forms.as_str(p, "id") or new_id("prod", 14),
            "object": "product",
            "active": forms.as_bool(p, "active", True),
            "name": forms.as_str(p, "name", required=True),
            "description": forms.as_str(p, "description"),
            "metadata": forms.metadata(p),
            "created": self.now,
            "updated": self.now,
            "default_price": None,
            "unit_label": forms.as_str(p, "unit_label"),
            "livemode": False,
        }
        if self.store.find(product["id"]):
            raise ApiError(
                400, "Product already exists.", param="id", code="resource_already_exists"
            )
        self.store.add(product)
        self.store.emit("product.created", product)
        return product

    def update_product(self, pid: str, p: dict) -> dict:
        _allowed(p, {"name", "description", "metadata", "active", "default_price"})
        product = self.store.get("product", pid)
        before = self.store.render(product)
        for key in ("name", "description", "default_price"):
            if key in p:
                product[key] = forms.as_str(p, key)
        if "active" in p:
            product["active"] = forms.as_bool(p, "active")
        if "metadata" in p:
            product["metadata"] = forms.metadata(p, product["metadata"])
        product["updated"] = self.now
        self.store.emit(
            "product.updated", product, previous=changed(before, self.store.render(product))
        )
        return product

    def list_products(self, p: dict) -> dict:
        active = forms.as_bool(p, "active")
        objs = self.store.all("product", lambda o: active is None or o["active"] == active)
        return self.store.page(objs, p, "/v1/products")

    def create_price(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "currency",
                "unit_amount",
                "unit_amount_decimal",
                "product",
                "product_data",
                "recurring",
                "nickname",
                "lookup_key",
                "metadata",
                "active",
                "billing_scheme",
                "tax_behavior",
                "transfer_lookup_key",
            },
        )
        currency = (forms.as_str(p, "currency", required=True) or "").lower()
        product_id = forms.as_str(p, "product")
        if product_id:
            self.store.get("product", product_id, param="product")
        elif p.get("product_data"):
            product_id = self.create_product(forms.as_dict(p, "product_data"))["id"]
        else:
            raise ApiError(400, "Missing required param: product.", param="product")
        if "unit_amount_decimal" in p:
            try:
                decimal = Decimal(str(p["unit_amount_decimal"]))
            except InvalidOperation:
                raise ApiError(400, "Invalid decimal", param="unit_amount_decimal") from None
            unit_amount = int(decimal) if decimal == int(decimal) else None
        else:
            unit_amount = forms.as_int(p, "unit_amount", required=True, minimum=0)
            decimal = Decimal(unit_amount)
        recurring = None
        if p.get("recurring"):
            r = forms.as_dict(p, "recurring")
            usage_type = forms.as_str(r, "usage_type", "licensed", choices=("licensed", "metered"))
            meter = forms.as_str(r, "meter")
            if usage_type == "metered":
                if not meter:
                    raise ApiError(
                        400, "Metered prices must be backed by a meter.", param="recurring[meter]"
                    )
                self.store.get("billing.meter", meter, "billing meter", "recurring[meter]")
            recurring = {
                "interval": forms.as_str(
                    r, "interval", required=True, choices=("day", "week", "month", "year")
                ),
                "interval_count": forms.as_int(r, "interval_count", 1, minimum=1),
                "usage_type": usage_type,
                "meter": meter,
                "aggregate_usage": None,
                "trial_period_days": None,
            }
        lookup_key = forms.as_str(p, "lookup_key")
        if lookup_key and self.store.all("price", lambda o: o["lookup_key"] == lookup_key):
            if not forms.as_bool(p, "transfer_lookup_key", False):
                raise ApiError(
                    400,
                    f"A price (`{lookup_key}`) already uses that lookup key.",
                    param="lookup_key",
                )
            for other in self.store.all("price", lambda o: o["lookup_key"] == lookup_key):
                other["lookup_key"] = None
        price = {
            "id": new_id("price", 24),
            "object": "price",
            "active": forms.as_bool(p, "active", True),
            "currency": currency,
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(decimal),
            "product": product_id,
            "recurring": recurring,
            "type": "recurring" if recurring else "one_time",
            "billing_scheme": "per_unit",
            "nickname": forms.as_str(p, "nickname"),
            "lookup_key": lookup_key,
            "metadata": forms.metadata(p),
            "created": self.now,
            "livemode": False,
            "tax_behavior": "unspecified",
        }
        self.store.add(price)
        self.store.emit("price.created", price)
        return price

    def update_price(self, pid: str, p: dict) -> dict:
        _allowed(p, {"active", "metadata", "nickname", "lookup_key"})
        price = self.store.get("price", pid)
        before = self.store.render(price)
        if "active" in p:
            price["active"] = forms.as_bool(p, "active")
        if "nickname" in p:
            price["nickname"] = forms.as_str(p, "nickname")
        if "lookup_key" in p:
            price["lookup_key"] = forms.as_str(p, "lookup_key")
        if "metadata" in p:
            price["metadata"] = forms.metadata(p, price["metadata"])
        self.store.emit("price.updated", price, previous=changed(before, self.store.render(price)))
        return price

    def list_prices(self, p: dict) -> dict:
        active = forms.as_bool(p, "active")
        product = forms.as_str(p, "product")
        keys = set(forms.as_list(p, "lookup_keys"))

        def keep(o: dict) -> bool:
            return (
                (active is None or o["active"] == active)
                and (product is None or o["product"] == product)
                and (not keys or o["lookup_key"] in keys)
            )

        return self.store.page(self.store.all("price", keep), p, "/v1/prices")

    def _price_label(self, price: dict) -> str:
        product = self.store.find(price["product"]) or {}
        return product.get("name") or price.get("nickname") or price["id"]
