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
