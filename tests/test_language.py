"""The learner's language (svd_learn/language.py): which one, the Spanish of every sentence, and what must not change.

Recorded text stays English (a run report, batch_summary.json, `plan --json`); what is shown speaks the learner's
language; the exit codes are the same in both."""

import copy
import importlib.util
import json
import pickle
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from svd_learn import language, models
from svd_learn.language import Localized, english, first_line, joined, localized, speaking

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "svd_learn" / "data"


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def spanish(monkeypatch):
    monkeypatch.setenv(language.LANGUAGE_VARIABLE, "es")


# ----------------------------------------------------------------------------------------------------
# Which language


@pytest.mark.parametrize(
    "environment, expected",
    [
        ({}, "en"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "es_ES.UTF-8"}, "es"),
        ({"LANG": "es_MX.UTF-8", "LC_MESSAGES": "C"}, "en"),  # POSIX: LC_MESSAGES before LANG
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "es_AR.UTF-8"}, "es"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LC_ALL": "es_ES.UTF-8"}, "es"),  # LC_ALL first
        ({"LC_ALL": "es_ES.UTF-8", "SVD_LEARN_LANG": "en"}, "en"),  # the variable wins over the locale
        ({"LANG": "en_US.UTF-8", "SVD_LEARN_LANG": "es"}, "es"),
        ({"LANG": "es_ES.UTF-8", "SVD_LEARN_LANG": "fr"}, "es"),  # a language svd-learn lacks: the locale decides
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"SVD_LEARN_LANG": "ES"}, "es"),
    ],
)
def test_the_language_comes_from_the_variable_then_the_locale(monkeypatch, environment, expected):
    for variable in ("SVD_LEARN_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert language.current() == expected


def test_use_sets_the_variable_for_this_process_and_the_commands_it_starts(monkeypatch):
    monkeypatch.delenv(language.LANGUAGE_VARIABLE, raising=False)
    language.use("es")
    done = subprocess.run([sys.executable, "-c", "from svd_learn import language; print(language.current())"])
    assert language.current() == "es" and done.returncode == 0
    with pytest.raises(ValueError, match="is not a language of svd-learn"):
        language.use("fr")


# ----------------------------------------------------------------------------------------------------
# Localized: English for files, the learner's language when shown


def test_a_localized_sentence_is_english_text_shown_in_the_learners_language(spanish):
    sentence = Localized("{path} does not exist. Check the path (on Colab, upload the file first).", path="a.jpg")
    assert sentence == "a.jpg does not exist. Check the path (on Colab, upload the file first)."  # its characters
    assert str(sentence) == f"{sentence}" == "a.jpg no existe. Comprueba la ruta (en Colab, sube antes el archivo)."
    assert json.loads(json.dumps({"warning": sentence})) == {"warning": english(sentence)}  # files: English
    assert str(pickle.loads(pickle.dumps(sentence))) == str(copy.deepcopy(sentence)) == str(sentence)
    error = ValueError(sentence)
    assert str(error).startswith("a.jpg no existe") and english(error).startswith("a.jpg does not exist")
    with speaking("en"):
        assert str(sentence) == english(sentence)


def test_fields_and_joined_sentences_are_shown_in_the_language_too(spanish):
    note = Localized("note: {note}", note=Localized("the CPU"))
    both = joined([Localized("no GPU"), Localized("the CPU")], Localized(" or "))
    assert (str(note), english(note)) == ("nota: la CPU", "note: the CPU")
    assert (str(both), english(both)) == ("sin GPU o la CPU", "no GPU or the CPU")
    line = first_line(ValueError(joined([Localized("no GPU"), Localized("the CPU")], "\n")))
    assert (str(line), english(line)) == ("sin GPU", "no GPU")


def test_a_data_file_text_carries_its_spanish(spanish):
    table = {"hint": "How many {what}.", "hint_es": "Cuántos {what}."}
    hint = localized(table, "hint")
    assert (hint, str(hint)) == ("How many {what}.", "Cuántos {what}.")
    assert str(Localized(hint, what="frames")) == "Cuántos frames." and Localized(hint, what="x") == "How many x."
    assert localized(table, "missing", "") == ""


# ----------------------------------------------------------------------------------------------------
# Every sentence has its Spanish


def test_the_catalog_is_current_compiled_and_fully_translated():
    """Extract the messages again (Babel), compare with the .po, compile it and compare with the committed .mo."""
    catalog = load_tool("catalog")
    assert catalog.check() == [], "run python tools/catalog.py, translate the new entries, run it again"
    messages = catalog.catalog_messages(catalog.read_catalog())
    assert len(messages) > 250 and all(messages.values())


def test_the_catalog_check_finds_an_untranslated_a_fuzzy_and_a_mistranslated_message():
    from babel.messages.catalog import Catalog

    catalog = load_tool("catalog")
    broken = Catalog(locale="es")
    broken.add("no GPU", "")
    broken.add("the CPU", "la CPU", flags=["fuzzy"])
    broken.add("{plan} fits", "{plan_name} cabe")
    assert len(catalog.problems(broken)) == 3


# Each data file's texts that a learner reads: (file, the tables that hold them, their text fields).
DATA_TEXTS = [
    ("known_errors.toml", "error[]", ("title", "explanation", "fix", "doctor_title")),
    ("reproductions.toml", "reproduction[]", ("summary",)),
    ("explain_phrases.toml", "", "every"),
    ("app.toml", "", "every"),
    ("app.toml", "text", "every"),
    ("app.toml", "controls.*", ("label", "hint", "none")),
    ("parameters.toml", "rules[]", ("why",)),
    ("checkpoints.toml", "svd|svd-xt|svd-xt-1-1", ("note",)),
    ("lesson_work.toml", "lessons.*", ("download",)),
    ("lesson_work.toml", "lessons.*.runs[]", ("cells",)),
    ("t4.toml", "calibration", ("basis",)),
]


def tables_at(data: dict, path: str) -> list[dict]:
    tables = [data]
    for part in filter(None, path.split(".")):
        name, many = part.removesuffix("[]"), part.endswith("[]")
        if name == "*":
            tables = [value for table in tables for value in table.values() if isinstance(value, dict)]
        else:
            tables = [table[key] for table in tables for key in name.split("|") if key in table]
        if many:
            tables = [item for items in tables for item in items]
    return tables


def data_texts() -> list[tuple[str, str, str, str]]:
    """(where, the English, the Spanish or None) of every text field of DATA_TEXTS."""
    found = []
    for file, path, keys in DATA_TEXTS:
        for table in tables_at(tomllib.loads((DATA / file).read_text()), path):
            names = (
                [k for k, v in table.items() if isinstance(v, str) and not k.endswith("_es")]
                if keys == "every"
                else keys
            )
            found += [(f"{file} {path} {k}", table[k], table.get(f"{k}_es")) for k in names if k in table]
    return found


def test_every_text_of_the_data_files_has_its_spanish_with_the_same_fields():
    texts = data_texts()
    assert len(texts) > 250
    missing = [where for where, _, spanish in texts if not spanish]
    assert missing == [], "add a Spanish twin (KEY_es) to each"
    fields = re.compile(r"(?<!{){[^{}]*}(?!})")
    differ = [where for where, en, es in texts if sorted(fields.findall(en)) != sorted(fields.findall(es))]
    assert differ == []


def test_the_spanish_follows_the_glossary():
    """lessons/es/GLOSARIO.md's "no usar" column holds for the tools' Spanish too (names, flags and files aside)."""
    lessons = importlib.util.spec_from_file_location("test_lessons", ROOT / "tests" / "test_lessons.py")
    glossary = importlib.util.module_from_spec(lessons)
    lessons.loader.exec_module(glossary)
    catalog = load_tool("catalog")
    spanish = list(catalog.catalog_messages(catalog.read_catalog()).values()) + [es for _, _, es in data_texts()]
    # What stays as written: {fields}, code, quoted text, links, commands, flags, Colab's menus, file and module names.
    code = re.compile(
        r'{[^{}]*}|`[^`]*`|"[^"]*"|https?://\S+|\[lab\]|svd-learn \w+|--[\w-]+|(?:from \w+ )?import \w+'
        r"|Runtime > [^.;)]*|\S*[\w)][._/=\\][\w(]\S*"
    )
    problems = []
    for text in spanish:
        prose = code.sub(" ", text)
        for row in glossary.glossary_rows():
            problems += [
                f"{variant!r} in {text[:60]!r}"
                for variant in row["rejected"]
                if re.search(glossary.words(variant), prose, re.I)
            ]
    assert problems == []


# ----------------------------------------------------------------------------------------------------
# The commands: the same exit codes, files and report fields in both languages; Spanish when asked


def svd_learn(arguments: list[str], language_code: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**__import__("os").environ, "SVD_LEARN_LANG": language_code}
    script = "import sys; from svd_learn import cli; sys.argv = ['svd-learn', *sys.argv[1:]]; cli.main()"
    return subprocess.run(
        [sys.executable, "-c", script, *arguments], cwd=cwd, env=environment, capture_output=True, text=True
    )


COMMON_REFUSALS = [
    (["generate", "missing.jpg", "-o", "a.mp4"], "missing.jpg no existe"),
    (["generate", "IMAGE", "-o", "out.avi"], "debe terminar en .mp4"),
    (["generate", "IMAGE", "-o", "out.mp4", "--plan", "fastest"], "Plan desconocido 'fastest'"),
    (["generate", "IMAGE", "-o", "out.mp4", "--frames", "0"], "num_frames=0: debe ser al menos 1"),
    (["generate", "IMAGE", "-o", "out.mp4", "--smooth", "5"], "da una tasa de fotogramas mayor"),
    (["plan", "--vram", "-1"], "no es un tamaño de memoria"),
    (["plan", "--checkpoint", "svd-xl"], "Checkpoint desconocido 'svd-xl'"),
    (["batch", "images", "-o", "a file"], "es un archivo, no una carpeta"),
    (["explain", "missing.txt"], "No se puede leer missing.txt"),
]


@pytest.mark.parametrize(
    "arguments, said", COMMON_REFUSALS, ids=lambda value: " ".join(value)[:40] if isinstance(value, list) else None
)
def test_a_refusal_speaks_spanish_with_the_same_exit_code_and_as_fast(tmp_path, arguments, said):
    (tmp_path / "images").mkdir()
    (tmp_path / "a file").write_text("not a folder")
    arguments = [str(models.SAMPLE_IMAGE) if argument == "IMAGE" else argument for argument in arguments]
    english_run = svd_learn(arguments, "en", tmp_path)
    started = time.perf_counter()
    spanish_run = svd_learn(arguments, "es", tmp_path)
    seconds = time.perf_counter() - started
    assert said in spanish_run.stderr and said not in english_run.stderr, spanish_run.stderr
    assert spanish_run.returncode == english_run.returncode != 0 and "Traceback" not in spanish_run.stderr
    assert seconds < 1.5 or arguments[0] == "explain", f"refused in {seconds:.2f} s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a file", "images"]  # nothing created


