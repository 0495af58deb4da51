"""compat.py: every known error is recognised in its verbatim text; doctor, explain and the IPython extension.

The texts below are verbatim: captured by the lab's reproductions on this machine (paths shortened to
/venv/...), or quoted in shared/reference/versions.md, or taken from the library source that prints them.
"""

import pytest
from typer.testing import CliRunner

from svd_learn import compat
from svd_learn.cli import app

SITE = "/venv/lib/python3.11/site-packages"

VERBATIM = {
    # captured: diffusers==0.28.2 + huggingface_hub==0.26.0, python -c "import diffusers"
    "cached_download": f"""Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "{SITE}/diffusers/__init__.py", line 5, in <module>
    from .utils import (
  File "{SITE}/diffusers/utils/__init__.py", line 38, in <module>
    from .dynamic_modules_utils import get_class_from_dynamic_module
  File "{SITE}/diffusers/utils/dynamic_modules_utils.py", line 28, in <module>
    from huggingface_hub import cached_download, hf_hub_download, model_info
ImportError: cannot import name 'cached_download' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)""",
    # captured: diffusers==0.24.0 + huggingface_hub==1.3.4
    "hf_cache_home": f"""    from huggingface_hub.constants import HUGGINGFACE_HUB_CACHE, hf_cache_home
ImportError: cannot import name 'hf_cache_home' from 'huggingface_hub.constants' ({SITE}/huggingface_hub/constants.py)""",
    # captured: diffusers==0.35.1 + transformers==5.0.0 + torch, from diffusers import StableVideoDiffusionPipeline
    "flax_weights_name": f"""    raise RuntimeError(
RuntimeError: Failed to import diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion because of the following error (look up to see its traceback):
cannot import name 'FLAX_WEIGHTS_NAME' from 'transformers.utils' ({SITE}/transformers/utils/__init__.py)""",
    # captured: transformers==4.57.1, then huggingface_hub==1.3.4
    "transformers4_hub1": """ImportError: huggingface-hub>=0.34.0,<1.0 is required for a normal functioning of this module, but found huggingface-hub==1.3.4.
Try: `pip install transformers -U` or `pip install -e '.[dev]'` if you're working with git main""",
    # captured: transformers==5.0.0, then huggingface_hub==0.25.2
    "old_hub_pin": f"""  File "{SITE}/transformers/utils/hub.py", line 29, in <module>
    from huggingface_hub import (
ImportError: cannot import name 'is_offline_mode' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)""",
    # captured: huggingface_hub==1.3.4
    "use_auth_token": "TypeError: hf_hub_download() got an unexpected keyword argument 'use_auth_token'",
    "hf_folder": f"ImportError: cannot import name 'HfFolder' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)",
    # captured: diffusers==0.39.0 + torch, no accelerate
    "accelerate_missing": "ImportError: `enable_model_cpu_offload` requires `accelerate v0.17.0` or higher.",
    # captured: diffusers==0.39.0 + accelerate==1.14.0 + torch, no GPU
    "offload_no_accelerator": "RuntimeError: `enable_model_cpu_offload` requires accelerator, but not found",
    # captured: xformers==0.0.32.post2 next to torch 2.13.0+cpu, python -c "import xformers"
    "xformers_torch_mismatch": """WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions. xFormers was built for:
    PyTorch 2.8.0+cu128 with CUDA 1208 (you have 2.13.0+cpu)
    Python  3.9.23 (you have 3.11.7)
  Please reinstall xformers (see https://github.com/facebookresearch/xformers#installing-xformers)
  Memory-efficient attention, SwiGLU, sparse and more won't be available.
  Set XFORMERS_MORE_DETAILS=1 for more details""",
    # captured: matplotlib==3.8.0, then numpy==2.0.2 (the same NumPy check torch < 2.3 fails)
    "numpy2_abi": """
A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.2 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.
""",
    # torch's CUDA caching allocator message, with the numbers of a free Colab T4
    "cuda_oom": (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a total capacity of "
        "14.74 GiB of which 1.20 GiB is free. Process 2113 has 13.54 GiB memory in use. Of the allocated memory "
        "13.30 GiB is allocated by PyTorch, and 101.12 MiB is reserved by PyTorch but unallocated. If reserved but "
        "unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
        "fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
    ),
    # transformers/training_args.py
    "bf16_on_t4": "ValueError: Your setup doesn't support bf16/gpu. You need to assign use_cpu if you want to train the model on CPU.",
    # captured: diffusers==0.42.1, from_pretrained(torch_dtype=...)
    "torch_dtype_deprecated": f"""{SITE}/diffusers/utils/deprecation_utils.py:23: FutureWarning: `torch_dtype` is deprecated and will be removed in version 1.0.0. Please use `dtype` instead.
  deprecate("torch_dtype", "1.0.0", _TORCH_DTYPE_DEPRECATION_MESSAGE)""",
    # Colab's pip output, quoted in versions.md
    "stale_module": """WARNING: The following packages were previously imported in this runtime:
  [huggingface_hub]
You must restart the runtime in order to use newly installed versions.""",
}

