"""Export and access: a visitor's own data from the widget, and a subject's from the
dashboard, as a zip (data.json, a CSV per entity, a manifest with sha256 of each file) built
by the worker and fetched through a presigned URL the download routes redirect to."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from tests.integration import privacy_support as ps
from tests.support import HttpHandlerClient


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


@pytest.fixture
def org(stack: Any, apps: ps.Apps) -> ps.Org:
    return ps.Org(stack, apps)


def fetch(stack: Any, location: str) -> bytes:
    """The object a presigned URL names (in-process moto does not serve httpx): the URL must
    name the exports bucket, virtual-host or path style."""
    bucket = str(stack.resources.ref("PrivacyExportsBucket"))
    parsed = urlparse(location)
    path = parsed.path.lstrip("/")
    if parsed.netloc.startswith(f"{bucket}."):
        key = path
    else:
        assert path.startswith(f"{bucket}/"), location
        key = path.removeprefix(f"{bucket}/")
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def open_package(data: bytes) -> tuple[zipfile.ZipFile, dict[str, Any], dict[str, Any]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    document = json.loads(archive.read("data.json"))
    return archive, manifest, document


def test_a_visitor_downloads_the_data_of_their_session(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # Given a visitor who chatted and left an email address, and another visitor
    ada = ps.visitor(stack, apps, widget, org)
    ada.call("widget_update_visitor", json_body={"name": "Ada", "email": "ada@example.com"})
    first = ada.start_conversation("Where is my parcel?")
    assert ada.post(first, '=HYPERLINK("http://x")').status == 201
    second = ada.start_conversation("Do you ship to Norway?")
    ada.call("widget_submit_csat", path_params={"conversation_id": first}, json_body={"rating": 4})
    bob = ps.visitor(stack, apps, widget, org)
    bob.start_conversation("Bob's private question")

    # When Ada asks for an export of this session's data
    asked = ada.ask({"type": "export", "client_request_id": "export-1"})
    assert asked.status == 201, asked.body
    request_id = asked.json["id"]
    assert asked.json["status"] == "queued"
    assert asked.json["subject_kind"] == "visitor"
    # (a retry returns the same request)
    again = ada.ask({"type": "export", "client_request_id": "export-1"})
    assert (again.status, again.json["id"]) == (200, request_id)
    invocations = ps.run_jobs(stack, apps)

    # Then the request completed, with counts per store
    status = ada.status(request_id)
    assert status.status == 200, status.body
    assert status.json["status"] == "completed"
    assert status.json["counts"]["conversations.messages"] == 3
    assert status.json["download_url"] == f"/v1/widget/privacy-requests/{request_id}/download"
    assert invocations >= 7  # start, five entities, the package

    # And the download route redirects to a short-lived presigned URL of the zip
    download = ada.download(request_id)
    assert download.status == 302, download.body
    location = download.headers["location"]
    assert "Signature=" in location or "X-Amz-Signature=" in location
    signed = parse_qs(urlparse(location).query)
    if "X-Amz-Expires" in signed:  # SigV4
        lifetime = int(signed["X-Amz-Expires"][0])
    else:  # SigV2 (what in-process moto's S3 client signs): an absolute epoch
        lifetime = int(signed["Expires"][0]) - int(time.time())
    assert 0 < lifetime <= 15 * 60
    assert download.headers["cache-control"] == "no-store"
    archive, manifest, document = open_package(fetch(stack, location))

    # And the package holds her data, complete, and nobody else's
    entities = document["entities"]
    assert [v["email"] for v in entities["visitor"]] == ["ada@example.com"]
    assert sorted(c["conversation_id"] for c in entities["conversations"]) == sorted(
        [first, second]
    )
    texts = sorted(m["text"] for m in entities["messages"])
    assert texts == sorted(
        ["Where is my parcel?", '=HYPERLINK("http://x")', "Do you ship to Norway?"]
    )
    assert entities["csat"][0]["rating"] == 4
    raw = archive.read("data.json").decode()
    assert "Bob's private question" not in raw and bob.visitor_id not in raw
    assert "email_key" not in raw and '"pk"' not in raw

    # And the manifest lists each file with its sha256 and each entity with its count
    files = {f["path"]: f for f in manifest["files"]}
    for path, entry in files.items():
        body = archive.read(path)
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], path
        assert len(body) == entry["bytes"]
    counts = {e["name"]: e["count"] for e in manifest["entities"]}
    assert counts == {"visitor": 1, "conversations": 2, "messages": 3, "notes": 0, "csat": 1}
    assert manifest["processors"] and all(e["purposes"] for e in manifest["entities"])
    # And the CSV keeps a formula out of a spreadsheet's reach
    rows = list(csv.DictReader(io.StringIO(archive.read("csv/messages.csv").decode())))
    assert '\'=HYPERLINK("http://x")' in {row["text"] for row in rows}

    # And only the package is left in the bucket (the parts were dropped)
    assert list(ps.bucket_objects(stack, f"{org.ws}/{request_id}/")) == [
        f"{org.ws}/{request_id}/export.zip"
    ]
    # And another visitor cannot see or download it
    assert bob.status(request_id).status == 404
    assert bob.download(request_id).status == 404
