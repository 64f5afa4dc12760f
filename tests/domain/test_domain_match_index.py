"""CustomerIndex answers exactly what match_client answers, through every evidence path and every
upsert/remove, while scoring a handful of customers instead of all of them."""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_cases import CASES, MatchCase, client, customer
from rapidfuzz import fuzz

from paymo_qb_mcp.domain import match_index
from paymo_qb_mcp.domain.match_index import CustomerIndex
from paymo_qb_mcp.domain.matching import (
    ClientEvidence,
    PaymoClientView,
    QboCustomerView,
    ScoredCustomer,
    match_client,
    normalize_name,
)
from paymo_qb_mcp.errors import InputError

# ----------------------------------------------------------------------------------------------
# Generated clients and customers: names drawn from a small vocabulary so that equal, similar,
# acronym and suffix-only differences are common, and evidence drawn from small pools so that
# e-mails, domains, places and markers collide.
# ----------------------------------------------------------------------------------------------

_WORDS = (
    *("acme", "globex", "initech", "umbrella", "north", "star", "systems", "solutions", "health"),
    *("east", "smith", "sons", "intl", "international", "café", "cafe", "lumière", "o'reilly", "media"),
    *("ns", "nss", "gs", "ih", "a", "b", "the", "and", "of", "&", "st", "saint", "labs"),
)
_SUFFIXES = ("", " Inc", " LLC", ", L.L.C.", " Ltd.", " GmbH & Co. KG", " S.A.", " Corp", " & Co")
_CLIENT_IDS = (1, 2, 7)
_ADDRESSES = (
    *("ap@acme.example", "Billing@Acme.Example ", "ap@billing.acme.example", "info@globex.example"),
    *("jane@gmail.com", "JANE@gmail.com", "shop@shop.co.uk", "x@x.shop.co.uk", "ap@initech.example"),
)
_WEBSITES = ("https://www.acme.example/about", "globex.example", "http://gmail.com", "www.shop.co.uk")
_CITIES = ("Montréal", "Montreal", "Montreall", "Toronto", "Paris")
_COUNTRIES = ("CA", "Canada", "US", "France", "fr")
_NOTES = (
    *("paymo:client:1", "paymo:client:2", "paymo:client:7", "paymo:invoice:1", "see paymo:client:99 here"),
    *("paymo:client:1 paymo:client:2", "xpaymo:client:1", "free text"),
)


def _token_mutation(tokens: list[str], draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(("same", "drop", "add", "swap", "typo", "initials", "random")))
    mutated = list(tokens)
    if kind == "drop" and len(mutated) > 1:
        del mutated[draw(st.integers(0, len(mutated) - 1))]
    elif kind == "add":
        mutated.insert(draw(st.integers(0, len(mutated))), draw(st.sampled_from(_WORDS)))
    elif kind == "swap":
        mutated.reverse()
    elif kind == "typo":
        index = draw(st.integers(0, len(mutated) - 1))
        word = mutated[index]
        cut = draw(st.integers(0, len(word)))
        mutated[index] = word[:cut] + draw(st.sampled_from("aeoxz")) + word[cut + 1 :]
    elif kind == "initials":
        initials = "".join(word[0] for word in mutated if word[0].isalnum())
        mutated = [initials] if initials else mutated
    elif kind == "random":
        mutated = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4))
    return mutated


@st.composite
def _name_like(draw: st.DrawFn, base: list[str]) -> str:
    tokens = _token_mutation(base, draw)
    name = " ".join(tokens) + draw(st.sampled_from(_SUFFIXES))
    if draw(st.booleans()):
        name = name.upper() if draw(st.booleans()) else name.title()
    return name


def _maybe(values: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def _customer(draw: st.DrawFn, base: list[str], customer_id: str) -> QboCustomerView:
    return customer(
        customer_id,
        draw(_name_like(base)),
        draw(_maybe(_ADDRESSES)),
        company=draw(st.one_of(st.none(), st.just(""), _name_like(base))),
        city=draw(_maybe(_CITIES)),
        country=draw(_maybe(_COUNTRIES)),
        website=draw(_maybe(_WEBSITES)),
        active=draw(st.booleans()),
        currency=draw(_maybe(("USD", "CAD", "cad"))),
        notes=draw(_maybe(_NOTES)),
    )


@st.composite
def _client(draw: st.DrawFn, base: list[str]) -> PaymoClientView:
    name = draw(_name_like(base))
    if not normalize_name(name):
        name = "Fallback"
    return client(
        name,
        draw(_maybe(_ADDRESSES)),
        contacts=tuple(draw(st.lists(st.sampled_from(_ADDRESSES), max_size=2))),
        city=draw(_maybe(_CITIES)),
        country=draw(_maybe(_COUNTRIES)),
        website=draw(_maybe(_WEBSITES)),
        currency=draw(_maybe(("USD", "CAD"))),
        client_id=draw(st.sampled_from(_CLIENT_IDS)),
    )


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[PaymoClientView, list[QboCustomerView], str | None]:
    base = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4))
    count = draw(st.integers(0, 25))
    customers = [draw(_customer(base, str(index))) for index in range(count)]
    linked = draw(
        st.one_of(st.none(), st.just("missing"), st.sampled_from([c.id for c in customers] or ["0"]))
    )
    return draw(_client(base)), customers, linked


