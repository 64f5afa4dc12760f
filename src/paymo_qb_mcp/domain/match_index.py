"""CustomerIndex: QBO customers kept for matching; scores only those that can change match_client's answer.

``match_client`` scores every customer in Python for every client; a company with thousands of
customers and a month of clients makes that quadratic. The index keeps, per customer, what can
make it score ``CANDIDATE_THRESHOLD`` or more, and finds those customers cheaply:

- a stored link — by Id; this client's ``paymo:client:<id>`` marker in Notes — by client id;
  the same e-mail address (the same mailbox scores 0.75 or more whatever the names) — by address;
- the acronym rule — a one-word name against the initials of a longer one, both ways round;
- name similarity — a C-speed ``rapidfuzz`` pass over every name with a cutoff below which no
  name-only customer can reach the threshold even with a shared domain and the same place.

Only those customers go through ``score_customer``, and of the similar names only those that can
still change the result: ``decide_match`` reads the five first candidates, the first eligible one
and whether there is one. Each remaining customer is bounded from its name similarity and its
cached ``CustomerEvidence`` (the bonuses it can get; the 0.6 cap when its domain, place or marker
contradicts the client, where it ties and sorts by name); once it would sort after all of those, it
is skipped, and once the most similar remaining name could not matter whoever bore it, the search
stops.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Final

from rapidfuzz import fuzz, process

from paymo_qb_mcp.domain.matching import (
    CANDIDATE_THRESHOLD,
    MAX_CANDIDATES,
    ClientEvidence,
    CustomerEvidence,
    MatchResult,
    PaymoClientView,
    QboCustomerView,
    ScoreBound,
    ScoredCustomer,
    acronym,
    decide_match,
    normalize_name,
    score_customer,
)

__all__ = ["CustomerIndex"]

# The acronym rule compares a one-word name of at least two letters with a longer name's initials.
_ACRONYM_MIN_LENGTH: Final = 2
# rapidfuzz's batch scorers apply a cutoff in less than double precision (a ratio of 57.7777…78 was
# dropped at a cutoff of 57.777777): cut this much (in ratio points, 0–100) below the exact floor,
# and bound each customer as if its ratio were this much higher.
_RATIO_TOLERANCE: Final = 0.01


def _token_sorted(name: str) -> str:
    # token_sort_ratio is ratio over the tokens sorted and joined by one space; a normalised name is
    # already lower-case [a-z0-9] tokens, so sorting once here lets each query run plain ratio.
    return " ".join(sorted(name.split()))


def _names_of(customer: QboCustomerView) -> list[str]:
    """The customer's distinct non-empty normalised names, as ``score_customer`` compares them."""
    names: list[str] = []
    for raw in (customer.display_name, customer.company_name):
        name = normalize_name(raw) if raw else ""
        if name and name not in names:
            names.append(name)
    return names


class _Ids:
    """Key → Ids of the customers it finds; most keys find one, kept bare to save a tuple each."""

    __slots__ = ("_map",)

    def __init__(self) -> None:
        self._map: dict[str | int, str | tuple[str, ...]] = {}

    def add(self, key: str | int, customer_id: str) -> None:
        found = self._map.get(key)
        if found is None:
            self._map[key] = customer_id
        elif isinstance(found, str):
            self._map[key] = (found, customer_id)
        else:
            self._map[key] = (*found, customer_id)

    def discard(self, key: str | int, customer_id: str) -> None:
        found = self._map.get(key)
        if found is None or found == customer_id:
            self._map.pop(key, None)
        elif not isinstance(found, str):
            remaining = tuple(other for other in found if other != customer_id)
            self._map[key] = remaining[0] if len(remaining) == 1 else remaining

    def get(self, key: str | int) -> tuple[str, ...]:
        found = self._map.get(key)
        if found is None:
            return ()
        return (found,) if isinstance(found, str) else found


