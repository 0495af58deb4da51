"""Answer name errors in the four tracked libraries from their release history (lesson 3).

For `cannot import name X from Y`, `module 'Y' has no attribute 'X'`, `No module named 'Y.Z'` and
`f() got an unexpected keyword argument 'K'`, `read_name_error` finds what is asked, and `answer` says:

- in which release of Y the name went away, or first appeared (data/release_history.json);
- which package's code asks for it (the frames of the report), with its version where one was pasted;
- the fix: the first release of the asking package that no longer asks, when that package is tracked;
  otherwise upgrade it, or keep Y below the release that removed the name.

Evidence wins: when a pasted version of Y still has the name, the version is not the cause, and the
answer says so instead of guessing (`NameAnswer.known` is False).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from svd_learn import releases
from svd_learn.language import Localized, joined
from svd_learn.tracebacks import Report

# Python's own messages; a message may be wrapped in another (diffusers' RuntimeError). The quotes may be gone:
# `svd-learn explain ImportError: cannot import name 'x' from 'y'` typed unquoted reaches us without them.
_END = r"(?![\w.])"  # a whole name: "diffusers" is not the start of "diffusers.models"
PATTERNS = (
    ("name", re.compile(rf"cannot import name '?(?P<name>\w+)'? from '?(?P<module>[\w.]*\w){_END}'?")),
    ("name", re.compile(rf"module '?(?P<module>[\w.]*\w){_END}'? has no attribute '?(?P<name>\w+)'?")),
    ("module", re.compile(rf"No module named '?(?P<module>[\w.]*\w){_END}'?")),
    ("keyword", re.compile(r"(?P<function>[\w.]+)\(\) got an unexpected keyword argument '?(?P<name>\w+)'?")),
)
YOUR_CODE = Localized("your code")
DID_YOU_MEAN = re.compile(r"Did you mean: '(\w+)'\?")


@dataclass
class NameError_:
    kind: str  # "name", "module" or "keyword"
    library: str  # the tracked library asked (Y)
    module: str  # "huggingface_hub", "diffusers.models.unets" (for "keyword": the function)
    name: str  # the name, the module path, or the keyword
    line: str  # the line of the text that says it


@dataclass
class NameAnswer:
    change: str  # "removed", "added", or "" when the history cannot date it
    library: str
    what: str  # "cached_download", "the module diffusers.models.unets", "the keyword use_auth_token of hf_hub_download"
    asker: (
        str  # the package whose code asks ("diffusers", "custom node X", YOUR_CODE) or "" when the report has no frames
    )
    release: str  # the release that removed it / added it
    fix: str
    evidence: list[str] = field(default_factory=list)
    known: bool = True
    sources: list[str] = field(default_factory=list)
    kind: str = "name"  # of the error: "name", "module" or "keyword"

    def fields(self) -> dict[str, str]:
        asker = self.asker or Localized("the code")
        return {"library": self.library, "what": self.what, "asker": asker, "release": self.release}


def read_name_error(text: str) -> NameError_ | None:
    """The last name error in the text that concerns a tracked library, or None."""
    found = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            library = (match.group("module") if kind != "keyword" else "").split(".")[0]
            module = match.group("module") if kind != "keyword" else match.group("function").rsplit(".", 1)[-1]
            name = match.group("name") if kind != "module" else module
            if kind == "keyword" or library in releases.LIBRARIES:
                line_start = text.rfind("\n", 0, match.start()) + 1
                line_end = text.find("\n", match.end())
                found.append(
                    (
                        match.start(),
                        NameError_(
                            kind, library, module, name, text[line_start : line_end if line_end != -1 else None].strip()
                        ),
                    )
                )
    return max(found, key=lambda pair: pair[0])[1] if found else None


def asker_of(report: Report, library: str, line: str = "") -> tuple[str, str]:
    """Which package's code asks `library` for the name, and the frame that shows it.

    The last frame outside `library` itself (library "": the last frame) in the traceback whose exception shows
    `line` (a chained report has several); a file outside site-packages is the user's own code."""
    for frame in reversed(report.frames_for(line)):
        if frame.owner != library or not library:
            return frame.owner or YOUR_CODE, f'File "{frame.path}", line {frame.line}' + (
                f": {frame.code}" if frame.code else ""
            )
    return "", ""


