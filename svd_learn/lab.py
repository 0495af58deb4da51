"""Reproduce a known version error on purpose, in a throwaway environment (lesson 3, part B).

A reproduction (one entry of data/reproductions.toml) names the pinned versions that break, a line of
Python that fails with them, and the pinned versions that fix it. `run_reproduction(id)`:

1. creates a fresh virtual environment and installs the broken pins from the package registry,
2. runs the failing line there and captures the error text,
3. diagnoses that text with `compat.diagnose` (the same code as `svd-learn explain`),
4. creates a second environment with the fixed pins and shows that the same line now runs cleanly.

Nothing touches the environment you run it from. The installer is uv when it is available (seconds; it
comes with the course's hub extra, `pip install 'svd-learn[hub]'`), else `python -m venv` + pip (what Colab
always has: it works, only slower). Downloads are cached in one folder, so the second run of a reproduction
installs from the cache.

Behind a proxy, or offline, install from a folder of wheels instead of the registry: pip's own settings
PIP_FIND_LINKS=DIR (also searched) and PIP_NO_INDEX=1 (nothing else) are honoured, by uv too, and
`svd-learn lab run ID --find-links DIR [--no-index]` does the same for one run.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from svd_learn import compat
from svd_learn.environment import course_home, installed_version
from svd_learn.errors import UserError
from svd_learn.explain import format_diagnosis
from svd_learn.language import Localized, joined, localized

# What an installer prints when it cannot reach the package index (uv first, then pip).
UNREACHABLE_SIGNS = (
    "Failed to fetch",
    "error sending request",
    "tcp connect error",
    "dns error",
    "Could not fetch URL",
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
)


# Every environment is built at this one path, the broken one, then the fixed one: compiled bytecode cached for
# a file at that path stays valid (same path, same hard-linked file), so torch compiles once, not once per run.
ENV_NAME = "env"


class LabError(UserError, RuntimeError):
    """A reproduction could not run (unknown id, installer missing, registry unreachable, install failed)."""


@dataclass(frozen=True)
class Reproduction:
    """One entry of data/reproductions.toml."""

    id: str  # the id of the known error it reproduces (data/known_errors.toml)
    summary: str
    broken: tuple[tuple[str, ...], ...]  # install steps, in order; a later step may upgrade past an earlier one's caps
    fixed: tuple[tuple[str, ...], ...]  # empty: the fix is in the code, `fixed_code` runs in the broken environment
    code: str  # the Python that fails in the broken environment
    fixed_code: str  # the Python that runs cleanly in the fixed environment (usually `code`)
    needs_torch: bool = False  # installs the same torch as this environment (from a local wheel if there is one)
    env: dict[str, str] = field(default_factory=dict)  # environment variables for both runs
    python: str = ""  # the Python versions the pinned wheels exist for (a specifier; empty: any)
    also_diagnosed_as: tuple[str, ...] = ()  # deeper causes the text may show instead (a CPU torch here)


@dataclass
class LabResult:
    entry_id: str
    broken_pins: list[str]
    fixed_pins: list[str]
    reproduced: bool  # the failing line failed in the broken environment and the diagnosis names this error
    error_text: str  # what the failing line printed in the broken environment (the traceback)
    diagnoses: list[compat.Diagnosis]
    fixed_ok: bool  # the same line ran cleanly (exit 0, no known error in its output) in the fixed environment
    fixed_output: str
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall-clock seconds

    @property
    def diagnosed_ids(self) -> list[str]:
        return [d.id for d in self.diagnoses]


def _read_reproductions() -> dict[str, Reproduction]:
    data = tomllib.loads(resources.files("svd_learn").joinpath("data/reproductions.toml").read_text(encoding="utf-8"))
    entries = {}
    for raw in data["reproduction"]:
        entries[raw["id"]] = Reproduction(
            id=raw["id"],
            summary=localized(raw, "summary"),
            broken=tuple(tuple(step) for step in raw["broken"]),
            fixed=tuple(tuple(step) for step in raw.get("fixed", [])),
            code=raw["code"],
            fixed_code=raw.get("fixed_code", raw["code"]),
            needs_torch=raw.get("needs_torch", False),
            env=raw.get("env", {}),
            python=raw.get("python", ""),
            also_diagnosed_as=tuple(raw.get("also_diagnosed_as", ())),
        )
    return entries


REPRODUCTIONS: dict[str, Reproduction] = _read_reproductions()


def list_reproductions() -> list[Reproduction]:
    return list(REPRODUCTIONS.values())


def _folded(name: str) -> str:
    """An id as people type it: HfFolder, FLAX_WEIGHTS_NAME and hf-folder all fold to the id's letters."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_reproduction(entry_id: str) -> Reproduction:
    """The reproduction with this id, matched case-insensitively and without `_` or `-` (`HfFolder` is
    `hf_folder`); an unknown id is refused with the closest ids."""
    if entry_id in REPRODUCTIONS:
        return REPRODUCTIONS[entry_id]
    folded = {_folded(known): known for known in REPRODUCTIONS}
    if _folded(entry_id) in folded:
        return REPRODUCTIONS[folded[_folded(entry_id)]]
    close = difflib.get_close_matches(_folded(entry_id), list(folded), n=3, cutoff=0.6)
    if close:
        ids = joined([folded[c] for c in close], Localized(" or "))
        raise LabError(Localized("No reproduction {id!r}. Did you mean {ids}?", id=entry_id, ids=ids))
    raise LabError(
        Localized(
            "No reproduction {id!r}. Choose one of: {ids} (svd-learn lab list).",
            id=entry_id,
            ids=", ".join(REPRODUCTIONS),
        )
    )


