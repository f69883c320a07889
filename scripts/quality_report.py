"""Write QUALITY.md from the figures the quality suites left in .quality/ (`make verify`).

Each suite of tests/quality writes `.quality/<suite>.json` (tests/quality/figures.py). This script
puts every figure in one table per suite with its bound and verdict, the variant (long or short),
the date and the commit it was measured on. It exits 1 when a figure misses its bound or a suite
left no figures, so `make verify` fails too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.quality.figures import QUALITY_DIR, SUITES  # noqa: E402


def _cell(value: Any) -> str:
    text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _not_measured(figure: dict[str, Any]) -> bool:
    """A figure the suite could not measure here (it records "not run: <why>", no verdict)."""
    return figure.get("ok") is None and str(figure["value"]).startswith("not run")


def render(documents: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    problems: list[str] = []
    commits = sorted({d["commit"] for d in documents.values()})
    dates = sorted(d["measured_at"] for d in documents.values())
    lines = [
        "# Quality figures",
        "",
        "Written by `make verify` (scripts/quality_report.py) from the suites in tests/quality —",
        "what each suite proves is in its module docstring; `make test` runs the same suites in",
        "their short variants on every CI run. Accepted scanner findings and their reasons:",
        "[docs/quality/accepted-findings.md](docs/quality/accepted-findings.md).",
        "",
        f"- Commit: {', '.join(commits) or 'none'}",
        f"- Measured: {dates[0] if dates else 'never'} → {dates[-1] if dates else 'never'} (UTC)",
    ]
    short = [SUITES[s] for s, d in documents.items() if d.get("variant") != "long"]
    if short:
        lines.append(f"- Short variant only (the long one not measured yet): {'; '.join(short)}")
    unmeasured = [
        f"{SUITES[s]}: {f['name']} ({f.get('note') or f['value']})"
        for s, d in documents.items()
        for f in d["figures"]
        if _not_measured(f)
    ]
    if unmeasured:
        lines.append(f"- Not measured (the suite says why): {'; '.join(unmeasured)}")
    lines.append("")
    for suite, title in SUITES.items():
        document = documents.get(suite)
        lines.append(f"## {title}")
        lines.append("")
        if document is None:
            lines += ["Not run: no figures recorded.", ""]
            problems.append(f"{suite}: no figures recorded")
            continue
        lines.append(
            f"Variant: {document['variant']}; measured {document['measured_at']} "
            f"on commit {document['commit']}."
        )
        lines.append("")
        lines.append("| Figure | Value | Bound | Verdict | Note |")
        lines.append("| --- | ---: | --- | --- | --- |")
        for figure in document["figures"]:
            ok = figure.get("ok")
            verdict = "measured" if ok is None else ("meets bound" if ok else "**MISSES BOUND**")
            if _not_measured(figure):
                verdict = "**not measured**"
            if ok is False:
                problems.append(f"{suite}: {figure['name']} = {figure['value']}")
            lines.append(
                f"| {_cell(figure['name'])} | {_cell(figure['value'])} | "
                f"{_cell(figure.get('bound', ''))} | {verdict} | {_cell(figure.get('note', ''))} |"
            )
        lines.append("")
    return "\n".join(lines), problems


def main() -> int:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(QUALITY_DIR.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        documents[document["suite"]] = document
    text, problems = render(documents)
    (ROOT / "QUALITY.md").write_text(text, encoding="utf-8")
    print(f"wrote QUALITY.md ({len(documents)} suites)")
    for problem in problems:
        print(f"  problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