def test_explain_answers_in_spanish_in_under_a_second(tmp_path):
    pasted = "ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/usr/lib/huggingface_hub/__init__.py)"
    english_run = svd_learn(["explain", pasted], "en", tmp_path)
    started = time.perf_counter()
    spanish_run = svd_learn(["explain", pasted], "es", tmp_path)
    seconds = time.perf_counter() - started
    assert english_run.returncode == spanish_run.returncode == 0
    assert english_run.stdout.startswith("Known error: ") and spanish_run.stdout.startswith("Error conocido: ")
    assert "  por qué: " in spanish_run.stdout and "  arreglo: " in spanish_run.stdout
    assert "cached_download" in spanish_run.stdout and "pip install" in spanish_run.stdout  # names stay
    assert seconds < 1.5, f"answered in {seconds:.2f} s"


def test_plan_speaks_spanish_and_its_json_is_the_same_in_both_languages(tmp_path):
    arguments = ["plan", "--vram", "14.74", "--host-ram", "12.7"]
    english_run, spanish_run = (svd_learn(arguments, code, tmp_path) for code in ("en", "es"))
    assert english_run.returncode == spanish_run.returncode == 0
    assert "por qué: el plan más rápido que cabe" in spanish_run.stdout and "considerados:" in spanish_run.stdout
    assert "why: the fastest plan that fits" in english_run.stdout
    as_json = [svd_learn([*arguments, "--json"], code, tmp_path).stdout for code in ("en", "es")]
    assert as_json[0] == as_json[1] and "the fastest plan that fits" in as_json[0]


