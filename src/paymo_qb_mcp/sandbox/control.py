"""Fault control over HTTP: the `/__sandbox/...` admin path an emulator serves on its own port when asked.

Off unless the emulator was built with `fault_control=True` (the `sandbox --faults` command): then
`/__sandbox/faults` reads, sets and resets the fault knobs and the rate budget, `/__sandbox/faults/next`
scripts one-shot faults (lost responses among them) and `/__sandbox/requests` summarises the request
log, so a tester in any language drives the faults that tests set from Python. Admin calls bypass the
emulated service entirely: no latency, no fault, no rate window, no entry in the request log.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from paymo_qb_mcp.sandbox.faults import Faults, LoggedRequest, RateBudget

# Neither API has a path outside its own prefix (Paymo `/api/...`, QBO `/v3/company/...`), and a double
# underscore is in no resource name of either: this prefix can never shadow a real endpoint.
ADMIN_PREFIX = "/__sandbox"
FAULTS_PATH = f"{ADMIN_PREFIX}/faults"
NEXT_PATH = f"{ADMIN_PREFIX}/faults/next"
REQUESTS_PATH = f"{ADMIN_PREFIX}/requests"
RECENT_REQUESTS = 50
MAX_LATENCY_S = 600.0
MAX_COUNT = 1_000_000
RATE_PROFILES = ("faithful", "relaxed")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_FAULT_FIELDS = ("latency_s", "error_rate", "error_status", "fail_after_n", "seed")
_SETTABLE = (*_FAULT_FIELDS, "time_scale", "rate_limits", "rate_budget")
_NEXT_FIELDS = ("count", "status", "method", "path_contains", "after_commit")
_WINDOW_FIELDS = ("limit", "period_s")


class Controlled(Protocol):
    """What the admin path reads and sets on an emulator."""

    faults: Faults
    time_scale: float
    request_log: list[LoggedRequest]


@dataclass(frozen=True)
class RateWindows:
    """An emulator's rate budget as named windows. `read` and `write` get and set the current budget,
    `profile(rate_limits, time_scale)` builds "faithful" or "relaxed" at a time scale; `flat` shows a
    budget of one window as its own fields ({"limit", "period_s"}) rather than by name."""

    read: Callable[[], dict[str, RateBudget]]
    write: Callable[[dict[str, RateBudget]], None]
    profile: Callable[[str, float], dict[str, RateBudget]]
    flat: bool = False


class InvalidField(ValueError):
    """A request body the admin path refuses; `field` names the offending field (dotted when nested)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


def is_control_path(path: str) -> bool:
    """Whether `path` is under the admin prefix (`/__sandbox` or below it)."""
    return path == ADMIN_PREFIX or path.startswith(f"{ADMIN_PREFIX}/")


