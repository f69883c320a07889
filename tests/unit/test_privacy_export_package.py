"""The export package: complete JSON, safe CSV, a manifest that proves the files, and bounded
memory however many messages a subject has."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from yoosr.privacy import export_package
from yoosr.privacy.export_package import PackageInfo, safe_cell, write_package

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
INFO = PackageInfo(request_id="pr_1", workspace_id="ws_A", request_type="export", generated_at=NOW)
VISITOR = {
    "pk": "ws_A#VISITOR#vis_1",
    "sk": "VISITOR",
    "item_type": "visitor",
    "visitor_id": "vis_1",
    "name": "Ada",
    "email": "ada@example.com",
    "email_key": "ws_A#" + "0" * 64,
    "device": {"browser": "Firefox", "language": "en"},
    "restricted": False,
    "company": "Analytical Engines",
}
MESSAGES = [
    {
        "pk": "ws_A#CONV#conv_1",
        "sk": "MSG#1",
        "message_id": "msg_1",
        "conversation_id": "conv_1",
        "created_at": "2030-01-01T10:00:00.000Z",
        "sender_type": "visitor",
        "text": '=HYPERLINK("http://evil.example","click")',
    },
    {
        "message_id": "msg_2",
        "conversation_id": "conv_1",
        "sender_type": "agent",
        "agent_id": "user_1",
        "text": 'Bonjour, ça va ?\nSecond line, with "quotes"',
        "count": Decimal("3"),
        "score": Decimal("0.5"),
        "seen_at": NOW,
        "tags": {"b", "a"},
    },
]


def build(records: dict[str, Any]) -> tuple[zipfile.ZipFile, export_package.Manifest]:
    out = io.BytesIO()
    manifest = write_package(out, INFO, records)
    return zipfile.ZipFile(io.BytesIO(out.getvalue())), manifest


def read_csv(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    text = archive.read(f"csv/{name}.csv").decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_package_holds_json_csv_per_entity_and_a_manifest() -> None:
    archive, _ = build({"visitor": [VISITOR], "messages": iter(MESSAGES)})
    assert sorted(archive.namelist()) == [
        "csv/conversations.csv",
        "csv/csat.csv",
        "csv/messages.csv",
        "csv/notes.csv",
        "csv/visitor.csv",
        "data.json",
        "manifest.json",
    ]
    data = json.loads(archive.read("data.json"))
    assert (data["format"], data["format_version"], data["request_id"]) == (
        "yoosr-export",
        1,
        "pr_1",
    )
    assert data["generated_at"] == "2030-01-10T12:00:00Z"
    assert list(data["entities"]) == ["visitor", "conversations", "messages", "notes", "csat"]
    # Technical keys and keyed hashes are left out; everything else stays, as stored
    assert data["entities"]["visitor"] == [
        {
            "visitor_id": "vis_1",
            "name": "Ada",
            "email": "ada@example.com",
            "device": {"browser": "Firefox", "language": "en"},
            "restricted": False,
            "company": "Analytical Engines",
        }
    ]
    assert data["entities"]["messages"][0]["text"] == MESSAGES[0]["text"]
    second = data["entities"]["messages"][1]
    assert (second["count"], second["score"], second["seen_at"], second["tags"]) == (
        3,
        0.5,
        "2030-01-10T12:00:00+00:00",
        ["a", "b"],
    )
    assert data["entities"]["csat"] == []


def test_the_manifest_counts_entities_and_proves_each_file() -> None:
    archive, manifest = build({"visitor": [VISITOR], "messages": iter(MESSAGES)})
    stored = json.loads(archive.read("manifest.json"))
    assert stored == json.loads(manifest.model_dump_json())
    assert {e["name"]: e["count"] for e in stored["entities"]} == {
        "visitor": 1,
        "conversations": 0,
        "messages": 2,
        "notes": 0,
        "csat": 0,
    }
    assert {f["path"] for f in stored["files"]} == set(archive.namelist()) - {"manifest.json"}
    for entry in stored["files"]:
        content = archive.read(entry["path"])
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["bytes"] == len(content)
    messages = next(e for e in stored["entities"] if e["name"] == "messages")
    assert messages["csv"] == "csv/messages.csv"
    assert messages["purposes"] and messages["retention"]
    assert stored["processors"][0]["name"] == "Amazon Web Services"
    assert "Other people's personal data is left out" in stored["excluded"]


def test_csv_has_the_declared_columns_then_the_rest_as_json() -> None:
    archive, _ = build({"visitor": [VISITOR], "messages": iter(MESSAGES)})
    visitor = read_csv(archive, "visitor")
    assert visitor[0] == [
        "visitor_id", "name", "email", "phone", "created_at", "last_seen_at",
        "identity_verified", "restricted", "device", "other",
    ]  # fmt: skip
    assert visitor[1] == [
        "vis_1", "Ada", "ada@example.com", "", "", "", "", "false",
        '{"browser":"Firefox","language":"en"}', '{"company":"Analytical Engines"}',
    ]  # fmt: skip
    messages = read_csv(archive, "messages")
    assert messages[2][5] == 'Bonjour, ça va ?\nSecond line, with "quotes"'
    assert archive.read("csv/messages.csv").endswith(b"\r\n")


def test_csv_cells_cannot_become_formulas() -> None:
    archive, _ = build({"messages": iter(MESSAGES)})
    assert read_csv(archive, "messages")[1][5] == "'" + MESSAGES[0]["text"]
    assert [safe_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx")] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx",
    ]  # fmt: skip
    assert [safe_cell(v) for v in ("a=1", "", None, -5, 2.5, True)] == [
        "a=1", "", "", "-5", "2.5", "true",
    ]  # fmt: skip


def test_an_undeclared_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="undeclared"):
        write_package(io.BytesIO(), INFO, {"payments": []})


class OneWayStream(io.RawIOBase):
    """A multipart upload: write only, no seek, no tell."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")


