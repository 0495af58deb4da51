"""lab.py: each reproduction runs for real (throwaway environments, pinned versions from the package registry).

These tests download from the registry on their first run (then uv's cache serves them) and take seconds to
tens of seconds each; the reproductions that need torch install this environment's torch from a local wheel
when PIP_FIND_LINKS has one.
"""

import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from svd_learn import compat, lab
from svd_learn.cli import app

# Known errors the lab cannot reproduce on this machine, and why (their tests use captured or written texts).
NOT_REPRODUCIBLE_HERE = {
    "cuda_oom": "needs a GPU",
    "bf16_on_t4": "needs a T4",
    "no_gpu": "needs a CUDA build of torch (GBs to download) on a machine without a GPU",
    "no_kernel_image": "needs a GPU",
    "half_on_cpu": "this torch has fp16 CPU kernels for what SVD calls; older torch releases have no CPU wheel for this Python",
    "gated_repo": "needs the Hub (the lab is offline)",
    "repo_not_found": "needs the Hub (the lab is offline)",
    "python_too_old_for_diffusers": "needs Python 3.7 (the lab uses this Python); captured with pip download --python-version 3.7",
    "imp_removed": "needs Python 3.12 (the lab uses this Python); captured with Python 3.12.1",
    "hub_unreachable": "its fix needs the Hub (the lab is offline)",
    "host_ram_exhausted": "would exhaust this shared machine's RAM",
    "disk_full": "would fill this shared machine's disk",
    "transformers_too_old": "not reproduced yet (diffusers guards most of its transformers imports); its test text is written",
    "cuda_on_mac": "needs a Mac",
    "torch_too_old": "needs a torch older than any wheel for this Python that is not a CUDA build of GBs",
    "torchvision_torch_mismatch": "the broken half runs (PyPI's torchvision 0.28.0 beside this CPU torch: its test text);"
    " the fixed pair is a CUDA build of GBs, or a CPU torchvision from an index this machine does not reach",
    "triton_windows": "needs Windows",
    "triton_missing": "needs a GPU (torch.compile of CPU code needs no Triton)",
    "triton_not_available_warning": "a warning of xformers and torchao where Triton is absent (Windows)",
    "torch_dll_windows": "needs Windows",
    "device_mismatch": "needs a GPU",
    "hub_rate_limited": "needs the Hub (the lab is offline)",
}
RESULTS = {}  # entry id -> LabResult, so that a later test can look closer without reinstalling


def run(entry_id):
    if entry_id not in RESULTS:
        RESULTS[entry_id] = lab.run_reproduction(entry_id, echo=lambda line: None)
    return RESULTS[entry_id]


def test_every_known_error_that_needs_no_gpu_has_a_reproduction():
    known = {entry.id for entry in compat.KNOWN_ERRORS}
    assert {r.id for r in lab.list_reproductions()} == known - set(NOT_REPRODUCIBLE_HERE)


@pytest.mark.slow  # real installs from the package registry
@pytest.mark.parametrize("entry_id", [r.id for r in lab.list_reproductions()])
def test_reproduction(entry_id):
    if not lab.runs_on_this_python(lab.get_reproduction(entry_id)):
        pytest.skip(f"{entry_id}'s pinned wheels do not exist for this Python")
    lines = []
    start = time.perf_counter()
    result = RESULTS[entry_id] = lab.run_reproduction(entry_id, echo=lines.append)
    seconds = time.perf_counter() - start
    log = "\n".join(lines)
    # reproduced: the line failed and the diagnosis of its text names this error (or, with a CPU torch here, a deeper cause)
    assert result.reproduced, f"{entry_id} was not reproduced:\n{result.error_text[-3000:]}"
    expected = {entry_id, *lab.get_reproduction(entry_id).also_diagnosed_as}
    assert result.fixed_ok, f"{entry_id}: the fixed environment still fails:\n{result.fixed_output[-3000:]}"
    # progress was printed as it went: the four steps, the captured error and the diagnosis
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert step in log
    assert any(f"[{expected_id}]" in log for expected_id in expected)
    # a reproduction that installs torch (a 200 MB wheel) takes longer, more so beside the other test worker
    limit = 120 if lab.get_reproduction(entry_id).needs_torch else 60
    assert seconds < limit, f"{entry_id} took {seconds:.0f} s"
    assert not (lab.lab_home() / "envs" / lab.ENV_NAME).exists()  # throwaway environments are removed


