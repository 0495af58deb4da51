"""What each lesson asks of a Colab T4 (svd_learn/lesson_work.py, data/lesson_work.toml), and the setup every
lesson starts with: its declared work printed first, the Hub cache on Drive offered before huggingface_hub loads."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

from svd_learn import lesson_work, t4
from svd_learn.environment import lesson_test_environment

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
WORK = lesson_work.read()
DOWNLOADING = [path for path in LESSONS if WORK[path.stem].download_gib]


def code_cells(path: Path) -> list[str]:
    return [cell.source for cell in jupytext.read(path).cells if cell.cell_type == "code"]


def test_every_lesson_declares_its_work_and_nothing_else_is_declared():
    assert sorted(WORK) == [path.stem for path in LESSONS]


@pytest.mark.parametrize("lesson", sorted(WORK))
def test_no_lesson_asks_a_t4_for_more_than_a_session_of_generation(lesson):
    assert WORK[lesson].seconds() <= lesson_work.SESSION_MINUTES * 60, lesson_work.describe(lesson)


def test_the_declared_time_is_the_t4_estimate_of_each_run():
    work = WORK["02_svd_parameters"]
    expected = t4.estimate_seconds(8, 25, 25) + t4.estimate_seconds(30, 14, 42)
    assert work.unet_steps == 38 and work.seconds() == pytest.approx(expected)


def test_the_setup_line_says_the_download_each_run_and_the_total():
    text = lesson_work.describe("02_svd_parameters")
    assert "downloads SVD-XT's fp16 weights (4.2 GiB)" in text and "Drive" in text
    assert text.count("\n- ") == 2 and "section 7, the motion recipe" in text
    assert t4.describe_seconds(t4.estimate_seconds(30, 14, 42)) in text and "In all: about" in text
    assert "a model checked against public T4 runs, not a measurement" in text
    quiet = lesson_work.describe("03_hub_and_versions")
    assert "downloads no model weights" in quiet and "needs no GPU" in quiet


def test_an_unknown_lesson_is_a_short_error_naming_the_lessons():
    with pytest.raises(ValueError, match="No lesson '07_nothing'.*01_pipelines"):
        lesson_work.describe("07_nothing")


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_the_setup_cell_prints_the_lessons_declared_work(path):
    setup = code_cells(path)[0]
    assert f'lesson_work.describe("{path.stem}")' in setup and "print_header()" in setup


def rehearsal_rows() -> dict[str, dict]:
    results = json.loads((ROOT / "benchmarks" / "results" / "colab-rehearsal.json").read_text())
    return {row["lesson"]: row for row in results["lessons"]}


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_the_declared_steps_are_the_steps_the_rehearsal_counted(path):
    """The rehearsal counts every full-size UNet call (svd_learn.t4's hook). A row for an older source says
    nothing about this one: such a lesson is skipped until it is rehearsed again (tests/test_t4.py fails for it)."""
    row = rehearsal_rows().get(path.stem)
    if row is None or row["source_sha256"] != hashlib.sha256(path.read_bytes()).hexdigest():
        pytest.skip(f"{path.stem} has no rehearsal of its current source")
    assert row["full_size_unet_steps"] == WORK[path.stem].unet_steps


@pytest.mark.parametrize("path", DOWNLOADING, ids=lambda path: path.stem)
def test_a_lesson_that_downloads_weights_offers_the_drive_cache_right_after_its_setup(path):
    assert "keep_hub_cache_on_drive(" in code_cells(path)[1]


@pytest.mark.slow  # one fresh Python per lesson, as a notebook kernel starts
@pytest.mark.parametrize("path", DOWNLOADING, ids=lambda path: path.stem)
def test_nothing_before_the_drive_cell_imports_huggingface_hub(path, tmp_path):
    """huggingface_hub reads HF_HOME once, when it is imported: the Drive cell must run before that. So run the
    setup cell and the Drive cell as a fresh notebook kernel would, and look at what was imported."""
    setup, drive = code_cells(path)[:2]
    check = "import sys\nprint('imported:', 'huggingface_hub' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", f"{setup}\n{drive}\n{check}"],
        cwd=tmp_path,
        env={**os.environ, **lesson_test_environment(str(tmp_path)), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Hub cache:" in done.stdout and done.stdout.strip().endswith("imported: False"), done.stdout
