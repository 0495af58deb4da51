"""The package's shape, as CONTRIBUTING.md asks for it: rules a test can check."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "svd_learn"


def test_no_function_is_longer_than_60_lines():
    long = []
    for module in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{module.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def imports_of_the_package() -> dict[str, set[str]]:
    """Each module of svd_learn and the modules of svd_learn it imports (at the top or in a function)."""
    modules = {module.stem for module in PACKAGE.glob("*.py")}
    graph = {}
    for module in PACKAGE.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "svd_learn":
                imported |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("svd_learn."):
                imported.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                imported |= {a.name.split(".")[1] for a in node.names if a.name.startswith("svd_learn.")}
        graph[module.stem] = imported - {module.stem}
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = imports_of_the_package()

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for name in graph.get(start, ()):
            if name == target or (name not in seen and reaches(name, target, seen | {name})):
                return True
        return False

    cycles = [name for name in sorted(graph) if reaches(name, name, {name})]
    assert not cycles, cycles


def test_the_command_line_imports_no_torch_before_a_command_runs():
    """`svd-learn` refuses a bad argument before importing torch and diffusers (seconds) and before CUDA starts."""
    import subprocess
    import sys

    code = "import sys, svd_learn.cli; print(sorted(m for m in ('torch', 'diffusers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


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
