"""Known version errors, as data: recognise them in an error text, and find them in this environment.

Lesson 3 teaches why old pins break (`cached_download` and its family). The knowledge lives in
`data/known_errors.toml` (read by known_errors.py); one entry per error says how to recognise it (regular
expressions on the error text), which versions it affects (ranges read with `packaging.specifiers`), where its
fix applies (platforms), why it happens, how to fix it and where the facts come from. Name errors in
huggingface_hub, diffusers, transformers and accelerate are also answered from their release history
(`name_errors.py`, `releases.py`), and any message from the libraries' own index (`messages.py`: who raises
it, in which releases). The report's own evidence wins over an entry (`tracebacks.py` reads every format people
paste): the frames that show who asks, the versions pasted beside it, the platform; when the frames cannot be
read, only what the message alone supports is answered. This module puts the pieces together:

- `diagnose(text)`       the known errors in an error message or a whole pasted traceback;
- `check_environment()`  the known-bad combinations installed here, and modules that stay stale after a
                         `pip install` in a running kernel (restart needed);
- `doctor()` / `explain()` print both for a person (`svd-learn doctor`, `svd-learn explain`; explain.py words it);
- `load_ipython_extension(ip)` prints the diagnosis under the traceback of a cell (`%load_ext svd_learn`).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from svd_learn import name_errors
from svd_learn.environment import installed_version, requirement_problems
from svd_learn.explain import UnreadableInput, format_diagnosis, format_unknown, read_source
from svd_learn.known_errors import (
    KNOWN_ERRORS,
    NOT_INSTALLED,
    Diagnosis,
    KnownError,
    in_ranges,
    known_error,
    phrase,
    shown_range,
)
from svd_learn.language import Localized, joined
from svd_learn.messages import MessageSource, sources_of
from svd_learn.platforms import Platform, platform_here
from svd_learn.tracebacks import Report, read_report


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Finding:
    """Something wrong in this environment, found without running anything."""

    id: str
    title: str
    detail: str  # what was found, with the installed versions
    fix: str


def _line_of(text: str, start: int, end: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return text[line_start : line_end if line_end != -1 else len(text)].strip()


def _diagnosis(entry: KnownError, evidence: str, seen: dict[str, str] | None = None, **fields) -> Diagnosis:
    return Diagnosis(
        id=entry.id,
        title=fields.pop("title", entry.title),
        explanation=fields.pop("explanation", entry.explanation),
        fix=fields.pop("fix", entry.fix),
        versions=fields.pop("versions", {name: either(ranges) for name, ranges in entry.versions.items()}),
        sources=fields.pop("sources", entry.sources),
        evidence=evidence,
        seen=seen or {},
        harmless=entry.harmless,
        **fields,
    )


def either(ranges) -> Localized:
    """Version ranges, any one of them: "<0.29 or not installed"."""
    return joined([shown_range(spec) for spec in ranges], Localized(" or "))


def _match(entry: KnownError, text: str, report: Report) -> tuple[int, Diagnosis] | None:
    """The entry's diagnosis and where in the text it first shows, or None."""
    matches = [m for pattern in entry.patterns for m in pattern.finditer(text)]
    if matches:
        match = max(matches, key=lambda m: m.start())  # the evidence: the last mention, the error line of a traceback
        seen = {name: value for name, value in match.groupdict().items() if value}
        return min(m.start() for m in matches), _diagnosis(entry, _line_of(text, match.start(), match.end()), seen)
    for name, pattern in entry.pasted.items():  # a pasted version, e.g. torch 2.1.2+cpu, next to a GPU error
        version = report.versions.get(name, "")
        context = [m for p in entry.context for m in p.finditer(text)]
        if version and pattern.search(version) and context:
            line = _line_of(text, context[-1].start(), context[-1].end())
            pasted = f"{name} {version}"
            notes = [Localized("pasted: {versions}", versions=pasted)]
            return context[-1].start(), _diagnosis(entry, line, {name: version}, notes=notes)
    return None


def _platform(report: Report, here: bool) -> Platform:
    """The platform the report shows; when it shows none and the error was raised here (in this process, or in
    files that exist on this disk), this machine's."""
    if report.platform.system:
        return report.platform
    local = here or any(os.path.isabs(frame.path) and os.path.isfile(frame.path) for frame in report.frames)
    return platform_here() if local else report.platform


def _not_here(entry: KnownError, text: str, platform: Platform) -> str | None:
    """Why an entry cannot answer for this report: its fix is for another platform, or the text shows another
    setup (`unless`). None when it can."""
    if not platform.allows(entry.platforms):
        return phrase("not_on_platform", where=", ".join(entry.platforms), platform=platform.kind or platform.system)
    for pattern in entry.unless:
        shown = pattern.search(text)
        if shown:
            return phrase("other_setup", evidence=shown.group(0))
    return None


