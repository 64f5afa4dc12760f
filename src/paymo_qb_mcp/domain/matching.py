"""Client ↔ customer matching: name normalisation, organisation evidence, explainable scores, decisions.

Evidence, strongest first: a stored link; our marker in the customer's notes; the same e-mail
address; equal normalised names; fuzzy name similarity (rapidfuzz). E-mail domains, websites and
addresses corroborate or contradict: two records whose corporate domains or places differ are
different organisations however alike their names, and are never matched. Generic mail domains
(gmail.com, outlook.com, …) prove nothing either way; the same mailbox on one does.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from anyascii import anyascii
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz

from paymo_qb_mcp.domain.keys import find_markers
from paymo_qb_mcp.errors import InputError

__all__ = [
    "AMBIGUITY_MARGIN",
    "CANDIDATE_THRESHOLD",
    "DISPLAY_NAME_MAX_LENGTH",
    "MATCH_THRESHOLD",
    "MAX_CANDIDATES",
    "Candidate",
    "ClientEvidence",
    "CustomerEvidence",
    "MatchDecision",
    "MatchResult",
    "PaymoClientView",
    "QboCustomerView",
    "SanitizedName",
    "ScoreBound",
    "ScoredCustomer",
    "acronym",
    "decide_match",
    "email_domain",
    "match_client",
    "normalize_name",
    "sanitize_display_name",
    "score_customer",
]

MatchDecision = Literal["matched", "ambiguous", "none"]

# A candidate must reach MATCH_THRESHOLD, carry no contradiction, and lead the next candidate by
# AMBIGUITY_MARGIN to be matched; anything from CANDIDATE_THRESHOLD up is shown to the human.
MATCH_THRESHOLD: Final = 0.85
AMBIGUITY_MARGIN: Final = 0.05
CANDIDATE_THRESHOLD: Final = 0.6
MAX_CANDIDATES: Final = 5

# Score ladder (see score_customer): the same mailbox; equal names; fuzzy names scaled so that a name-only
# match needs ≥ 0.95 similarity; corroboration from the domain or the place.
_SCORE_LINK: Final = 1.0
_SCORE_MARKER: Final = 0.99
_SCORE_SAME_EMAIL: Final = 0.97
_SCORE_SAME_EMAIL_OTHER_NAME: Final = 0.75
_SCORE_EQUAL_NAME: Final = 0.88
_FUZZY_SCALE: Final = 0.9
_ACRONYM_SIMILARITY: Final = 0.92
_BONUS_SAME_DOMAIN: Final = 0.08
_BONUS_SAME_PLACE: Final = 0.03
_CAP_CONTRADICTED: Final = 0.6
_CAP_UNLINKED: Final = 0.99
_SAME_EMAIL_NAME_FLOOR: Final = 0.6
# Score bounds are raised by this much: the score adds the same terms, maybe in another order.
_ROUNDING: Final = 1e-9

DISPLAY_NAME_MAX_LENGTH: Final = 500


# --------------------------------------------------------------------------------------------
# Views (what the adapters hand us)
# --------------------------------------------------------------------------------------------


class PaymoClientView(BaseModel):
    """A Paymo client with the fields that identify an organisation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    name: str
    email: str | None = None
    contact_emails: tuple[str, ...] = ()
    city: str | None = None
    country: str | None = None
    website: str | None = None
    currency: str | None = Field(default=None, description="ISO currency the client is invoiced in, if known")


