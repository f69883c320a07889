"""A local stand-in for the Lambda python3.13 runtime and the function's two layers.

`.venv-bench/` is a Python 3.13 venv whose site-packages hold boto3 (what the Lambda runtime
provides). The layers are built by their own Makefiles, the same ones `sam build` runs, only for
the host platform, and merged into `.venv-bench/opt/python` as Lambda merges layers into /opt.
The dependencies layer is rebuilt only when its inputs change; the core layer on every run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-bench"
# The SDK the Lambda runtime provides (dependencies layer leaves it out); same pins as dev.
RUNTIME_SDK = ("boto3==1.43.11", "botocore==1.43.11")
DEPS_INPUTS = (ROOT / "layers/deps/requirements.txt", ROOT / "layers/deps/Makefile")
SETUP_TIMEOUT_S = 900


@dataclass(frozen=True)
class Runtime:
    python: Path
    opt_python: Path


def _run(args: list[str | Path], timeout: float = SETUP_TIMEOUT_S) -> None:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )


def _is_313(python: str | Path) -> bool:
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == "(3, 13)"


def find_python313() -> Path:
    """BENCH_PYTHON, else python3.13 on PATH, else a pyenv 3.13 install."""
    candidates: list[str | Path] = []
    if os.environ.get("BENCH_PYTHON"):
        candidates.append(os.environ["BENCH_PYTHON"])
    if found := shutil.which("python3.13"):
        candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted((pyenv_root / "versions").glob("3.13*/bin/python3.13"), reverse=True)
    for candidate in candidates:
        if _is_313(candidate):
            return Path(candidate)
    raise RuntimeError(
        "Python 3.13 not found: put python3.13 on PATH "
        "(e.g. PYENV_VERSION=3.11.7:3.13.0) or set BENCH_PYTHON"
    )


def _make(target: str, makefile: Path, artifacts: Path, python: Path, *extra: str) -> None:
    make = shutil.which("make")
    if make is None:
        raise RuntimeError("`make` is needed to build the layers")
    _run(
        [
            make,
            "-s",
            "-f",
            makefile,
            target,
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={python}",
            *extra,
        ]
    )


def _deps_stamp() -> str:
    digest = hashlib.sha256(" ".join(RUNTIME_SDK).encode())
    for path in DEPS_INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare(log: bool = True) -> Runtime:
    """Create or refresh .venv-bench and the layers; idempotent and safe on a fresh clone."""
    python = VENV / "bin" / "python"
    stamp_file = VENV / ".bench-deps-stamp"
    opt = VENV / "opt"
    stamp = _deps_stamp()
    if not (
        python.exists()
        and _is_313(python)
        and stamp_file.exists()
        and stamp_file.read_text() == stamp
    ):
        if log:
            print(
                "bench: creating .venv-bench (Python 3.13, boto3, dependencies layer)…",
                file=sys.stderr,
            )
        base = find_python313()
        _run([base, "-m", "venv", "--clear", VENV])
        _run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *RUNTIME_SDK]
        )
        # PIP_PLATFORM= builds the layer for this machine instead of arm64.
        _make(
            "build-DependenciesLayer", ROOT / "layers/deps/Makefile", opt, python, "PIP_PLATFORM="
        )
        stamp_file.write_text(stamp)
    core = VENV / "core-layer"
    _make("build-CoreLayer", ROOT / "layers/core/Makefile", core, python)
    merged = opt / "python" / "yoosr"
    shutil.rmtree(merged, ignore_errors=True)
    shutil.copytree(core / "python" / "yoosr", merged)
    return Runtime(python=python, opt_python=opt / "python")
