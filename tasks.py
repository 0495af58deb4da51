#!/usr/bin/env python3
"""The course's quick start and developer tasks. Needs only python3 (3.11 or newer).

    python3 tasks.py demo      # the capstone on the sample image: writes outputs/rocket.mp4 (+ .json report)
    python3 tasks.py test      # every test: unit tests and strict nbval of the lesson notebooks
    python3 tasks.py test -m "not slow"   # the fast tier: no installs, launches, kernels or notebooks
    python3 tasks.py lessons   # re-execute the lesson notebooks (python3 tasks.py lessons 01 03: some of them)
    python3 tasks.py cli ...   # the svd-learn command from .venv, in this folder: python3 tasks.py cli plan --vram 14.74
    python3 tasks.py oldest    # every test again, in .venv-oldest/: every lower bound in pyproject.toml, exactly

The first run creates .venv/ and installs, in this order: torch (the spec in $SVD_LEARN_TORCH, default
torch==2.13.0: on the course's CI machines this is a CPU build already on disk), then the course with its
app, hub and test extras. Later runs reuse .venv/ and reinstall only when pyproject.toml or the torch spec changed.
`oldest` builds a fresh .venv-oldest/ with each `name>=X` of pyproject.toml and of its app, hub and test extras
held at `name==X` (torch stays at $SVD_LEARN_TORCH: no older torch runs on the CI machines) and runs every
test there, Lesson 3 included, with huggingface_hub at its lower bound (1.4): the local Hub's server, olah,
runs from its own environment (svd_learn/hub.py), whatever the lesson's libraries are; and the app on gradio 5.50,
the oldest Colab ships.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
OLDEST_VENV = ROOT / ".venv-oldest"
TORCH = os.environ.get("SVD_LEARN_TORCH", "torch==2.13.0")
EXTRAS = ".[app,hub,test]"
# Stored outputs come from the newest versions: a stream of nothing but progress bars is not compared (see the plugin).
NBVAL_VERSIONS = ["-p", "tools.nbval_versions"]
# Two pytest-xdist workers: the lab's real installs wait on the network while the other worker runs notebooks.
# loadfile keeps each file in one worker: a notebook's cells share one kernel, in order.
PARALLEL = ["-n", "2", "--dist", "loadfile"]


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*command, cwd: Path = ROOT, **environment: str) -> None:
    subprocess.run([str(part) for part in command], cwd=cwd, check=True, env={**os.environ, **environment})


def python_in(environment: Path) -> Path:
    return environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


PYTHON = python_in(VENV)


def lower_bounds(*extras: str) -> list[str]:
    """Each `name>=X` of pyproject.toml's dependencies and of these extras as `name==X`, torch left out."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in extras for r in project["optional-dependencies"][extra]]
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement.strip())
        if match is None:
            sys.exit(f"tasks.py oldest: {requirement!r} in pyproject.toml has no plain lower bound (name>=X).")
        if match[1].lower() != "torch":
            pins[match[1].lower().replace("-", "_")] = f"{match[1]}=={match[2]}"  # an extra's bound wins
    return list(pins.values())


def ensure_environment(environment: Path = VENV, constraints: list[str] = (), extras: str = EXTRAS) -> None:
    """Create `environment` and install torch, then the course with `extras` (held to `constraints`), unless done."""
    python, marker = python_in(environment), environment / "svd-learn-installed"
    fingerprint = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + f"{TORCH}{constraints}{extras}".encode()
    ).hexdigest()
    if marker.exists() and marker.read_text() == fingerprint:
        return
    if not python.exists():
        step(f"creating a virtual environment in {environment.name}/")
        venv.create(environment, with_pip=True)
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    step(f"installing {TORCH} first (so nothing else pulls a different torch)")
    run(python, "-m", "pip", "install", "--quiet", TORCH)
    install_course(python, extras, constraints)
    marker.write_text(fingerprint)


def install_course(python: Path, extras: str, constraints: list[str]) -> None:
    hold = []
    if constraints:
        constraints_file = python.parent.parent / "constraints.txt"
        constraints_file.write_text("\n".join(constraints) + "\n")
        hold = ["--constraint", constraints_file]
        step(f"holding these versions exactly: {' '.join(constraints)}")
    step(f"installing the course with its extras: pip install -e '{extras}'")
    run(python, "-m", "pip", "install", "--quiet", *hold, "-e", extras)


def demo() -> None:
    sample = subprocess.run(
        [PYTHON, "-c", "from svd_learn.models import SAMPLE_IMAGE; print(SAMPLE_IMAGE)"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    step("svd-learn generate <sample image> -o outputs/rocket.mp4 --force")
    run(PYTHON, "-m", "svd_learn.cli", "generate", sample, "-o", "outputs/rocket.mp4", "--force")


def test(*arguments: str) -> None:
    step("pytest: unit tests (tests/) and strict nbval of the lessons (lessons/*.ipynb)")
    run(PYTHON, "-m", "pytest", *PARALLEL, *arguments)


def lessons(*prefixes: str) -> None:
    run(PYTHON, "tools/execute_lessons.py", *prefixes)


def cli(*arguments: str) -> None:
    """svd-learn in the caller's folder: its paths are where the user typed them, not the repository's."""
    run(PYTHON, "-m", "svd_learn.cli", *arguments, cwd=Path.cwd())


def oldest() -> None:
    """Every test on the oldest supported versions (see the module docstring)."""
    shutil.rmtree(OLDEST_VENV, ignore_errors=True)
    ensure_environment(OLDEST_VENV, lower_bounds("app", "hub", "test"))
    step("pytest in .venv-oldest/: unit tests, strict nbval of the lessons, and the check against Colab's images")
    run(python_in(OLDEST_VENV), "-m", "pytest", *PARALLEL, *NBVAL_VERSIONS, SVD_LEARN_COLAB_CHECK="1")


TASKS = {"demo": demo, "test": test, "lessons": lessons, "cli": cli, "oldest": oldest}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    if sys.argv[1] != "oldest":
        ensure_environment()
    try:
        TASKS[sys.argv[1]](*sys.argv[2:])
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