def _notes_release(library: str, version: str) -> str:
    url = f"https://github.com/huggingface/{library}/releases/tag/v{version}"  # each repository is named as its package
    return Localized("{library} {version} release notes: {url}", library=library, version=version, url=url)


def _pasted_contradicts(history: releases.FactHistory, pasted: str | None) -> bool | None:
    """True when the pasted version of the library still has the fact (so the version is not the cause)."""
    if not pasted:
        return None
    try:
        return history.holds_in(pasted)
    except InvalidVersion:
        return None


def _fact(error: NameError_, report: Report) -> tuple[releases.FactHistory | None, str]:
    if error.kind == "name":
        name = Localized("{name} (from {module})", name=error.name, module=error.module)
        return releases.name_history(error.module, error.name), name
    if error.kind == "module":
        return releases.module_history(error.module), Localized("the module {module}", module=error.module)
    found = releases.parameter_history(error.module, error.name)
    if len(found) > 1:  # from_pretrained of diffusers and of transformers: the frames say whose
        owners = {frame.owner for frame in report.frames}
        found = [h for h in found if h.library in owners]
    keyword = Localized("the keyword {name}= of {function}()", name=error.name, function=error.module)
    return (found[0] if len(found) == 1 else None), keyword


def _asking_history(asker: str, error: NameError_) -> releases.FactHistory | None:
    """When a tracked asker imported the name (or anything from the module)."""
    if asker not in releases.LIBRARIES:
        return None
    if error.kind == "name":
        return releases.last_asking(asker, error.module, error.name)
    if error.kind == "module":
        spans = [releases.history(asker, "imports", fact) for fact in releases.imports_of(asker, error.module)]
        return max(spans, key=lambda h: Version(h.last), default=None)
    return None


def _removed_fix(answer: NameAnswer, error: NameError_, history: releases.FactHistory, pasted: dict[str, str]) -> None:
    library, removed = history.library, history.removed_in
    asking = _asking_history(answer.asker, error)
    if asking is not None and asking.removed_in:
        answer.evidence.append(
            Localized(
                "history: {asker} asks for it in {first} - {last}; {removed} no longer does",
                asker=answer.asker,
                first=asking.first,
                last=asking.last,
                removed=asking.removed_in,
            )
        )
        answer.fix = Localized(
            'Upgrade {asker}: pip install -U "{asker}>={release}" (the first release that no longer asks for it). Do '
            "not downgrade {library}: other libraries need its new releases.",
            asker=answer.asker,
            release=asking.removed_in,
            library=library,
        )
        answer.sources.append(_notes_release(answer.asker, asking.removed_in))
    elif answer.asker == YOUR_CODE:
        moved = (
            releases.modules_exporting(library, error.name)
            if error.kind == "name"
            else releases.modules_named(library, error.name.rsplit(".", 1)[-1])
        )
        where = Localized(" It is in {modules} now.", modules=", ".join(moved[:3]))
        suggested = DID_YOU_MEAN.search(error.line)  # Python 3.12+ suggests a name that exists
        hint = Localized(
            " Python suggests {name}: check that it does the same job.", name=suggested and suggested.group(1)
        )
        answer.fix = Localized(
            "Change your code: {library} {removed} removed it (read its release notes).{where}{hint}",
            library=library,
            removed=removed,
            where=where if moved and error.kind != "keyword" else "",
            hint=hint if suggested else "",
        )
    else:
        who = answer.asker or Localized("the package that asks for it (look at the frames above the error)")
        version = Localized(" (pasted: {version})", version=pasted[answer.asker]) if answer.asker in pasted else ""
        answer.fix = Localized(
            "Upgrade {who}{version}: a newer release may no longer need it. If none does, keep {library} below "
            '{removed}: pip install "{library}<{removed}" (then run pip check: other libraries may need a newer '
            "{library}).",
            who=who,
            version=version,
            library=library,
            removed=removed,
        )
        if not answer.asker:
            answer.fix = joined([answer.fix, _tracked_askers(answer, error)], "")


