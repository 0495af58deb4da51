"""Rehearse the lessons as a Colab T4 learner runs them, on a bigger GPU machine that has no internet.

A learner opens each lesson on Colab with a T4, where the default model source is `pretrained`. This script
runs the same notebooks the same way, with three stand-ins:
- the real repo ids are answered from a Hub cache filled with full-size random SVD weights, laid out exactly
  as a finished `from_pretrained(repo_id, variant="fp16")` download leaves them, with HF_HUB_OFFLINE=1;
- every Python process sees a T4 (install_emulation of benchmarks/colab_t4/t4_emulation.py, through its sitecustomize);
- the libraries are Colab's (the 2026-08-19 image: diffusers 0.39.0, huggingface_hub 1.27.0, accelerate 1.14.0,
  and gradio 6.24.0 for Lesson 5's app; transformers is the GPU machine's), carried as wheels; the lab's pinned
  wheels come from a local folder.

    # here, where the package registry is reachable: the wheels the GPU machine lacks, in bundles of <= 64 MiB
    python benchmarks/rehearse_colab.py wheels
    # on the GPU machine, for Lesson 3 only: a call that carries .rehearsal/lab alone copies it to /tmp, and one
    # that carries .rehearsal/hub alone does the same (the wheels of the local Hub's own environment)
    mkdir -p /tmp/svd-learn-rehearsal && cp -r .rehearsal/lab /tmp/svd-learn-rehearsal/lab-wheels
    mkdir -p /tmp/svd-learn-rehearsal && cp -r .rehearsal/hub /tmp/svd-learn-rehearsal/hub-wheels
    # likewise for any bundle that does not fit beside the others (Lesson 5's app: .rehearsal/app -> app-wheels)
    mkdir -p /tmp/svd-learn-rehearsal && cp -r .rehearsal/app /tmp/svd-learn-rehearsal/app-wheels
    # on the GPU machine, from the repository root (.rehearsal carried):
    python3 benchmarks/rehearse_colab.py run 01 02 --out $OUT/rows.json
    python3 benchmarks/rehearse_colab.py run es/01 es/02 --out $OUT/rows-es.json   # the Spanish twins
    # here again: merge the rows into benchmarks/results/colab-rehearsal.json
    python benchmarks/rehearse_colab.py merge /path/to/rows.json

`run` also runs the command line as a learner types it (`cli` rows): `svd-learn generate rocket.jpg -o plain.mp4`,
and again with `--compile`, each in a fresh process whose environment holds nothing the course sets (no
PYTORCH_CUDA_ALLOC_CONF, no SVD_LEARN_SOURCE): only the rehearsal's stand-ins (the emulated T4, Colab's libraries on
the path, the filled Hub cache, HF_HUB_OFFLINE). `run --cli-only` runs only those.

Each lesson runs top to bottom in a fresh kernel (nbclient, every failing cell collected). Its row holds the
failing cells, the wall time, the largest host peak (VmHWM) and CUDA peak reserved of the processes it
started, and the full-size UNet steps they ran. Rows carry the sha256 of the lesson's .py and of its code cells;
a row whose code differs from the lesson's code now shows as stale (a markdown edit runs nothing, so it does not).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
BUNDLES = ROOT / ".rehearsal"  # ignored by git (.git/info/exclude); carried to the GPU machine
RESULTS = ROOT / "benchmarks" / "results" / "colab-rehearsal.json"
WORK = Path("/tmp/svd-learn-rehearsal")
# Lesson 3 points HF_ENDPOINT at its own local Hub before huggingface_hub is imported: it never asks huggingface.co,
# and it must reach its local server, as it does on Colab. Every other lesson runs with HF_HUB_OFFLINE=1.
ASKS_ITS_OWN_HUB = {"03_hub_and_versions"}
LAB_WHEELS = WORK / "lab-wheels"  # the lab bundle, copied there by an earlier call (see the docstring)
HUB_WHEELS = WORK / "hub-wheels"  # the hub bundle, likewise

# Colab's libraries (its 2026-08-19 image), for the code under test. Colab's transformers 5.15.0 (11 MB) does not
# fit a call beside the video wheel: the GPU machine's own transformers (5.17) stands in for it.
COLAB_STACK = ["diffusers==0.39.0", "huggingface_hub==1.27.0", "accelerate==1.14.0"]
# What the lessons need beyond the GPU machine's image (KINDS.md lists that image's packages): the Jupyter
# kernel and nbclient, jupytext to read the .py sources, and ffmpeg for video. Lesson 3's local Hub runs olah from
# its own environment (svd_learn.hub.server_environment): the hub bundle holds all it needs, as a wheel folder.
KERNEL = ["ipykernel", "nbclient", "jupytext"]
VIDEO = ["imageio-ffmpeg==0.6.0"]  # Colab's version; 29.5 MB, so it travels in its own bundle
APP = ["gradio==6.24.0"]  # Lesson 5's app cell: Colab's gradio, with what it needs that the image lacks (about 35 MiB)
HUB = tomllib.loads((ROOT / "svd_learn" / "data" / "hub_server.toml").read_text())["requirements"]
# Packages the GPU machine's image already has (device/KINDS.md, 2026-11-17): not carried.
GPU_IMAGE_HAS = set(
    """absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs certifi