def _asker_named(entry: KnownError, report: Report, sources: list[MessageSource]) -> bool:
    """The message itself shows the package that asks: it names it ("Failed to import diffusers.pipelines..."),
    or the message index says that package raises this message."""
    wrapped = re.search(r"Failed to import ([\w.]+)", report.text)
    named = bool(wrapped and wrapped.group(1).split(".")[0] == entry.asker)
    return named or any(source.library == entry.asker for source in sources)


def _contradicted(entry: KnownError, report: Report, asked: str, line: str, sources: list[MessageSource]) -> str | None:
    """Why the report's evidence contradicts the entry, or None: a pasted version outside the entry's ranges,
    frames that show another package (or your code) asking library `asked`, or frames that cannot be read
    when the entry rests on who asks."""
    for name, ranges in entry.versions.items() if not entry.versions_typical else ():
        pasted = report.versions.get(name)
        if pasted and not in_ranges(pasted, ranges):
            return phrase("pasted_outside", name=name, version=pasted, ranges=either(ranges))
    if not entry.asker or _asker_named(entry, report, sources):
        return None
    if report.unreadable:
        return phrase("asker_unreadable", asker=entry.asker)
    if not report.frames:  # the release history answers what the message alone supports
        return phrase("asker_not_shown", asker=entry.asker)
    asker, frame = name_errors.asker_of(report, asked, line)
    return None if asker == entry.asker else phrase("asker_other", shown=asker, asker=entry.asker, frame=frame)


def _history_entry(answer: name_errors.NameAnswer) -> KnownError | None:
    """The entry that explains this kind of change: the most specific one (library and change, then change)."""
    library, change, kind = {"library": answer.library}, {"change": answer.change}, {"kind": answer.kind}
    for wanted in (library | change | kind, library | change, change | kind, change):
        for entry in KNOWN_ERRORS:
            if entry.history == wanted:
                return entry
    return None


def _from_history(error: name_errors.NameError_ | None, report: Report) -> tuple[Diagnosis | None, list[str]]:
    """A diagnosis of a name error from the release history, or None and what the history showed."""
    if error is None:
        return None, []
    answer = name_errors.answer(error, report)
    entry = _history_entry(answer) if answer.known else None
    if entry is None:
        return None, answer.evidence
    fields = answer.fields()
    diagnosis = _diagnosis(
        entry,
        answer.evidence[0].removeprefix("error: "),
        title=Localized(entry.title, **fields),
        explanation=Localized(entry.explanation, **fields),
        fix=answer.fix,
        sources=tuple(answer.sources) + entry.sources,
        notes=answer.evidence[1:],
        versions={answer.library: (">=" if answer.change == "removed" else "<") + answer.release},
    )
    return diagnosis, answer.evidence


def diagnose(text: str, here: bool = False) -> list[Diagnosis]:
    """The known errors named in `text` (an error message or a whole traceback), in the order they appear.

    An empty list means: not recognised. Nothing is guessed: an entry that the report's own evidence
    contradicts (the frames show another package, a pasted version, the platform) gives way to what the
    evidence shows. `here`: the error was raised on this machine (its platform counts when the text shows none).
    """
    return _diagnose(text, here)[0]


def _diagnose(text: str, here: bool = False) -> tuple[list[Diagnosis], Report, list[str]]:
    report = read_report(text)
    text = report.text  # in CPython's format, whatever format was pasted
    platform = _platform(report, here)
    name_error = name_errors.read_name_error(text)
    asked = name_error.library if name_error else ""
    sources = sources_of(f"{report.error_line}\n{report.message}" if report.error_line else text[-4000:])
    found, against = [], []  # against: entries that matched, and why they do not answer
    for entry in KNOWN_ERRORS:
        matched = _match(entry, text, report)
        why = matched and (
            _not_here(entry, text, platform) or _contradicted(entry, report, asked, matched[1].evidence, sources)
        )
        if why:
            against.append(Localized("not {id}: {why}", id=entry.id, why=why))
        elif matched:
            found.append(matched)
    ids = {diagnosis.id for _, diagnosis in found}
    found = [(at, d) for at, d in found if not set(known_error(d.id).superseded_by) & ids]
    from_history, shown = _from_history(name_error, report)
    covered = from_history is not None and any(d.evidence == from_history.evidence for _, d in found)
    if from_history is not None and not covered:
        found.append((text.rfind(from_history.evidence), from_history))
    elif from_history is not None:  # an entry explains it: add what the history shows as evidence
        for _, diagnosis in found:
            if diagnosis.evidence == from_history.evidence:
                diagnosis.notes += from_history.notes
    for _, diagnosis in found:
        _add_notes(diagnosis, report, platform, sources)
    context = [phrase("platform", platform=platform.describe())] if platform.system else []
    context += [phrase("frames_unreadable")] if report.unreadable else []
    context += [line for source in sources[:2] for line in _source_lines(source)]
    return [d for _, d in sorted(found, key=lambda pair: pair[0])], report, context + shown[1:] + against


