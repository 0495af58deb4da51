"""releases.py and data/release_history.json: the release history of the four libraries' public names."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from svd_learn import releases

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "svd_learn" / "data" / "release_history.json"


def _build_script():
    if str(ROOT / "tools") not in sys.path:  # the script imports its sibling, tools/message_templates.py
        sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("build_release_history", ROOT / "tools" / "build_release_history.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_file_is_small_and_covers_every_release_since_svd():
    assert DATA.stat().st_size <= 2_000_000
    build = _build_script()
    for library, first in build.FIRST_RELEASE.items():
        covered = releases.releases(library)
        assert covered[0] == first, library
        assert len(covered) == len(set(covered)) and len(covered) > 20, library
    assert "0.24.0" in releases.releases("diffusers") and "1.0.0" in releases.releases("huggingface_hub")


def test_cached_download_removed_in_hub_0_26():
    history = releases.name_history("huggingface_hub", "cached_download")
    assert history.last == "0.25.2" and history.removed_in == "0.26.0"
    assert history.holds_in("0.25.2") and not history.holds_in("0.26.0")
    assert history.holds_in("0.18.0") is None  # older than the history: not known
    assert "removed in 0.26.0" in history.describe()


def test_what_diffusers_asks_of_huggingface_hub():
    asking = releases.last_asking("diffusers", "huggingface_hub", "cached_download")
    assert asking.first == "0.24.0" and asking.last == "0.28.2" and asking.removed_in == "0.29.0"
    assert releases.name_history("huggingface_hub.constants", "hf_cache_home").removed_in == "1.0.0"


def test_a_name_added_later():
    history = releases.name_history("diffusers", "StableVideoDiffusionPipeline")
    assert (
        history.first == "0.24.0" and history.added_in is None and history.removed_in is None
    )  # in every covered release


def test_module_paths_of_diffusers():
    assert releases.module_history("diffusers.models.unets.unet_spatio_temporal_condition").added_in == "0.26.0"
    assert releases.modules_named("diffusers", "unet_spatio_temporal_condition") == [
        "diffusers.models.unets.unet_spatio_temporal_condition"
    ]


def test_parameters_of_the_functions_learners_call():
    (hub,) = releases.parameter_history("hf_hub_download", "use_auth_token") or [None]
    assert hub is None or hub.removed_in is not None  # if it was ever there, it is gone
    (token,) = releases.parameter_history("hf_hub_download", "token")
    assert token.removed_in is None
    assert releases.parameter_history("hf_hub_download", "no_such_keyword") == []


def test_a_submodule_counts_as_a_name():
    history = releases.name_history("huggingface_hub", "constants")
    assert history is not None and history.removed_in is None


def test_unknown_facts_are_none():
    assert releases.name_history("huggingface_hub", "no_such_name") is None
    assert releases.name_history("torch", "zeros") is None  # not a tracked library
    assert releases.releases("torch") == []


def test_spans_round_trip():
    build = _build_script()
    covered = ["1", "2", "3", "4", "5"]
    assert build.spans([0, 1, 2, 4], covered) == "1..3,5"
    assert releases.unpack("1..3,5", tuple(covered)) == ("1", "2", "3", "5")


SAMPLE = [
    ("huggingface_hub", "0.25.2"),
    ("huggingface_hub", "0.26.0"),
    ("diffusers", "0.28.2"),
    ("accelerate", "1.0.0"),
    ("transformers", "4.57.1"),
]


@pytest.mark.slow
@pytest.mark.parametrize("library,version", SAMPLE)
def test_rebuilding_a_release_gives_the_same_facts(library, version):
    """Reads the real wheel again (from the build's cache, downloaded when missing) and compares every fact."""
    build = _build_script()
    cache = Path(os.environ.get("SVD_LEARN_WHEELS", "/tmp/svd-learn-wheels"))
    wheel = build.cached_wheel(cache, library, version) or build.download(cache, library, version)
    if wheel is None:
        pytest.skip(f"cannot download {library} {version} from the package registry")
    rebuilt = build.read_wheel(wheel, library)
    for kind, facts in rebuilt.items():
        held = {
            fact for fact in releases._facts(library, kind) if releases.history(library, kind, fact).holds_in(version)
        }
        assert held == facts, (kind, sorted(held ^ facts)[:10])