charset-normalizer click cloudpickle colorama contourpy cycler filelock fonttools frozenlist fsspec h11 hf-xet httpcore
httpx huggingface-hub idna imageio iniconfig jinja2 joblib kiwisolver markdown markdown-it-py markupsafe matplotlib mdurl
mpmath multidict networkx numpy packaging pandas pillow pip pluggy portalocker propcache protobuf psutil pygments pyparsing
python-dateutil pyyaml regex requests rich safetensors setuptools shellingham six sympy tokenizers torch tqdm
transformers triton typer typing-extensions typing-inspect urllib3 uvloop wheel zipp""".split()
)
PLATFORM = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp"] + [
    arg
    for tag in (
        "manylinux_2_28_x86_64",
        "manylinux_2_27_x86_64",
        "manylinux_2_17_x86_64",
        "manylinux2014_x86_64",
        "manylinux1_x86_64",
        "any",
    )
    for arg in ("--platform", tag)
]
BUNDLE_NAMES = ("kernel", "video", "app", "hub", "lab")


# ----------------------------------------------------------------------------------------------------
# Here: the wheels


def _download(folder: Path, requirements: list[str], deps: bool, constraints: list[str] = ()) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(folder), *PLATFORM]
    if constraints:  # held at these versions (a file beside the wheels, removed after)
        held = folder / "constraints.txt"
        folder.mkdir(parents=True, exist_ok=True)
        held.write_text("\n".join(constraints) + "\n")
        command += ["--constraint", str(held)]
    try:
        subprocess.run(command + ([] if deps else ["--no-deps"]) + requirements, check=True)
    finally:
        (folder / "constraints.txt").unlink(missing_ok=True)


def colab_versions() -> list[str]:
    """The 2026-08-19 image's pins (its pip freeze), without its URL installs and its torch family."""
    freeze = (ROOT / "tests" / "colab" / "pip-freeze.gpu.2026-08-19.txt").read_text().splitlines()
    family = re.compile(r"^(torch|torchvision|torchaudio|torchcodec|triton|nvidia-[\w-]+)==", re.IGNORECASE)
    return [line for line in freeze if "==" in line and " @ " not in line and not family.match(line)]


def _name(wheel: Path) -> str:
    return wheel.name.split("-")[0].lower().replace("_", "-")


def reproductions_the_lessons_run() -> list[str]:
    """The lab reproductions the lessons run (`lab.run_reproduction("id")`): their pins go into the lab bundle."""
    calls = re.compile(r"""run_reproduction\(\s*["']([\w-]+)["']""")
    return sorted(
        {entry_id for lesson in LESSONS.glob("[0-9][0-9]_*.py") for entry_id in calls.findall(lesson.read_text())}
    )


def _drop(bundle: Path, names: set[str]) -> None:
    for wheel in bundle.glob("*.whl"):
        if _name(wheel) in names:
            wheel.unlink()


