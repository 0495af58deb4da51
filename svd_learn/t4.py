"""A Colab T4, for code that runs somewhere else: how long SVD takes on one, and how to pretend to be one.

Two things live here, both about the GPU a learner really has:

- The time model: how long a T4 takes for a number of full-size UNet steps and decoded frames, as a typical
  figure with a range. It is a model, not a measurement, and it says so wherever it is printed:
    * the work is the real SVD-XT's FLOPs (counted with `torch.utils.flop_counter`, data/t4.toml [flops]);
    * the rates come from a projection (benchmarks/t4_profile.py): every kernel of a UNet step and of a decode,
      profiled on a bigger GPU under the T4's limits, scaled to a T4 by what bounds it (matrix work by the
      ratio of sustained matmul rates, the rest by the ratio of memory bandwidths). The UNet then runs at about
      8.7 TFLOP/s on a T4, the decode at about 4.4: a third of the T4's sustained matmul rate;
    * it is checked against the public T4 reports (data/t4.toml [[checks]]): about 9 and 10 minutes for a
      30-step SVD-XT video, where the projection gives 9.8. The range (data/t4.toml [calibration]) covers both
      reports, widened for their rounding.
  `plan_work` / `predict_seconds` do the same for one call of a memory plan, adding the weights its offload
  hooks copy between host and GPU (counted from the networks' sizes) at the T4's PCIe 3.0 x16 bandwidth, and
  `compile_payback` says after how many videos compiling the UNet pays for its warm-up.
- `install_emulation`: make a bigger NVIDIA GPU look like a T4 to the code under test, so that a lesson run
  on it makes the choices it would make on Colab. It is how the course rehearses its lessons
  (benchmarks/rehearse_colab.py); put `benchmarks/colab_t4` on PYTHONPATH with SVD_LEARN_EMULATE_T4=1 and
  every Python process started there (notebook kernels, `accelerate launch` workers) sees a T4:
    * `torch.cuda.get_device_properties` (and so `get_device_name`, `get_device_capability`) says
      "Tesla T4", 14.74 GiB, compute capability 7.5; `mem_get_info` counts against 14.74 GiB;
    * PyTorch's memory pool is capped at 14.74 GiB when CUDA starts (not at import: code that sets
      PYTORCH_CUDA_ALLOC_CONF before its first CUDA call must still get its way);
      `set_per_process_memory_fraction` is read as a fraction of the T4's memory;
    * FlashAttention and cuDNN attention are off: a T4 has only the memory-efficient and math kernels.
  What it cannot change: the speed (an H200 is about 30 times faster) and the kernels chosen for the
  bigger chip's architecture.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import tomllib
from dataclasses import dataclass
from importlib import resources

from svd_learn.environment import GIB

EMULATION_VARIABLE = "SVD_LEARN_EMULATE_T4"  # "1": install_emulation() at start-up (benchmarks/colab_t4)
REPORT_VARIABLE = "SVD_LEARN_REHEARSAL_LOG"  # a file: each process appends one JSON line at exit


# ----------------------------------------------------------------------------------------------------
# The time a T4 needs (a model, calibrated; see the module docstring)


@dataclass(frozen=True)
class TimeModel:
    """data/t4.toml: the full-size model's FLOPs, the rates a T4 runs them at, and the model's range."""

    unet_tflop_per_frame_step: float  # one denoising step, one frame, guidance batch of 2, at 576x1024
    vae_tflop_per_frame: float  # decoding one frame at 576x1024
    unet_tflops: float  # the rate a T4 runs the UNet at (the projection's)
    vae_tflops: float  # the rate a T4 decodes at, the encoders included (the projection's)
    low: float  # the range, as multiples of the typical seconds
    high: float
    basis: str  # one line: where the rates come from and how they were checked
    name: str
    memory_gib: float
    compute_capability: tuple[int, int]


def time_model() -> TimeModel:
    data = _read_data()
    flops, calibration, gpu = data["flops"], data["calibration"], data["gpu"]
    return TimeModel(
        unet_tflop_per_frame_step=flops["unet_tflop_per_frame_step"],
        vae_tflop_per_frame=flops["vae_tflop_per_frame"],
        unet_tflops=calibration["unet_tflops"],
        vae_tflops=calibration["vae_tflops"],
        low=calibration["low"],
        high=calibration["high"],
        basis=calibration["basis"],
        name=gpu["name"],
        memory_gib=gpu["memory_gib"],
        compute_capability=tuple(gpu["compute_capability"]),
    )


def estimate_seconds(
    unet_steps: int,
    num_frames: int = 25,
    decoded_frames: int | None = None,
    height: int = 576,
    width: int = 1024,
    guidance: bool = True,
) -> float:
    """The typical seconds a T4 takes for `unet_steps` full-size UNet calls on `num_frames` frames, plus decoding
    `decoded_frames` (default: all of them). Work scales with frames and pixels; without guidance
    (max_guidance_scale <= 1) the UNet sees a batch of 1 instead of 2."""
    model = time_model()
    scale = height * width / (576 * 1024)
    decoded = num_frames if decoded_frames is None else decoded_frames
    unet = unet_steps * num_frames * model.unet_tflop_per_frame_step * scale * (1 if guidance else 0.5)
    vae = decoded * model.vae_tflop_per_frame * scale
    return unet / model.unet_tflops + vae / model.vae_tflops


def describe_seconds(seconds: float, note: str = "", model: TimeModel | None = None) -> str:
    """ "about 8.3 min (7-9 min; note)": the typical figure and the model's range, in words a lesson can print."""
    model = model or time_model()
    low, high = seconds * model.low, seconds * model.high
    note = f"; {note}" if note else ""
    if high < 90:
        return f"about {seconds:.0f} s ({low:.0f}-{high:.0f} s{note})"
    typical = f"{seconds / 60:.0f}" if seconds >= 600 else f"{seconds / 60:.1f}"
    if round(high / 60) - round(low / 60) >= 2:  # whole minutes where the range is wide enough to show them
        return f"about {typical} min ({round(low / 60)}-{round(high / 60)} min{note})"
    return f"about {typical} min ({low / 60:.1f}-{high / 60:.1f} min{note})"


