"""messages.py and data/messages.json: which library and function raise a message, and in which releases.

The messages looked up here are the libraries' own (from their source), with values filled in for these tests.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from svd_learn import messages

ROOT = Path(__file__).resolve().parent.parent


def test_a_message_says_who_raises_it_and_in_which_releases():
    (source, *_) = messages.sources_of(
        "ImportError: Using `low_cpu_mem_usage=True` or a `device_map` requires Accelerate: `pip install accelerate`"
    )
    assert source.library == "transformers" and source.raiser.endswith("PreTrainedModel.from_pretrained")
    assert source.kind == "ImportError"
    assert source.held_in[0] == "4.35.0" and "not in" in source.span()  # later releases word it otherwise


def test_the_values_of_a_template_match_anything():
    text = "huggingface-hub>=0.34.0,<1.0 is required for a normal functioning of this module, but found huggingface-hub==1.3.4."
    assert {source.library for source in messages.sources_of(text)} >= {"transformers"}


def test_torch_python_and_cpp_messages():
    (cuda, *_) = messages.sources_of("AssertionError: Torch not compiled with CUDA enabled")
    assert cuda.library == "torch" and cuda.raiser == "torch.cuda:_lazy_init"
    assert cuda.held_in == cuda.covered  # every Colab release of torch
    (oom, *_) = messages.sources_of("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.25 GiB.")
    assert oom.raiser.startswith("c10/cuda/CUDACachingAllocator.cpp") and "torch's" in oom.where()


def test_numpy_2_abi_message():
    text = "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash."
    (source, *_) = messages.sources_of(text)
    assert source.library == "numpy" and source.held_in[0].startswith("2.")


def test_a_deprecation_names_its_caller():
    text = (
        "FutureWarning: `torch_dtype` is deprecated and will be removed in version 1.0.0. Please use `dtype` instead."
    )
    libraries = {source.library for source in messages.sources_of(text)}
    assert "diffusers" in libraries


def test_unknown_text_finds_nothing():
    assert messages.sources_of("ValueError: the image must be 1024x576 for this model") == []
    assert messages.sources_of("") == []


def test_the_index_loads_only_when_asked():
    code = "import svd_learn.compat, svd_learn.messages as m; print(m._index.cache_info().currsize)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"


def test_package_data_stays_small():
    data = ROOT / "svd_learn" / "data"
    assert (data / "messages.json").stat().st_size <= 3_500_000
    assert sum(path.stat().st_size for path in data.rglob("*") if path.is_file()) <= 5_000_000


def _build_script():
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("build_release_history", ROOT / "tools" / "build_release_history.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # downloads the wheels when the build's cache lacks them (torch's: 60 MB)
@pytest.mark.parametrize(
    "library,version", [("huggingface_hub", "1.3.4"), ("diffusers", "0.35.1"), ("numpy", "2.0.2"), ("torch", "2.6.0")]
)
def test_rebuilding_a_release_gives_the_same_messages(library, version):
    build = _build_script()
    cache = Path(os.environ.get("SVD_LEARN_WHEELS", "/tmp/svd-learn-wheels"))
    fetch = build.download_from_any_platform if library in build.COLAB_RELEASES else build.download
    wheel = build.cached_wheel(cache, library, version) or fetch(cache, library, version)
    if wheel is None:
        pytest.skip(f"cannot download {library} {version} from the package registry")
    rebuilt = {tuple(fact.split("\t")) for fact in build.read_messages(wheel, library)}
    rows, _ = messages._index()
    stored = {(t, kind, raiser) for lib, t, kind, raiser, held, _ in rows if lib == library and version in held}
    written_by_hand = {row for row in stored if ":" not in row[2]}  # torch's C++ messages (torch_cpp_messages.toml)
    assert rebuilt == stored - written_by_hand
