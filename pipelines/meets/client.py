"""MEETS (CirQlive) SaaS API client: functions, paging, input-size rules, MEETS error shapes.

Every call goes through the shared :class:`~pipelines.api_client.ApiClient` (pacing, daily
ledger, retries of 429/5xx/non-JSON 500s/cut-off bodies, redaction, credentials only on the
configured host). This module adds what is specific to MEETS, per the MEETS SaaS API Usage Manual:

* **Functions** live at ``<base>/<function_name>`` and take their parameters from the query string
  (GET) or an ``application/x-www-form-urlencoded`` body (POST).
* **Input limits**: MEETS *silently ignores* a parameter whose value is longer than 512 bytes on GET
  or 4096 bytes on POST. An ignored id filter returns *every* row, which is worse than an error.
  So a request goes by GET while every value fits 512 bytes, by POST up to 4096 bytes, and a
  comma-separated id list longer than that is split into several requests whose results are
  merged. Sizes are measured on the value *as sent* (percent-encoded: ``,`` is ``%2C``, 3 bytes),
  the strict reading that is safe however MEETS measures.
* **Paging**: list functions return at most ``limit`` (<= 1000) rows of the requested entity and
  ``nextPageStartAfterId``; we loop with ``startAfterId`` until it is null. The order of maps and of
  their members is not guaranteed, so nothing here depends on it.
* **Errors**: ``{"status": 4xx/5xx, "error": "..."}`` becomes :class:`MeetsApiError` (or
  :class:`MeetsNotFound` / :class:`MeetsAuthError`) carrying MEETS' own message. Non-JSON 500s are
  MEETS' "temporary, unknown error" and are retried by the shared client.
* **Zoom attendance** look-ups are limited by MEETS to 2000 per day: a 429 that says so becomes
  :class:`ZoomAttendanceLimitReached` at once instead of being retried for minutes.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus

from pipelines.api_client import (
    MEETS,
    ApiClient,
    ApiError,
    AuthError,
    BadResponse,
    HeaderTokenAuth,
    NotFound,
    RateLimiter,
    RequestBudget,
    RetryPolicy,
)
from pipelines.api_client.redact import DEFAULT_REDACTOR, Redactor

log = logging.getLogger("pipelines.meets")

GET_VALUE_LIMIT = 512
POST_VALUE_LIMIT = 4096
MAX_PAGE_LIMIT = 1000
ZOOM_SERVICES = frozenset({"zoom", "zoomwebinars"})

# Which entity map a list function answers with, and the key that holds an entity's id.
ENTITY_ID_KEYS: dict[str, str] = {
    "admins": "meetsIdAdmin",
    "connections": "meetsIdConnection",
    "courses": "meetsIdCourse",
    "users": "meetsIdUser",
    "conferencingAccounts": "meetsIdConferencingAccount",
    "conferencingEvents": "meetsIdConferencingEvent",
    "conferenceRecordings": "meetsIdConferenceRecording",
}
LIST_FUNCTIONS: dict[str, str] = {
    "list_admins": "admins",
    "list_connections": "connections",
    "list_courses": "courses",
    "list_users": "users",
    "list_course_users": "users",
    "list_conferencing_events": "conferencingEvents",
    "list_conference_recordings": "conferenceRecordings",
}


# ---------------------------------------------------------------------------------------------- errors
class MeetsApiError(ApiError):
    """MEETS answered with its JSON error shape ``{"status": ..., "error": "..."}``.

    ``meets_message`` is MEETS' own explanation (e.g. ``Conferencing event with ID "322" not
    found``); ``function`` is the API function that failed.
    """

    def __init__(
        self,
        message: str,
        *,
        function: str | None = None,
        meets_message: str | None = None,
        status: int | None = None,
        url: str | None = None,
        method: str | None = None,
        body: str | None = None,
        endpoint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(
            message, status=status, url=url, method=method, body=body, endpoint=endpoint, attempts=attempts
        )
        self.function = function
        self.meets_message = meets_message


class MeetsNotFound(MeetsApiError, NotFound):
    """HTTP 404 from MEETS: the entity (event, course, LTI id...) does not exist; skip it."""


class MeetsAuthError(MeetsApiError, AuthError):
    """MEETS rejected the API token (401/403): fix ``sources.meets.api_token`` / ``token_header``."""


class ZoomAttendanceLimitReached(MeetsApiError):
    """MEETS' daily allowance of Zoom attendance look-ups (2000 per day) is spent.

    Stop requesting Zoom attendance until the next (UTC) day; other services are not limited.
    """


def meets_error_message(body: str | None) -> str | None:
    """MEETS' ``error`` string from an error body (which may be cut off after 500 characters)."""
    if not body:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        match = re.search(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)', body)
        if match is None:
            return None
        try:
            return json.loads(f'"{match.group(1)}"')
        except ValueError:
            return match.group(1)
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return payload["error"]
    return None


