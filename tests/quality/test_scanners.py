"""Suite 6 of issue 8: infrastructure and code scanners.

cfn-lint with the serverless rules (cfn-lint transforms the SAM template itself, then lints the
result; `sam validate --lint` runs the same linter on the same transform), checkov on
template.yaml, bandit on layers/core, functions and local, and pip-audit on the locked
dependencies. Bounds: 0 high findings, 0 findings that docs/quality/accepted-findings.md does not
accept with a written reason (rows marked "Checked" are proven here, finding by finding), 0 stale
acceptances, 0 known vulnerabilities. And no `*` action or resource in any function's policy,
counted with the least-privilege test's own helper.

The scanners run in parallel subprocesses (one module fixture) over the whole template and
code base in both variants; the long one also runs `sam validate --lint` (which `make template`
runs on every `make test` already). Their CPU and wall time are recorded, not bounded (wall
time grows with whatever else shares the machine; timing is `make bench`'s business).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import resource as rusage
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local.resources import ResourceMap
from local.template import Template, TemplateError, load_template
from tests.integration.test_least_privilege import role_statements
from tests.quality import figures

SUITE = "scanners"
ROOT = figures.ROOT
ACCEPTED = ROOT / "docs" / "quality" / "accepted-findings.md"
SCAN = ROOT / ".venv-scan" / "bin"
TOOLS = ROOT / ".venv-tools" / "bin"
BANDIT_TARGETS = ("layers/core", "functions", "local")
LOCKED = ("requirements/dev.txt",)  # it includes layers/deps/requirements.txt
INSTALLED = ROOT / ".venv" / "lib" / "python3.11" / "site-packages"
# pip-audit's words for "the vulnerability service could not be asked about this package"
UNREACHABLE = re.compile(r"could not be audited|ConnectionError|NameResolution|Max retries", re.I)


# ---------------------------------------------------------------- running the scanners


@dataclass
class Run:
    name: str
    argv: list[str]
    returncode: int = -1
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    def json(self) -> Any:
        if not self.stdout.strip():
            raise AssertionError(f"{self.name} printed nothing (rc {self.returncode}): {self.tail}")
        return json.loads(self.stdout)

    @property
    def tail(self) -> str:
        return self.stderr.strip()[-1500:]


def _commands() -> dict[str, list[str]]:
    long_only = {
        # the same cfn-lint on the same SAM transform; `make template` runs it on every
        # `make test` already, so only the long variant repeats it here
        "sam-validate": [str(TOOLS / "sam"), "validate", "--lint"],
    }
    return {
        **(long_only if figures.LONG else {}),
        "cfn-lint": [
            str(TOOLS / "cfn-lint"),
            "template.yaml",
            "--format",
            "json",
            "--append-rules",
            "cfn_lint_serverless.rules",
        ],
        "checkov": [
            str(SCAN / "checkov"),
            "-f",
            "template.yaml",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        "bandit": [str(SCAN / "bandit"), "-r", *BANDIT_TARGETS, "-f", "json", "-q"],
        "pip-audit-locked": [
            str(SCAN / "pip-audit"),
            *(a for path in LOCKED for a in ("-r", path)),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        "pip-audit-installed": [
            str(SCAN / "pip-audit"),
            "--path",
            str(INSTALLED),
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
    }


def _run_all(commands: dict[str, list[str]]) -> dict[str, Run]:
    """Start every scanner at once; each one's own wall time is measured by its thread."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "BC_SKIP_MAPPING": "TRUE"}
    env.pop("VIRTUAL_ENV", None)
    for argv in commands.values():
        if not Path(argv[0]).exists():
            raise AssertionError(f"{argv[0]} is missing: run `make scanners` and `make template`")
    runs = {name: Run(name, argv) for name, argv in commands.items()}

    def run_one(run: Run) -> None:
        t0 = time.monotonic()
        process = subprocess.Popen(
            run.argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            run.stdout, run.stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            run.stdout, run.stderr = process.communicate()
        run.returncode = process.returncode
        run.seconds = time.monotonic() - t0

    threads = [threading.Thread(target=run_one, args=(run,)) for run in runs.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    load = os.getloadavg()[0]
    cpu0 = rusage.getrusage(rusage.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    done = _run_all(_commands())
    elapsed = time.monotonic() - t0
    cpu1 = rusage.getrusage(rusage.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    # The bound is on the scanners' CPU time: it does not grow when other work shares the
    # machine, and it bounds their wall time on one idle core (they run in parallel).
    figures.record(
        SUITE,
        "scanner CPU time (s)",
        cpu,
        note="measured, not bounded: timing belongs to `make bench`, not to a test",
    )
    figures.record(
        SUITE,
        "scanner wall time (s)",
        elapsed,
        note=f"load average {load:.1f} on {os.cpu_count()} CPUs; "
        + ", ".join(f"{r.name} {r.seconds:.0f}s" for r in done.values()),
    )
    done["_cpu"] = Run("_cpu", [], seconds=cpu)
    return done


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(ROOT / "template.yaml")


# ---------------------------------------------------------------- accepted findings


@dataclass(frozen=True)
class Acceptance:
    scanner: str
    rule: str
    where: tuple[str, ...]
    checked: bool
    reason: str

    def covers(self, scanner: str, rule: str, subjects: tuple[str, ...]) -> bool:
        return (
            scanner == self.scanner
            and rule == self.rule
            and any(fnmatch.fnmatchcase(s, p) for s in subjects for p in self.where)
        )


def accepted_findings() -> list[Acceptance]:
    """The table of docs/quality/accepted-findings.md (every row needs a real reason)."""
    rows: list[Acceptance] = []
    for line in ACCEPTED.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("Scanner", "---") or not line.startswith("|"):
            continue
        scanner, rule, where, checked, reason = cells
        patterns = tuple(p.strip().strip("`") for p in where.split(",") if p.strip())
        assert scanner in ("cfn-lint", "checkov", "bandit"), line
        assert patterns and checked in ("yes", "no"), line
        assert len(reason) >= 40, f"the reason for {scanner} {rule} is not a reason: {reason!r}"
        rows.append(Acceptance(scanner, rule, patterns, checked == "yes", reason))
    keys = [(r.scanner, r.rule) for r in rows]
    assert len(keys) == len(set(keys)), "one row per scanner and rule"
    return rows


def test_the_accepted_findings_table_is_read() -> None:
    rows = accepted_findings()
    assert {r.scanner for r in rows} == {"cfn-lint", "checkov", "bandit"}
    figures.record(SUITE, "accepted rules (written down with a reason)", len(rows))


@dataclass(frozen=True)
class Finding:
    scanner: str
    rule: str
    severity: str  # high | medium | low | unknown
    subjects: tuple[str, ...]  # what the Where patterns are matched against
    detail: str


# ---------------------------------------------------------------- checks of accepted reasons


def _resource(template: Template, logical_id: str) -> dict[str, Any]:
    return template.resources.get(logical_id) or {}


def _props(template: Template, logical_id: str) -> dict[str, Any]:
    return dict(_resource(template, logical_id).get("Properties") or {})


def _ref_id(value: Any) -> str | None:
    """The logical id a `!Ref X` or `!GetAtt X.Attr` names."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _dead_letter_targets(template: Template) -> set[str]:
    """Queues some other resource sends its failures to (redrive, OnFailure, DeadLetterConfig)."""
    targets: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if key in ("OnFailure", "DeadLetterConfig") and k in ("Destination", "Arn"):
                    targets.add(_ref_id(v) or "")
                if k == "deadLetterTargetArn":
                    targets.add(_ref_id(v) or "")
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)

    walk(template.resources)
    targets.discard("")
    return targets


def _queue_encrypted(template: Template, logical_id: str) -> bool:
    props = _props(template, logical_id)
    return props.get("SqsManagedSseEnabled") is True or bool(props.get("KmsMasterKeyId"))


def _failures_have_a_destination(template: Template, logical_id: str) -> bool:
    """Every event of the function is synchronous or has its own failure destination."""
    events = _props(template, logical_id).get("Events") or {}
    dlqs = _dead_letter_targets(template)
    for event in events.values():
        kind, props = event.get("Type"), event.get("Properties") or {}
        if kind in ("HttpApi", "Api"):
            continue
        if kind in ("DynamoDB", "Kinesis"):
            if not (props.get("DestinationConfig") or {}).get("OnFailure"):
                return False
        elif kind == "SQS":
            queue = _ref_id(props.get("Queue"))
            if not queue or not (_props(template, queue).get("RedrivePolicy") or queue in dlqs):
                return False
        elif kind in ("Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent"):
            if not props.get("DeadLetterConfig"):
                return False
        else:  # an event source this check does not know: prove it before accepting
            return False
    return True


SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIAL|_TOKEN$", re.I)
SECRET_REFERENCE = re.compile(r"(_PARAMETER|_SECRET|_SECRET_ARN|_SECRET_NAME)$", re.I)


def _no_secret_in_environment(template: Template, logical_id: str) -> bool:
    """Variables that sound secret hold a reference (a parameter or secret name), not a value."""
    # (Template.resources has the Globals merged into each function)
    variables = (_props(template, logical_id).get("Environment") or {}).get("Variables") or {}
    for name, value in variables.items():
        if not SECRET_NAME.search(name):
            continue
        if isinstance(value, str) and value and not SECRET_REFERENCE.search(name):
            return False  # a literal where a secret would be
        if isinstance(value, dict) and not SECRET_REFERENCE.search(name):
            return False
    return True


def _logs_with_retention(template: Template, logical_id: str) -> bool:
    group = _ref_id((_props(template, logical_id).get("LoggingConfig") or {}).get("LogGroup"))
    if not group:
        return False
    resource = _resource(template, group)
    return resource.get("Type") == "AWS::Logs::LogGroup" and bool(
        (resource.get("Properties") or {}).get("RetentionInDays")
    )


def _is_a_dead_letter_queue(template: Template, logical_id: str) -> bool:
    return logical_id in _dead_letter_targets(template)


CHECKS: dict[tuple[str, str], Callable[[Template, str], bool]] = {
    ("checkov", "CKV_AWS_27"): _queue_encrypted,
    ("checkov", "CKV_AWS_116"): _failures_have_a_destination,
    ("checkov", "CKV_AWS_173"): _no_secret_in_environment,
    ("cfn-lint", "ES6000"): _is_a_dead_letter_queue,
    ("cfn-lint", "WS1004"): _logs_with_retention,
}


def test_the_checks_of_accepted_reasons_can_fail(template: Template) -> None:
    """Each check refuses a resource that lacks what the reason claims."""
    assert _queue_encrypted(template, "ConversationEventsDLQ")
    assert _is_a_dead_letter_queue(template, "ConversationEventsDLQ")
    assert not _is_a_dead_letter_queue(template, "PrivacyJobsQueue")
    functions = template.resources_of_type("AWS::Serverless::Function")
    assert all(_logs_with_retention(template, f) for f in functions)
    assert all(_failures_have_a_destination(template, f) for f in functions)
    assert all(_no_secret_in_environment(template, f) for f in functions)
    assert not _queue_encrypted(template, "PrivacyExportsBucket")
    assert not _logs_with_retention(template, "PrivacyJobsQueue")
    broken = SimpleNamespace(
        resources={
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "F": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Environment": {"Variables": {"OPENROUTER_API_KEY": "sk-or-123"}},
                    "Events": {
                        "S": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Q", "Arn"]}}},
                        "D": {"Type": "DynamoDB", "Properties": {"Stream": "x"}},
                    },
                },
            },
        },
    )
    assert not _queue_encrypted(broken, "Q")  # type: ignore[arg-type]
    assert not _failures_have_a_destination(broken, "F")  # type: ignore[arg-type]
    assert not _no_secret_in_environment(broken, "F")  # type: ignore[arg-type]
    assert not _is_a_dead_letter_queue(broken, "Q")  # type: ignore[arg-type]


# ---------------------------------------------------------------- judging findings


def _judge(
    scanner: str, findings: list[Finding], template: Template
) -> tuple[list[Finding], list[Finding], list[Acceptance]]:
    """(accepted, unaccepted, stale acceptance rows) of one scanner's findings."""
    rows = [r for r in accepted_findings() if r.scanner == scanner]
    accepted: list[Finding] = []
    unaccepted: list[Finding] = []
    used: set[tuple[str, str]] = set()
    for finding in findings:
        row = next((r for r in rows if r.covers(scanner, finding.rule, finding.subjects)), None)
        check = CHECKS.get((scanner, finding.rule))
        if row is not None and row.checked:
            assert check is not None, f"{scanner} {finding.rule} is marked checked: add its check"
        if (
            row is None
            or finding.severity == "high"
            or (row.checked and check and not check(template, finding.subjects[0]))
        ):
            unaccepted.append(finding)
            continue
        accepted.append(finding)
        used.add((row.scanner, row.rule))
    stale = [r for r in rows if (r.scanner, r.rule) not in used]
    return accepted, unaccepted, stale


def _record(
    scanner: str,
    findings: list[Finding],
    template: Template,
    suppressed: tuple[Finding, ...] = (),
) -> list[str]:
    """Record the scanner's figures; return what breaks a bound."""
    accepted, unaccepted, stale = _judge(scanner, findings, template)
    stale = [r for r in stale if not any(r.covers(scanner, f.rule, f.subjects) for f in suppressed)]
    by_severity = Counter(f.severity for f in findings)
    high = by_severity.get("high", 0)
    figures.record(
        SUITE,
        f"{scanner}: findings by severity",
        ", ".join(f"{s} {by_severity[s]}" for s in ("high", "medium", "low", "unknown"))
        if findings
        else "none",
    )
    figures.record(SUITE, f"{scanner}: high findings", high, bound="0", ok=high == 0)
    figures.record(
        SUITE,
        f"{scanner}: unaccepted findings",
        len(unaccepted),
        bound="0",
        ok=not unaccepted,
    )
    figures.record(SUITE, f"{scanner}: accepted findings", len(accepted))
    figures.record(SUITE, f"{scanner}: stale acceptance rows", len(stale), bound="0", ok=not stale)
    problems = [f"{f.rule} {f.severity} {f.subjects[-1]}: {f.detail}" for f in unaccepted]
    problems += [
        f"stale row in {ACCEPTED.name}: {r.scanner} {r.rule} matches nothing" for r in stale
    ]
    if scanner != "bandit":  # bandit's own suppressions are the # nosec lines
        problems += _suppressed(scanner, list(suppressed), template)
    return problems


def _suppressed(scanner: str, findings: list[Finding], template: Template) -> list[str]:
    """Findings silenced in the template (cfn-lint Metadata, checkov skip comments) are
    accepted findings too: each needs its row, and its row's check must hold."""
    rows = [r for r in accepted_findings() if r.scanner == scanner]
    problems = []
    for finding in findings:
        row = next((r for r in rows if r.covers(scanner, finding.rule, finding.subjects)), None)
        check = CHECKS.get((scanner, finding.rule))
        if row is None:
            problems.append(f"{finding.rule} {finding.subjects[-1]}: suppressed without a row")
        elif row.checked and check and not check(template, finding.subjects[0]):
            problems.append(f"{finding.rule} {finding.subjects[-1]}: suppressed, check fails")
    figures.record(SUITE, f"{scanner}: accepted findings suppressed in the template", len(findings))
    return problems


# ---------------------------------------------------------------- cfn-lint


def _cfn_lint_suppressions(template: Template) -> list[Finding]:
    found = []
    for logical_id, resource in template.resources.items():
        config = ((resource.get("Metadata") or {}).get("cfn-lint") or {}).get("config") or {}
        for rule in config.get("ignore_checks") or []:
            subjects = (logical_id, f"{resource.get('Type')}.{logical_id}")
            found.append(Finding("cfn-lint", rule, "suppressed", subjects, "template Metadata"))
    return found


CFN_LEVELS = {"Error": "high", "Warning": "medium", "Informational": "low"}


def cfn_lint_findings(document: list[dict[str, Any]], template: Template) -> list[Finding]:
    found = []
    for match in document:
        path = match["Location"].get("Path") or []
        logical_id = str(path[1]) if len(path) > 1 and path[0] == "Resources" else "template"
        kind = _resource(template, logical_id).get("Type", "")
        found.append(
            Finding(
                "cfn-lint",
                match["Rule"]["Id"],
                CFN_LEVELS.get(match["Level"], "unknown"),
                (logical_id, f"{kind}.{logical_id}"),
                match["Message"],
            )
        )
    return found


def test_cfn_lint_with_the_serverless_rules(runs: dict[str, Run], template: Template) -> None:
    run = runs["cfn-lint"]
    assert "cfn_lint_serverless" not in run.stderr, run.tail  # the rules really loaded
    assert run.returncode in (0, 2, 4, 6, 8, 10, 12, 14), run.tail  # 2/4/8: error/warn/info
    findings = cfn_lint_findings(run.json(), template)
    assert any(f.rule.startswith(("ES", "WS")) for f in findings) or run.returncode == 0
    problems = _record("cfn-lint", findings, template, tuple(_cfn_lint_suppressions(template)))
    if "sam-validate" in runs:
        sam = runs["sam-validate"]
        figures.record(
            SUITE,
            "sam validate --lint",
            "valid" if sam.returncode == 0 else "invalid",
            bound="valid",
            ok=sam.returncode == 0,
        )
        assert sam.returncode == 0, sam.stdout[-1500:] + sam.tail
    assert problems == [], "\n".join(problems)


def test_the_serverless_rules_are_loaded(tmp_path: Path) -> None:
    """`--append-rules cfn_lint_serverless.rules` fails loudly when the package is missing; and
    the rules do flag a queue without a redrive policy (so an empty result means something)."""
    probe = tmp_path / "probe.yaml"
    probe.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Plain:\n    Type: AWS::SQS::Queue\n    Properties: {SqsManagedSseEnabled: true}\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [
            str(TOOLS / "cfn-lint"),
            str(probe),
            "--format",
            "json",
            "--append-rules",
            "cfn_lint_serverless.rules",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert {m["Rule"]["Id"] for m in json.loads(out.stdout or "[]")} == {"ES6000"}, out.stderr


# ---------------------------------------------------------------- checkov


def checkov_findings(document: Any) -> list[Finding]:
    reports = document if isinstance(document, list) else [document]
    found = []
    for report in reports:
        for check in report.get("results", {}).get("failed_checks", []):
            _, _, logical_id = check["resource"].partition(".")
            severity = str(check.get("severity") or "unknown").lower()
            if severity == "critical":
                severity = "high"
            found.append(
                Finding(
                    "checkov",
                    check["check_id"],
                    severity,
                    (logical_id, check["resource"]),
                    check["check_name"],
                )
            )
    return found


def test_checkov_on_the_template(runs: dict[str, Run], template: Template) -> None:
    run = runs["checkov"]
    assert run.returncode in (0, 1), run.tail  # 1: failed checks
    document = run.json()
    reports = document if isinstance(document, list) else [document]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["resource_count"] >= len(template.resources) // 2, summary
    findings = checkov_findings(document)
    figures.record(SUITE, "checkov: checks passed", summary["passed"])
    if all(f.severity == "unknown" for f in findings):
        figures.record(
            SUITE,
            "checkov: severities",
            "not reported (no platform API key): bound is 0 unaccepted findings",
        )
    skipped = tuple(
        Finding(
            "checkov",
            c["check_id"],
            "suppressed",
            (c["resource"].partition(".")[2], c["resource"]),
            "skip comment",
        )
        for report in reports
        for c in report.get("results", {}).get("skipped_checks", [])
    )
    problems = _record("checkov", findings, template, skipped)
    assert problems == [], "\n".join(problems)


# ---------------------------------------------------------------- bandit


def bandit_findings(document: dict[str, Any]) -> list[Finding]:
    found = []
    for result in document["results"]:
        path = (
            os.path.relpath(result["filename"], ROOT)
            if os.path.isabs(result["filename"])
            else result["filename"]
        )
        found.append(
            Finding(
                "bandit",
                result["test_id"],
                result["issue_severity"].lower(),
                (path,),
                f"line {result['line_number']}: {result['issue_text']}",
            )
        )
    return found


def test_bandit_on_the_code(runs: dict[str, Run], template: Template) -> None:
    run = runs["bandit"]
    assert run.returncode in (0, 1), run.tail
    document = run.json()
    assert not document.get("errors"), document["errors"]
    totals = document["metrics"]["_totals"]
    assert totals["loc"] > 5_000, totals  # it really read the code
    figures.record(SUITE, "bandit: lines scanned", totals["loc"])
    figures.record(
        SUITE,
        "bandit: findings marked # nosec (each with its reason)",
        totals["nosec"] + totals.get("skipped_tests", 0),
    )
    problems = _record("bandit", bandit_findings(document), template)
    assert problems == [], "\n".join(problems)


def test_every_nosec_names_its_test_and_a_reason() -> None:
    bare = []
    for target in BANDIT_TARGETS:
        for path in (ROOT / target).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                marker = re.search(r"#\s*nosec\b(.*)$", line)
                if marker and not re.match(r"\s+B\d{3}\b.*\w{3,}", marker.group(1)):
                    bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert bare == [], "a nosec must name the bandit test and say why"


# ---------------------------------------------------------------- pip-audit


def _audit(run: Run) -> tuple[int, int, list[str]]:
    """(packages audited, packages the service could not be asked about, vulnerabilities)."""
    if run.returncode not in (0, 1) or not run.stdout.strip():
        if UNREACHABLE.search(run.stderr):
            return 0, 1, []
        raise AssertionError(f"{run.name} failed: {run.tail}")
    document = run.json()
    audited = unreachable = 0
    vulnerable = []
    for dependency in document["dependencies"]:
        reason = dependency.get("skip_reason")
        if reason:
            assert UNREACHABLE.search(reason), reason
            unreachable += 1
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            vulnerable.append(f"{dependency['name']} {dependency['version']}: {vuln['id']}")
    return audited, unreachable, vulnerable


def test_pip_audit_on_the_locked_dependencies(runs: dict[str, Run]) -> None:
    results = [_audit(runs[name]) for name in ("pip-audit-locked", "pip-audit-installed")]
    audited = sum(r[0] for r in results)
    unreachable = sum(r[1] for r in results)
    vulnerable = [v for r in results for v in r[2]]
    figures.record(SUITE, "pip-audit: packages audited", audited)
    if vulnerable or audited:
        figures.record(
            SUITE,
            "pip-audit: known vulnerabilities",
            len(vulnerable),
            bound="0",
            ok=not vulnerable,
            note="; ".join(vulnerable[:10]),
        )
        assert vulnerable == []
        assert unreachable == 0, "the vulnerability service answered for some packages only"
        return
    figures.record(
        SUITE,
        "pip-audit: known vulnerabilities",
        "not run: no vulnerability service reachable",
        bound="0",
        ok=None,
        note=(
            f"{unreachable} packages could not be looked up: PyPI's per-release JSON "
            "(/pypi/NAME/VERSION/json) answers 404 from this network and OSV's host does not "
            "resolve"
        ),
    )
    pytest.skip("pip-audit: no vulnerability service reachable from this machine (not a pass)")


# ---------------------------------------------------------------- policies


class _OfflineResources(ResourceMap):
    """The template's resource map without moto: attributes only a created resource has (a
    table's StreamArn) resolve to a placeholder ARN, which holds no `*` of its own."""

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return super().get_att(logical_id, attribute)
        except TemplateError:
            return f"arn:aws:local:::{logical_id}/{attribute}"


def test_no_wildcard_action_or_resource_in_any_policy(template: Template) -> None:
    """Counted the way tests/integration/test_least_privilege.py checks it, with its helper."""
    stack = SimpleNamespace(resources=_OfflineResources(template))
    statements = wildcards = 0
    found = []
    for function in template.functions:
        for statement in role_statements(stack, function):
            statements += 1
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            bad = [a for a in actions if "*" in a]
            if statement.get("Sid") != "Tracing":  # X-Ray has no resource-level permissions
                bad += [r for r in resources if r == "*"]
            if bad:
                wildcards += 1
                found.append((function, statement.get("Sid"), bad))
    assert len(template.functions) >= 8
    figures.record(SUITE, "policy statements checked", statements)
    figures.record(
        SUITE, "policy statements with a * action or resource", wildcards, bound="0", ok=not found
    )
    assert found == []
