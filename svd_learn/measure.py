"""One pipeline call, measured: the one timed call of the course.

The capstone's session makes every video with `measure_call`, Lesson 4 measures the memory plans with it, and
benchmarks/speedups.py times its candidates with it. It runs `pipe(image, **params.pipeline_kwargs())` with a
CPU generator seeded by `params.seed` (the same noise on any device) and a step callback that marks the end of
each denoising step (after synchronising the GPU), reports progress, stops at a step boundary when asked, and
splits the GPU's peak memory into denoising and decoding. `trace_placement` records where each network sat.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from svd_learn.environment import GIB
from svd_learn.language import Localized
from svd_learn.memory import host_peak_rss_gib
from svd_learn.models import MODEL_COMPONENTS


class StopRequested(Exception):
    """A call stopped between two denoising steps because its caller asked (an app's Stop button). Nothing was
    decoded, so nothing is written."""


@dataclass
class Measurement:
    """One pipeline call, measured. Memory in GiB, times in seconds; GPU fields are None on a CPU."""

    num_frames: int
    height: int
    width: int
    steps: int
    decode_chunk_size: int
    seconds: float  # the whole call
    step_seconds: list[float]  # each denoising step; the first includes encoding the image and preparing latents
    seconds_per_step: float  # the median step (the first left out, unless it is the only one)
    prepare_seconds: float  # the first step minus a median one: encoders, latents
    denoise_seconds: float  # from the call's start to the end of the last step
    decode_seconds: float  # from the end of the last step to the end of the call (VAE decode, postprocessing)
    host_rss_gib: float  # the process's peak host memory so far (loading included)
    peak_allocated_gib: float | None = None
    peak_reserved_gib: float | None = None
    denoise_peak_allocated_gib: float | None = None  # encoders + denoising steps
    denoise_peak_reserved_gib: float | None = None
    decode_peak_allocated_gib: float | None = None  # VAE decode (the peak counters are reset after the last step)
    decode_peak_reserved_gib: float | None = None
    placement: list = field(default_factory=list)  # (stage, {component: place}) rows, with trace=True
    frames_finite: bool | None = None  # no NaN or inf in the frames (None for PIL images, which cannot hold them)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MeasuredCall:
    """What one call gave: the pipeline's frames (`.frames`: one list or tensor per video), its measurement, and
    the latents after the last step (on the CPU, with keep_latents=True)."""

    frames: Any
    measurement: Measurement
    latents: Any = None


def measure_call(
    pipe,
    image,
    params,
    *,
    device,
    output_type: str = "pil",
    on_step: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_latents: bool = False,
    trace: bool = False,
) -> MeasuredCall:
    """Call `pipe` once with `params` (a GenerationParameters; a decode_chunk_size of None decodes every frame at
    once, as diffusers does) and measure memory and time. `device` is the one the call computes on (its GPU's
    counters are read). `on_step(step, total)` runs after each denoising step; `should_stop()` is asked at each
    step, and True ends the call there with StopRequested. `trace` records where each network sat.

    Raises torch.OutOfMemoryError (or any error) like the call itself, with a note saying at which stage.
    """
    device = torch.device(device)
    clock = _StepClock(device, params.num_inference_steps, on_step, should_stop, keep_latents)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    tracing = trace_placement(pipe) if trace else contextlib.nullcontext([])
    with tracing as placement:
        _synchronize(device)
        started = time.perf_counter()
        try:
            output = pipe(
                image,
                **params.pipeline_kwargs(),
                generator=torch.Generator("cpu").manual_seed(params.seed),
                output_type=output_type,
                callback_on_step_end=clock,
            )
        except Exception as error:
            if not isinstance(error, StopRequested):
                error.add_note(clock.stage())
            raise
        _synchronize(device)
        ended = time.perf_counter()
    num_frames = params.num_frames or pipe.unet.config.num_frames  # None: the UNet's, as diffusers reads it
    measurement = clock.measurement(params, num_frames, started, ended)
    measurement.placement = placement
    if isinstance(output.frames, torch.Tensor):
        measurement.frames_finite = bool(torch.isfinite(output.frames).all())
    return MeasuredCall(output.frames, measurement, clock.latents)


class _StepClock:
    """The step callback of one call: the end of each step, progress, stop requests, the last latents, and the
    GPU's peak split at the end of denoising."""

    def __init__(self, device, steps: int, on_step, should_stop, keep_latents: bool):
        self.device, self.steps = device, steps
        self.on_step, self.should_stop, self.keep_latents = on_step, should_stop, keep_latents
        self.ends: list[float] = []
        self.denoise_peaks: tuple[float, float] | None = None  # (allocated, reserved) GiB
        self.latents = None

    def __call__(self, pipeline, step, timestep, tensors):
        _synchronize(self.device)
        self.ends.append(time.perf_counter())
        if self.should_stop is not None and self.should_stop():
            raise StopRequested(
                Localized("stopped after {step} of {steps} steps, as asked", step=step + 1, steps=self.steps)
            )
        if self.on_step is not None:
            self.on_step(step + 1, self.steps)
        if step + 1 == self.steps:
            if self.keep_latents:
                self.latents = tensors["latents"].detach().to("cpu", copy=True)
            if self.device.type == "cuda":  # split the peak: denoising until here, decoding after
                self.denoise_peaks = _peaks(self.device)
                torch.cuda.reset_peak_memory_stats(self.device)
        return tensors

    def stage(self) -> str:
        """Where the call was, for an error's note."""
        stage = "in the VAE decode" if len(self.ends) == self.steps else "while denoising"
        return f"{stage}, after {len(self.ends)} of {self.steps} steps"

    def measurement(self, params, num_frames: int, started: float, ended: float) -> Measurement:
        step_seconds = [b - a for a, b in zip([started, *self.ends], self.ends)] or [ended - started]
        median = statistics.median(step_seconds[1:] or step_seconds)
        denoised = self.ends[-1] if self.ends else ended
        measurement = Measurement(
            num_frames=num_frames,
            height=params.height,
            width=params.width,
            steps=self.steps,
            decode_chunk_size=min(params.decode_chunk_size or num_frames, num_frames),
            seconds=ended - started,
            step_seconds=step_seconds,
            seconds_per_step=median,
            prepare_seconds=max(0.0, step_seconds[0] - median),
            denoise_seconds=denoised - started,
            decode_seconds=ended - denoised,
            host_rss_gib=host_peak_rss_gib(),
        )
        if self.device.type == "cuda":
            denoise, decode = self.denoise_peaks or (0.0, 0.0), _peaks(self.device)
            measurement.denoise_peak_allocated_gib, measurement.denoise_peak_reserved_gib = denoise
            measurement.decode_peak_allocated_gib, measurement.decode_peak_reserved_gib = decode
            measurement.peak_allocated_gib = max(denoise[0], decode[0])
            measurement.peak_reserved_gib = max(denoise[1], decode[1])
        return measurement


def _peaks(device) -> tuple[float, float]:
    """The GPU's peak allocated and reserved memory since the last reset, in GiB."""
    return torch.cuda.max_memory_allocated(device) / GIB, torch.cuda.max_memory_reserved(device) / GIB


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA out-of-memory, as torch raises it (OutOfMemoryError) or as a RuntimeError from a kernel."""
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


# ----------------------------------------------------------------------------------------------------
# Where the networks sit during a call


def _where(module: torch.nn.Module) -> str:
    """Where a network's weights are: 'cuda', 'cpu', 'meta' (sequential offload parks them there), or a mix."""
    sizes: dict[str, int] = {}
    for parameter in module.parameters():
        sizes[parameter.device.type] = sizes.get(parameter.device.type, 0) + parameter.numel()
    total = sum(sizes.values())
    if len(sizes) == 1:
        return next(iter(sizes))
    return "+".join(f"{kind} {100 * n / total:.0f}%" for kind, n in sorted(sizes.items(), key=lambda kv: -kv[1]))


@contextlib.contextmanager
def trace_placement(pipe):
    """Record where each network sits each time one of them finishes a forward call.

    Yields a list that fills with (stage, {component: place}) rows; repeats of the same row (the UNet runs
    once per step) are merged. A forward hook runs after any offload hook has moved the weights in.
    """
    rows: list[tuple[str, dict[str, str]]] = []
    modules = {name: getattr(pipe, name) for name in MODEL_COMPONENTS}
    # The pipeline calls vae.encode()/vae.decode(), never vae.forward(): hook the VAE's encoder and decoder.
    stages = {
        "image_encoder": pipe.image_encoder,
        "vae encode": pipe.vae.encoder,
        "unet": pipe.unet,
        "vae decode": pipe.vae.decoder,
    }

    def record(stage):
        def hook(module, args, output):
            row = (stage, {name: _where(m) for name, m in modules.items()})
            if not rows or rows[-1] != row:
                rows.append(row)

        return hook

    handles = [module.register_forward_hook(record(stage)) for stage, module in stages.items()]
    try:
        yield rows
    finally:
        for handle in handles:
            handle.remove()
        rows.append(("after the call", {name: _where(m) for name, m in modules.items()}))
