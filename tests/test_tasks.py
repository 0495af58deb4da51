"""tasks.py, the quick start's entry point: what it runs, and where."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from svd_learn import models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tasks(monkeypatch):
    """tasks.py as a module, running svd-learn with this interpreter (its .venv may not exist here)."""
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "PYTHON", Path(sys.executable))
    return module


def test_cli_resolves_paths_against_the_callers_folder(tmp_path, monkeypatch, capfd, tasks):
    """`python3 tasks.py cli generate rocket.jpg -o x.mp4` from a folder holding rocket.jpg and x.mp4 reads and
    refuses those (x.mp4 exists): not the repository's, where neither is."""
    shutil.copy(models.SAMPLE_IMAGE, tmp_path / "rocket.jpg")
    (tmp_path / "x.mp4").write_bytes(b"my video")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(subprocess.CalledProcessError):
        tasks.cli("generate", "rocket.jpg", "-o", "x.mp4")
    said = capfd.readouterr().err
    assert "error: x.mp4 exists; pass --force to replace it" in said, said
    assert not (ROOT / "x.mp4").exists()


def test_the_readmes_say_which_checks_the_quick_start_skips_and_which_command_runs_them(tasks):
    import inspect

    runs_them = inspect.getsource(tasks.oldest)
    assert 'SVD_LEARN_COLAB_CHECK="1"' in runs_them and "SVD_LEARN_COLAB_CHECK" not in inspect.getsource(tasks.test)
    assert 'os.environ.get("SVD_LEARN_COLAB_CHECK")' in (ROOT / "tests" / "test_install.py").read_text()
    for readme, skips in (("README.md", "What the quick start skips"), ("README.es.md", "inicio rápido no comprueba")):
        text = (ROOT / readme).read_text()
        said = text[text.index(skips) :].split("\n\n")[0]
        assert "`python3 tasks.py oldest`" in said and "`SVD_LEARN_COLAB_CHECK=1`" in said, readme