def download_wheels(bundles: list[str]) -> None:
    """Fill .rehearsal/{kernel,video,app,hub,lab} (or the bundles named): each fits a GPU call's 64 MiB with the tree.
    The lab bundle (57 MiB) and the hub bundle travel alone: the call that carries one copies it to /tmp on the
    warm machine."""
    from svd_learn import lab

    pinned = {requirement.split("==")[0].lower().replace("_", "-") for requirement in COLAB_STACK}
    for bundle in bundles:
        shutil.rmtree(BUNDLES / bundle, ignore_errors=True)
    if "kernel" in bundles:
        # accelerate's dependencies include torch (gigabytes of CUDA wheels): it comes alone
        _download(BUNDLES / "kernel", [r for r in COLAB_STACK if not r.startswith("accelerate")] + KERNEL, deps=True)
        _download(BUNDLES / "kernel", [r for r in COLAB_STACK if r.startswith("accelerate")], deps=False)
        _drop(BUNDLES / "kernel", GPU_IMAGE_HAS - pinned)
    if "video" in bundles:
        _download(BUNDLES / "video", VIDEO, deps=False)
    if "app" in bundles:
        _download(BUNDLES / "app", APP, deps=True, constraints=colab_versions())  # gradio's libraries as on Colab
        _drop(BUNDLES / "app", GPU_IMAGE_HAS)  # huggingface_hub among them: the kernel bundle's 1.27.0 stays
    if "hub" in bundles:
        # everything olah needs in a fresh environment, the GPU image's packages too (15.5 MiB): it travels alone
        _download(BUNDLES / "hub", HUB, deps=True)
    if "lab" in bundles:
        for entry_id in reproductions_the_lessons_run():  # each install step resolves on its own, as the lab runs it
            reproduction = lab.get_reproduction(entry_id)
            for step in reproduction.broken + reproduction.fixed:
                _download(BUNDLES / "lab", list(step), deps=True)
    for bundle in bundles:
        wheels = list((BUNDLES / bundle).glob("*.whl"))
        print(f".rehearsal/{bundle}: {len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) / 2**20:.1f} MiB")


# ----------------------------------------------------------------------------------------------------
# There: the Hub cache, the emulation, the lessons


def install_bundles(target: Path) -> None:
    """Install the carried bundles (not the lab's or the hub's: those are find-links folders) into `target`, each once.
    A bundle that an earlier call copied to /tmp/svd-learn-rehearsal/NAME-wheels (a call's 64 MiB cannot hold them
    all) is installed from there."""
    for bundle in ("kernel", "video", "app"):
        carried = BUNDLES / bundle if (BUNDLES / bundle).is_dir() else WORK / f"{bundle}-wheels"
        wheels = [str(w) for w in carried.glob("*.whl")]
        marker = target / f".installed-{bundle}"
        if wheels and not marker.exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-index",
                    "--no-deps",
                    "--no-compile",
                    "--target",
                    str(target),
                    *wheels,
                ],
                check=True,
            )
            marker.write_text("\n".join(sorted(Path(w).name for w in wheels)))


def fill_hub_cache(hub_cache: Path, built: Path, commit: str = "0" * 39 + "1") -> None:
    """Lay out the pipeline folder `built` (fp16 variant files) under every real SVD repo id, as a finished
    `from_pretrained(repo_id, variant="fp16")` download leaves it: blobs named by their hash, a snapshot of
    links to them, refs/main. The checkpoints share weight files (hard links); svd's UNet config says 14 frames."""
    from svd_learn import models

    for checkpoint in models.CHECKPOINTS.values():
        repo = hub_cache / f"models--{checkpoint.repo_id.replace('/', '--')}"
        snapshot = repo / "snapshots" / commit
        for source in sorted(p for p in built.rglob("*") if p.is_file()):
            relative = source.relative_to(built)
            data = source.read_bytes() if source.suffix == ".json" else None
            if relative.as_posix() == "unet/config.json":
                config = json.loads(data)
                config["num_frames"] = checkpoint.num_frames
                data = (json.dumps(config, indent=2) + "\n").encode()
            digest = hashlib.sha256(data if data is not None else source.read_bytes()).hexdigest()
            blob = repo / "blobs" / digest
            blob.parent.mkdir(parents=True, exist_ok=True)
            if not blob.exists():
                blob.write_bytes(data) if data is not None else os.link(source, blob)
            link = snapshot / relative
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)


