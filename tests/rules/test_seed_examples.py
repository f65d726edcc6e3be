"""Example tests taken from the seeds' own statements (shared/seeds/*)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from _builders import T0, cart, customer, order

from commerce_connectors.mapping import CONTACT_MAP
from commerce_connectors.models import Address
from commerce_connectors.rules import (
    CartState,
    ContactKey,
    Reason,
    admit_record,
    apply_contact_cap,
    cart_status,
    defaults_for,
    merge_contacts,
    prepare_contact,
    should_subscribe,
    trigger_decision,
)

# -- Shopify (shopify-activecampaign.fr.txt)


def test_shopify_customer_without_phone_gets_the_default_address_phone() -> None:
    # "Si aucun numéro de téléphone n'est trouvé sur l'enregistrement du client, l'intégration
    # vérifiera si le client a un numéro de téléphone associé à son adresse de livraison par défaut"
    c = customer(
        email="bob@example.com",
        phone=None,
        default_address=Address(phone="(502) 459-2181", country_code="US"),
    )
    contact = prepare_contact(c).contact
    assert contact is not None
    assert contact.phone == "+15024592181"


def test_shopify_customer_phone_comes_first() -> None:
    c = customer(
        email="bob@example.com",
        phone="+16136120707",
        default_address=Address(phone="(502) 459-2181", country_code="US"),
    )
    assert prepare_contact(c).contact.phone == "+16136120707"  # type: ignore[union-attr]


def test_shopify_without_any_phone_syncs_no_phone() -> None:
    # "Si aucun numéro de téléphone n'est trouvé, nous ne synchroniserons pas le numéro"
    c = customer(email="bob@example.com", phone=None, default_address=Address(city="Louisville"))
    decision = prepare_contact(c)
    assert decision.contact is not None
    assert decision.contact.phone is None
    assert decision.phone is not None
    assert decision.phone.reason is Reason.NO_PHONE


def test_shopify_phone_chain_stops_at_the_default_address_for_registered_customers() -> None:
    c = customer(email="bob@example.com", raw={"addresses": [{"phone": "+16136120707"}]})
    assert prepare_contact(c).contact.phone is None  # type: ignore[union-attr]


def test_shopify_guests_are_synced_from_the_order_email_and_billing_details() -> None:
    # "pour les clients et les invités connectés"
    guest = order(
        email="Guest@Example.com",
        customer_external_id=None,
        raw={"billing_address": {"phone": "+1(502)-459-2181", "country_code": "US"}},
    )
    assert admit_record(guest, defaults_for("shopify").guests)
    decision = prepare_contact(guest)
    assert decision.contact is not None
    assert decision.contact.key == ContactKey("email", "guest@example.com")
    assert decision.contact.phone == "+15024592181"
    assert decision.contact.external_id is None


def test_shopify_store_tags_become_contact_tags() -> None:
    c = customer(email="bob@example.com", tags=("Léon, Noël",))
    assert prepare_contact(c).contact.tags == ("Léon", "Noël")  # type: ignore[union-attr]


def test_shopify_contacts_are_synced_whatever_their_consent_but_subscribed_only_on_yes() -> None:
    # "Cette intégration synchronise tous les contacts qui cochent la case « Accepte le
    # marketing » et ceux qui ne le font pas."
    yes = customer(email="a@x.io", raw={"email_marketing_consent": {"state": "subscribed"}})
    no = customer(email="b@x.io", raw={"email_marketing_consent": {"state": "not_subscribed"}})
    unknown = customer(email="c@x.io")
    decisions = [prepare_contact(c) for c in (yes, no, unknown)]
    assert all(d.contact is not None for d in decisions)
    assert [should_subscribe(d.consent).subscribe for d in decisions] == [True, False, False]


# -- BigCommerce (bigcommerce-activecampaign.es.txt / .de.txt)


def test_bigcommerce_guest_checkouts_are_not_synced_and_counted_by_reason() -> None:
    # "Esta integración no sincroniza los pagos de invitados." / "keine Gast-Checkouts"
    rules = defaults_for("bigcommerce")
    orders = [
        order("bigcommerce", "100", customer_external_id="0", email="g@x.io"),
        order("bigcommerce", "101", customer_external_id="11", email="r@x.io"),
        order("bigcommerce", "102", customer_external_id="0", email="h@x.io"),
    ]
    admissions = [admit_record(o, rules.guests) for o in orders]
    assert [a.admitted for a in admissions] == [False, True, False]
    assert Counter(a.reason for a in admissions if not a) == {Reason.GUEST_EXCLUDED: 2}
    assert prepare_contact(orders[0]).reason is Reason.GUEST_EXCLUDED


def test_bigcommerce_contacts_get_the_bigcommerce_customer_tag() -> None:
    # 'Los contactos agregados a partir de esta integración tendrán la etiqueta
    # "bigcommerce-customer".'
    c = customer("bigcommerce", "11", email="jane.smith@example.com")
    assert prepare_contact(c).contact.tags == ("bigcommerce-customer",)  # type: ignore[union-attr]


def test_bigcommerce_buyers_are_synced_whether_or_not_they_accept_marketing() -> None:
    # "no importa si marcan la casilla Aceptar Marketing o no"
    for flag in (True, False):
        o = order(
            "bigcommerce", customer_external_id="11", email="a@x.io", raw={"is_email_opt_in": flag}
        )
        decision = prepare_contact(o)
        assert decision.contact is not None
        assert decision.contact.accepts_marketing is (True if flag else None)


def test_bigcommerce_historical_data_does_not_trigger_makes_a_purchase() -> None:
    # "Los datos históricos sincronizados no desencadenarán ninguna automatización"
    old = order("bigcommerce", created_at=T0 - dt.timedelta(days=30))
    assert trigger_decision(old, "historical", sync_started_at=T0).source == 0


def test_bigcommerce_missed_abandoned_carts_are_synced_without_triggering() -> None:
    # "Los carritos abandonados que se pierdan se sincronizarán y no desencadenará automatizaciones"
    missed = cart("bigcommerce", customer_external_id="11", created_at=T0 - dt.timedelta(hours=1))
    assert admit_record(missed, defaults_for("bigcommerce").guests)
    decision = trigger_decision(missed, "historical", sync_started_at=T0)
    assert (decision.source, decision.reason) == (0, Reason.HISTORICAL_CART)


# -- Square (square-activecampaign.es.txt)


def test_square_customer_without_email_is_not_synced_even_for_phone_only_sinks() -> None:
    # "cada cliente debe tener una dirección de correo electrónico en su cuenta de Square"
    rules = defaults_for("square").with_phone_fallback_identity()
    c = customer("square", "JDKYHBWT1D4F8MFH63DBMEN8Y4", phone="+1-212-555-4240")
    assert prepare_contact(c, rules).reason is Reason.EMAIL_REQUIRED


def test_square_restart_fires_only_for_orders_within_24_hours() -> None:
    # 'no se activará ninguna automatización ... excepto para los pedidos que sus clientes
    # realizaron dentro de las 24 horas'
    recent = order("square", created_at=T0 - dt.timedelta(hours=23))
    old = order("square", created_at=T0 - dt.timedelta(hours=25))
    assert trigger_decision(recent, "historical", sync_started_at=T0).source == 1
    assert trigger_decision(old, "historical", sync_started_at=T0).source == 0


def test_square_customer_id_is_the_external_id_by_default_and_can_be_changed() -> None:
    # "asignar su ID de cliente de Square a su ID externo de ActiveCampaign"
    c = customer(
        "square",
        "JDKYHBWT1D4F8MFH63DBMEN8Y4",
        email="Amelia.Earhart@example.com",
        raw={"reference_id": "YOUR_REFERENCE_ID"},
    )
    contact = prepare_contact(c).contact
    assert CONTACT_MAP.apply(contact).external_id == "JDKYHBWT1D4F8MFH63DBMEN8Y4"
    by_reference = CONTACT_MAP.with_external_id("$.reference_id")
    assert by_reference.apply(contact).external_id == "YOUR_REFERENCE_ID"


# -- Tiendanube / DataCrush (tiendanube-datacrush.es.txt)


def test_tiendanube_checkout_shoppers_become_contacts_then_are_updated_from_the_order() -> None:
    # "todos los usuarios que comiencen el proceso de checkout ... ingresarán como contactos ...
    # luego cuando estos usuarios finalicen la compra, serán actualizados"
    checkout = cart(
        "tiendanube",
        email="teste@teste.com.br",
        created_at=T0,
        raw={"contact_phone": "+551335593019", "contact_name": "Teste 12"},
    )
    first = prepare_contact(checkout).contact
    assert first is not None
    assert first.phone == "+551335593019"
    buyer = customer("tiendanube", "101", email="teste@teste.com.br", first_name="Teste")
    placed = order(
        "tiendanube",
        customer=buyer,
        customer_external_id="101",
        created_at=T0 + dt.timedelta(hours=1),
    )
    later = prepare_contact(placed).contact
    assert later is not None
    merged = merge_contacts([first, later])[first.key]
    assert merged.first_name == "Teste"
    assert merged.phone == "+551335593019"
    assert merged.external_id == "101"


def test_datacrush_abandoned_cart_after_six_hours_unless_deleted_or_converted() -> None:
    # "Luego de 6 horas se envía un email ... si el usuario elimina el carrito o cierra el pedido
    # en ese tiempo, se cancela automáticamente el envío del email."
    idle = cart("tiendanube", created_at=T0)
    six = T0 + dt.timedelta(hours=6)
    assert cart_status(idle, six).state is CartState.ABANDONED
    bought = cart("tiendanube", created_at=T0, completed_at=T0 + dt.timedelta(hours=2))
    assert cart_status(bought, six).state is CartState.CONVERTED
    assert cart_status(idle, six, deleted_at=T0 + dt.timedelta(hours=3)).state is (
        CartState.DELETED
    )


def test_datacrush_free_accounts_stop_new_contacts_at_2000_and_keep_updating() -> None:
    # "Las cuentas FREE de DataCrush tiene un límite de 2.000 contactos"
    existing = {f"old{n}@x.io" for n in range(1999)}
    incoming = ["old5@x.io", "new1@x.io", "new2@x.io", "old7@x.io", "new1@x.io"]
    result = apply_contact_cap(incoming, limit=2000, existing=existing, identity=str)
    assert result.accepted == ("old5@x.io", "new1@x.io", "old7@x.io", "new1@x.io")
    assert [r.item for r in result.refused] == ["new2@x.io"]
    assert "2000" in str(result.refused[0].error)
    assert result.contact_count == 2000