def describe_estimate(unet_steps: int, num_frames: int = 25, decoded_frames: int | None = None, **shape) -> str:
    """One line for a lesson: the estimate, labelled as one, with its basis."""
    seconds = estimate_seconds(unet_steps, num_frames, decoded_frames, **shape)
    decoded = num_frames if decoded_frames is None else decoded_frames
    work = f"{unet_steps} UNet step{'' if unet_steps == 1 else 's'} on {num_frames} frames, {decoded} decoded frames"
    return f"On a T4 with the real model: {describe_seconds(seconds, f'a model checked against public T4 runs, not a measurement: {work}')}"


@dataclass(frozen=True)
class Rates:
    """What the time model divides by: a GPU's rates for the UNet and the decode, and its host link's bandwidth."""

    name: str
    unet_tflops: float
    vae_tflops: float
    link_gb_s: float
    basis: str  # where the numbers come from


def t4_rates() -> Rates:
    data, model = _read_data(), time_model()
    return Rates(
        data["gpu"]["name"],
        model.unet_tflops,
        model.vae_tflops,
        data["pcie"]["bandwidth_gb_s"],
        f"{model.basis}; {data['pcie']['source']}",
    )


def _read_data() -> dict:
    return tomllib.loads(resources.files("svd_learn").joinpath("data/t4.toml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class PlanWork:
    """What one pipeline call with a memory plan asks of the GPU: FLOPs, and weight bytes over the host link."""

    plan: str
    steps: int
    unet_tflop_per_step: float  # the guidance batch of 2 when guidance is on
    vae_decode_tflop: float  # every frame, in chunks of the plan's decode_chunk_size
    bytes_to_gpu: int  # weights the offload hooks copy in during the call
    bytes_to_host: int  # weights copied back out (model offload's module.to("cpu"))
    bytes_per_step: int  # the part of bytes_to_gpu copied at every UNet step
    overlaps: bool  # the copies run beside the compute (their own CUDA stream)

    @property
    def unet_tflop(self) -> float:
        return self.unet_tflop_per_step * self.steps

    def seconds(self, rates: Rates | None = None) -> dict[str, float]:
        """Predicted seconds: compute (FLOPs / rate), transfers (bytes / bandwidth), and their total.
        Copies add to compute, except on their own stream, where each step takes the longer of the two."""
        rates = rates or t4_rates()
        link = rates.link_gb_s * 1e9
        decode = self.vae_decode_tflop / rates.vae_tflops
        compute = self.unet_tflop / rates.unet_tflops + decode
        transfer = (self.bytes_to_gpu + self.bytes_to_host) / link
        total = compute + transfer
        if self.overlaps and self.steps:
            per_step = max(self.unet_tflop_per_step / rates.unet_tflops, self.bytes_per_step / link)
            rest = (self.bytes_to_gpu + self.bytes_to_host - self.bytes_per_step * self.steps) / link
            total = per_step * self.steps + decode + rest
        return {"compute_s": compute, "transfer_s": transfer, "seconds": total}


def plan_work(
    plan, steps: int = 25, num_frames: int = 25, height: int = 576, width: int = 1024, guidance: bool = True
) -> PlanWork:
    """The FLOPs and host<->GPU bytes of one call with `plan` (a memory.Plan or its name), from data/t4.toml:
    which weights each placement's hooks copy, and how often (per call, per step, per decode chunk)."""
    from svd_learn.memory import get_plan

    plan = get_plan(plan)
    data, model = _read_data(), time_model()
    weights, moves = data["weights"], data["transfers"][plan.placement]
    scale = height * width / (576 * 1024)
    chunks = math.ceil(num_frames / min(plan.decode_chunk_size, num_frames))

    def size(key: str) -> int:
        return sum(weights[name] for name in moves.get(key, []))

    per_step = size("per_step")
    return PlanWork(
        plan=plan.name,
        steps=steps,
        unet_tflop_per_step=num_frames * model.unet_tflop_per_frame_step * scale * (1 if guidance else 0.5),
        vae_decode_tflop=num_frames * model.vae_tflop_per_frame * scale,
        bytes_to_gpu=size("per_call") + per_step * steps + size("per_decode_chunk") * chunks,
        bytes_to_host=size("back_per_call"),
        bytes_per_step=per_step,
        overlaps=moves.get("overlaps", False),
    )


def predict_seconds(
    plan, steps: int = 25, num_frames: int = 25, height: int = 576, width: int = 1024, rates: Rates | None = None
) -> float:
    """Predicted seconds of one call with `plan` on a T4 (or on the GPU `rates` describes)."""
    return plan_work(plan, steps, num_frames, height, width).seconds(rates)["seconds"]


def describe_plan_estimate(plan, steps: int = 25, num_frames: int = 25, height: int = 576, width: int = 1024) -> str:
    """ "estimated on a T4: about 8.3 min (7-9 min; a model: ...its basis...)", for `svd-learn plan` and the run
    report."""
    work, rates = plan_work(plan, steps, num_frames, height, width), t4_rates()
    seconds = work.seconds(rates)["seconds"]
    moved = (work.bytes_to_gpu + work.bytes_to_host) / 1e9
    link = (
        f"; plus {moved:.1f} GB of weights over PCIe 3.0 x16 at {rates.link_gb_s:g} GB/s"
        if moved
        else "; no weights moved"
    )
    return f"estimated on a T4: {describe_seconds(seconds, f'a model, not a measurement: {time_model().basis}{link}')}"


@dataclass(frozen=True)
class CompilePayback:
    """What compiling the UNet costs and saves on a T4, for one kind of compilation (data/t4.toml [compile])."""

    how: str  # "regional" or "full"
    warm_up_s: float  # measured: the first call's extra seconds, on 2 CPU cores (Colab's vCPUs may be slower)
    step_factor: float  # projected: a compiled step's T4 seconds over a plain step's
    saved_per_video_s: float  # at the video's steps and size
    videos_to_break_even: int  # the first video count whose savings exceed the warm-up

    def describe(self) -> str:
        return (
            f"--compile ({self.how}): the first video waits about {self.warm_up_s / 60:.0f} min for the compiler "
            f"(measured on 2 CPU cores), each video then saves about {self.saved_per_video_s:.0f} s on a T4 "
            f"(projected), so it pays back from video {self.videos_to_break_even} on"
        )


def compile_payback(
    how: str = "regional", steps: int = 25, num_frames: int = 25, height: int = 576, width: int = 1024
) -> CompilePayback:
    """After how many videos compiling the UNet pays for its warm-up on a T4 (a model: see data/t4.toml)."""
    entry = _read_data()["compile"][how]
    plain = estimate_seconds(steps, num_frames, 0, height, width)
    saved = plain * (1 - entry["step_factor"])
    videos = math.floor(entry["warm_up_s"] / saved) + 1 if saved > 0 else 0
    return CompilePayback(how, entry["warm_up_s"], entry["step_factor"], saved, videos)


def count_weight_bytes() -> dict[str, int]:
    """The fp16 bytes of each full-size SVD-XT network (and the VAE's encoder and decoder), on the meta device.
    This is where data/t4.toml's [weights] come from (tests/test_t4.py checks that they still agree)."""
    from svd_learn import models

    components = models.full_size_architecture("svd-xt")
    parts = {
        "image_encoder": components["image_encoder"],
        "unet": components["unet"],
        "vae": components["vae"],
        "vae.encoder": components["vae"].encoder,
        "vae.decoder": components["vae"].decoder,
    }
    return {name: 2 * models.count_parameters(module) for name, module in parts.items()}


def count_tflops(num_frames: int = 25, height: int = 576, width: int = 1024) -> dict[str, float]:
    """Count the full-size SVD-XT's FLOPs with torch.utils.flop_counter on the meta device (no memory, no
    weights; about 10 s on a CPU): one UNet step with the guidance batch of 2, and one decoded frame.
    This is where data/t4.toml's FLOPs come from (tests/test_t4.py checks that they still agree)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from svd_learn import models

    components = models.full_size_architecture("svd-xt")
    unet, vae = components["unet"].to("meta"), components["vae"].to("meta")  # .to: buffers made on the CPU too
    latent_h, latent_w = height // 8, width // 8
    with torch.device("meta"):
        with FlopCounterMode(display=False) as unet_count:
            unet(
                torch.randn(2, num_frames, 8, latent_h, latent_w),
                torch.ones(2),
                torch.randn(2, 1, 1024),
                torch.randn(2, 3),
            )
        with FlopCounterMode(display=False) as vae_count:
            vae.decode(torch.randn(num_frames, 4, latent_h, latent_w), num_frames=num_frames)
    return {
        "unet_tflop_per_frame_step": unet_count.get_total_flops() / 1e12 / num_frames,
        "vae_tflop_per_frame": vae_count.get_total_flops() / 1e12 / num_frames,
    }


# ----------------------------------------------------------------------------------------------------
# Pretending to be a T4 (for rehearsals on a bigger GPU)


class _T4Properties:
    """The real device's properties, with a T4's name, memory and compute capability."""

    def __init__(self, real, model: TimeModel):
        self._real = real
        self.name = model.name
        self.total_memory = int(model.memory_gib * GIB)
        self.major, self.minor = model.compute_capability

    def __getattr__(self, attribute):
        return getattr(self._real, attribute)

    def __repr__(self):
        return f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, total_memory={self.total_memory // 2**20}MB)"


def patch_cuda(cuda, model: TimeModel | None = None) -> None:
    """Make the module `cuda` (torch.cuda) report a T4. Separate from install_emulation so it can be tested
    on a stand-in module, on machines without a GPU."""
    model = model or time_model()
    t4_bytes = int(model.memory_gib * GIB)
    real_properties = cuda.get_device_properties
    real_fraction = cuda.set_per_process_memory_fraction
    real_mem_get_info = cuda.mem_get_info

    def get_device_properties(device=None):
        return _T4Properties(real_properties(device), model)

    def set_per_process_memory_fraction(fraction, device=None):
        real_total = real_properties(device).total_memory
        real_fraction(min(1.0, float(fraction) * t4_bytes / real_total), device)

    def mem_get_info(device=None):
        free, _ = real_mem_get_info(device)
        return min(free, max(0, t4_bytes - cuda.memory_reserved(device))), t4_bytes

    def cap_when_cuda_starts():
        real_fraction(min(1.0, t4_bytes / real_properties(0).total_memory), 0)

    for module in (cuda, getattr(cuda, "memory", None)):
        if module is None:
            continue
        for name, function in (
            ("get_device_properties", get_device_properties),
            ("mem_get_info", mem_get_info),
            ("set_per_process_memory_fraction", set_per_process_memory_fraction),
        ):
            if hasattr(module, name):
                setattr(module, name, function)
    cuda._lazy_call(cap_when_cuda_starts)


def install_emulation() -> None:
    """Emulate a T4 in this process (see the module docstring), and record what it ran (see `_report`)."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("T4 emulation needs a CUDA GPU to cap; this machine has none.")
    patch_cuda(torch.cuda)
    torch.backends.cuda.enable_flash_sdp(False)  # flags only: CUDA does not start here
    torch.backends.cuda.enable_cudnn_sdp(False)
    torch.nn.modules.module.register_module_forward_pre_hook(_count_full_size_work)
    _keep_peak_across_resets(torch.cuda)
    atexit.register(_report)


_WORK = {"full_size_unet_steps": 0, "estimated_t4_seconds": 0.0}  # what this process asked of the full-size model
_PEAK_BEFORE_RESETS = {"reserved": 0}  # code under test resets the peak statistics to measure one call


def _keep_peak_across_resets(cuda) -> None:
    """Remember the peak reserved memory each time code resets the statistics, so the process's peak survives."""
    real_reset = cuda.reset_peak_memory_stats

    def reset_peak_memory_stats(device=None):
        if cuda.is_initialized():
            _PEAK_BEFORE_RESETS["reserved"] = max(_PEAK_BEFORE_RESETS["reserved"], cuda.max_memory_reserved(device))
        real_reset(device)

    for module in (cuda, getattr(cuda, "memory", None)):
        if module is not None and hasattr(module, "reset_peak_memory_stats"):
            module.reset_peak_memory_stats = reset_peak_memory_stats


def _count_full_size_work(module, args):
    """A forward pre-hook on every module: count the full-size UNet's steps, and the T4 seconds (estimated from
    FLOPs) of every full-size UNet step and VAE decode, at the shapes the call really had."""
    kind = type(module).__name__
    if kind == "UNetSpatioTemporalConditionModel" and module.config.block_out_channels[-1] >= 1280 and args:
        batch, frames, _, height, width = args[0].shape
        _WORK["full_size_unet_steps"] += 1
        _WORK["estimated_t4_seconds"] += estimate_seconds(1, frames, 0, 8 * height, 8 * width, guidance=batch == 2)
    elif kind == "TemporalDecoder" and module.conv_in.out_channels >= 512 and args:
        frames, _, height, width = args[0].shape
        _WORK["estimated_t4_seconds"] += estimate_seconds(0, frames, frames, 8 * height, 8 * width)


def _report() -> None:
    """At exit: append this process's full-size work, CUDA peak and host peak to $SVD_LEARN_REHEARSAL_LOG."""
    path = os.environ.get(REPORT_VARIABLE)
    if not path:
        return
    import torch

    from svd_learn.memory import host_peak_rss_gib

    record = {
        "pid": os.getpid(),
        **_WORK,
        "cuda_peak_reserved_gib": round(max(_PEAK_BEFORE_RESETS["reserved"], torch.cuda.max_memory_reserved()) / GIB, 2)
        if torch.cuda.is_initialized()
        else 0.0,
        "host_peak_gib": round(host_peak_rss_gib(), 2),
    }
    with open(path, "a") as log:
        log.write(json.dumps(record) + "\n")