def prepare_local_hub(environment: dict[str, str]) -> None:
    """Create Lesson 3's local Hub environment (olah, apart from the lesson's libraries) from the hub bundle, as the
    lesson's first hub.start() would from the registry. Done here, before the lesson, so that the lab keeps its
    own wheel folder alone; the lesson's start then finds it ready."""
    from svd_learn import hub

    folder = HUB_WHEELS if HUB_WHEELS.is_dir() else BUNDLES / "hub"
    if not folder.is_dir():
        raise SystemExit(
            f"Lesson 3 needs the hub bundle: carry .rehearsal/hub in a call of its own and copy it to {HUB_WHEELS}."
        )
    saved = dict(os.environ)
    os.environ.update(environment, PIP_FIND_LINKS=str(folder), PIP_NO_INDEX="1")
    os.environ.pop("UV_FIND_LINKS", None)
    try:
        started = time.perf_counter()
        hub.server_environment()
        print(f"the local Hub's own environment: {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def rehearsal_environment(site: Path, work: Path) -> dict[str, str]:
    """What the lessons' processes see: a T4, Colab's libraries, an offline Hub cache, the lab's wheels."""
    return {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks" / "colab_t4"), str(ROOT), str(site)]),
        "PATH": os.pathsep.join([str(site / "bin"), os.environ.get("PATH", "")]),  # diffusers-cli, hf (Lesson 3)
        "SVD_LEARN_EMULATE_T4": "1",  # t4_emulation.EMULATION_VARIABLE
        "HF_HOME": str(work / "hf-home"),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "SVD_LEARN_HOME": str(work / "svd-learn"),
        "PIP_NO_INDEX": "1",  # the lab installs its pins from the carried folder, as behind a proxy
        "PIP_FIND_LINKS": str(LAB_WHEELS),
        "UV_NO_INDEX": "1",  # the GPU machine has uv: the same for it
        "UV_OFFLINE": "1",
        # The GPU machine's jax (0.11) is newer than Colab's (0.7.2 on the 2026-08-19 image). diffusers 0.39's
        # `diffusers-cli env` calls jax.lib.xla_bridge.get_backend(), which jax 0.8 removed: on Colab's jax it
        # works (checked on a CPU with diffusers 0.39.0 + jax 0.7.2). Hide jax from diffusers, as if Colab had none.
        "USE_FLAX": "0",
    }


def emulated_view(environment: dict[str, str]) -> dict:
    """What code under the emulation sees, asked in a fresh process (as a lesson's kernel would)."""
    probe = """
import json, torch
GIB = 2**30
p = torch.cuda.get_device_properties(0)
free, total = torch.cuda.mem_get_info()
try:
    torch.empty(int(15 * GIB), dtype=torch.uint8, device="cuda")
    over_cap = "allocated"
except torch.OutOfMemoryError:
    over_cap = "out of memory"
print(json.dumps({"name": p.name, "total_memory_gib": round(p.total_memory / GIB, 2),
                  "compute_capability": list(torch.cuda.get_device_capability()),
                  "mem_get_info_total_gib": round(total / GIB, 2), "allocating_15_gib": over_cap,
                  "flash_sdp": torch.backends.cuda.flash_sdp_enabled(), "cudnn_sdp": torch.backends.cuda.cudnn_sdp_enabled(),
                  "mem_efficient_sdp": torch.backends.cuda.mem_efficient_sdp_enabled()}))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, **environment}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"The T4 emulation does not work here:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import torch

    from svd_learn.environment import installed_version

    return {
        "gpu": torch.cuda.get_device_name(0),
        "python": platform.python_version(),
        "torch": torch.__version__,
        **{
            name: installed_version(name)
            for name in ("diffusers", "transformers", "huggingface_hub", "accelerate", "numpy")
        },
    }


def lesson_key(source: Path) -> str:
    """A lesson's name in the rows: "01_pipelines" for the English source, "es/01_pipelines" for its Spanish twin."""
    return source.stem if source.parent == LESSONS else f"{source.parent.name}/{source.stem}"


def lesson_sources(prefixes: list[str]) -> list[Path]:
    """The lessons that `prefixes` name ("01", "es/01", "es/"): every English lesson when none are given."""
    english = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    if not prefixes:
        return english
    spanish = sorted((LESSONS / "es").glob("[0-9][0-9]_*.py"))
    return [source for source in english + spanish if lesson_key(source).startswith(tuple(prefixes))]


def silent_cells(notebook) -> list[int]:
    """The code cells that showed nothing when they ran: a cell the text describes must not be among them."""
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.strip() and not cell.get("outputs")
    ]


