"""Re-execute the lessons from their .py sources and store the outputs in the paired .ipynb files.

    python tools/execute_lessons.py            # every lesson
    python tools/execute_lessons.py 01 03      # lessons whose names start with 01 or 03

Runs each lesson in a fresh kernel, in lessons/, under the same environment as the tests
(svd_learn.environment.lesson_test_environment: tiny weights, no progress bars, private caches), so that
strict nbval compares like with like. Prints each lesson's wall time.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from svd_learn.environment import lesson_test_environment

LESSONS = Path(__file__).resolve().parent.parent / "lessons"


def execute(source: Path, home: str) -> float:
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    started = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(LESSONS)}}).execute()
    seconds = time.perf_counter() - started
    jupytext.write(notebook, source.with_suffix(".ipynb"), fmt="ipynb")
    return seconds


def main(prefixes: list[str]) -> None:
    sources = sorted(p for p in LESSONS.glob("[0-9][0-9]_*.py") if not prefixes or p.name.startswith(tuple(prefixes)))
    if not sources:
        sys.exit(f"No lesson in {LESSONS} starts with {' or '.join(prefixes)}.")
    with tempfile.TemporaryDirectory(prefix="svd-learn-lessons-") as home:
        os.environ.update(lesson_test_environment(home))
        for source in sources:
            print(f"{source.name}: executing...", flush=True)
            print(f"{source.name}: {execute(source, home):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