class FaultControl:
    """The admin routes of one emulator. The budget and time scale it restores on DELETE are the ones
    the emulator had when this was built (its `rate_limits` and `time_scale`)."""

    def __init__(self, emulator: Controlled, windows: RateWindows) -> None:
        self._emulator = emulator
        self._windows = windows
        self._initial_time_scale = emulator.time_scale
        self._initial_budget = dict(windows.read())

    async def answer(self, request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        method = request.method.upper()
        routes: dict[str, dict[str, Callable[[bytes], Response]]] = {
            FAULTS_PATH: {
                "GET": lambda _: self._state(200),
                "PUT": self._set,
                "PATCH": self._set,
                "DELETE": lambda _: self._reset(),
            },
            NEXT_PATH: {"POST": self._script, "DELETE": lambda _: self._unscript()},
            REQUESTS_PATH: {"GET": lambda _: self._requests(), "DELETE": lambda _: self._forget()},
        }
        handlers = routes.get(path)
        if handlers is None:
            return _error(404, None, f"no sandbox control at {path}; the paths are {', '.join(routes)}")
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(handlers)
            response = _error(405, None, f"{method} is not allowed on {path}; use {allowed}")
            response.headers["Allow"] = allowed
            return response
        try:
            return handler(await request.body())
        except InvalidField as invalid:
            return _error(400, invalid.field, str(invalid))

    # --- /__sandbox/faults -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The knobs as GET shows them."""
        faults = self._emulator.faults
        return {
            "latency_s": faults.latency_s,
            "error_rate": faults.error_rate,
            "error_status": faults.error_status,
            "fail_after_n": faults.fail_after_n,
            "seed": faults.seed,
            "answered": faults.answered,
            "scripted": [
                {
                    "remaining": fault.remaining,
                    "status": fault.status,
                    "method": fault.method,
                    "path_contains": fault.path_contains,
                    "after_commit": fault.after_commit,
                }
                for fault in faults.scripted
                if fault.remaining > 0
            ],
            "time_scale": self._emulator.time_scale,
            "rate_budget": self._render_budget(self._windows.read()),
        }

    def _state(self, status: int) -> Response:
        return _json(self.state(), status)

    def _set(self, body: bytes) -> Response:
        document = _object(body)
        _known(document, _SETTABLE, None)
        # Everything is checked before anything changes: a refused body leaves the knobs as they were.
        changes: dict[str, Any] = {}
        if "latency_s" in document:
            changes["latency_s"] = _number(document, "latency_s", "latency_s", low=0.0, high=MAX_LATENCY_S)
        if "error_rate" in document:
            changes["error_rate"] = _number(document, "error_rate", "error_rate", low=0.0, high=1.0)
        if "error_status" in document:
            changes["error_status"] = _status(document, "error_status")
        if "fail_after_n" in document:
            value = document["fail_after_n"]
            changes["fail_after_n"] = (
                None if value is None else _whole(document, "fail_after_n", "fail_after_n", low=0)
            )
        if "seed" in document:
            changes["seed"] = _whole(document, "seed", "seed", low=0, high=2**63 - 1)
        time_scale = self._emulator.time_scale
        if "time_scale" in document:
            time_scale = _number(document, "time_scale", "time_scale", low=0.0, high=None, open_low=True)
        budget = self._windows.read()
        if time_scale != self._emulator.time_scale:
            # The windows keep their real length: a new scale shortens them from the real one.
            ratio = self._emulator.time_scale / time_scale
            budget = {name: RateBudget(w.limit, w.period_s * ratio) for name, w in budget.items()}
        if "rate_limits" in document:
            profile = document["rate_limits"]
            if profile not in RATE_PROFILES:
                raise InvalidField(
                    "rate_limits", f"rate_limits must be 'faithful' or 'relaxed', not {_shown(profile)}"
                )
            budget = self._windows.profile(profile, time_scale)
        if "rate_budget" in document:
            budget = self._parse_budget(document["rate_budget"], budget)
        faults = self._emulator.faults
        for name in ("latency_s", "error_rate", "error_status"):
            if name in changes:
                setattr(faults, name, changes[name])
        if "fail_after_n" in changes:
            faults.fail_after_n = changes["fail_after_n"]
            # Over HTTP, N counts from now: the requests answered before the PUT are not the tester's.
            faults.answered = 0
        if "seed" in changes:
            faults.reseed(changes["seed"])
        self._emulator.time_scale = time_scale
        self._windows.write(budget)
        return self._state(200)

    def _reset(self) -> Response:
        faults = self._emulator.faults
        pristine = Faults()
        faults.clear()
        faults.error_status = pristine.error_status
        faults.reseed(pristine.seed)
        self._emulator.time_scale = self._initial_time_scale
        self._windows.write(dict(self._initial_budget))
        return self._state(200)

    # --- /__sandbox/faults/next --------------------------------------------------------------------
    def _script(self, body: bytes) -> Response:
        document = _object(body, empty_ok=True)
        _known(document, _NEXT_FIELDS, None)
        count = _whole(document, "count", "count", low=1, high=MAX_COUNT) if "count" in document else 1
        status = _status(document, "status") if "status" in document else 500
        method = document.get("method")
        if method is not None and (not isinstance(method, str) or method.upper() not in HTTP_METHODS):
            raise InvalidField(
                "method", f"method must be null or one of {', '.join(HTTP_METHODS)}, not {_shown(method)}"
            )
        path_contains = document.get("path_contains")
        if path_contains is not None and (not isinstance(path_contains, str) or not path_contains):
            raise InvalidField(
                "path_contains",
                f"path_contains must be null or a non-empty string, not {_shown(path_contains)}",
            )
        after_commit = document.get("after_commit", False)
        if not isinstance(after_commit, bool):
            raise InvalidField(
                "after_commit", f"after_commit must be true or false, not {_shown(after_commit)}"
            )
        self._emulator.faults.fail_next(
            count,
            status=status,
            method=method.upper() if method is not None else None,
            path_contains=path_contains,
            after_commit=after_commit,
        )
        return self._state(201)

    def _unscript(self) -> Response:
        self._emulator.faults.scripted.clear()
        return self._state(200)

    # --- /__sandbox/requests -----------------------------------------------------------------------
    def requests_summary(self) -> dict[str, Any]:
        """The request log as GET /__sandbox/requests shows it: counts by status and the latest calls."""
        log = self._emulator.request_log
        by_status = Counter(str(logged.status) for logged in log)
        return {
            "total": len(log),
            "by_status": dict(sorted(by_status.items())),
            "throttled": by_status.get("429", 0),
            "recent": [
                {"method": logged.method, "path": logged.path, "query": logged.query, "status": logged.status}
                for logged in log[-RECENT_REQUESTS:]
            ],
        }

    def _requests(self) -> Response:
        return _json(self.requests_summary(), 200)

    def _forget(self) -> Response:
        self._emulator.request_log.clear()
        return self._requests()

    # --- rate budget -------------------------------------------------------------------------------
    def _render_budget(self, budget: Mapping[str, RateBudget]) -> dict[str, Any]:
        rendered = {name: {"limit": w.limit, "period_s": w.period_s} for name, w in budget.items()}
        if self._windows.flat:
            [only] = rendered.values()
            return only
        return rendered

    def _parse_budget(self, value: Any, current: dict[str, RateBudget]) -> dict[str, RateBudget]:
        """`current` with the windows and fields `value` gives; the others keep their values."""
        if not isinstance(value, dict):
            raise InvalidField("rate_budget", f"rate_budget must be a JSON object, not {_shown(value)}")
        if self._windows.flat:
            [name] = current
            return {name: _window(value, current[name], "rate_budget")}
        _known(value, tuple(current), "rate_budget")
        budget = dict(current)
        for name, fields in value.items():
            where = f"rate_budget.{name}"
            if not isinstance(fields, dict):
                raise InvalidField(where, f"{where} must be a JSON object, not {_shown(fields)}")
            budget[name] = _window(fields, current[name], where)
        return budget


def _window(fields: dict[str, Any], current: RateBudget, where: str) -> RateBudget:
    _known(fields, _WINDOW_FIELDS, where)
    limit = _whole(fields, "limit", f"{where}.limit", low=1) if "limit" in fields else current.limit
    period = (
        _number(fields, "period_s", f"{where}.period_s", low=0.0, high=None, open_low=True)
        if "period_s" in fields
        else current.period_s
    )
    return RateBudget(limit, period)


# --- validation ------------------------------------------------------------------------------------
def _object(body: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    if not body.strip():
        if empty_ok:
            return {}
        raise InvalidField(None, 'the body must be a JSON object, e.g. {"latency_s": 0.5}')
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidField(None, f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidField(None, f"the body must be a JSON object, not a {type(document).__name__}")
    return document


def _known(document: Mapping[str, Any], allowed: tuple[str, ...], where: str | None) -> None:
    for key in document:
        if key not in allowed:
            field = f"{where}.{key}" if where else key
            raise InvalidField(field, f"unknown field {field!r}; the fields are {', '.join(allowed)}")


def _number(
    document: Mapping[str, Any],
    key: str,
    field: str,
    *,
    low: float,
    high: float | None,
    open_low: bool = False,
) -> float:
    value = document[key]
    bound = f"greater than {low:g}" if open_low else f"at least {low:g}"
    wanted = f"a number {bound}" + (f" and at most {high:g}" if high is not None else "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(field, f"{field} must be {wanted}, not {_shown(value)}")
    number = float(value)
    too_low = number <= low if open_low else number < low
    if not math.isfinite(number) or too_low or (high is not None and number > high):
        raise InvalidField(field, f"{field} must be {wanted}, not {_shown(value)}")
    return number


def _whole(document: Mapping[str, Any], key: str, field: str, *, low: int, high: int = MAX_COUNT) -> int:
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidField(field, f"{field} must be a whole number from {low} to {high}, not {_shown(value)}")
    return value


def _status(document: Mapping[str, Any], key: str) -> int:
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise InvalidField(key, f"{key} must be an HTTP error status from 400 to 599, not {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _json(document: Mapping[str, Any], status: int) -> Response:
    return Response(json.dumps(document), status_code=status, media_type="application/json")


def _error(status: int, field: str | None, message: str) -> Response:
    return _json({"error": message, "field": field}, status)