def _reference(paymo: PaymoClientView, customers: list[QboCustomerView], linked: str | None) -> object:
    return match_client(paymo, customers, linked_customer_id=linked)


# ----------------------------------------------------------------------------------------------
# Equality with match_client
# ----------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(_scenario())
def test_index_answers_what_match_client_answers(
    scenario: tuple[PaymoClientView, list[QboCustomerView], str | None],
) -> None:
    paymo, customers, linked = scenario
    assert CustomerIndex(customers).match(paymo, linked_customer_id=linked) == _reference(
        paymo, customers, linked
    )


@st.composite
def _maintained(
    draw: st.DrawFn,
) -> tuple[PaymoClientView, list[QboCustomerView], list[tuple[str, QboCustomerView | str]], str | None]:
    paymo, customers, linked = draw(_scenario())
    base = normalize_name(paymo.name).split()
    operations: list[tuple[str, QboCustomerView | str]] = []
    for _ in range(draw(st.integers(1, 20))):
        customer_id = str(draw(st.integers(0, 30)))
        if draw(st.integers(0, 2)):
            operations.append(("upsert", draw(_customer(base, customer_id))))
        else:
            operations.append(("remove", customer_id))
    return paymo, customers, operations, linked


@settings(max_examples=200, deadline=None)
@given(_maintained())
def test_index_stays_exact_after_upserts_and_removes(
    scenario: tuple[
        PaymoClientView, list[QboCustomerView], list[tuple[str, QboCustomerView | str]], str | None
    ],
) -> None:
    paymo, customers, operations, linked = scenario
    index = CustomerIndex(customers)
    current = {view.id: view for view in customers}
    for operation, argument in operations:
        if isinstance(argument, QboCustomerView):
            index.upsert(argument)
            current[argument.id] = argument
        else:
            assert operation == "remove"
            assert index.remove(argument) is (current.pop(argument, None) is not None)
    assert len(index) == len(current)
    assert {view.id: view for view in index} == current
    views = list(current.values())
    assert index.match(paymo, linked_customer_id=linked) == _reference(paymo, views, linked)


@given(st.text(max_size=30), st.text(max_size=30))
def test_sorted_tokens_ratio_is_token_sort_ratio(left: str, right: str) -> None:
    # The index runs plain ratio over names whose tokens it sorted once; score_customer runs
    # token_sort_ratio over the same normalised names: both must give the very same number.
    first, second = normalize_name(left), normalize_name(right)
    assert fuzz.ratio(match_index._token_sorted(first), match_index._token_sorted(second)) == (
        fuzz.token_sort_ratio(first, second)
    )


def _run(case: MatchCase) -> tuple[object, object]:
    expected = match_client(case.client, case.customers, linked_customer_id=case.linked_customer_id)
    found = CustomerIndex(case.customers).match(case.client, linked_customer_id=case.linked_customer_id)
    return expected, found


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_labelled_case_gives_the_same_result_through_the_index(case: MatchCase) -> None:
    expected, found = _run(case)
    assert found == expected


# ----------------------------------------------------------------------------------------------
# Evidence paths one by one (each would be lost by a name-only prefilter)
# ----------------------------------------------------------------------------------------------


def test_same_mailbox_with_another_name_is_found() -> None:
    views = [customer("1", "Totally Different Trading", "jane@gmail.com"), customer("2", "Acme")]
    found = CustomerIndex(views).match(client("Zeta Works", "JANE@gmail.com"))
    assert [candidate.id for candidate in found.candidates] == ["1"]
    assert found.candidates[0].score == 0.75


def test_link_and_marker_are_found_whatever_the_names() -> None:
    views = [customer("1", "Unrelated Name"), customer("2", "Other Thing", notes="paymo:client:42")]
    index = CustomerIndex(views)
    assert index.match(client("Zeta Works"), linked_customer_id="1").customer == views[0]
    assert index.match(client("Zeta Works", client_id=42)).customer == views[1]