def runs_on_this_python(reproduction: Reproduction) -> bool:
    import platform

    from packaging.specifiers import SpecifierSet

    return not reproduction.python or SpecifierSet(reproduction.python).contains(platform.python_version())


def lab_home() -> Path:
    """Where the lab keeps its download cache and throwaway environments: the course's home, folder lab."""
    return course_home() / "lab"


def find_uv() -> str | None:
    """uv on PATH or next to this Python (a venv's bin/), else None (then venv + pip are used)."""
    beside_python = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside_python) if beside_python.exists() else None)


def index_url(uv: bool = True) -> tuple[str, str]:
    """The package index the installer will ask, and where that setting comes from."""
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL") if uv else ("PIP_INDEX_URL",):
        if os.environ.get(variable):
            return os.environ[variable], f"${variable}"
    return "https://pypi.org/simple", "the default"


def registry_reachable(url: str, timeout: float = 10) -> bool:
    """True when the index answers at all (any HTTP status); False when it cannot be reached."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url.rstrip("/") + "/pip/", timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # it answered
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


def _find_links() -> list[str]:
    """Local wheel folders the user already configured: pip's PIP_FIND_LINKS (separated by spaces) and uv's
    UV_FIND_LINKS (separated by commas), passed on to whichever installer runs."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split() + os.environ.get("UV_FIND_LINKS", "").split(",")
    return list(dict.fromkeys(folder.strip() for folder in folders if folder.strip()))


def _no_index() -> bool:
    """pip's PIP_NO_INDEX (or uv's UV_NO_INDEX) is set to a true value: install only from the wheel folders."""
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in ("PIP_NO_INDEX", "UV_NO_INDEX")
    )


# Measured with warm download caches on 2 busy CPU cores (2026-12-01, the cached_download reproduction:
# diffusers + huggingface_hub and their dependencies): uv 1.2 s and 3.2 s, venv + pip 21 s and 33 s.
UV_SAVES = "each environment takes 1 to 3 s with uv, 20 to 35 s with venv + pip"


