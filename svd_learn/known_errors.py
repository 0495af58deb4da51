"""The knowledge of lesson 3 as data: the known errors of data/known_errors.toml, and the sentences around them.

`KNOWN_ERRORS` holds one `KnownError` per entry (the data file's header says what each field means); a
`Diagnosis` is an entry recognised in a text, with the evidence it rests on. `phrase(key, **fields)` gives the
sentences `svd-learn explain` prints around the entries (data/explain_phrases.toml), so that every sentence a
learner reads lives in the data files. compat.py puts them to work.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from svd_learn.environment import installed_version
from svd_learn.language import Localized, joined, localized


def _data_file(name: str) -> dict:
    return tomllib.loads(resources.files("svd_learn").joinpath(f"data/{name}").read_text(encoding="utf-8"))


@cache
def _phrases() -> dict[str, str]:
    return _data_file("explain_phrases.toml")


def phrase(key: str, **fields) -> Localized:
    """A sentence of data/explain_phrases.toml (in the learner's language: its `_es` twin) with its {fields} filled in."""
    text = localized(_phrases(), key)
    return Localized(text, **fields) if fields else text


NOT_INSTALLED = "not installed"  # a version range in the data file that means "this library is absent"


def shown_range(spec: str) -> str:
    """A version range as a learner reads it: "not installed" in the learner's language, a specifier as it is."""
    return Localized("not installed") if spec == NOT_INSTALLED else spec


@dataclass(frozen=True)
class KnownError:
    """One entry of data/known_errors.toml."""

    id: str
    title: str
    patterns: tuple[re.Pattern, ...]  # any one matching the error text recognises the error
    versions: dict[str, tuple[str, ...]]  # distribution -> ranges (any one) in which the error happens
    flag_when_installed: bool  # True: the version combination itself is broken, `doctor` reports it
    explanation: str
    fix: str
    sources: tuple[str, ...]
    conflicts_of: tuple[str, ...] = ()  # distributions whose own requirements, when unmet, cause this error
    conflicts_on: str | None = None  # only their requirements on this distribution (None: any)
    asker: str | None = None  # the package whose code raises it; frames that show another package contradict the entry
    superseded_by: tuple[str, ...] = ()  # entries that, when also found, are the deeper cause: this one is dropped
    pasted: dict[str, re.Pattern] = field(
        default_factory=dict
    )  # distribution -> pattern on a version pasted in the text
    context: tuple[re.Pattern, ...] = ()  # with `pasted`: the text must also match one of these
    history: dict[str, str] = field(
        default_factory=dict
    )  # {"library", "change"}: answers name errors of the release history
    harmless: bool = False  # a warning, not an error
    doctor_title: str = ""  # the title of a `conflicts_of` finding in doctor ({asker}: the distribution)
    platforms: tuple[str, ...] = ()  # where its fix applies (empty: everywhere); see platforms.py
    unless: tuple[re.Pattern, ...] = ()  # text that shows another cause: then the entry does not answer
    versions_typical: bool = False  # `versions` are the usual case: a pasted version outside them is no contradiction

    def matches_installed(self, versions: dict[str, str | None]) -> bool:
        """True when every library of the entry is installed in one of its affected ranges."""
        if not self.versions:
            return False
        return all(in_ranges(versions.get(name), ranges) for name, ranges in self.versions.items())


@dataclass
class Diagnosis:
    """A known error recognised in a text."""

    id: str
    title: str
    explanation: str
    fix: str
    versions: dict[str, str]  # distribution -> the affected range(s), e.g. {"diffusers": "<0.29"}
    sources: tuple[str, ...]
    evidence: str  # the line of the text that matched
    seen: dict[str, str] = field(
        default_factory=dict
    )  # versions named in the text itself, e.g. "found huggingface-hub==1.3.4"
    notes: list[str] = field(
        default_factory=list
    )  # more evidence: the frame that asks, pasted versions, the release history
    harmless: bool = False  # a warning, not an error: nothing to fix

    def versions_line(self, show_installed: bool = True) -> Localized:
        affected = joined([joined([name, spec], " ") for name, spec in self.versions.items()], ", ")
        parts = [Localized("affected: {versions}", versions=affected if self.versions else Localized("any version"))]
        if self.seen:
            named = ", ".join(f"{name} {version}" for name, version in self.seen.items())
            parts.append(Localized("; named in the text: {versions}", versions=named))
        if show_installed and self.versions:  # a pasted error may come from another environment: say what is here
            installed = [
                joined([name, installed_version(name) or shown_range(NOT_INSTALLED)], " ") for name in self.versions
            ]
            parts.append(Localized("; installed here: {versions}", versions=joined(installed, ", ")))
        return joined(parts, "")


def in_ranges(version: str | None, ranges: tuple[str, ...]) -> bool:
    """True when an installed version (None = not installed) is in any of the ranges."""
    for spec in ranges:
        if spec == NOT_INSTALLED:
            if version is None:
                return True
        elif version is not None:
            try:
                if SpecifierSet(spec).contains(Version(version), prereleases=True):
                    return True
            except InvalidVersion:
                continue
    return False


def _text(raw: dict, key: str, default: str = "") -> Localized | str:
    """A text field of an entry (and its `_es` twin), without the blank lines around it."""
    if key not in raw:
        return default
    translations = {name[len(key) + 1 :]: value.strip() for name, value in raw.items() if name.startswith(f"{key}_")}
    return Localized.from_data(raw[key].strip(), translations)


def _read_known_errors() -> tuple[KnownError, ...]:
    data = _data_file("known_errors.toml")
    entries = []
    for raw in data["error"]:
        versions = {
            name: tuple([ranges] if isinstance(ranges, str) else ranges)
            for name, ranges in raw.get("versions", {}).items()
        }
        for ranges in versions.values():  # fail on a typo in the data file, not silently at diagnosis time
            for spec in ranges:
                if spec != NOT_INSTALLED:
                    SpecifierSet(spec)
        conflicts = raw.get("conflicts_of", ())
        entries.append(
            KnownError(
                id=raw["id"],
                title=_text(raw, "title"),
                patterns=tuple(re.compile(p, re.IGNORECASE) for p in raw.get("patterns", [])),
                versions=versions,
                flag_when_installed=raw.get("flag_when_installed", False),
                explanation=_text(raw, "explanation"),
                fix=_text(raw, "fix"),
                sources=tuple(raw["sources"]),
                conflicts_of=(conflicts,) if isinstance(conflicts, str) else tuple(conflicts),
                conflicts_on=raw.get("conflicts_on"),
                asker=raw.get("asker"),
                superseded_by=tuple(raw.get("superseded_by", ())),
                pasted={name: re.compile(p) for name, p in raw.get("pasted", {}).items()},
                context=tuple(re.compile(p, re.IGNORECASE) for p in raw.get("context", [])),
                history=raw.get("history", {}),
                harmless=raw.get("harmless", False),
                doctor_title=_text(raw, "doctor_title"),
                platforms=tuple(raw.get("platforms", ())),
                unless=tuple(re.compile(p, re.IGNORECASE) for p in raw.get("unless", [])),
                versions_typical=raw.get("versions_typical", False),
            )
        )
    ids = [entry.id for entry in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"known_errors.toml has duplicate ids: {sorted(i for i in ids if ids.count(i) > 1)}")
    return tuple(entries)


KNOWN_ERRORS: tuple[KnownError, ...] = _read_known_errors()


def known_error(error_id: str) -> KnownError:
    for entry in KNOWN_ERRORS:
        if entry.id == error_id:
            return entry
    raise KeyError(f"No known error {error_id!r}. Known: {', '.join(e.id for e in KNOWN_ERRORS)}.")
