"""The release history of the public names of huggingface_hub, diffusers, transformers and accelerate (lesson 3).

`data/release_history.json` is built from the real wheels by tools/build_release_history.py (its docstring
says how to add a release). For each library it lists its releases since November 2023 and four kinds of
facts, each with the releases it holds in ("0.19.0..0.25.2,0.27.0": runs of consecutive releases):

- exports  "module:Name"  a public name of the package or of a module one level below it;
- modules  "a.b.c"        a module path;
- imports  "module:Name"  a name this library imports from another of the four ("huggingface_hub:cached_download");
- params   "function:k"   a keyword parameter of a function learners call ("hf_hub_download:use_auth_token").

`history(library, kind, fact)` answers when a fact held: first and last release, and the release that
removed it. Nothing here guesses: a fact the file does not know returns None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from packaging.version import Version

from svd_learn.language import Localized, joined

LIBRARIES = ("huggingface_hub", "diffusers", "transformers", "accelerate")


@cache
def _data() -> dict:
    return json.loads(resources.files("svd_learn").joinpath("data/release_history.json").read_text(encoding="utf-8"))


@cache
def _facts(library: str, kind: str) -> dict[str, str]:
    """fact -> spans, from the file's grouping ({group: {spans: [members]}}, see tools/build_release_history.py)."""
    if kind != "modules":
        return {
            f"{group}:{member}": spans
            for group, by_spans in _data().get(library, {}).get(kind, {}).items()
            for spans, members in by_spans.items()
            for member in members
        }
    return {
        (f"{group}.{member}" if member else group): spans
        for group, by_spans in _data().get(library, {}).get(kind, {}).items()
        for spans, members in by_spans.items()
        for member in members
    }


def releases(library: str) -> list[str]:
    """The releases of a library that the history covers, oldest first ([] for an untracked library)."""
    return list(_data().get(library, {}).get("releases", []))


@dataclass(frozen=True)
class FactHistory:
    library: str
    kind: str
    fact: str
    held_in: tuple[str, ...]  # every covered release in which the fact holds, oldest first

    @property
    def first(self) -> str:
        return self.held_in[0]

    @property
    def last(self) -> str:
        return self.held_in[-1]

    @property
    def added_in(self) -> str | None:
        """The first release with it, when that is not the first release the history covers."""
        return self.first if self.first != releases(self.library)[0] else None

    @property
    def removed_in(self) -> str | None:
        """The first release after the last one with it, or None when the newest release still has it."""
        covered = releases(self.library)
        index = covered.index(self.last)
        return covered[index + 1] if index + 1 < len(covered) else None

    def holds_in(self, version: str) -> bool | None:
        """Whether the fact holds in that release (None: the release is not covered, e.g. older or local)."""
        version = str(Version(version).public)
        if version in self.held_in:
            return True
        return False if version in releases(self.library) else None

    def describe(self) -> str:
        """ "in 0.19.0 - 0.25.2, removed in 0.26.0" """
        span = self.first if self.first == self.last else f"{self.first} - {self.last}"
        if self.removed_in:
            ended = Localized(", removed in {release}", release=self.removed_in)
        else:
            ended = Localized(", still in the newest release")
        return joined([f"{self.library} {span}", ended], "")


@cache
def unpack(spans: str, covered: tuple[str, ...]) -> tuple[str, ...]:
    """ "0.19.0..0.25.2,0.27.0" -> every covered release in those runs, oldest first."""
    held = []
    for run in spans.split(","):
        first, _, last = run.partition("..")
        start, end = covered.index(first), covered.index(last or first)
        held += covered[start : end + 1]
    return tuple(held)


def history(library: str, kind: str, fact: str) -> FactHistory | None:
    """When a fact held in a library's releases; None when the history never saw it (or the library is untracked)."""
    spans = _facts(library, kind).get(fact)
    if spans is None:
        return None
    return FactHistory(library, kind, fact, unpack(spans, tuple(releases(library))))


def name_history(module: str, name: str) -> FactHistory | None:
    """When `from module import name` worked (module: the package or a module one level below it).

    A submodule can always be imported that way (`from huggingface_hub import constants`), named or not."""
    library = module.split(".")[0]
    exported, submodule = (
        history(library, "exports", f"{module}:{name}"),
        history(library, "modules", f"{module}.{name}"),
    )
    if exported is None or submodule is None:
        return exported or submodule
    held = set(exported.held_in) | set(submodule.held_in)
    return FactHistory(library, "exports", exported.fact, tuple(v for v in releases(library) if v in held))


def module_history(module: str) -> FactHistory | None:
    return history(module.split(".")[0], "modules", module)


def modules_exporting(library: str, name: str, release: str | None = None) -> list[str]:
    """The modules of `library` that export `name` in a release (default: the newest covered one)."""
    release = release or releases(library)[-1]
    found = []
    for fact in _facts(library, "exports"):
        module, _, exported = fact.partition(":")
        if exported == name and (history(library, "exports", fact).holds_in(release)):
            found.append(module)
    return sorted(found, key=len)


def modules_named(library: str, leaf: str, release: str | None = None) -> list[str]:
    """The module paths of `library` ending in `.leaf` in a release (default: the newest): where a module moved."""
    release = release or releases(library)[-1]
    return sorted(
        module
        for module in _facts(library, "modules")
        if module.rsplit(".", 1)[-1] == leaf and history(library, "modules", module).holds_in(release)
    )


def last_asking(asker: str, module: str, name: str) -> FactHistory | None:
    """When `asker` (a tracked library) imported `name` from `module`; its `removed_in` is the first release that stops."""
    return history(asker, "imports", f"{module}:{name}")


def parameter_history(function: str, keyword: str) -> list[FactHistory]:
    """Every tracked function named `function` ("hf_hub_download", "from_pretrained") with its history of `keyword`."""
    found = []
    for library in LIBRARIES:
        for fact in _facts(library, "params"):
            qualified, _, parameter = fact.partition(":")
            if parameter == keyword and qualified.rsplit(".", 1)[-1] == function:
                found.append(history(library, "params", fact))
    return found


def imports_of(asker: str, module: str) -> list[str]:
    """The import facts of `asker` that name `module` or a module inside it ("diffusers.models.unets:X")."""
    return [
        fact
        for fact in _facts(asker, "imports")
        if fact.split(":")[0] == module or fact.split(":")[0].startswith(module + ".")
    ]


def exports_recorded(module: str, name: str = "") -> bool:
    """The history records the public names of the package and of the modules one level below it: not
    deeper modules, and not private names (`_CACHED_NO_EXIST`)."""
    return module.split(".")[0] in LIBRARIES and module.count(".") <= 1 and not name.startswith("_")
