"""Installing the course: the setup cell's installer (install.py), the extras, and Colab's own images.

The Colab check resolves the course's install with pip (`--dry-run --report`) with every package of a Colab
image held at that image's version (its published `pip freeze`, in tests/colab/) and the torch family held at
this machine's build. It needs the package registry and takes about 90 s, so it runs in CI's oldest-supported
stage (`python3 tasks.py oldest` sets SVD_LEARN_COLAB_CHECK=1), not in the default test command.
"""

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from svd_learn import install
from svd_learn.environment import installed_version

ROOT = Path(__file__).resolve().parent.parent
FREEZES = sorted((Path(__file__).parent / "colab").glob("pip-freeze.gpu.*.txt"))
# The Colab check asks the registry and takes about 90 s: CI's oldest-supported stage (tasks.py oldest) runs it.
COLAB_CHECK = pytest.mark.skipif(
    os.environ.get("SVD_LEARN_COLAB_CHECK") != "1",
    reason="set SVD_LEARN_COLAB_CHECK=1 (python3 tasks.py oldest does) to resolve against Colab's images",
)
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared_requirements() -> list[str]:
    """pyproject's requirements as the installed metadata lists them (extras carry an `extra == "x"` marker)."""
    extras = [f'{r}; extra == "{name}"' for name, group in PROJECT["optional-dependencies"].items() for r in group]
    return PROJECT["dependencies"] + extras


def names(specs: list[str]) -> set[str]:
    return {install._normalize(Requirement(spec).name) for spec in specs}


# --- what each install brings -------------------------------------------------------------------------


def test_the_base_install_has_neither_olah_nor_uv_and_the_hub_extra_adds_only_uv():
    base = install.requirements(declared=declared_requirements(), known_extras={"hub", "test"})
    with_hub = install.requirements("hub", declared=declared_requirements(), known_extras={"hub", "test"})
    assert {"olah", "uv"}.isdisjoint(names(base))
    assert names(with_hub) - names(base) == {"uv"}  # olah runs from the local Hub's own environment
    assert all(Requirement(spec).marker is None for spec in with_hub)  # markers dropped: pip gets plain specs


def test_gradio_is_only_in_the_app_extra_from_the_oldest_version_colab_ships():
    extras = set(PROJECT["optional-dependencies"])
    base = install.requirements(declared=declared_requirements(), known_extras=extras)
    with_app = install.requirements("app", declared=declared_requirements(), known_extras=extras)
    assert "gradio" not in names(base) and names(with_app) - names(base) == {"gradio"}
    shipped = {
        line.split("==")[1] for freeze in FREEZES for line in freeze.read_text().split() if line.startswith("gradio==")
    }
    oldest = min(shipped, key=Version)
    assert next(Requirement(r) for r in with_app if r.startswith("gradio")).specifier == SpecifierSet(f">={oldest}")


def test_olah_is_only_in_the_local_hubs_own_environment():
    from svd_learn import hub

    assert "olah" in names(hub.server_requirements())
    assert "olah" not in names(declared_requirements())


def test_an_unknown_extra_is_named_with_the_choices():
    with pytest.raises(install.InstallError, match="no extra gpu. Choose from: hub, test"):
        install.requirements("gpu", declared=declared_requirements(), known_extras={"hub", "test"})


def test_every_requirement_has_a_plain_lower_bound_and_no_cap():
    """CI's oldest-supported stage pins each `name>=X` to `name==X`; a cap would downgrade a newer Colab."""
    for spec in declared_requirements():
        requirement = Requirement(spec)
        assert [s.operator for s in requirement.specifier] == [">="], spec


def test_the_torch_range_admits_torch_2_10_and_this_machines_torch():
    torch = next(Requirement(r) for r in PROJECT["dependencies"] if r.startswith("torch"))
    assert torch.specifier.contains("2.10.0")
    assert torch.specifier.contains(installed_version("torch").split("+")[0])


# --- the installer's decisions, with pip replaced ----------------------------------------------------------


def test_the_installed_torch_family_is_held_exactly():
    versions = {
        "torch": "2.10.0+cu128",
        "torchvision": "0.25.0+cu128",
        "nvidia-cublas-cu12": "12.8.4.1",
        "numpy": "2.0.2",
    }
    assert install.held_torch_family(versions) == [
        "nvidia-cublas-cu12==12.8.4.1",
        "torch==2.10.0+cu128",
        "torchvision==0.25.0+cu128",
    ]


