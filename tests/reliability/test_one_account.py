"""One account per warehouse: a load pointed at another Zoom account or MEETS domain is refused,
with a message naming both and the ways out; ``load --refresh`` starts the warehouse over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from _support import assert_zoom_equals_truth, cli, connect, env_for

from pipelines.accounts import AccountMismatch, check_account, meets_account, zoom_account


def test_another_zoom_account_is_refused_until_refresh(tiny: Any, tmp_path: Path) -> None:
    first = tiny()
    other = tiny(seed=7, account_id="another-account-0002")
    assert cli(["load"], env_for(tmp_path, first.base)).returncode == 0
    warehouse = tmp_path / "warehouse" / "meetings.duckdb"
    with connect(warehouse) as con:
        before = con.execute("select count(*) from zoom_raw.meetings").fetchone()[0]

    plan = cli(["plan"], env_for(tmp_path, other.base))  # a plan for the other account is refused too
    assert plan.returncode != 0 and "points at" in plan.stdout + plan.stderr, plan.stdout + plan.stderr
    assert "Traceback" not in plan.stdout + plan.stderr
    refused = cli(["load", "--source", "zoom"], env_for(tmp_path, other.base))
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, out
    line = next(ln for ln in out.splitlines() if "AccountMismatch" in ln)
    for word in ("holds Zoom data of", "points at", "--refresh", "MW_WAREHOUSE"):
        assert word in line, line
    assert "another-account-0002" not in out and "sandbox-account-0001" not in out  # ids stay hashed
    with connect(warehouse) as con:
        assert con.execute("select count(*) from zoom_raw.meetings").fetchone()[0] == before
    assert other.admin("stats")["received"].get("heavy", 0) == 0, "nothing was asked of the other account"

    fresh = cli(["load", "--source", "zoom", "--refresh"], env_for(tmp_path, other.base))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    with connect(warehouse) as con:
        assert_zoom_equals_truth(con, other.admin("truth"))  # the new account only, whole
    again = cli(["load", "--source", "zoom"], env_for(tmp_path, other.base))
    assert again.returncode == 0, again.stdout + again.stderr


def test_another_meets_domain_is_refused() -> None:
    with duckdb.connect() as con:
        ours = meets_account("https://north.meets.cirqlive.com/api", sandbox=False)
        theirs = meets_account("https://south.meets.cirqlive.com/api/", sandbox=False)
        assert check_account(con, ours, refresh=False) == "recorded"
        assert (
            check_account(
                con,
                meets_account("https://north.meets.cirqlive.com/api/", False),
                refresh=False,
            )
            == "same"
        )
        with pytest.raises(
            AccountMismatch, match=r"MEETS at north\.meets\.cirqlive\.com/api.*MEETS at south"
        ):
            check_account(con, theirs, refresh=False)
        assert check_account(con, theirs, refresh=True) == "replaced"


def test_zoom_identity_ignores_the_sandbox_port_but_not_the_account() -> None:
    a = zoom_account("http://127.0.0.1:5001/v2", "acct-1", "client", sandbox=True)
    b = zoom_account("http://localhost:6002/v2", "acct-1", "client", sandbox=False)
    assert (a.host, a.fingerprint) == (b.host, b.fingerprint)
    assert zoom_account("https://api.zoom.us/v2", "acct-1", "c", False).host == "api.zoom.us"
    assert zoom_account("https://api.zoom.us/v2", "acct-2", "c", False).fingerprint != b.fingerprint
