"""The portable copy: one zip holding

    data.json          every entity, complete and machine-readable:
                       {"format": "yoosr-export", "format_version": 1, "request_id": …,
                        "entities": {"visitor": [{…}], "messages": [{…}, …], …}}
    csv/<entity>.csv   one CSV (UTF-8, RFC 4180) per entity: the declared columns, then
                       `other` holding any further fields as JSON, so nothing is lost
    manifest.json      what was collected and why (purposes), who processes it, how long it
                       is kept, a count per entity and the sha256 and size of every other file

Streaming with bounded memory: each entity's records arrive as an iterator and are read once.
Each CSV is written straight into its zip entry; the JSON is spooled to a temporary file
(Lambda /tmp) and copied into the zip in chunks afterwards, because a zip takes one entry at a
time. The output may be any writable binary stream, seekable or not (a multipart upload).

Cells that a spreadsheet would run as a formula (starting with = + - @ tab or CR) get a
leading apostrophe in the CSV; data.json keeps the exact text.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import IO, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from yoosr.privacy.registry import EXPORT_ENTITIES, PROCESSORS, ExportEntity, Processor

FORMAT = "yoosr-export"
FORMAT_VERSION = 1
DATA_FILE = "data.json"
MANIFEST_FILE = "manifest.json"
OTHER_COLUMN = "other"
CHUNK_BYTES = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXCLUDED = (
    "Other people's personal data is left out: a conversation has one visitor, and agents "
    "appear only as they signed their replies and notes. Storage keys and keyed hashes are "
    "left out: they are not information about you."
)


class PackageInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    workspace_id: str
    request_type: str
    generated_at: AwareDatetime


class FileEntry(BaseModel):
    path: str
    sha256: str
    bytes: int


class EntityEntry(BaseModel):
    name: str
    description: str
    purposes: list[str]
    retention: str
    count: int
    csv: str
    json_path: str


class ProcessorEntry(BaseModel):
    name: str
    role: str
    data: str


class Manifest(BaseModel):
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    request_id: str
    workspace_id: str
    request_type: str
    generated_at: AwareDatetime
    entities: list[EntityEntry]
    processors: list[ProcessorEntry]
    excluded: str = EXCLUDED
    files: list[FileEntry]

    def count(self, entity: str) -> int:
        return next(e.count for e in self.entities if e.name == entity)


# ---------------------------------------------------------------- encoding


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot export a {type(value).__name__}")


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default, separators=(",", ":"))


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


def safe_cell(value: Any) -> str:
    """A CSV cell: text a spreadsheet would evaluate is prefixed with an apostrophe."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = _json(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_row(record: Mapping[str, Any], columns: tuple[str, ...]) -> list[str]:
    other = {key: value for key, value in record.items() if key not in columns}
    return [safe_cell(record.get(column)) for column in columns] + [
        safe_cell(other) if other else ""
    ]


class _HashingWriter:
    """A zip entry that counts and hashes what goes into it, written in chunks (a zip entry
    compresses on every write, so a write per CSV row would be slow)."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK_BYTES:
            self._flush()
        return len(data)

    def _flush(self) -> None:
        chunk = bytes(self._buffer)
        self._buffer.clear()
        self._digest.update(chunk)
        self.size += len(chunk)
        self._target.write(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __enter__(self) -> _HashingWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._flush()
        self._target.close()


class _TextSink:
    """What csv.writer writes to: UTF-8 into a binary writer."""

    def __init__(self, target: _HashingWriter) -> None:
        self._target = target

    def write(self, text: str) -> int:
        return self._target.write(text.encode("utf-8"))


# ---------------------------------------------------------------- the package


def write_package(
    out: IO[bytes],
    info: PackageInfo,
    records: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    entities: tuple[ExportEntity, ...] = EXPORT_ENTITIES,
    processors: tuple[Processor, ...] = PROCESSORS,
    spool_dir: str | None = None,
) -> Manifest:
    """Write the zip to `out` and return its manifest. Every declared entity appears (empty
    when `records` has none); records of an undeclared entity are refused, since the
    manifest could not say what they are."""
    undeclared = set(records) - {entity.name for entity in entities}
    if undeclared:
        raise ValueError(f"undeclared entities: {sorted(undeclared)}")
    files: list[FileEntry] = []
    listed: list[EntityEntry] = []
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **info.model_dump(mode="json")}
    with (
        tempfile.TemporaryFile(dir=spool_dir) as spool,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        # The header object stays open: the entities follow as its last member.
        spool.write(_json(header)[:-1].encode() + b',"entities":{')
        for position, entity in enumerate(entities):
            path = f"csv/{entity.name}.csv"
            spool.write((b"," if position else b"") + _json(entity.name).encode() + b":[")
            count = 0
            with _HashingWriter(archive.open(path, "w", force_zip64=True)) as entry:
                writer = csv.writer(_TextSink(entry), lineterminator="\r\n")
                writer.writerow([*entity.columns, OTHER_COLUMN])
                for record in records.get(entity.name, ()):
                    kept = {k: v for k, v in record.items() if k not in entity.omit}
                    spool.write((b",\n" if count else b"\n") + _json(kept).encode())
                    writer.writerow(csv_row(kept, entity.columns))
                    count += 1
            spool.write(b"\n]" if count else b"]")
            files.append(FileEntry(path=path, sha256=entry.sha256, bytes=entry.size))
            listed.append(
                EntityEntry(
                    name=entity.name,
                    description=entity.description,
                    purposes=list(entity.purposes),
                    retention=entity.retention,
                    count=count,
                    csv=path,
                    json_path=f"{DATA_FILE}#/entities/{entity.name}",
                )
            )
        spool.write(b"}}\n")
        spool.seek(0)
        with _HashingWriter(archive.open(DATA_FILE, "w", force_zip64=True)) as entry:
            shutil.copyfileobj(spool, entry, CHUNK_BYTES)
        files.insert(0, FileEntry(path=DATA_FILE, sha256=entry.sha256, bytes=entry.size))
        manifest = Manifest(
            request_id=info.request_id,
            workspace_id=info.workspace_id,
            request_type=info.request_type,
            generated_at=info.generated_at,
            entities=listed,
            processors=[ProcessorEntry(name=p.name, role=p.role, data=p.data) for p in processors],
            files=files,
        )
        archive.writestr(MANIFEST_FILE, manifest.model_dump_json(indent=2))
    return manifest