# More verbatim variants of the same errors.
VARIANTS = [
    # captured on Python 3.13.0 (3.12 and later add the suggestion)
    ("cached_download", "ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/venv/lib/python3.13/site-packages/huggingface_hub/__init__.py). Did you mean: 'hf_hub_download'?"),
    ("flax_weights_name", "RuntimeError: Failed to import diffusers.pipelines.pipeline_utils because of the following error (look up to see its traceback): cannot import name 'FLAX_WEIGHTS_NAME' from 'transformers.utils'"),
    ("old_hub_pin", "ImportError: huggingface-hub>=1.3.0,<2.0 is required for a normal functioning of this module, but found huggingface-hub==1.2.1."),
    ("old_hub_pin", "ImportError: cannot import name 'ResolvedRevision' from 'huggingface_hub' (/x/huggingface_hub/__init__.py)"),
    ("accelerate_missing", "ImportError: enable_model_cpu_offload requires accelerate v0.17.0 or higher."),
    ("accelerate_missing", "ImportError: `enable_sequential_cpu_offload` requires `accelerate v0.14.0` or higher."),
    ("offload_no_accelerator", "RuntimeError: `enable_sequential_cpu_offload` requires accelerator, but not found"),
    ("bf16_on_t4", "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5."),
    ("torch_dtype_deprecated", "`torch_dtype` is deprecated! Use `dtype` instead!"),
    ("stale_module", "huggingface_hub 1.3.4 is loaded in this process but 1.27.0 is installed"),
    ("numpy2_abi", "UserWarning: Failed to initialize NumPy: _ARRAY_API not found (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)"),
]

def test_every_known_error_has_a_verbatim_text():
    assert set(VERBATIM) == {entry.id for entry in compat.KNOWN_ERRORS}


@pytest.mark.parametrize("error_id", sorted(VERBATIM))
def test_diagnose_recognises_the_verbatim_text(error_id):
    diagnoses = compat.diagnose(VERBATIM[error_id])
    assert [d.id for d in diagnoses] == [error_id]
    diagnosis = diagnoses[0]
    assert diagnosis.fix and diagnosis.explanation and diagnosis.sources
    assert diagnosis.evidence in VERBATIM[error_id]


@pytest.mark.parametrize("error_id,text", VARIANTS)
def test_diagnose_recognises_variants(error_id, text):
    assert [d.id for d in compat.diagnose(text)] == [error_id]


def test_diagnose_reads_versions_from_the_text():
    (diagnosis,) = compat.diagnose(VERBATIM["transformers4_hub1"])
    assert diagnosis.seen == {"huggingface_hub": "1.3.4"}
    assert diagnosis.versions == {"transformers": "<5", "huggingface_hub": ">=1.0"}
    (diagnosis,) = compat.diagnose(VERBATIM["xformers_torch_mismatch"])
    assert diagnosis.seen == {"xformers_torch": "2.8.0+cu128", "torch": "2.13.0+cpu"}


def test_a_whole_pasted_traceback_with_warnings_around_it():
    text = (
        "Loading pipeline components...: 100%|##########| 5/5 [00:02<00:00,  2.01it/s]\n"
        "/usr/local/lib/python3.12/dist-packages/torch/cuda/__init__.py:61: UserWarning: something unrelated\n"
        + VERBATIM["torch_dtype_deprecated"]
        + "\n---------------------------------------------------------------------------\n"
        + VERBATIM["cached_download"]
        + "\n\nNOTE: If your import is failing due to a missing package, you can\nmanually install it.\n"
    )
    assert [d.id for d in compat.diagnose(text)] == ["torch_dtype_deprecated", "cached_download"]


def test_unknown_and_near_miss_texts_are_not_recognised():
    assert compat.diagnose("ValueError: the image must be 1024x576") == []
    assert compat.diagnose("ImportError: cannot import name 'hf_hub_download' from 'huggingface_hub'") == []
    # torch without numpy prints "Failed to initialize NumPy" too; that is not the NumPy 2 ABI error
    assert compat.diagnose("UserWarning: Failed to initialize NumPy: No module named 'numpy'") == []


