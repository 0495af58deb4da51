"""What the libraries print on every run that a learner cannot act on, silenced in one place: `quiet_libraries`.

Every session calls it (`svd-learn generate`, `svd-learn batch`, an app, `generate_video` in a notebook), before it
builds or loads weights. Each message below was read where the library prints it; only that message is dropped:

- diffusers' and transformers' loading bars ("Loading pipeline components", "Loading weights"): nested bars print
  raw cursor escapes where the output is not a terminal (a log, `accelerate launch`'s workers). The download bars
  of huggingface_hub stay: a 4.5 GB download should show its progress.
- transformers' "`CLIPImageProcessor` requires torchvision (not installed); falling back to ..." (its
  utils/import_utils.py): the PIL image processor it falls back to is the one the course uses.
- diffusers' "There are modules in AutoencoderKLTemporalDecoder that should be kept in float32: []. Casting directly
  with `to()` can lead to inconsistent results ..." (`ModelMixin.to` in models/modeling_utils.py, diffusers 0.39 and
  later): it warns on every cast to a dtype, even when the list of modules to keep is empty, and the SVD pipeline
  casts its fp16 VAE to float32 and back three times per video (`needs_upcasting` in
  pipeline_stable_video_diffusion.py). With an empty list there is nothing to keep: only that form is dropped.
- diffusers 0.39's "Flax classes are deprecated and will be removed in Diffusers v0.40.0 ...": the class bodies of
  models/embeddings_flax.py log it when diffusers imports its Flax models, which it does where jax and flax are
  installed (Colab ships both). The course uses no Flax class. (In a notebook that imported diffusers before, it
  has already been printed once: it says nothing about the course's code.)
- diffusers 0.36's "CUDA is not available or torch_xla is imported. Disabling autocast." (a UserWarning of
  models/transformers/transformer_kandinsky.py, a model the course never uses): printed at import on a machine
  without CUDA, twice, and once more by every process of `accelerate launch`.
"""

from __future__ import annotations

import logging
import warnings

# logger name -> the start of the messages it prints that say nothing a learner can act on
NOISE = {
    "transformers.utils.import_utils": ("`CLIPImageProcessor` requires torchvision (not installed)",),
    "diffusers.models.modeling_utils": (
        "There are modules in AutoencoderKLTemporalDecoder that should be kept in float32: []",
    ),
    "diffusers.models.embeddings_flax": ("Flax classes are deprecated",),
}

# the start of the Python warnings (warnings.warn, UserWarning) that say nothing a learner can act on
NOISE_WARNINGS = ("CUDA is not available or torch_xla is imported",)


class _DropNoise(logging.Filter):
    """Drops a logger's records that begin with one of its NOISE prefixes."""

    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


_FILTERS = {name: _DropNoise(prefixes) for name, prefixes in NOISE.items()}


def quiet_libraries() -> None:
    """Drop the messages of NOISE and turn off the loading bars of diffusers and transformers (see the module's
    docstring for each); idempotent. Filters are set by logger name, so they work before the library is imported
    (the Flax notice is printed at import)."""
    for name, noise in _FILTERS.items():
        logging.getLogger(name).addFilter(noise)  # the same filter twice is kept once
    for start in NOISE_WARNINGS:  # an identical filter is not added twice
        warnings.filterwarnings("ignore", message=start, category=UserWarning)
    from diffusers.utils import logging as diffusers_logging  # (imports diffusers: seconds, so only here)
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
