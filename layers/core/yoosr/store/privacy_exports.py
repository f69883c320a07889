"""PrivacyExportsBucket: export packages, and the parts an export collects before packaging.

    {ws}/{request_id}/parts/{store}/{page:08d}.jsonl   one page of an export task (JSON lines)
    {ws}/{request_id}/export.zip                       the package (write_package's zip)

Parts are keyed by the task's page number, so a page written twice (a duplicate delivery, a
crash before the checkpoint) overwrites itself. The package is uploaded in parts of 8 MiB
(S3's minimum is 5 MiB) from a streaming writer, so memory stays bounded whatever its size,
and is read only through presigned URLs. Lifecycle expiry removes whatever is left after 7
days; erasure and workspace purges delete prefixes at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from yoosr.store import aws

PART_BYTES = 8 * 1024 * 1024
PACKAGE_NAME = "export.zip"
COMPLETE = "complete"


def request_prefix(ws: str, request_id: str) -> str:
    return f"{ws}/{request_id}/"


def package_key(ws: str, request_id: str) -> str:
    return f"{request_prefix(ws, request_id)}{PACKAGE_NAME}"


def parts_prefix(ws: str, request_id: str, store: str) -> str:
    return f"{request_prefix(ws, request_id)}parts/{store}/"


def part_key(ws: str, request_id: str, store: str, page: int) -> str:
    return f"{parts_prefix(ws, request_id, store)}{page:08d}.jsonl"


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot export a {type(value).__name__}")


def put_part(bucket: str, key: str, records: Iterable[dict[str, Any]]) -> None:
    body = "".join(
        json.dumps(record, ensure_ascii=False, default=_plain, separators=(",", ":")) + "\n"
        for record in records
    ).encode()
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def keys_under(bucket: str, prefix: str, limit: int | None = None) -> list[str]:
    """Object keys under a prefix, in key order (at most `limit`)."""
    client = aws.client("s3")
    found: list[str] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
        if token:
            args["ContinuationToken"] = token
        response = client.list_objects_v2(**args)
        found += [entry["Key"] for entry in response.get("Contents", [])]
        if limit is not None and len(found) >= limit:
            return found[:limit]
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            return found


def records_under(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every record of every part under `prefix`, in order, one line at a time."""
    client = aws.client("s3")
    for key in keys_under(bucket, prefix):
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        for line in body.iter_lines():
            if line.strip():
                yield json.loads(line)


def delete_keys(bucket: str, keys: list[str]) -> int:
    client = aws.client("s3")
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
    return len(keys)


def delete_page(bucket: str, prefix: str, limit: int = 1000) -> tuple[int, bool]:
    """Delete up to `limit` objects under `prefix`: (deleted, whether more may remain)."""
    keys = keys_under(bucket, prefix, limit)
    delete_keys(bucket, keys)
    return len(keys), len(keys) == limit


def head(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        response = aws.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return dict(response)


def presigned_download(bucket: str, key: str, seconds: int, filename: str) -> str:
    """A GET URL valid for `seconds`, signed with the caller's (short-lived) credentials."""
    url = aws.client("s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": "application/zip",
        },
        ExpiresIn=seconds,
    )
    return str(url)


class MultipartWriter:
    """A write-only binary stream that uploads to S3 in parts: what zipfile writes into.

    It has `tell` and no `seek`, so zipfile treats it as an unseekable stream (data
    descriptors after each entry). `close` completes the upload; `abort` discards it.
    """

    def __init__(self, bucket: str, key: str, metadata: dict[str, str] | None = None) -> None:
        self.bucket = bucket
        self.key = key
        self._client = aws.client("s3")
        self._upload_id: str = self._client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType="application/zip", Metadata=metadata or {}
        )["UploadId"]
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._position = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._position += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._upload(bytes(self._buffer[:PART_BYTES]))
            del self._buffer[:PART_BYTES]
        return len(data)

    def flush(self) -> None:
        """Parts go up when full (S3 refuses small middle parts)."""

    def _upload(self, chunk: bytes) -> None:
        number = len(self._parts) + 1
        response = self._client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=chunk,
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def close(self) -> None:
        if self.closed:
            return
        if self._buffer or not self._parts:
            self._upload(bytes(self._buffer))
            self._buffer.clear()
        self._client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self.closed = True

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._client.abort_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
        )