def test_oom_advice_is_svd_specific_and_never_attention_slicing():
    fix = compat.known_error("cuda_oom").fix
    for advice in ("decode_chunk_size", "expandable_segments", "enable_model_cpu_offload"):
        assert advice in fix
    assert "enable_attention_slicing" not in fix
    assert "does nothing for SVD" in fix


def test_the_data_file_is_complete():
    for entry in compat.KNOWN_ERRORS:
        assert entry.patterns and entry.title and entry.sources, entry.id
        if entry.flag_when_installed:  # doctor can only flag what the data describes
            assert entry.versions or entry.conflicts_of, entry.id


def test_in_ranges():
    assert compat.in_ranges("0.28.2", ("<0.29",))
    assert not compat.in_ranges("0.29.0", ("<0.29",))
    assert compat.in_ranges(None, ("not installed", "<0.17"))
    assert compat.in_ranges("0.16.0", ("not installed", "<0.17"))
    assert not compat.in_ranges(None, ("<0.17",))
    assert compat.in_ranges("2.13.0+cpu", (">=2.3",))


def test_check_environment_finds_the_old_pins():
    colab_with_old_pin = {"diffusers": "0.28.2", "huggingface_hub": "1.3.4", "transformers": "5.0.0", "torch": "2.9.0", "numpy": "2.0.2", "accelerate": "1.12.0"}
    assert {f.id for f in compat.check_environment(colab_with_old_pin)} == {"cached_download", "flax_weights_name"}
    wrong_fix = {**colab_with_old_pin, "huggingface_hub": "0.25.2"}
    assert {f.id for f in compat.check_environment(wrong_fix)} == {"flax_weights_name", "old_hub_pin"}
    course = {"diffusers": "0.42.1", "huggingface_hub": "2.4.0", "transformers": "5.24.0", "torch": "2.13.0", "numpy": "2.4.6", "accelerate": "1.15.0"}
    assert compat.check_environment(course) == []
    assert {f.id for f in compat.check_environment({**course, "accelerate": None})} == {"accelerate_missing"}
    assert {f.id for f in compat.check_environment({**course, "torch": "2.2.2"})} == {"numpy2_abi"}


def test_check_environment_on_this_machine_is_clean():
    assert compat.check_environment() == []


def test_a_module_loaded_at_another_version_is_reported(monkeypatch):
    import numpy

    monkeypatch.setattr(numpy, "__version__", "1.26.4")  # what the process would hold after `pip install -U numpy`
    findings = compat.check_environment()
    assert [f.id for f in findings] == ["stale_module"]
    assert "numpy 1.26.4 is loaded in this process" in findings[0].detail


def test_doctor_command():
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "svd-learn doctor" in result.output and "huggingface_hub" in result.output
    assert "No known-bad combination installed" in result.output


def test_doctor_exits_1_on_a_bad_combination(monkeypatch):
    real = compat.installed_version
    monkeypatch.setattr(compat, "installed_version", lambda name: "0.28.2" if name == "diffusers" else real(name))
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "cached_download" in result.output and "diffusers 0.28.2" in result.output


def test_explain_a_file(tmp_path):
    path = tmp_path / "error.txt"
    path.write_text(VERBATIM["cached_download"])
    result = CliRunner().invoke(app, ["explain", str(path)])
    assert result.exit_code == 0
    assert "[cached_download]" in result.output and "diffusers <0.29" in result.output and "fix:" in result.output


def test_explain_stdin():
    result = CliRunner().invoke(app, ["explain", "-"], input=VERBATIM["hf_folder"])
    assert result.exit_code == 0 and "get_token()" in result.output
    result = CliRunner().invoke(app, ["explain"], input=VERBATIM["use_auth_token"])
    assert result.exit_code == 0 and "token=" in result.output


def test_explain_says_honestly_when_it_does_not_know():
    result = CliRunner().invoke(app, ["explain", "-"], input="KeyError: 'frames'\n")
    assert result.exit_code == 1
    assert "Not recognised" in result.output


