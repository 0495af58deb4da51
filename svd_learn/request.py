"""Lesson 5's step 1: every input of a run checked before anything is built, loaded, downloaded or even imported.

Two checks, both without torch or diffusers (seconds to import), so that a mistake costs a fraction of a second:

- `check_arguments`: what needs nothing of the machine or the weights: the outputs (run.Outputs.check) and the
  smoother copy's frame rate, the image file, the model and source (models.check_model), the memory plan's name,
  a GPU cap's size, and the parameters' values. `svd-learn generate` calls it before it imports the generation code; `generate_video` calls it first.
- `video_request`: one video's inputs for the chosen weights: the parameters filled for the checkpoint and
  validated, the image loaded and prepared to their size (`generate_video` and each job of a batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from svd_learn import models, parameters, planner
from svd_learn.checkpoints import DEFAULT_CHECKPOINT, get_checkpoint
from svd_learn.parameters import GenerationParameters
from svd_learn.plans import get_plan
from svd_learn.run import Outputs, RunSpec
from svd_learn.video import check_smooth

if TYPE_CHECKING:
    from svd_learn.models import ModelChoice


def check_arguments(
    image: str | Path, output: str | Path, report: str | Path | None, params: GenerationParameters, spec: RunSpec
) -> Outputs:
    """Refuse a run whose arguments cannot work, whatever the machine and the weights (an errors.UserError that
    says what to do); return its checked outputs. Nothing is created, built or imported that takes seconds."""
    outputs = Outputs.check(output, report, spec.gif, spec.force, spec.smooth_fps)
    if spec.smooth_fps is not None:
        check_smooth(spec.smooth_fps, params.fps)
    models.check_model(spec.model, spec.source)
    if spec.plan != "auto":
        get_plan(spec.plan)
    if spec.vram_budget_gib is not None:
        planner.check_gpu_size(spec.vram_budget_gib, "--vram-budget")
    size = get_checkpoint(DEFAULT_CHECKPOINT)  # a valid size: the size's rules are the chosen weights' (video_request)
    replace(params, height=size.height, width=size.width).validate()
    parameters.load_image(image)
    return outputs


@dataclass(frozen=True)
class VideoRequest:
    """One video to make, checked: the image (its path for the report, and the picture prepared to the size),
    the parameters filled for the checkpoint, their warnings, and where to write."""

    image: str
    picture: object = field(repr=False)  # a PIL image of exactly params.width x params.height
    params: GenerationParameters
    warnings: tuple[str, ...]
    outputs: Outputs


def video_request(image, params: GenerationParameters, choice: ModelChoice, outputs: Outputs, notes=()) -> VideoRequest:
    """Check one video's inputs for these weights: the parameters (checked_parameters) and the image, loaded and
    prepared to their size (ImageError if it cannot be). Returns the request, with the parameters' warnings and
    `notes` to record."""
    params, warnings = checked_parameters(params, choice)
    if outputs.smooth_fps is not None:
        check_smooth(outputs.smooth_fps, params.fps)
    original = parameters.load_image(image, height=params.height, width=params.width)
    picture = parameters.prepare_image(original, params.height, params.width)
    return VideoRequest(str(image), picture, params, (*warnings, *notes), outputs)


def checked_parameters(params: GenerationParameters, choice: ModelChoice) -> tuple[GenerationParameters, list[str]]:
    """`params` for these weights, validated (ParameterError), and their warnings: the checkpoint's frame count
    where num_frames is None, and tiny weights at their own trained size (the real one / 8)."""
    params = params.for_checkpoint(choice.checkpoint.name)
    if choice.source == "tiny":
        params = replace(params, height=models.TINY_SIZE[0], width=models.TINY_SIZE[1])
    warnings = params.validate(choice.checkpoint.name)
    if choice.source == "tiny":  # tiny weights were "trained" at TINY_SIZE: the size warnings do not apply
        warnings = [w for w in warnings if w.split("=")[0] not in ("height", "width")]
    return params, warnings
