"""Lesson 4's planner: which memory plan fits a GPU, predicted from measurements, and why.

`choose_plan` picks the fastest plan predicted to fit a GPU and its host, from calibration measured on real GPUs
(data/memory_calibration.json, written from benchmarks/results/ by benchmarks/calibrate.py), and says why;
`plans_to_try` adds the lower plans a run falls back to on CUDA out-of-memory (`fallback_order`, without the
plans another one beats in everything: `dominated_by`). `plan_command` is `svd-learn plan`.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass

from svd_learn import t4
from svd_learn.checkpoints import DATA, get_checkpoint
from svd_learn.environment import probe
from svd_learn.language import Localized, joined
from svd_learn.memory import ALLOC_CONF_VARIABLE, EXPANDABLE_SEGMENTS, expandable_segments_enabled
from svd_learn.parameters import ParameterError, check_size
from svd_learn.plans import PLANS, Plan, PlanError, get_plan

SPEED_TIE = 0.05  # plans measured within 5% of the fastest count as equally fast


# ----------------------------------------------------------------------------------------------------
# Measured: what each plan needs, and the plans never worth trying


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
        """The choice as `svd-learn plan` prints it, in the learner's language."""
        peak = f"{self.predicted_peak_gib:.1f} GiB" if self.predicted_peak_gib is not None else Localized("n/a")
        lines = [
            Localized("plan: {plan} ({description})", plan=self.plan.name, description=self.plan.description),
            Localized("predicted peak GPU memory: {peak}", peak=peak),
            Localized("why: {reason}", reason=self.reason),
        ]
        lines += [Localized("warning: {warning}", warning=w) for w in self.warnings]
        if self.alternatives:
            lines.append(Localized("considered:"))
            lines += [f"  {r.plan}: {r.why}" for r in self.alternatives]
        return "\n".join(map(str, lines))


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
                Localized(
                    "{better} needs no more GPU memory, host RAM or time (within {tie:.0%}), measured",
                    better=better,
                    tie=SPEED_TIE,
                ),
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
    get_checkpoint(checkpoint)  # a clear error for an unknown name
    calibration = calibration or read_calibration()
    if not vram_gib:
        return PlanChoice(
            plan=PLANS["cpu"],
            predicted_peak_gib=None,
            fits=True,
            reason=Localized(
                "no CUDA GPU: everything runs on the CPU in fp32. Tiny weights take seconds; the real SVD takes "
                "hours per video on a CPU, so use a GPU (a free Colab T4 fits SVD-XT: see `svd-learn plan --vram 14.74`)."
            ),
        )
    budget = vram_gib - calibration["gpu_reserve_gib"]
    host_budget = host_ram_gib - calibration["host_reserve_gib"] if host_ram_gib else None
    warnings: list[str] = []
    if not expandable_segments_enabled():
        warnings.append(
            Localized(
                "the calibration was measured with {variable}={setting}: `svd-learn generate` sets it itself; in your "
                "own code, set it before CUDA starts.",
                variable=ALLOC_CONF_VARIABLE,
                setting=EXPANDABLE_SEGMENTS,
            )
        )
    size = (num_frames, height, width)
    rejected = _dominated(*size, calibration)
    fitting, binding = _fitting(size, budget, host_budget, rejected, calibration)
    if fitting:
        name, peak, reason = _fastest_with_most_context(fitting, rejected, budget, vram_gib, calibration)
        alternatives = tuple(rejected[n] for n in PLANS if n in rejected)
        return PlanChoice(PLANS[name], reason, peak, True, alternatives, tuple(warnings))
    return _least_memory(size, budget, host_budget, binding, rejected, warnings, calibration)


def _fitting(
    size: tuple[int, int, int], budget: float, host_budget: float | None, rejected: dict, calibration: dict
) -> tuple[list[tuple[float, str, float]], set[str]]:
    """The candidate plans predicted to fit, as (measured seconds, plan, predicted peak); the others go to
    `rejected` with every limit they break. Also returns what kept plans out ("GPU memory", "host RAM")."""
    fitting: list[tuple[float, str, float]] = []
    binding: set[str] = set()
    for name in fallback_order(calibration):
        entry = calibration["plans"].get(name, {})
        peak = predict_peak_gib(name, *size, calibration)
        host_needed = entry.get("host_rss_gib")
        if peak is None:
            rejected[name] = Rejected(name, None, Localized("not measured on a GPU yet"))
            continue
        limits = {}  # every constraint this plan breaks, so the message names the one that binds
        if peak > budget:
            limits["GPU memory"] = Localized(
                "GPU memory: predicted peak {peak:.1f} GiB > {budget:.1f} GiB usable", peak=peak, budget=budget
            )
        if host_budget is not None and host_needed and host_needed > host_budget:
            limits["host RAM"] = Localized(
                "host RAM: needs about {needed:.1f} GiB > {budget:.1f} GiB usable",
                needed=host_needed,
                budget=host_budget,
            )
        if limits:
            rejected[name] = Rejected(name, peak, joined(limits.values()))
            binding.update(limits)
        else:
            fitting.append((entry.get("seconds") or float("inf"), name, peak))
    return fitting, binding


