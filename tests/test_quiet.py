"""svd_learn.quiet: the library messages a learner cannot act on are dropped, each where it is printed, and
nothing else is."""

import logging
import warnings

import diffusers
import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder
from diffusers.utils import logging as diffusers_logging
from packaging.version import Version
from transformers.utils import logging as transformers_logging

from svd_learn import models, quiet


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def seen(monkeypatch):
    """What reaches the handlers of diffusers and transformers (which do not propagate to the root logger), with
    the noise filters off until the test calls quiet_libraries; the loading bars are back on afterwards."""
    collect = Collect()
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_warning()  # the tests run transformers at "error" (conftest)
    for name in quiet.NOISE:
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    diffusers_logging.get_logger("diffusers").addHandler(collect)
    transformers_logging.get_logger("transformers").addHandler(collect)
    yield collect.messages
    diffusers_logging.get_logger("diffusers").removeHandler(collect)
    transformers_logging.get_logger("transformers").removeHandler(collect)
    transformers_logging.set_verbosity(verbosity)
    diffusers_logging.enable_progress_bar()
    transformers_logging.enable_progress_bar()


def test_the_vae_cast_warning_with_nothing_to_keep_in_float32_is_dropped(seen):
    vae = AutoencoderKLTemporalDecoder.from_config(models._model_config(models.tiny_configs()["vae"]))
    vae.to(dtype=torch.float16)  # what the SVD pipeline does three times a video (fp16 VAE, force_upcast)
    warned = any("should be kept in float32: []" in message for message in seen)  # diffusers >= 0.39 warns
    quiet.quiet_libraries()
    seen.clear()
    vae.to(dtype=torch.float32)
    assert not [message for message in seen if "kept in float32" in message], seen
    assert warned or Version(diffusers.__version__).release < (0, 39)  # printed from diffusers 0.39 on


def test_each_kind_of_noise_is_dropped_where_it_is_printed_and_nothing_else(seen):
    quiet.quiet_libraries()
    flax = "Flax classes are deprecated and will be removed in Diffusers v0.40.0. We recommend migrating ..."
    logging.getLogger("diffusers.models.embeddings_flax").warning(flax)
    torchvision = "`CLIPImageProcessor` requires torchvision (not installed); falling back to `CLIPImageProcessorPil`"
    logging.getLogger("transformers.utils.import_utils").warning(torchvision)
    kept = "There are modules in AutoencoderKLTemporalDecoder that should be kept in float32: ['decoder']. Casting"
    logging.getLogger("diffusers.models.modeling_utils").warning(kept)  # a real list: worth reading
    logging.getLogger("transformers.utils.import_utils").warning("something else")
    assert seen == [kept, "something else"]


def test_the_loading_bars_are_off_and_quieting_twice_adds_no_second_filter(seen):
    quiet.quiet_libraries()
    quiet.quiet_libraries()
    assert not diffusers_logging.is_progress_bar_enabled() and not transformers_logging.is_progress_bar_enabled()
    assert all(len(logging.getLogger(name).filters) == 1 for name in quiet.NOISE)


@pytest.mark.parametrize("bars_on", [False, True])
def test_building_tiny_weights_leaves_the_loading_bars_as_it_found_them(seen, tmp_path, bars_on):
    # The first `svd-learn generate` builds the tiny weights inside its session: turning the bars back on there
    # printed transformers' "Loading weights" bar on that run only.
    quiet.quiet_libraries()
    if bars_on:
        transformers_logging.enable_progress_bar()
    models.build_tiny_pipeline(tmp_path / "tiny")
    assert transformers_logging.is_progress_bar_enabled() is bars_on


def test_diffusers_kandinsky_autocast_warning_is_dropped_and_other_warnings_are_kept():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.quiet_libraries()
        autocast = "CUDA is not available or torch_xla is imported. Disabling autocast."  # diffusers 0.36
        warnings.warn(autocast, UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]