def test_changed_and_imported():
    after = {"numpy": "2.4.6", "uv": "0.13.9"}  # uv is new: added, not changed
    assert install.changed_distributions({"numpy": "2.0.2", "olah": "0.5.4"}, after) == {"numpy": ("2.0.2", "2.4.6")}
    assert install.imported_among(["numpy"], {"numpy": object()}) == ["numpy"]
    assert install.imported_among(["numpy"], {"json": object()}) == []


def fake_install(monkeypatch, before, after, returncode=0, output=""):
    snapshots = iter([before, after])
    monkeypatch.setattr(install, "installed_versions", lambda: next(snapshots))
    monkeypatch.setattr(install, "requirements", lambda *extras: ["diffusers>=0.36"])
    calls = []

    def pip(specs, constraints):
        calls.append((specs, constraints))
        return subprocess.CompletedProcess([], returncode, output, "")

    monkeypatch.setattr(install, "_pip_install", pip)
    return calls


def test_nothing_changed_means_no_restart(monkeypatch):
    before = {"torch": "2.10.0+cu128", "diffusers": "0.36.0"}
    calls = fake_install(monkeypatch, before, {**before, "uv": "0.13.0"})
    lines = []
    assert install.install_requirements("hub", echo=lines.append) == {"uv": (None, "0.13.0")}
    assert calls == [(["diffusers>=0.36"], ["torch==2.10.0+cu128"])]  # torch held as a constraint
    assert lines == [
        "installed 1 packages: uv 0.13.0",
        "nothing that was installed before changed (torch 2.10.0+cu128 kept)",
    ]


def test_a_change_to_an_imported_library_asks_for_a_restart(monkeypatch):
    import numpy  # noqa: F401  (imported in this process, as the notebook kernel has)

    fake_install(monkeypatch, {"numpy": "2.0.2"}, {"numpy": "2.4.6"})
    with pytest.raises(
        install.InstallError, match=r"numpy changed, but this runtime had already imported .* Restart the runtime"
    ):
        install.install_requirements(echo=lambda line: None)


def test_a_change_to_a_library_not_imported_needs_no_restart(monkeypatch):
    assert "olah" not in sys.modules
    fake_install(monkeypatch, {"olah": "0.5.3"}, {"olah": "0.5.4"})
    assert install.install_requirements(echo=lambda line: None) == {"olah": ("0.5.3", "0.5.4")}


def test_a_course_that_needs_another_torch_stops_before_downloading(monkeypatch):
    conflict = "ERROR: Cannot install torch==2.10.0+cu128 ...\nThe conflict is caused by:\nERROR: ResolutionImpossible: for help visit ..."
    fake_install(monkeypatch, {"torch": "2.10.0+cu128"}, {}, returncode=1, output=conflict)
    with pytest.raises(
        install.InstallError,
        match=r"next to this torch \(torch==2.10.0\+cu128\) without replacing it, so nothing was installed",
    ):
        install.install_requirements(echo=lambda line: None)


def test_pip_refuses_another_torch_for_real(tmp_path):
    """The real pip, with this machine's torch held: asking for another torch fails at resolution, downloading nothing."""
    held = install.held_torch_family(install.installed_versions())
    done = install._pip_install(["torch<2.0", "--dry-run"], held)
    assert done.returncode != 0 and "ResolutionImpossible" in done.stdout + done.stderr
    assert "Downloading torch" not in done.stdout + done.stderr


# --- Colab's images ------------------------------------------------------------------------------------------

TORCH_FAMILY = re.compile(r"^(torch|torchvision|torchaudio|torchcodec|triton|nvidia-[\w-]+)==", re.IGNORECASE)


def this_torch_needs() -> dict[str, Requirement]:
    """What this machine's torch build requires itself (on Colab, Colab's torch brings its own)."""
    needs = {}
    for text in metadata.requires("torch") or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            needs[install._normalize(requirement.name)] = requirement
    return needs


def colab_constraints(freeze: Path, folder: Path) -> tuple[Path, dict[str, str], set[str]]:
    """The freeze as pip constraints: URL installs dropped, the torch family replaced by this machine's build.

    Also released: the image's pins that this machine's torch build cannot use (its own requirements, e.g.
    torch 2.13 needs setuptools >= 77 where Colab's torch 2.10 had 75). Returns the constraints file, the
    image's versions, and the names released.
    """
    pins, versions, released = [], {}, set()
    torch_needs = this_torch_needs()
    for line in freeze.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or " @ " in line:
            continue
        name, version = line.split("==")
        versions[install._normalize(name)] = version
        need = torch_needs.get(install._normalize(name))
        if need is not None and not need.specifier.contains(version, prereleases=True):
            released.add(install._normalize(name))
        elif not TORCH_FAMILY.match(line):
            pins.append(line)
    pins += install.held_torch_family(install.installed_versions())
    constraints = folder / f"{freeze.stem}.constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    return constraints, versions, released


