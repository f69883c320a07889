"""bench/results.json and the results table in BENCHMARKS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.runtime import ROOT

RESULTS = ROOT / "bench" / "results.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
BEGIN = "<!-- bench:results:begin (written by `make bench`; edits here are overwritten) -->"
END = "<!-- bench:results:end -->"

COLD_ROWS = (
    ("import_ms", "import (init)", "ms"),
    ("first_request_ms", "first request (see note 1)", "ms"),
    ("cold_total_ms", "**import + first request**", "ms"),
    ("process_ms", "whole process (interpreter start to exit)", "ms"),
    ("warm_request_ms", "second (warm) request", "ms"),
    ("modules_loaded", "modules in sys.modules", ""),
)
COST_ROWS = (
    ("session_create", "create session"),
    ("conversation_start_with_message", "start conversation with first message"),
    ("visitor_message", "**post visitor message** (~70 chars)"),
    ("visitor_message_3000_chars", "post visitor message (3,000 chars)"),
    ("poll_no_new_messages", "poll messages (nothing new)"),
    ("inbox_events_per_message", "inbox_events consumer, per ~70-char message"),
    ("inbox_events_per_3000_char_message", "inbox_events consumer, per 3,000-char message"),
)
PROFILE_MIN_MS = 10
OPERATIONS = ("BatchGetItem", "GetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems")


def _num(value: float, unit: str) -> str:
    """Counts and large figures whole, small timings to a tenth."""
    return f"{value:,.0f}" if not unit or value >= 100 else f"{value:.1f}"


def _count(value: float) -> str:
    return "–" if not value else f"{value:g}"


def markdown(results: dict[str, Any]) -> str:
    cold = results["cold_start"]
    widget, reference = cold["handlers"]["widget_ingest"], cold["handlers"]["reference"]
    lines = [
        f"Measured {results['measured_at']} on {results['machine']['description']}.",
        "",
        f"### Cold start (median of {cold['runs']} runs each, alternating)",
        "",
        "| | widget_ingest | reference | widget / reference |",
        "|---|---:|---:|---:|",
    ]
    for key, label, unit in COLD_ROWS:
        w, r = widget[key]["median"], reference[key]["median"]
        suffix = f" {unit}" if unit else ""
        lines.append(
            f"| {label} | {_num(w, unit)}{suffix} | {_num(r, unit)}{suffix} | "
            f"{cold['ratios'][key]:.2f}× |"
        )
    profiles = cold["import_self_ms_by_package"]
    w_prof, r_prof = profiles["widget_ingest"], profiles["reference"]
    shown = [
        p
        for p in dict.fromkeys([*w_prof, *r_prof])
        if max(w_prof.get(p, 0), r_prof.get(p, 0)) >= PROFILE_MIN_MS
    ]
    lines += [
        "",
        "Where the time goes: self import time per package, one `-X importtime` run each "
        "(first request included; importtime inflates all figures, compare proportions)",
        "",
        "| package | widget_ingest | reference |",
        "|---|---:|---:|",
    ]
    for package in shown:
        lines.append(
            f"| {package} | {w_prof.get(package, 0):,.0f} ms | {r_prof.get(package, 0):,.0f} ms |"
        )
    rest_w = sum(v for k, v in w_prof.items() if k not in shown)
    rest_r = sum(v for k, v in r_prof.items() if k not in shown)
    lines.append(f"| everything else | {rest_w:,.0f} ms | {rest_r:,.0f} ms |")
    lines += [
        "",
        f"### DynamoDB per operation (averages; {results['dynamodb']['note']})",
        "",
        "| operation | " + " | ".join(OPERATIONS) + " | requests | RCU | WCU | GSI WCU |",
        "|---|" + "---:|" * (len(OPERATIONS) + 4),
    ]
    for key, label in COST_ROWS:
        row = results["dynamodb"]["operations"].get(key)
        if row is None:
            continue
        cells = [_count(row["requests"].get(op, 0)) for op in OPERATIONS]
        lines.append(
            f"| {label} (n={row['count']}) | "
            + " | ".join(cells)
            + f" | {row['requests_total']:g} | {row['rcu']:g} | {row['wcu']:g} | "
            f"{row['gsi_wcu']:g} |"
        )
    message = results["dynamodb"]["operations"]["visitor_message"]
    consumer = results["dynamodb"]["operations"]["inbox_events_per_message"]
    total = message["wcu"] + message["gsi_wcu"] + consumer["wcu"] + consumer["gsi_wcu"]
    others: dict[str, float] = {}
    for row in results["dynamodb"]["operations"].values():
        for op, n in row["other_requests"].items():
            others[op] = others.get(op, 0) + n * row["count"]
    lines += [
        "",
        f"Per accepted visitor message, ingest plus the stream consumer: **{total:g} WCU** "
        f"and {message['rcu'] + consumer['rcu']:g} RCU in "
        f"{message['requests_total'] + consumer['requests_total']:g} requests.",
    ]
    if others:
        lines.append(
            "Other AWS requests over the whole run: "
            + ", ".join(f"{op} × {n:g}" for op, n in sorted(others.items()))
            + " (cached per container)."
        )
    lines += _analytics(results.get("analytics_overview"))
    return "\n".join(lines) + "\n"


def _analytics(figures: dict[str, Any] | None) -> list[str]:
    """What a 30-day overview reads as a workspace grows (bench/analytics_reads.py)."""
    if not figures:
        return []
    lines = [
        "",
        f"### Analytics: one {figures['days']}-day overview (GET /v1/analytics/overview)",
        "",
        "| workspace | messages | rollup items stored | requests | items read | RCU |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for row in figures["sizes"].values():
        requests = ", ".join(f"{op} × {n}" for op, n in row["requests"].items())
        lines.append(
            f"| {row['conversations']:,} conversations | {row['messages']:,} | "
            f"{row['rollup_items_stored']:,} | {requests} | {row['items_read']:,} | "
            f"{row['rcu']:g} |"
        )
    return lines


def write(results: dict[str, Any]) -> str:
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    table = markdown(results)
    update_benchmarks(BENCHMARKS, table)
    return table


def update_benchmarks(path: Path, table: str) -> None:
    """Replace the section between the markers, keeping the prose around it."""
    block = f"{BEGIN}\n{table}{END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + block + "\n"
    path.write_text(text)
