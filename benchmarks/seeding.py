"""The benchmark's company at volume: N clients and invoices, N/2 expenses and 10·N time entries, seeded
deterministically into both emulators' in-memory state (no HTTP, so seeding is fast and never counted).

Records are written the way the sandbox's own demo seed writes them (`PaymoState.insert`,
`QboState.insert`), and every Paymo invoice total comes from the emulator's own arithmetic
(`sandbox/paymo/arithmetic.compute_totals`), so the emulators' invariants hold as if the records had been
created through their APIs. What is generated:

- Clients in Quebec (invoiced with GST 5 % + QST 9.975 %), elsewhere in Canada (GST 5 % only) and in the
  US (untaxed: zero-rated), all in CAD, each with its own e-mail domain, one project, task list and task.
- About 40 % of the clients already exist as QBO customers (same e-mail; a quarter of them under a
  variant of the name, e.g. "Inc." for "Ltd"), plus N/10 unrelated QBO customers, so matching matters.
- Invoices dated in November 2026 with 2–5 lines (some lines untaxed), a quarter with a discount;
  a fifth partly paid and a quarter paid in full (Paymo marks those `paid`, as it does on its own).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.core import Sandbox
from paymo_qb_mcp.sandbox.paymo.arithmetic import Line, compute_totals
from paymo_qb_mcp.sandbox.paymo.context import WriteContext
from paymo_qb_mcp.sandbox.paymo.state import PaymoState, Record
from paymo_qb_mcp.sandbox.quickbooks.state import QboState

__all__ = ["PERIOD_FROM", "PERIOD_TO", "Dataset", "seed_volume", "tax_combinations"]

PERIOD_FROM = dt.date(2026, 11, 1)
PERIOD_TO = dt.date(2026, 11, 30)
FIRST_INVOICE_NUMBER = 1043
USERS = (1, 2, 3)  # the empty seed's Alice (Admin), Ben and Chloé

GST = Decimal("5")
QST = Decimal("9.975")
NO_TAX = Decimal("0")

_ADJECTIVES = (
    "Amber", "Arctic", "Azure", "Bold", "Brisk", "Cedar", "Cobalt", "Coral", "Crimson", "Dawn",
    "Ember", "Fable", "Golden", "Granite", "Harbor", "Indigo", "Ivory", "Juniper", "Lumen", "Maple",
    "Meadow", "Nimbus", "Onyx", "Orchid", "Pine", "Quartz", "Raven", "Saffron", "Sierra", "Silver",
    "Solstice", "Spruce", "Summit", "Tidal", "Topaz", "Umber", "Velvet", "Willow", "Zephyr", "Zinc",
)  # fmt: skip
_NOUNS = (
    "Anchor", "Badger", "Beacon", "Bison", "Canyon", "Comet", "Crane", "Delta", "Falcon", "Fern",
    "Fjord", "Forge", "Fox", "Glacier", "Grove", "Heron", "Horizon", "Lantern", "Lynx", "Marten",
    "Mesa", "Orbit", "Otter", "Owl", "Pebble", "Prairie", "Quill", "Ridge", "River", "Sparrow",
    "Spire", "Stone", "Thistle", "Tundra", "Valley", "Vertex", "Vista", "Walrus", "Wren", "Yarrow",
)  # fmt: skip
_KINDS = ("Studio", "Labs", "Works", "Partners", "Group", "Design", "Media", "Systems", "Foods", "Outfitters")
_SUFFIXES = ("", "", " Inc.", " Ltd", " LLC", " Corp.", " Co.")
_VARIANT_SUFFIX = {"": " Inc.", " Inc.": " Incorporated", " Ltd": " Limited", " LLC": " L.L.C."}
_VARIANT_SUFFIX |= {" Corp.": " Corporation", " Co.": " Company"}
_UNRELATED_WORDS = ("Northern", "Southern", "Eastern", "Western", "Central", "Coastal", "Inland", "Upper")
_UNRELATED_KINDS = ("Trading", "Logistics", "Hardware", "Bakery", "Dental", "Realty", "Plumbing", "Printing")

# (city, province/state, country, postal code, taxes)
_PLACES: tuple[tuple[str, str, str, str, tuple[Decimal, Decimal], int], ...] = (
    ("Montréal", "QC", "CA", "H2X 1Y4", (GST, QST), 30),
    ("Québec", "QC", "CA", "G1R 4P5", (GST, QST), 10),
    ("Laval", "QC", "CA", "H7N 5H9", (GST, QST), 10),
    ("Toronto", "ON", "CA", "M5V 2T6", (GST, NO_TAX), 15),
    ("Ottawa", "ON", "CA", "K1P 1J1", (GST, NO_TAX), 8),
    ("Vancouver", "BC", "CA", "V6B 1A1", (GST, NO_TAX), 7),
    ("Calgary", "AB", "CA", "T2P 1J9", (GST, NO_TAX), 5),
    ("New York", "NY", "US", "10001", (NO_TAX, NO_TAX), 8),
    ("Boston", "MA", "US", "02108", (NO_TAX, NO_TAX), 7),
)
_ITEMS = (
    "Design", "Development", "Consulting", "Project management", "Hosting", "Support",
    "Strategy workshop", "Copywriting", "Photography", "Software licence",
)  # fmt: skip
_PRICES = tuple(
    Decimal(p) for p in ("85", "95", "110", "120", "135", "150", "49.99", "19.95", "1250", "2400")
)
_QUANTITIES = tuple(Decimal(q) for q in ("1", "2", "3.5", "7.25", "10", "12.5", "0.75", "1.5", "16", "40"))
_DISCOUNTS = tuple(Decimal(d) for d in ("5", "7.5", "10", "12.5", "15"))
_EXPENSES = (
    ("Figma licence", "Software"),
    ("Train ticket", "Travel"),
    ("Mileage", "Mileage"),
    ("Stock photos", None),
    ("Courier", None),
    ("Cloud hosting", "Software"),
)
_DURATIONS = (900, 1800, 2700, 3600, 3660, 4500, 5400, 7200)


@dataclass(frozen=True)
class Dataset:
    """What was seeded, for the runs and the checks: ids, the period, and the counts that were made."""

    n: int
    seed: int
    date_from: dt.date
    date_to: dt.date
    invoice_ids: tuple[int, ...]
    client_ids: tuple[int, ...]
    counts: dict[str, int] = field(default_factory=dict)
    tax_combinations: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "seed": self.seed,
            "period": [self.date_from.isoformat(), self.date_to.isoformat()],
            **self.counts,
            "tax_combinations": dict(self.tax_combinations),
        }


def tax_combinations() -> set[tuple[str, ...]]:
    """The Paymo tax percent combinations the generator uses (for checking the policy maps them all)."""
    return {tuple(str(p) for p in taxes if p) for *_, taxes, _ in _PLACES}


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _day_in_period(rng: random.Random) -> dt.date:
    return PERIOD_FROM + dt.timedelta(days=rng.randrange((PERIOD_TO - PERIOD_FROM).days + 1))


@dataclass(frozen=True)
class _Client:
    id: int
    name: str
    email: str
    place: tuple[str, str, str, str, tuple[Decimal, Decimal], int]
    suffix: str
    base: str
    project_id: int
    task_id: int


def seed_volume(sandbox: Sandbox, n: int, *, seed: int = 7) -> Dataset:
    """Add N clients and invoices (with payments), N/2 expenses and 10·N time entries to Paymo, and the
    QBO customers some of those clients already have. The sandbox should start from the "empty" seed."""
    if n < 1:
        raise ValueError("N must be at least 1")
    rng = random.Random(seed)
    paymo = sandbox.paymo.state
    qbo = sandbox.qbo.state
    names = rng.sample(range(len(_ADJECTIVES) * len(_NOUNS) * len(_KINDS)), n)
    weights = [place[-1] for place in _PLACES]
    clients = [_client(paymo, rng, index, code, weights) for index, code in enumerate(names)]
    counts: Counter[str] = Counter(clients=n, projects=n, tasks=n)
    counts.update(_customers(qbo, rng, clients, n))
    combos: Counter[str] = Counter()
    invoice_ids: list[int] = []
    for index in range(n):
        # Most clients get one invoice of the month; some get a second one (their customer then exists).
        client = clients[index] if rng.random() < 0.8 else rng.choice(clients)
        invoice_id, payments = _invoice(paymo, rng, client, FIRST_INVOICE_NUMBER + index)
        invoice_ids.append(invoice_id)
        combos["+".join(str(p) for p in client.place[4] if p) or "untaxed"] += 1
        counts["invoice_payments"] += payments
    paymo.company["next_invoice_number"] = str(FIRST_INVOICE_NUMBER + n)
    counts["invoices"] = n
    counts["expenses"] = _expenses(paymo, rng, clients, n // 2)
    counts["time_entries"] = _entries(paymo, rng, clients, 10 * n)
    return Dataset(
        n=n,
        seed=seed,
        date_from=PERIOD_FROM,
        date_to=PERIOD_TO,
        invoice_ids=tuple(invoice_ids),
        client_ids=tuple(client.id for client in clients),
        counts=dict(counts),
        tax_combinations=dict(combos),
    )


def _client(paymo: PaymoState, rng: random.Random, index: int, code: int, weights: list[int]) -> _Client:
    adjective = _ADJECTIVES[code % len(_ADJECTIVES)]
    noun = _NOUNS[(code // len(_ADJECTIVES)) % len(_NOUNS)]
    kind = _KINDS[code // (len(_ADJECTIVES) * len(_NOUNS))]
    base = f"{adjective} {noun} {kind}"
    suffix = rng.choice(_SUFFIXES)
    place = rng.choices(_PLACES, weights=weights)[0]
    domain = f"{adjective}-{noun}-{kind}".lower()
    email = f"billing@{domain}.example"
    # Clients come into being over time, as in a real account (one a minute before the period): a catch-up
    # by `updated_on` finds the few changed since, not every client stamped with one shared second.
    created = dt.datetime(2026, 9, 1, 13, tzinfo=dt.UTC) - dt.timedelta(minutes=10_000 - index)
    client = _put(
        paymo,
        "clients",
        created,
        name=base + suffix,
        email=email,
        address=f"{100 + index % 900} {noun} Street",
        city=place[0],
        state=place[1],
        postal_code=place[3],
        country=place[2],
        website=f"https://{domain}.example",
        active=True,
    )
    project = _put(
        paymo,
        "projects",
        created,
        name=f"{base} retainer",
        code=f"P{index + 1}",
        task_code_increment=1,
        client_id=client["id"],
        users=list(USERS),
        managers=[USERS[0]],
        billable=True,
        price_per_hour=Decimal(120),
    )
    tasklist = _put(paymo, "tasklists", created, name="Work", project_id=project["id"], seq=1)
    task = _put(
        paymo,
        "tasks",
        created,
        name="Services",
        code=f"P{index + 1}-1",
        project_id=project["id"],
        tasklist_id=tasklist["id"],
        seq=1,
        user_id=USERS[0],
        users=list(USERS),
        billable=True,
    )
    return _Client(client["id"], client["name"], email, place, suffix, base, project["id"], task["id"])


def _put(state: PaymoState, collection: str, created: dt.datetime, /, **values: Any) -> Record:
    """Insert like the demo seed does: every schema field present, fixed timestamps, no webhook event."""
    return state.insert(
        collection,
        {"created_on": created, "updated_on": values.pop("updated_on", created), **values},
        event=False,
    )


def _customers(qbo: QboState, rng: random.Random, clients: list[_Client], n: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for client in clients:
        if rng.random() >= 0.4:
            continue
        name = client.name
        if rng.random() < 0.25:
            name = client.base + _VARIANT_SUFFIX.get(client.suffix, " Inc.")
            counts["qbo_customers_name_variant"] += 1
        city, region, country, postal, _, _ = client.place
        address = {"City": city, "CountrySubDivisionCode": region, "PostalCode": postal, "Country": country}
        _customer(qbo, name, client.email, address)
        counts["qbo_customers_existing"] += 1
    for index in range(n // 10):
        word = _UNRELATED_WORDS[index % len(_UNRELATED_WORDS)]
        kind = _UNRELATED_KINDS[(index // len(_UNRELATED_WORDS)) % len(_UNRELATED_KINDS)]
        name = f"{word} {kind} {index + 1}"
        email = f"office@{word.lower()}-{kind.lower()}-{index + 1}.example"
        _customer(qbo, name, email, {"City": "Sherbrooke", "CountrySubDivisionCode": "QC", "Country": "CA"})
        counts["qbo_customers_unrelated"] += 1
    return counts


def _customer(qbo: QboState, name: str, email: str, address: dict[str, str]) -> None:
    qbo.insert(
        "Customer",
        {
            "Taxable": True,
            "BillAddr": {"Id": qbo.next_address_id(), **address},
            "Job": False,
            "BillWithParent": False,
            "Balance": Decimal(0),
            "BalanceWithJobs": Decimal(0),
            "CurrencyRef": qbo.currency_ref(qbo.home_currency),
            "PreferredDeliveryMethod": "Print",
            "IsProject": False,
            "FullyQualifiedName": name,
            "CompanyName": name,
            "DisplayName": name,
            "PrintOnCheckName": name,
            "Active": True,
            "PrimaryEmailAddr": {"Address": email},
        },
    )


def _invoice(paymo: PaymoState, rng: random.Random, client: _Client, number: int) -> tuple[int, int]:
    day = _day_in_period(rng)
    tax, tax2 = client.place[4]
    discount = rng.choice(_DISCOUNTS) if rng.random() < 0.25 else Decimal(0)
    specs = [_line(rng) for _ in range(rng.randint(2, 5))]
    totals = compute_totals(
        (Line(price, quantity, taxed) for _, price, quantity, taxed in specs),
        tax=tax,
        tax2=tax2,
        tax_on_tax=False,
        discount=discount,
    )
    created = _at(day, 15)
    company = paymo.company
    invoice = _put(
        paymo,
        "invoices",
        created,
        number=f"INV-2026-{number}",
        client_id=client.id,
        status="sent",
        currency="CAD",
        date=day,
        due_date=day + dt.timedelta(days=30),
        tax=tax,
        tax2=tax2,
        tax_text="GST",
        tax2_text="QST" if tax2 else None,
        tax_on_tax=False,
        discount=discount,
        discount_text="Volume discount" if discount else None,
        subtotal=totals.subtotal,
        discount_amount=totals.discount_amount,
        tax_amount=totals.tax_amount,
        tax2_amount=totals.tax2_amount,
        total=totals.total,
        title="INVOICE",
        language="en",
        bill_to=f"{client.name}\n{client.place[0]}",
        company_info=f"{company.get('name')}\n{company.get('address')}",
        footer="Thank you for your business.",
    )
    invoice_id = int(invoice["id"])
    invoice["token"] = WriteContext.token("invoices", invoice_id)
    invoice["download_token"] = WriteContext.token("invoices-download", invoice_id)
    for seq, (item, price, quantity, taxed) in enumerate(specs):
        _put(
            paymo,
            "invoiceitems",
            created,
            invoice_id=invoice_id,
            item=item,
            description="",
            price_unit=price,
            quantity=quantity,
            apply_tax=taxed,
            seq=seq,
        )
    roll = rng.random()
    if roll >= 0.45 or totals.total <= 0:
        return invoice_id, 0
    if roll < 0.2:
        share = Decimal(rng.randint(30, 70)) / 100
        amount = (totals.total * share).quantize(Decimal("0.01"))
    else:
        amount = totals.total
    paid_on = min(day + dt.timedelta(days=rng.randint(3, 25)), PERIOD_TO + dt.timedelta(days=5))
    paid_at = _at(paid_on, 16)
    _put(
        paymo,
        "invoicepayments",
        paid_at,
        invoice_id=invoice_id,
        amount=amount,
        date=paid_on,
        notes="Transfer",
    )
    if amount >= totals.total:
        # What Paymo's own settlement does when payments reach the total (sandbox/paymo/billing.py).
        invoice["status"] = "paid"
        invoice["updated_on"] = paid_at
    return invoice_id, 1


def _line(rng: random.Random) -> tuple[str, Decimal, Decimal, bool]:
    price = rng.choice(_PRICES)
    # Flat fees come once or twice; hourly and unit prices take any quantity (some with cents).
    quantity = Decimal(rng.randint(1, 2)) if price >= 1000 else rng.choice(_QUANTITIES)
    return rng.choice(_ITEMS), price, quantity, rng.random() >= 0.1


def _expenses(paymo: PaymoState, rng: random.Random, clients: list[_Client], count: int) -> int:
    for _ in range(count):
        client = rng.choice(clients)
        name, tag = rng.choice(_EXPENSES)
        day = _day_in_period(rng)
        expense = _put(
            paymo,
            "expenses",
            _at(day, 20),
            client_id=client.id,
            project_id=client.project_id,
            user_id=rng.choice(USERS),
            name=name,
            amount=Decimal(rng.randint(1000, 50000)) / 100,
            currency="CAD",
            date=day,
            notes=name,
            invoiced=False,
            tags=[tag] if tag else [],
        )
        expense["download_token"] = WriteContext.token("expenses-download", int(expense["id"]))
    return count


def _entries(paymo: PaymoState, rng: random.Random, clients: list[_Client], count: int) -> int:
    for _ in range(count):
        client = rng.choice(clients)
        day = _day_in_period(rng)
        _put(
            paymo,
            "entries",
            _at(day, 22),
            task_id=client.task_id,
            project_id=client.project_id,
            user_id=rng.choice(USERS),
            is_bulk=True,
            date=day,
            duration=rng.choice(_DURATIONS),
            description="Services work",
            added_manually=True,
            billed=False,
        )
    return count