class Installer:
    """Creates a virtual environment and installs pins into it, with uv or with venv + pip.

    `find_links`: folders of wheels searched too (added to PIP_FIND_LINKS); `no_index`: nothing but those
    folders (as PIP_NO_INDEX=1 does), for machines behind a proxy or offline. `cache_dir=None`: the
    installer's own download cache (uv's or pip's usual one, UV_CACHE_DIR and PIP_CACHE_DIR honoured).
    """

    def __init__(
        self, cache_dir: Path | None, use_uv: bool | None = None, find_links: list[str] = (), no_index: bool = False
    ):
        uv = find_uv()
        if use_uv and uv is None:
            raise LabError(
                "uv is not installed: pip install 'svd-learn[hub]' (or pip install uv), or run without it (venv + pip, slower)."
            )
        self.uv = uv if use_uv in (None, True) else None
        self.cache_dir = cache_dir
        self.name = "uv" if self.uv else "venv + pip"
        self.given_links = [str(Path(folder).expanduser().resolve()) for folder in find_links]
        self.find_links = self.given_links + _find_links()
        self.no_index = no_index or _no_index()
        for folder in self.find_links:
            if not Path(folder).is_dir():
                raise LabError(
                    Localized(
                        "The wheel folder {folder} does not exist. Check the path given to --find-links, PIP_FIND_LINKS "
                        "or UV_FIND_LINKS.",
                        folder=folder,
                    )
                )
        if self.no_index and not self.find_links:
            raise LabError(
                Localized(
                    "No package index (--no-index or PIP_NO_INDEX) and no wheel folder: give one with --find-links DIR."
                )
            )

    def note(self) -> str:
        """A line for the start of a run when it matters: wheel folders given, or no uv (and what uv would save)."""
        notes = []
        if self.given_links or self.no_index:
            notes.append(
                f"wheels from {' '.join(self.find_links)}"
                + (" only (no index)" if self.no_index else " and the registry")
            )
        if not self.uv:
            notes.append(f"venv + pip: uv would save time ({UV_SAVES}); pip install 'svd-learn[hub]' adds uv")
        return "; ".join(notes)

    def create(self, path: Path) -> Path:
        shutil.rmtree(path, ignore_errors=True)
        if self.uv:
            self._run([self.uv, "venv", "--quiet", "--python", sys.executable, str(path)])
        else:
            self._run([sys.executable, "-m", "venv", str(path)])
        return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def install_command(self, python: Path) -> list[str]:
        """The command that installs into the environment of `python` (pins follow)."""
        links = [arg for folder in self.find_links for arg in ("--find-links", folder)]
        links += ["--no-index"] if self.no_index else []
        if self.uv:
            cache = ["--cache-dir", str(self.cache_dir / "uv")] if self.cache_dir else []
            return [self.uv, "pip", "install", "--quiet", "--python", str(python), *cache] + links
        cache = ["--cache-dir", str(self.cache_dir / "pip")] if self.cache_dir else []
        return [str(python), "-m", "pip", "install", "--quiet", *cache] + links

    def install(self, python: Path, pins: list[str]) -> None:
        self._run(self.install_command(python) + pins, installing=pins)

    def _run(self, command: list[str], installing: list[str] | None = None) -> None:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            return
        output = (done.stdout + done.stderr).strip()
        if installing and self.no_index:
            raise LabError(
                f"The wheel folders ({' '.join(self.find_links)}) do not hold {' '.join(installing)} and all they "
                f"need (no package index is used). Add the missing wheels (pip download PIN -d DIR, on a machine that "
                f"can reach the registry), or drop --no-index.\n{self.name} said: {output.splitlines()[-1] if output else '(nothing)'}"
            )
        url, origin = index_url(uv=bool(self.uv))
        # uv says why it failed; pip with a local extra index may only say "no matching distribution": ask the index
        if installing and (
            any(sign.lower() in output.lower() for sign in UNREACHABLE_SIGNS) or not registry_reachable(url)
        ):
            raise LabError(
                f"Cannot reach the package registry {url} (the index set by {origin}): the lab downloads the pinned "
                f"versions ({' '.join(installing)}) from it. Check the network (on Colab: is the runtime connected?) "
                f"and retry.\n{self.name} said: {output.splitlines()[-1] if output else '(nothing)'}"
            )
        what = f"install {' '.join(installing)}" if installing else "create a virtual environment"
        raise LabError(f"{self.name} could not {what}:\n{output}")


def _with_torch(pins: list[str], echo, find_links: list[str] | None = None) -> list[str]:
    """Add this environment's torch (and numpy), pinned, so the throwaway one does not resolve another build.

    With a local wheel of that torch in PIP_FIND_LINKS the install takes seconds. Without one, the same
    public version comes from the registry: a download of about 1 GB (several GB with CUDA), once.
    """
    find_links = _find_links() if find_links is None else find_links
    torch, numpy = installed_version("torch"), installed_version("numpy")
    if torch is None:
        raise LabError(
            Localized("This reproduction needs torch, and torch is not installed here. Install torch first.")
        )
    local_wheel = any(
        Path(folder, name).is_file()
        for folder in find_links
        if Path(folder).is_dir()
        for name in os.listdir(folder)
        if name.startswith(f"torch-{torch}-")
    )
    if not local_wheel:
        torch = torch.split("+")[0]  # the registry has no local builds such as +cu128: take the public one
        echo(
            Localized(
                "    (no local torch wheel: torch {version} is downloaded from the registry once, then cached; this "
                "takes minutes)",
                version=torch,
            )
        )
    numpy_pin = [f"numpy=={numpy}"] if numpy and not any(p.startswith("numpy") for p in pins) else []
    return pins + [f"torch=={torch}"] + numpy_pin


