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


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_was_executed_with_outputs(source):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    not_run = [cell.source.splitlines()[0] for cell in cells if cell.execution_count is None]
    assert not not_run, f"cells never executed: {not_run}"
    silent = [cell.source.splitlines()[0] for cell in cells if SHOWS.search(cell.source) and not cell.outputs]
    assert not silent, f"cells that print but have no stored output: {silent}"
    errors = [out.get("ename") for cell in cells for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"stored errors: {errors}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_lesson_starts_with_badge_and_colab_install(source):
    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    text = source.read_text()
    badge = f"https://colab.research.google.com/github/{repository.removeprefix('https://github.com/')}/blob/main/lessons/{source.stem}.ipynb"
    assert badge in text, f"{source.name}: missing or wrong Colab badge (expected {badge})"
    assert f'"svd-learn @ git+{repository}"' in text, f"{source.name}: the install cell must install {repository}"
    assert "check_requirements()" in text and "print_header()" in text


def test_lesson_checks_detect_an_unexecuted_notebook(tmp_path):
    # The guard itself must be able to fail: an unexecuted conversion has no outputs.
    notebook = jupytext.read(SOURCES[0])
    cells = [cell for cell in notebook.cells if cell.cell_type == "code" and SHOWS.search(cell.source)]
    assert cells and all(not cell.get("outputs") for cell in cells)


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
