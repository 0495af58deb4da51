"""Lesson 4: fitting Stable Video Diffusion into a small GPU, measured.

Four ways to place the three networks (image encoder, UNet, VAE) during a call:

- gpu:                everything on the GPU (fastest; needs the weights, 4.5 GB, plus activations);
- model_offload:      diffusers' `enable_model_cpu_offload()`: one whole network on the GPU at a time;
- sequential_offload: `enable_sequential_cpu_offload()`: one layer at a time (least GPU memory, slowest);
- group_offload:      `unet.enable_group_offload(..., use_stream=True)`: blocks of the UNet stream in while
                      the previous block computes; the encoder and VAE stay on the GPU. (On the whole pipeline
                      group offload clashes with the VAE's fp32 upcast, so only the UNet gets it.)

Each combines with two knobs that cut activations: the UNet's forward chunking (feed-forward layers one
sample at a time) and `decode_chunk_size` (how many frames the VAE decodes at once: THE memory knob of
the VAE). `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` cuts fragmentation (reserved minus allocated).

`apply_plan` applies a named plan in one call. `measure_run` measures one call. `choose_plan` picks the
fastest plan predicted to fit a GPU, from calibration measured on real GPUs (data/memory_calibration.json,
written from benchmarks/results/ by benchmarks/calibrate.py), and says why; `plans_to_try` adds the lower
plans a run falls back to on CUDA out-of-memory. `emulate_t4` caps a bigger GPU like a T4 (or any budget).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field

import torch

from svd_learn.environment import GIB
from svd_learn.models import DATA
from svd_learn.models import MODEL_COMPONENTS as COMPONENTS  # diffusers' model_cpu_offload_seq for SVD

T4_GIB = 14.74  # what torch reports for a Colab T4 (total_memory)
T4_SAFE_PEAK_GIB = 14.0  # the most a plan may reserve on a T4: the CUDA context and cuDNN need the rest
ALLOC_CONF_VARIABLE = "PYTORCH_CUDA_ALLOC_CONF"
EXPANDABLE_SEGMENTS = "expandable_segments:True"
PLACEMENTS = ("gpu", "model_offload", "sequential_offload", "group_offload", "cpu")
SPEED_TIE = 0.05  # plans measured within 5% of the fastest count as equally fast
DECODE_ALL = 25  # a decode_chunk_size >= num_frames decodes every frame at once (SVD-XT has 25)


# ----------------------------------------------------------------------------------------------------
# Plans


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
        _plan("gpu-decode8", "gpu", False, 8, "everything on the GPU, decode 8 frames at a time"),
        _plan("gpu-decode2", "gpu", False, 2, "everything on the GPU, decode 2 frames at a time"),
        _plan("gpu-chunked-decode2", "gpu", True, 2, "everything on the GPU, forward chunking, decode 2"),
        _plan(
            "model-offload-chunked-decode2", "model_offload", True, 2, "model CPU offload, forward chunking, decode 2"
        ),
        _plan(
            "group-offload-chunked-decode2",
            "group_offload",
            True,
            2,
            "UNet group offload with CUDA streams, forward chunking, decode 2",
        ),
        _plan(
            "sequential-offload-chunked-decode1",
            "sequential_offload",
            True,
            1,
            "sequential CPU offload, forward chunking, decode 1",
        ),
        # Baselines: measured, never chosen.
        _plan(
            "gpu-decode-all",
            "gpu",
            False,
            DECODE_ALL,
            "the naive way: everything on the GPU, decode all frames at once",
            baseline=True,
        ),
        _plan(
            "seed-recipe",
            "model_offload",
            False,
            DECODE_ALL,
            "the seed notes' T4 advice: model offload + enable_attention_slicing(), decode all frames at once",
            attention_slicing=True,
            baseline=True,
        ),
        _plan(
            "model-offload-decode-all",
            "model_offload",
            False,
            DECODE_ALL,
            "the seed recipe without attention slicing",
            baseline=True,
        ),
        _plan(
            "docs-recipe",
            "model_offload",
            True,
            2,
            "diffusers docs' low-memory recipe: model offload + forward chunking + decode 2",
            baseline=True,
        ),
        _plan("cpu", "cpu", False, DECODE_ALL, "no GPU: everything on the CPU, in fp32", baseline=True),
    ]
)


def get_plan(plan: Plan | str) -> Plan:
    """The plan called `plan` (any name of PLANS: the one list `--plan` accepts), or a clear error."""
    if isinstance(plan, Plan):
        return plan
    try:
        return PLANS[plan]
    except KeyError:
        raise ValueError(
            f"Unknown plan {plan!r}. Plans: auto, {', '.join(PLANS)} (`svd-learn plan` explains them)."
        ) from None


def fallback_order(calibration: dict | None = None) -> list[str]:
    """The plans a GPU run may use, from most to least GPU memory as measured: on CUDA out-of-memory, try the
    next. A plan that another one beats on peak, time and host memory at once (see `dominated_by`) is left out."""
    calibration = calibration or read_calibration()
    candidates = [name for name, plan in PLANS.items() if not plan.baseline and not dominated_by(name, calibration)]
    peaks = {name: entry.get("peak_reserved_gib") for name, entry in calibration["plans"].items()}
    unmeasured = float("inf")  # plans without a measurement go last, in PLANS order (sorted() is stable)
    return sorted(candidates, key=lambda name: -peaks[name] if peaks.get(name) is not None else unmeasured)


def dominated_by(name: str, calibration: dict | None = None) -> str | None:
    """A candidate plan that, as measured, needs no more GPU memory and host memory than `name`, is no slower
    (within SPEED_TIE), decodes at least as many frames at once, and is better in one of the three; None if
    there is none. Example: UNet group offload peaked higher than model offload, ran slower and held more host
    RAM, with the same decode chunk. Such a plan is never worth trying. A smaller decode chunk never dominates a
    larger one: it changes the video (the VAE's temporal layers see fewer frames), so gpu-decode8 stays."""
    calibration = calibration or read_calibration()
    mine = calibration["plans"].get(name)
    if mine is None:
        return None
    for other, plan in PLANS.items():
        theirs = calibration["plans"].get(other)
        if other == name or plan.baseline or theirs is None or plan.decode_chunk_size < PLANS[name].decode_chunk_size:
            continue
        no_worse = (
            theirs["peak_reserved_gib"] <= mine["peak_reserved_gib"]
            and theirs["host_rss_gib"] <= mine["host_rss_gib"]
            and theirs["seconds"] <= mine["seconds"] * (1 + SPEED_TIE)
        )
        better = (
            theirs["peak_reserved_gib"] < mine["peak_reserved_gib"]
            or theirs["host_rss_gib"] < mine["host_rss_gib"]
            or theirs["seconds"] < mine["seconds"]
        )
        if no_worse and better:
            return other
    return None


def apply_plan(pipe, plan: Plan | str, device: str | torch.device = "cuda") -> None:
    """Place and chunk `pipe` as `plan` says, in one call. Pass `plan.decode_chunk_size` to the pipeline call.

    Call it once, on a freshly loaded pipeline: offload hooks cannot be cleanly removed.
    """
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


# ----------------------------------------------------------------------------------------------------
# A T4 on a bigger GPU, and expandable segments


def expandable_segments_enabled() -> bool:
    return EXPANDABLE_SEGMENTS in os.environ.get(ALLOC_CONF_VARIABLE, "") + os.environ.get("PYTORCH_ALLOC_CONF", "")


def enable_expandable_segments() -> None:
    """Ask PyTorch's CUDA allocator for expandable segments (less fragmentation: reserved stays near allocated).

    The allocator reads PYTORCH_CUDA_ALLOC_CONF once, when CUDA initialises. Call this before anything
    touches the GPU (first cell of a notebook, or `export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`).
    """
    if expandable_segments_enabled():
        return
    if torch.cuda.is_initialized():
        raise RuntimeError(
            f"CUDA is already initialised, so {ALLOC_CONF_VARIABLE} is read and fixed for this process. "
            "Restart the runtime and call enable_expandable_segments() before anything uses the GPU."
        )
    current = os.environ.get(ALLOC_CONF_VARIABLE, "")
    os.environ[ALLOC_CONF_VARIABLE] = f"{current},{EXPANDABLE_SEGMENTS}" if current else EXPANDABLE_SEGMENTS


@contextlib.contextmanager
def emulate_t4(cap_gib: float = T4_GIB, device: int = 0, t4_kernels: bool = True):
    """Behave like a Colab T4 on a bigger GPU: cap PyTorch's memory at `cap_gib` and allow only the attention
    kernels a T4 has (memory-efficient and math; no FlashAttention). Use fp16 weights, as on a T4.
    With `t4_kernels=False` only the cap applies (`svd-learn generate --vram-budget`)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if not torch.cuda.is_available():
        raise RuntimeError("emulate_t4() caps a CUDA GPU's memory; this machine has no CUDA GPU.")
    total = torch.cuda.get_device_properties(device).total_memory
    if cap_gib * GIB > total:
        raise ValueError(f"This GPU has {total / GIB:.2f} GiB; it cannot emulate a {cap_gib} GiB budget.")
    torch.cuda.set_per_process_memory_fraction(cap_gib * GIB / total, device)
    kernels = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH] if t4_kernels else list(SDPBackend)
    try:
        with sdpa_kernel(kernels):
            yield
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)


# ----------------------------------------------------------------------------------------------------
# Measuring one call


def host_peak_rss_gib() -> float:
    """The most host memory this process has held so far (peak RSS, loading included).

    On Linux this is VmHWM. Not getrusage's ru_maxrss: Linux carries that over exec from the forked parent,
    so a child of a big process would report its parent's peak.
    """
    if sys.platform.startswith("linux"):
        return host_memory_gib()["VmHWM"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / GIB if sys.platform == "darwin" else peak * 1024 / GIB


def host_memory_gib() -> dict[str, float]:
    """This process's host memory now (Linux): peak RSS (VmHWM), RSS, and its anonymous and file-backed parts.
    File-backed pages (memory-mapped weight files) can be dropped by the kernel; anonymous pages cannot."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024 / GIB
    return fields


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
    modules = {name: getattr(pipe, name) for name in COMPONENTS}
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


@dataclass
class Measurement:
    """One pipeline call, measured. Memory in GiB, times in seconds; GPU fields are None on a CPU."""

    plan: str
    num_frames: int
    height: int
    width: int
    steps: int
    decode_chunk_size: int
    seconds: float  # the whole call
    seconds_per_step: float  # median over denoising steps
    prepare_seconds: float  # call start to the end of the first step, minus one step (encoders, latents)
    decode_seconds: float  # the end of the last step to the end of the call (VAE decode, postprocessing)
    host_rss_gib: float  # the process's peak host memory so far (loading included)
    peak_allocated_gib: float | None = None
    peak_reserved_gib: float | None = None
    denoise_peak_allocated_gib: float | None = None  # encoders + denoising steps
    denoise_peak_reserved_gib: float | None = None
    decode_peak_allocated_gib: float | None = None  # VAE decode (peak counters reset after the last step)
    decode_peak_reserved_gib: float | None = None
    placement: list = field(default_factory=list)  # (stage, {component: place}) rows
    frames_finite: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_run(
    pipe,
    image,
    plan: Plan | str,
    *,
    num_frames: int,
    height: int,
    width: int,
    steps: int = 25,
    seed: int = 0,
    device: str | torch.device | None = None,
    **call_kwargs,
) -> Measurement:
    """Call `pipe` once (after `apply_plan`) and measure memory and time; trace placement with hooks.

    Raises torch.OutOfMemoryError like the call itself would.
    """
    plan = get_plan(plan)
    device = torch.device(device or pipe._execution_device)
    step_ends: list[float] = []

    denoise_peaks: dict[str, float] = {}

    def on_step_end(pipeline, step, timestep, callback_kwargs):
        _synchronize(device)
        step_ends.append(time.perf_counter())
        if device.type == "cuda" and len(step_ends) == steps:  # split the peak: denoising here, decoding after
            denoise_peaks["allocated"] = torch.cuda.max_memory_allocated(device) / GIB
            denoise_peaks["reserved"] = torch.cuda.max_memory_reserved(device) / GIB
            torch.cuda.reset_peak_memory_stats(device)
        return callback_kwargs

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    generator = torch.Generator("cpu").manual_seed(seed)
    with trace_placement(pipe) as placement:
        _synchronize(device)
        started = time.perf_counter()
        try:
            frames = pipe(
                image,
                num_frames=num_frames,
                height=height,
                width=width,
                num_inference_steps=steps,
                decode_chunk_size=plan.decode_chunk_size,
                generator=generator,
                output_type="pt",
                callback_on_step_end=on_step_end,
                **call_kwargs,
            ).frames
        except Exception as error:
            stage = "in the VAE decode" if len(step_ends) == steps else "while denoising"
            error.add_note(f"{stage}, after {len(step_ends)} of {steps} steps")
            raise
        _synchronize(device)
        ended = time.perf_counter()
    step_times = [b - a for a, b in zip(step_ends, step_ends[1:])] or [step_ends[0] - started]
    seconds_per_step = sorted(step_times)[len(step_times) // 2]
    measurement = Measurement(
        plan=plan.name,
        num_frames=num_frames,
        height=height,
        width=width,
        steps=steps,
        decode_chunk_size=plan.decode_chunk_size,
        seconds=ended - started,
        seconds_per_step=seconds_per_step,
        prepare_seconds=max(0.0, step_ends[0] - started - seconds_per_step),
        decode_seconds=ended - step_ends[-1],
        host_rss_gib=host_peak_rss_gib(),
        placement=placement,
        frames_finite=bool(torch.isfinite(frames).all()),
    )
    if device.type == "cuda":
        measurement.decode_peak_allocated_gib = torch.cuda.max_memory_allocated(device) / GIB
        measurement.decode_peak_reserved_gib = torch.cuda.max_memory_reserved(device) / GIB
        measurement.denoise_peak_allocated_gib = denoise_peaks["allocated"]
        measurement.denoise_peak_reserved_gib = denoise_peaks["reserved"]
        measurement.peak_allocated_gib = max(denoise_peaks["allocated"], measurement.decode_peak_allocated_gib)
        measurement.peak_reserved_gib = max(denoise_peaks["reserved"], measurement.decode_peak_reserved_gib)
    return measurement


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA out-of-memory, as torch raises it (OutOfMemoryError) or as a RuntimeError from a kernel."""
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


# ----------------------------------------------------------------------------------------------------
# The planner


def read_calibration() -> dict:
    """Peak GPU memory and speed per plan, measured on a real GPU under a T4 budget (see benchmarks/)."""
    return json.loads((DATA / "memory_calibration.json").read_text())


def read_benchmarks() -> dict:
    """Every GPU run in benchmarks/results/ (the machine, then one row per run), for Lesson 4's table and plots."""
    return json.loads((DATA / "memory_benchmarks.json").read_text())


@dataclass(frozen=True)
class Rejected:
    plan: str
    predicted_peak_gib: float | None
    why: str


@dataclass(frozen=True)
class PlanChoice:
    """The planner's answer: a plan, why, its predicted peak, and what it rejected and why."""

    plan: Plan
    reason: str
    predicted_peak_gib: float | None
    fits: bool  # False when nothing is predicted to fit (the plan is then the least-memory one: try anyway)
    alternatives: tuple[Rejected, ...] = ()
    warnings: tuple[str, ...] = ()

    def explain(self) -> str:
        peak = f"{self.predicted_peak_gib:.1f} GiB" if self.predicted_peak_gib is not None else "n/a"
        lines = [
            f"plan: {self.plan.name} ({self.plan.description})",
            f"predicted peak GPU memory: {peak}",
            f"why: {self.reason}",
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.alternatives:
            lines.append("considered:")
            lines += [f"  {r.plan}: {r.why}" for r in self.alternatives]
        return "\n".join(lines)


def predict_peak_gib(
    plan: Plan | str, num_frames: int = 25, height: int = 576, width: int = 1024, calibration: dict | None = None
) -> float | None:
    """Predicted peak reserved GPU memory of `plan` for a call of this size (None if never measured).

    From the calibration's measurement at the reference call (SVD-XT, 25 frames, 576x1024, T4 cap): the peak
    is the larger of two stages, each = the weights the plan keeps on the GPU + activations.
    - denoising: activations grow with frames x pixels (the UNet batch is 2 x frames with CFG);
    - decoding: activations grow with the frames decoded at once (decode_chunk_size) x pixels.
    Add the measured fragmentation (reserved minus allocated). At the reference call this is the measurement.
    """
    plan = get_plan(plan)
    calibration = calibration or read_calibration()
    entry = calibration["plans"].get(plan.name)
    if entry is None:
        return None
    ref = calibration["reference"]
    pixels = (height * width) / (ref["height"] * ref["width"])
    denoise_scale = pixels * num_frames / ref["frames"]
    decode_scale = pixels * min(plan.decode_chunk_size, num_frames) / min(plan.decode_chunk_size, ref["frames"])
    denoise = (
        entry["resident_denoise_gib"]
        + (entry["denoise_peak_allocated_gib"] - entry["resident_denoise_gib"]) * denoise_scale
    )
    decode = (
        entry["resident_decode_gib"]
        + (entry["decode_peak_allocated_gib"] - entry["resident_decode_gib"]) * decode_scale
    )
    fragmentation = entry["peak_reserved_gib"] - entry["peak_allocated_gib"]
    return max(denoise, decode) + fragmentation


def _dominated(num_frames: int, height: int, width: int, calibration: dict) -> dict[str, Rejected]:
    """The candidate plans another plan beats in everything (dominated_by), rejected with the reason."""
    rejected = {}
    for name, plan in PLANS.items():
        better = None if plan.baseline else dominated_by(name, calibration)
        if better:
            rejected[name] = Rejected(
                name,
                predict_peak_gib(name, num_frames, height, width, calibration),
                f"{better} needs no more GPU memory, host RAM or time (within {SPEED_TIE:.0%}), measured",
            )
    return rejected


def choose_plan(
    vram_gib: float | None,
    host_ram_gib: float | None,
    checkpoint: str = "svd-xt",
    num_frames: int = 25,
    height: int = 576,
    width: int = 1024,
    calibration: dict | None = None,
) -> PlanChoice:
    """The fastest plan predicted to fit this GPU and host, with the reasons. `vram_gib` None or 0: no GPU.

    Fits means: predicted peak reserved <= vram_gib - gpu_reserve_gib (the CUDA context and cuDNN live outside
    PyTorch's pool: on a 14.74 GiB T4 a plan may reserve 14.0 GiB), and the plan's measured host memory
    <= host_ram_gib - host_reserve_gib. Among the plans that fit, the one measured fastest wins.
    """
    from svd_learn.models import get_checkpoint

    get_checkpoint(checkpoint)  # a clear error for an unknown name
    calibration = calibration or read_calibration()
    if not vram_gib:
        return PlanChoice(
            plan=PLANS["cpu"],
            predicted_peak_gib=None,
            fits=True,
            reason="no CUDA GPU: everything runs on the CPU in fp32. Tiny weights take seconds; the real SVD takes "
            "hours per video on a CPU, so use a GPU (a free Colab T4 fits SVD-XT: see `svd-learn plan --vram 14.74`).",
        )
    budget = vram_gib - calibration["gpu_reserve_gib"]
    host_budget = host_ram_gib - calibration["host_reserve_gib"] if host_ram_gib else None
    warnings: list[str] = []
    if not expandable_segments_enabled():
        warnings.append(
            f"the calibration was measured with {ALLOC_CONF_VARIABLE}={EXPANDABLE_SEGMENTS}: `svd-learn generate` "
            "sets it itself; in your own code, set it before CUDA starts."
        )
    fitting: list[tuple[float, str, float]] = []  # (measured seconds, plan, predicted peak)
    rejected = _dominated(num_frames, height, width, calibration)
    binding: set[str] = set()  # "GPU memory", "host RAM": what kept a plan out
    for name in fallback_order(calibration):
        entry = calibration["plans"].get(name, {})
        peak = predict_peak_gib(name, num_frames, height, width, calibration)
        host_needed = entry.get("host_rss_gib")
        if peak is None:
            rejected[name] = Rejected(name, None, "not measured on a GPU yet")
            continue
        limits = []  # every constraint this plan breaks, so the message names the one that binds
        if peak > budget:
            limits.append(f"GPU memory: predicted peak {peak:.1f} GiB > {budget:.1f} GiB usable")
        if host_budget is not None and host_needed and host_needed > host_budget:
            limits.append(f"host RAM: needs about {host_needed:.1f} GiB > {host_budget:.1f} GiB usable")
        if limits:
            rejected[name] = Rejected(name, peak, "; ".join(limits))
            binding.update(limit.split(":")[0] for limit in limits)
        else:
            fitting.append((entry.get("seconds") or float("inf"), name, peak))
    if fitting:
        name, peak, reason = _fastest_with_most_context(fitting, rejected, budget, vram_gib, calibration)
        alternatives = tuple(rejected[n] for n in PLANS if n in rejected)
        return PlanChoice(PLANS[name], reason, peak, True, alternatives, tuple(warnings))
    name = fallback_order(calibration)[-1]
    peak = predict_peak_gib(name, num_frames, height, width, calibration)
    limits = {"GPU memory": f"{budget:.1f} GiB of GPU memory", "host RAM": f"{host_budget or 0:.1f} GiB of host RAM"}
    within = " and ".join(limits[name] for name in limits if name in binding) or f"{budget:.1f} GiB of GPU memory"
    warnings.append(
        f"no plan is predicted to fit {num_frames} frames at {height}x{width} in {within}: try this one, "
        "and if it runs out of memory use fewer frames (num_frames=14) or a smaller size."
    )
    alternatives = tuple(rejected[n] for n in PLANS if n in rejected and n != name)
    why_not = rejected[name].why if name in rejected else "not measured"
    return PlanChoice(
        PLANS[name],
        f"nothing is predicted to fit; this plan needs the least GPU memory ({why_not})",
        peak,
        False,
        alternatives,
        tuple(warnings),
    )


def _fastest_with_most_context(
    fitting: list[tuple[float, str, float]], rejected: dict, budget: float, vram_gib: float, calibration: dict
) -> tuple[str, float, str]:
    """Among the plans that fit: the fastest; within the noise of one measurement (SPEED_TIE) of it, the one that
    decodes the most frames at once (the VAE's temporal layers see more frames: less flicker at chunk borders),
    then the lowest peak. The others go to `rejected`, each with its reason. Returns the plan, its peak, the reason."""
    fastest = min(seconds for seconds, _, _ in fitting)
    tied = [f for f in fitting if f[0] <= fastest * (1 + SPEED_TIE)]
    # A larger chunk than the smallest tied one must leave the margin a notebook needs (see calibrate.py).
    margin = calibration.get("larger_chunk_margin_gib", 0.0)
    smallest = min(PLANS[f[1]].decode_chunk_size for f in tied)
    roomy = [f for f in tied if PLANS[f[1]].decode_chunk_size == smallest or f[2] + margin <= budget]
    seconds, name, peak = min(roomy, key=lambda f: (-PLANS[f[1]].decode_chunk_size, f[2]))
    chunk = PLANS[name].decode_chunk_size
    for other_seconds, other, other_peak in fitting:
        if other == name:
            continue
        if other_seconds > fastest * (1 + SPEED_TIE):
            why = f"fits, but slower ({other_seconds:.1f} s vs {seconds:.1f} s measured)"
        elif (other_seconds, other, other_peak) not in roomy:
            why = (
                f"fits a fresh process ({other_peak:.1f} GiB), but decoding {PLANS[other].decode_chunk_size} frames at "
                f"once is only taken with {margin:.1f} GiB to spare: a notebook that ran a pipeline before peaks "
                f"that much higher ({other_peak + margin:.1f} > {budget:.1f} GiB usable)"
            )
        elif PLANS[other].decode_chunk_size < chunk:
            why = (
                f"fits and is as fast within {SPEED_TIE:.0%} ({other_seconds:.1f} s), but decodes fewer frames at once "
                f"({PLANS[other].decode_chunk_size} instead of {chunk}: less temporal context)"
            )
        else:
            why = f"fits and is as fast within {SPEED_TIE:.0%} ({other_seconds:.1f} s), but peaks higher ({other_peak:.1f} GiB)"
        rejected[other] = Rejected(other, other_peak, why)
    estimated = calibration["plans"][name].get("seconds_estimated_from_steps")
    measured = f"estimated from {estimated} steps" if estimated else "measured"
    reason = (
        f"the fastest plan that fits; its predicted peak, {peak:.1f} GiB, fits the {budget:.1f} GiB usable of "
        f"{vram_gib:g} GiB (speed from the calibration GPU, {calibration['machine']['gpu']} under a T4 budget: "
        f"{seconds:.1f} s per {calibration['reference']['steps']}-step SVD-XT call, {measured}; "
        "your GPU's time differs)"
    )
    if len(tied) > 1:
        reason += (
            f". Plans within {SPEED_TIE:.0%} of the fastest count as equally fast; among them the largest decode "
            f"chunk that fits with {margin:.1f} GiB to spare wins ({chunk} frames at once: the VAE's temporal "
            "layers see more frames, so less flicker), then the lowest peak"
        )
    return name, peak, reason


class PlanError(ValueError):
    """A plan that cannot run as asked: an unknown name, or a placement this device does not have."""


def plans_to_try(
    requested: str, device: str, vram_gib: float | None, host_ram_gib: float | None, checkpoint: str, params, say=print
) -> tuple[list[Plan], str, float | None]:
    """The plans a run tries in order (the first, then every plan that needs less GPU memory: on CUDA
    out-of-memory, the next), why the first, and its predicted peak reserved GPU memory.

    `requested` is "auto" (choose_plan for `vram_gib`, None without a GPU) or a plan name; `params` gives
    the call's size (num_frames, height, width).
    """
    size = (params.num_frames, params.height, params.width)
    order = [PLANS[name] for name in fallback_order()]  # most GPU memory (fastest) first
    if requested == "auto":
        choice = choose_plan(vram_gib, host_ram_gib, checkpoint, *size)
        for warning in choice.warnings:
            if ALLOC_CONF_VARIABLE not in warning:  # the capstone set it, or said why it could not
                say(f"warning: {warning}")
        first, reason, predicted = choice.plan, choice.reason, choice.predicted_peak_gib
    else:
        try:
            first = get_plan(requested)  # the one list of plan names, the same `svd-learn plan` prints
        except ValueError as error:
            raise PlanError(str(error)) from None
        reason, predicted = "asked for with --plan", predict_peak_gib(first, *size)
    if (first.placement == "cpu") != (device == "cpu") and first.placement != "gpu":
        raise PlanError(
            f"Plan {first.name} places the model on {'the CPU' if first.placement == 'cpu' else 'a CUDA GPU with offload'}, "
            f"and this run is on {'a CUDA GPU' if device == 'cuda' else 'the CPU'}. Use --plan auto."
        )
    predicted = None if predicted is None else round(predicted, 2)
    if first.placement == "cpu":
        return [first], reason, predicted  # nothing to fall back to
    if first in order:
        candidates = order[order.index(first) :]
    else:  # a baseline recipe: then every plan predicted to need less memory

        def peak(plan: Plan) -> float:
            value = predict_peak_gib(plan, *size)
            return float("inf") if value is None else value

        candidates = [first] + [p for p in order if peak(p) < peak(first)]
    if device == "cpu":  # "gpu" placements run on the CPU device; offloading needs a GPU
        candidates = [p for p in candidates if p.placement == "gpu"]
    return candidates, reason, predicted


def plan_time_line(plan: Plan, num_frames: int, height: int, width: int, calibration: dict) -> str | None:
    """The time of one 25-step call with `plan`: measured seconds and the GPU they were measured on, beside
    the T4 estimate (svd_learn.t4: FLOPs at a T4's sustained rate plus the weights it moves over PCIe)."""
    from svd_learn import t4

    if plan.placement == "cpu":
        return None
    steps = calibration["reference"]["steps"]
    entry = calibration["plans"].get(plan.name, {})
    measured = (
        f"{entry['seconds']:.1f} s measured on {calibration['machine']['gpu']} under a T4 budget (at "
        f"{calibration['reference']['frames']} frames, {calibration['reference']['width']}x{calibration['reference']['height']})"
        if entry.get("seconds")
        else "not measured"
    )
    return f"time for {steps} steps: {measured}; {t4.describe_plan_estimate(plan, steps, num_frames, height, width)}"


def check_machine(vram_gib: float | None, host_ram_gib: float | None) -> None:
    """Refuse a GPU or host size that no machine has (negative, nan, infinite), with what to pass instead."""
    import math

    for flag, value, rule in (("--vram", vram_gib, "0 (no GPU) or more"), ("--host-ram", host_ram_gib, "above 0")):
        if value is not None and (not math.isfinite(value) or value < 0 or (flag == "--host-ram" and value == 0)):
            raise ValueError(
                f"{flag} {value:g} is not a memory size: give a finite number of GiB, {rule} "
                "(a Colab T4 has --vram 14.74 --host-ram 12.7)."
            )


def plan_command(
    vram_gib: float | None,
    host_ram_gib: float | None,
    checkpoint: str,
    num_frames: int | None,
    height: int,
    width: int,
    as_json: bool = False,
) -> int:
    """`svd-learn plan`: the planner's choice for this machine (or the one described), and why.

    Returns the exit code: 0, or 1 with one short message for impossible inputs (checked as `generate` checks them).
    """
    from svd_learn.environment import probe
    from svd_learn.models import get_checkpoint
    from svd_learn.parameters import ParameterError, check_size

    try:
        check_machine(vram_gib, host_ram_gib)
        num_frames = get_checkpoint(checkpoint).num_frames if num_frames is None else num_frames
        size_warnings = check_size(checkpoint, num_frames, height, width)
    except (ValueError, ParameterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if vram_gib is None or host_ram_gib is None:
        env = probe()
        vram_gib = env.vram_gib if vram_gib is None else vram_gib
        host_ram_gib = env.host_ram_gib if host_ram_gib is None else host_ram_gib
    choice = choose_plan(vram_gib, host_ram_gib, checkpoint, num_frames, height, width)
    calibration = read_calibration()
    time_line = plan_time_line(choice.plan, num_frames, height, width, calibration)
    if as_json:
        print(
            json.dumps(
                {
                    "vram_gib": vram_gib,
                    "host_ram_gib": host_ram_gib,
                    "checkpoint": checkpoint,
                    "num_frames": num_frames,
                    "height": height,
                    "width": width,
                    **asdict(choice),
                    "time": time_line,
                    "size_warnings": size_warnings,
                    "plans": ["auto", *PLANS],
                    "calibration": {k: calibration[k] for k in ("source", "machine")},
                },
                indent=2,
            )
        )
        return 0
    gpu = f"a GPU with {vram_gib:g} GiB" if vram_gib else "no GPU"
    print(f"{checkpoint}, {num_frames} frames at {height}x{width}, on {gpu} and {host_ram_gib:g} GiB of host RAM\n")
    for warning in size_warnings:
        print(f"warning: {warning}")
    print(choice.explain())
    if time_line:
        print(time_line)
    print(f"\nplans for `svd-learn generate --plan`: auto (this choice), {', '.join(PLANS)}")
    machine = calibration["machine"]
    print(
        f"calibration: measured on {machine['gpu']} (torch {machine['torch']}, diffusers {machine['diffusers']}) "
        f"under a {calibration['reference']['cap_gib']} GiB cap; {calibration['source']}. "
        "Predicted peaks apply to any GPU; times are that GPU's."
    )
    return 0
