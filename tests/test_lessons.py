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
ENGLISH = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
SPANISH = sorted((LESSONS / "es").glob("[0-9][0-9]_*.py"))  # the Spanish edition: the same code, translated text
SOURCES = ENGLISH + SPANISH
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")) + sorted((LESSONS / "es").glob("[0-9][0-9]_*.ipynb"))
# A cell "shows something" if it prints, displays or plots at its top level. (A print inside a block, such as
# `if torch.cuda.is_available():`, may rightly print nothing on a CPU.)
SHOWS = re.compile(r"(?m)^(print\(|display\(|\S*\.show\(\))")


def code_cells(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def lesson_id(path: Path) -> str:
    return path.relative_to(LESSONS).with_suffix("").as_posix()


def test_every_lesson_has_both_files():
    assert ENGLISH, "no lessons found"
    assert [lesson_id(p) for p in SOURCES] == [lesson_id(p) for p in NOTEBOOKS]


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
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
    problems += [
        f"prints but has no stored output: {cell.source.splitlines()[0]}"
        for cell in cells
        if SHOWS.search(cell.source) and not cell.outputs
    ]
    problems += [
        f"stored error: {out.get('ename')}" for cell in cells for out in cell.outputs if out.output_type == "error"
    ]
    return problems


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
def test_notebook_was_executed_with_outputs(source):
    assert execution_problems(nbformat.read(source.with_suffix(".ipynb"), as_version=4)) == []


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
def test_lesson_starts_with_badge_and_colab_install(source):
    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    text = source.read_text()
    badge = f"https://colab.research.google.com/github/{repository.removeprefix('https://github.com/')}/blob/main/{source.with_suffix('.ipynb').relative_to(ROOT).as_posix()}"
    assert badge in text, f"{source.name}: missing or wrong Colab badge (expected {badge})"
    assert f'"svd-learn @ git+{repository}"' in text, f"{source.name}: the install cell must install {repository}"
    assert "check_requirements()" in text and "print_header()" in text


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
def test_the_setup_cell_sets_the_language_of_its_edition(source):
    """One marked line, `LANGUAGE = "en"` in lessons/ and "es" in lessons/es/, then language.use(LANGUAGE) before
    anything prints: the tools then speak the lesson's language (tools/sync_spanish.py keeps the line)."""
    setup = code_cells(jupytext.read(source))[0]
    edition = "es" if source.parent.name == "es" else "en"
    assert re.findall(r'(?m)^LANGUAGE = "(\w+)"', setup) == [edition]
    assert setup.index("language.use(LANGUAGE)") < setup.index("print_header()")


def test_the_spanish_twin_may_differ_only_in_the_language_line():
    spanish_code = load_tool("sync_spanish").spanish_code
    assert spanish_code('LANGUAGE = "en"  # note\nx = "en"') == 'LANGUAGE = "es"  # note\nx = "en"'
    assert spanish_code('print("LANGUAGE = \\"en\\"")') == 'print("LANGUAGE = \\"en\\"")'


def test_lesson_checks_detect_an_unexecuted_notebook():
    # The guard itself must be able to fail: an unexecuted conversion of a lesson has no outputs.
    problems = execution_problems(jupytext.read(SOURCES[0]))
    assert problems and all(p.startswith(("never executed", "prints but has no stored output")) for p in problems)


def load_tool(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_executor():
    return load_tool("execute_lessons")


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


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
def test_lesson_calls_are_literal_and_never_private_accelerate(source):
    # A learner copies these calls: the dtype argument is spelled out, and no private accelerate hook is read.
    text = source.read_text()
    assert "dtype_keyword" not in text
    assert "_all_hooks" not in text and "prev_module_hook.model" not in text


@pytest.mark.parametrize("name", ["04_memory.py", "05_capstone.py"])
def test_the_plain_t4_recipe_is_in_lessons_4_and_5(name):
    text = (LESSONS / name).read_text()
    for piece in (
        'PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"',
        'torch_dtype=torch.float16, variant="fp16")',
        "pipe.to(",
        "decode_chunk_size=2",
        "generator=torch.manual_seed(42)",
        "export_to_video(",
        "fps=7)",
    ):
        assert piece in text, f"{name}: the plain recipe lacks {piece!r}"


def headings(notebook) -> list[str]:
    """The numbered structure of a lesson: each markdown heading's level and number ("## 3.", "### 2.4")."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found += [" ".join(m.groups()) for m in re.finditer(r"(?m)^(#+) ?([\d.]*)", cell.source)]
    return found


def test_every_english_lesson_has_a_spanish_twin():
    assert [p.name for p in SPANISH] == [p.name for p in ENGLISH]
    assert (ROOT / "README.es.md").exists() and "README.es.md" in (ROOT / "README.md").read_text()
    assert "README.md" in (ROOT / "README.es.md").read_text()


@pytest.mark.parametrize("spanish", SPANISH, ids=lesson_id)
def test_the_spanish_twin_has_the_same_code_and_sections(spanish):
    """Identical code cells (so the same asserts and figures), and the same sections in the same order, so that
    the two editions never drift. tools/sync_spanish.py copies changed English code into the twin."""
    english, twin = jupytext.read(LESSONS / spanish.name), jupytext.read(spanish)
    assert [cell.cell_type for cell in twin.cells] == [cell.cell_type for cell in english.cells]
    spanish_code = load_tool("sync_spanish").spanish_code  # the one line that differs: LANGUAGE = "es"
    assert code_cells(twin) == [spanish_code(cell) for cell in code_cells(english)], (
        f"run python tools/sync_spanish.py, then execute {lesson_id(spanish)}"
    )
    assert headings(twin) == headings(english)
    prose = " ".join(cell.source for cell in twin.cells if cell.cell_type == "markdown")
    assert re.search(r"\b(lección|celda|pesos)\b", prose), "the markdown does not read as Spanish"


def prose_words(markdown: str) -> int:
    """Words a reader reads in a markdown cell: fenced code blocks (code to copy) are not prose."""
    return len(re.sub(r"(?s)```.*?```", "", markdown).split())


# Many learners read English as a second language: short cells. Spanish needs about a sixth more words for the
# same sentences, so its limit is a sixth higher.
WORD_LIMITS = {"": 150, "es": 175}


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
def test_no_markdown_cell_is_a_wall_of_text(source):
    limit = WORD_LIMITS[source.parent.relative_to(LESSONS).as_posix().strip(".")]
    cells = [cell.source for cell in jupytext.read(source).cells if cell.cell_type == "markdown"]
    long = [f"{prose_words(cell)} words: {cell.splitlines()[0][:60]}" for cell in cells if prose_words(cell) > limit]
    assert long == [], f"split these cells (at most {limit} words each)"


# A code cell calls the libraries themselves when it imports from diffusers, huggingface_hub, accelerate or (lesson
# 5's app) gradio, calls the pipeline or a method of it or of its networks, reads a network's config, or calls one of
# those libraries' functions or classes by name. (`parameters.load_image` is the course's; a bare `load_image` is diffusers'.)
LIBRARY_CALL = re.compile(
    r"(?m)^\s*(from|import) (diffusers|huggingface_hub|accelerate|gradio)\b"
    r"|\bpipe(\.\w+)*\("
    r"|\bpipe\.\w+\.config\b"
    r"|\bhuggingface_hub\.\w+"
    r"|(?<![.\w])(load_image|load_video|export_to_video|export_to_gif|make_image_grid|StableVideoDiffusionPipeline"
    r"|DiffusionPipeline|PartialState|init_empty_weights|gather_object)\b"
    r"|accelerate\.commands\.launch"
)


@pytest.mark.parametrize("name", ["02_svd_parameters.py", "05_capstone.py", "06_many_videos.py"])
def test_the_library_comes_before_the_helpers_in_a_third_of_the_code_cells(name):
    """Issue 25: a learner must see diffusers, huggingface_hub and accelerate themselves, not only the course's
    helpers. In the lessons built around helpers (2, 5, 6), at least a third of the code cells call them."""
    cells = code_cells(jupytext.read(LESSONS / name))
    calling = [cell for cell in cells if LIBRARY_CALL.search(cell)]
    assert 3 * len(calling) >= len(cells), f"{len(calling)} of {len(cells)} code cells call the libraries"


def test_the_library_pattern_tells_a_library_call_from_a_helper():
    assert LIBRARY_CALL.search("frames = pipe(image, decode_chunk_size=2).frames[0]")
    assert LIBRARY_CALL.search("hook = pipe.unet.register_forward_pre_hook(record)")
    assert LIBRARY_CALL.search("image = load_image(str(path))")
    assert LIBRARY_CALL.search("import gradio as gr")
    assert not LIBRARY_CALL.search("image = parameters.load_image(path)")
    assert not LIBRARY_CALL.search("capture = parameters.inspect_conditioning(pipe, image, params)")


@pytest.mark.parametrize("source", SOURCES, ids=lesson_id)
def test_every_lesson_ends_with_what_to_read_next(source):
    last = jupytext.read(source).cells[-1]
    assert last.cell_type == "markdown" and re.search(r"(?m)^## (Read next|Para seguir leyendo)", last.source)
    assert re.search(r"\]\(https://", last.source), "read next names its source with a link"


# The Spanish glossary (issue 27): one term per concept. lessons/es/GLOSARIO.md holds a table, one row per concept:
# | inglés | en el curso | 1.ª vez | no usar | nota |. These tests hold the lessons and README.es.md to it.
GLOSSARY = LESSONS / "es" / "GLOSARIO.md"
SPANISH_TEXTS = [*SPANISH, ROOT / "README.es.md"]


def glossary_rows() -> list[dict]:
    rows = []
    for line in GLOSSARY.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 5 and cells[0] not in ("inglés", "---"):
            english, spanish, first_use, rejected, _ = cells
            rejected = [] if rejected == "—" else [variant.strip() for variant in rejected.split(",")]
            rows.append(
                {"english": english, "spanish": spanish.strip("*"), "first_use": first_use, "rejected": rejected}
            )
    return rows


def spanish_prose(text: str) -> str:
    """What a reader reads as running text: no fenced code, no code spans, no link targets, no headings."""
    text = re.sub(r"(?s)```.*?```", " ", text)
    text = re.sub(r"`[^`]*`", "CODE", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"(?m)^#.*$", "", text)


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    return "\n\n".join(cell.source for cell in jupytext.read(path).cells if cell.cell_type == "markdown")


def words(phrase: str) -> str:
    """A phrase as a regex: whole words, any whitespace between them (a line may break there), plural allowed."""
    return r"(?<![\w-])" + r"\s+".join(map(re.escape, phrase.split())) + r"(?:s|es)?(?![\w-])"


def glossary_problems(prose: str, rows: list[dict]) -> list[str]:
    problems = []
    for row in rows:
        # the English term may stand in parentheses, where it names the concept at its first use
        text = re.sub(r"\([^()]*" + re.escape(row["english"]) + r"[^()]*\)", "", prose, flags=re.IGNORECASE)
        for variant in row["rejected"]:
            for found in re.finditer(words(variant), text, re.IGNORECASE):
                problems.append(f"{found.group(0)!r} (the glossary says {row['spanish']!r})")
        first = re.search(words(row["spanish"]), prose, re.IGNORECASE)
        if not first or row["first_use"] == "—":
            continue
        if row["first_use"] == "cursiva" and not (
            prose[first.start() - 1 : first.start()] == "*" and prose[first.start() - 2 : first.start()] != "**"
        ):
            problems.append(f"first {row['spanish']!r} is not in italics")
        if row["first_use"] == "paréntesis":
            after = re.match(r"[^()]{0,60}?\(([^()]*)\)", prose[first.end() :])
            if not (after and re.search(r"(?<!\w)" + re.escape(row["english"]), after.group(1), re.IGNORECASE)):
                problems.append(f"first {row['spanish']!r} lacks ({row['english']}) after it")
    return problems


def test_the_glossary_has_its_terms():
    rows = glossary_rows()
    assert len(rows) > 20 and {"batch", "chunk", "hook", "offload"} <= {row["english"] for row in rows}
    assert all(row["first_use"] in ("paréntesis", "cursiva", "—") for row in rows)
    assert "lessons/es/GLOSARIO.md" in (ROOT / "README.es.md").read_text()


@pytest.mark.parametrize("path", SPANISH_TEXTS, ids=lambda path: path.name)
def test_the_spanish_text_follows_the_glossary(path):
    problems = glossary_problems(spanish_prose(markdown_of(path)), glossary_rows())
    assert problems == [], f"{path.name}: follow lessons/es/GLOSARIO.md"


def test_the_glossary_check_catches_a_rejected_variant_and_a_missing_first_use():
    rows = [{"english": "batch", "spanish": "lote", "first_use": "paréntesis", "rejected": ["batch"]}]
    assert glossary_problems("Un lote (batch) de imágenes. Otro lote.", rows) == []
    assert glossary_problems("Un lote de imágenes (batch). Otro lote.", rows) == []
    assert len(glossary_problems("Un lote de imágenes. Otro batch.", rows)) == 2
    assert glossary_problems(spanish_prose("Usa `svd-learn batch` con un lote (batch)."), rows) == []
    italic = [{"english": "offload", "spanish": "offload", "first_use": "cursiva", "rejected": ["offloading"]}]
    assert glossary_problems("El *offload* mueve pesos. El offload tarda.", italic) == []
    assert glossary_problems("El offload mueve pesos.", italic) == ["first 'offload' is not in italics"]
    assert len(glossary_problems("El *offload* mueve pesos; el offloading tarda.", italic)) == 1


# Numbers in Spanish prose (GLOSARIO.md, "Números"): the decimal point as Python prints it, thousands grouped with a
# space. "200,000" reads as two hundred to a reader who writes the decimal comma.
NUMBER_WITH_COMMA = re.compile(r"\d,\d")
UNGROUPED_THOUSANDS = re.compile(r"(?<![\d.])\d{5,}(?![\d.])")


@pytest.mark.parametrize("path", SPANISH_TEXTS, ids=lambda path: path.name)
def test_spanish_numbers_have_one_format(path):
    prose = spanish_prose(markdown_of(path))
    assert NUMBER_WITH_COMMA.findall(prose) == [] and UNGROUPED_THOUSANDS.findall(prose) == []
    assert NUMBER_WITH_COMMA.search("unas 200,000 horas") and UNGROUPED_THOUSANDS.search("unas 200000 horas")
    assert not NUMBER_WITH_COMMA.search("200\u00a0000 horas, 4.2 GiB") and not UNGROUPED_THOUSANDS.search(
        "200 000 y 9216"
    )