def resolve_on_colab(freeze: Path, target: str, folder: Path) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """pip's resolution of `target` with the image's packages held: (resolved versions, image's versions, released)."""
    constraints, colab, released = colab_constraints(freeze, folder)
    report = folder / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--ignore-installed",
            "--report",
            str(report),
            "--constraint",
            str(constraints),
            target,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{target} cannot be installed on this image without changing what it ships:\n{done.stderr[-3000:]}"
    )
    items = json.loads(report.read_text())["install"]
    return {install._normalize(i["metadata"]["name"]): i["metadata"]["version"] for i in items}, colab, released


def changed_on_colab(resolved: dict[str, str], colab: dict[str, str], released: set[str]) -> dict[str, tuple[str, str]]:
    return {
        name: (colab[name], version)
        for name, version in resolved.items()
        if name in colab
        and name not in released
        and not TORCH_FAMILY.match(f"{name}==")
        and Version(version) != Version(colab[name])
    }


@COLAB_CHECK
@pytest.mark.parametrize("freeze", FREEZES, ids=lambda path: path.stem.rsplit(".", 1)[-1])
def test_colab_image_keeps_everything_it_ships(freeze, tmp_path):
    resolved, colab, released = resolve_on_colab(freeze, str(ROOT), tmp_path)
    torch = next(Requirement(r) for r in PROJECT["dependencies"] if r.startswith("torch"))
    assert torch.specifier.contains(colab["torch"].split("+")[0]), (
        f"the course's {torch} excludes this image's torch {colab['torch']}"
    )
    assert changed_on_colab(resolved, colab, released) == {}
    added = sorted(set(resolved) - set(colab) - {"svd-learn"} - {n for n in resolved if TORCH_FAMILY.match(f"{n}==")})
    assert added == [], f"the base install would add packages this image lacks: {added}"


@COLAB_CHECK
@pytest.mark.parametrize("freeze", FREEZES, ids=lambda path: path.stem.rsplit(".", 1)[-1])
def test_the_hub_extra_keeps_everything_each_image_ships(freeze, tmp_path):
    """Lesson 3's setup cell (the hub extra): uv is added, nothing is replaced, on every image. olah, which would
    upgrade huggingface_hub, fastapi and pydantic on images before 2026-08-14, runs from its own environment."""
    resolved, colab, released = resolve_on_colab(freeze, f"{ROOT}[hub]", tmp_path)
    assert changed_on_colab(resolved, colab, released) == {}
    added = set(resolved) - set(colab) - {"svd-learn"} - {n for n in resolved if TORCH_FAMILY.match(f"{n}==")}
    assert added == {"uv"}


@COLAB_CHECK
@pytest.mark.parametrize("freeze", FREEZES, ids=lambda path: path.stem.rsplit(".", 1)[-1])
def test_the_app_extra_adds_nothing_on_any_image(freeze, tmp_path):
    """`svd-learn app` and Lesson 5's app section on Colab: every image ships gradio (5.50.0 or 6.24.0), and the
    app extra neither replaces nor adds anything."""
    resolved, colab, released = resolve_on_colab(freeze, f"{ROOT}[app]", tmp_path)
    assert "gradio" in colab and resolved["gradio"] == colab["gradio"]
    assert changed_on_colab(resolved, colab, released) == {}
    added = set(resolved) - set(colab) - {"svd-learn"} - {n for n in resolved if TORCH_FAMILY.match(f"{n}==")}
    assert added == set()


def test_the_oldest_stage_leaves_out_only_streams_of_progress_bars(monkeypatch):
    import nbval.plugin

    original = nbval.plugin.transform_streams_for_comparison
    sys.path.insert(0, str(ROOT))
    try:
        from tools import nbval_versions
    finally:
        sys.path.remove(str(ROOT))
        nbval.plugin.transform_streams_for_comparison = original  # this process's own nbval stays strict
    bars = "\r  0%|          | 0/2 [00:00<?, ?it/s]\r100%|██████████| 2/2 [00:00<00:00, 10.58it/s]\n"
    assert nbval_versions.only_progress_bars(bars)
    assert not nbval_versions.only_progress_bars(bars + "UserWarning: something a lesson should show\n")
    assert not nbval_versions.only_progress_bars("\n")
    from nbformat import NotebookNode

    outputs = [
        NotebookNode(output_type="stream", name="stderr", text=bars),
        NotebookNode(output_type="stream", name="stdout", text="ok\n"),
    ]
    assert nbval_versions.transform_streams_without_progress_bars(outputs) == [
        {"output_type": "stream", "stdout": "ok\n"}
    ]