@pytest.mark.parametrize(
    "data,message",
    [(b"", "The input is empty"), (b"  \n\t\n", "The input is empty"), (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"), (b"\xff\xfe\xfa", "not UTF-8")],
)
def test_explain_refuses_empty_or_binary_input(data, message):
    result = CliRunner().invoke(app, ["explain", "-"], input=data)
    assert result.exit_code == 1
    assert message in result.output


def test_explain_missing_file():
    result = CliRunner().invoke(app, ["explain", "/no/such/error.txt"])
    assert result.exit_code == 1 and "Cannot read /no/such/error.txt" in result.output


def test_explain_list():
    result = CliRunner().invoke(app, ["explain", "--list"])
    assert result.exit_code == 0
    assert all(entry.id in result.output for entry in compat.KNOWN_ERRORS)


def test_ipython_extension_prints_the_diagnosis_under_the_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext svd_learn")
        shell.run_cell("raise ImportError(\"cannot import name 'HfFolder' from 'huggingface_hub' (/x/__init__.py)\")")
        output = capsys.readouterr().out
        assert output.index("ImportError") < output.index("svd-learn recognises this error") < output.index("[hf_folder]")
        shell.run_cell("raise ValueError('nothing known')")  # an unknown error: the traceback only
        assert "svd-learn recognises" not in capsys.readouterr().out
        shell.run_cell("%unload_ext svd_learn")
        shell.run_cell("raise ImportError(\"cannot import name 'HfFolder' from 'huggingface_hub'\")")
        assert "[hf_folder]" not in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()


def test_ipython_extension_warns_after_pip_install_when_a_restart_is_needed(capsys, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import numpy

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext svd_learn")
        capsys.readouterr()
        shell.run_cell("x = 1  # pip install numpy==2.4.6 (a comment: nothing is installed)")
        assert "loaded in this process" not in capsys.readouterr().out  # nothing stale yet
        monkeypatch.setattr(numpy, "__version__", "2.0.2")  # the process still holds the old module
        shell.run_cell("x = 1  # pip install numpy==2.4.6")
        assert "numpy 2.0.2 is loaded in this process" in capsys.readouterr().out
    finally:
        shell.run_cell("%unload_ext svd_learn")
        InteractiveShell.clear_instance()


def test_a_library_built_for_another_version_is_found_from_its_own_requirements(monkeypatch):
    # xformers pins the exact torch it was compiled for; the same check read on an installed library here:
    assert compat._unmet_requirements("transformers") == []
    real = compat.installed_version
    monkeypatch.setattr(compat, "installed_version", lambda name: "0.25.2" if name == "huggingface-hub" else real(name))
    (unmet,) = compat._unmet_requirements("transformers")
    assert unmet.startswith("transformers requires huggingface-hub") and unmet.endswith("but huggingface-hub 0.25.2 is installed")


@pytest.mark.slow  # starts a real kernel
def test_ipython_extension_in_a_real_kernel():
    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext svd_learn"),
        nbformat.v4.new_code_cell("raise ImportError(\"cannot import name 'cached_download' from 'huggingface_hub' (/x/__init__.py)\")"),
    ]
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    outputs = notebook.cells[1].outputs
    assert outputs[0].output_type == "error" and outputs[0].ename == "ImportError"
    printed = "".join(output.get("text", "") for output in outputs[1:])  # under the traceback, in the same cell
    assert "[cached_download]" in printed
    assert "matched: ImportError: cannot import name 'cached_download'" in printed  # the error line, not the source line


# Colab's preinstalled stacks (versions.md, from Colab's published pip freeze): each worked as shipped.
COLAB_STACKS = {
    "2024-11": {"torch": "2.5.0", "numpy": "1.26.4", "huggingface_hub": "0.26.2", "transformers": "4.46.2", "diffusers": "0.31.0", "accelerate": "1.1.1"},
    "2025-03": {"torch": "2.6.0", "numpy": "2.0.2", "huggingface_hub": "0.28.1", "transformers": "4.48.3", "diffusers": "0.32.2", "accelerate": "1.3.0"},
    "2026-01": {"torch": "2.9.0", "numpy": "2.0.2", "huggingface_hub": "1.3.4", "transformers": "5.0.0", "diffusers": "0.36.0", "accelerate": "1.12.0"},
    "2026-08": {"torch": "2.11.0+cu128", "numpy": "2.1.3", "huggingface_hub": "1.27.0", "transformers": "5.15.0", "diffusers": "0.39.0", "accelerate": "1.14.0"},
}


@pytest.mark.parametrize("date", sorted(COLAB_STACKS))
def test_colab_stacks_as_shipped_are_not_flagged(date):
    assert compat.check_environment(COLAB_STACKS[date]) == []


def test_an_old_svd_notebook_pin_on_each_colab_stack():
    # diffusers 0.24.0 (the first with SVD) on the 2024-11 stack: hub 0.26 removed cached_download
    assert {f.id for f in compat.check_environment({**COLAB_STACKS["2024-11"], "diffusers": "0.24.0"})} == {"cached_download"}
    # the same pin on the 2026-01 stack: hub 1.x and transformers 5 break it three ways
    found = {f.id for f in compat.check_environment({**COLAB_STACKS["2026-01"], "diffusers": "0.24.0"})}
    assert found == {"cached_download", "hf_cache_home", "flax_weights_name"}