def _source_lines(source: MessageSource) -> list[str]:
    """ "raised by: diffusers f (...)", "diffusers has this message in 0.24.0 - 0.42.1 (...)" """
    return [
        phrase("raised_by", where=source.where()),
        phrase("message_releases", library=source.library, span=source.span()),
    ]


def _add_notes(diagnosis: Diagnosis, report: Report, platform: Platform, sources: list[MessageSource]) -> None:
    """The evidence around a diagnosis: where it was raised (the frames, else the message index), the versions
    pasted, the platform when it decided, and frames that could not be read."""
    entry = known_error(diagnosis.id)
    raised = [frame for frame in report.frames if frame.owner]
    if raised and not any(note.startswith("asked by") for note in diagnosis.notes):
        frame = raised[-1]
        diagnosis.notes.append(phrase("raised_in", owner=frame.owner, path=frame.path, line=frame.line))
    elif sources and not raised:
        diagnosis.notes += _source_lines(sources[0])
    pasted = [
        f"{name} {version}"
        for name, version in report.versions.items()
        if name in diagnosis.versions and f"pasted: {name} {version}" not in diagnosis.notes
    ]
    if pasted:
        diagnosis.notes.append(Localized("pasted: {versions}", versions=", ".join(pasted)))
    if entry.platforms and platform.system:
        diagnosis.notes.append(phrase("platform", platform=platform.describe()))
    if report.unreadable:
        diagnosis.notes.append(phrase("frames_unreadable"))


def _unmet_requirements(distribution: str, on: str | None = None) -> list[str]:
    """The requirements `distribution` declares (on `on` only, when given) that the installed versions do not
    meet (like `pip check`)."""
    from importlib import metadata

    try:
        declared = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    unmet = []
    for line in declared:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an optional extra, or not for this platform
        if on is not None and canonical(requirement.name) != canonical(on):
            continue
        installed = installed_version(requirement.name)
        if installed is not None and not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(
                Localized(
                    "{distribution} requires {requirement} but {name} {installed} is installed",
                    distribution=distribution,
                    requirement=requirement,
                    name=requirement.name,
                    installed=installed,
                )
            )
    return unmet


def nvidia_driver_present() -> bool:
    """True when the machine has an NVIDIA driver (then a CPU-only torch is a problem, not a choice)."""
    import os
    import shutil

    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def check_environment(versions: dict[str, str | None] | None = None) -> list[Finding]:
    """The known-bad combinations installed here, plus modules loaded in this process at a version other
    than the installed one (after `pip install` in a running kernel: restart needed).

    `versions` (distribution -> version or None) replaces the installed versions, to ask "what if".
    """
    names = {name for entry in KNOWN_ERRORS for name in entry.versions}
    what_if = versions is not None
    if what_if:
        versions = {name: versions.get(name) for name in names}
    else:
        versions = {name: installed_version(name) for name in names}
    findings = []
    for entry in KNOWN_ERRORS:
        if entry.flag_when_installed and entry.matches_installed(versions):
            installed = joined(
                [joined([name, versions[name] or shown_range(NOT_INSTALLED)], " ") for name in entry.versions], ", "
            )
            findings.append(
                Finding(entry.id, entry.title, Localized("installed: {versions}", versions=installed), entry.fix)
            )
        for name, pattern in (
            entry.pasted.items() if entry.flag_when_installed and not what_if and nvidia_driver_present() else ()
        ):
            installed = installed_version(name)
            if installed and pattern.search(installed):  # e.g. torch 2.13.0+cpu on a machine with an NVIDIA GPU
                findings.append(
                    Finding(
                        entry.id,
                        entry.title,
                        Localized(
                            "installed: {name} {version}, and this machine has an NVIDIA driver",
                            name=name,
                            version=installed,
                        ),
                        entry.fix,
                    )
                )
        for distribution in entry.conflicts_of if not what_if else ():
            for unmet in _unmet_requirements(distribution, entry.conflicts_on):
                title = Localized(entry.doctor_title, asker=distribution) if entry.doctor_title else entry.title
                findings.append(Finding(entry.id, title, unmet, entry.fix))
    if not what_if:
        stale = known_error("stale_module")
        for problem in requirement_problems():
            if problem.kind == "stale":
                findings.append(Finding(stale.id, stale.title, problem.sentence(), stale.fix))
    return findings


