"""A Colab T4, for code that runs somewhere else: how long SVD takes on one.

- `estimate_seconds`: the time a T4 needs for a number of full-size UNet steps and decoded frames. It is an
  estimate, not a measurement: the FLOPs of the real SVD-XT architecture (counted with
  `torch.utils.flop_counter`, data/t4.toml) divided by the rate a T4 sustains on fp16 matrix products under
  its 70 W power cap. Real layers run below that rate, so the true time is longer: read it as "at least".
  `plan_work` / `predict_seconds` do the same for one call of a memory plan, adding the weights its offload
  hooks copy between host and GPU (counted from the networks' sizes) at the T4's PCIe 3.0 x16 bandwidth.

The emulation the Colab rehearsal runs under (a bigger GPU that reports itself as a T4) is no part of the
course: it lives beside the rehearsal, in benchmarks/colab_t4/t4_emulation.py.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from svd_learn.plans import get_plan

# ----------------------------------------------------------------------------------------------------
# The time a T4 needs (an estimate)


@dataclass(frozen=True)
class TimeModel:
    """data/t4.toml: FLOPs of the full-size model, and the T4 rate they are divided by."""

    unet_tflop_per_frame_step: float  # one denoising step, one frame, guidance batch of 2, at 576x1024
    vae_tflop_per_frame: float  # decoding one frame at 576x1024
    sustained_tflops: float  # fp16 matrix products on a T4 under its power cap
    source: str  # where that rate comes from
    name: str
    memory_gib: float
    compute_capability: tuple[int, int]


def time_model() -> TimeModel:
    data = _read_data()
    flops, rate, gpu = data["flops"], data["rate"], data["gpu"]
    return TimeModel(
        unet_tflop_per_frame_step=flops["unet_tflop_per_frame_step"],
        vae_tflop_per_frame=flops["vae_tflop_per_frame"],
        sustained_tflops=rate["sustained_fp16_tflops"],
        source=rate["source"],
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
    """At least how many seconds a T4 computes for `unet_steps` full-size UNet calls on `num_frames` frames,
    plus decoding `decoded_frames` (default: all of them). FLOPs scale with frames and pixels; without
    guidance (max_guidance_scale <= 1) the UNet sees a batch of 1 instead of 2."""
    model = time_model()
    scale = height * width / (576 * 1024)
    decoded = num_frames if decoded_frames is None else decoded_frames
    unet = unet_steps * num_frames * model.unet_tflop_per_frame_step * scale * (1 if guidance else 0.5)
    vae = decoded * model.vae_tflop_per_frame * scale
    return (unet + vae) / model.sustained_tflops


def describe_estimate(unet_steps: int, num_frames: int = 25, decoded_frames: int | None = None, **shape) -> str:
    """One line for a lesson: the estimate, labelled as one, with its basis."""
    seconds = estimate_seconds(unet_steps, num_frames, decoded_frames, **shape)
    model = time_model()
    when = f"about {seconds / 60:.1f} min" if seconds >= 90 else f"about {seconds:.0f} s"
    decoded = num_frames if decoded_frames is None else decoded_frames
    return (
        f"On a T4 with the real model: {when} or more (an estimate: {unet_steps} UNet steps on {num_frames} "
        f"frames and {decoded} decoded frames, counted in FLOPs, at the {model.sustained_tflops:g} TFLOP/s a T4 "
        f"sustains; real layers run slower than that)"
    )


@dataclass(frozen=True)
class Rates:
    """What the time model divides by: a GPU's sustained fp16 matrix rate and its host link's bandwidth."""

    name: str
    tflops: float
    link_gb_s: float
    basis: str  # where the two numbers come from


def t4_rates() -> Rates:
    data = _read_data()
    return Rates(
        data["gpu"]["name"],
        data["rate"]["sustained_fp16_tflops"],
        data["pcie"]["bandwidth_gb_s"],
        f"{data['rate']['source']}; {data['pcie']['source']}",
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
        compute = (self.unet_tflop + self.vae_decode_tflop) / rates.tflops
        transfer = (self.bytes_to_gpu + self.bytes_to_host) / (rates.link_gb_s * 1e9)
        total = compute + transfer
        if self.overlaps and self.steps:
            per_step = max(self.unet_tflop_per_step / rates.tflops, self.bytes_per_step / (rates.link_gb_s * 1e9))
            rest = (self.bytes_to_gpu + self.bytes_to_host - self.bytes_per_step * self.steps) / (rates.link_gb_s * 1e9)
            total = per_step * self.steps + self.vae_decode_tflop / rates.tflops + rest
        return {"compute_s": compute, "transfer_s": transfer, "seconds": total}


def plan_work(
    plan, steps: int = 25, num_frames: int = 25, height: int = 576, width: int = 1024, guidance: bool = True
) -> PlanWork:
    """The FLOPs and host<->GPU bytes of one call with `plan` (a memory.Plan or its name), from data/t4.toml:
    which weights each placement's hooks copy, and how often (per call, per step, per decode chunk)."""
    import math

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
    """ "estimated on a T4: about N min (estimate: ...its basis...)", for `svd-learn plan` and the run report."""
    work, rates = plan_work(plan, steps, num_frames, height, width), t4_rates()
    seconds = work.seconds(rates)["seconds"]
    when = f"about {seconds / 60:.1f} min" if seconds >= 90 else f"about {seconds:.0f} s"
    moved = (work.bytes_to_gpu + work.bytes_to_host) / 1e9
    link = (
        f" + {moved:.1f} GB of weights over PCIe 3.0 x16 at {rates.link_gb_s:g} GB/s" if moved else ", no weights moved"
    )
    return (
        f"estimated on a T4: {when} (estimate: {work.unet_tflop + work.vae_decode_tflop:.0f} TFLOP at the "
        f"{rates.tflops:g} TFLOP/s a T4 sustains{link}; real layers run slower, so read it as at least)"
    )


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
