"""Lesson 4's memory plans: where the three networks sit during a call, and how the activations are cut.

Four placements of the image encoder, UNet and VAE:

- gpu:                everything on the GPU (fastest; needs the weights, 4.5 GB, plus activations);
- model_offload:      diffusers' `enable_model_cpu_offload()`: one whole network on the GPU at a time;
- sequential_offload: `enable_sequential_cpu_offload()`: one layer at a time (least GPU memory, slowest);
- group_offload:      `unet.enable_group_offload(..., use_stream=True)`: blocks of the UNet stream in while
                      the previous block computes; the encoder and VAE stay on the GPU. (On the whole pipeline
                      group offload clashes with the VAE's fp32 upcast, so only the UNet gets it.)

Each combines with two knobs that cut activations: the UNet's forward chunking (feed-forward layers one
sample at a time) and `decode_chunk_size` (how many frames the VAE decodes at once: THE memory knob of
the VAE). `PLANS` names every combination the course measured; `apply_plan` applies one in one call. Which
plan fits a GPU is the planner's job (planner.py).

torch is imported inside `apply_plan` only (it takes seconds): naming and checking a plan needs none.
"""

from __future__ import annotations

from dataclasses import dataclass

from svd_learn.errors import UserError
from svd_learn.language import Localized

PLACEMENTS = ("gpu", "model_offload", "sequential_offload", "group_offload", "cpu")
DECODE_ALL = 25  # a decode_chunk_size >= num_frames decodes every frame at once (SVD-XT has 25)


class PlanError(UserError, ValueError):
    """A plan that cannot run as asked: an unknown name, or a placement this device does not have."""


@dataclass(frozen=True)
class Plan:
    """Where the networks sit during a call, and how the activations are cut."""

    name: str
    placement: str  # one of PLACEMENTS
    forward_chunking: bool  # pipe.unet.enable_forward_chunking(): feed-forward layers one sample at a time
    decode_chunk_size: int  # frames the VAE decodes at once (pass it to the pipeline call)
    attention_slicing: bool = False  # pipe.enable_attention_slicing(): a no-op for SVD, kept for the seed recipe
    baseline: bool = False  # a recipe we measure against, never chosen by the planner
    description: str = ""

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise ValueError(f"Unknown placement {self.placement!r}: use one of {', '.join(PLACEMENTS)}.")
        if self.decode_chunk_size < 1:
            raise ValueError(f"decode_chunk_size must be at least 1, got {self.decode_chunk_size}.")


def _plan(name, placement, forward_chunking, decode_chunk_size, description, **extra) -> tuple[str, Plan]:
    return name, Plan(name, placement, forward_chunking, decode_chunk_size, description=description, **extra)


# Candidates first (fallback_order() sorts them by measured peak), then the baselines.
PLANS: dict[str, Plan] = dict(
    [
        _plan("gpu-decode8", "gpu", False, 8, Localized("everything on the GPU, decode 8 frames at a time")),
        _plan("gpu-decode2", "gpu", False, 2, Localized("everything on the GPU, decode 2 frames at a time")),
        _plan("gpu-chunked-decode2", "gpu", True, 2, Localized("everything on the GPU, forward chunking, decode 2")),
        _plan(
            "model-offload-chunked-decode2",
            "model_offload",
            True,
            2,
            Localized("model CPU offload, forward chunking, decode 2"),
        ),
        _plan(
            "group-offload-chunked-decode2",
            "group_offload",
            True,
            2,
            Localized("UNet group offload with CUDA streams, forward chunking, decode 2"),
        ),
        _plan(
            "sequential-offload-chunked-decode1",
            "sequential_offload",
            True,
            1,
            Localized("sequential CPU offload, forward chunking, decode 1"),
        ),
        # Baselines: measured, never chosen.
        _plan(
            "gpu-decode-all",
            "gpu",
            False,
            DECODE_ALL,
            Localized("the naive way: everything on the GPU, decode all frames at once"),
            baseline=True,
        ),
        _plan(
            "seed-recipe",
            "model_offload",
            False,
            DECODE_ALL,
            Localized(
                "the seed notes' T4 advice: model offload + enable_attention_slicing(), decode all frames at once"
            ),
            attention_slicing=True,
            baseline=True,
        ),
        _plan(
            "model-offload-decode-all",
            "model_offload",
            False,
            DECODE_ALL,
            Localized("the seed recipe without attention slicing"),
            baseline=True,
        ),
        _plan(
            "docs-recipe",
            "model_offload",
            True,
            2,
            Localized("diffusers docs' low-memory recipe: model offload + forward chunking + decode 2"),
            baseline=True,
        ),
        _plan("cpu", "cpu", False, DECODE_ALL, Localized("no GPU: everything on the CPU, in fp32"), baseline=True),
    ]
)


def get_plan(plan: Plan | str) -> Plan:
    """The plan called `plan` (any name of PLANS: the one list `--plan` accepts), or a clear error."""
    if isinstance(plan, Plan):
        return plan
    try:
        return PLANS[plan]
    except KeyError:
        raise PlanError(
            Localized(
                "Unknown plan {plan!r}. Plans: auto, {plans} (`svd-learn plan` explains them).",
                plan=plan,
                plans=", ".join(PLANS),
            )
        ) from None


def apply_plan(pipe, plan: Plan | str, device="cuda") -> None:
    """Place and chunk `pipe` as `plan` says, in one call. Pass `plan.decode_chunk_size` to the pipeline call.

    Call it once, on a freshly loaded pipeline: offload hooks cannot be cleanly removed.
    """
    import torch

    plan = get_plan(plan)
    device = torch.device(device)
    if plan.placement in ("gpu", "cpu"):
        pipe.to(device if plan.placement == "gpu" else "cpu")
    elif plan.placement == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif plan.placement == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)
    elif plan.placement == "group_offload":
        # The small networks stay on the GPU; the UNet's top-level blocks stream in one group at a time.
        pipe.image_encoder.to(device)
        pipe.vae.to(device)
        pipe.unet.enable_group_offload(
            onload_device=device,
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=device.type == "cuda",
        )
    if plan.forward_chunking:
        pipe.unet.enable_forward_chunking()
    if plan.attention_slicing:
        pipe.enable_attention_slicing()  # reaches no SVD component: neither has set_attention_slice
