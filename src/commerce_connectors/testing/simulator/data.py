"""Seeded fake shop data, and an in-memory record store to page over.

:class:`FakeData` makes people, addresses, phones, emails, products and
timestamps from a ``random.Random(seed)``: the same seed gives the same data on
every machine and Python version (only ``Random.random()`` is drawn from, whose
sequence for a given integer seed is stable across versions). The data is made to
exercise integration rules, so it is deliberately messy in controlled shares:
non-ASCII names, emails with upper case or stray whitespace, invalid emails,
missing and implausible phone numbers, several phone formats per country.

:class:`RecordStore` keeps platform-shaped records with ``created_at`` and
``updated_at``, supports inserts and updates at any time, filters and sorts the
way platform list endpoints do, and pages by offset or by keyset cursor.

Example:
    >>> fake = FakeData(seed=7)
    >>> person = fake.person()
    >>> person == FakeData(seed=7).person()
    True
    >>> store = RecordStore()
    >>> rec = store.insert({"email": person.email}, created_at=fake.timestamp())
    >>> store.get(rec.id) == rec
    True
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import random
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import attrs

from ...clock import Clock, SystemClock

__all__ = ["FakeAddress", "FakeData", "FakePerson", "Page", "RecordStore", "StoredRecord"]

UTC = _dt.timezone.utc

# --------------------------------------------------------------------------- vocabularies
# Names per country so that a person's name, address and phone agree; accents, ñ, ç, ü on purpose.
_FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("James", "Mary", "Olivia", "Liam", "Emma", "Noah", "Ava", "Zoë", "Chloé", "André"),
    "CA": ("François", "Émilie", "Liam", "Chloé", "Noah", "Zoé", "Jérôme", "Amélie"),
    "GB": ("Oliver", "Amelia", "George", "Isla", "Harry", "Siân", "Niamh", "Seán"),
    "FR": ("Léa", "Hélène", "François", "Chloé", "Raphaël", "Inès", "Anaïs", "Benoît", "Maël"),
    "DE": ("Jürgen", "Günther", "Müge", "Lena", "Björn", "Jörg", "Käthe", "Sören", "Lukas"),
    "ES": ("María", "José", "Begoña", "Íñigo", "Nuria", "Sofía", "Martín", "Lucía", "Ramón"),
    "MX": ("José", "Guadalupe", "Ximena", "Santiago", "Valentina", "Ángel", "Sofía", "Mateo"),
    "AR": ("Sebastián", "Agustina", "Joaquín", "Camila", "Tomás", "Martina", "Ignacio", "Lucía"),
    "BR": ("João", "Conceição", "Luís", "Ana", "Gonçalo", "Letícia", "Vitória", "Thiago", "Lúcia"),
}
_LAST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("Smith", "Johnson", "Williams", "Brown", "O'Connor", "García", "Nguyen", "Kowalski"),
    "CA": ("Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Lévesque", "MacDonald"),
    "GB": ("Smith", "Jones", "Taylor", "Brown", "Davies", "Ó Briain", "Wright"),
    "FR": ("Martin", "Bernard", "Lefèvre", "Dubois", "Moreau", "François", "Garçon", "Rousseau"),
    "DE": ("Müller", "Schmidt", "Schröder", "Weiß", "Groß", "Köhler", "Bäcker", "Fischer"),
    "ES": ("García", "Fernández", "Muñoz", "Peña", "Ibáñez", "López", "Núñez", "Martínez"),
    "MX": ("Hernández", "González", "Pérez", "Sánchez", "Ramírez", "Nuñez", "Castañeda"),
    "AR": ("González", "Rodríguez", "Fernández", "López", "Díaz", "Pérez", "Gómez", "Iñíguez"),
    "BR": ("Silva", "Santos", "Oliveira", "Gonçalves", "Araújo", "Conceição", "Simões"),
}
# city, province, postal-code pattern (# digit, A letter), phone area codes / mobile prefixes
_PLACES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "US": (("New York", "NY"), ("Chicago", "IL"), ("Austin", "TX"), ("San José", "CA")),
    "CA": (("Montréal", "QC"), ("Toronto", "ON"), ("Québec", "QC"), ("Vancouver", "BC")),
    "GB": (("London", None), ("Manchester", None), ("Edinburgh", None), ("Cardiff", None)),
    "FR": (("Paris", None), ("Lyon", None), ("Besançon", None), ("Orléans", None)),
    "DE": (("München", "BY"), ("Köln", "NW"), ("Düsseldorf", "NW"), ("Berlin", "BE")),
    "ES": (("Madrid", "M"), ("A Coruña", "C"), ("Logroño", "LO"), ("Málaga", "MA")),
    "MX": (("Ciudad de México", "CMX"), ("Mérida", "YUC"), ("Querétaro", "QUE")),
    "AR": (("Buenos Aires", "C"), ("Córdoba", "X"), ("Neuquén", "Q"), ("Rosario", "S")),
    "BR": (("São Paulo", "SP"), ("Florianópolis", "SC"), ("Belém", "PA"), ("Goiânia", "GO")),
}
_POSTAL: dict[str, str] = {
    "US": "#####",
    "CA": "A#A #A#",
    "GB": "AA# #AA",
    "FR": "#####",
    "DE": "#####",
    "ES": "#####",
    "MX": "#####",
    "AR": "A####AAA",
    "BR": "#####-###",
}
_STREETS: dict[str, tuple[str, ...]] = {
    "US": ("{n} Main St", "{n} Oak Avenue", "{n} Elm Street"),
    "CA": ("{n} rue Sainte-Catherine", "{n} King St W", "{n} chemin de la Côte"),
    "GB": ("{n} High Street", "{n} Station Road", "Flat {n}, Church Lane"),
    "FR": ("{n} rue de la Paix", "{n} avenue des Champs-Élysées", "{n} boulevard Saint-Michel"),
    "DE": ("Hauptstraße {n}", "Königsallee {n}", "Schloßstraße {n}"),
    "ES": ("Calle Mayor {n}", "Avenida de España {n}", "Plaza de la Peña {n}"),
    "MX": ("Av. Insurgentes Sur {n}", "Calle Niños Héroes {n}", "Paseo de la Reforma {n}"),
    "AR": ("Av. Corrientes {n}", "Calle Güemes {n}", "Av. Santa Fe {n}"),
    "BR": ("Rua Augusta, {n}", "Avenida Paulista, {n}", "Rua da Conceição, {n}"),
}
_COUNTRY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("US", 30),
    ("CA", 8),
    ("GB", 10),
    ("FR", 10),
    ("DE", 10),
    ("ES", 8),
    ("MX", 8),
    ("AR", 8),
    ("BR", 8),
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "shop.test")
_COMPANY_STEMS = (
    "Acme",
    "Globex",
    "Müller & Söhne",
    "Ñandú",
    "Façade",
    "Umbrella",
    "Café Olé",
    "Nordlicht",
    "Pão de Açúcar",
    "Zürich Trading",
)
_COMPANY_SUFFIXES = ("Inc.", "LLC", "Ltd", "GmbH", "S.A.", "SARL", "S.R.L.", "Ltda.", "")
_TAGS = (
    "VIP",
    "wholesale",
    "newsletter",
    "Léon",
    "Noël",
    "mayorista",
    "fidélité",
    "Stammkunde",
    "promoção",
    "repeat-buyer",
    "b2b",
    "año-nuevo",
)
_ADJECTIVES = ("Classic", "Organic", "Vintage", "Ergonomic", "Handmade", "Rústico", "Élégant")
_MATERIALS = ("Cotton", "Leather", "Wool", "Bamboo", "Ceramic", "Steel", "Lino", "Café")
_NOUNS = ("T-Shirt", "Mug", "Backpack", "Scarf", "Lamp", "Notebook", "Sombrero", "Tasse")
_CATEGORIES = ("Apparel", "Home & Garden", "Accessories", "Kitchen", "Stationery", "Décor")
_IMPLAUSIBLE_PHONES = ("12345", "000", "n/a", "+1 555", "call me", "0", "999999999999999999")
_INVALID_EMAIL_PATTERNS = (
    "{local}.{domain}",  # no @
    "{local}@",
    "@{domain}",
    "{local}@@{domain}",
    "{local} x@{domain}",
    "{local}@{domain_no_dot}",
)


# --------------------------------------------------------------------------- phone formats
def _digits(rng_digit: Callable[[], int], n: int) -> str:
    return "".join(str(rng_digit()) for _ in range(n))


@attrs.frozen
class FakeAddress:
    """A postal address; ``country_code`` is ISO 3166-1 alpha-2.

    ``province`` is a subdivision code where the country uses them, else ``None``.
    ``line2`` is often ``None``; ``phone`` may be ``None``, implausible, or in
    any of the country's usual formats.
    """

    line1: str
    line2: str | None
    city: str
    province: str | None
    postal_code: str
    country_code: str
    phone: str | None


@attrs.frozen
class FakePerson:
    """A shopper: name, email (possibly messy or invalid), phone, company, address, tags.

    Attributes:
        email_valid: whether :attr:`email`, once trimmed and lower-cased, is a valid
            address (tests of email rules can assert against it).
        phone_quality: ``"valid"``, ``"implausible"`` or ``"missing"``.
    """

    first_name: str
    last_name: str
    email: str | None
    email_valid: bool
    phone: str | None
    phone_quality: Literal["valid", "implausible", "missing"]
    company: str | None
    address: FakeAddress
    tags: tuple[str, ...]
    accepts_marketing: bool


class FakeData:
    """A deterministic generator of messy, realistic shop data.

    Args:
        seed: the seed; the same seed and the same sequence of calls give the same data.
        invalid_email_share: share of :meth:`email` results that are invalid.
        messy_email_share: share of (valid) emails with upper case or surrounding
            whitespace, which a normaliser must clean.
        missing_phone_share: share of :meth:`phone` results that are ``None`` or ``""``.
        implausible_phone_share: share of :meth:`phone` results that are not phone numbers.

    Example:
        >>> fake = FakeData(seed=1, invalid_email_share=0.0)
        >>> "@" in fake.email("Zoë", "Müller").strip()
        True
        >>> price = fake.price("1.00", "9.99")  # a Decimal string with two decimals
        >>> len(price), price[1]
        (4, '.')
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        invalid_email_share: float = 0.05,
        messy_email_share: float = 0.15,
        missing_phone_share: float = 0.2,
        implausible_phone_share: float = 0.05,
    ) -> None:
        for name, share in (
            ("invalid_email_share", invalid_email_share),
            ("messy_email_share", messy_email_share),
            ("missing_phone_share", missing_phone_share),
            ("implausible_phone_share", implausible_phone_share),
        ):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {share}")
        if missing_phone_share + implausible_phone_share > 1.0:
            raise ValueError("missing_phone_share + implausible_phone_share exceeds 1")
        self.seed = seed
        self.invalid_email_share = invalid_email_share
        self.messy_email_share = messy_email_share
        self.missing_phone_share = missing_phone_share
        self.implausible_phone_share = implausible_phone_share
        self.rng = random.Random(seed)
        self._sku_counter = 0

    # Primitives. Everything draws from rng.random() only: randrange/choice/shuffle have
    # changed their algorithms between Python versions, random() has not.
    def _pick(self, options: Sequence[str]) -> str:
        return options[int(self.rng.random() * len(options))]

    def _int(self, low: int, high: int) -> int:
        """An int in ``[low, high]``."""
        return low + int(self.rng.random() * (high - low + 1))

    def _chance(self, share: float) -> bool:
        return self.rng.random() < share

    def _digit(self) -> int:
        return self._int(0, 9)

    def country(self) -> str:
        """An ISO 3166-1 alpha-2 code, weighted toward the US."""
        total = sum(w for _, w in _COUNTRY_WEIGHTS)
        roll = self.rng.random() * total
        for code, weight in _COUNTRY_WEIGHTS:
            roll -= weight
            if roll < 0:
                return code
        return _COUNTRY_WEIGHTS[-1][0]

    def first_name(self, country: str | None = None) -> str:
        """A given name typical of ``country`` (random country if ``None``)."""
        return self._pick(_FIRST_NAMES[country or self.country()])

    def last_name(self, country: str | None = None) -> str:
        """A family name typical of ``country``."""
        return self._pick(_LAST_NAMES[country or self.country()])

    def company(self) -> str:
        """A company name, sometimes with non-ASCII characters."""
        suffix = self._pick(_COMPANY_SUFFIXES)
        return f"{self._pick(_COMPANY_STEMS)} {suffix}".strip()

    def tags(self, max_tags: int = 3) -> tuple[str, ...]:
        """Zero to ``max_tags`` distinct tags, in a stable order."""
        chosen: list[str] = []
        for _ in range(self._int(0, max_tags)):
            tag = self._pick(_TAGS)
            if tag not in chosen:
                chosen.append(tag)
        return tuple(chosen)

    def email(self, first_name: str, last_name: str, *, valid: bool | None = None) -> str:
        """An email derived from the name (accents folded to ASCII).

        With ``valid=None`` the share settings decide; valid emails may still carry
        upper case or whitespace that a normaliser must remove.
        """
        local = _ascii_slug(first_name) + self._pick((".", "_", "")) + _ascii_slug(last_name)
        local = local or "shopper"
        if self._chance(0.3):
            local += str(self._int(1, 99))
        domain = self._pick(_EMAIL_DOMAINS)
        if valid is None:
            valid = not self._chance(self.invalid_email_share)
        if not valid:
            pattern = self._pick(_INVALID_EMAIL_PATTERNS)
            return pattern.format(local=local, domain=domain, domain_no_dot=domain.split(".")[0])
        address = f"{local}@{domain}"
        if self._chance(self.messy_email_share):
            style = self._int(0, 2)
            if style == 0:
                address = address.upper()
            elif style == 1:
                address = f"  {address}\t"
            else:
                address = local.capitalize() + "@" + domain.capitalize()
        return address

    def phone(
        self,
        country: str | None = None,
        *,
        quality: Literal["any", "valid", "implausible", "missing"] = "any",
    ) -> str | None:
        """A phone number as a shopper would type it, or ``None``/``""`` when missing.

        Valid numbers use the country's real number plan in one of several formats
        (E.164, national with trunk prefix, spaced, dashed, parenthesised). With
        ``quality="any"`` the share settings decide.
        """
        return self._phone(country or self.country(), quality)[0]

    def _phone(
        self, country: str, quality: Literal["any", "valid", "implausible", "missing"]
    ) -> tuple[str | None, Literal["valid", "implausible", "missing"]]:
        if quality == "any":
            roll = self.rng.random()
            if roll < self.missing_phone_share:
                quality = "missing"
            elif roll < self.missing_phone_share + self.implausible_phone_share:
                quality = "implausible"
            else:
                quality = "valid"
        if quality == "missing":
            return (None if self._chance(0.7) else ""), "missing"
        if quality == "implausible":
            return self._pick(_IMPLAUSIBLE_PHONES), "implausible"
        return _format_phone(country, self._int, self._digit, self._pick), "valid"

    def address(self, country: str | None = None, *, phone: str | None = None) -> FakeAddress:
        """A postal address in ``country``; its phone is generated unless given."""
        country = country or self.country()
        city, province = _PLACES[country][self._int(0, len(_PLACES[country]) - 1)]
        line1 = self._pick(_STREETS[country]).format(n=self._int(1, 999))
        line2 = (
            self._pick(("Apt 4B", "2º izq.", "Bâtiment C", "3. OG")) if self._chance(0.2) else None
        )
        postal = "".join(
            str(self._digit()) if c == "#" else chr(65 + self._int(0, 25)) if c == "A" else c
            for c in _POSTAL[country]
        )
        if phone is None:
            phone = self.phone(country)
        return FakeAddress(line1, line2, city, province, postal, country, phone)

    def person(self, country: str | None = None) -> FakePerson:
        """A complete shopper whose name, address and phone agree on a country."""
        country = country or self.country()
        first, last = self.first_name(country), self.last_name(country)
        email_valid = not self._chance(self.invalid_email_share)
        email = self.email(first, last, valid=email_valid)
        phone, quality = self._phone(country, "any")
        company = self.company() if self._chance(0.3) else None
        # The address phone is independent, so phone-fallback chains have work to do.
        address = self.address(country)
        return FakePerson(
            first_name=first,
            last_name=last,
            email=email,
            email_valid=email_valid,
            phone=phone,
            phone_quality=quality,
            company=company,
            address=address,
            tags=self.tags(),
            accepts_marketing=self._chance(0.5),
        )

    def product_title(self) -> str:
        """A product title such as ``"Organic Wool Scarf"``."""
        return f"{self._pick(_ADJECTIVES)} {self._pick(_MATERIALS)} {self._pick(_NOUNS)}"

    def category(self) -> str:
        """A product category name."""
        return self._pick(_CATEGORIES)

    def sku(self) -> str:
        """A unique (per generator) SKU such as ``"TSH-00017-BL"``."""
        self._sku_counter += 1
        prefix = "".join(chr(65 + self._int(0, 25)) for _ in range(3))
        return f"{prefix}-{self._sku_counter:05d}-{self._pick(('BL', 'RD', 'GR', 'XL', 'S'))}"

    def price(self, low: str = "1.00", high: str = "500.00", *, exponent: int = 2) -> str:
        """A price between ``low`` and ``high`` as a Decimal string with ``exponent`` decimals.

        ``exponent`` is the currency's minor-unit exponent (JPY 0, USD 2, KWD 3).
        """
        quantum = Decimal(1).scaleb(-exponent)
        lo = int(Decimal(low) / quantum)
        hi = int(Decimal(high) / quantum)
        return str((Decimal(self._int(lo, hi)) * quantum).quantize(quantum))

    def timestamp(
        self,
        start: _dt.datetime = _dt.datetime(2022, 1, 1, tzinfo=UTC),
        end: _dt.datetime = _dt.datetime(2024, 1, 1, tzinfo=UTC),
    ) -> _dt.datetime:
        """An aware UTC datetime in ``[start, end)``, whole seconds."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        span = int((end - start).total_seconds())
        if span <= 0:
            raise ValueError("end must be after start")
        return (start + _dt.timedelta(seconds=self._int(0, span - 1))).astimezone(UTC)

    def timestamps(
        self,
        n: int,
        start: _dt.datetime = _dt.datetime(2022, 1, 1, tzinfo=UTC),
        end: _dt.datetime = _dt.datetime(2024, 1, 1, tzinfo=UTC),
    ) -> list[_dt.datetime]:
        """``n`` timestamps in ``[start, end)``, sorted (ties possible, as in real shops)."""
        return sorted(self.timestamp(start, end) for _ in range(n))


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _format_phone(
    country: str,
    rint: Callable[[int, int], int],
    digit: Callable[[], int],
    pick: Callable[[Sequence[str]], str],
) -> str:
    """A valid-looking number for ``country`` in one of its common written formats."""

    def d(n: int) -> str:
        return _digits(digit, n)

    style = rint(0, 2)
    if country in ("US", "CA"):
        # NANP: area codes of the right country; exchange starts with 2-9 and is never 555
        # (the fictional range, which validators reject).
        codes = ("212", "312", "415", "512", "617") if country == "US" else ("514", "416", "604")
        area = pick(codes)
        exchange = f"{rint(2, 9)}{rint(0, 9)}{rint(1, 9)}"
        line = d(4)
        return (
            f"+1{area}{exchange}{line}",
            f"({area}) {exchange}-{line}",
            f"+1 {area}-{exchange}-{line}",
        )[style]
    if country == "GB":
        # Mobile 074xx except 0745x: 0745x and 077-079 hold Jersey, Guernsey and Isle of
        # Man blocks, which share +44 but are not GB.
        rest = f"74{pick(('0', '1', '2', '3', '4', '6', '7', '8', '9'))}{d(7)}"
        return (f"+44{rest}", f"0{rest[:4]} {rest[4:]}", f"+44 {rest[:4]} {rest[4:]}")[style]
    if country == "FR":
        # Mobile 06/07, leaving out blocks that are not allocated (063x, 069x, 070-072).
        rest = pick(("60", "61", "62", "64", "65", "66", "67", "68", "73", "75", "76", "77")) + d(7)
        pairs = " ".join(rest[i : i + 2] for i in range(1, 9, 2))
        return (f"+33{rest}", f"0{rest[0]} {pairs}", f"+33 {rest[0]} {pairs}")[style]
    if country == "DE":
        rest = f"15{rint(1, 2)}{d(8)}"  # mobile 0151/0152
        return (f"+49{rest}", f"0{rest[:4]} {rest[4:]}", f"+49 {rest[:4]} {rest[4:]}")[style]
    if country == "ES":
        rest = f"6{d(8)}"
        return (f"+34{rest}", f"{rest[:3]} {rest[3:5]} {rest[5:7]} {rest[7:]}", f"+34 {rest}")[
            style
        ]
    if country == "MX":
        rest = f"55{rint(1, 9)}{d(7)}"  # Mexico City, 10 digits
        return (f"+52{rest}", f"{rest[:2]} {rest[2:6]} {rest[6:]}", f"+52 {rest}")[style]
    if country == "AR":
        rest = f"11{rint(2, 8)}{d(7)}"  # Buenos Aires mobile: +54 9 11 xxxx-xxxx
        return (
            f"+549{rest}",
            f"+54 9 11 {rest[2:6]}-{rest[6:]}",
            f"011 15-{rest[2:6]}-{rest[6:]}",
        )[style]
    # BR: São Paulo mobile, 9 + 8 digits.
    rest = f"119{rint(6, 9)}{d(7)}"
    return (f"+55{rest}", f"({rest[:2]}) {rest[2:7]}-{rest[7:]}", f"+55 11 {rest[2:7]}-{rest[7:]}")[
        style
    ]


# --------------------------------------------------------------------------- record store
@attrs.frozen
class StoredRecord:
    """One record in a :class:`RecordStore`.

    Attributes:
        id: the store-assigned integer id (or the one given on insert).
        data: the platform-shaped payload, without timestamps (the simulator renders
            ``created_at``/``updated_at`` in its platform's format).
        created_at: aware UTC datetime.
        updated_at: aware UTC datetime, ``>= created_at``.
    """

    id: int
    data: Mapping[str, Any]
    created_at: _dt.datetime
    updated_at: _dt.datetime


@attrs.frozen
class Page:
    """One page of records.

    Attributes:
        records: the records on this page.
        total: how many records matched the query, across all pages.
        next_cursor: for keyset paging, the cursor of the next page, ``None`` on the last.
    """

    records: list[StoredRecord]
    total: int
    next_cursor: str | None = None


SortKey = Literal["id", "updated_at", "created_at"]


class RecordStore:
    """A thread-safe in-memory table of records with timestamps, for simulators to page over.

    Records can be inserted and updated at any time, including while a client pages
    through (see :class:`~commerce_connectors.testing.simulator.Mutate`). Updates
    default ``updated_at`` to the clock's ``now()``, so with a shared
    :class:`~commerce_connectors.clock.FakeClock` they land where the test expects.

    Args:
        clock: where default timestamps come from.
        first_id: the id given to the first inserted record without an explicit id.

    Example:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        >>> store = RecordStore()
        >>> a = store.insert({"name": "a"}, created_at=t)
        >>> b = store.insert({"name": "b"}, created_at=t + dt.timedelta(hours=1))
        >>> _ = store.update(a.id, {"name": "A"}, updated_at=t + dt.timedelta(hours=2))
        >>> [r.data["name"] for r in store.query(sort="updated_at")]
        ['b', 'A']
        >>> page = store.page_by_offset(limit=1, offset=0, sort="id")
        >>> page.total, [r.id for r in page.records]
        (2, [1])
    """

    def __init__(self, clock: Clock | None = None, *, first_id: int = 1) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._records: dict[int, StoredRecord] = {}
        self._next_id = first_id
        self._lock = threading.RLock()

    def insert(
        self,
        data: Mapping[str, Any],
        *,
        id: int | None = None,
        created_at: _dt.datetime | None = None,
        updated_at: _dt.datetime | None = None,
    ) -> StoredRecord:
        """Add a record; ``created_at`` defaults to now, ``updated_at`` to ``created_at``."""
        with self._lock:
            if id is None:
                id = self._next_id
            if id in self._records:
                raise KeyError(f"record {id} already exists")
            self._next_id = max(self._next_id, id + 1)
            created = _aware(created_at or self.clock.now(), "created_at")
            updated = _aware(updated_at or created, "updated_at")
            record = StoredRecord(id, dict(data), created, max(created, updated))
            self._records[id] = record
            return record

    def update(
        self,
        id: int,
        changes: Mapping[str, Any] | None = None,
        *,
        updated_at: _dt.datetime | None = None,
    ) -> StoredRecord:
        """Merge ``changes`` into a record's data and move ``updated_at`` (default: now).

        With no changes this just "touches" the record, which is how a platform
        reports an edit a client does not look at.
        """
        with self._lock:
            old = self._records[id]
            data = {**old.data, **(changes or {})}
            updated = _aware(updated_at or self.clock.now(), "updated_at")
            record = attrs.evolve(old, data=data, updated_at=max(updated, old.created_at))
            self._records[id] = record
            return record

    def delete(self, id: int) -> None:
        """Remove a record (``KeyError`` if absent)."""
        with self._lock:
            del self._records[id]

    def get(self, id: int) -> StoredRecord | None:
        """The record with this id, or ``None``."""
        with self._lock:
            return self._records.get(id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[StoredRecord]:
        return iter(self.query())

    def query(
        self,
        *,
        created_at_min: _dt.datetime | None = None,
        created_at_max: _dt.datetime | None = None,
        updated_at_min: _dt.datetime | None = None,
        updated_at_max: _dt.datetime | None = None,
        since_id: int | None = None,
        where: Callable[[StoredRecord], bool] | None = None,
        sort: SortKey = "id",
        descending: bool = False,
    ) -> list[StoredRecord]:
        """Records matching every filter (``*_min`` inclusive, ``*_max`` inclusive).

        ``since_id`` keeps ids strictly greater, as Shopify's and Tiendanube's
        ``since_id`` do. Ties in the sort key are broken by id, so the order is total.
        """
        with self._lock:
            records = list(self._records.values())
        out = [
            r
            for r in records
            if (created_at_min is None or r.created_at >= created_at_min)
            and (created_at_max is None or r.created_at <= created_at_max)
            and (updated_at_min is None or r.updated_at >= updated_at_min)
            and (updated_at_max is None or r.updated_at <= updated_at_max)
            and (since_id is None or r.id > since_id)
            and (where is None or where(r))
        ]
        out.sort(key=lambda r: (_sort_value(r, sort), r.id), reverse=descending)
        return out

    def page_by_offset(self, *, limit: int, offset: int = 0, **query: Any) -> Page:
        """The slice ``[offset, offset + limit)`` of :meth:`query` (page/limit APIs).

        Offsets are computed on the data *as it is now*, which is exactly why such
        APIs skip or repeat records that change while a client pages through.
        """
        if limit <= 0 or offset < 0:
            raise ValueError("limit must be positive and offset non-negative")
        matched = self.query(**query)
        return Page(matched[offset : offset + limit], len(matched))

    def page_by_cursor(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        sort: SortKey = "id",
        descending: bool = False,
        **query: Any,
    ) -> Page:
        """A keyset page: records strictly after ``cursor`` in ``(sort key, id)`` order.

        The cursor is opaque (URL-safe base64) and remembers the last record's sort
        key and id, as Shopify's ``page_info`` and Square's ``cursor`` do, so inserts
        before it do not shift later pages. Keep the other query arguments the same
        across pages.
        """
        if limit <= 0:
            raise ValueError("limit must be positive")
        matched = self.query(sort=sort, descending=descending, **query)
        total = len(matched)
        if cursor is not None:
            after = _decode_cursor(cursor)
            if descending:
                matched = [r for r in matched if _cursor_key(r, sort) < after]
            else:
                matched = [r for r in matched if _cursor_key(r, sort) > after]
        records = matched[:limit]
        next_cursor = (
            _encode_cursor(_cursor_key(records[-1], sort)) if len(matched) > limit else None
        )
        return Page(records, total, next_cursor)


def _aware(value: _dt.datetime, name: str) -> _dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)


def _sort_value(record: StoredRecord, sort: SortKey) -> Any:
    if sort == "id":
        return record.id
    if sort == "updated_at":
        return record.updated_at
    if sort == "created_at":
        return record.created_at
    raise ValueError(f"unknown sort key {sort!r}")


def _cursor_key(record: StoredRecord, sort: SortKey) -> tuple[str, int]:
    value = _sort_value(record, sort)
    # ISO strings of aware UTC datetimes sort like the datetimes; ids are zero-padded.
    if isinstance(value, _dt.datetime):
        text = value.isoformat(timespec="microseconds")
    else:
        text = f"{value:020d}"
    return (text, record.id)


def _encode_cursor(key: tuple[str, int]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        text, ident = json.loads(raw)
        return (str(text), int(ident))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc
