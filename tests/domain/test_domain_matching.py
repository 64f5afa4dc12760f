"""Client ↔ customer matching: normalisation, evidence, decisions; precision and recall on labelled cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from matching_cases import CASES, MatchCase, client, customer

from paymo_qb_mcp.domain.matching import (
    DISPLAY_NAME_MAX_LENGTH,
    MatchResult,
    email_domain,
    match_client,
    normalize_name,
    sanitize_display_name,
)
from paymo_qb_mcp.errors import InputError


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Acme Corporation", "acme"),
        ("ACME Corp.", "acme"),
        ("Café Lumière S.A.", "cafe lumiere"),
        ("Smith & Sons LLC", "smith and sons"),
        ("O’Reilly Media", "oreilly media"),
        ("The Hooli Company", "hooli"),
        ("Müller Maschinenbau GmbH & Co. KG", "muller maschinenbau"),
        ("Vandelay Industries, L.L.C.", "vandelay industries"),
        ("Foo S. A. S.", "foo"),
        ("Intl Business Machines Corp", "international business machines"),
        ("  Umbrella   Health (East) ", "umbrella health east"),
        ("Smith & Co", "smith"),
        ("Limited", "limited"),
        ("Pty Ltd", "pty"),
        ("Coca-Cola", "coca cola"),
    ],
)
def test_normalize_name(raw: str, normalised: str) -> None:
    assert normalize_name(raw) == normalised


def test_email_domain() -> None:
    assert email_domain(" Ap@Acme.Example ") == "acme.example"
    assert email_domain("not an address") is None
    assert email_domain(None) is None


def _run(case: MatchCase) -> MatchResult:
    return match_client(case.client, case.customers, linked_customer_id=case.linked_customer_id)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_labelled_case_never_merges_wrongly(case: MatchCase) -> None:
    result = _run(case)
    if result.decision == "matched":
        assert result.customer is not None
        assert result.customer.id == case.truth, f"false merge: {result.candidates[:2]}"
        assert result.candidates[0].id == result.customer.id
    else:
        assert result.customer is None
    if case.expect is not None:
        assert result.decision == case.expect, result.candidates[:3]
    reasons = " | ".join(reason for candidate in result.candidates for reason in candidate.reasons)
    for fragment in case.reasons_contain:
        assert fragment in reasons
    scores = [candidate.score for candidate in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_labelled_set_precision_and_recall(record_property: Callable[[str, object], None]) -> None:
    assert len(CASES) >= 60
    true_positives = false_merges = missed = 0
    for case in CASES:
        result = _run(case)
        matched_id = result.customer.id if result.customer is not None else None
        if matched_id is not None and matched_id == case.truth:
            true_positives += 1
        elif matched_id is not None:
            false_merges += 1
        elif case.truth is not None:
            missed += 1
    precision = true_positives / (true_positives + false_merges) if true_positives + false_merges else 1.0
    recall = true_positives / (true_positives + missed) if true_positives + missed else 1.0
    summary = (
        f"matching on {len(CASES)} labelled cases: precision {precision:.3f}, recall {recall:.3f} "
        f"(true {true_positives}, false merges {false_merges}, missed {missed})"
    )
    print(summary)
    record_property("matching_precision", round(precision, 4))
    record_property("matching_recall", round(recall, 4))
    record_property("matching_summary", summary)
    assert false_merges == 0
    assert recall >= 0.9


def test_matched_result_explains_itself() -> None:
    result = match_client(
        client("Smith & Sons LLC", "office@smithsons.example"),
        [customer("58", "Smith and Sons", "office@smithsons.example"), customer("7", "Smith Sons Plumbing")],
    )
    assert result.decision == "matched"
    assert result.customer is not None
    assert result.customer.id == "58"
    best = result.candidates[0]
    assert best.score == 0.97
    assert best.reasons == ["same e-mail office@smithsons.example"]


def test_no_candidates_means_none() -> None:
    result = match_client(client("Stark Industries", "tony@stark.example"), [])
    assert (result.decision, result.customer, result.candidates) == ("none", None, [])


def test_currency_difference_is_flagged() -> None:
    result = match_client(client("Globex GmbH", currency="USD"), [customer("9", "Globex", currency="CAD")])
    assert result.decision == "matched"
    assert any("cannot change" in reason for reason in result.candidates[0].reasons)


def test_at_most_five_candidates_are_listed() -> None:
    crowd = [customer(str(index), f"Umbrella Health {index}") for index in range(8)]
    result = match_client(client("Umbrella Health"), crowd)
    assert result.decision == "ambiguous"
    assert len(result.candidates) == 5


def test_empty_client_name_is_refused() -> None:
    with pytest.raises(InputError):
        match_client(client("   "), [])


@pytest.mark.parametrize(
    ("raw", "clean", "changed"),
    [
        ("Soylent: Foods", "Soylent - Foods", True),
        ("O’Reilly Media", "O'Reilly Media", True),
        ("“Best” Bakery", '"Best" Bakery', True),
        ("Line\nbreak\tand tab", "Line break and tab", True),
        ("  padded  ", "padded", True),
        (":Leading and trailing:", "Leading and trailing", True),
        ("Plain Name Ltd.", "Plain Name Ltd.", False),
    ],
)
def test_sanitize_display_name(raw: str, clean: str, changed: bool) -> None:
    sanitized = sanitize_display_name(raw)
    assert sanitized.value == clean
    assert sanitized.altered is changed
    assert sanitized.original == raw
    assert ":" not in sanitized.value
    assert "\t" not in sanitized.value
    assert "\n" not in sanitized.value


def test_sanitize_display_name_reports_each_change_and_the_limit() -> None:
    sanitized = sanitize_display_name("A: B\tC" + "x" * 600)
    assert len(sanitized.value) == DISPLAY_NAME_MAX_LENGTH
    assert len(sanitized.changes) == 3
    with pytest.raises(InputError):
        sanitize_display_name(" : ")
