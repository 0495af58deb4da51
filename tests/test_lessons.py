"""The lesson notebooks: each .ipynb is the executed twin of its .py source.

Strict nbval (run on lessons/ by the same pytest command) compares stored outputs with fresh ones. It
passes on a notebook that has no stored outputs, so these tests make sure there is something to compare."""

import re
import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
SOURCES = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
# A cell "shows something" if it prints, displays or plots, or ends with a bare expression.
SHOWS = re.compile(r"\bprint\(|\bdisplay\(|plt\.show\(\)|\.show\(\)")


def code_cells(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def test_every_lesson_has_both_files():
    assert SOURCES, "no lessons found"
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_code_matches_its_source(source):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert code_cells(notebook) == code_cells(jupytext.read(source)), (
        f"{source.with_suffix('.ipynb').name} is out of date: run python tools/execute_lessons.py {source.name[:2]}"
    )


def execution_problems(notebook) -> list[str]:
    """What makes a notebook's stored outputs unfit for strict nbval: cells never run, printing cells without
    output, stored errors."""
    cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    problems = [f"never executed: {cell.source.splitlines()[0]}" for cell in cells if cell.execution_count is None]
    problems += [f"prints but has no stored output: {cell.source.splitlines()[0]}"
                 for cell in cells if SHOWS.search(cell.source) and not cell.outputs]
    problems += [f"stored error: {out.get('ename')}" for cell in cells for out in cell.outputs if out.output_type == "error"]
    return problems


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_was_executed_with_outputs(source):
    assert execution_problems(nbformat.read(source.with_suffix(".ipynb"), as_version=4)) == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_lesson_starts_with_badge_and_colab_install(source):
    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    text = source.read_text()
    badge = f"https://colab.research.google.com/github/{repository.removeprefix('https://github.com/')}/blob/main/lessons/{source.stem}.ipynb"
    assert badge in text, f"{source.name}: missing or wrong Colab badge (expected {badge})"
    assert f'"svd-learn @ git+{repository}"' in text, f"{source.name}: the install cell must install {repository}"
    assert "check_requirements()" in text and "print_header()" in text


def test_lesson_checks_detect_an_unexecuted_notebook():
    # The guard itself must be able to fail: an unexecuted conversion of a lesson has no outputs.
    problems = execution_problems(jupytext.read(SOURCES[0]))
    assert problems and all(p.startswith(("never executed", "prints but has no stored output")) for p in problems)


def load_executor():
    import importlib.util

    spec = importlib.util.spec_from_file_location("execute_lessons", ROOT / "tools" / "execute_lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stored_progress_bars_keep_their_last_state_without_timings_and_nbval_still_sees_a_bar():
    executor = load_executor()
    run_one = "\r  0%|          | 0/3 [00:00<?, ?it/s]\r 33%|###3      | 1/3 [00:00<00:00,  4.59it/s]\r100%|##########| 3/3 [00:00<00:00,  6.36it/s]\n"
    run_two = "\r  0%|          | 0/3 [00:00<?, ?it/s]\r100%|##########| 3/3 [00:01<00:00,  2.01it/s]\n"
    assert executor.as_displayed(run_one) == executor.as_displayed(run_two) == "100%|##########| 3/3 [time varies]\n"
    sanitizer = re.compile(r"(?m)^[^\n]*\d+%\|[^\n]*\| *\d+/\d+ \[[^\n]*\]\s*$")  # lessons/sanitize.cfg's progress-bar
    assert "progress-bar" in (LESSONS / "sanitize.cfg").read_text() and sanitizer.search(executor.as_displayed(run_one))


def test_cell_ids_come_from_the_cells_not_from_chance():
    executor = load_executor()
    first, second = jupytext.read(SOURCES[0]), jupytext.read(SOURCES[0])
    executor.stable_ids(first)
    executor.stable_ids(second)
    ids = [cell.id for cell in first.cells]
    assert ids == [cell.id for cell in second.cells] and len(set(ids)) == len(ids)


@pytest.mark.slow  # starts a real kernel, twice
def test_re_executing_an_unchanged_notebook_writes_the_same_file(tmp_path, monkeypatch):
    executor = load_executor()
    source = tmp_path / "99_check.py"
    source.write_text(
        "# %%\nimport sys, time\nfrom tqdm import tqdm\n"
        "for _ in tqdm(range(3), file=sys.stdout, disable=False):\n    time.sleep(0.05)\n"
        "print('one'); sys.stdout.flush(); time.sleep(0.2); print('two')\n"  # may arrive as two stream messages
    )
    monkeypatch.setattr(executor, "LESSONS", tmp_path)
    executor.execute(source)
    first = source.with_suffix(".ipynb").read_text()
    executor.execute(source)
    assert source.with_suffix(".ipynb").read_text() == first
    assert "[time varies]" in first and "it/s" not in first  # the bar was there, without its rate
    outputs = nbformat.reads(first, as_version=4).cells[0].outputs
    assert len(outputs) == 1 and outputs[0].text.endswith("one\ntwo\n")  # one stream, as a reader sees it
    assert '"execution": {' not in first  # no execution timestamps


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_lesson_calls_are_literal_and_never_private_accelerate(source):
    # A learner copies these calls: the dtype argument is spelled out, and no private accelerate hook is read.
    text = source.read_text()
    assert "dtype_keyword" not in text
    assert "_all_hooks" not in text and "prev_module_hook.model" not in text


@pytest.mark.parametrize("name", ["04_memory.py", "05_capstone.py"])
def test_the_plain_t4_recipe_is_in_lessons_4_and_5(name):
    text = (LESSONS / name).read_text()
    for piece in ('PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"', 'torch_dtype=torch.float16, variant="fp16")',
                  'pipe.to(', "decode_chunk_size=2", "generator=torch.manual_seed(42)", "export_to_video(", "fps=7)"):
        assert piece in text, f"{name}: the plain recipe lacks {piece!r}"