def test_a_stream_that_cannot_seek_gets_a_valid_zip() -> None:
    stream = OneWayStream()
    manifest = write_package(stream, INFO, {"messages": iter(MESSAGES)})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(stream.chunks)))
    assert archive.testzip() is None
    assert len(json.loads(archive.read("data.json"))["entities"]["messages"]) == 2
    assert manifest.count("messages") == 2


def messages(count: int) -> Iterator[dict[str, Any]]:
    for number in range(count):
        yield {
            "pk": "ws_A#CONV#conv_1",
            "sk": f"MSG#{number:08d}",
            "message_id": f"msg_{number:08d}",
            "conversation_id": f"conv_{number // 1000}",
            "created_at": "2030-01-01T10:00:00.000Z",
            "sender_type": "visitor" if number % 2 else "bot",
            "text": f"Message number {number} about shipping to Norway, please.",
        }


def test_a_hundred_thousand_messages_fit_in_bounded_memory(tmp_path: Path) -> None:
    # Given 100,000 messages that arrive one by one, and a package written to disk
    total = 100_000
    tracemalloc.start()
    try:
        with (tmp_path / "export.zip").open("wb") as out:
            manifest = write_package(
                out, INFO, {"messages": messages(total)}, spool_dir=str(tmp_path)
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then every message is counted and written …
    assert manifest.count("messages") == total
    data_bytes = next(f.bytes for f in manifest.files if f.path == "data.json")
    assert data_bytes > 15_000_000
    with (
        zipfile.ZipFile(tmp_path / "export.zip") as archive,
        archive.open("csv/messages.csv") as rows,
    ):
        assert sum(1 for _ in io.TextIOWrapper(rows, encoding="utf-8", newline="")) == total + 1
    # … while Python never held more than a small fraction of it
    assert peak < 4_000_000, f"peak {peak} bytes for {data_bytes} bytes of JSON"
