"""Where an error happened (lesson 3): the operating system and the environment, read from a report or this machine.

Advice must fit the machine: a CUDA build of torch cannot be the fix on a Mac, and a missing DLL is a Windows
matter. A report shows its platform in its paths and banners; `platform_of(text)` reads them:

- windows: `C:\\...`, `\\site-packages\\`, `Windows-10-...`, `[WinError 126]`, ComfyUI's `python_embeded`;
- macos:   `/Users/<name>/`, `/opt/homebrew/`, `macOS-14...`, `darwin`, `mps`;
- linux, with what kind: colab (`/content/`, `google.colab`, Colab's links), kaggle (`/kaggle/`),
  wsl (`/mnt/c/`, `microsoft-standard-WSL2`), or a plain Linux machine (`/home/<name>/`, `Linux-6...`);
- conda (`anaconda3`, `miniconda3`, `/envs/<name>/`, `conda-forge`) and ComfyUI's portable build, beside any system.

Each sign counts once; the system with the most signs wins, a tie says nothing. `platform_here()` reads this
machine instead (for an error raised here, in this process or in a file that exists on this disk).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from svd_learn.language import Localized, joined

SYSTEMS = ("windows", "macos", "linux")
KINDS = {"colab": "linux", "kaggle": "linux", "wsl": "linux"}  # a kind of Linux machine
SIGNS: dict[str, tuple[str, ...]] = {
    "windows": (
        r"\b[A-Za-z]:\\",
        r"\\(?:site|dist)-packages\\",
        r"\bWindows-\d",
        r"\[WinError \d+\]",
        r"python_embeded",
        r"\bwin(?:32|_amd64)\b",
        r"\.dll\b",
        r"(?i)\bwindows\b|\bwin(?:10|11)\b",  # also the word itself ("on Windows")
    ),
    "macos": (
        r"/Users/[^/\s]+/",
        r"/opt/homebrew/",
        r"\bmacOS[- ]\d",
        r"\bdarwin\b",
        r"-arm64-arm-64bit",
        r"\bmps\b",
        r"(?i)\b(?:mac ?book|mac ?(?:m\d|mini|studio)|m\d (?:pro |max |ultra )?mac|apple (?:m\d|silicon)|osx)\b",
        r"(?i)\b(?:on|my|a) mac\b",
        r"\bMac\b|\bmacOS\b|(?i:\bOS ?X\b|\bM[1-4] (?:chip|pro|max|ultra)\b)",  # the words themselves
    ),
    "colab": (r"/content/", r"google\.colab", r"localhost:8080/#", r"<ipython-input-[\w-]+>"),
    "kaggle": (r"/kaggle/",),
    "wsl": (r"/mnt/[a-z]/", r"microsoft-standard", r"\bWSL2?\b"),
    "linux": (
        r"/home/[^/\s]+/",
        r"\bLinux-\d",
        r"\bglibc",
        r"/usr/(?:local/)?lib/python3",
        r"\bmanylinux",
        r"\bUbuntu\b",
    ),
}
ENVIRONMENTS: dict[str, tuple[str, ...]] = {
    "conda": (
        r"[\\/](?:ana|mini)conda3[\\/]",
        r"[\\/](?:mamba|mini)forge3?[\\/]",
        r"[\\/]envs[\\/][^\\/\s]+[\\/]lib",
        r"conda-forge",
        r"[\\/]\.conda_envs[\\/]",
    ),
    "comfyui-portable": (r"python_embeded",),
}
_COMPILED = {name: [re.compile(p) for p in patterns] for name, patterns in {**SIGNS, **ENVIRONMENTS}.items()}


@dataclass(frozen=True)
class Platform:
    """A system (windows, macos, linux or "" when unknown), its kind (colab, kaggle, wsl or ""), environments
    (conda, comfyui-portable), where this was read ("report" or "this machine") and the sign that showed it."""

    system: str = ""
    kind: str = ""
    environments: tuple[str, ...] = ()
    source: str = ""
    evidence: str = ""

    @property
    def tags(self) -> set[str]:
        return {tag for tag in (self.system, self.kind, *self.environments) if tag}

    def allows(self, where: tuple[str, ...]) -> bool:
        """True when a fix meant for `where` (systems, kinds or environments; empty: everywhere) can apply here.
        When the system is unknown, a fix for one system only (a Mac's, a Windows DLL's) needs it shown; a fix
        for several systems applies."""
        if not where:
            return True
        if self.system:
            return bool(self.tags & set(where))
        return len({KINDS.get(place, place) for place in where} & set(SYSTEMS)) >= 2

    def describe(self) -> str:
        """ "macos (conda), from the report: /Users/ana/" """
        name = self.kind or self.system or Localized("unknown")
        extra = f" ({', '.join(self.environments)})" if self.environments else ""
        if not self.evidence:
            return joined([name, extra], "")
        source = {"the report": Localized("the report"), "this machine": Localized("this machine")}.get(self.source)
        return Localized(
            "{name}{extra}, from {source}: {evidence}",
            name=name,
            extra=extra,
            source=source or self.source,
            evidence=self.evidence,
        )


def _signs(text: str, name: str) -> list[str]:
    return [m.group(0) for pattern in _COMPILED[name] for m in [pattern.search(text)] if m]


def platform_of(text: str) -> Platform:
    """The platform a report shows (see the module docstring); Platform() when it shows none or disagrees."""
    found = {name: _signs(text, name) for name in SIGNS}
    votes = {system: len(found[system]) for system in SYSTEMS}
    for kind, system in KINDS.items():
        votes[system] += len(found[kind])
    best = max(votes.values())
    winners = [system for system, count in votes.items() if count == best]
    environments = tuple(name for name in ENVIRONMENTS if _signs(text, name))
    if best == 0 or len(winners) > 1:
        return Platform(environments=environments, source="the report" if environments else "")
    system = winners[0]
    kinds = [kind for kind, of in KINDS.items() if of == system and found[kind]]
    kind = max(kinds, key=lambda k: len(found[k])) if kinds else ""
    evidence = (found[kind] if kind else found[system])[0]
    return Platform(system, kind, environments, "the report", evidence)


def platform_here() -> Platform:
    """This machine's platform (for an error raised here)."""
    import os

    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
    kind = ""
    if system == "linux":
        release = os.uname().release.lower()
        kind = (
            "colab"
            if "google.colab" in sys.modules or os.path.isdir("/content/sample_data")
            else "kaggle"
            if os.path.isdir("/kaggle")
            else "wsl"
            if "microsoft" in release
            else ""
        )
    conda = (
        ("conda",) if os.environ.get("CONDA_PREFIX") or os.path.isdir(os.path.join(sys.prefix, "conda-meta")) else ()
    )
    return Platform(system, kind, conda, "this machine", sys.platform)