def _run_code(python: Path, code: str, installer: Installer, extra_env: dict[str, str]) -> tuple[int, str]:
    environment = {
        **os.environ,
        "PYTHONWARNINGS": "default",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        **extra_env,
    }
    environment["SVD_LEARN_LAB_INSTALL"] = json.dumps(
        installer.install_command(python)
    )  # for code that installs (stale_module)
    environment.pop("PYTHONPATH", None)  # only what was installed into the throwaway environment
    # Compiled bytecode is kept between runs (torch alone takes ~10 s to compile on 2 cores). It stays valid
    # because the environments always live at the same path and uv hard-links files from its cache.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = str(installer.cache_dir / "pycache")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=environment, cwd=python.parent)
    return done.returncode, (done.stdout + done.stderr).strip()


def _build(
    installer: Installer, path: Path, steps: tuple[tuple[str, ...], ...], needs_torch: bool, echo
) -> tuple[Path, list[str]]:
    python = installer.create(path)
    pins = []
    for number, step in enumerate(steps):
        step_pins = list(step)
        if needs_torch and number == 0:
            step_pins = _with_torch(step_pins, echo, installer.find_links)
        echo(f"    {installer.name} install {' '.join(step_pins)}")
        installer.install(python, step_pins)
        pins += step_pins
    return python, pins


def run_reproduction(
    entry_id: str,
    *,
    workdir: str | Path | None = None,
    use_uv: bool | None = None,
    keep: bool = False,
    echo=print,
    find_links: list[str] = (),
    no_index: bool = False,
) -> LabResult:
    """Reproduce a known error for real, diagnose it, and check the fix (see the module docstring).

    Progress is printed with `echo` as it goes. `use_uv`: None picks uv when it is installed, False forces
    venv + pip. `find_links` and `no_index`: install from these wheel folders too, or only from them (see
    Installer). The throwaway environments are deleted afterwards unless
    `keep` (then the last one stays in workdir/envs/env until the next run). Raises LabError with a clear message when the reproduction cannot run.
    """
    reproduction = get_reproduction(entry_id)
    if not runs_on_this_python(reproduction):
        import platform

        raise LabError(
            Localized(
                "{id} needs Python {python}: its pinned wheels do not exist for Python {here}, so this error cannot "
                "happen here either.",
                id=reproduction.id,
                python=reproduction.python,
                here=platform.python_version(),
            )
        )
    home = Path(workdir) if workdir is not None else lab_home()
    installer = Installer(cache_dir=home / "cache", use_uv=use_uv, find_links=find_links, no_index=no_index)
    envs = home / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    with _lab_lock(home):  # one reproduction at a time per lab folder: they all use envs/env
        return _run_locked(reproduction, installer, envs, keep, echo)