def test_acronyms_are_found_both_ways() -> None:
    views = [customer("1", "International Business Machines"), customer("2", "NSS")]
    index = CustomerIndex(views)
    assert [c.id for c in index.match(client("IBM")).candidates] == ["1"]
    assert [c.id for c in index.match(client("North Star Systems")).candidates] == ["2"]


def test_a_weak_name_lifted_by_domain_and_place_is_found() -> None:
    views = [customer("1", "Acme Rockets Canada", "ap@acme.example", city="Montreal")]
    paymo = client("Acme Rocket Works", "jo@acme.example", city="Montréal")
    assert CustomerIndex(views).match(paymo) == match_client(paymo, views)
    assert CustomerIndex(views).match(paymo).candidates


_CLIENT_EVIDENCE = (
    {},
    {"email": "jo@acme.example"},
    {"city": "Montreal"},
    {"country": "CA"},
    {"email": "jo@acme.example", "city": "Montreal", "country": "CA"},
    {"email": "jo@gmail.com", "country": "US"},
)
_CUSTOMER_EVIDENCE = (
    {},
    {"email": "ap@acme.example"},
    {"email": "ap@other.example"},
    {"city": "Montréal", "country": "Canada"},
    {"email": "ap@acme.example", "city": "Montreal"},
    {"city": "Toronto"},
    {"country": "CA"},
)


def test_every_customer_near_the_similarity_floor_is_found() -> None:
    # Names whose similarity to the client's steps finely through the floors (54.4 with both
    # bonuses, 57.8 with the domain's, 63.3 with the place's, 66.7 with none), each customer alone
    # with every combination of evidence: whatever the list shows, the index shows.
    stem = "a" * 24
    names = [
        "a" * shared + "b" * other
        for shared in range(8, 25)
        for other in range(25)
        if 50 <= fuzz.ratio(stem, "a" * shared + "b" * other) <= 70
    ]
    assert len(names) > 100
    checked = 0
    for client_fields in _CLIENT_EVIDENCE:
        paymo = client(
            stem,
            client_fields.get("email"),
            city=client_fields.get("city"),
            country=client_fields.get("country"),
            client_id=3,
        )
        for customer_fields in _CUSTOMER_EVIDENCE:
            for name in names:
                views = [
                    customer(
                        "1",
                        name,
                        customer_fields.get("email"),
                        city=customer_fields.get("city"),
                        country=customer_fields.get("country"),
                    )
                ]
                expected = match_client(paymo, views)
                assert CustomerIndex(views).match(paymo) == expected, (client_fields, customer_fields, name)
                checked += bool(expected.candidates)
    assert checked > 500


def test_candidates_tied_at_the_contradiction_cap_are_listed_by_name() -> None:
    # Every similar customer has another corporate domain: all are capped at 0.6 and tie; the list
    # shows the first five by name, whichever order the index meets them in.
    rng = random.Random(7)
    views = [
        customer(str(index), f"Acme Rocket{'s' * rng.randrange(3)} {word}", f"ap@other{index}.example")
        for index, word in enumerate(rng.sample([*_FIRST, *_SECOND, *_SURNAMES], 60))
    ]
    rng.shuffle(views)
    paymo = client("Acme Rockets", "jo@acme.example")
    expected = match_client(paymo, views)
    assert [candidate.score for candidate in expected.candidates] == [0.6] * 5
    assert CustomerIndex(views).match(paymo) == expected


# ----------------------------------------------------------------------------------------------
# Maintenance
# ----------------------------------------------------------------------------------------------


def test_upsert_replaces_what_the_old_view_was_found_by() -> None:
    index = CustomerIndex([customer("1", "Acme", "ap@acme.example", notes="paymo:client:5")])
    index.upsert(customer("1", "Globex", "ap@globex.example"))
    assert len(index) == 1
    assert index.match(client("Acme", "ap@acme.example", client_id=5)).candidates == []
    assert index.match(client("Globex")).customer == index.get("1")


def test_remove_and_lookups() -> None:
    views = [customer("1", "Acme"), customer("2", "Globex")]
    index = CustomerIndex(views)
    assert "1" in index
    assert index.get("2") == views[1]
    assert index.remove("1") is True
    assert index.remove("1") is False
    assert "1" not in index
    assert index.get("1") is None
    assert list(index) == [views[1]]
    assert index.match(client("Acme")).decision == "none"


def test_empty_client_name_is_refused() -> None:
    with pytest.raises(InputError):
        CustomerIndex([customer("1", "Acme")]).match(client("  "))


# ----------------------------------------------------------------------------------------------
# Volume: how many customers get scored, and the figure list vs index
# ----------------------------------------------------------------------------------------------

