"""traceback_formats.py and tracebacks.py on every format people paste, each rendered from a real exception.

One real error is raised in every test: a package installed in a folder named site-packages (`oldlib`) imports
`cached_download`, which the installed huggingface_hub no longer has. Python, pytest, IPython and rich render
it their own way; each rendering must read as the same report: the ImportError, the frame in oldlib that asks,
and the diagnosis that oldlib (not diffusers) must be upgraded. Nothing here is a user's post.
"""

import io
import logging
import subprocess
import sys
import textwrap

import pytest

from svd_learn import compat
from svd_learn.traceback_formats import plain
from svd_learn.tracebacks import read_report


@pytest.fixture
def oldlib(tmp_path, monkeypatch):
    """A package in a site-packages folder whose import fails for real, and a test file that imports it."""
    site = tmp_path / "site-packages"
    (site / "oldlib").mkdir(parents=True)
    (site / "oldlib" / "__init__.py").write_text("from oldlib.loader import load\n")
    (site / "oldlib" / "loader.py").write_text(
        "from huggingface_hub import cached_download\n\n\ndef load():\n    pass\n"
    )
    (tmp_path / "test_uses_oldlib.py").write_text("def test_it():\n    import oldlib\n")
    monkeypatch.syspath_prepend(str(site))
    return tmp_path


def _import_error():
    try:
        import oldlib  # noqa: F401
    except ImportError as error:
        return error
    raise AssertionError("oldlib imported")


def assert_reads_as_the_real_error(text: str):
    report = read_report(text)
    assert report.exception == "ImportError", report.text
    assert report.message.startswith("cannot import name 'cached_download' from 'huggingface_hub'")
    assert report.frames and report.frames[-1].owner == "oldlib", report.frames
    assert report.frames[-1].code.startswith("from huggingface_hub import cached_download"), report.frames[-1]
    assert not report.unreadable
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "removed_name" and diagnosis.fix.startswith("Upgrade oldlib"), diagnosis


def test_cpython(oldlib):
    done = subprocess.run([sys.executable, "-c", "import oldlib"], capture_output=True, text=True, env=_env(oldlib))
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert_reads_as_the_real_error(done.stderr)


def _env(folder):
    import os

    return {**os.environ, "PYTHONPATH": str(folder / "site-packages")}


@pytest.mark.parametrize("style", ["short", "long", "auto"])
def test_pytest(oldlib, style):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--tb={style}", "test_uses_oldlib.py"],
        capture_output=True,
        text=True,
        cwd=oldlib,
        env=_env(oldlib),
    )
    assert "E   ImportError" in done.stdout or "E       ImportError" in done.stdout, done.stdout
    assert_reads_as_the_real_error(done.stdout)


def test_pytest_line(oldlib):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--tb=line", "test_uses_oldlib.py"],
        capture_output=True,
        text=True,
        cwd=oldlib,
        env=_env(oldlib),
    )
    report = read_report(done.stdout)
    assert report.exception == "ImportError" and report.frames[-1].owner == "oldlib", done.stdout


# What pytest 8.0.0 printed with --tb=line for test_pytest_line's files (CI's oldest-supported stage): no `E` line,
# only the section headers and `path:line: Error: message`. Newer pytest adds an `E` line (test_pytest_line).
PYTEST_8_0_LINE = """\
============================= test session starts ==============================
collected 1 item

test_uses_oldlib.py F                                                    [100%]

=================================== FAILURES ===================================
/tmp/ol/site-packages/oldlib/loader.py:1: ImportError: cannot import name 'cached_download' from \
'huggingface_hub' (/usr/lib/python3.11/site-packages/huggingface_hub/__init__.py)
=========================== short test summary info ============================
FAILED test_uses_oldlib.py::test_it - ImportError: cannot import name 'cached...
============================== 1 failed in 0.01s ===============================
"""


def test_pytest_8_0_line_without_an_e_line():
    report = read_report(PYTEST_8_0_LINE)
    assert report.exception == "ImportError" and report.frames[-1].owner == "oldlib"
    assert '  File "/tmp/ol/site-packages/oldlib/loader.py", line 1, in ?' in plain(PYTEST_8_0_LINE)


def _ipython(code: str, colors: str) -> str:
    import contextlib

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors=colors)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            shell.run_cell(code)
        return out.getvalue()
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("colors", ["NoColor", "Linux"])
def test_ipython(oldlib, colors):
    text = _ipython("x = 1\nimport oldlib", colors)
    assert ("\x1b[" in text) == (colors == "Linux")
    report = read_report(text)
    assert report.frames[0].path.startswith("Cell In[") and report.frames[0].code == "import oldlib"
    assert_reads_as_the_real_error(text)