@contextlib.contextmanager
def _lab_lock(home: Path):
    import fcntl

    with open(home / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _diagnose_captured(reproduction: Reproduction, error_text: str, echo) -> tuple[list[compat.Diagnosis], bool]:
    """Step 3: the diagnosis of the captured text, and whether it names the reproduced error."""
    echo(Localized("[3/4] diagnose the captured text (svd-learn explain)"))
    diagnoses = compat.diagnose(error_text)
    reproduced = bool({reproduction.id, *reproduction.also_diagnosed_as} & {d.id for d in diagnoses})
    for diagnosis in diagnoses:
        echo("    " + format_diagnosis(diagnosis, show_installed=False).replace("\n", "\n    "))
    if not reproduced:
        echo(Localized("    NOT REPRODUCED: the output does not show the known error {id!r}.", id=reproduction.id))
    return diagnoses, reproduced


def _run_fixed(reproduction: Reproduction, installer: Installer, envs: Path, broken: tuple, echo):
    """Step 4: the fixed environment (fresh, with the fixed pins; or the broken one when the fix is in the code)
    running the fixed code. Returns its pins, whether it runs cleanly, and its output."""
    if reproduction.fixed:
        echo(Localized("[4/4] fixed environment: a fresh virtual environment with the fixed pins"))
        fixed_python, fixed_pins = _build(
            installer, envs / ENV_NAME, reproduction.fixed, reproduction.needs_torch, echo
        )
    else:
        echo(Localized("[4/4] the fix is in the code: the same environment, the corrected code"))
        fixed_python, fixed_pins = broken
    if reproduction.fixed_code != reproduction.code:
        echo("    python -c '...'\n    " + reproduction.fixed_code.strip().replace("\n", "\n    "))
    fixed_status, fixed_output = _run_code(fixed_python, reproduction.fixed_code, installer, reproduction.env)
    fixed_ok = fixed_status == 0 and not compat.diagnose(fixed_output)
    if fixed_output:
        echo("    " + "\n    ".join(fixed_output.splitlines()[-4:]))
    outcome = Localized("runs cleanly") if fixed_ok else Localized("STILL FAILS")
    echo(Localized("    {outcome} (exit status {status})", outcome=outcome, status=fixed_status))
    return fixed_pins, fixed_ok, fixed_output


def _run_locked(reproduction: Reproduction, installer: Installer, envs: Path, keep: bool, echo) -> LabResult:
    entry_id = reproduction.id
    seconds = {}
    echo(f"[lab] {reproduction.id}: {reproduction.summary}")
    if installer.note():
        echo(Localized("      installer: {note}", note=installer.note()))
    try:
        start = time.perf_counter()
        echo(Localized("[1/4] broken environment: a fresh virtual environment with the pinned versions"))
        broken_python, broken_pins = _build(
            installer, envs / ENV_NAME, reproduction.broken, reproduction.needs_torch, echo
        )
        seconds["broken install"] = time.perf_counter() - start

        start = time.perf_counter()
        code = reproduction.code.strip().replace("\n", "\n    ")
        echo(Localized("[2/4] run in the broken environment: python -c '...'\n    {code}", code=code))
        returncode, error_text = _run_code(broken_python, reproduction.code, installer, reproduction.env)
        seconds["broken run"] = time.perf_counter() - start
        echo(Localized("    output (last lines):"))
        last_lines = "\n    ".join(error_text.splitlines()[-8:]) if error_text else Localized("(no output)")
        echo(f"    {last_lines}")
        echo(Localized("    exit status {status}", status=returncode))

        diagnoses, reproduced = _diagnose_captured(reproduction, error_text, echo)

        start = time.perf_counter()
        fixed_pins, fixed_ok, fixed_output = _run_fixed(
            reproduction, installer, envs, (broken_python, broken_pins), echo
        )
        seconds["fixed install and run"] = time.perf_counter() - start
    finally:
        if not keep:
            shutil.rmtree(envs / ENV_NAME, ignore_errors=True)
    return LabResult(
        entry_id=entry_id,
        broken_pins=broken_pins,
        fixed_pins=fixed_pins,
        reproduced=reproduced,
        error_text=error_text,
        diagnoses=diagnoses,
        fixed_ok=fixed_ok,
        fixed_output=fixed_output,
        seconds={step: round(value, 1) for step, value in seconds.items()},
    )


# --- the commands: svd-learn lab list / svd-learn lab run ID -------------------------------------------------


def print_list() -> None:
    for reproduction in list_reproductions():
        torch = Localized(" (installs torch)") if reproduction.needs_torch else ""
        python = Localized(" (Python {python} only)", python=reproduction.python) if reproduction.python else ""
        print(f"{reproduction.id:24} {reproduction.summary}{torch}{python}")


def run_command(entry_id: str, use_uv: bool | None = None, find_links: list[str] = (), no_index: bool = False) -> int:
    """`svd-learn lab run ID`: exit status 0 when the error was reproduced and diagnosed and the fix runs."""
    try:
        result = run_reproduction(entry_id, use_uv=use_uv, find_links=find_links, no_index=no_index)
    except LabError as error:
        print(f"svd-learn lab: {error}", file=sys.stderr)  # (the error in the learner's language)
        return 2
    timings = ", ".join(f"{step} {value:.1f} s" for step, value in result.seconds.items())
    yes, no = Localized("yes"), Localized("NO")
    print(
        Localized(
            "[lab] reproduced: {reproduced}; fixed environment runs cleanly: {fixed} ({timings})",
            reproduced=yes if result.reproduced else no,
            fixed=yes if result.fixed_ok else no,
            timings=timings,
        )
    )
    return 0 if result.reproduced and result.fixed_ok else 1