class _Entry:
    """One customer: its view, its evidence, and its names' slots in the rapidfuzz list."""

    __slots__ = ("evidence", "slots", "view")

    def __init__(self, view: QboCustomerView, evidence: CustomerEvidence, slots: tuple[int, ...]) -> None:
        self.view = view
        self.evidence = evidence
        self.slots = slots


_SortKey = tuple[float, str, str]
# Sorts before every real (display name, Id): for a bound that holds whatever the customer.
_ANY_NAME: Final = ("", "")


class _Settled:
    """What ``decide_match`` reads of the customers scored so far, to tell when others cannot matter.

    Its answer depends on the ``MAX_CANDIDATES`` first shown customers (the list, the best, the
    runner-up: only the first shown can be matched) and on whether any shown customer is eligible
    (``ambiguous`` or ``none``). A customer sorting after the first five, and either never eligible
    or not the first eligible one, changes none of that.
    """

    __slots__ = ("any_eligible", "top")

    def __init__(self) -> None:
        self.top: list[_SortKey] = []  # the MAX_CANDIDATES first sort keys of shown customers, in order
        self.any_eligible = False

    def add(self, scored: ScoredCustomer) -> None:
        if scored.score < CANDIDATE_THRESHOLD:
            return
        bisect.insort(self.top, scored.sort_key())
        del self.top[MAX_CANDIDATES:]
        self.any_eligible = self.any_eligible or scored.eligible

    def cannot_matter(self, bound: ScoreBound, name: tuple[str, str]) -> bool:
        """Whether a customer scoring at most ``bound`` and sorting by ``name`` on ties can change nothing."""
        if bound.score < CANDIDATE_THRESHOLD:
            return True
        if len(self.top) < MAX_CANDIDATES or (-bound.score, *name) <= self.top[-1]:
            return False
        return self.any_eligible or not bound.may_be_chosen