def test_ipython_as_colab_links_it(oldlib):
    # Colab wraps each path in a link to its file viewer: [path](https://localhost:8080/#)
    text = _ipython("import oldlib", "NoColor")
    site = str(oldlib / "site-packages")
    linked = text.replace(f"File {site}", f"File [{site}").replace(".py:", ".py](https://localhost:8080/#):")
    assert "](https://localhost:8080/#)" in linked
    assert_reads_as_the_real_error(linked)


def _rich(error: BaseException, width: int, color: bool) -> str:
    from rich.console import Console
    from rich.traceback import Traceback

    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        color_system="truecolor" if color else None,
        legacy_windows=False,
    )
    console.print(Traceback.from_exception(type(error), error, error.__traceback__))
    return console.file.getvalue()


@pytest.mark.parametrize("width,color", [(120, False), (80, True), (52, False)])
def test_rich(oldlib, width, color):
    text = _rich(_import_error(), width, color)
    assert "╭" in text and ("\x1b[" in text) == color
    assert_reads_as_the_real_error(text)


def test_chained_exceptions(oldlib):
    code = textwrap.dedent(
        """
        try:
            import oldlib
        except ImportError as error:
            raise RuntimeError("Failed to import oldlib because of the following error (look up to see its "
                               "traceback):\\n" + str(error)) from error
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(oldlib))
    assert "The above exception was the direct cause" in done.stderr
    report = read_report(done.stderr)
    assert [block.exception for block in report.blocks] == ["ImportError", "RuntimeError"]
    assert report.exception == "RuntimeError"
    (diagnosis,) = compat.diagnose(done.stderr)  # the name error inside the RuntimeError, asked by oldlib
    assert diagnosis.id == "removed_name" and diagnosis.fix.startswith("Upgrade oldlib")


def test_during_handling(oldlib):
    code = "try:\n    import oldlib\nexcept ImportError:\n    {}['missing']\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(oldlib))
    assert "During handling of the above exception" in done.stderr
    report = read_report(done.stderr)
    assert [block.exception for block in report.blocks] == ["ImportError", "KeyError"]
    assert report.frames_for("cannot import name 'cached_download'")[-1].owner == "oldlib"


def test_logging_lines_and_progress_bars_around_it(oldlib):
    from tqdm import tqdm

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    logger = logging.getLogger("svd_app")
    logger.addHandler(handler)
    try:
        logger.warning("loading the pipeline")
        for _ in tqdm(range(3), file=stream, desc="Loading pipeline components...", ascii=True, disable=False):
            pass
        try:
            _raise_import_error()
        except ImportError:
            logger.exception("the model could not be loaded")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert " - ERROR - the model could not be loaded" in text and "100%|" in text
    assert_reads_as_the_real_error(text)


def _raise_import_error():
    import oldlib  # noqa: F401


def test_a_log_prefix_on_every_line(oldlib):
    # journald (systemd) prefixes each line a service writes, the traceback's too
    done = subprocess.run([sys.executable, "-c", "import oldlib"], capture_output=True, text=True, env=_env(oldlib))
    journal = "".join(
        f"Aug 12 10:38:3{i % 10} host svd-app[4073658]: {line}\n" for i, line in enumerate(done.stderr.splitlines())
    )
    assert_reads_as_the_real_error(journal)


def test_a_progress_bar_runs_into_the_traceback(oldlib):
    done = subprocess.run([sys.executable, "-c", "import oldlib"], capture_output=True, text=True, env=_env(oldlib))
    text = "  0%|          | 0/25 [00:00<?, ?it/s]" + done.stderr  # tqdm leaves no newline after its bar
    assert_reads_as_the_real_error(text)


def test_frames_run_together_on_one_line(oldlib):
    # copying from a dialog (ComfyUI's) can lose the newlines: every frame on one line
    done = subprocess.run([sys.executable, "-c", "import oldlib"], capture_output=True, text=True, env=_env(oldlib))
    lines = done.stderr.splitlines()
    flattened = " ".join(lines[1:-1]) + "\n" + lines[-1]
    report = read_report(flattened)
    assert report.frames[-1].owner == "oldlib" and report.exception == "ImportError"


def test_plain_leaves_cpython_alone_and_is_idempotent(oldlib):
    done = subprocess.run([sys.executable, "-c", "import oldlib"], capture_output=True, text=True, env=_env(oldlib))
    assert plain(done.stderr) == done.stderr
    rich_text = _rich(_import_error(), 80, True)
    assert plain(plain(rich_text)) == plain(rich_text)


def test_unreadable_frames_are_said_to_be_unreadable():
    text = (
        "Traceback (most recent call last):\n  <frames cut by the forum>\nImportError: cannot import name 'x' from 'y'"
    )
    report = read_report(text)
    assert report.unreadable and report.exception == "ImportError"
    assert not read_report("ImportError: cannot import name 'x' from 'y'").unreadable  # a message alone is not
