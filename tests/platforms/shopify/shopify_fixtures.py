"""REST/webhook-shape fixtures written for these tests from the documented shapes."""

from __future__ import annotations

from typing import Any

SHOP = "acme.myshopify.com"


def rest_customer(**changes: Any) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "id": 207119551,
        "email": "Chloe.Martin@Example.fr ",
        "first_name": "Chloé",
        "last_name": "Martin",
        "phone": None,
        "state": "enabled",
        "verified_email": True,
        "tags": "Fidèle, Été 2024, VIP",
        "created_at": "2024-03-02T08:59:11-05:00",
        "updated_at": "2024-09-12T10:15:00-04:00",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2024-03-02T09:00:00-05:00",
        },
        "default_address": {
            "first_name": "Chloé",
            "last_name": "Martin",
            "company": "Atelier Martin",
            "address1": "12 rue de la Paix",
            "address2": None,
            "city": "Paris",
            "province": None,
            "zip": "75002",
            "country_code": "FR",
            "phone": "01 42 68 53 00",
            "default": True,
        },
    }
    customer.update(changes)
    return customer


def rest_product(**changes: Any) -> dict[str, Any]:
    product: dict[str, Any] = {
        "id": 632910392,
        "title": "Lampe Berger",
        "body_html": "<p>Une lampe <strong>élégante</strong>.</p>",
        "vendor": "Maison Berger",
        "product_type": "Décoration",
        "handle": "lampe-berger",
        "status": "active",
        "tags": "maison, cadeau",
        "created_at": "2024-01-10T10:00:00-05:00",
        "updated_at": "2024-06-01T10:00:00-04:00",
        "variants": [
            {"id": 808950810, "title": "Rose", "sku": "LB-ROSE", "price": "49.90"},
            {"id": 808950811, "title": "Bleu", "sku": "LB-BLEU", "price": "52.00"},
        ],
        "image": {"id": 850703190, "src": "https://cdn.shopify.com/s/files/1/lampe.png"},
    }
    product.update(changes)
    return product


def rest_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 450789469,
        "name": "#1001",
        "email": "Chloe.Martin@Example.fr ",
        "phone": "+33 6 12 34 56 78",
        "created_at": "2024-09-12T10:00:00-04:00",
        "updated_at": "2024-09-13T11:30:00-04:00",
        "cancelled_at": None,
        "cancel_reason": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "financial_status": "paid",
        "fulfillment_status": "fulfilled",
        "buyer_accepts_marketing": False,
        "tags": "",
        "subtotal_price": "99.80",
        "total_discounts": "10.00",
        "total_tax": "16.63",
        "total_price": "94.70",
        "total_price_set": {
            "shop_money": {"amount": "94.70", "currency_code": "EUR"},
            "presentment_money": {"amount": "101.30", "currency_code": "CHF"},
        },
        "total_shipping_price_set": {
            "shop_money": {"amount": "4.90", "currency_code": "EUR"},
            "presentment_money": {"amount": "5.25", "currency_code": "CHF"},
        },
        "discount_codes": [{"code": "BIENVENUE10", "amount": "10.00", "type": "fixed_amount"}],
        "shipping_lines": [{"title": "Colissimo", "code": "colissimo", "price": "4.90"}],
        "billing_address": {
            "first_name": "Chloé",
            "last_name": "Martin",
            "company": "Atelier Martin",
            "address1": "12 rue de la Paix",
            "city": "Paris",
            "zip": "75002",
            "country_code": "FR",
            "phone": "+33 1 42 68 53 01",
        },
        "customer": rest_customer(),
        "line_items": [
            {
                "id": 466157049,
                "product_id": 632910392,
                "variant_id": 808950810,
                "title": "Lampe Berger",
                "name": "Lampe Berger - Rose",
                "sku": "LB-ROSE",
                "quantity": 2,
                "price": "49.90",
            }
        ],
    }
    order.update(changes)
    return order


def rest_checkout(**changes: Any) -> dict[str, Any]:
    checkout: dict[str, Any] = {
        "id": 450789470,
        "token": "2a1ace52255252df566af0faaedfbfa7",
        "email": "Chloe.Martin@Example.fr ",
        "created_at": "2024-09-20T10:00:00-04:00",
        "updated_at": "2024-09-20T10:05:00-04:00",
        "completed_at": None,
        "currency": "EUR",
        "subtotal_price": "49.90",
        "total_price": "49.90",
        "abandoned_checkout_url": f"https://{SHOP}/checkouts/2a1ace/recover?key=k",
        "discount_codes": [],
        "billing_address": None,
        "customer": rest_customer(),
        "line_items": [
            {
                "product_id": 632910392,
                "variant_id": 808950810,
                "title": "Lampe Berger",
                "sku": "LB-ROSE",
                "quantity": 1,
                "price": "49.90",
                "line_price": "49.90",
            }
        ],
    }
    checkout.update(changes)
    return checkout
