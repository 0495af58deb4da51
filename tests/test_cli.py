"""The `svd-learn` command itself: help, version, and what it prints around the work (cli.py)."""

import json

import pytest
from typer.testing import CliRunner

from svd_learn import cli, models
from svd_learn.cli import app


def run(*arguments):
    return CliRunner().invoke(app, [*map(str, arguments)])


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("svd-learn ") and result.output.split()[1][0].isdigit()


@pytest.mark.parametrize("command", ["generate", "batch", "plan", "env"])
def test_help_shows_no_bool_type_for_flags_and_no_braces_in_usage(command):
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    usage = result.output.splitlines()[0]
    assert usage.startswith("Usage:") and "{" not in usage, usage
    assert "<bool>" not in result.output  # flags take no value: `--json`, never `--json true`
    if command == "generate":
        assert usage.endswith("[OPTIONS] IMAGE")


def test_env_json_holds_the_model_source_that_env_prints():
    printed, as_json = run("env"), run("env", "--json")
    source = json.loads(as_json.output)["model_source"]
    assert source["name"] == "tiny" and f"model source: {source['name']} ({source['reason']})" in printed.output


def test_an_error_is_not_preceded_by_a_blank_line(tmp_path):
    result = run("generate", tmp_path / "missing.png", "-o", tmp_path / "out.mp4")
    assert result.exit_code == 1 and result.output.startswith("error: "), repr(result.output)


def test_reused_tiny_weights_are_not_announced_as_being_prepared(tmp_path):
    models.tiny_pipeline_folder()  # built (or already there)
    result = run("generate", models.SAMPLE_IMAGE, "-o", tmp_path / "out.mp4", "--frames", "2", "--steps", "1")
    assert result.exit_code == 0, result.output
    assert "building" not in result.output and "preparing" not in result.output


def test_the_denoising_bar_labels_elapsed_and_left(tmp_path):
    from io import StringIO

    from rich.console import Console

    console = Console(file=StringIO(), force_terminal=False, width=120)
    bar = cli.DenoisingBar(console)
    for step in range(1, 4):
        bar.on_step(step, 3)
    text = console.file.getvalue()
    assert "3/3 steps," in text and "elapsed," in text and text.rstrip().endswith("left")


# `svd-learn` as a user starts it, then what it had imported when it exited.
REFUSED = """
import sys
from svd_learn import cli

sys.argv = ["svd-learn", *sys.argv[1:]]
try:
    cli.main()
finally:
    print("imported:", sorted(m for m in ("torch", "diffusers", "accelerate") if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "arguments, phrase",
    [
        (["generate", "IMAGE", "-o", "out.avi"], "must end with .mp4"),
        (["generate", "missing.png", "-o", "out.mp4"], "missing.png does not exist"),
        (["generate", "IMAGE", "-o", "clips/"], "clips is a folder"),
        (["generate", "https://example.com/photo.jpg", "-o", "out.mp4"], "is a URL; svd-learn reads image files"),
        (["generate", "IMAGE", "-o", "out.mp4", "--frames", "0"], "num_frames=0"),
        (["batch", "images", "-o", "a file"], "a file is a file, not a folder"),
    ],
)
def test_a_bad_argument_is_refused_in_under_a_second_before_torch_is_imported(tmp_path, arguments, phrase):
    """A fresh process on 2 busy cores: about 0.3 s measured (torch alone takes 1.3 s to import); 1.5 s allowed."""
    import subprocess
    import sys
    import time

    (tmp_path / "images").mkdir()
    (tmp_path / "a file").write_text("not a folder")
    arguments = [str(models.SAMPLE_IMAGE) if argument == "IMAGE" else argument for argument in arguments]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", REFUSED, *arguments], cwd=tmp_path, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    assert done.returncode == 1 and phrase in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "imported: []" in done.stderr, done.stderr
    assert seconds < 1.5, f"refused in {seconds:.2f} s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a file", "images"]  # nothing created