def is_daily_limit_message(message: str | None) -> bool:
    """Whether a MEETS 429 message speaks of the per-day allowance (not a momentary throttle)."""
    text = (message or "").lower()
    return "per day" in text or "daily" in text or "tomorrow" in text


# ---------------------------------------------------------------------------------------------- encoding
def encode_value(value: Any) -> str:
    """A parameter value as MEETS expects it: lists comma-separated, booleans 1/0, ints as text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ",".join(encode_value(v) for v in items)
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Parameters as strings; ``None`` and empty values are dropped (MEETS treats them as absent)."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        text = encode_value(value)
        if text != "":
            out[key] = text
    return out


def wire_size(value: str) -> int:
    """Bytes the value occupies on the wire, percent-encoded as ``requests`` sends it."""
    return len(quote_plus(value, safe=""))


def choose_method(params: Mapping[str, str], get_limit: int = GET_VALUE_LIMIT) -> str:
    """``GET`` while every value fits the GET limit, else ``POST`` (form-encoded body)."""
    return "GET" if all(wire_size(v) <= get_limit for v in params.values()) else "POST"


def chunk_list_value(value: str, limit: int = POST_VALUE_LIMIT) -> list[str]:
    """Split a comma-separated value into the fewest consecutive pieces that each fit ``limit``.

    Raises ``ValueError`` if a single item is longer than the limit (it can never be sent).
    """
    items = [item for item in value.split(",") if item != ""]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    comma = wire_size(",")
    for item in items:
        item_size = wire_size(item)
        if item_size > limit:
            raise ValueError(f"a single filter value of {item_size} bytes exceeds the {limit}-byte limit")
        added = item_size if not current else comma + item_size
        if current and size + added > limit:
            chunks.append(",".join(current))
            current, size = [item], item_size
        else:
            current.append(item)
            size += added
    if current:
        chunks.append(",".join(current))
    return chunks


def plan_requests(
    params: Mapping[str, str],
    *,
    get_limit: int = GET_VALUE_LIMIT,
    post_limit: int = POST_VALUE_LIMIT,
) -> list[tuple[str, dict[str, str]]]:
    """The ``(method, params)`` requests that together answer one logical call.

    One request when every value fits the POST limit. Otherwise every over-long comma-separated
    value is chunked; MEETS ANDs different filters and ORs the ids inside one, so the union over
    the cartesian product of the chunks is exactly the answer to the unsplit filter.
    """
    split: dict[str, list[str]] = {}
    for key, value in params.items():
        if wire_size(value) > post_limit:
            if "," not in value:
                raise ValueError(
                    f"parameter {key!r} is {wire_size(value)} bytes, over MEETS' {post_limit}-byte limit, "
                    "and is not a comma-separated list that could be split"
                )
            split[key] = chunk_list_value(value, post_limit)
    if not split:
        return [(choose_method(params, get_limit), dict(params))]
    keys = list(split)
    plans: list[tuple[str, dict[str, str]]] = []
    for combo in itertools.product(*(split[k] for k in keys)):
        request = dict(params)
        request.update(zip(keys, combo, strict=True))
        plans.append((choose_method(request, get_limit), request))
    return plans


# ---------------------------------------------------------------------------------------------- responses
def entity_map(response: Mapping[str, Any], name: str) -> list[dict]:
    """The entities of one map of a list response, ordered by id (the map order means nothing).

    Tolerates a missing map and a map serialised as a JSON array (PHP encodes an empty
    associative array as ``[]``).
    """
    raw = response.get(name)
    if not raw:
        return []
    values = list(raw.values()) if isinstance(raw, Mapping) else list(raw)
    entities = [v for v in values if isinstance(v, Mapping)]
    id_key = ENTITY_ID_KEYS.get(name)
    if id_key is not None:
        entities.sort(key=lambda e: _as_int(e.get(id_key), default=0))
    return [dict(e) for e in entities]


def keyed_entities(response: Mapping[str, Any], name: str) -> list[tuple[str | None, dict]]:
    """``(map key, entity)`` of one map, ordered by id; the key is ``None`` for a JSON array."""
    raw = response.get(name)
    if not raw:
        return []
    pairs = list(raw.items()) if isinstance(raw, Mapping) else [(None, v) for v in raw]
    entities = [(k, dict(v)) for k, v in pairs if isinstance(v, Mapping)]
    id_key = ENTITY_ID_KEYS.get(name)
    if id_key is not None:
        entities.sort(key=lambda kv: _as_int(kv[1].get(id_key), default=0))
    return entities


ProblemHook = Callable[[str, str, dict, str, str], None]
"""``hook(function, entity map, entity, field, reason)``: a record that cannot be trusted as sent."""
_CHUNK_MARK = "__mw_chunk__"


def _as_int(value: Any, default: int | None = None) -> int | None:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def attendance_list(response: Mapping[str, Any]) -> list[dict]:
    """The attendance entries, in the order MEETS returned them (an array; a map is tolerated)."""
    raw = response.get("attendance")
    if not raw:
        return []
    if isinstance(raw, Mapping):
        values = [raw[k] for k in sorted(raw, key=lambda k: (_as_int(k, default=0), str(k)))]
    else:
        values = list(raw)
    return [dict(v) for v in values if isinstance(v, Mapping)]


@dataclass(frozen=True)
class Attendance:
    """One ``get_conferencing_event_attendance`` answer."""

    event_id: int
    rows: list[dict]
    is_final: bool
    problem: str | None = None
    """Why the answer cannot be trusted (``attendance`` null or not a list): quarantine, don't load."""


