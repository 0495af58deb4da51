"""The machine a lesson runs on, and where its weights come from.

Every lesson starts with `print_header()`: one probe of the environment (Colab or not, GPU, VRAM,
compute capability, host RAM, library versions) and one choice of model source:

- tiny:       tiny random weights, the real classes (default without a CUDA GPU; seconds on a CPU);
- random:     the full-size SVD architecture with random fp16 weights, built locally (GPU checks, no download);
- pretrained: the real weights from the Hub (default with a CUDA GPU, e.g. on Colab).

Set the environment variable SVD_LEARN_SOURCE to one of these to override the choice. Nothing else in a
lesson depends on the source.

torch, psutil and packaging are imported inside the functions that use them: torch takes seconds (and the command
line reads this module before anything may start CUDA), and `check_requirements` must say what is missing in an
environment that lacks the others.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from svd_learn.language import Localized, joined

SOURCE_VARIABLE = "SVD_LEARN_SOURCE"
SOURCES = {
    "tiny": Localized(
        "tiny random weights, real classes (outputs are noise; shapes, memory flow and timing structure are real)"
    ),
    "random": Localized("full-size SVD architecture, random fp16 weights (real memory and speed; outputs are noise)"),
    "pretrained": Localized("the real weights from the Hugging Face Hub"),
}
# The libraries whose versions decide whether SVD runs (lesson 3 explains each one).
LIBRARIES = ("torch", "diffusers", "transformers", "accelerate", "huggingface_hub", "numpy")
GIB = 2**30


def course_home() -> Path:
    """Where the course keeps what it builds and caches (tiny weights, local Hub repos, the lab's environments):
    $SVD_LEARN_HOME, else ~/.cache/svd-learn."""
    return Path(os.environ.get("SVD_LEARN_HOME", Path.home() / ".cache" / "svd-learn"))


def installed_version(distribution: str) -> str | None:
    """The version pip installed, or None. (Not the imported module's: lesson 3 shows why they can differ.)"""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


@dataclass
class Environment:
    """What the course needs to know about a machine before it loads SVD."""

    python: str
    platform: str
    in_colab: bool
    host_ram_gib: float
    cuda_available: bool
    gpu_name: str | None = None
    vram_gib: float | None = None
    compute_capability: tuple[int, int] | None = None
    cuda_version: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)

    @property
    def supports_bf16(self) -> bool:
        """bf16 needs compute capability 8.0 (Ampere) or newer; a T4 is 7.5."""
        return self.compute_capability is not None and self.compute_capability >= (8, 0)

    def to_dict(self) -> dict:
        """As JSON stores it (a run report read back must equal this): lists, not tuples."""
        data = asdict(self)
        if self.compute_capability is not None:
            data["compute_capability"] = list(self.compute_capability)
        return data


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def probe() -> Environment:
    """Look at this machine once: no downloads, no GPU memory allocated. Reading the GPU's properties starts CUDA:
    set the allocator first (memory.enable_expandable_segments)."""
    import psutil
    import torch

    env = Environment(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        in_colab=in_colab(),
        host_ram_gib=round(psutil.virtual_memory().total / GIB, 1),
        cuda_available=torch.cuda.is_available(),
        versions={name: installed_version(name) for name in LIBRARIES},
    )
    if env.cuda_available:
        props = torch.cuda.get_device_properties(0)
        env.gpu_name = props.name
        env.vram_gib = round(props.total_memory / GIB, 2)
        env.compute_capability = (props.major, props.minor)
        env.cuda_version = torch.version.cuda
    return env


def check_source(name: str, given_as: str) -> str:
    """`name` if it is a model source (the one check of source names), else a ValueError that lists them."""
    if name not in SOURCES:
        raise ValueError(
            Localized(
                "{given_as} is not a model source. Use one of: {sources}.",
                given_as=given_as,
                sources=", ".join(SOURCES),
            )
        )
    return name


@dataclass(frozen=True)
class SourceChoice:
    name: str  # one of SOURCES
    reason: str


def choose_source(env: Environment | None = None) -> SourceChoice:
    """The model source: $SVD_LEARN_SOURCE if set, else pretrained with a CUDA GPU, else tiny.

    Without `env` it asks only `torch.cuda.is_available()`, which does not start CUDA (a probe does): the
    allocator setting that `svd-learn` makes first must still be read when CUDA starts."""
    requested = os.environ.get(SOURCE_VARIABLE, "").strip().lower()
    if requested:
        given = f"{SOURCE_VARIABLE}={requested}"
        return SourceChoice(check_source(requested, given), Localized("set by {variable}", variable=SOURCE_VARIABLE))
    if env.cuda_available if env is not None else _cuda_available():
        return SourceChoice(
            "pretrained",
            Localized("a CUDA GPU is present; set {variable}=tiny or random to change", variable=SOURCE_VARIABLE),
        )
    return SourceChoice(
        "tiny", Localized("no CUDA GPU; set {variable}=pretrained or random to change", variable=SOURCE_VARIABLE)
    )


def header(env: Environment, choice: SourceChoice) -> str:
    """The lines printed at the top of every lesson (and by `svd-learn env`), in the learner's language."""
    if env.cuda_available:
        major, minor = env.compute_capability
        machine = Localized(
            "GPU {gpu}, {vram:.1f} GiB VRAM, compute capability {major}.{minor}",
            gpu=env.gpu_name,
            vram=env.vram_gib,
            major=major,
            minor=minor,
        )
    else:
        machine = Localized("no CUDA GPU")
    colab = "Colab" if env.in_colab else Localized("not Colab")
    missing = Localized("missing")
    versions = ", ".join(f"{name} {version or missing}" for name, version in env.versions.items())
    return str(
        Localized(
            "model source: {source} ({reason})\nmachine: {machine}; host RAM {ram:.1f} GiB; {colab}\nversions: "
            "Python {python}, {versions}",
            source=choice.name,
            reason=choice.reason,
            machine=machine,
            ram=env.host_ram_gib,
            colab=colab,
            python=env.python,
            versions=versions,
        )
    )


def print_header() -> SourceChoice:
    """Probe, choose the source, print both, and return the choice for the lesson to use."""
    env = probe()
    choice = choose_source(env)
    print(header(env, choice))
    return choice


DRIVE_HF_HOME = "/content/drive/MyDrive/huggingface"  # where keep_hub_cache_on_drive() puts the Hub cache


def keep_hub_cache_on_drive(keep: bool, folder: str = DRIVE_HF_HOME) -> str:
    """On Colab, with `keep`: mount Google Drive and set HF_HOME to `folder` on it, so the weights downloaded
    in one notebook are found by the next one (each Colab runtime starts with an empty disk). Outside Colab,
    or without `keep`, nothing changes. Returns one line saying where the Hub cache is."""
    if keep and in_colab():
        if "huggingface_hub" in sys.modules:  # it reads HF_HOME once, when it is imported
            raise RuntimeError(
                Localized(
                    "huggingface_hub is already imported, so it would not see the new HF_HOME. Restart the session "
                    "(Runtime > Restart session) and run this cell right after the setup cell."
                )
            )
        from google.colab import drive

        drive.mount("/content/drive")
        os.makedirs(folder, exist_ok=True)
        os.environ["HF_HOME"] = folder
    elif keep:
        return str(
            Localized(
                "Not on Colab: the Hub cache stays where it is ({folder}).",
                folder=os.environ.get("HF_HOME", "~/.cache/huggingface"),
            )
        )
    default = Localized("~/.cache/huggingface (the default)")
    return str(Localized("Hub cache: {folder}", folder=os.environ.get("HF_HOME", default)))


def loaded_version(module_name: str) -> str | None:
    """The version of a module already imported in this process (None if not imported)."""
    module = sys.modules.get(module_name)
    return getattr(module, "__version__", None) if module else None


@dataclass(frozen=True)
class RequirementProblem:
    """One thing wrong with an installed library. `kind`: "missing", "out_of_range" or "stale" (the version
    loaded in this process differs from the installed one: restart needed). `str()` is the sentence to show."""

    kind: str
    name: str
    requirement: str
    installed: str | None = None
    loaded: str | None = None

    def __str__(self) -> str:
        return str(self.sentence())

    def sentence(self) -> Localized:
        """What is wrong and what to do (in English as files record it; str() is the learner's language)."""
        if self.kind == "missing":
            return Localized(
                "{name} is not installed; the course needs {requirement}. Run: pip install '{requirement}'",
                name=self.name,
                requirement=self.requirement,
            )
        if self.kind == "out_of_range":
            return Localized(
                "{name} {installed} is installed; the course needs {requirement}. Run: pip install '{requirement}'",
                name=self.name,
                installed=self.installed,
                requirement=self.requirement,
            )
        return Localized(
            "{name} {loaded} is loaded in this process but {installed} is installed: restart the runtime (Colab: "
            "Runtime > Restart session) so Python imports the new version.",
            name=self.name,
            loaded=self.loaded,
            installed=self.installed,
        )


def requirement_problems() -> list[RequirementProblem]:
    """What is wrong with the installed libraries (`str(problem)` says what to do).

    Two kinds: a library outside the range the course declares (pyproject's dependencies), and a library
    whose installed version differs from the one already imported in this process: after a `pip install`
    in a running notebook the old module stays loaded until the runtime restarts.
    """
    from packaging.requirements import Requirement

    try:
        requirements = [Requirement(r) for r in metadata.requires("svd-learn") or []]
    except metadata.PackageNotFoundError:
        return []  # running from a source checkout that was not installed: nothing declared to check
    problems = []
    for requirement in requirements:
        if requirement.marker is not None:  # extras (test tools) are not needed to follow a lesson
            continue
        installed = installed_version(requirement.name)
        if installed is None:
            problems.append(RequirementProblem("missing", requirement.name, str(requirement)))
        elif not requirement.specifier.contains(installed, prereleases=True):
            problems.append(RequirementProblem("out_of_range", requirement.name, str(requirement), installed))
        module_name = requirement.name.replace("-", "_").lower()
        loaded = loaded_version(module_name)
        if installed and loaded and loaded.split("+")[0] != installed.split("+")[0]:
            problems.append(RequirementProblem("stale", requirement.name, str(requirement), installed, loaded))
    return problems


def cpu_threads() -> tuple[int, str]:
    """How many threads torch should use on the CPU now, and why: the cores that other processes leave free.

    torch starts one thread per core. On a busy machine its threads wait for each other while other processes
    hold the cores. Measured (tiny SVD-XT, 25 frames, 10 steps, 2 cores, load average 4.5 to 6.3 from other
    processes): 4.4 to 16 s with 1 thread, 16 to 58 s with torch's 2. So: the cores minus the 1-minute load
    average, rounded, at least 1 (on a quiet machine, every core). OMP_NUM_THREADS wins if set.
    """
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads(), "set by OMP_NUM_THREADS"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not hasattr(os, "getloadavg"):  # Windows: no load average to read
        return cores, f"{cores} cores"
    load = os.getloadavg()[0]
    free = max(1, min(cores, int(cores - load + 0.5)))
    return free, f"{cores} cores, load average {load:.1f}: {free} left for this run"


def check_requirements() -> None:
    """Raise a short, actionable error if the installed libraries cannot run the course."""
    problems = requirement_problems()
    if problems:
        raise RuntimeError(
            Localized(
                "The environment needs fixing before this lesson can run:\n- {problems}",
                problems=joined([problem.sentence() for problem in problems], "\n- "),
            )
        )


def lesson_test_environment(home: str) -> dict[str, str]:
    """The environment variables under which lessons are executed and tested (stored outputs must be stable):
    tiny weights, no progress bars (their timings differ every run), a private Hub cache, no telemetry."""
    return {
        SOURCE_VARIABLE: "tiny",
        # English, whatever this machine's locale: the stored outputs are English (the Spanish lessons set "es").
        "SVD_LEARN_LANG": "en",
        "SVD_LEARN_HOME": f"{home}/svd-learn",
        "HF_HOME": f"{home}/hf-home",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "TQDM_DISABLE": "1",
        # transformers' warnings depend on what else is installed (torchvision...) and appear once per
        # process, wherever the first import happens: not a lesson's claim, and not stable text.
        "TRANSFORMERS_VERBOSITY": "error",
        # tqdm warns once per kernel that ipywidgets is missing, in whichever cell first imports it; diffusers 0.36
        # warns at import, on a machine without CUDA, about an autocast decorator of a model no lesson uses.
        # diffusers >= 0.40 warns on `torch_dtype=` (the lessons pass it on purpose: Colab's 0.39 knows no other name;
        # Lesson 1 shows that warning with warnings.catch_warnings, which this filter does not touch).
        "PYTHONWARNINGS": "ignore:IProgress not found,ignore:CUDA is not available or torch_xla is imported,"
        "ignore:`torch_dtype` is deprecated",
        "PYTHONHASHSEED": "0",
    }
