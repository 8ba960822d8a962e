"""Helpers shared by the recordings pipeline's integration tests: what the sandbox says should
arrive (sizes and SHA-256 of every downloadable file) and what actually arrived."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from pipelines import embedded
from pipelines.sandbox.account import Account
from pipelines.sandbox.zoom_api import recording_visibility

ROOT = Path(__file__).resolve().parents[2]


def use_sandbox(monkeypatch: pytest.MonkeyPatch, sb: Any, tmp_path: Path) -> Path:
    """Point the pipeline at sandbox ``sb`` with a fresh warehouse; returns the warehouse path."""
    warehouse = tmp_path / "warehouse" / "meetings.duckdb"
    monkeypatch.setenv("MW_SANDBOX_URL", sb.base)
    monkeypatch.setenv("MW_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MW_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.delenv("MW_RECORDINGS_DEST", raising=False)
    for var in [
        v for v in os.environ if v.startswith(("SOURCES__ZOOM__", "SOURCES__MEETS__", "RECORDINGS__"))
    ]:
        monkeypatch.delenv(var)
    embedded.reset()
    return warehouse


def expected_files(sb: Any, include_trash: bool = False) -> dict[str, Any]:
    """What a full copy must produce, from the sandbox account itself.

    ``zoom``/``meets``: Counter of ``(size, sha256)`` of the downloadable files; ``meets_gone``: ids
    of MEETS recordings that answer "gone"; ``zoom_trashed``: number of files in the trash.
    """
    state = sb.server.state
    account = state.account
    now = state.now()
    zoom: Counter[tuple[int, str]] = Counter()
    trashed = 0
    for rec in account.recordings:
        visibility = recording_visibility(rec, now)
        if visibility == "available":
            for f in rec.files:
                zoom[(f.size, Account.content_sha256(f.size, f.content_seed))] += 1
        elif visibility == "trashed":
            trashed += len(rec.files)
    now_ts = int(now.timestamp())
    meets: Counter[tuple[int, str]] = Counter()
    gone = set()
    for r in account.meets_recordings:
        if r.time_added > now_ts:
            continue
        if r.gone:
            gone.add(r.id)
        else:
            meets[(r.size, Account.content_sha256(r.size, r.content_seed))] += 1
    return {"zoom": zoom, "meets": meets, "meets_gone": gone, "zoom_trashed": trashed}


def inventory(warehouse: Path, dest_root: str | None = None) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(
            "select * from recordings.inventory" + (" where dest_root = ?" if dest_root else ""),
            [dest_root] if dest_root else [],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def local_files(dest: Path) -> list[Path]:
    return sorted(p for p in dest.rglob("*") if p.is_file())


def folders_with_files(dest: Path) -> dict[Path, set[str]]:
    """Every destination folder holding copied recording files -> their names."""
    out: dict[Path, set[str]] = {}
    for p in local_files(dest):
        if p.name != "meta.json" and not p.name.endswith(".partial"):
            out.setdefault(p.parent, set()).add(p.name)
    return out


def assert_meta_json_current(warehouse: Path, dest: Path) -> None:
    """Every folder with copied files has a meta.json whose ``copied`` entries are exactly those
    files (name, size, SHA-256 as on disk and in the inventory); nothing else is listed as copied."""
    rows = {r["dest_url"]: r for r in inventory(warehouse) if r["status"] == "copied"}
    folders = folders_with_files(dest)
    missing = sorted(str(f.relative_to(dest)) for f in folders if not (f / "meta.json").is_file())
    assert missing == [], f"{len(missing)} of {len(folders)} folders lack meta.json: {missing[:3]}"
    for folder, names in folders.items():
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        listed = {f["name"]: f for f in meta["files"] if f["status"] == "copied"}
        assert set(listed) == names, (folder, sorted(listed), sorted(names))
        for name, entry in listed.items():
            path = folder / name
            assert entry["size"] == path.stat().st_size == rows[str(path)]["size"], (path, entry)
            assert entry["sha256"] == rows[str(path)]["sha256"], (path, entry)
        others = [f["name"] for f in meta["files"] if f["status"] != "copied"]
        assert not [n for n in others if (folder / n).exists()], (folder, others)


def storage_requests(sb: Any) -> list[dict]:
    return sb.admin("storage_requests")


def assert_no_credentials_on_storage(sb: Any) -> int:
    """Every request the MEETS storage host received was credential-free; returns how many."""
    reqs = storage_requests(sb)
    for r in reqs:
        names = {k.lower() for k in r["headers"]}
        assert not names & {"authorization", "cookie", sb.info["meets_token_header"].lower()}, r
        assert "access_token" not in r["query"], r
    return len(reqs)


# ---------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    """``moto_server`` on a free loopback port (the S3 protocol, in-memory)."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(endpoint, timeout=1)
            return proc, endpoint
        except requests.RequestException:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto_server did not start")


def pipeline_subprocess(kwargs: dict[str, Any], env: dict[str, str]) -> subprocess.Popen:
    """``run_recordings(**kwargs)`` in a child process (for kill -9 tests)."""
    code = (
        "import json, sys\n"
        "from pipelines.recordings.run import run_recordings\n"
        "s = run_recordings(**json.loads(sys.argv[1]))\n"
        "sys.exit(0 if s.ok else 1)\n"
    )
    import json

    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