def test_english_is_what_it_was_with_nothing_set_on_an_english_locale(tmp_path, monkeypatch):
    arguments = ["plan", "--vram", "14.74", "--host-ram", "12.7"]
    environment = {
        k: v for k, v in __import__("os").environ.items() if k not in ("SVD_LEARN_LANG", "LC_ALL", "LC_MESSAGES")
    }
    script = "import sys; from svd_learn import cli; sys.argv = ['svd-learn', *sys.argv[1:]]; cli.main()"
    plain = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        env={**environment, "LANG": "en_US.UTF-8"},
        capture_output=True,
        text=True,
    )
    assert plain.stdout == svd_learn(arguments, "en", tmp_path).stdout and plain.stdout.startswith("svd-xt, 25 frames")


VOLATILE = (
    "timings",
    "host_rss_peak_gib",
    "environment",
    "peak_allocated_gib",
    "peak_reserved_gib",
    "report",
    "output",
)


def in_language(code: str, monkeypatch, *arguments):
    """`svd-learn ARGUMENTS` in this process (torch is imported already), speaking `code`."""
    from typer.testing import CliRunner

    from svd_learn.cli import app

    monkeypatch.setenv(language.LANGUAGE_VARIABLE, code)
    return CliRunner().invoke(app, [*map(str, arguments)])


