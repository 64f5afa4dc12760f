"""The Paymo side of the demo agency (docs/sandbox.md), for both tax models, with fixed ids and totals.

Northwind Pixel Studio, a Montreal design agency (global model: CAD, GST 5 % as `tax`, QST 9.975 % as
`tax2`, not compound) or its New York office (US model: USD, one sales tax 8.875 %, no `tax2`; CAD and
USD swap roles, so Globex is billed in CAD). `seed="empty"` keeps only the company and the users.

Facts tests can rely on (every constant below is one of them):

- Company: name "Northwind Pixel Studio"; `invoice_format` "INV-[yyyy]-[i]", `next_invoice_number`
  "1043"; `estimate_format` "EST-[yyyy]-[i]", `next_estimate_number` "8"; `due_interval` "30";
  `tax_on_tax` "0"; `apply_tax_to_expenses` "0"; time zone America/Montreal (US: America/New_York).
- Users: 1 Alice Tremblay (Admin, 150/h, API key `ALICE_API_KEY`, password `ALICE_PASSWORD`),
  2 Ben Okafor (Employee, 120/h, API key `BEN_API_KEY`), 3 Chloé Gagnon (Employee, 110/h, no key).
- Clients 10001–10012 (`CLIENT_IDS`), projects 20001–20005, task lists 25001–25005, tasks
  30001–30013, time entries 40001–40019 (40001–40004 billed on INV-2026-1039; durations include
  4 500, 5 400, 2 700 and 3 660 s; both bulk and start/end entries; no running timer).
- Invoices 50001–50008 = INV-2026-1035 … INV-2026-1042 (`INVOICE_IDS`), lines 55001–55015, totals in
  `INVOICE_TOTALS[tax_model]`; payments 58001 (40 % of INV-2026-1035) and 58002 (INV-2026-1036 in full).
- Expenses 60001–60005: Software, Travel, Mileage, one in `US$` (60004), one invoiced (60005, on the
  Hosting line 55003 of INV-2026-1035).
- Estimate 70001 "EST-2026-7" for Stark Industries, accepted, lines 75001–75003, total in `ESTIMATE_TOTALS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from paymo_qb_mcp.sandbox.paymo.arithmetic import Line, compute_totals
from paymo_qb_mcp.sandbox.paymo.context import WriteContext
from paymo_qb_mcp.sandbox.paymo.state import PaymoState, Record

TaxModel = Literal["global", "us"]

ALICE_ID, BEN_ID, CHLOE_ID = 1, 2, 3
ALICE_API_KEY = "5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"
BEN_API_KEY = "9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5b"
ALICE_EMAIL = "alice@northwindpixel.example"
ALICE_PASSWORD = "northwind-sandbox-alice"

ACME, CAFE_LUMIERE, SMITH_AND_SONS, GLOBEX, INITECH, JONES = 10001, 10002, 10003, 10004, 10005, 10006
UMBRELLA, STARK, WAYNE, HOOLI, OREILLY, SOYLENT = 10007, 10008, 10009, 10010, 10011, 10012

CLIENT_IDS: dict[str, int] = {
    "Acme Corporation": ACME,
    "Café Lumière S.A.": CAFE_LUMIERE,
    "Smith & Sons LLC": SMITH_AND_SONS,
    "Globex GmbH": GLOBEX,
    "Initech": INITECH,
    "Jones Consulting": JONES,
    "Umbrella Health": UMBRELLA,
    "Stark Industries": STARK,
    "Wayne Enterprises": WAYNE,
    "Hooli": HOOLI,
    "O’Reilly Media": OREILLY,
    "Soylent: Foods": SOYLENT,
}

ACME_WEBSITE, CAFE_BRAND_REFRESH, GLOBEX_PIPELINE, STARK_PROTOTYPE, SMITH_RETAINER = (
    20001,
    20002,
    20003,
    20004,
    20005,
)
TASK_DESIGN, TASK_DEVELOPMENT, TASK_INTERNAL_QA = 30001, 30002, 30003
TASK_STRATEGY_SESSIONS, TASK_SUPPORT = 30012, 30013

INVOICE_IDS: dict[str, int] = {f"INV-2026-{1035 + n}": 50001 + n for n in range(8)}
INVOICE_STATUSES: dict[str, str] = {
    "INV-2026-1035": "sent",
    "INV-2026-1036": "paid",
    "INV-2026-1037": "sent",
    "INV-2026-1038": "void",
    "INV-2026-1039": "sent",
    "INV-2026-1040": "draft",
    "INV-2026-1041": "sent",
    "INV-2026-1042": "sent",
}
# Hand-computed with the rule in docs/sandbox.md; a test recomputes them independently.
INVOICE_TOTALS: dict[TaxModel, dict[str, Decimal]] = {
    "global": {
        "INV-2026-1035": Decimal("5089.52"),
        "INV-2026-1036": Decimal("6898.50"),
        "INV-2026-1037": Decimal("5702.40"),
        "INV-2026-1038": Decimal("2069.55"),
        "INV-2026-1039": Decimal("623.62"),
        "INV-2026-1040": Decimal("11842.43"),
        "INV-2026-1041": Decimal("2874.38"),
        "INV-2026-1042": Decimal("1350.23"),
    },
    "us": {
        "INV-2026-1035": Decimal("4821.88"),
        "INV-2026-1036": Decimal("6532.50"),
        "INV-2026-1037": Decimal("5702.40"),
        "INV-2026-1038": Decimal("1959.75"),
        "INV-2026-1039": Decimal("590.54"),
        "INV-2026-1040": Decimal("11214.13"),
        "INV-2026-1041": Decimal("2721.88"),
        "INV-2026-1042": Decimal("1283.13"),
    },
}
PAYMENT_IDS = (58001, 58002)
PAYMENT_AMOUNTS: dict[TaxModel, dict[str, Decimal]] = {
    "global": {"INV-2026-1035": Decimal("2035.81"), "INV-2026-1036": Decimal("6898.50")},
    "us": {"INV-2026-1035": Decimal("1928.75"), "INV-2026-1036": Decimal("6532.50")},
}
EXPENSE_SOFTWARE, EXPENSE_TRAVEL, EXPENSE_MILEAGE, EXPENSE_US_DOLLAR, EXPENSE_INVOICED = (
    60001,
    60002,
    60003,
    60004,
    60005,
)
ESTIMATE_ID = 70001
ESTIMATE_NUMBER = "EST-2026-7"
ESTIMATE_TOTALS: dict[TaxModel, Decimal] = {"global": Decimal("28743.75"), "us": Decimal("27218.75")}
BILLED_ENTRY_IDS = (40001, 40002, 40003, 40004)


@dataclass(frozen=True)
class TaxSetup:
    home_currency: str
    foreign_currency: str
    tax: Decimal
    tax_text: str
    tax2: Decimal
    tax2_text: str
    timezone: str
    country: str


TAX_SETUPS: dict[TaxModel, TaxSetup] = {
    "global": TaxSetup("CAD", "USD", Decimal("5"), "GST", Decimal("9.975"), "QST", "America/Montreal", "CA"),
    "us": TaxSetup("USD", "CAD", Decimal("8.875"), "Sales Tax", Decimal("0"), "", "America/New_York", "US"),
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SEEDED_AT = _at("2024-01-15T14:00:00")


def load(state: PaymoState, *, seed: Literal["demo", "empty"], tax_model: TaxModel) -> None:
    setup = TAX_SETUPS[tax_model]
    _company(state, setup, tax_model)
    _users(state, setup)
    if seed == "demo":
        _clients(state)
        _projects(state)
        _entries(state)
        _expenses(state, setup)
        _invoices(state, setup, tax_model)
        _estimate(state, setup)


def _put(db: PaymoState, collection: str, record_id: int, created: datetime, /, **values: Any) -> Record:
    return db.insert(
        collection,
        {"id": record_id, "created_on": created, "updated_on": values.pop("updated_on", created), **values},
        event=False,
    )


def _company(state: PaymoState, setup: TaxSetup, tax_model: TaxModel) -> None:
    address = (
        "1250 Rue Sainte-Catherine O, Montréal, QC H3B 1E6"
        if tax_model == "global"
        else "350 5th Ave, New York, NY 10118"
    )
    state.company.update(
        {
            "id": 1,
            "name": "Northwind Pixel Studio",
            "address": address,
            "phone": "+1 514 555 0199" if tax_model == "global" else "+1 212 555 0199",
            "email": "billing@northwindpixel.example",
            "url": "https://northwindpixel.example",
            "fiscal_information": (
                "GST 123456789 RT0001 / QST 1234567890 TQ0001" if tax_model == "global" else "EIN 12-3456789"
            ),
            "country": setup.country,
            "image": None,
            "active": True,
            "account_type": "commercial",
            "created_on": SEEDED_AT,
            "updated_on": SEEDED_AT,
            "apply_tax_to_expenses": "0",
            "date_format": "Y-m-d",
            "default_currency": setup.home_currency,
            "default_price_per_hour": "150",
            "default_tax": str(setup.tax),
            "default_tax2": str(setup.tax2),
            "default_tax_text": setup.tax_text,
            "default_tax2_text": setup.tax2_text,
            "due_interval": "30",
            "estimate_format": "EST-[yyyy]-[i]",
            "hide_tax_field": "",
            "invoice_format": "INV-[yyyy]-[i]",
            "language": "en",
            "next_estimate_number": "8",
            "next_invoice_number": "1043",
            "payment_reminder_1": "0",
            "payment_reminder_2": "0",
            "payment_reminder_3": "0",
            "remove_paymo_branding": "",
            "tax_on_tax": "0",
            "timezone": setup.timezone,
            "time_format": "H:i",
            "week_start": "1",
            "workday_start": "09:00",
            "workday_end": "17:00",
            "working_days": "1,2,3,4,5",
            "decimal_sep": ".",
            "thousands_sep": ",",
            "online_payments": False,
            "max_users": None,
            "max_projects": None,
            "max_invoices": None,
        }
    )


def _users(state: PaymoState, setup: TaxSetup) -> None:
    people = (
        (ALICE_ID, "Alice Tremblay", ALICE_EMAIL, "Admin", "150", "Managing Director"),
        (BEN_ID, "Ben Okafor", "ben@northwindpixel.example", "Employee", "120", "Developer"),
        (CHLOE_ID, "Chloé Gagnon", "chloe@northwindpixel.example", "Employee", "110", "Designer"),
    )
    for user_id, name, email, kind, rate, position in people:
        _put(
            state,
            "users",
            user_id,
            SEEDED_AT,
            name=name,
            email=email,
            type=kind,
            active=True,
            timezone=setup.timezone,
            phone=None,
            skype=None,
            position=position,
            workday_hours=Decimal(8),
            price_per_hour=Decimal(rate),
            date_format="Y-m-d",
            time_format="H:i",
            decimal_sep=".",
            thousands_sep=",",
            week_start="1",
            language="en",
            theme="default",
        )
    state.api_keys[ALICE_API_KEY] = ALICE_ID
    state.api_keys[BEN_API_KEY] = BEN_ID
    state.passwords[ALICE_ID] = ALICE_PASSWORD


def _clients(state: PaymoState) -> None:
    created = _at("2026-09-01T13:00:00")
    rows: tuple[tuple[int, str, str, str, str, str, str, str], ...] = (
        (ACME, "Acme Corporation", "ap@acme.example", "500 Industrial Way", "Toronto", "ON", "M5V 2T6", "CA"),
        (
            CAFE_LUMIERE,
            "Café Lumière S.A.",
            "compta@cafe-lumiere.example",
            "2100 Rue Saint-Denis",
            "Montréal",
            "QC",
            "H2X 3K9",
            "CA",
        ),
        (
            SMITH_AND_SONS,
            "Smith & Sons LLC",
            "office@smithsons.example",
            "77 Pearl St",
            "Buffalo",
            "NY",
            "14202",
            "US",
        ),
        (GLOBEX, "Globex GmbH", "finance@globex.example", "Friedrichstraße 100", "Berlin", "", "10117", "DE"),
        (INITECH, "Initech", "accounts@initech.example", "4120 Freidrich Ln", "Austin", "TX", "78744", "US"),
        (
            JONES,
            "Jones Consulting",
            "hello@jonesconsulting.example",
            "4500 Rue Sherbrooke O",
            "Montréal",
            "QC",
            "H3Z 1E6",
            "CA",
        ),
        (
            UMBRELLA,
            "Umbrella Health",
            "info@umbrella.example",
            "1 Umbrella Plaza",
            "Ottawa",
            "ON",
            "K1P 1J1",
            "CA",
        ),
        (
            STARK,
            "Stark Industries",
            "tony@stark.example",
            "10880 Malibu Point",
            "Malibu",
            "CA",
            "90265",
            "US",
        ),
        (
            WAYNE,
            "Wayne Enterprises",
            "bruce@wayne.example",
            "1007 Mountain Drive",
            "Gotham",
            "NJ",
            "07001",
            "US",
        ),
        (HOOLI, "Hooli", "gavin@hooli.example", "1 Hooli Way", "Palo Alto", "CA", "94301", "US"),
        (
            OREILLY,
            "O’Reilly Media",
            "orders@oreilly.example",
            "1005 Gravenstein Hwy N",
            "Sebastopol",
            "CA",
            "95472",
            "US",
        ),
        (
            SOYLENT,
            "Soylent: Foods",
            "hello@soylent.example",
            "2022 Green St",
            "Los Angeles",
            "CA",
            "90012",
            "US",
        ),
    )
    for client_id, name, email, address, city, region, postal_code, country in rows:
        _put(
            state,
            "clients",
            client_id,
            created,
            name=name,
            email=email,
            address=address,
            city=city,
            state=region or None,
            postal_code=postal_code,
            country=country,
            phone=None,
            fax=None,
            website=None,
            fiscal_information=None,
            active=True,
        )
    contacts = (
        (15001, ACME, "Dana Whitfield", "dana.whitfield@acme.example", "Accounts Payable"),
        (15002, CAFE_LUMIERE, "Élodie Roy", "elodie@cafe-lumiere.example", "Directrice"),
        (15003, UMBRELLA, "Alexia Ashford", "alexia@umbrella.example", "Procurement"),
    )
    for contact_id, client_id, name, email, position in contacts:
        _put(
            state,
            "clientcontacts",
            contact_id,
            created,
            client_id=client_id,
            name=name,
            email=email,
            position=position,
            is_main=True,
            access=False,
        )


def _projects(state: PaymoState) -> None:
    created = _at("2026-09-02T14:00:00")
    projects: tuple[tuple[int, str, str, int, dict[str, Any]], ...] = (
        (
            ACME_WEBSITE,
            "Acme Website Redesign",
            "AWR",
            ACME,
            {"price_per_hour": Decimal(150), "budget_hours": Decimal(120)},
        ),
        (
            CAFE_BRAND_REFRESH,
            "Café Lumière Brand Refresh",
            "CLB",
            CAFE_LUMIERE,
            {"flat_billing": True, "price": Decimal(12000)},
        ),
        (
            GLOBEX_PIPELINE,
            "Globex Data Pipeline",
            "GDP",
            GLOBEX,
            {"price_per_hour": Decimal(140), "budget_hours": Decimal(200)},
        ),
        (
            STARK_PROTOTYPE,
            "Stark Prototype",
            "STP",
            STARK,
            {"flat_billing": True, "price": Decimal(25000), "estimated_price": Decimal(25000)},
        ),
        (SMITH_RETAINER, "Smith & Sons Retainer", "SSR", SMITH_AND_SONS, {"price_per_hour": Decimal(120)}),
    )
    tasks_by_project: dict[int, tuple[tuple[int, str, bool, dict[str, Any]], ...]] = {
        ACME_WEBSITE: (
            (TASK_DESIGN, "Design", True, {}),
            (TASK_DEVELOPMENT, "Development", True, {}),
            (TASK_INTERNAL_QA, "Internal QA", False, {}),
        ),
        CAFE_BRAND_REFRESH: (
            (30004, "Brand strategy", True, {"budget_hours": Decimal(20)}),
            (30005, "Visual identity", True, {"budget_hours": Decimal(40)}),
            (30006, "Brand guidelines", True, {"budget_hours": Decimal(16)}),
        ),
        GLOBEX_PIPELINE: (
            (30007, "Pipeline architecture", True, {}),
            (30008, "ETL development", True, {}),
        ),
        STARK_PROTOTYPE: (
            (
                30009,
                "Industrial design",
                True,
                {"budget_hours": Decimal(60), "estimated_price": Decimal(9000)},
            ),
            (
                30010,
                "Electronics prototyping",
                True,
                {"budget_hours": Decimal(80), "estimated_price": Decimal(12000)},
            ),
            (30011, "User testing", True, {"budget_hours": Decimal(25), "estimated_price": Decimal(4000)}),
        ),
        SMITH_RETAINER: (
            (TASK_STRATEGY_SESSIONS, "Strategy sessions", True, {}),
            (TASK_SUPPORT, "Support", True, {}),
        ),
    }
    for offset, (project_id, name, code, client_id, billing) in enumerate(projects):
        tasks = tasks_by_project[project_id]
        _put(
            state,
            "projects",
            project_id,
            created,
            name=name,
            code=code,
            task_code_increment=len(tasks),
            client_id=client_id,
            users=[ALICE_ID, BEN_ID, CHLOE_ID],
            managers=[ALICE_ID],
            billable=True,
            **billing,
        )
        tasklist_id = 25001 + offset
        _put(state, "tasklists", tasklist_id, created, name="Work", project_id=project_id, seq=1)
        for seq, (task_id, task_name, billable, extra) in enumerate(tasks, start=1):
            _put(
                state,
                "tasks",
                task_id,
                created,
                name=task_name,
                code=f"{code}-{seq}",
                project_id=project_id,
                tasklist_id=tasklist_id,
                seq=seq,
                user_id=ALICE_ID,
                users=[ALICE_ID, BEN_ID, CHLOE_ID],
                billable=billable,
                flat_billing=bool(billing.get("flat_billing")),
                **extra,
            )


# (id, user, task, bulk date or (start, end), duration for bulk, invoice line that billed it)
_ENTRIES: tuple[tuple[int, int, int, str, str | None, int | None, int | None], ...] = (
    (40001, BEN_ID, TASK_STRATEGY_SESSIONS, "2026-10-06", None, 4500, 55009),
    (40002, ALICE_ID, TASK_STRATEGY_SESSIONS, "2026-10-13T14:00:00", "2026-10-13T15:30:00", None, 55009),
    (40003, CHLOE_ID, TASK_STRATEGY_SESSIONS, "2026-10-20", None, 2700, 55009),
    (40004, BEN_ID, TASK_SUPPORT, "2026-10-27T18:00:00", "2026-10-27T19:01:00", None, 55010),
    (40005, ALICE_ID, TASK_STRATEGY_SESSIONS, "2026-11-03", None, 3600, None),
    (40006, BEN_ID, TASK_SUPPORT, "2026-11-05T15:00:00", "2026-11-05T15:45:00", None, None),
    (40007, ALICE_ID, TASK_DESIGN, "2026-10-01", None, 14400, None),
    (40008, CHLOE_ID, TASK_DESIGN, "2026-10-08T13:30:00", "2026-10-08T16:00:00", None, None),
    (40009, BEN_ID, TASK_DEVELOPMENT, "2026-10-14", None, 27000, None),
    (40010, BEN_ID, TASK_DEVELOPMENT, "2026-11-04T14:00:00", "2026-11-04T15:15:00", None, None),
    (40011, CHLOE_ID, TASK_INTERNAL_QA, "2026-11-06", None, 5400, None),
    (40012, ALICE_ID, TASK_DESIGN, "2026-11-09T19:00:00", "2026-11-09T20:01:00", None, None),
    (40013, ALICE_ID, 30007, "2026-10-12", None, 28800, None),
    (40014, BEN_ID, 30008, "2026-10-21T13:00:00", "2026-10-21T18:30:00", None, None),
    (40015, BEN_ID, 30008, "2026-11-11", None, 5400, None),
    (40016, CHLOE_ID, 30005, "2026-10-16", None, 21600, None),
    (40017, ALICE_ID, 30004, "2026-10-07T14:00:00", "2026-10-07T16:15:00", None, None),
    (40018, BEN_ID, 30010, "2026-11-16", None, 14400, None),
    (40019, CHLOE_ID, 30009, "2026-11-17T14:00:00", "2026-11-17T15:15:00", None, None),
)


def _entries(state: PaymoState) -> None:
    for entry_id, user_id, task_id, start, end, duration, line_id in _ENTRIES:
        task = state.tables["tasks"][task_id]
        common: dict[str, Any] = {
            "task_id": task_id,
            "project_id": task["project_id"],
            "user_id": user_id,
            "description": f"{task['name']} work",
            "added_manually": True,
            "billed": line_id is not None,
            "invoice_item_id": line_id,
        }
        if end is None:
            day = date.fromisoformat(start)
            created = _at(f"{start}T22:00:00")
            _put(state, "entries", entry_id, created, is_bulk=True, date=day, duration=duration, **common)
        else:
            started, ended = _at(start), _at(end)
            seconds = int((ended - started).total_seconds())
            _put(
                state,
                "entries",
                entry_id,
                ended,
                is_bulk=False,
                start_time=started,
                end_time=ended,
                duration=seconds,
                **common,
            )
        if line_id is not None:
            state.tables["entries"][entry_id]["updated_on"] = _at("2026-11-02T15:00:00")


def _expenses(state: PaymoState, setup: TaxSetup) -> None:
    rows = (
        (
            EXPENSE_SOFTWARE,
            ACME,
            ACME_WEBSITE,
            ALICE_ID,
            "Figma",
            "75.00",
            setup.home_currency,
            "2026-10-03",
            "Software",
            None,
        ),
        (
            EXPENSE_TRAVEL,
            STARK,
            STARK_PROTOTYPE,
            BEN_ID,
            "Train Montréal–Toronto",
            "142.35",
            setup.home_currency,
            "2026-11-13",
            "Travel",
            None,
        ),
        (
            EXPENSE_MILEAGE,
            CAFE_LUMIERE,
            CAFE_BRAND_REFRESH,
            CHLOE_ID,
            "Mileage 120 km",
            "84.00",
            setup.home_currency,
            "2026-10-16",
            "Mileage",
            None,
        ),
        # Paymo's non-ISO code for US dollars, in both models, so currency normalisation is exercised.
        (
            EXPENSE_US_DOLLAR,
            GLOBEX,
            GLOBEX_PIPELINE,
            ALICE_ID,
            "AWS hosting — October",
            "298.17",
            "US$",
            "2026-10-31",
            "Software",
            None,
        ),
        (
            EXPENSE_INVOICED,
            ACME,
            ACME_WEBSITE,
            ALICE_ID,
            "Web hosting",
            "49.99",
            setup.home_currency,
            "2026-09-30",
            "Software",
            55003,
        ),
    )
    for expense_id, client_id, project_id, user_id, name, amount, currency, day, tag, line_id in rows:
        _put(
            state,
            "expenses",
            expense_id,
            _at(f"{day}T20:00:00"),
            client_id=client_id,
            project_id=project_id,
            user_id=user_id,
            name=name,
            amount=Decimal(amount),
            currency=currency,
            date=date.fromisoformat(day),
            notes=name,
            invoiced=line_id is not None,
            invoice_item_id=line_id,
            tags=[tag],
            download_token=WriteContext.token("expenses-download", expense_id),
        )


# (line id, item, price_unit, quantity, apply_tax, expense_id)
_LineSpec = tuple[int, str, str, str, bool, int | None]


@dataclass(frozen=True)
class _InvoiceSpec:
    number: str
    client_id: int
    foreign: bool
    day: str
    due: str
    status: str
    taxed: bool
    discount: str
    lines: tuple[_LineSpec, ...]
    updated: str


_INVOICES: tuple[_InvoiceSpec, ...] = (
    _InvoiceSpec(
        "INV-2026-1035",
        ACME,
        False,
        "2026-10-05",
        "2026-11-04",
        "sent",
        True,
        "10",
        (
            (55001, "Design", "150", "20", True, None),
            (55002, "Development", "150", "12.5", True, None),
            (55003, "Hosting", "49.99", "1", False, EXPENSE_INVOICED),
        ),
        "2026-10-25T16:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1036",
        CAFE_LUMIERE,
        False,
        "2026-10-09",
        "2026-11-08",
        "paid",
        True,
        "0",
        ((55004, "Brand refresh — phase 1", "6000", "1", True, None),),
        "2026-10-20T16:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1037",
        GLOBEX,
        True,
        "2026-10-15",
        "2026-11-14",
        "sent",
        False,
        "0",
        (
            (55005, "Pipeline architecture", "140", "16", True, None),
            (55006, "ETL development", "140", "22.5", True, None),
            (55007, "Cloud hosting — September", "312.40", "1", False, None),
        ),
        "2026-10-15T18:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1038",
        INITECH,
        False,
        "2026-10-20",
        "2026-11-19",
        "void",
        True,
        "0",
        ((55008, "Discovery workshop", "1800", "1", True, None),),
        "2026-10-22T13:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1039",
        SMITH_AND_SONS,
        False,
        "2026-11-02",
        "2026-12-02",
        "sent",
        True,
        "0",
        (
            (55009, "Strategy sessions — October 2026", "120", "3.5", True, None),
            (55010, "Support — October 2026", "120", "1.02", True, None),
        ),
        "2026-11-02T15:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1040",
        ACME,
        False,
        "2026-11-10",
        "2026-12-10",
        "draft",
        True,
        "0",
        (
            (55011, "Website redesign — milestone 2", "8500", "1", True, None),
            (55012, "Development", "150", "12", True, None),
        ),
        "2026-11-10T15:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1041",
        STARK,
        False,
        "2026-11-12",
        "2026-12-12",
        "sent",
        True,
        "0",
        ((55013, "Prototype — deposit", "2500", "1", True, None),),
        "2026-11-12T17:00:00",
    ),
    _InvoiceSpec(
        "INV-2026-1042",
        JONES,
        False,
        "2025-12-15",
        "2026-01-14",
        "sent",
        True,
        "0",
        (
            (55014, "Consulting — December", "110", "10", True, None),
            (55015, "Travel expenses", "85.50", "1", False, None),
        ),
        "2025-12-15T18:00:00",
    ),
)


def _invoices(state: PaymoState, setup: TaxSetup, tax_model: TaxModel) -> None:
    for spec in _INVOICES:
        invoice_id = INVOICE_IDS[spec.number]
        created = _at(f"{spec.day}T15:00:00")
        client = state.tables["clients"][spec.client_id]
        header = _document_header(state, setup, spec.client_id, spec.taxed, spec.foreign)
        lines = [
            Line(price_unit=Decimal(price), quantity=Decimal(quantity), apply_tax=taxed)
            for _, _, price, quantity, taxed, _ in spec.lines
        ]
        totals = compute_totals(
            lines, tax=header["tax"], tax2=header["tax2"], tax_on_tax=False, discount=Decimal(spec.discount)
        )
        _put(
            state,
            "invoices",
            invoice_id,
            created,
            updated_on=_at(spec.updated),
            number=spec.number,
            status=spec.status,
            date=date.fromisoformat(spec.day),
            due_date=date.fromisoformat(spec.due),
            discount=Decimal(spec.discount),
            discount_text="Loyalty discount" if spec.discount != "0" else None,
            subtotal=totals.subtotal,
            discount_amount=totals.discount_amount,
            tax_amount=totals.tax_amount,
            tax2_amount=totals.tax2_amount,
            total=totals.total,
            title="INVOICE",
            language="en",
            token=WriteContext.token("invoices", invoice_id),
            download_token=WriteContext.token("invoices-download", invoice_id),
            bill_to=f"{client['name']}\n{client['address']}\n{client['city']}",
            **header,
        )
        for seq, (line_id, item, price, quantity, taxed, expense_id) in enumerate(spec.lines):
            _put(
                state,
                "invoiceitems",
                line_id,
                created,
                invoice_id=invoice_id,
                item=item,
                description="",
                price_unit=Decimal(price),
                quantity=Decimal(quantity),
                apply_tax=taxed,
                seq=seq,
                expense_id=expense_id,
            )
        if spec.number in PAYMENT_AMOUNTS[tax_model]:
            payment_id = PAYMENT_IDS[0] if spec.number == "INV-2026-1035" else PAYMENT_IDS[1]
            paid_at = _at(spec.updated)
            _put(
                state,
                "invoicepayments",
                payment_id,
                paid_at,
                invoice_id=invoice_id,
                amount=PAYMENT_AMOUNTS[tax_model][spec.number],
                date=paid_at.date(),
                notes="Bank transfer",
            )


def _document_header(
    state: PaymoState, setup: TaxSetup, client_id: int, taxed: bool, foreign: bool
) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "currency": setup.foreign_currency if foreign else setup.home_currency,
        "tax": setup.tax if taxed else Decimal(0),
        "tax2": setup.tax2 if taxed else Decimal(0),
        "tax_text": setup.tax_text,
        "tax2_text": setup.tax2_text or None,
        "tax_on_tax": False,
        "company_info": f"{state.company['name']}\n{state.company['address']}",
        "footer": "Thank you for your business.",
    }


def _estimate(state: PaymoState, setup: TaxSetup) -> None:
    created = _at("2026-09-20T15:00:00")
    lines = (
        (75001, "Industrial design", "9000"),
        (75002, "Electronics prototyping", "12000"),
        (75003, "User testing", "4000"),
    )
    header = _document_header(state, setup, STARK, taxed=True, foreign=False)
    totals = compute_totals(
        (Line(Decimal(price), Decimal(1), True) for _, _, price in lines),
        tax=header["tax"],
        tax2=header["tax2"],
        tax_on_tax=False,
        discount=Decimal(0),
    )
    _put(
        state,
        "estimates",
        ESTIMATE_ID,
        created,
        updated_on=_at("2026-09-28T12:00:00"),
        number=ESTIMATE_NUMBER,
        status="accepted",
        date=created.date(),
        discount=Decimal(0),
        subtotal=totals.subtotal,
        discount_amount=totals.discount_amount,
        tax_amount=totals.tax_amount,
        tax2_amount=totals.tax2_amount,
        total=totals.total,
        title="ESTIMATE",
        brief_description="Stark prototype — fixed price",
        token=WriteContext.token("estimates", ESTIMATE_ID),
        download_token=WriteContext.token("estimates-download", ESTIMATE_ID),
        **header,
    )
    for seq, (line_id, item, price) in enumerate(lines):
        _put(
            state,
            "estimateitems",
            line_id,
            created,
            estimate_id=ESTIMATE_ID,
            item=item,
            description="",
            price_unit=Decimal(price),
            quantity=Decimal(1),
            apply_tax=True,
            seq=seq,
        )
