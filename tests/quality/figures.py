"""The figures the quality suites (issue 8) prove themselves with.

Each suite calls `record(...)` for every figure it measures, then asserts the bound itself. At the
end of a pytest session the figures are printed and written to `.quality/<suite>.json`, which
`scripts/quality_report.py` turns into QUALITY.md (`make verify`). `LONG` is true under
`make verify` (YOOSR_QUALITY=long): suites then run their long variants (more cases, more load).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUALITY_DIR = Path(os.environ.get("YOOSR_QUALITY_DIR", ROOT / ".quality"))
LONG = os.environ.get("YOOSR_QUALITY", "short") == "long"
VARIANT = "long" if LONG else "short"

SUITES = {
    "isolation": "1. Isolation matrix",
    "credentials": "2. Forged credentials",
    "fuzzing": "3. Fuzzing (schemathesis)",
    "load": "4. Load without loss",
    "faults": "5. Injected faults",
    "scanners": "6. Infrastructure and code scanners",
    "residue": "7. Privacy residue",
}


@dataclass(frozen=True)
class Figure:
    suite: str
    name: str
    value: int | float | str
    bound: str = ""  # what it must be ("0", "100%", "≥ 100"); empty = measured, not bounded
    ok: bool | None = None  # None when the figure has no bound
    note: str = ""


_recorded: list[Figure] = []


def record(
    suite: str,
    name: str,
    value: int | float | str,
    *,
    bound: str = "",
    ok: bool | None = None,
    note: str = "",
) -> Figure:
    """Keep one figure of `suite` (a key of SUITES) for the summary and QUALITY.md."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; one of {sorted(SUITES)}")
    if isinstance(value, float):
        value = round(value, 4)
    figure = Figure(suite, name, value, bound, ok, note)
    _recorded[:] = [f for f in _recorded if (f.suite, f.name) != (suite, name)]
    _recorded.append(figure)
    return figure


def recorded() -> list[Figure]:
    return list(_recorded)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def write_all() -> list[Path]:
    """Write one JSON file per suite that recorded figures in this session."""
    written: list[Path] = []
    if not _recorded:
        return written
    QUALITY_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    commit = _commit()
    for suite, title in SUITES.items():
        rows = [asdict(f) for f in _recorded if f.suite == suite]
        if not rows:
            continue
        path = QUALITY_DIR / f"{suite}.json"
        document = {
            "suite": suite,
            "title": title,
            "variant": VARIANT,
            "measured_at": stamp,
            "commit": commit,
            "figures": rows,
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def summary_lines() -> list[str]:
    lines: list[str] = []
    for suite, title in SUITES.items():
        rows = [f for f in _recorded if f.suite == suite]
        if not rows:
            continue
        lines.append(f"{title} ({VARIANT})")
        for f in rows:
            verdict = "" if f.ok is None else ("  ok" if f.ok else "  FAILS BOUND")
            bound = f" (bound {f.bound})" if f.bound else ""
            lines.append(f"  {f.name}: {f.value}{bound}{verdict}")
    return lines