def code_sha256(source: Path) -> str:
    """The sha256 of a lesson's code cells, in order: what a rehearsal ran. A markdown edit leaves it unchanged."""
    import jupytext

    cells = [cell.source for cell in jupytext.read(source).cells if cell.cell_type == "code"]
    return hashlib.sha256("\n\0\n".join(cells).encode()).hexdigest()


def rehearse_lesson(source: Path, environment: dict[str, str], work: Path, timeout: int) -> tuple[dict, object]:
    """Execute one lesson in a fresh kernel under `environment`; its row and the executed notebook."""
    import jupytext
    from nbclient import NotebookClient

    log = work / f"{lesson_key(source).replace('/', '-')}.processes.jsonl"
    log.unlink(missing_ok=True)
    os.environ.update(environment, SVD_LEARN_REHEARSAL_LOG=str(log))  # t4_emulation.REPORT_VARIABLE
    if source.stem in ASKS_ITS_OWN_HUB:
        os.environ.pop("HF_HUB_OFFLINE")
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    started = time.perf_counter()
    try:
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(source.parent)}},
        ).execute()
        stopped = None
    except Exception as error:  # a cell over the timeout, a dead kernel: the row says so
        stopped = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    seconds = time.perf_counter() - started
    errors = [
        {"cell": index, "error": output.get("ename"), "message": str(output.get("evalue", ""))[:500]}
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    if stopped:
        errors.append({"cell": None, "error": "execution stopped", "message": stopped[:500]})
    processes = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    row = {
        "lesson": lesson_key(source),
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "code_sha256": code_sha256(source),
        "errors": errors,
        "silent_cells": silent_cells(notebook),
        "seconds": round(seconds, 1),
        "host_peak_gib": max((p["host_peak_gib"] for p in processes), default=None),  # the largest process (the kernel)
        "cuda_peak_reserved_gib": max((p["cuda_peak_reserved_gib"] for p in processes), default=None),
        "full_size_unet_steps": sum(p["full_size_unet_steps"] for p in processes),
        # FLOPs of every full-size UNet step and VAE decode it ran, at the T4's sustained rate (svd_learn.t4's model)
        "estimated_t4_minutes": round(sum(p["estimated_t4_seconds"] for p in processes) / 60, 1),
        "processes": len(processes),
        "rehearsed": time.strftime("%Y-%m-%d"),
    }
    return row, notebook


def run(prefixes: list[str], out: Path, timeout: int, cli: bool = False, cli_only: bool = False) -> None:
    """On the GPU machine: install the bundles, fill the Hub cache, rehearse the lessons named by `prefixes`, then
    (with `cli`) the command line."""
    site = WORK / "site"
    install_bundles(site)
    sys.path[:0] = [str(ROOT), str(site)]
    import nbformat

    from svd_learn import models

    hub_cache = WORK / "hf-home" / "hub"
    sources = [] if cli_only else lesson_sources(prefixes)
    needs_weights = cli or any(source.stem not in ASKS_ITS_OWN_HUB for source in sources)
    if (
        needs_weights
        and not (hub_cache / "models--stabilityai--stable-video-diffusion-img2vid-xt" / "refs" / "main").exists()
    ):
        started = time.perf_counter()
        built = models.build_full_size_random_pipeline(WORK / "random-svd-xt")
        fill_hub_cache(hub_cache, built)
        print(
            f"full-size random SVD-XT built and laid out in the Hub cache: {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    environment = rehearsal_environment(site, WORK)
    if any(source.stem in ASKS_ITS_OWN_HUB for source in sources):
        prepare_local_hub(environment)
    results = {"machine": machine(), "emulated": emulated_view(environment), "source": "pretrained", "lessons": []}
    print(json.dumps(results["emulated"]), flush=True)
    for source in sources:
        row, notebook = rehearse_lesson(source, environment, WORK, timeout)
        results["lessons"].append(row)
        print(json.dumps(row), flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")  # after every lesson: a call cut short keeps its rows
        if row["errors"]:
            nbformat.write(notebook, out.parent / f"{lesson_key(source).replace('/', '-')}.executed.ipynb")
    if cli:
        results["cli"] = rehearse_cli(site, WORK, timeout)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------------
# There: the command line, as a learner runs it

# What a learner types at a terminal or in a `!svd-learn` cell of a fresh runtime (issue 21). The compiled run keeps
# the GPU's real compute capability: Triton builds its kernels for the chip it is told about, and a T4's sm_75
# kernels cannot run on the rehearsal's GPU (so what a T4's own compile costs stays unmeasured here).
CLI_RUNS = [
    {"command": ["svd-learn", "generate", "rocket.jpg", "-o", "plain.mp4"]},
    {"command": ["svd-learn", "generate", "rocket.jpg", "-o", "compiled.mp4", "--compile"], "real_capability": True},
]
CLI_DATA = ("checkpoints.toml", "parameters.toml", "memory_calibration.json", "t4.toml")  # what generate reads
CLI_SOURCES_PROBE = (
    "import sys, svd_learn.cli, svd_learn.generate; "
    "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('svd_learn') and m.__file__)))"
)


def cli_sources_sha256(python: str = sys.executable, environment: dict | None = None) -> str:
    """The sha256 of the package files `svd-learn generate` imports (and their data files): what a cli row is for."""
    found = subprocess.run(
        [python, "-c", CLI_SOURCES_PROBE], capture_output=True, text=True, check=True, env=environment, cwd=ROOT
    )
    digest = hashlib.sha256()
    files = [Path(line) for line in found.stdout.split()] + [ROOT / "svd_learn" / "data" / name for name in CLI_DATA]
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def install_console_script(site: Path) -> None:
    """`svd-learn` on the PATH, as pip writes the console script pyproject.toml declares (the GPU machine has the
    course only as a folder)."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["svd-learn"]
    module, function = entry.split(":")
    script = site / "bin" / "svd-learn"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n")
    script.chmod(0o755)


def learner_environment(site: Path, work: Path, log: Path, real_capability: bool) -> dict[str, str]:
    """A fresh shell's environment: nothing the course sets, only the rehearsal's stand-ins."""
    kept = {name: os.environ[name] for name in ("HOME", "LANG", "USER", "TERM") if name in os.environ}
    environment = {
        **kept,
        "PATH": os.pathsep.join([str(site / "bin"), os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks" / "colab_t4"), str(ROOT), str(site)]),
        "SVD_LEARN_EMULATE_T4": "1",
        "SVD_LEARN_REHEARSAL_LOG": str(log),
        "HF_HOME": str(work / "hf-home"),
        "HF_HUB_OFFLINE": "1",
        "SVD_LEARN_HOME": str(work / "svd-learn"),
        "USE_FLAX": "0",  # as for the lessons: the GPU machine's jax is newer than Colab's
    }
    if real_capability:
        environment["SVD_LEARN_EMULATE_T4_REAL_CAPABILITY"] = "1"
    return environment


def rehearse_cli(site: Path, work: Path, timeout: int) -> list[dict]:
    """Each of CLI_RUNS in a fresh process: its exit code, seconds, peaks, warnings and T4 estimate."""
    install_console_script(site)
    folder = work / "cli"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "svd_learn" / "data" / "rocket.jpg", folder / "rocket.jpg")
    rows = []
    for run in CLI_RUNS:
        log = folder / "processes.jsonl"
        log.unlink(missing_ok=True)
        environment = learner_environment(site, work, log, run.get("real_capability", False))
        started = time.perf_counter()
        try:
            done = subprocess.run(
                run["command"], cwd=folder, env=environment, capture_output=True, text=True, timeout=timeout
            )
            code, output = done.returncode, done.stderr + done.stdout  # the summary (stdout) last
        except subprocess.TimeoutExpired as expired:
            code, output = None, f"timed out after {timeout} s: {expired.stdout or ''}{expired.stderr or ''}"
        processes = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        row = {
            "command": " ".join(run["command"]),
            "exit_code": code,
            "seconds": round(time.perf_counter() - started, 1),
            "cuda_peak_reserved_gib": max((p["cuda_peak_reserved_gib"] for p in processes), default=None),
            "host_peak_gib": max((p["host_peak_gib"] for p in processes), default=None),
            "warnings": [line.strip() for line in output.splitlines() if line.strip().lower().startswith("warning")],
            "estimated_t4_minutes": round(sum(p["estimated_t4_seconds"] for p in processes) / 60, 1),
            "full_size_unet_steps": sum(p["full_size_unet_steps"] for p in processes),
            "last_lines": output.strip().splitlines()[-3:],
            "real_capability": run.get("real_capability", False),
            "cli_sources_sha256": cli_sources_sha256(environment=environment),
            "rehearsed": time.strftime("%Y-%m-%d"),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


# ----------------------------------------------------------------------------------------------------
# Here again: the results


def merge(paths: list[Path]) -> None:
    """Merge rows into benchmarks/results/colab-rehearsal.json: a lesson's newest row replaces its older one."""
    merged = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"lessons": []}
    rows = {row["lesson"]: row for row in merged["lessons"]}
    for path in paths:
        result = json.loads(path.read_text())
        merged.update({key: result[key] for key in ("machine", "emulated", "source")})
        rows.update({row["lesson"]: row for row in result["lessons"]})
    for row in rows.values():  # rows from before code_sha256: the file they ran is the file as it stands, or stale
        source = LESSONS / f"{row['lesson']}.py"
        if "code_sha256" not in row and source.exists():
            if hashlib.sha256(source.read_bytes()).hexdigest() == row["source_sha256"]:
                row["code_sha256"] = code_sha256(source)
    merged["lessons"] = [rows[name] for name in sorted(rows)]
    commands = {row["command"]: row for row in merged.get("cli", [])}
    for path in paths:
        commands.update({row["command"]: row for row in json.loads(path.read_text()).get("cli", [])})
    merged["cli"] = list(commands.values())
    RESULTS.write_text(json.dumps(merged, indent=2) + "\n")
    for row in merged["lessons"]:
        source = LESSONS / f"{row['lesson']}.py"
        current = source.exists() and code_sha256(source) == row.get("code_sha256")
        print(
            f"{row['lesson']}: {'clean' if not row['errors'] else str(len(row['errors'])) + ' failing cell(s)'}, "
            f"{row['seconds']} s, host {row['host_peak_gib']} GiB, CUDA {row['cuda_peak_reserved_gib']} GiB, "
            f"{row['full_size_unet_steps']} full-size UNet steps, about {row.get('estimated_t4_minutes', '?')} min on a T4 "
            f"(estimate){'' if current else ' (STALE: the lesson changed since)'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    wheels_parser = commands.add_parser("wheels", help="download the wheels the GPU machine lacks into .rehearsal/")
    wheels_parser.add_argument("bundles", nargs="*", help=f"some of {', '.join(BUNDLE_NAMES)}; none: all of them")
    run_parser = commands.add_parser("run", help="on the GPU machine: rehearse lessons")
    run_parser.add_argument("lessons", nargs="*", help="lesson prefixes (01 03 ...); none: every lesson")
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--cell-timeout", type=int, default=540)
    run_parser.add_argument("--cli", action="store_true", help="also run the command line as a learner does")
    run_parser.add_argument("--cli-only", action="store_true", help="only the command line, no lesson")
    merge_parser = commands.add_parser("merge", help="merge rows into benchmarks/results/colab-rehearsal.json")
    merge_parser.add_argument("rows", nargs="+", type=Path)
    arguments = parser.parse_args()
    if arguments.command == "wheels":
        unknown = sorted(set(arguments.bundles) - set(BUNDLE_NAMES))
        if unknown:  # checked here: Python 3.11's argparse rejects an empty nargs="*" list that has choices
            parser.error(f"unknown bundle {unknown[0]!r}; choose from {', '.join(BUNDLE_NAMES)}")
        download_wheels(arguments.bundles or list(BUNDLE_NAMES))
    elif arguments.command == "run":
        run(
            arguments.lessons,
            arguments.out,
            arguments.cell_timeout,
            arguments.cli or arguments.cli_only,
            arguments.cli_only,
        )
    else:
        merge(arguments.rows)


if __name__ == "__main__":
    main()
