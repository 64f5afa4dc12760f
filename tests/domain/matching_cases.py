"""The labelled set for client ↔ customer matching: one Paymo client, the QBO customers, the truth.

``truth`` is the id of the customer that is the same organisation (None when none is); ``expect``
pins the decision where it matters (ambiguous on purpose, none on purpose). Every case also gets
the QBO sandbox's unrelated sample customers, so matching happens in a realistic crowd.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paymo_qb_mcp.domain.matching import MatchDecision, PaymoClientView, QboCustomerView

_next_client_id = iter(range(1, 10_000))


def client(
    name: str,
    email: str | None = None,
    *,
    city: str | None = None,
    country: str | None = None,
    website: str | None = None,
    contacts: tuple[str, ...] = (),
    currency: str | None = None,
    client_id: int | None = None,
) -> PaymoClientView:
    return PaymoClientView(
        id=client_id if client_id is not None else next(_next_client_id),
        name=name,
        email=email,
        contact_emails=contacts,
        city=city,
        country=country,
        website=website,
        currency=currency,
    )


def customer(
    customer_id: str,
    display_name: str,
    email: str | None = None,
    *,
    company: str | None = None,
    city: str | None = None,
    country: str | None = None,
    website: str | None = None,
    active: bool = True,
    currency: str | None = None,
    notes: str | None = None,
) -> QboCustomerView:
    return QboCustomerView(
        id=customer_id,
        display_name=display_name,
        company_name=company,
        email=email,
        bill_city=city,
        bill_country=country,
        website=website,
        active=active,
        currency=currency,
        notes=notes,
    )


@dataclass(frozen=True)
class MatchCase:
    label: str
    category: str
    client: PaymoClientView
    customers: tuple[QboCustomerView, ...]
    truth: str | None
    expect: MatchDecision | None = None
    linked_customer_id: str | None = None
    reasons_contain: tuple[str, ...] = field(default=())


# The unrelated customers every QBO sandbox company ships with (quickbooks-api.md §12.15).
BACKGROUND: tuple[QboCustomerView, ...] = tuple(
    customer(f"bg{index}", name, email)
    for index, (name, email) in enumerate(
        [
            ("Amy's Bird Sanctuary", "birds@intuit.com"),
            ("Bill's Windsurf Shop", "surf@intuit.com"),
            ("Cool Cars", "cool_cars@intuit.com"),
            ("Diego Rodriguez", "diego@rodriguez.com"),
            ("Dukes Basketball Camp", "dukes_bball@intuit.com"),
            ("Freeman Sporting Goods", "sporting_goods@intuit.com"),
            ("Geeta Kalapatapu", "geeta@kalapatapu.com"),
            ("Gevelber Photography", "photography@intuit.com"),
            ("Jeff's Jalopies", "jalopies@intuit.com"),
            ("Kookies by Kathy", "qbwebsamplecompany@yahoo.com"),
            ("Paulsen Medical Supplies", "medical@intuit.com"),
            ("Pye's Cakes", "pyescakes@intuit.com"),
            ("Rago Travel Agency", "rago_travel@intuit.com"),
            ("Red Rock Diner", "qbwebsamplecompany@yahoo.com"),
            ("Sonnenschein Family Store", "familystore@intuit.com"),
            ("Sushi by Katsuyuki", "sushi@intuit.com"),
            ("Video Games by Dan", "videogames@intuit.com"),
            ("Weiskopf Consulting", "consulting@intuit.com"),
        ],
        start=1,
    )
)


def case(
    label: str,
    category: str,
    paymo: PaymoClientView,
    customers: list[QboCustomerView],
    truth: str | None,
    *,
    expect: MatchDecision | None = None,
    linked: str | None = None,
    reasons: tuple[str, ...] = (),
) -> MatchCase:
    return MatchCase(label, category, paymo, (*customers, *BACKGROUND), truth, expect, linked, reasons)


CASES: list[MatchCase] = [
    # ---------------------------------------------------------------- legal suffixes
    case(
        "Acme Corporation / ACME Corp. (seed)",
        "legal suffix",
        client("Acme Corporation", "ap@acme.example"),
        [customer("t", "ACME Corp.", "billing@acme.example")],
        "t",
        reasons=("same organisation domain (acme.example)",),
    ),
    case(
        "Initech / Initech Inc (seed, same e-mail)",
        "legal suffix",
        client("Initech", "accounts@initech.example"),
        [customer("t", "Initech Inc", "accounts@initech.example")],
        "t",
        reasons=("same e-mail accounts@initech.example",),
    ),
    case(
        "Globex GmbH / Globex in USD (seed)",
        "legal suffix",
        client("Globex GmbH", "finance@globex.example", currency="USD"),
        [customer("t", "Globex", currency="USD")],
        "t",
    ),
    case(
        "Vandelay Industries LLC / Vandelay Industries, L.L.C.",
        "legal suffix",
        client("Vandelay Industries LLC", "art@vandelay.example"),
        [customer("t", "Vandelay Industries, L.L.C.")],
        "t",
    ),
    case(
        "Dunder Mifflin Paper Company, Inc. / Dunder Mifflin Paper",
        "legal suffix",
        client("Dunder Mifflin Paper Company, Inc."),
        [customer("t", "Dunder Mifflin Paper", "accounting@dundermifflin.example")],
        "t",
    ),
    case(
        "Tyrell Ltd / Tyrell Limited",
        "legal suffix",
        client("Tyrell Ltd", "eldon@tyrell.example"),
        [customer("t", "Tyrell Limited", "ap@tyrell.example")],
        "t",
    ),
    case(
        "Müller Maschinenbau GmbH & Co. KG / Muller Maschinenbau",
        "legal suffix",
        client("Müller Maschinenbau GmbH & Co. KG", country="Deutschland"),
        [customer("t", "Muller Maschinenbau", country="DEU")],
        "t",
    ),
    case(
        "Rossi S.p.A. / Rossi SpA",
        "legal suffix",
        client("Rossi S.p.A.", "amministrazione@rossi.example"),
        [customer("t", "Rossi SpA")],
        "t",
    ),
    case(
        "Van Dijk B.V. / Van Dijk BV",
        "legal suffix",
        client("Van Dijk B.V.", city="Rotterdam", country="Netherlands"),
        [customer("t", "Van Dijk BV", city="Rotterdam", country="NL")],
        "t",
    ),
    case(
        "Outback Widgets Pty Ltd / Outback Widgets",
        "legal suffix",
        client("Outback Widgets Pty Ltd", "accounts@outbackwidgets.example"),
        [customer("t", "Outback Widgets", "accounts@outbackwidgets.example")],
        "t",
    ),
    case(
        "Boulangerie Dupont SARL / Boulangerie Dupont",
        "legal suffix",
        client("Boulangerie Dupont SARL", city="Lyon"),
        [customer("t", "Boulangerie Dupont", city="Lyon")],
        "t",
    ),
    case(
        "Nokia Oyj / company name Nokia",
        "legal suffix",
        client("Nokia Oyj"),
        [customer("t", "Nokia (Espoo)", company="Nokia")],
        "t",
    ),
    # ---------------------------------------------------------------- accents and quotes
    case(
        "Café Lumière S.A. / Cafe Lumiere (seed, no e-mail)",
        "accents",
        client("Café Lumière S.A.", "compta@cafe-lumiere.example"),
        [customer("t", "Cafe Lumiere")],
        "t",
    ),
    case(
        "Société Générale de Café / Societe Generale de Cafe",
        "accents",
        client("Société Générale de Café", city="Montréal"),
        [customer("t", "Societe Generale de Cafe", city="Montreal")],
        "t",
    ),
    case(
        "Zürich Consulting / Zurich Consulting AG",
        "accents",
        client("Zürich Consulting"),
        [customer("t", "Zurich Consulting AG")],
        "t",
    ),
    case(
        "Ñandú Foods / Nandu Foods",
        "accents",
        client("Ñandú Foods", "ventas@nandu.example"),
        [customer("t", "Nandu Foods", "facturas@nandu.example")],
        "t",
    ),
    case(
        "Øresund Logistics / Oresund Logistics",
        "accents",
        client("Øresund Logistics", country="Denmark"),
        [customer("t", "Oresund Logistics", country="DK")],
        "t",
    ),
    case(
        "O’Reilly Media / O'Reilly Media (seed, typographic quote)",
        "accents",
        client("O’Reilly Media", "orders@oreilly.example"),
        [customer("t", "O'Reilly Media")],
        "t",
    ),
    case(
        '“Quoted” Studio / "Quoted" Studio',
        "accents",
        client("“Quoted” Studio"),
        [customer("t", '"Quoted" Studio')],
        "t",
    ),
    # ---------------------------------------------------------------- typos
    case(
        "Initrode Systems / Initrode Sytems with the same domain",
        "typo",
        client("Initrode Systems", "ap@initrode.example"),
        [customer("t", "Initrode Sytems", "invoices@initrode.example")],
        "t",
    ),
    case(
        "Wonka Industries / Wonka Industires in the same city",
        "typo",
        client("Wonka Industries", city="Toronto"),
        [customer("t", "Wonka Industires", city="Toronto")],
        "t",
    ),
    case(
        "Massive Dynamic / Massive Dynamics (name only)",
        "typo",
        client("Massive Dynamic"),
        [customer("t", "Massive Dynamics")],
        "t",
    ),
    case(
        "Cyberdyne Systems / Cyberdine Systems with the same e-mail",
        "typo",
        client("Cyberdyne Systems", "miles@cyberdyne.example"),
        [customer("t", "Cyberdine Systems", "miles@cyberdyne.example")],
        "t",
    ),
    case(
        "Hooli / Hooly (short name, no evidence: a human decides)",
        "typo",
        client("Hooli"),
        [customer("t", "Hooly")],
        "t",
        expect="ambiguous",
    ),
    case(
        "Soylent Foods / Soylant Foods with the same website",
        "typo",
        client("Soylent: Foods", website="https://www.soylent.example/"),
        [customer("t", "Soylant Foods", website="soylent.example")],
        "t",
    ),
    # ---------------------------------------------------------------- ampersands
    case(
        "Smith & Sons LLC / Smith and Sons (seed)",
        "ampersand",
        client("Smith & Sons LLC", "office@smithsons.example"),
        [customer("t", "Smith and Sons", "office@smithsons.example")],
        "t",
    ),
    case(
        "Johnson & Johnson / Johnson and Johnson",
        "ampersand",
        client("Johnson & Johnson"),
        [customer("t", "Johnson and Johnson")],
        "t",
    ),
    case(
        "Ben & Jerry's / Ben and Jerrys",
        "ampersand",
        client("Ben & Jerry's", "scoop@benjerry.example"),
        [customer("t", "Ben and Jerrys", "finance@benjerry.example")],
        "t",
    ),
    case(
        "Procter+Gamble / Procter & Gamble Co.",
        "ampersand",
        client("Procter+Gamble"),
        [customer("t", "Procter & Gamble Co.")],
        "t",
    ),
    # ---------------------------------------------------------------- abbreviations
    case(
        "International Business Machines / IBM with the same domain",
        "abbreviation",
        client("International Business Machines", "ap@ibm.example"),
        [customer("t", "IBM", "billing@ibm.example")],
        "t",
    ),
    case(
        "Acme Manufacturing / Acme Mfg.",
        "abbreviation",
        client("Acme Manufacturing"),
        [customer("t", "Acme Mfg.")],
        "t",
    ),
    case(
        "Smith Brothers Plumbing / Smith Bros. Plumbing",
        "abbreviation",
        client("Smith Brothers Plumbing"),
        [customer("t", "Smith Bros. Plumbing")],
        "t",
    ),
    case(
        "Global Industries International / Global Industries Intl",
        "abbreviation",
        client("Global Industries International"),
        [customer("t", "Global Industries Intl")],
        "t",
    ),
    case(
        "Saint-Laurent Bakery / St. Laurent Bakery",
        "abbreviation",
        client("Saint-Laurent Bakery", city="Montreal"),
        [customer("t", "St. Laurent Bakery", city="Montréal")],
        "t",
    ),
    case(
        "Pacific Associates Group / Pacific Assoc. Grp",
        "abbreviation",
        client("Pacific Associates Group"),
        [customer("t", "Pacific Assoc. Grp")],
        "t",
    ),
    # ---------------------------------------------------------------- same name, other organisation
    case(
        "Jones Consulting Montreal / Jones Consulting London (seed)",
        "same name, other org",
        client("Jones Consulting", "hello@jonesconsulting.example", city="Montreal", country="CA"),
        [
            customer(
                "x", "Jones Consulting", "office@jones-consulting-uk.example", city="London", country="GB"
            )
        ],
        None,
        expect="none",
        reasons=("different organisation",),
    ),
    case(
        "Apex Solutions, two domains",
        "same name, other org",
        client("Apex Solutions", "hello@apex-solutions.example"),
        [customer("x", "Apex Solutions", "info@apexsolutions-uk.example")],
        None,
    ),
    case(
        "Bright Ideas / Bright Ideas Inc, two domains",
        "same name, other org",
        client("Bright Ideas", "studio@brightideas.example"),
        [customer("x", "Bright Ideas Inc", "ar@bright-ideas-inc.example")],
        None,
    ),
    case(
        "Summit Partners: same name, websites differ",
        "same name, other org",
        client("Summit Partners", website="summitpartners.example"),
        [customer("x", "Summit Partners", website="https://summit-partners.example")],
        None,
    ),
    case(
        "Northstar Media: contact e-mail domain differs",
        "same name, other org",
        client("Northstar Media", contacts=("jane@northstar.example",)),
        [customer("x", "Northstar Media", "bob@northstarmedia.example")],
        None,
    ),
    case(
        "Blue Ocean Trading, Canada vs Australia",
        "same name, other org",
        client("Blue Ocean Trading", country="Canada"),
        [customer("x", "Blue Ocean Trading", country="AUS")],
        None,
    ),
    case(
        "Maple Leaf Design, Montreal vs Vancouver",
        "same name, other org",
        client("Maple Leaf Design", city="Montreal", country="CA"),
        [customer("x", "Maple Leaf Design", city="Vancouver", country="CA")],
        None,
    ),
    case(
        "Atlas Freight, USA vs United Kingdom",
        "same name, other org",
        client("Atlas Freight", country="USA"),
        [customer("x", "Atlas Freight Ltd", country="United Kingdom")],
        None,
    ),
    case(
        "Orion Labs, gmail on one side, different city",
        "same name, other org",
        client("Orion Labs", "orionlabs@gmail.com", city="Toronto"),
        [customer("x", "Orion Labs", "contact@orionlabs.example", city="Berlin")],
        None,
    ),
    case(
        "Two Jones Consulting in QBO: only the Montreal one is ours",
        "same name, other org",
        client("Jones Consulting", "hello@jonesconsulting.example", city="Montreal"),
        [
            customer("t", "Jones Consulting (Montreal)", company="Jones Consulting", city="Montreal"),
            customer("x", "Jones Consulting", "office@jones-consulting-uk.example", city="London"),
        ],
        "t",
    ),
    # ---------------------------------------------------------------- same organisation, other mailbox
    case(
        "Pied Piper: ap@ vs billing@ the same domain",
        "same org, other mailbox",
        client("Pied Piper", "ap@piedpiper.example"),
        [customer("t", "Pied Piper Inc.", "billing@piedpiper.example")],
        "t",
    ),
    case(
        "Umbrella Corp: subdomain mailbox",
        "same org, other mailbox",
        client("Umbrella Corporation", "finance@billing.umbrellacorp.example"),
        [customer("t", "Umbrella Corp", "ar@umbrellacorp.example")],
        "t",
    ),
    case(
        "Gringotts: the client contact's mailbox is the customer's",
        "same org, other mailbox",
        client("Gringotts Bank", "info@gringotts.example", contacts=("griphook@gringotts.example",)),
        [customer("t", "Gringotts", "griphook@gringotts.example")],
        "t",
    ),
    case(
        "Oceanic Airlines: website domain equals the customer's mail domain",
        "same org, other mailbox",
        client("Oceanic Airlines", website="http://oceanic.example/about"),
        [customer("t", "Oceanic Air Lines", "accounts@oceanic.example")],
        "t",
    ),
    case(
        "Stark Labs: the same mailbox under another display name",
        "same org, other mailbox",
        client("Stark Laboratories", "pepper@starklabs.example"),
        [customer("t", "Stark Labs (R&D)", "pepper@starklabs.example")],
        "t",
    ),
    case(
        "Bluth Company: co.uk registrable domain",
        "same org, other mailbox",
        client("Bluth Company", "michael@bluth.co.uk"),
        [customer("t", "Bluth Co", "accounts@finance.bluth.co.uk")],
        "t",
    ),
    # ---------------------------------------------------------------- generic mail domains
    case(
        "Sam's Bakery: two gmail mailboxes prove nothing, the name decides",
        "generic mail domain",
        client("Sam's Bakery", "sam.bakes@gmail.com"),
        [customer("t", "Sams Bakery", "samsbakery.orders@gmail.com")],
        "t",
    ),
    case(
        "Lopez Landscaping: corporate vs hotmail is no contradiction",
        "generic mail domain",
        client("Lopez Landscaping", "maria@lopezlandscaping.example"),
        [customer("t", "Lopez Landscaping", "lopez.landscaping@hotmail.com")],
        "t",
    ),
    case(
        "Kim Design: the same gmail mailbox is evidence",
        "generic mail domain",
        client("Kim Design Studio", "kim.design@gmail.com"),
        [customer("t", "Kim Design", "Kim.Design@GMAIL.com")],
        "t",
    ),
    case(
        "Rivera Photo: yahoo.co.uk is generic too",
        "generic mail domain",
        client("Rivera Photography", "rivera.photo@yahoo.co.uk"),
        [customer("t", "Rivera Photography", "info@riveraphoto.example")],
        "t",
    ),
    case(
        "A shared bookkeeper's mailbox does not merge two firms",
        "generic mail domain",
        client("Patel Dental", "bookkeeping.services@gmail.com"),
        [customer("x", "Chen Orthodontics", "bookkeeping.services@gmail.com")],
        None,
        reasons=("names differ",),
    ),
    # ---------------------------------------------------------------- unrelated, similar names
    case(
        "Apex Systems vs Apex Solutions",
        "unrelated similar",
        client("Apex Systems"),
        [customer("x", "Apex Solutions")],
        None,
    ),
    case(
        "Acme Widgets vs Acme Gadgets",
        "unrelated similar",
        client("Acme Widgets"),
        [customer("x", "Acme Gadgets")],
        None,
    ),
    case(
        "Northwind Traders vs Northwind Pixel Studio",
        "unrelated similar",
        client("Northwind Traders"),
        [customer("x", "Northwind Pixel Studio Inc.")],
        None,
        expect="none",
    ),
    case(
        "Global Tech vs Global Tech Solutions",
        "unrelated similar",
        client("Global Tech"),
        [customer("x", "Global Tech Solutions")],
        None,
    ),
    case(
        "Stark Industries (seed) has no customer; Stark Enterprises is another",
        "unrelated similar",
        client("Stark Industries", "tony@stark.example"),
        [customer("x", "Stark Enterprises", "info@starkenterprises.example")],
        None,
    ),
    case(
        "Blue Sky Media vs Blue Sky Medical",
        "unrelated similar",
        client("Blue Sky Media"),
        [customer("x", "Blue Sky Medical")],
        None,
    ),
    case(
        "Sunrise Bakery vs Sunset Bakery",
        "unrelated similar",
        client("Sunrise Bakery"),
        [customer("x", "Sunset Bakery")],
        None,
    ),
    case(
        "Globe vs Globex (one letter, different companies)",
        "unrelated similar",
        client("Globe"),
        [customer("x", "Globex")],
        None,
    ),
    case(
        "Wayne Enterprises (seed: only a vendor has the name)",
        "unrelated similar",
        client("Wayne Enterprises", "bruce@wayne.example"),
        [],
        None,
        expect="none",
    ),
    # ---------------------------------------------------------------- links, markers, states, crowds
    case(
        "A stored link wins over a renamed customer",
        "link and marker",
        client("Tessier-Ashpool", "3jane@ta.example"),
        [customer("t", "TA Holdings (renamed)"), customer("x", "Tessier Ashpool")],
        "t",
        linked="t",
    ),
    case(
        "Our marker in Notes identifies the customer",
        "link and marker",
        client("Veridian Dynamics", client_id=4242),
        [customer("t", "Veridian", notes="Created by paymo-qb-mcp\npaymo:client:4242")],
        "t",
    ),
    case(
        "A customer marked for another Paymo client is never merged",
        "link and marker",
        client("Prestige Worldwide", client_id=5151),
        [customer("x", "Prestige Worldwide", notes="paymo:client:9999")],
        None,
        reasons=("already linked to Paymo client 9999",),
    ),
    case(
        "Hooli inactive (seed): matched, flagged for reactivation",
        "inactive",
        client("Hooli", "gavin@hooli.example"),
        [customer("t", "Hooli", active=False)],
        "t",
        reasons=("inactive",),
    ),
    case(
        "Umbrella Health (seed): East and West are equally close",
        "ambiguous",
        client("Umbrella Health", "info@umbrella.example"),
        [customer("e", "Umbrella Health (East)"), customer("w", "Umbrella Health (West)")],
        None,
        expect="ambiguous",
    ),
    case(
        "Duplicate customers in QBO: a human picks",
        "ambiguous",
        client("Acme Corporation"),
        [customer("d1", "Acme Corp"), customer("d2", "ACME Corporation")],
        None,
        expect="ambiguous",
    ),
    case(
        "The e-mail match beats a name-only twin",
        "competition",
        client("Initech", "accounts@initech.example"),
        [customer("t", "Initech Inc", "accounts@initech.example"), customer("x", "Initech")],
        "t",
    ),
    case(
        "The domain match beats a fuzzy neighbour",
        "competition",
        client("Acme Corporation", "ap@acme.example"),
        [customer("t", "ACME Corp.", "billing@acme.example"), customer("x", "Acne Corp")],
        "t",
    ),
    case(
        "Soylent: Foods (seed) has no customer",
        "competition",
        client("Soylent: Foods", "hello@soylent.example"),
        [],
        None,
        expect="none",
    ),
]
