"""The message templates of the errors and warnings a library raises, read from its source with `ast`.

Used by build_release_history.py to build svd_learn/data/messages.json. For each module of a wheel it finds

- `raise SomeError("...")`, with f-strings, `%` and `.format()` templates, `+` concatenations, textwrap.dedent,
  and a message assigned to a name before the raise (`msg = f"..."; raise ValueError(msg)`);
- `warnings.warn("...", FutureWarning)` and `warn(...)`;
- `logger.warning(...)`, `logger.warning_once(...)`, `logger.error(...)` (`logger`, `log`, `_logger`, `LOGGER`);
- diffusers' `deprecate("name", "1.0.0", "message")`, written out as diffusers writes it.

A template keeps the literal text and marks each value filled in at run time with `{}` (literal braces are
doubled, as in str.format); runs of white space become one space. Templates with little literal text
(under 20 characters, or no run of three whole words) say nothing on their own and are left out. Each one
comes with its kind (the exception class, `warning:FutureWarning`, `logger.warning`) and the function that
raises it (`module:Class.method`).
"""

from __future__ import annotations

import ast
import re

HOLE = "\x00"  # a value filled in at run time, while a template is built
LOGGERS = {"logger", "log", "_logger", "LOGGER", "_LOGGER"}
LOGGER_METHODS = {"warning", "warn", "warning_once", "error", "critical", "exception", "warning_advice"}
PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
MIN_LITERAL = 20
STRIPS = {"strip", "rstrip", "lstrip"}


def _text(node: ast.AST, names: dict[str, ast.AST], depth: int = 0) -> str:
    """The template of an expression: literal text, HOLE for what is computed at run time."""
    if depth > 4:
        return HOLE
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else HOLE for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, names, depth + 1) + _text(node.right, names, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return PERCENT.sub(HOLE, _text(node.left, names, depth + 1))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return FORMAT_FIELD.sub(HOLE, _text(node.func.value, names, depth + 1))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STRIPS:
        return _text(node.func.value, names, depth + 1)
    if (
        isinstance(node, ast.Call)
        and node.args
        and getattr(node.func, "attr", getattr(node.func, "id", "")) == "dedent"
    ):
        return _text(node.args[0], names, depth + 1)  # textwrap.dedent(f"...")
    if isinstance(node, ast.Name) and node.id in names:
        return _text(names[node.id], names, depth + 1)
    return HOLE


def template(text: str) -> str | None:
    """HOLE-marked text -> the stored template ("{}" for holes, braces doubled, white space collapsed), or None
    when it has too little literal text to recognise a message by."""
    text = re.sub(r"\s+", " ", text).strip()
    literal = text.replace(HOLE, "")
    if len(literal) < MIN_LITERAL or not any(len(part.split()) >= 3 for part in text.split(HOLE)):
        return None
    text = re.sub(f"{HOLE}+", HOLE, text)
    return text.replace("{", "{{").replace("}", "}}").replace(HOLE, "{}")


def _kind(node: ast.Call) -> str | None:
    """What a call reports: the exception class of `raise X(...)` is read by the caller; this reads warnings,
    logger calls and deprecate()."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in LOGGER_METHODS:
        owner = func.value
        if isinstance(owner, ast.Name) and owner.id in LOGGERS:
            return f"logger.{'warning' if func.attr.startswith('warn') else func.attr}"
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name == "warn":
        category = (
            node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "category"), None)
        )
        label = category.attr if isinstance(category, ast.Attribute) else getattr(category, "id", "UserWarning")
        return f"warning:{label}"
    if name == "deprecate":
        return "warning:FutureWarning"
    return None


def _deprecate_text(node: ast.Call, names: dict[str, ast.AST]) -> str:
    """diffusers' deprecate(name, version, message): the text its deprecation_utils writes."""
    if len(node.args) < 3:
        return HOLE
    what, version, message = (_text(arg, names) for arg in node.args[:3])
    return f"`{what}` is deprecated and will be removed in version {version}. {message}"


class _Finder(ast.NodeVisitor):
    """Walks one module, knowing the function (and class) each message is raised in."""

    def __init__(self, module: str):
        self.module, self.scope, self.names, self.found = module, [], [{}], set()

    def _scoped(self, node, name: str) -> None:
        self.scope.append(name)
        self.names.append({})
        self.generic_visit(node)
        self.scope.pop()
        self.names.pop()

    def visit_ClassDef(self, node):
        self._scoped(node, node.name)

    def visit_FunctionDef(self, node):
        self._scoped(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node):
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.names[-1][target.id] = node.value
        self.generic_visit(node)

    def _add(self, text: str, kind: str) -> None:
        found = template(text)
        if found:
            self.found.add((found, kind, f"{self.module}:{'.'.join(self.scope) or '<module>'}"))

    def visit_Raise(self, node):
        exc = node.exc
        if isinstance(exc, ast.Call) and exc.args:
            name = exc.func.attr if isinstance(exc.func, ast.Attribute) else getattr(exc.func, "id", "")
            if name[:1].isupper():
                self._add(_text(exc.args[0], self.names[-1]), name)
        self.generic_visit(node)

    def visit_Call(self, node):
        kind = _kind(node)
        if kind and node.args:
            is_deprecate = (getattr(node.func, "id", "") or getattr(node.func, "attr", "")) == "deprecate"
            text = _deprecate_text(node, self.names[-1]) if is_deprecate else _text(node.args[0], self.names[-1])
            self._add(text, kind)
        self.generic_visit(node)


def templates_in(source: str, module: str) -> set[tuple[str, str, str]]:
    """{(template, kind, raiser)} of one module's source; nothing for a file that does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    finder = _Finder(module)
    finder.visit(tree)
    return finder.found
