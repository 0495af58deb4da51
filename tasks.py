#!/usr/bin/env python3
"""The course's quick start and developer tasks. Needs only python3 (3.11 or newer).

    python3 tasks.py demo      # the capstone on the sample image: writes outputs/rocket.mp4 (+ .json report)
    python3 tasks.py test      # every test: unit tests and strict nbval of the lesson notebooks
    python3 tasks.py test -m "not slow"   # the fast tier: no installs, launches, kernels or notebooks
    python3 tasks.py lessons   # re-execute the lesson notebooks (python3 tasks.py lessons 01 03: some of them)
    python3 tasks.py cli ...   # the svd-learn command from .venv, e.g. python3 tasks.py cli plan --vram 14.74

The first run creates .venv/ and installs, in this order: torch (the spec in $SVD_LEARN_TORCH, default
torch==2.13.0: on the course's CI machines this is a CPU build already on disk), then the course with its
test extra. Later runs reuse .venv/ and reinstall only when pyproject.toml or the torch spec changed.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
TORCH = os.environ.get("SVD_LEARN_TORCH", "torch==2.13.0")
INSTALLED_MARKER = VENV / "svd-learn-installed"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*command) -> None:
    subprocess.run([str(part) for part in command], cwd=ROOT, check=True)


def ensure_environment() -> None:
    """Create .venv and install torch, then the course with its test extra, unless that is already done."""
    fingerprint = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()
    if INSTALLED_MARKER.exists() and INSTALLED_MARKER.read_text() == fingerprint:
        return
    if not PYTHON.exists():
        step(f"creating a virtual environment in {VENV.name}/")
        venv.create(VENV, with_pip=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    step(f"installing {TORCH} first (so nothing else pulls a different torch)")
    run(PYTHON, "-m", "pip", "install", "--quiet", TORCH)
    step("installing the course with its test extra: pip install -e '.[test]'")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[test]")
    INSTALLED_MARKER.write_text(fingerprint)


def demo() -> None:
    sample = subprocess.run([PYTHON, "-c", "from svd_learn.models import SAMPLE_IMAGE; print(SAMPLE_IMAGE)"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    step("svd-learn generate <sample image> -o outputs/rocket.mp4 --force")
    run(PYTHON, "-m", "svd_learn.cli", "generate", sample, "-o", "outputs/rocket.mp4", "--force")


def test(*arguments: str) -> None:
    step("pytest: unit tests (tests/) and strict nbval of the lessons (lessons/*.ipynb)")
    run(PYTHON, "-m", "pytest", *arguments)


def lessons(*prefixes: str) -> None:
    run(PYTHON, "tools/execute_lessons.py", *prefixes)


def cli(*arguments: str) -> None:
    run(PYTHON, "-m", "svd_learn.cli", *arguments)


TASKS = {"demo": demo, "test": test, "lessons": lessons, "cli": cli}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    ensure_environment()
    try:
        TASKS[sys.argv[1]](*sys.argv[2:])
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