# ---------------------------------------------------------------------------------------------- client
class MeetsClient:
    """Calls MEETS API functions through the shared HTTP layer.

    ``call`` is one logical call (GET or POST chosen by size, chunked when needed); ``iter_pages``
    walks a list function's pages; ``list_entities`` yields the requested entity map page by
    page, de-duplicated across chunks. Thread-compatible counters feed the run summary.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        token_header: str = "X-MEETS-API-Token",
        limiter: RateLimiter,
        budget: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        allowed_hosts: Iterable[str] = (),
        redactor: Redactor | None = None,
        timeout: float | tuple[float, float] = (10, 60),
        page_limit: int = MAX_PAGE_LIMIT,
        get_limit: int = GET_VALUE_LIMIT,
        post_limit: int = POST_VALUE_LIMIT,
        category: str = MEETS,
    ) -> None:
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_PAGE_LIMIT} (MEETS refuses more)")
        self.redactor = redactor if redactor is not None else DEFAULT_REDACTOR
        self.redactor.add(token)
        retry = retry if retry is not None else RetryPolicy()
        auth = HeaderTokenAuth(token_header, token)
        common: dict[str, Any] = {
            "auth": auth,
            "limiter": limiter,
            "budget": budget,
            "allowed_hosts": tuple(allowed_hosts),
            "redactor": self.redactor,
            "timeout": timeout,
        }
        self.api = ApiClient(base_url, retry=retry, **common)
        # Attendance look-ups must not retry MEETS' per-day 429 for minutes: a twin client that
        # shares the session, limiter and ledger but sends once and hands every failure back to
        # get_attendance, which retries the transient ones itself.
        self._attendance_api = ApiClient(
            base_url,
            retry=replace(retry, max_attempts=1),
            session=self.api.session,
            **common,
        )
        self.retry = retry
        self.base_url = self.api.base_url
        self.category = category
        self.page_limit = page_limit
        self.get_limit = get_limit
        self.post_limit = post_limit
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._methods: Counter[str] = Counter()
        self._own_retries = 0  # attendance retries done here rather than in the shared client

    # ------------------------------------------------------------------ stats
    @property
    def calls_by_function(self) -> dict[str, int]:
        """HTTP requests we issued per MEETS function (one per chunk and page; without retries)."""
        with self._lock:
            return dict(sorted(self._calls.items()))

    @property
    def calls_by_method(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._methods.items()))

    @property
    def http_stats(self) -> dict[str, int]:
        """Sends (retries included), retries, 429s and failures over both underlying clients."""
        total: Counter[str] = Counter()
        for api in (self.api, self._attendance_api):
            total.update(api.stats.get(self.category, {}))
        with self._lock:
            # each attendance retry was a failure of the send-once twin client, not of the call
            total["retries"] += self._own_retries
            total["failures"] = max(0, total["failures"] - self._own_retries)
        return dict(total)

    @property
    def requests_sent(self) -> int:
        return self.http_stats.get("sent", 0)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> MeetsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MeetsClient(base_url={self.redactor.redact(self.base_url)!r})"

    # ------------------------------------------------------------------ calls
    def call(self, function: str, params: Mapping[str, Any] | None = None) -> dict:
        """One logical call: GET or POST by size; an over-long id list is split and the entity
        maps of the parts are merged. For complete list results use :meth:`iter_pages` or
        :meth:`list_entities`, which also follow ``nextPageStartAfterId``."""
        plans = plan_requests(encode_params(params), get_limit=self.get_limit, post_limit=self.post_limit)
        if len(plans) == 1:
            method, request = plans[0]
            return self._send(function, method, request)
        merged: dict[str, Any] = {}
        for method, request in plans:
            page = self._send(function, method, request)
            if page.get("nextPageStartAfterId") not in (None, ""):
                raise ValueError(
                    f"{function} with a split filter has more than one page per part; use iter_pages()"
                )
            for key, value in page.items():
                if key in ENTITY_ID_KEYS:
                    target = merged.setdefault(key, {})
                    if isinstance(value, Mapping):
                        target.update(value)
                elif key not in merged:
                    merged[key] = value
        return merged

    def iter_pages(self, function: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every page of a list function (per chunk of an over-long filter), in request order."""
        base = encode_params(params)
        base.pop("startAfterId", None)
        base.setdefault("limit", str(self.page_limit))
        for method, request in plan_requests(base, get_limit=self.get_limit, post_limit=self.post_limit):
            start_after = 0
            chunk = id(request)
            while True:
                page = self._send(function, method, {**request, "startAfterId": str(start_after)})
                page[_CHUNK_MARK] = chunk
                yield page
                page.pop(_CHUNK_MARK, None)
                next_id = page.get("nextPageStartAfterId")
                if next_id is None or next_id == "":
                    break
                next_int = _as_int(next_id)
                if next_int is None or next_int <= start_after:
                    raise BadResponse(
                        f"MEETS {function} returned nextPageStartAfterId={next_id!r} after startAfterId="
                        f"{start_after}; paging would not advance. Rerun later; report it to CirQlive if it "
                        "persists.",
                        endpoint=function,
                    )
                start_after = next_int

    def list_entities(
        self,
        function: str,
        params: Mapping[str, Any] | None = None,
        *,
        entity: str | None = None,
        on_problem: ProblemHook | None = None,
    ) -> Iterator[list[dict]]:
        """Pages (lists) of the function's main entity, each entity once even across chunks.

        With ``on_problem``, a map key that disagrees with the entity's own id and an id that a
        later *page* repeats are reported (and the entity left out) instead of passing silently;
        repeats across chunks of a long filter are expected and stay silent.
        """
        name = entity or LIST_FUNCTIONS[function]
        id_key = ENTITY_ID_KEYS[name]
        seen: set[int] = set()
        chunk_seen: set[int] = set()
        last_start = None
        for page in self.iter_pages(function, params):
            rows = []
            new_chunk = page.get(_CHUNK_MARK, 0) != last_start
            last_start = page.pop(_CHUNK_MARK, 0)
            if new_chunk:
                chunk_seen = set()
            for map_key, row in keyed_entities(page, name):
                key = _as_int(row.get(id_key))
                if (
                    on_problem is not None
                    and map_key is not None
                    and key is not None
                    and str(map_key) != str(key)
                ):
                    on_problem(function, name, row, id_key, f"is {key} but the map key is {map_key!r}")
                    continue
                if key is not None and key in seen:
                    if on_problem is not None and key in chunk_seen:
                        on_problem(function, name, row, id_key, "duplicate id across pages; first copy kept")
                    continue
                if key is not None:
                    seen.add(key)
                    chunk_seen.add(key)
                rows.append(row)
            if rows:
                yield rows

    def list_all(self, function: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        """Every entity of a list function as one list (small lists, ad-hoc use)."""
        return [row for page in self.list_entities(function, params) for row in page]

    # ------------------------------------------------------------------ get / from
    def get_attendance(self, event_id: int) -> Attendance:
        """Attendance of one event. Raises :class:`MeetsNotFound` for an unknown event and
        :class:`ZoomAttendanceLimitReached` when MEETS' daily Zoom allowance is spent."""
        function = "get_conferencing_event_attendance"
        params = {"meetsIdConferencingEvent": str(int(event_id))}
        attempt = 0
        while True:
            attempt += 1
            try:
                body = self._send(function, "GET", params, api=self._attendance_api)
            except ApiError as exc:
                if exc.status == 429 and is_daily_limit_message(getattr(exc, "meets_message", None)):
                    raise ZoomAttendanceLimitReached(
                        f"MEETS says its daily allowance of Zoom attendance look-ups is spent "
                        f"({getattr(exc, 'meets_message', None)}). Attendance of Zoom events resumes on "
                        "a run after the reset.",
                        function=function,
                        meets_message=getattr(exc, "meets_message", None),
                        status=429,
                        endpoint=exc.endpoint,
                    ) from exc
                transient = isinstance(exc, BadResponse) or exc.status is None or exc.status == 429
                transient = transient or exc.status >= 500
                if not transient or not self.retry.can_retry(attempt):
                    raise
                delay = self.retry.backoff(attempt)
                with self._lock:
                    self._own_retries += 1
                log.info("MEETS %s failed (%s); retrying in %.2fs", function, exc, delay)
                self.retry.sleep(delay)
                continue
            final = body.get("isFinal")
            raw = body.get("attendance")
            problem = None
            if raw is None:
                problem = "is null where a list was expected" if "attendance" in body else "is missing"
            elif not isinstance(raw, (list, Mapping)):
                problem = f"should be a list, got {type(raw).__name__}"
            elif not isinstance(final, bool):
                problem = f"isFinal should be true/false, got {final!r}"
            return Attendance(
                int(event_id),
                attendance_list(body) if problem is None else [],
                bool(final) if final is not None else False,
                problem,
            )

    def from_lti_id_context(self, connection_id: int, lti_id_context: str) -> int:
        """MEETS course id of an LTI context id within a connection (MEETS never changes it: cacheable)."""
        body = self.call(
            "from_lti_id_context", {"meetsIdConnection": int(connection_id), "ltiIdContext": lti_id_context}
        )
        return self._id_from(body, "meetsIdCourse", "from_lti_id_context")

    def from_lti_id_user(self, connection_id: int, lti_id_user: str) -> int:
        """MEETS user id of an LTI user id within a connection (MEETS never changes it: cacheable)."""
        body = self.call(
            "from_lti_id_user", {"meetsIdConnection": int(connection_id), "ltiIdUser": lti_id_user}
        )
        return self._id_from(body, "meetsIdUser", "from_lti_id_user")

    @staticmethod
    def _id_from(body: Mapping[str, Any], key: str, function: str) -> int:
        value = _as_int(body.get(key))
        if value is None:
            raise BadResponse(f"MEETS {function} answered without a numeric {key!r}.", endpoint=function)
        return value

    # ------------------------------------------------------------------ sending
    def _send(
        self, function: str, method: str, params: Mapping[str, str], *, api: ApiClient | None = None
    ) -> dict:
        api = api or self.api
        if not re.fullmatch(r"[a-z_]+", function):
            raise ValueError(f"not a MEETS function name: {function!r}")
        with self._lock:
            self._calls[function] += 1
            self._methods[method] += 1
        try:
            if method == "GET":
                body = api.get_json(function, category=self.category, params=params)
            else:
                body = api.post_form_json(function, category=self.category, data=params)
        except ApiError as exc:
            raise self._translate(function, exc) from exc
        if not isinstance(body, dict):
            raise BadResponse(
                f"MEETS {function} answered with JSON that is not an object ({type(body).__name__}).",
                endpoint=function,
            )
        status = body.get("status")
        if isinstance(status, int) and status >= 400:
            message = body.get("error") if isinstance(body.get("error"), str) else None
            raise MeetsApiError(
                f"MEETS {function} failed with status {status}: {message or 'no message'}.",
                function=function,
                meets_message=message,
                status=status,
                endpoint=function,
            )
        return body

    def _translate(self, function: str, exc: ApiError) -> ApiError:
        """Re-raise the shared client's error with MEETS' own message, typed for the caller."""
        if isinstance(exc, (MeetsApiError, BadResponse)) or exc.status is None:
            # a cut-off or invalid body (HTTP 200) stays a BadResponse: transient, and its message says so
            return exc
        message = meets_error_message(exc.body)
        if message is None and exc.status >= 500:
            return exc  # non-JSON 500 after every retry: keep the shared client's explanation
        said = message or "no message"
        common: dict[str, Any] = {
            "function": function,
            "meets_message": message,
            "status": exc.status,
            "url": exc.url,
            "method": exc.method,
            "body": exc.body,
            "endpoint": exc.endpoint,
            "attempts": exc.attempts,
        }
        if exc.status in (401, 403) or isinstance(exc, AuthError):
            return MeetsAuthError(
                f"MEETS rejected the API token on {function} (HTTP {exc.status}: {said}). Check "
                "sources.meets.api_token and sources.meets.token_header (env SOURCES__MEETS__API_TOKEN), "
                "and that the token was not revoked in the MEETS administration panel.",
                **common,
            )
        if exc.status == 404:
            return MeetsNotFound(f"MEETS {function}: HTTP 404: {said}.", **common)
        return MeetsApiError(f"MEETS {function} failed: HTTP {exc.status}: {said}.", **common)
