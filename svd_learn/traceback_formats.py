"""Turn the traceback formats people paste into Python's own format (lesson 3), so one reader reads them all.

`plain(text)` undoes what terminals, notebooks and test runners add around a traceback, in this order:

- ANSI colour codes (IPython, Jupyter, rich and pytest print in colour; a copy keeps the codes, or only
  their `[0;31m` remains when the escape character was lost);
- links that notebooks wrap around paths and line numbers (Colab's `[/usr/.../x.py](https://localhost:8080/#)`,
  VS Code's `[1485](file:///...)`), and a whole traceback pasted with literal `\\n` (VS Code's JSON view);
- rich's boxed tracebacks (`╭─ Traceback ─╮`, `│ path:12 in f │`, `❱ 12 code`), wrapped paths and messages too;
- pytest's frames: `path:12: in f` (--tb=short), `path:12: Error` after the code (--tb=long), `E   Error: ...`;
- log prefixes repeated on every line (`Aug 12 10:38:30 host app[123]: `, `2024-05-01 12:00:00,123 ERROR `);
- progress bars in front of a traceback (`100%|####| 5/5 [...]Traceback ...`), frames run together on one line
  (a ComfyUI error copied from its dialog) and ComfyUI's error report (`**Exception Type:**`).

The result reads as CPython prints it: `  File "path", line 12, in f` followed by the source line. Plain CPython
text comes back unchanged; running `plain` twice changes nothing more.
"""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
LOST_ANSI = re.compile(r"\[(?:\d{1,3};)*\d{1,3}m")  # "[0;31m": the escape character was lost in the copy
LINK = re.compile(r"\[([^\]\n]*)\]\((?:https?://localhost[^)\s]*|file://[^)\s]*)\)")
BOX_TOP = re.compile(r"^\s*╭─+ Traceback \(most recent call last\) ─+╮\s*$")
BOX_EDGE = re.compile(r"^\s*[╭╰][─]*[╮╯]?\s*$")
BOX_LINE = re.compile(r"^\s*│ ?(?P<inside>.*?)(?: ?│)?\s*$")  # a copy may lose the right edge
RICH_FRAME = re.compile(r"^(?P<path>\S.*?\.py):(?P<line>\d+) in (?P<function>\S+)\s*$")
RICH_CODE = re.compile(r"^\s*(?P<mark>❱|>)?\s*(?P<line>\d+) (?P<code>.*)$")
PYTEST_SHORT = re.compile(r"^(?P<path>\S+\.py):(?P<line>\d+): in (?P<function>\S+)\s*$")
PYTEST_LONG = re.compile(r"^(?P<path>\S+\.py):(?P<line>\d+): ?(?P<type>\w*)\s*$")
PYTEST_CODE = re.compile(r"^>\s+(?P<code>\S.*)$")
PYTEST_E = re.compile(r"^E {2,}(?P<rest>.*)$")
PYTEST_LINE = re.compile(r"^(?P<path>\S+\.py):(?P<line>\d+): (?P<error>\w+(?:Error|Exception|Warning): .*)$")
# pytest's section headers: with --tb=line, pytest 8.0 prints no `E` line, only `path:12: Error: message`
PYTEST_SECTION = re.compile(r"^=+ (?:FAILURES|ERRORS|short test summary info) =+$")
FILE_RUN = re.compile(r'\s(?=File "[^"]+", line \d+)')
PROGRESS = re.compile(r"\d{1,3}%\|[^|\n]*\|[^\[\n]*\[[^\]\n]*\]")
TRACEBACK_MIDLINE = re.compile(r"(?<=\S)(?=Traceback \(most recent call last\):)")
COMFY_FIELD = re.compile(r"^\s*-\s*\*\*Exception (?P<field>Type|Message):\*\*\s*(?P<value>.*)$", re.M)
LOG_PREFIX = re.compile(
    r"^(?P<prefix>(?:[A-Z][a-z]{2} +\d+ [\d:]+ \S+ \S+?\[\d+\]: )"  # journald: "Aug 12 10:38:30 host app[123]: "
    r"|(?:\[?\d{4}-\d\d-\d\d[ T][\d:.,]+\]?\s*(?:[-|]\s*)?(?:\[?[\w.]+\]?\s*[-|:]?\s*)?"  # 2024-05-01 12:00:00,123 - name
    r"(?:\[?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\]?\s*[-|:]?\s*)))"  # the level
)


