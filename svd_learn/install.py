"""Install the course's libraries into a running notebook without replacing what the notebook already has.

Every lesson's setup cell does this on Colab, in two steps:

    %pip install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"   # the course alone, seconds
    from svd_learn.install import install_requirements
    install_requirements()            # lesson 3: install_requirements("hub") adds uv (olah gets its own environment)

`install_requirements` asks pip for the course's dependencies with the installed torch family held as a
constraint. pip then keeps every installed library that already satisfies the course (Colab's, on any image
from 2026-02-17 on) and adds only what is missing. If the course could only be satisfied with another
torch, pip stops before downloading anything and we say why: a CUDA torch is gigabytes, and Colab's own
torch is the one that matches its GPU driver. Afterwards we compare what is installed with what this Python
process has already imported: only when an imported library changed do we ask for a restart.

pip reads its usual settings, so a local wheel folder works as usual: PIP_FIND_LINKS=/path/to/wheels, and
PIP_NO_INDEX=1 to use nothing else (for example behind a proxy).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from svd_learn.errors import UserError

DISTRIBUTION = "svd-learn"
# Held at the installed version: torch and the packages built for one torch (and its CUDA libraries).
TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "torchcodec", "triton")
TORCH_FAMILY_PREFIXES = ("nvidia-",)


class InstallError(UserError, RuntimeError):
    """The course's libraries cannot be installed here without replacing torch, or pip failed."""


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def installed_versions() -> dict[str, str]:
    """Every installed distribution, by normalized name, with its version."""
    versions = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            versions.setdefault(_normalize(name), distribution.version)
    return versions


def requirements(*extras: str, declared: list[str] | None = None, known_extras: set[str] | None = None) -> list[str]:
    """The course's requirements (pyproject's dependencies) plus those of `extras`, as plain pip specs.

    `declared` and `known_extras` default to the installed svd-learn's metadata.
    """
    from packaging.requirements import Requirement  # (this module runs before the course's dependencies are in)

    if declared is None:
        try:
            declared = metadata.requires(DISTRIBUTION) or []
        except metadata.PackageNotFoundError:
            raise InstallError(
                f"{DISTRIBUTION} is not installed: run the first line of the setup cell first."
            ) from None
        known_extras = set(metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or [])
    unknown = set(extras) - set(known_extras or ())
    if unknown:
        raise InstallError(
            f"{DISTRIBUTION} has no extra {', '.join(sorted(unknown))}. Choose from: {', '.join(sorted(known_extras))}."
        )
    chosen = []
    for text in declared:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
            requirement.marker = None
            chosen.append(str(requirement))
    return chosen


def held_torch_family(versions: dict[str, str]) -> list[str]:
    """Constraints that keep the installed torch family exactly as it is (`torch==2.10.0+cu128`, ...)."""
    return [
        f"{name}=={version}"
        for name, version in sorted(versions.items())
        if name in TORCH_FAMILY or name.startswith(TORCH_FAMILY_PREFIXES)
    ]


def changed_distributions(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Distributions that were installed before and now have another version: name -> (old, new)."""
    return {name: (before[name], after[name]) for name in before if name in after and after[name] != before[name]}


def imported_among(names: list[str], modules: dict | None = None) -> list[str]:
    """Which of these distributions have a top-level module already imported in this process."""
    modules = sys.modules if modules is None else modules
    imported = []
    for module, distributions in metadata.packages_distributions().items():
        if module in modules and any(_normalize(d) in names for d in distributions):
            imported += [_normalize(d) for d in distributions if _normalize(d) in names]
    return sorted(set(imported))


def _pip_install(specs: list[str], constraints: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as folder:
        constraints_file = Path(folder, "held.txt")
        constraints_file.write_text("\n".join(constraints) + "\n")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--constraint", str(constraints_file), *specs]
        return subprocess.run(command, capture_output=True, text=True)


def _explain_failure(output: str, held: list[str]) -> str:
    torch = next((pin for pin in held if pin.startswith("torch==")), "no torch")
    lines = [line for line in output.splitlines() if line.strip() and "is ignored" not in line]
    if "ResolutionImpossible" in output or "conflict" in output.lower():
        return (
            f"The course's libraries cannot be installed next to this torch ({torch}) without replacing it, "
            "so nothing was installed. Choose the latest runtime version (Colab: Runtime > Change runtime type) "
            "and run this cell again.\npip said:\n" + "\n".join(lines[-12:])
        )
    return (
        "pip could not install the course's libraries. Check the network, then run this cell again.\npip said:\n"
        + "\n".join(lines[-12:])
    )


def install_requirements(*extras: str, echo=print) -> dict[str, tuple[str | None, str]]:
    """Install what the course needs (and `extras`, e.g. "hub"), keeping the installed torch; see the module doc.

    Returns what changed: name -> (old version or None when new, new version). Raises InstallError when
    the course cannot be installed without another torch, or when a library that this process has already
    imported changed version (then restart the runtime and run the cell again).
    """
    before = installed_versions()
    held = held_torch_family(before)
    done = _pip_install(requirements(*extras), held)
    if done.returncode != 0:
        raise InstallError(_explain_failure(done.stdout + done.stderr, held))
    after = installed_versions()
    changed = changed_distributions(before, after)
    added = {name: (None, version) for name, version in after.items() if name not in before}
    if added:
        echo(
            f"installed {len(added)} packages: "
            + ", ".join(f"{name} {new}" for name, (_, new) in sorted(added.items()))
        )
    if not changed:
        torch = f" (torch {before['torch']} kept)" if "torch" in before else ""
        echo(f"nothing that was installed before changed{torch}")
        return added
    echo("upgraded: " + ", ".join(f"{name} {old} -> {new}" for name, (old, new) in sorted(changed.items())))
    stale = imported_among(list(changed))
    if stale:
        raise InstallError(
            f"{', '.join(stale)} changed, but this runtime had already imported the old version. "
            "Restart the runtime (Colab: Runtime > Restart session) and run this cell again: it will install nothing then."
        )
    return {**added, **changed}
