"""A Colab T4, for code that runs somewhere else: how long SVD takes on one.

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

The emulation the Colab rehearsal runs under (a bigger GPU that reports itself as a T4) is no part of the
course: it lives beside the rehearsal, in benchmarks/colab_t4/t4_emulation.py.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources

from svd_learn.language import Localized, joined, localized
from svd_learn.plans import get_plan

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
        basis=localized(calibration, "basis"),
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


def describe_seconds(seconds: float, note: str = "", model: TimeModel | None = None) -> Localized:
    """ "about 8.3 min (7-9 min; note)": the typical figure and the model's range, in words a lesson can print."""
    model = model or time_model()
    low, high = seconds * model.low, seconds * model.high
    note = joined(["; ", note], "") if note else ""
    if high < 90:
        range_ = f"{low:.0f}-{high:.0f} s"
        return Localized("about {seconds:.0f} s ({range}{note})", seconds=seconds, range=range_, note=note)
    typical = f"{seconds / 60:.0f}" if seconds >= 600 else f"{seconds / 60:.1f}"
    if round(high / 60) - round(low / 60) >= 2:  # whole minutes where the range is wide enough to show them
        range_ = f"{round(low / 60)}-{round(high / 60)} min"
    else:
        range_ = f"{low / 60:.1f}-{high / 60:.1f} min"
    return Localized("about {typical} min ({range}{note})", typical=typical, range=range_, note=note)


def describe_estimate(unet_steps: int, num_frames: int = 25, decoded_frames: int | None = None, **shape) -> str:
    """One line for a lesson: the estimate, labelled as one, with its basis."""
    seconds = estimate_seconds(unet_steps, num_frames, decoded_frames, **shape)
    decoded = num_frames if decoded_frames is None else decoded_frames
    steps = Localized("1 UNet step") if unet_steps == 1 else Localized("{steps} UNet steps", steps=unet_steps)
    work = Localized(
        "{steps} on {frames} frames, {decoded} decoded frames", steps=steps, frames=num_frames, decoded=decoded
    )
    note = Localized("a model checked against public T4 runs, not a measurement: {work}", work=work)
    return Localized("On a T4 with the real model: {time}", time=describe_seconds(seconds, note))


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
        joined([model.basis, data["pcie"]["source"]]),
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
    """The FLOPs and host<->GPU bytes of one call with `plan` (a plans.Plan or its name), from data/t4.toml:
    which weights each placement's hooks copy, and how often (per call, per step, per decode chunk)."""
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
        Localized("; plus {gb:.1f} GB of weights over PCIe 3.0 x16 at {rate:g} GB/s", gb=moved, rate=rates.link_gb_s)
        if moved
        else Localized("; no weights moved")
    )
    note = Localized("a model, not a measurement: {basis}{link}", basis=time_model().basis, link=link)
    return Localized("estimated on a T4: {time}", time=describe_seconds(seconds, note))


@dataclass(frozen=True)
class CompilePayback:
    """What compiling the UNet costs and saves on a T4, for one kind of compilation (data/t4.toml [compile])."""

    how: str  # "regional" or "full"
    warm_up_s: float  # measured: the first call's extra seconds, on 2 CPU cores (Colab's vCPUs may be slower)
    step_factor: float  # projected: a compiled step's T4 seconds over a plain step's
    saved_per_video_s: float  # at the video's steps and size
    videos_to_break_even: int  # the first video count whose savings exceed the warm-up

    def describe(self) -> Localized:
        return Localized(
            "--compile ({how}): the first video waits about {minutes:.0f} min for the compiler (measured on 2 CPU "
            "cores), each video then saves about {saved:.0f} s on a T4 (projected), so it pays back from video {video} "
            "on",
            how=self.how,
            minutes=self.warm_up_s / 60,
            saved=self.saved_per_video_s,
            video=self.videos_to_break_even,
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