def plain(text: str) -> str:
    """The text with every format above turned into CPython's (see the module docstring)."""
    if "\n" not in text.strip() and text.count("\\n") >= 2:
        text = text.replace("\\n", "\n").replace('\\"', '"')
    text = ANSI.sub("", text)
    if len(LOST_ANSI.findall(text)) >= 3:
        text = LOST_ANSI.sub("", text)
    text = LINK.sub(r"\1", text).replace("\r\n", "\n")
    text = TRACEBACK_MIDLINE.sub("\n", PROGRESS.sub("", text))
    lines = _without_log_prefixes(text.split("\n"))
    lines = [part for line in lines for part in _split_runs(line)]
    if any(BOX_LINE.match(line) for line in lines):
        lines = _unboxed(lines)
    if any(PYTEST_E.match(line) or PYTEST_SECTION.match(line) for line in lines):
        lines = _pytest_frames(lines)
    return _with_comfy_error("\n".join(lines))


def _split_runs(line: str) -> list[str]:
    """A line holding several `File "...", line N` (newlines lost in a copy) split before each."""
    if line.count('File "') < 2:
        return [line]
    return [part for part in FILE_RUN.split(line) if part.strip()]


def _without_log_prefixes(lines: list[str]) -> list[str]:
    """Remove a log prefix that stands in front of most lines of the traceback (journald, logging)."""
    prefixed = [m for m in map(LOG_PREFIX.match, lines) if m]
    if len(prefixed) < 3 or len(prefixed) < len([line for line in lines if line.strip()]) // 2:
        return lines
    return [LOG_PREFIX.sub("", line, count=1) for line in lines]


def _join_wrapped(lines: list[str], pattern: re.Pattern) -> list[str]:
    """Join a line that a box wrapped (a long path, `path:12 in` + `f`) back to the pattern it belongs to."""
    joined, index = [], 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        fragment = re.search(r"[\\/]", line) and not RICH_CODE.match(line)  # a piece of a path, not a code line
        if not pattern.match(line) and following and (fragment or not pattern.match(following)):
            for glue in ("", " "):
                if pattern.match(line.rstrip() + glue + following.strip()):
                    line, index = line.rstrip() + glue + following.strip(), index + 1
                    break
        joined.append(line)
        index += 1
    return joined


def _unboxed(lines: list[str]) -> list[str]:
    """rich's boxes -> CPython: a frame header becomes `File "...", line N, in f`, its ❱ line the source line."""
    out, inside = [], []
    for line in lines + [""]:
        box = BOX_LINE.match(line)
        if box:
            inside.append(box.group("inside").rstrip())
            continue
        if inside:
            out += _rich_frames(inside)
            inside = []
        if BOX_TOP.match(line):
            out.append("Traceback (most recent call last):")
        elif not BOX_EDGE.match(line):
            out.append(line)
    return _join_rich_message(out[:-1] if out and out[-1] == "" else out)


def _rich_frames(inside: list[str]) -> list[str]:
    frames = []
    for line in _join_wrapped([line for line in inside if line.strip()], RICH_FRAME):
        frame = RICH_FRAME.match(line)
        code = RICH_CODE.match(line)
        if frame:
            frames.append(f'  File "{frame["path"]}", line {frame["line"]}, in {frame["function"]}')
        elif code and code["mark"] and frames:
            frames.append("    " + code["code"].replace("│", " ").strip())
    return frames


def _join_rich_message(lines: list[str]) -> list[str]:
    """rich wraps a long exception message at the box width, leaving a space at the end of each wrapped line."""
    out = []
    for line in lines:
        if out and out[-1].endswith(" ") and out[-1].strip() and line.strip():
            out[-1] = out[-1] + line.strip()
        else:
            out.append(line)
    return out


def _pytest_frames(lines: list[str]) -> list[str]:
    """pytest -> CPython: `path:12: in f` (short) and `path:12: Error` after the `>` source line (long)."""
    out, pending_code = [], ""
    for line in lines:
        short, long, one_line = PYTEST_SHORT.match(line), PYTEST_LONG.match(line), PYTEST_LINE.match(line)
        code, error = PYTEST_CODE.match(line), PYTEST_E.match(line)
        if short:
            out.append(f'  File "{short["path"]}", line {short["line"]}, in {short["function"]}')
        elif long:
            out.append(f'  File "{long["path"]}", line {long["line"]}, in ?')
            out += [f"    {pending_code}"] if pending_code else []
            pending_code = ""
        elif one_line:  # --tb=line
            out += [f'  File "{one_line["path"]}", line {one_line["line"]}, in ?', one_line["error"]]
        elif error:
            out.append(error["rest"])
        else:
            pending_code = code["code"] if code else pending_code
            out.append(line)
    return out


def _with_comfy_error(text: str) -> str:
    """ComfyUI's error report names the exception in two fields: add the line CPython would print."""
    fields = {m["field"]: m["value"].strip() for m in COMFY_FIELD.finditer(text)}
    if "Type" in fields and "Message" in fields:
        return f"{text}\n{fields['Type']}: {fields['Message']}"
    return text
