"""Re-execute the lessons from their .py sources and store the outputs in the paired .ipynb files.

    python tools/execute_lessons.py            # every lesson, both editions (lessons/ and lessons/es/)
    python tools/execute_lessons.py 01 03      # English lessons whose names start with 01 or 03
    python tools/execute_lessons.py es/01 es   # the Spanish lesson 01; every Spanish lesson

Runs each lesson in a fresh kernel, in its own folder, under the same environment as the tests
(svd_learn.environment.lesson_test_environment: tiny weights, no progress bars, private caches) and with
this checkout's svd_learn, so that strict nbval compares like with like. Prints each lesson's wall time.

The stored notebook is reproducible: re-executing an unchanged lesson on a quiet machine writes the same
file. So cell ids come from the cells' sources (not random), no execution timestamps are recorded, streams
are merged as a reader sees them, progress bars are stored as their final line without their timings, and
temporary paths and the local Hub's port are stored as lessons/sanitize.cfg writes them.
"""

import configparser
import hashlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

from svd_learn.environment import lesson_test_environment

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
SANITIZE = LESSONS / "sanitize.cfg"  # nbval's sanitizers (pytest --nbval-sanitize-with)
# tqdm's timing and rate, "[00:01<00:02,  5.64it/s]": different every run. (lessons/sanitize.cfg still
# recognises the bar: its pattern needs the brackets.)
PROGRESS_TIMING = re.compile(r"(\|\s*\d+/\d+ )\[[^\]\n]*\]")
STABLE_TIMING = r"\1[time varies]"
# Text that changes on every run, stored already as lessons/sanitize.cfg writes it: temporary folders, the
# local Hub's port, and the lines of its one-time environment creation (seconds vary; later runs print none).
# (The machine and version lines stay: they are the same on one machine.)
PER_RUN = ("temporary-paths", "local-hub-port", "local-hub-environment")


def per_run_rules() -> list[tuple[re.Pattern, str]]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(SANITIZE)
    return [(re.compile(config[name]["regex"]), config[name]["replace"]) for name in PER_RUN]


def stable_ids(notebook) -> None:
    """Give each cell an id made from its type and source (a repeated cell gets a counter), instead of a random one."""
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:12]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def as_displayed(text: str) -> str:
    """Stream text as a terminal shows it: of each line rewritten with carriage returns, only the last state;
    progress bars without their timings."""
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
    return PROGRESS_TIMING.sub(STABLE_TIMING, "\n".join(lines))


def without_per_run_text(text: str, rules) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def stabilise_outputs(notebook) -> None:
    rules = per_run_rules()
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = without_per_run_text(as_displayed(output["text"]), rules)
            elif "text/plain" in output.get("data", {}):
                output["data"]["text/plain"] = without_per_run_text(output["data"]["text/plain"], rules)


def execute(source: Path) -> float:
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
        record_timing=False,
        coalesce_streams=True,
    ).execute()
    seconds = time.perf_counter() - started
    stable_ids(notebook)
    stabilise_outputs(notebook)
    jupytext.write(notebook, source.with_suffix(".ipynb"), fmt="ipynb")
    return seconds


def main(prefixes: list[str]) -> None:
    editions = sorted(LESSONS.glob("[0-9][0-9]_*.py")) + sorted((LESSONS / "es").glob("[0-9][0-9]_*.py"))
    sources = [p for p in editions if not prefixes or p.relative_to(LESSONS).as_posix().startswith(tuple(prefixes))]
    if not sources:
        sys.exit(f"No lesson in {LESSONS} starts with {' or '.join(prefixes)}.")
    with tempfile.TemporaryDirectory(prefix="svd-learn-lessons-") as home:
        os.environ.update(lesson_test_environment(home))
        # The kernels import this checkout's svd_learn, whichever checkout the virtual environment was installed from.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        for source in sources:
            name = source.relative_to(LESSONS).as_posix()
            # Each lesson gets its own Hub cache, as a fresh Colab runtime has and as the tests give it (conftest.py):
            # Lesson 3 counts the requests a download makes, which a cache its twin filled would change.
            os.environ["HF_HOME"] = os.path.join(home, "hf-home", f"lessons-{name.replace('/', '-')}")
            print(f"{name}: executing...", flush=True)
            print(f"{name}: {execute(source):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