class CustomerIndex:
    """QBO customers by Id, kept for matching; ``match`` equals ``match_client`` over the same customers.

    Built from any iterable of views (a later view with the same Id replaces an earlier one) and
    maintained with ``upsert`` and ``remove``, each costing one customer's normalisation. Holds the
    views, each customer's ``CustomerEvidence``, each name once in ``token_sort`` form (a removed
    name leaves a slot the next one reuses), and exact lookups by e-mail address, client marker,
    initials and one-word name. Not safe for concurrent mutation (one event loop owns it).
    """

    __slots__ = (
        "_by_client",
        "_by_email",
        "_by_initials",
        "_by_word",
        "_entries",
        "_free",
        "_names",
        "_owners",
    )

    def __init__(self, customers: Iterable[QboCustomerView] = ()) -> None:
        self._entries: dict[str, _Entry] = {}
        # Parallel lists: a name (token-sorted) and the Id of the customer it belongs to; None = free.
        self._names: list[str | None] = []
        self._owners: list[str | None] = []
        self._free: list[int] = []
        self._by_email = _Ids()  # lower-cased address
        self._by_client = _Ids()  # Paymo client id of a paymo:client:<id> marker in Notes
        self._by_initials = _Ids()  # initials of a name of two tokens or more
        self._by_word = _Ids()  # a one-word name
        for customer in customers:
            self.upsert(customer)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._entries

    def __iter__(self) -> Iterator[QboCustomerView]:
        return (entry.view for entry in self._entries.values())

    def get(self, customer_id: str) -> QboCustomerView | None:
        entry = self._entries.get(customer_id)
        return entry.view if entry is not None else None

    # ----------------------------------------------------------------------------------------
    # Maintenance
    # ----------------------------------------------------------------------------------------

    def upsert(self, customer: QboCustomerView) -> None:
        """Add ``customer``, or replace the customer with its Id."""
        previous = self._entries.get(customer.id)
        if previous is not None:
            if previous.view == customer:
                previous.view = customer
                return
            self._unregister(previous)
        names = _names_of(customer)
        evidence = CustomerEvidence.of(customer)
        for lookup, key in self._lookup_keys(customer, evidence, names):
            lookup.add(key, customer.id)
        slots = tuple(self._place_name(_token_sorted(name), customer.id) for name in names)
        self._entries[customer.id] = _Entry(customer, evidence, slots)

    def remove(self, customer_id: str) -> bool:
        """Forget the customer with this Id; False when there was none."""
        entry = self._entries.pop(customer_id, None)
        if entry is None:
            return False
        self._unregister(entry)
        return True

    def _lookup_keys(
        self, customer: QboCustomerView, evidence: CustomerEvidence, names: list[str]
    ) -> Iterator[tuple[_Ids, str | int]]:
        """Every exact lookup that finds ``customer``, with its key (the same when it is removed)."""
        email = customer.email or ""
        address = email.strip().lower()
        if "@" in address:
            # The view's own string when it is already in that form: one string fewer to keep.
            yield self._by_email, email if email == address else address
        for paymo_id in evidence.client_links:
            yield self._by_client, paymo_id
        for name in names:
            if " " not in name:
                if len(name) >= _ACRONYM_MIN_LENGTH:
                    yield self._by_word, name
            elif len(initials := acronym(name)) >= _ACRONYM_MIN_LENGTH:
                yield self._by_initials, initials

    def _place_name(self, name: str, customer_id: str) -> int:
        if self._free:
            slot = self._free.pop()
            self._names[slot] = name
            self._owners[slot] = customer_id
            return slot
        self._names.append(name)
        self._owners.append(customer_id)
        return len(self._names) - 1

    def _unregister(self, entry: _Entry) -> None:
        customer = entry.view
        for lookup, key in self._lookup_keys(customer, entry.evidence, _names_of(customer)):
            lookup.discard(key, customer.id)
        for slot in entry.slots:
            self._names[slot] = None
            self._owners[slot] = None
            self._free.append(slot)

    # ----------------------------------------------------------------------------------------
    # Matching
    # ----------------------------------------------------------------------------------------

    def match(self, client: PaymoClientView, *, linked_customer_id: str | None = None) -> MatchResult:
        """``match_client(client, <these customers>, linked_customer_id=...)``, scoring only the
        customers that could change its result."""
        evidence = ClientEvidence.of(client)
        scored: dict[str, ScoredCustomer] = {}
        settled = _Settled()

        def score(customer_id: str) -> None:
            result = score_customer(evidence, self._entries[customer_id].view, linked_customer_id)
            scored[customer_id] = result
            settled.add(result)

        for customer_id in self._evidence_candidates(evidence, linked_customer_id):
            if customer_id not in scored:
                score(customer_id)
        cutoff = max(0.0, evidence.name_similarity_floor() * 100 - _RATIO_TOLERANCE)
        # Most similar first: once no customer this similar could matter, no later one can.
        for _, ratio, slot in process.extract(
            _token_sorted(evidence.name), self._names, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        ):
            similarity = (ratio + _RATIO_TOLERANCE) / 100
            if settled.cannot_matter(ScoreBound(evidence.name_score_ceiling(similarity), True), _ANY_NAME):
                break
            owner = self._owners[slot]
            if owner is None or owner in scored:
                continue
            entry = self._entries[owner]
            bound = evidence.name_score_bound(entry.evidence, similarity)
            if not settled.cannot_matter(bound, (entry.view.display_name.lower(), owner)):
                score(owner)
        return decide_match(scored.values())

    def _evidence_candidates(self, evidence: ClientEvidence, linked_customer_id: str | None) -> list[str]:
        """Customers that evidence other than name similarity can put above the threshold."""
        found: list[str] = []
        if linked_customer_id is not None and linked_customer_id in self._entries:
            found.append(linked_customer_id)
        found += self._by_client.get(evidence.client.id)
        for address in evidence.emails:
            found += self._by_email.get(address)
        # The acronym rule, both ways: this one-word name is a customer's initials, or the reverse.
        if " " not in evidence.name:
            found += self._by_initials.get(evidence.name)
        else:
            found += self._by_word.get(acronym(evidence.name))
        return found