@pytest.mark.slow  # a real install (unless test_reproduction ran first)
def test_the_captured_error_names_the_pinned_versions():
    result = run("cached_download")
    assert result.broken_pins == ["diffusers==0.28.2", "huggingface_hub==0.26.0"]
    assert "diffusers/utils/dynamic_modules_utils.py" in result.error_text  # which file does the import
    assert "ImportError: cannot import name 'cached_download' from 'huggingface_hub'" in result.error_text


@pytest.mark.slow  # real installs with venv + pip
def test_venv_and_pip_when_uv_is_absent():
    lines = []
    result = lab.run_reproduction("hf_folder", use_uv=False, echo=lines.append)  # pip's cache: lab_home()/cache/pip
    assert result.reproduced and result.fixed_ok
    assert "venv + pip install huggingface_hub==1.3.4" in "\n".join(lines)


def test_unknown_id_lists_the_ids():
    with pytest.raises(lab.LabError, match="No reproduction 'nope'. Choose one of: cached_download, "):
        lab.run_reproduction("nope")
    result = CliRunner().invoke(app, ["lab", "run", "nope"])
    assert result.exit_code == 2
    assert "No reproduction 'nope'" in result.output and "hf_cache_home" in result.output


@pytest.mark.parametrize("typed", ["HfFolder", "hf-folder", "HF_FOLDER"])
def test_ids_as_people_type_them(typed):  # the README printed the error's names, not the ids
    assert lab.get_reproduction(typed).id == "hf_folder"
    assert lab.get_reproduction("FLAX_WEIGHTS_NAME").id == "flax_weights_name"


def test_a_near_miss_suggests_the_closest_ids():
    with pytest.raises(lab.LabError, match=r"No reproduction 'cachd_download'. Did you mean cached_download\?"):
        lab.get_reproduction("cachd_download")
    result = CliRunner().invoke(app, ["lab", "run", "hf_foldr"])
    assert result.exit_code == 2 and "Did you mean hf_folder?" in result.output


@pytest.mark.slow  # runs uv and pip for real against a closed port (20 s)
def test_unreachable_registry_is_said_clearly(monkeypatch, tmp_path):
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9/simple")  # nothing listens on port 9
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    with pytest.raises(lab.LabError, match=r"Cannot reach the package registry http://127\.0\.0\.1:9/simple"):
        lab.run_reproduction("hf_folder", workdir=tmp_path, echo=lambda line: None)
    result = CliRunner().invoke(app, ["lab", "run", "hf_folder"])
    assert result.exit_code == 2 and "Cannot reach the package registry" in result.output
    # pip (with this machine's local extra index) only says "no matching distribution": the lab asks the index
    with pytest.raises(
        lab.LabError,
        match=r"Cannot reach the package registry http://127\.0\.0\.1:9/simple \(the index set by \$PIP_INDEX_URL\)",
    ):
        lab.run_reproduction("hf_folder", workdir=tmp_path, use_uv=False, echo=lambda line: None)


def test_lab_list():
    result = CliRunner().invoke(app, ["lab", "list"])
    assert result.exit_code == 0
    assert all(r.id in result.output for r in lab.list_reproductions())
    assert "(installs torch)" in result.output


def test_a_reproduction_for_another_python_says_so(monkeypatch):
    import platform

    monkeypatch.setattr(platform, "python_version", lambda: "3.13.15")  # Colab's Python in 2026-08
    with pytest.raises(
        lab.LabError, match=r"numpy2_abi needs Python <3\.13: its pinned wheels do not exist for Python 3\.13\.15"
    ):
        lab.run_reproduction("numpy2_abi")


