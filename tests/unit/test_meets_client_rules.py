"""MEETS input-size rules (GET 512 / POST 4096 bytes, as sent), chunking, error translation, settings."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.api_client import ApiError, AuthError, NotFound, RateLimit, RateLimiter
from pipelines.meets.client import (
    GET_VALUE_LIMIT,
    POST_VALUE_LIMIT,
    MeetsApiError,
    MeetsAuthError,
    MeetsClient,
    MeetsNotFound,
    choose_method,
    chunk_list_value,
    encode_params,
    encode_value,
    is_daily_limit_message,
    meets_error_message,
    plan_requests,
    wire_size,
)
from pipelines.meets.settings import MeetsConfigError, MeetsSettings, load_settings


def ids_value(n: int, start: int = 5000) -> str:
    return ",".join(str(start + i) for i in range(n))


def test_encode_values() -> None:
    assert encode_value([3, 1, 2]) == "3,1,2"
    assert encode_value({3, 1, 2}) == "1,2,3"
    assert encode_value(True) == "1"
    assert encode_value(7) == "7"
    assert encode_params({"a": None, "b": "", "c": [], "d": 0, "e": ["zoom", "bluejeans"]}) == {
        "d": "0",
        "e": "zoom,bluejeans",
    }


def test_wire_size_counts_the_percent_encoded_form() -> None:
    assert wire_size("1,2") == 5  # %2C is three bytes
    assert wire_size("abc") == 3
    assert wire_size("a b") == 3  # space -> '+'
    value = ids_value(50)
    assert wire_size(value) == len(urlencode({"k": value})) - len("k=")


def test_method_switches_to_post_just_above_512_bytes() -> None:
    exactly = "9" * GET_VALUE_LIMIT
    assert choose_method({"x": exactly}) == "GET"
    assert choose_method({"x": exactly + "9"}) == "POST"
    # 100 four-digit ids: 499 bytes with literal commas but 697 bytes as sent -> POST
    value = ids_value(100)
    assert len(value) < GET_VALUE_LIMIT < wire_size(value)
    assert choose_method({"meetsIdConferencingEvents": value, "limit": "1000"}) == "POST"


def test_plan_is_one_request_up_to_the_post_limit() -> None:
    value = "1" * POST_VALUE_LIMIT
    assert plan_requests({"v": value}) == [("POST", {"v": value})]
    assert plan_requests({"limit": "1000"}) == [("GET", {"limit": "1000"})]


def test_over_long_lists_are_chunked_and_products_cover_every_combination() -> None:
    a = ids_value(700)  # ~4.9 KB as sent
    b = ids_value(1200, start=100000)
    plans = plan_requests({"a": a, "b": b, "limit": "1000"})
    a_chunks = {p["a"] for _, p in plans}
    b_chunks = {p["b"] for _, p in plans}
    assert len(plans) == len(a_chunks) * len(b_chunks) >= 4
    assert sorted(x for c in a_chunks for x in c.split(",")) == sorted(a.split(","))
    assert sorted(x for c in b_chunks for x in c.split(",")) == sorted(b.split(","))
    for method, params in plans:
        assert all(wire_size(v) <= POST_VALUE_LIMIT for v in params.values())
        assert params["limit"] == "1000"
        assert method == "POST"


def test_values_that_cannot_be_split_are_refused() -> None:
    with pytest.raises(ValueError, match="not a comma-separated list"):
        plan_requests({"name": "x" * (POST_VALUE_LIMIT + 1)})
    with pytest.raises(ValueError, match="single filter value"):
        chunk_list_value("1," + "2" * (POST_VALUE_LIMIT + 1))


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=1500), st.integers(20, 5000))
def test_chunks_fit_preserve_order_and_are_greedy(ids: list[int], limit: int) -> None:
    value = ",".join(map(str, ids))
    chunks = chunk_list_value(value, limit)
    assert ",".join(chunks) == value
    assert all(wire_size(c) <= limit for c in chunks)
    # greedy: the first id of the next chunk would not have fitted into the previous one
    for left, right in itertools.pairwise(chunks):
        assert wire_size(f"{left},{right.split(',')[0]}") > limit


def test_meets_error_message_from_whole_cut_off_and_foreign_bodies() -> None:
    assert meets_error_message('{"status":404,"error":"Conferencing event with ID \\"322\\" not found"}') == (
        'Conferencing event with ID "322" not found'
    )
    assert meets_error_message('{"status":400,"error":"The limit may not exc') == "The limit may not exc"
    assert meets_error_message("<html>500</html>") is None
    assert meets_error_message(None) is None


def test_daily_limit_message() -> None:
    assert is_daily_limit_message("Zoom attendance look-ups are limited to 2000 per day; try again tomorrow")
    assert not is_daily_limit_message("Too many requests; try again later")
    assert not is_daily_limit_message(None)


def _client() -> MeetsClient:
    return MeetsClient(
        "https://client.meets.cirqlive.com/api",
        "tok-secret-123456",
        limiter=RateLimiter({"meets": RateLimit.per_second(10)}),
    )


def test_errors_are_typed_and_carry_the_meets_message() -> None:
    client = _client()
    body404 = '{"status":404,"error":"Conferencing event with ID \\"9\\" not found"}'
    err = client._translate("get_conferencing_event_attendance", NotFound("x", status=404, body=body404))
    assert isinstance(err, MeetsNotFound) and isinstance(err, NotFound) and isinstance(err, MeetsApiError)
    assert err.meets_message == 'Conferencing event with ID "9" not found'
    assert "not found" in str(err) and err.function == "get_conferencing_event_attendance"

    body401 = '{"status":401,"error":"Missing or invalid API token"}'
    auth = client._translate("list_admins", AuthError("x", status=401, body=body401))
    assert isinstance(auth, MeetsAuthError) and isinstance(auth, AuthError)
    assert "Missing or invalid API token" in str(auth) and "sources.meets.api_token" in str(auth)

    bad = client._translate(
        "list_courses", ApiError("x", status=400, body='{"status":400,"error":"bad limit"}')
    )
    assert type(bad) is MeetsApiError and bad.meets_message == "bad limit"

    html = ApiError("kept failing with HTTP 500", status=500, body="<html>upstream timed out</html>")
    assert client._translate("list_users", html) is html
    assert "tok-secret-123456" not in repr(client)


def test_settings_validation_and_sandbox_derivation() -> None:
    info = {
        "meets_base_url": "http://127.0.0.1:1234/meets/api",
        "meets_token": "sandbox-token",
        "meets_token_header": "X-MEETS-API-Token",
    }
    s = MeetsSettings.from_sandbox_info(info, lookback_days=1)
    assert s.sandbox and s.clock_url == "http://127.0.0.1:1234/_sandbox/clock"
    assert s.lookback_seconds == 86400 and s.host == "127.0.0.1"
    assert "sandbox-token" not in repr(s)
    with pytest.raises(MeetsConfigError):
        MeetsSettings(base_url="ftp://x", api_token="t")
    with pytest.raises(MeetsConfigError):
        MeetsSettings(base_url="https://x.meets.cirqlive.com/api", api_token="t", page_limit=1001)


def test_load_settings_reads_dlt_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__MEETS__API_TOKEN", "env-token-abcdef")
    monkeypatch.setenv("SOURCES__MEETS__BASE_URL", "https://acme.meets.cirqlive.com/api/")
    monkeypatch.setenv("SOURCES__MEETS__LOOKBACK_DAYS", "3")
    monkeypatch.setenv("SOURCES__MEETS__TOKEN_HEADER", "X-Api-Key")
    s = load_settings()
    assert s.base_url == "https://acme.meets.cirqlive.com/api"
    assert s.api_token == "env-token-abcdef" and s.token_header == "X-Api-Key"
    assert s.lookback_days == 3 and not s.sandbox and s.clock_url is None
    assert load_settings(lookback_days=0.5).lookback_days == 0.5


def test_load_settings_refuses_half_configurations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__MEETS__API_TOKEN", "")
    monkeypatch.setenv("SOURCES__MEETS__BASE_URL", "https://acme.meets.cirqlive.com/api")
    with pytest.raises(MeetsConfigError, match="no API token"):
        load_settings()
    monkeypatch.setenv("SOURCES__MEETS__API_TOKEN", "tok-abcdef")
    monkeypatch.setenv("SOURCES__MEETS__BASE_URL", "")
    with pytest.raises(MeetsConfigError, match="base_url is not"):
        load_settings()
