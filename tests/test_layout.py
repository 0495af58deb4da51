"""The package's shape, as CONTRIBUTING.md asks for it: rules a test can check."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "svd_learn"


def test_no_function_is_longer_than_80_lines():
    long = []
    for module in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{module.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_no_function_outside_the_cli_takes_the_knobs_one_by_one():
    from svd_learn.parameters import KNOBS

    many = []
    for module in sorted(PACKAGE.glob("*.py")):
        if module.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = {a.arg for a in node.args.args + node.args.kwonlyargs}
                if len(names & set(KNOBS)) >= 6:
                    many.append(f"{module.name}:{node.lineno} {node.name}")
    assert not many, many


def test_the_code_is_formatted_and_passes_the_linter():
    """`ruff format` owns the layout and `ruff check` the lint rules (pyproject.toml's [tool.ruff])."""
    import shutil
    import subprocess
    import sys

    root = PACKAGE.parent
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in the test extra: pip install -e '.[test]'"
    formatted = subprocess.run([ruff, "format", "--check", "."], cwd=root, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = subprocess.run([ruff, "check", "."], cwd=root, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