def test_generate_writes_the_same_files_and_report_in_both_languages(tmp_path, monkeypatch):
    """The same tiny video made in English and in Spanish: the same exit code, the same files, the same report
    (its text fields in English: plan_reason, warnings, source_reason, t4_estimate, the smoother copy's note)."""
    runs = {}
    for code in ("en", "es"):
        video = tmp_path / code / "v.mp4"
        arguments = ["generate", models.SAMPLE_IMAGE, "-o", video, "--frames", "3", "--steps", "1", "--fps", "6"]
        done = in_language(code, monkeypatch, *arguments, "--plan", "gpu-decode2", "--smooth", "12", "--gif")
        assert done.exit_code == 0, done.output
        report = json.loads(video.with_suffix(".json").read_text())
        runs[code] = (
            done.output,
            {k: v for k, v in report.items() if k not in (*VOLATILE, "command", "gif", "smooth")},
        )
        runs[code] += (sorted(p.name for p in video.parent.iterdir()), report["smooth"]["interpolated"])
    (english_said, english_report, english_files, english_note), (spanish_said, *spanish) = runs["en"], runs["es"]
    assert english_files == spanish[1] == ["v-12fps.mp4", "v.gif", "v.json", "v.mp4"]
    assert english_report == spanish[0] and english_note == spanish[2] and "interpolated by ffmpeg" in english_note
    assert "run on the CPU" in english_report["plan_reason"] and english_report["warnings"]
    assert "wrote " in english_said and "escrito " in spanish_said and "interpolados por ffmpeg" in spanish_said
    assert "aviso: " in spanish_said and "warning: " not in spanish_said


def test_batch_records_the_same_summary_in_both_languages(tmp_path, monkeypatch):
    """A batch with a broken image: its error is said in Spanish and recorded in English in batch_summary.json."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.png").write_bytes(b"not a png")
    (images / "rocket.jpg").write_bytes(models.SAMPLE_IMAGE.read_bytes())
    runs = {}
    for code in ("en", "es"):
        out = tmp_path / f"out-{code}"
        done = in_language(code, monkeypatch, "batch", images, "-o", out, "--frames", "2", "--steps", "1")
        summary = json.loads((out / "batch_summary.json").read_text())
        runs[code] = (done, [(entry["name"], entry["error"]) for entry in summary["failed"]], len(summary["done"]))
    (english_run, english_failed, english_done), (spanish_run, spanish_failed, spanish_done) = runs["en"], runs["es"]
    assert english_run.exit_code == spanish_run.exit_code == 1 and english_done == spanish_done == 1
    assert english_failed == spanish_failed and "is not an image Pillow can read" in english_failed[0][1]
    assert "no es una imagen que Pillow pueda leer" in spanish_run.output and "lote: 2 trabajos" in spanish_run.output