def _least_memory(
    size: tuple[int, int, int],
    budget: float,
    host_budget: float | None,
    binding: set[str],
    rejected: dict,
    warnings: list[str],
    calibration: dict,
) -> PlanChoice:
    """When nothing is predicted to fit: the plan that needs the least GPU memory (what a run falls back to last),
    not fitting, with a warning that says so."""
    num_frames, height, width = size
    name = fallback_order(calibration)[-1]
    peak = predict_peak_gib(name, *size, calibration)
    gpu = Localized("{budget:.1f} GiB of GPU memory", budget=budget)
    limits = {"GPU memory": gpu, "host RAM": Localized("{budget:.1f} GiB of host RAM", budget=host_budget or 0)}
    within = [limits[kind] for kind in limits if kind in binding] or [gpu]
    warnings.append(
        Localized(
            "no plan is predicted to fit {frames} frames at {height}x{width} in {within} (even {plan}, the plan that "
            "needs the least GPU memory): use fewer frames or a smaller size (`svd-learn plan` says what fits).",
            frames=num_frames,
            height=height,
            width=width,
            within=joined(within, Localized(" and ")),
            plan=name,
        )
    )
    alternatives = tuple(rejected[n] for n in PLANS if n in rejected and n != name)
    why_not = rejected[name].why if name in rejected else Localized("not measured")
    return PlanChoice(
        PLANS[name],
        Localized("nothing is predicted to fit; this plan needs the least GPU memory ({why_not})", why_not=why_not),
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
            why = Localized(
                "fits, but slower ({seconds:.1f} s vs {chosen:.1f} s measured)", seconds=other_seconds, chosen=seconds
            )
        elif (other_seconds, other, other_peak) not in roomy:
            why = _needs_margin(PLANS[other].decode_chunk_size, other_peak, margin, budget)
        else:
            why = _as_fast_but(other, other_seconds, other_peak, chunk)
        rejected[other] = Rejected(other, other_peak, why)
    estimated = calibration["plans"][name].get("seconds_estimated_from_steps")
    measured = Localized("estimated from {steps} steps", steps=estimated) if estimated else Localized("measured")
    reason = Localized(
        "the fastest plan that fits; its predicted peak, {peak:.1f} GiB, fits the {budget:.1f} GiB usable of "
        "{vram:g} GiB (speed from the calibration GPU, {gpu} under a T4 budget: {seconds:.1f} s per {steps}-step "
        "SVD-XT call, {measured}; your GPU's time differs)",
        peak=peak,
        budget=budget,
        vram=vram_gib,
        gpu=calibration["machine"]["gpu"],
        seconds=seconds,
        steps=calibration["reference"]["steps"],
        measured=measured,
    )
    if len(tied) > 1:
        reason = Localized(
            "{reason}. Plans within {tie:.0%} of the fastest count as equally fast; among them the largest decode "
            "chunk that fits with {margin:.1f} GiB to spare wins ({chunk} frames at once: the VAE's temporal layers "
            "see more frames, so less flicker), then the lowest peak",
            reason=reason,
            tie=SPEED_TIE,
            margin=margin,
            chunk=chunk,
        )
    return name, peak, reason


def _needs_margin(chunk: int, peak: float, margin: float, budget: float) -> Localized:
    return Localized(
        "fits a fresh process ({peak:.1f} GiB), but decoding {chunk} frames at once is only taken with {margin:.1f} GiB "
        "to spare: a notebook that ran a pipeline before peaks that much higher ({higher:.1f} > {budget:.1f} GiB usable)",
        peak=peak,
        chunk=chunk,
        margin=margin,
        higher=peak + margin,
        budget=budget,
    )


def _as_fast_but(other: str, other_seconds: float, other_peak: float, chunk: int) -> Localized:
    """Why a plan as fast as the chosen one lost: it decodes fewer frames at once, or peaks higher."""
    if PLANS[other].decode_chunk_size < chunk:
        return Localized(
            "fits and is as fast within {tie:.0%} ({seconds:.1f} s), but decodes fewer frames at once ({other_chunk} "
            "instead of {chunk}: less temporal context)",
            tie=SPEED_TIE,
            seconds=other_seconds,
            other_chunk=PLANS[other].decode_chunk_size,
            chunk=chunk,
        )
    return Localized(
        "fits and is as fast within {tie:.0%} ({seconds:.1f} s), but peaks higher ({peak:.1f} GiB)",
        tie=SPEED_TIE,
        seconds=other_seconds,
        peak=other_peak,
    )


@dataclass(frozen=True)
class PlansToTry:
    """The plans a run tries in order: the first, then every plan that needs less GPU memory (on CUDA
    out-of-memory, the next); why the first, and its predicted peak reserved GPU memory (None without a GPU)."""

    plans: tuple[Plan, ...]
    reason: str
    predicted_peak_gib: float | None

    @property
    def first(self) -> Plan:
        return self.plans[0]


def plans_to_try(
    requested: str, device: str, vram_gib: float | None, host_ram_gib: float | None, checkpoint: str, params, say=print
) -> PlansToTry:
    """The plans a run tries in order, for a call the size of `params` (num_frames, height, width).

    `requested` is "auto" (choose_plan for `vram_gib`, None without a GPU) or a plan name (PlanError if there is
    none, or if it cannot run on `device`, "cuda" or "cpu").
    """
    size = (params.num_frames, params.height, params.width)
    if requested == "auto":
        choice = choose_plan(vram_gib, host_ram_gib, checkpoint, *size)
        for warning in choice.warnings:
            if ALLOC_CONF_VARIABLE not in warning:  # the capstone set it, or said why it could not
                say(Localized("warning: {warning}", warning=warning))
        first, reason, predicted = choice.plan, choice.reason, choice.predicted_peak_gib
    else:
        first = get_plan(requested)  # the one list of plan names, the same `svd-learn plan` prints
        reason, predicted = Localized("asked for with --plan"), predict_peak_gib(first, *size)
    if (first.placement == "cpu") != (device == "cpu") and first.placement != "gpu":
        cpu, gpu = Localized("the CPU"), Localized("a CUDA GPU")
        raise PlanError(
            Localized(
                "Plan {plan} places the model on {placement}, and this run is on {device}. Use --plan auto.",
                plan=first.name,
                placement=cpu if first.placement == "cpu" else Localized("a CUDA GPU with offload"),
                device=gpu if device == "cuda" else cpu,
            )
        )
    if device == "cpu":  # a GPU plan runs on the CPU (on_the_cpu): no GPU memory to predict
        predicted = None
    predicted = None if predicted is None else round(predicted, 2)
    return PlansToTry(tuple(_lower_plans(first, device, size)), reason, predicted)


def on_the_cpu(plan: Plan, device: str) -> str:
    """What a run report adds to the reason for its plan when a GPU plan ran without a GPU (lesson 5 forces one
    to show the fallback on a CPU): where it really ran. "" otherwise."""
    if device.split(":")[0] != "cpu" or plan.placement != "gpu":
        return ""
    return Localized(
        "; run on the CPU: this machine has no CUDA GPU, so the plan's device is the CPU (the whole model on it, in "
        "fp32, decoding {chunk} frames at a time)",
        chunk=plan.decode_chunk_size,
    )


def _lower_plans(first: Plan, device: str, size: tuple[int, int, int]) -> list[Plan]:
    """`first`, then every candidate plan that needs less GPU memory, in the fallback order."""
    if first.placement == "cpu":
        return [first]  # nothing to fall back to
    order = [PLANS[name] for name in fallback_order()]  # most GPU memory (fastest) first
    if first in order:
        candidates = order[order.index(first) :]
    else:  # a baseline recipe: then every plan predicted to need less memory

        def peak(plan: Plan) -> float:
            value = predict_peak_gib(plan, *size)
            return float("inf") if value is None else value

        candidates = [first] + [p for p in order if peak(p) < peak(first)]
    if device == "cpu":  # "gpu" placements run on the CPU device; offloading needs a GPU
        candidates = [p for p in candidates if p.placement == "gpu"]
    return candidates


# ----------------------------------------------------------------------------------------------------
# svd-learn plan


def plan_time_line(plan: Plan, num_frames: int, height: int, width: int, calibration: dict) -> str | None:
    """The time of one 25-step call with `plan`: measured seconds and the GPU they were measured on, beside
    the T4 estimate (svd_learn.t4: FLOPs at a T4's sustained rate plus the weights it moves over PCIe)."""
    if plan.placement == "cpu":
        return None
    steps = calibration["reference"]["steps"]
    entry = calibration["plans"].get(plan.name, {})
    reference = calibration["reference"]
    measured = (
        Localized(
            "{seconds:.1f} s measured on {gpu} under a T4 budget (at {frames} frames, {width}x{height})",
            seconds=entry["seconds"],
            gpu=calibration["machine"]["gpu"],
            frames=reference["frames"],
            width=reference["width"],
            height=reference["height"],
        )
        if entry.get("seconds")
        else Localized("not measured")
    )
    estimate = t4.describe_plan_estimate(plan, steps, num_frames, height, width)
    return Localized(
        "time for {steps} steps: {measured}; {estimate}", steps=steps, measured=measured, estimate=estimate
    )


def check_memory_sizes(vram_gib: float | None, host_ram_gib: float | None) -> None:
    """Refuse a GPU or host size that no machine has (negative, nan, infinite), with what to pass instead."""
    rules = (("--vram", vram_gib, Localized("0 (no GPU) or more")), ("--host-ram", host_ram_gib, Localized("above 0")))
    for flag, value, rule in rules:
        if value is not None and (not math.isfinite(value) or value < 0 or (flag == "--host-ram" and value == 0)):
            raise ValueError(
                Localized(
                    "{flag} {value:g} is not a memory size: give a finite number of GiB, {rule} (a Colab T4 has "
                    "--vram 14.74 --host-ram 12.7).",
                    flag=flag,
                    value=value,
                    rule=rule,
                )
            )


def smallest_gpu(num_frames: int = 25, height: int = 576, width: int = 1024, calibration: dict | None = None):
    """The plan that needs the least GPU memory, and the smallest GPU (GiB) it is predicted to fit for this call:
    its predicted peak plus what the CUDA context takes outside PyTorch's pool."""
    calibration = calibration or read_calibration()
    least = PLANS[fallback_order(calibration)[-1]]
    return least, predict_peak_gib(least, num_frames, height, width, calibration) + calibration["gpu_reserve_gib"]


def check_gpu_size(gib: float, flag: str, size: tuple[int, int, int] = (25, 576, 1024)) -> None:
    """Refuse a GPU size (`plan --vram`, `generate --vram-budget`) that is not one, or that no call of SVD could
    use: at most what the CUDA context takes before any of it (PlanError), saying the smallest GPU predicted to
    fit a call of `size` (frames, height, width)."""
    if not math.isfinite(gib) or gib <= 0:
        raise PlanError(
            Localized("{flag} {gib:g}: give a finite number of GiB above 0 (a Colab T4 has 14.74).", flag=flag, gib=gib)
        )
    calibration = read_calibration()
    reserve = calibration["gpu_reserve_gib"]
    if gib <= reserve:
        least, smallest = smallest_gpu(*size, calibration)
        raise PlanError(
            Localized(
                "{flag} {gib:g}: the CUDA context and its libraries take about {reserve:g} GiB of a GPU before any of "
                "SVD, so nothing of it fits. The smallest GPU predicted to fit {frames} frames at {height}x{width} is "
                "{smallest:.1f} GiB (plan {plan}; fewer frames need less).",
                flag=flag,
                gib=gib,
                reserve=reserve,
                frames=size[0],
                height=size[1],
                width=size[2],
                smallest=smallest,
                plan=least.name,
            )
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
    try:
        check_memory_sizes(vram_gib, host_ram_gib)
        num_frames = get_checkpoint(checkpoint).num_frames if num_frames is None else num_frames
        size_warnings = check_size(checkpoint, num_frames, height, width)
        if vram_gib:  # 0: no GPU
            check_gpu_size(vram_gib, "--vram", (num_frames, height, width))
    except (ValueError, ParameterError) as error:
        print(Localized("error: {error}", error=error), file=sys.stderr)
        return 1
    if vram_gib is None or host_ram_gib is None:
        env = probe()
        vram_gib = env.vram_gib if vram_gib is None else vram_gib
        host_ram_gib = env.host_ram_gib if host_ram_gib is None else host_ram_gib
    choice = choose_plan(vram_gib, host_ram_gib, checkpoint, num_frames, height, width)
    calibration = read_calibration()
    time_line = plan_time_line(choice.plan, num_frames, height, width, calibration)
    asked = {"vram_gib": vram_gib, "host_ram_gib": host_ram_gib, "checkpoint": checkpoint, "num_frames": num_frames}
    asked.update(height=height, width=width)
    if as_json:
        extra = {"time": time_line, "size_warnings": size_warnings, "plans": ["auto", *PLANS]}
        calibrated = {"calibration": {k: calibration[k] for k in ("source", "machine")}}
        print(json.dumps({**asked, **asdict(choice), **extra, **calibrated}, indent=2))
    elif choice.fits:
        print_plan(asked, choice, size_warnings, time_line, calibration)
    else:
        print_no_plan(asked, choice, size_warnings, calibration)
    return 0 if choice.fits else 1


def print_no_plan(asked: dict, choice: PlanChoice, size_warnings: list[str], calibration: dict) -> None:
    """`svd-learn plan`'s text when no plan is predicted to fit: said plainly, each limit broken, and what would fit."""
    frames, height, width = asked["num_frames"], asked["height"], asked["width"]
    gpu = Localized("a GPU with {vram:g} GiB", vram=asked["vram_gib"])
    print(_asked_line(asked, gpu) + "\n")
    for warning in size_warnings:
        print(Localized("warning: {warning}", warning=warning))
    print(Localized("no plan fits: every plan is predicted to need more than this machine has."))
    least, size = choice.plan, (frames, height, width)
    budget = asked["vram_gib"] - calibration["gpu_reserve_gib"]
    if choice.predicted_peak_gib > budget:
        peaks = {n: predict_peak_gib(least, n, height, width, calibration) for n in range(frames - 1, 0, -1)}
        fewer = next(
            (Localized("{frames} frames", frames=n) for n, peak in peaks.items() if peak <= budget),
            Localized("no frame count"),
        )
        _, smallest = smallest_gpu(*size, calibration)
        print(
            Localized(
                "  GPU memory: {plan}, the plan that needs the least, peaks at {peak:.1f} GiB > {budget:.1f} GiB "
                "usable\n  fits instead: {fewer} at this size, or a GPU of at least {smallest:.1f} GiB",
                plan=least.name,
                peak=choice.predicted_peak_gib,
                budget=budget,
                fewer=fewer,
                smallest=smallest,
            )
        )
    host_budget = asked["host_ram_gib"] - calibration["host_reserve_gib"]
    candidates = [n for n in fallback_order(calibration) if predict_peak_gib(n, *size, calibration) <= budget]
    host_needs = {n: calibration["plans"][n]["host_rss_gib"] for n in candidates or [least.name]}
    lightest = min(host_needs, key=host_needs.get)
    if host_needs[lightest] > host_budget:
        print(
            Localized(
                "  host RAM: {ram:g} GiB leaves {budget:.1f} GiB usable, and {plan} needs {needed:.1f} GiB\n  fits "
                "instead: at least {enough:.1f} GiB of host RAM",
                ram=asked["host_ram_gib"],
                budget=host_budget,
                plan=lightest,
                needed=host_needs[lightest],
                enough=host_needs[lightest] + calibration["host_reserve_gib"],
            )
        )
    if choice.alternatives:
        print(Localized("considered:"))
        for rejected in choice.alternatives:
            print(f"  {rejected.plan}: {rejected.why}")


def print_plan(asked: dict, choice: PlanChoice, size_warnings: list[str], time_line: str | None, calibration: dict):
    """`svd-learn plan`'s text: what was asked, the choice and why, the time, and where the calibration comes from."""
    gpu = Localized("a GPU with {vram:g} GiB", vram=asked["vram_gib"]) if asked["vram_gib"] else Localized("no GPU")
    print(_asked_line(asked, gpu) + "\n")
    for warning in size_warnings:
        print(Localized("warning: {warning}", warning=warning))
    print(choice.explain())
    if time_line:
        print(time_line)
    plans = Localized("plans for `svd-learn generate --plan`: auto (this choice), {plans}", plans=", ".join(PLANS))
    print(f"\n{plans}")
    machine = calibration["machine"]
    print(
        Localized(
            "calibration: measured on {gpu} (torch {torch}, diffusers {diffusers}) under a {cap} GiB cap; {source}. "
            "Predicted peaks apply to any GPU; times are that GPU's.",
            gpu=machine["gpu"],
            torch=machine["torch"],
            diffusers=machine["diffusers"],
            cap=calibration["reference"]["cap_gib"],
            source=calibration["source"],
        )
    )


def _asked_line(asked: dict, gpu: str) -> str:
    """What `svd-learn plan` was asked: "svd-xt, 25 frames at 576x1024, on a GPU with 14.74 GiB and 12.7 GiB of
    host RAM"."""
    return str(
        Localized(
            "{checkpoint}, {frames} frames at {height}x{width}, on {gpu} and {ram:g} GiB of host RAM",
            checkpoint=asked["checkpoint"],
            frames=asked["num_frames"],
            height=asked["height"],
            width=asked["width"],
            gpu=gpu,
            ram=asked["host_ram_gib"],
        )
    )