def test_torch_is_pinned_to_this_environment(monkeypatch, tmp_path):
    from svd_learn.environment import installed_version

    torch = installed_version("torch")
    wheel_folder = tmp_path / "wheels"
    wheel_folder.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel_folder))
    notes = []
    assert f"torch=={torch.split('+')[0]}" in lab._with_torch(["diffusers==0.39.0"], notes.append)  # no local wheel
    assert "downloaded from the registry" in notes[0]
    (wheel_folder / f"torch-{torch}-cp311-cp311-manylinux_2_28_x86_64.whl").touch()
    notes.clear()
    assert f"torch=={torch}" in lab._with_torch(["diffusers==0.39.0"], notes.append) and notes == []


# --- installing from a folder of wheels (behind a proxy, offline) ---------------------------------------------


def test_wheel_folders_and_no_index_reach_both_installers(monkeypatch, tmp_path):
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    pip = lab.Installer(tmp_path, use_uv=False, find_links=[str(tmp_path)], no_index=True)
    assert pip.install_command(tmp_path / "python")[-3:] == ["--find-links", str(tmp_path), "--no-index"]
    assert pip.note().startswith(f"wheels from {tmp_path} only (no index)")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip's own setting counts too, and is passed on to uv
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    if lab.find_uv():
        uv = lab.Installer(tmp_path)
        assert uv.install_command(tmp_path / "python")[:3] == [lab.find_uv(), "pip", "install"]
        assert "--no-index" in uv.install_command(tmp_path / "python")


def test_uvs_own_wheel_folders_count_too_and_no_cache_dir_means_the_installers_own(monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(a))
    monkeypatch.setenv("UV_FIND_LINKS", f"{b},{a}")  # uv separates them with commas
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    monkeypatch.setenv("UV_NO_INDEX", "1")
    installer = lab.Installer(None, use_uv=False)
    assert installer.find_links == [str(a), str(b)] and installer.no_index
    assert "--cache-dir" not in installer.install_command(tmp_path / "python")


def test_wheel_folder_mistakes_are_short_errors(monkeypatch, tmp_path):
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    with pytest.raises(lab.LabError, match=r"The wheel folder .*missing does not exist"):
        lab.Installer(tmp_path, find_links=[str(tmp_path / "missing")])
    with pytest.raises(lab.LabError, match=r"no wheel folder: give one with --find-links DIR"):
        lab.Installer(tmp_path, no_index=True)
    result = CliRunner().invoke(app, ["lab", "run", "hf_folder", "--no-index"])
    assert result.exit_code == 2 and "--find-links DIR" in result.output


def test_without_uv_the_lab_says_what_uv_would_save(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "find_uv", lambda: None)
    installer = lab.Installer(tmp_path)
    assert installer.name == "venv + pip"
    assert f"uv would save time ({lab.UV_SAVES})" in installer.note() and "svd-learn[hub]" in installer.note()
    with pytest.raises(lab.LabError, match=r"uv is not installed: pip install 'svd-learn\[hub\]'"):
        lab.Installer(tmp_path, use_uv=True)


def test_a_reproduction_runs_from_a_wheel_folder_alone(monkeypatch, tmp_path):
    """Offline: download the pins' wheels once, then reproduce with no index at all (`--find-links DIR --no-index`)."""
    wheels = tmp_path / "wheels"
    pins = list(lab.get_reproduction("hf_folder").broken[0])
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "-d", str(wheels), *pins],
        check=True,
    )
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # an index would fail: nothing listens on port 9
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    result = CliRunner().invoke(app, ["lab", "run", "hf_folder", "--find-links", str(wheels), "--no-index"])
    assert result.exit_code == 0, result.output
    assert f"wheels from {wheels}" in result.output and "reproduced: yes" in result.output
