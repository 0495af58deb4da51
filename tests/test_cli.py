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