def explain(text: str, here: bool = False) -> list[Diagnosis]:
    """Print the diagnosis of an error text (or say honestly that it is not recognised, and what the text
    does show); return the diagnoses that explain it. Harmless warnings beside an error that no entry
    explains do not explain it: they are printed, and the error is said to be not recognised (an empty list).
    `here`: the error was raised on this machine."""
    diagnoses, report, shown = _diagnose(text, here)
    for diagnosis in diagnoses:
        print(format_diagnosis(diagnosis))
    if all(d.harmless for d in diagnoses) and (report.exception or not diagnoses):
        if not any(report.error_line and report.error_line in d.evidence for d in diagnoses):
            print(format_unknown(report, shown))
            return []
    return diagnoses


def doctor(console=None) -> list[Finding]:
    """Print this environment as a table, then every known-bad combination installed with its fix (in the
    learner's language).

    Call it inside a running notebook (`compat.doctor()`) to also catch modules that stay loaded at an
    old version after a `pip install` there; `svd-learn doctor` runs in a fresh process, which cannot see them.
    """
    from rich.console import Console

    from svd_learn.environment import probe

    console = console or Console()
    console.print(environment_table(probe()))
    findings = check_environment()
    if not findings:
        checked = Localized(
            "No known-bad combination installed ({known} known errors checked).", known=len(KNOWN_ERRORS)
        )
        console.print(str(checked))
    fix = str(phrase("fix"))
    for finding in findings:
        console.print(f"[bold red]{Localized('Problem:')}[/] {finding.title} [{finding.id}]", highlight=False)
        console.print(f"  {finding.detail}", highlight=False, markup=False)
        fixed = f"  {fix}: " + str(finding.fix).replace("\n", "\n" + " " * (len(fix) + 4))
        console.print(fixed, highlight=False, markup=False)
    return findings


def environment_table(env):
    """`svd-learn doctor`'s table of this environment (a rich Table), in the learner's language."""
    from rich.table import Table

    table = Table(title=str(Localized("svd-learn doctor: this environment")), show_header=True)
    table.add_column(str(Localized("what")))
    table.add_column(str(Localized("value")))
    table.add_row("Python", f"{env.python} ({env.platform})")
    table.add_row("Colab", str(Localized("yes") if env.in_colab else Localized("no")))
    table.add_row(str(Localized("host RAM")), f"{env.host_ram_gib:.1f} GiB")
    if env.cuda_available:
        major, minor = env.compute_capability
        gpu = Localized(
            "{gpu}, {vram:.2f} GiB VRAM, compute capability {major}.{minor}, CUDA {cuda}",
            gpu=env.gpu_name,
            vram=env.vram_gib,
            major=major,
            minor=minor,
            cuda=env.cuda_version,
        )
        gpu = gpu if env.supports_bf16 else Localized("{gpu} (no bf16: use fp16)", gpu=gpu)
    else:
        gpu = Localized("no CUDA GPU")
    table.add_row("GPU", str(gpu))
    for name, version in env.versions.items():
        table.add_row(name, version or str(shown_range(NOT_INSTALLED)))
    return table


# --- the IPython extension: %load_ext svd_learn ----------------------------------------------------------


def _after_cell(result) -> None:
    """post_run_cell hook: when a cell raised a known error, print its diagnosis under the traceback.
    After a cell that ran `pip install`, warn about modules that now need a restart."""
    cell = getattr(getattr(result, "info", None), "raw_cell", "") or ""
    if "pip install" in cell:
        for finding in check_environment():
            if finding.id == "stale_module":
                print(f"svd-learn: {finding.detail}")  # (the detail is shown in the learner's language)
    error = getattr(result, "error_in_exec", None)
    if error is None:
        return
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    diagnoses = diagnose(text, here=True)
    if diagnoses:
        print(f"\n{Localized('svd-learn recognises this error:')}")
        for diagnosis in diagnoses:
            print(format_diagnosis(diagnosis))


def load_ipython_extension(ip) -> None:
    if _after_cell not in ip.events.callbacks["post_run_cell"]:
        ip.events.register("post_run_cell", _after_cell)
    print(
        Localized(
            "svd-learn: known errors will be diagnosed under their traceback ({known} known).", known=len(KNOWN_ERRORS)
        )
    )


def unload_ipython_extension(ip) -> None:
    if _after_cell in ip.events.callbacks["post_run_cell"]:
        ip.events.unregister("post_run_cell", _after_cell)


def explain_command(source: str, list_known: bool = False) -> int:
    """`svd-learn explain [MESSAGE|FILE|-]`: the exit status is 0 when the error was recognised, 1 otherwise."""
    if list_known:
        for entry in KNOWN_ERRORS:  # a history entry's title is filled in per error: show its slots as <slot>
            title = re.sub(r"[{](\w+)[}]", r"<\1>", str(entry.title))
            print(f"{entry.id:30} {title}")
        return 0
    try:
        text = read_source(source)
    except UnreadableInput as error:
        print(f"svd-learn explain: {error}", file=sys.stderr)
        return 1
    return 0 if explain(text) else 1