_FIRST = (
    *("Northern", "Blue", "Silver", "Pacific", "Atlas", "Summit", "Harbor", "Pioneer", "Golden", "Red"),
    *("Maple", "Cedar", "Granite", "Coastal", "Prairie", "Urban", "Bright", "Evergreen", "Iron", "Lakeside"),
)
_SECOND = (
    *("Logistics", "Design", "Bakery", "Consulting", "Analytics", "Dental", "Builders", "Media", "Foods"),
    *("Labs", "Plumbing", "Legal", "Software", "Motors", "Studio", "Imports", "Energy", "Realty", "Print"),
)
_SURNAMES = (
    *("Smith", "Tremblay", "Nguyen", "Garcia", "Müller", "Rossi", "Dubois", "Kowalski", "Okafor", "Singh"),
    *("Johansson", "Kim", "Novak", "Silva", "Cohen", "Murphy", "Haddad", "Ivanova", "Tanaka", "Larsen"),
    *("Moreau", "Fischer", "Bianchi", "Walsh", "Petrov", "Costa", "Yilmaz", "Byrne", "Lindqvist", "Sato"),
)
_LEGAL = ("", " Inc", " LLC", " Ltd", " GmbH", " S.A.", " Corp")
_VOLUME = 5_000


def _company(rng: random.Random, index: int) -> QboCustomerView:
    name = f"{rng.choice(_SURNAMES)} {rng.choice(_FIRST)} {rng.choice(_SECOND)}{rng.choice(_LEGAL)}"
    slug = normalize_name(name).replace(" ", "")
    return customer(
        str(index),
        name,
        f"ap@{slug}{index}.example",
        city=rng.choice(("Montreal", "Toronto", "Boston", None)),
        country=rng.choice(("CA", "US", None)),
        notes=f"paymo:client:{index}" if rng.random() < 0.3 else None,
    )


def _volume() -> tuple[list[QboCustomerView], list[PaymoClientView]]:
    rng = random.Random(5000)
    views = [_company(rng, index) for index in range(_VOLUME)]
    queries: list[PaymoClientView] = []
    for number in range(40):
        known = views[rng.randrange(_VOLUME)]
        if number % 4 == 0:  # a client nobody has seen
            queries.append(client(f"{rng.choice(_SURNAMES)} {rng.choice(_FIRST)} Holdings", client_id=90_000))
        elif number % 4 == 1:  # the same company, its name spelled a little differently
            queries.append(client(known.display_name.replace(" ", "  ").upper() + " Co", client_id=90_001))
        elif number % 4 == 2:  # the same mailbox
            queries.append(client(known.display_name, known.email, city="Montréal", client_id=90_002))
        else:  # created by us before: the marker in Notes
            queries.append(client(known.display_name, client_id=int(known.id)))
    return views, queries


def test_index_scores_a_handful_of_5000_customers(monkeypatch: pytest.MonkeyPatch) -> None:
    views, queries = _volume()
    index = CustomerIndex(views)
    calls = 0

    def counting(
        evidence: ClientEvidence, view: QboCustomerView, linked: str | None = None
    ) -> ScoredCustomer:
        nonlocal calls
        calls += 1
        return real(evidence, view, linked)

    real = match_index.score_customer
    monkeypatch.setattr(match_index, "score_customer", counting)
    per_query: list[int] = []
    for paymo in queries:
        before = calls
        index.match(paymo)
        per_query.append(calls - before)
    mean = sum(per_query) / len(per_query)
    print(f"customers scored per match at {_VOLUME}: mean {mean:.1f}, max {max(per_query)} (list: {_VOLUME})")
    assert mean <= 12
    assert max(per_query) <= 40
    monkeypatch.undo()
    # A few of the same queries through the list: the very same answers.
    for paymo in queries[:4]:
        assert index.match(paymo) == match_client(paymo, views)


def test_figure_time_and_memory_per_match_at_5000(record_property: Callable[[str, object], None]) -> None:
    views, queries = _volume()
    for view in views:  # warm normalize_name's cache: its growth is not the index's
        normalize_name(view.display_name)
    tracemalloc.start()
    index = CustomerIndex(views)
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    started = time.perf_counter()
    for paymo in queries[:3]:
        match_client(paymo, views)
    list_seconds = (time.perf_counter() - started) / 3
    started = time.perf_counter()
    for _ in range(5):
        for paymo in queries:
            index.match(paymo)
    index_seconds = (time.perf_counter() - started) / (5 * len(queries))
    summary = (
        f"match at {_VOLUME} customers: list {list_seconds * 1000:.1f} ms, "
        f"index {index_seconds * 1000:.2f} ms per client (×{list_seconds / index_seconds:.0f}); "
        f"index structures {index_bytes / _VOLUME:.0f} B per customer beyond the views"
    )
    print(summary)
    record_property("match_index_summary", summary)
    assert len(index) == _VOLUME