def _tracked_askers(answer: NameAnswer, error: NameError_) -> str:
    """When no frame shows who asks: the tracked libraries that did ask, as evidence, and the fix for each."""
    fixes = []
    for library in releases.LIBRARIES:
        asking = _asking_history(library, error) if library != answer.library else None
        if asking is not None:
            stopped = Localized("; {release} no longer does", release=asking.removed_in) if asking.removed_in else ""
            answer.evidence.append(
                Localized(
                    "history: {library} asks for it in {first} - {last}{stopped}",
                    library=library,
                    first=asking.first,
                    last=asking.last,
                    stopped=stopped,
                )
            )
            if asking.removed_in:
                fixes.append(
                    Localized(
                        'if it is {library}, pip install -U "{library}>={release}"',
                        library=library,
                        release=asking.removed_in,
                    )
                )
                answer.sources.append(_notes_release(library, asking.removed_in))
    return Localized(" Of the libraries svd-learn tracks: {fixes}.", fixes=joined(fixes)) if fixes else ""


def _not_in_the_history(result: NameAnswer, error: NameError_) -> NameAnswer:
    """The answer when the history does not date the name: what svd-learn records, or that no release has it."""
    result.known = False
    library, what = result.library, result.what
    if error.kind == "name" and not releases.exports_recorded(error.module, error.name):
        result.evidence.append(
            Localized(
                "history: svd-learn records the public names of {library} and of the modules one level below it, "
                "not {name} of {module}",
                library=library,
                name=error.name,
                module=error.module,
            )
        )
    elif library in releases.LIBRARIES:
        result.evidence.append(
            Localized("history: {what} is in no release of {library} since November 2023", what=what, library=library)
        )
    return result


def answer(error: NameError_, report: Report) -> NameAnswer:
    """What the history says about a name error (see the module docstring)."""
    history, what = _fact(error, report)
    library = history.library if history else error.library
    asker, frame = asker_of(report, library, error.line)
    evidence = [Localized("error: {line}", line=error.line)]
    result = NameAnswer("", library, what, asker, "", "", evidence=evidence, kind=error.kind)
    if frame:
        result.evidence.append(Localized("asked by: {asker} ({frame})", asker=asker, frame=frame))
    if history is None:
        return _not_in_the_history(result, error)
    result.sources.append(
        Localized("svd-learn's release history (data/release_history.json), read from the wheels on PyPI")
    )
    result.evidence.append(Localized("history: {what} is in {releases}", what=what, releases=history.describe()))
    pasted = report.versions.get(library)
    if _pasted_contradicts(history, pasted):
        result.known = False
        result.evidence.append(
            Localized(
                "but the pasted {library} {version} has it: the version is not the cause",
                library=library,
                version=pasted,
            )
        )
        return result
    if history.removed_in:
        result.change, result.release = "removed", history.removed_in
        result.sources.append(_notes_release(library, history.removed_in))
        _removed_fix(result, error, history, report.versions)
    elif history.added_in:
        result.change, result.release = "added", history.added_in
        result.sources.append(_notes_release(library, history.added_in))
        pasted_here = f"{library} {pasted}"
        have = Localized(" (pasted: {version})", version=pasted_here) if pasted else ""
        result.fix = Localized(
            'Upgrade {library}{have}: pip install -U "{library}>={release}", then restart the runtime.',
            library=library,
            have=have,
            release=history.added_in,
        )
    else:  # in every release since November 2023: the version does not explain it
        result.known = False
        result.evidence.append(
            Localized(
                "{library} has it in every release since {first}: look for a file of yours named {library}.py, an "
                "unfinished install, or a release older than {first}",
                library=library,
                first=history.first,
            )
        )
    return result