class QboCustomerView(BaseModel):
    """A QBO customer with the fields that identify an organisation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    display_name: str
    company_name: str | None = None
    email: str | None = None
    bill_city: str | None = None
    bill_country: str | None = None
    website: str | None = None
    active: bool = True
    currency: str | None = None
    notes: str | None = None


class Candidate(BaseModel):
    """One QBO customer considered for a Paymo client, with its score (0–1) and the evidence."""

    model_config = ConfigDict(frozen=True)

    id: str
    display_name: str
    score: float
    reasons: list[str]


class MatchResult(BaseModel):
    """``matched`` names one customer; ``ambiguous`` needs a human; ``none`` means create one."""

    model_config = ConfigDict(frozen=True)

    decision: MatchDecision
    customer: QboCustomerView | None
    candidates: list[Candidate]


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_LEGAL_SUFFIXES: Final = frozenset(
    {
        *("inc", "incorporated", "llc", "llp", "lllp", "lp", "pllc", "pc", "ltd", "limited", "ltee"),
        *("gmbh", "ag", "kg", "kgaa", "ohg", "ug", "ev", "sa", "sarl", "sas", "sasu", "eurl", "sca"),
        *("corp", "corporation", "co", "company", "cie", "plc", "pty", "bv", "nv", "oy", "oyj", "ab"),
        *("spa", "srl", "sl", "slu", "aps", "as", "asa", "sro", "se", "ulc", "pte", "bhd", "sdn", "kk"),
    }
)
_ABBREVIATIONS: Final = {
    "intl": "international",
    "mfg": "manufacturing",
    "svcs": "services",
    "bros": "brothers",
    "assoc": "associates",
    "assocs": "associates",
    "grp": "group",
    "mgmt": "management",
    "natl": "national",
    "dept": "department",
    "univ": "university",
    "ctr": "center",
    "centre": "center",
    "labs": "laboratories",
    "st": "saint",
    "ste": "sainte",
    "mt": "mount",
}
_ACRONYM_STOPWORDS: Final = frozenset({"and", "of", "the", "for", "de", "la", "le", "des", "du", "et"})
_QUOTES: Final = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=16384)
def normalize_name(text: str) -> str:
    """A company name reduced to what identifies it.

    Accents and typographic quotes are transliterated (anyascii), case folded, ``&``/``+`` read
    as "and", dots and apostrophes dropped (S.A. → sa, O'Reilly → oreilly), other punctuation
    becomes a space, spelled-out single letters are joined (L L C → llc), a few business
    abbreviations are expanded (Intl → international), a leading "the" and trailing legal
    suffixes (Inc, LLC, Ltd, GmbH, S.A., Corp, Co, …) are removed. Never returns an empty string
    for a non-empty name: a name made only of suffixes keeps them.
    """
    ascii_text = anyascii(unicodedata.normalize("NFKC", text.translate(_QUOTES))).lower()
    ascii_text = ascii_text.replace("&", " and ").replace("+", " and ")
    ascii_text = re.sub(r"[.'\"]", "", ascii_text)
    tokens = _NOT_WORD.sub(" ", ascii_text).split()
    tokens = _join_single_letters(tokens)
    tokens = [_ABBREVIATIONS.get(token, token) for token in tokens]
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    stripped = list(tokens)
    removed_suffix = False
    while len(stripped) > 1:
        if stripped[-1] in _LEGAL_SUFFIXES:
            stripped.pop()
            removed_suffix = True
        elif removed_suffix and stripped[-1] == "and":
            # "Smith & Co" → "smith", "GmbH & Co KG" → nothing left of the suffixes.
            stripped.pop()
        else:
            break
    return " ".join(stripped if stripped else tokens)


def _join_single_letters(tokens: list[str]) -> list[str]:
    joined: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            joined.append("".join(run))
            run = []
        if token:
            joined.append(token)
    return joined


def acronym(name: str) -> str:
    """The initials the acronym rule compares: the first letter of each token but stopwords."""
    return "".join(token[0] for token in name.split() if token not in _ACRONYM_STOPWORDS)


def _name_similarity(client_name: str, customer_names: Iterable[str]) -> tuple[float, str, str]:
    """Best similarity of the client's normalised name with any customer name, and how it was found."""
    best = (0.0, "", "")
    for customer_name in customer_names:
        if not customer_name:
            continue
        if client_name == customer_name:
            return 1.0, "equal", customer_name
        similarity = fuzz.token_sort_ratio(client_name, customer_name) / 100
        how = "similar"
        shorter, longer = sorted((client_name, customer_name), key=len)
        if (
            " " not in shorter
            and len(shorter) >= 2
            and len(longer.split()) >= 2
            and acronym(longer) == shorter
            and similarity < _ACRONYM_SIMILARITY
        ):
            similarity, how = _ACRONYM_SIMILARITY, "acronym"
        if similarity > best[0]:
            best = (similarity, how, customer_name)
    return best


# --------------------------------------------------------------------------------------------
# Organisation evidence: e-mail domains, websites, places
# --------------------------------------------------------------------------------------------

_GENERIC_MAIL_DOMAINS: Final = frozenset(
    {
        *("gmail.com", "googlemail.com", "yahoo.com", "yahoo.ca", "yahoo.co.uk", "yahoo.fr", "ymail.com"),
        *("hotmail.com", "hotmail.ca", "hotmail.co.uk", "hotmail.fr", "outlook.com", "outlook.fr"),
        *("live.com", "live.ca", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "gmx.com"),
        *("gmx.de", "gmx.net", "web.de", "t-online.de", "proton.me", "protonmail.com", "pm.me"),
        *("zoho.com", "fastmail.com", "hey.com", "yandex.com", "yandex.ru", "mail.ru", "mail.com"),
        *("orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr", "videotron.ca", "sympatico.ca"),
        *("bell.net", "shaw.ca", "rogers.com", "telus.net", "comcast.net", "verizon.net", "att.net"),
        *("btinternet.com", "sky.com", "qq.com", "163.com", "126.com", "naver.com", "libero.it"),
    }
)
_SECOND_LEVEL_LABELS: Final = frozenset(
    {"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc", "gc", "qc"}
)


def email_domain(address: str | None) -> str | None:
    """The domain of an e-mail address, lower-cased, or None when it is not an address."""
    if not address or "@" not in address:
        return None
    domain = address.strip().rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain or None


def _website_domain(url: str | None) -> str | None:
    if not url or not url.strip():
        return None
    text = url.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    host = re.split(r"[/?#:]", text, maxsplit=1)[0].strip(".")
    return host.removeprefix("www.") or None


def _organisation_domain(domain: str) -> str:
    """The registrable part of a domain (billing.acme.example → acme.example; x.co.uk keeps 3 labels)."""
    labels = domain.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_LABELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _corporate_domains(addresses: Iterable[str | None], websites: Iterable[str | None]) -> set[str]:
    domains = {email_domain(address) for address in addresses} | {_website_domain(url) for url in websites}
    return {
        _organisation_domain(domain)
        for domain in domains
        if domain
        and domain not in _GENERIC_MAIL_DOMAINS
        and _organisation_domain(domain) not in _GENERIC_MAIL_DOMAINS
    }


_COUNTRY_ALIASES: Final = {
    "CA": ("ca", "can", "canada"),
    "US": ("us", "usa", "united states", "united states of america", "etats unis", "america"),
    "GB": (
        "gb",
        "gbr",
        "uk",
        "united kingdom",
        "great britain",
        "england",
        "scotland",
        "wales",
        "royaume uni",
    ),
    "IE": ("ie", "irl", "ireland", "eire"),
    "FR": ("fr", "fra", "france"),
    "DE": ("de", "deu", "germany", "deutschland", "allemagne"),
    "ES": ("es", "esp", "spain", "espana", "espagne"),
    "IT": ("it", "ita", "italy", "italia", "italie"),
    "PT": ("pt", "prt", "portugal"),
    "NL": ("nl", "nld", "netherlands", "the netherlands", "holland", "nederland", "pays bas"),
    "BE": ("be", "bel", "belgium", "belgique", "belgie"),
    "LU": ("lu", "lux", "luxembourg"),
    "CH": ("ch", "che", "switzerland", "suisse", "schweiz", "svizzera"),
    "AT": ("at", "aut", "austria", "osterreich", "autriche"),
    "SE": ("se", "swe", "sweden", "sverige", "suede"),
    "NO": ("no", "nor", "norway", "norge", "norvege"),
    "DK": ("dk", "dnk", "denmark", "danmark"),
    "FI": ("fi", "fin", "finland", "suomi"),
    "PL": ("pl", "pol", "poland", "polska"),
    "CZ": ("cz", "cze", "czechia", "czech republic"),
    "RO": ("ro", "rou", "romania"),
    "GR": ("gr", "grc", "greece"),
    "AU": ("au", "aus", "australia"),
    "NZ": ("nz", "nzl", "new zealand"),
    "MX": ("mx", "mex", "mexico"),
    "BR": ("br", "bra", "brazil", "brasil"),
    "AR": ("ar", "arg", "argentina"),
    "JP": ("jp", "jpn", "japan"),
    "CN": ("cn", "chn", "china"),
    "IN": ("in", "ind", "india"),
    "SG": ("sg", "sgp", "singapore"),
    "HK": ("hk", "hkg", "hong kong"),
    "ZA": ("za", "zaf", "south africa"),
    "AE": ("ae", "are", "united arab emirates", "uae"),
    "IL": ("il", "isr", "israel"),
}
_COUNTRY_LOOKUP: Final = {alias: code for code, aliases in _COUNTRY_ALIASES.items() for alias in aliases}


def _place_text(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(_NOT_WORD.sub(" ", anyascii(text).lower().replace(".", "")).split())


def _country(text: str | None) -> str:
    normalised = _place_text(text)
    return _COUNTRY_LOOKUP.get(normalised, normalised)


@dataclass(frozen=True, slots=True)
class _Place:
    country: str
    city: str


@functools.lru_cache(maxsize=4096)
def _place(country: str | None, city: str | None) -> _Place:
    # Cached: few distinct places, each normalised once and shared by every record there.
    return _Place(_country(country), _place_text(city))


_Relation = Literal["same", "different", "unknown"]


def _compare_domains(client: frozenset[str], customer: tuple[str, ...]) -> _Relation:
    if client and customer:
        return "same" if not client.isdisjoint(customer) else "different"
    return "unknown"


def _compare_places(client: _Place, customer: _Place) -> tuple[_Relation, str]:
    if client.country and customer.country and client.country != customer.country:
        return "different", f"different country: {client.country.upper()} vs {customer.country.upper()}"
    if client.city and customer.city:
        if client.city == customer.city or fuzz.ratio(client.city, customer.city) >= 90:
            return "same", f"same city ({customer.city})"
        return "different", f"different city: {client.city} vs {customer.city}"
    if client.country and client.country == customer.country:
        return "same", f"same country ({customer.country.upper()})"
    return "unknown", ""


# --------------------------------------------------------------------------------------------
# Scoring and decision
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientEvidence:
    """What identifies a Paymo client, worked out once per match: the normalised name, e-mail
    addresses, corporate domains and place every customer is compared with."""

    client: PaymoClientView
    name: str
    emails: frozenset[str]
    domains: frozenset[str]
    place: _Place

    @classmethod
    def of(cls, client: PaymoClientView) -> ClientEvidence:
        name = normalize_name(client.name)
        if not name:
            raise InputError(f"Paymo client {client.id} has an empty name", field_name="name")
        emails = frozenset(
            address.strip().lower()
            for address in (client.email, *client.contact_emails)
            if address and "@" in address
        )
        domains = frozenset(_corporate_domains(emails, [client.website]))
        return cls(client, name, emails, domains, _place(client.country, client.city))

    def _possible_bonus(self) -> float:
        # A domain can only be shared, and a place only be the same, when the client has one.
        domain = _BONUS_SAME_DOMAIN if self.domains else 0.0
        place = _BONUS_SAME_PLACE if self.place.city or self.place.country else 0.0
        return domain + place

    def name_similarity_floor(self) -> float:
        """The lowest name similarity (0–1, ``token_sort_ratio`` / 100) from which a customer known
        only by its name — no link, marker, same e-mail or acronym — can reach ``CANDIDATE_THRESHOLD``."""
        return (CANDIDATE_THRESHOLD - self._possible_bonus()) / _FUZZY_SCALE

    def name_score_ceiling(self, similarity: float) -> float:
        """A score no customer whose best name similarity is ``similarity`` can exceed, unless it is
        linked, carries this client's marker, has one of its e-mail addresses or is an acronym match
        (equal names have similarity 1 and score ``_SCORE_EQUAL_NAME``, below ``_FUZZY_SCALE``)."""
        return min(_CAP_UNLINKED, _FUZZY_SCALE * similarity + self._possible_bonus()) + _ROUNDING

    def name_score_bound(self, customer: CustomerEvidence, similarity: float) -> ScoreBound:
        """``name_score_ceiling`` for one customer: only the bonuses its evidence allows, capped
        when its evidence contradicts the client (valid on the same terms)."""
        domain = _compare_domains(self.domains, customer.domains)
        place, _ = _compare_places(self.place, customer.place)
        score = _FUZZY_SCALE * similarity
        score += _BONUS_SAME_DOMAIN if domain == "same" else 0.0
        score += _BONUS_SAME_PLACE if place == "same" else 0.0
        score = min(score, _CAP_UNLINKED) + _ROUNDING
        if "different" in (domain, place) or any(other != self.client.id for other in customer.client_links):
            # Exactly the cap: a contradicted customer scoring it ties with others and sorts by name.
            return ScoreBound(min(score, _CAP_CONTRADICTED), may_be_chosen=False)
        return ScoreBound(score, may_be_chosen=True)


class ScoreBound(NamedTuple):
    """A score a customer cannot exceed, and whether it could be chosen (not contradicted)."""

    score: float
    may_be_chosen: bool


@dataclass(frozen=True, slots=True)
class CustomerEvidence:
    """What ``score_customer`` reads from a customer besides its names and e-mail address, worked
    out once (an index keeps it): corporate domains, place, and the Paymo clients whose
    ``paymo:client:<id>`` marker is in its Notes."""

    domains: tuple[str, ...]
    place: _Place
    client_links: tuple[int, ...]

    @classmethod
    def of(cls, customer: QboCustomerView) -> CustomerEvidence:
        return cls(
            tuple(sorted(_corporate_domains([customer.email], [customer.website]))),
            _place(customer.bill_country, customer.bill_city),
            tuple(found.paymo_id for found in find_markers(customer.notes) if found.kind == "client"),
        )


@dataclass(slots=True)
class ScoredCustomer:
    """One customer's score (0–1) for a client and the evidence behind it.

    ``contradicted``: evidence says it is another organisation (score capped); ``excluded``: its
    marker links it to another Paymo client. Either keeps it from being chosen.
    """

    customer: QboCustomerView
    score: float
    reasons: list[str]
    contradicted: bool
    excluded: bool = False

    @property
    def eligible(self) -> bool:
        """Whether it may be chosen: shown, not contradicted, not another client's."""
        return self.score >= CANDIDATE_THRESHOLD and not self.contradicted and not self.excluded

    def sort_key(self) -> tuple[float, str, str]:
        """Best first; equal scores by display name, then Id (the order candidates are listed in)."""
        return (-self.score, self.customer.display_name.lower(), self.customer.id)


def score_customer(
    evidence: ClientEvidence,
    customer: QboCustomerView,
    linked_customer_id: str | None = None,
) -> ScoredCustomer:
    """Score ``customer`` for the client ``evidence`` describes (the ladder is at the constants)."""
    client = evidence.client
    client_name = evidence.name
    client_domains = evidence.domains
    reasons: list[str] = []
    facts = CustomerEvidence.of(customer)
    if linked_customer_id is not None and customer.id == linked_customer_id:
        return ScoredCustomer(customer, _SCORE_LINK, ["stored link", *_flags(client, customer)], False)
    if client.id in facts.client_links:
        return ScoredCustomer(
            customer,
            _SCORE_MARKER,
            [f"marker paymo:client:{client.id} in Notes", *_flags(client, customer)],
            False,
        )
    other_links = [paymo_id for paymo_id in facts.client_links if paymo_id != client.id]

    names = [normalize_name(customer.display_name)]
    if customer.company_name:
        names.append(normalize_name(customer.company_name))
    similarity, how, matched_name = _name_similarity(client_name, names)

    customer_email = customer.email.strip().lower() if customer.email else None
    same_email = customer_email is not None and customer_email in evidence.emails
    customer_domains = facts.domains
    domain_relation = _compare_domains(client_domains, customer_domains)
    place_relation, place_reason = _compare_places(evidence.place, facts.place)

    if same_email and similarity >= _SAME_EMAIL_NAME_FLOOR:
        score = _SCORE_SAME_EMAIL
        reasons.append(f"same e-mail {customer_email}")
    elif same_email:
        score = _SCORE_SAME_EMAIL_OTHER_NAME
        reasons.append(f"same e-mail {customer_email}, but the names differ (shared mailbox?)")
    elif how == "equal":
        score = _SCORE_EQUAL_NAME
        reasons.append(f"names equal after normalisation ({matched_name!r})")
    else:
        score = _FUZZY_SCALE * similarity
    if how != "equal" and similarity > 0:
        label = "acronym of the other name" if how == "acronym" else "name similarity"
        reasons.append(f"{label} {similarity:.2f} ({client_name!r} vs {matched_name!r})")

    contradicted = False
    if domain_relation == "same":
        shared_text = ", ".join(sorted(client_domains.intersection(customer_domains)))
        if not same_email:
            score += _BONUS_SAME_DOMAIN
            reasons.append(f"same organisation domain ({shared_text})")
    elif domain_relation == "different":
        contradicted = True
        reasons.append(
            "different organisation: e-mail/web domain "
            f"{', '.join(sorted(client_domains))} vs {', '.join(sorted(customer_domains))}"
        )
    if place_relation == "same":
        score += _BONUS_SAME_PLACE
        reasons.append(place_reason)
    elif place_relation == "different":
        reasons.append(place_reason)
        # The same mailbox outweighs an old address; anything weaker does not.
        if not same_email:
            contradicted = True
            reasons[-1] = f"different organisation: {place_reason}"
    if other_links:
        contradicted = True
        reasons.append(f"already linked to Paymo client {other_links[0]} (marker in Notes)")

    score = min(score, _CAP_UNLINKED)
    if contradicted:
        score = min(score, _CAP_CONTRADICTED)
    reasons.extend(_flags(client, customer))
    return ScoredCustomer(customer, score, reasons, contradicted, excluded=bool(other_links))


def _flags(client: PaymoClientView, customer: QboCustomerView) -> list[str]:
    flags: list[str] = []
    if not customer.active:
        flags.append("customer is inactive in QuickBooks (reactivate it before use)")
    if client.currency and customer.currency and client.currency.upper() != customer.currency.upper():
        flags.append(
            f"customer currency {customer.currency.upper()} differs from the client's "
            f"{client.currency.upper()} (a QuickBooks customer's currency cannot change)"
        )
    return flags


def match_client(
    client: PaymoClientView,
    customers: Sequence[QboCustomerView],
    *,
    linked_customer_id: str | None = None,
) -> MatchResult:
    """Rank ``customers`` for ``client`` and decide.

    ``matched`` only when the best candidate reaches ``MATCH_THRESHOLD``, nothing contradicts it
    (different corporate domain, different place, linked to another client) and the runner-up is
    at least ``AMBIGUITY_MARGIN`` behind; ``ambiguous`` when some uncontradicted candidate reaches
    ``CANDIDATE_THRESHOLD`` but that does not hold; ``none`` otherwise (contradicted candidates are
    still listed: their DisplayName would collide with a new customer's). Candidates (best first,
    at most five) carry their score and the evidence behind it.
    """
    evidence = ClientEvidence.of(client)
    return decide_match(score_customer(evidence, customer, linked_customer_id) for customer in customers)


def decide_match(scored: Iterable[ScoredCustomer]) -> MatchResult:
    """The decision ``match_client`` documents, from scored customers.

    Only what scores ``CANDIDATE_THRESHOLD`` or more counts, and of that only the five best, the
    best eligible one and whether there is one: customers left out must score below all of these.
    """
    shown = sorted(
        (entry for entry in scored if entry.score >= CANDIDATE_THRESHOLD), key=ScoredCustomer.sort_key
    )
    candidates = [
        Candidate(
            id=entry.customer.id,
            display_name=entry.customer.display_name,
            score=round(entry.score, 3),
            reasons=entry.reasons,
        )
        for entry in shown[:MAX_CANDIDATES]
    ]
    eligible = [entry for entry in shown if entry.eligible]
    if eligible and eligible[0].score >= MATCH_THRESHOLD:
        best = eligible[0]
        runner_up = next((entry for entry in shown if entry is not best), None)
        if runner_up is None or best.score - runner_up.score >= AMBIGUITY_MARGIN:
            return MatchResult(decision="matched", customer=best.customer, candidates=candidates)
    # Candidates that evidence shows to be other organisations stay listed (their names still
    # collide in QBO) but leave nothing for a human to choose between.
    decision: MatchDecision = "ambiguous" if eligible else "none"
    return MatchResult(decision=decision, customer=None, candidates=candidates)


# --------------------------------------------------------------------------------------------
# DisplayName for QBO
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SanitizedName:
    """A name made acceptable as a QBO ``DisplayName``, and what was changed."""

    value: str
    original: str
    changes: tuple[str, ...] = ()

    @property
    def altered(self) -> bool:
        return bool(self.changes)


def sanitize_display_name(name: str) -> SanitizedName:
    """Make ``name`` a valid QBO ``DisplayName`` and say what changed.

    QBO forbids ``:`` (its sub-customer separator), tab and newline, and allows 500 characters.
    Typographic quotes become ASCII ones (they also break QBO's query lexer); ``:`` becomes
    `` -`` ("Soylent: Foods" → "Soylent - Foods"); control characters and runs of whitespace
    become one space.
    """
    changes: list[str] = []
    value = name.translate(_QUOTES)
    if value != name:
        changes.append("typographic quotes replaced by ASCII quotes")
    if ":" in value:
        value = re.sub(r"\s*:\s*", " - ", value)
        # A leading or trailing colon leaves a dangling dash behind.
        value = re.sub(r"^\s*-\s|\s-\s*$", "", value)
        changes.append("':' replaced by ' - ' (QBO reserves ':' for sub-customers)")
    if re.search(r"[\x00-\x1f\x7f]", value):
        value = re.sub(r"[\x00-\x1f\x7f]", " ", value)
        changes.append("tabs, line breaks and control characters replaced by spaces")
    collapsed = " ".join(value.split())
    if collapsed != value:
        changes.append("surrounding/repeated spaces removed")
        value = collapsed
    if not value:
        raise InputError(f"{name!r} has nothing usable as a QuickBooks DisplayName", field_name="name")
    if len(value) > DISPLAY_NAME_MAX_LENGTH:
        value = value[:DISPLAY_NAME_MAX_LENGTH].rstrip()
        changes.append(f"shortened to {DISPLAY_NAME_MAX_LENGTH} characters (QBO limit)")
    return SanitizedName(value, name, tuple(changes))
