"""What `svd-learn explain` reads and prints (lesson 3): the input as people give it, and the answer as text.

- `read_source(source)`: the error text from the argument as people type it: the message itself in quotes,
  a file that holds it, or `-` for standard input (pasted, or piped);
- `format_diagnosis(diagnosis)` and `format_unknown(report, shown)`: the answer, with the evidence it rests on.

The sentences come from data/explain_phrases.toml (`known_errors.phrase`). compat.py finds the diagnoses.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from svd_learn.errors import UserError
from svd_learn.known_errors import KNOWN_ERRORS, Diagnosis, phrase
from svd_learn.tracebacks import Report

# An argument that reads as an error message rather than a file name: an exception name, "message: detail",
# several words, or several lines.
ERROR_TEXT = re.compile(r"\b\w*(?:Error|Exception|Warning)\b|\w: \S|\n|\S+ \S+ \S+ \S+")


class UnreadableInput(UserError, ValueError):
    """The input to `explain` is empty, not text, or a file that cannot be read."""


def read_error_text(data: bytes) -> str:
    """Decode what a person pasted or piped into `explain`; refuse empty or binary input with a clear message."""
    if not data.strip():
        raise UnreadableInput(phrase("empty_input"))
    if b"\x00" in data:
        raise UnreadableInput(phrase("binary_input"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableInput(phrase("not_utf8")) from None


def read_source(source: str) -> str:
    """The error text that `svd-learn explain SOURCE` means: standard input for `-`, the file when one exists,
    else the argument itself when it reads as an error message. A missing file says how to pass a message."""
    if source == "-":
        if sys.stdin.isatty():
            print(phrase("paste_prompt"), file=sys.stderr)
        return read_error_text(sys.stdin.buffer.read())
    path = Path(source) if "\n" not in source and len(source) < 1024 else None
    if path is not None and path.exists():
        try:
            return read_error_text(path.read_bytes())
        except OSError as error:
            raise UnreadableInput(phrase("unreadable_file", source=source, reason=error.strerror)) from None
    if ERROR_TEXT.search(source):
        return read_error_text(source.encode("utf-8"))
    raise UnreadableInput(phrase("no_such_file", source=source))


def format_diagnosis(diagnosis: Diagnosis, show_installed: bool = True) -> str:
    """The diagnosis as text, with the evidence it rests on, in the learner's language; `show_installed` adds the
    versions installed here."""
    kind = phrase("harmless_warning") if diagnosis.harmless else phrase("known_error")
    lines = [f"{kind}: {diagnosis.title} [{diagnosis.id}]", f"  {phrase('matched')}: {diagnosis.evidence}"]
    lines += [f"  {note}" for note in diagnosis.notes]
    why, fix = str(phrase("why")), str(phrase("fix"))  # a text's next lines start under its first word
    lines += [
        f"  {diagnosis.versions_line(show_installed)}",
        f"  {why}: " + str(diagnosis.explanation).replace("\n", "\n" + " " * (len(why) + 4)),
        f"  {fix}: " + str(diagnosis.fix).replace("\n", "\n" + " " * (len(fix) + 4)),
        f"  {phrase('sources')}: " + "; ".join(map(str, diagnosis.sources)),
    ]
    return "\n".join(lines)


def format_unknown(report: Report, shown: list[str]) -> str:
    """What a report shows when no entry explains it: the exception, where it was raised, what else was found (in
    the learner's language)."""
    lines = [phrase("not_recognised", known=len(KNOWN_ERRORS))]
    if report.error_line:
        lines.append(f"  {phrase('the_error', line=report.error_line)}")
    raised = [frame for frame in report.frames if frame.owner]
    if raised:
        lines.append(f"  {phrase('raised_in', owner=raised[-1].owner, path=raised[-1].path, line=raised[-1].line)}")
    lines += [f"  {line}" for line in shown]
    if report.versions:
        versions = ", ".join(f"{name} {version}" for name, version in report.versions.items())
        lines.append(f"  {phrase('versions_in_text', versions=versions)}")
    lines.append("  " + str(phrase("read_first")))
    return "\n".join(map(str, lines))
