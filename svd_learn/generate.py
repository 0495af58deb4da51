"""Lesson 5, the capstone: one image in, one SVD video out, planned, guarded and reported.

`generate_video` is the whole course in one function, in the order of the design's data flow:

    check every input before anything is built, loaded or downloaded: the outputs (never overwrite without
    force; no folder made yet), the model and source, the parameters (a preset from the model card, the
    caller's overrides, validated), the image (parameters.load_image / prepare_image), the machine
    (environment.probe) and the memory plan (memory.choose_plan: the fastest that fits)
    -> build or load the pipeline (fp16 variant, safetensors) -> apply the plan -> denoise and decode
       (on CUDA out-of-memory: free everything, take the next lower plan, say so, record it)
    -> write the mp4 (and a GIF) atomically -> the run report (JSON beside the video).

The last three steps are `make_video`, which takes an already loaded pipeline (a `PlannedPipeline`):
`generate_video` loads one per call, `svd-learn batch` (batch.py) one per process for all its videos.
`svd-learn generate` (cli.py) adds a progress bar. Every mistake a user can make ends in a short
`GenerationError` (or the ModelError / ParameterError / ImageError / OutputError it came from) that says
what to do. Which weights, and loading them with Hub errors turned into advice, is models.py's job.
The memory plans come from memory.py (`plans_to_try`); `simulated_out_of_memory` is the seam through which
lesson 5 and the tests exercise the fallback on a machine without a GPU.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from svd_learn import models
from svd_learn.environment import GIB, SOURCE_VARIABLE, cpu_threads, probe
from svd_learn.models import (  # noqa: F401 -- the capstone's names for what models.py decides
    HubUnreachable,
    ModelChoice,
    ModelError,
    choose_model,
    hub_advice,
    resolve_model,
    with_weights,
)

RANDOM_WEIGHTS_NOTE = "the weights are random ({source} source): the frames are noise, not a video of your image"


class GenerationError(RuntimeError):
    """A generation that cannot run as asked; the message says what to do."""


# The weights (which model, from which source, loaded with errors that say what to do) are models.py's:
# these names are the capstone's, and `load_pipeline` is the seam the tests replace.
load_pipeline = models.load_chosen


# ----------------------------------------------------------------------------------------------------
# Freeing GPU memory after a failed attempt.


def free_memory(device: str) -> None:
    """Give back what a failed attempt held: Python objects first, then the CUDA cache."""
    import torch

    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------------
# The run report.


@dataclass
class RunReport:
    """Everything needed to reproduce a run and to judge it; saved as JSON beside the video."""

    output: str
    image: str
    model: str
    source: str
    source_reason: str
    checkpoint: str
    random_weights: bool
    parameters: dict
    warnings: list[str]
    device: str
    plan: str
    plan_reason: str
    predicted_peak_gib: float | None
    budget_gib: float | None
    emulate_t4: bool
    environment: dict
    frames: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0
    file_bytes: int = 0
    gif: str | None = None
    fallbacks: list[dict] = field(default_factory=list)
    peak_allocated_gib: float | None = None
    peak_reserved_gib: float | None = None
    denoise_peak_allocated_gib: float | None = None
    host_rss_peak_gib: float = 0.0
    timings: dict = field(default_factory=dict)
    t4_estimate: str | None = None  # svd_learn.t4's estimate of this call on a T4 (FLOPs and PCIe), labelled as one
    compiled_unet: bool = False  # the UNet ran under torch.compile (its warm-up is in the first video's denoise_s)
    report: str | None = None
    command: list[str] | None = None  # the command line, when run as `svd-learn generate`

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path, force: bool = True) -> Path:
        from svd_learn.video import write_json

        return write_json(self.to_dict(), path, force=force)  # replaced only by a complete file, read back

    def summary(self) -> str:
        peak = (
            f"peak VRAM {self.peak_reserved_gib:.2f} GiB reserved" if self.peak_reserved_gib is not None else "no GPU"
        )
        fallbacks = f", after {len(self.fallbacks)} fallback(s)" if self.fallbacks else ""
        measured_on = self.environment.get("gpu_name") if self.device.startswith("cuda") else None
        return (
            f"wrote {self.output}: {self.frames} frames {self.width}x{self.height} at {self.fps:g} fps, "
            f"{self.file_bytes / 1e6:.2f} MB, {self.timings.get('total_s', 0):.1f} s measured on {measured_on or 'the CPU'}, "
            f"{peak}, plan {self.plan}{fallbacks}"
            + (f" (random weights, {self.source} source: the frames are noise)" if self.random_weights else "")
            + (f"; {self.t4_estimate}" if self.t4_estimate else "")
        )


def t4_estimate(plan, params, tiny: bool) -> str:
    """The run's estimate on a T4 (svd_learn.t4): this call's steps and frames with the real model, at the call's
    size (tiny weights stand for the real model at its 576x1024)."""
    from svd_learn import t4

    height, width = (576, 1024) if tiny else (params.height, params.width)
    text = t4.describe_plan_estimate(plan, params.num_inference_steps, params.num_frames, height, width)
    return f"with the real model at {width}x{height}, {text}" if tiny else text


def host_rss_peak_gib() -> float:
    """The most host memory this process has held so far, in GiB (lesson 4's measurement)."""
    from svd_learn import memory

    return round(memory.host_peak_rss_gib(), 2)


@contextmanager
def torch_threads(threads: int):
    """Run with this many CPU threads (see environment.cpu_threads), then give back the number there was."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ----------------------------------------------------------------------------------------------------
# The capstone.


def generate_video(
    image: str | Path,
    output: str | Path,
    *,
    model: str | None = None,
    source: str | None = None,
    plan: str = "auto",
    emulate_t4: bool = False,
    vram_budget_gib: float | None = None,
    compile_unet: bool = False,  # torch.compile the UNet (compile_unet): the same video, a warm-up first
    gif: bool = False,
    force: bool = False,
    report: str | Path | None = None,
    say: Callable[[str], None] = print,
    on_step: Callable[[int, int], None] | None = None,
    command: list[str] | None = None,
    **overrides,
) -> RunReport:
    """Generate a video from one image and write it to `output` (an .mp4, its JSON report beside it or at
    `report`); return the run report. Every input is checked before anything is built, loaded or downloaded.

    - model: a checkpoint (svd, svd-xt, svd-xt-1-1), Hub repo id or pipeline folder; source: tiny, random or
      pretrained (default: $SVD_LEARN_SOURCE, else by the machine). plan: "auto" or a name of memory.PLANS.
    - emulate_t4: a T4's 14.74 GiB cap and attention kernels; vram_budget_gib: another cap.
    - say: progress messages; on_step(step, total): after each step (else diffusers' bar); command: recorded.
    - **overrides: generation parameters by field name (parameters.KNOBS: num_frames=14, seed=7, ...); not
      given or None: the checkpoint's preset. seed=None draws one. A decode_chunk_size replaces the plan's.
    KeyboardInterrupt from anywhere leaves no file; a failed run creates no folder.
    """
    from svd_learn import memory, parameters

    started = time.perf_counter()

    # 1. Every input first: a refusal now costs nothing; the same refusal after ten minutes of GPU costs ten minutes.
    output, report_path, gif_path = check_outputs(output, report, gif, force)
    choice = resolve_model(model, source)  # nothing built or downloaded yet
    if "seed" in overrides and overrides["seed"] is None:
        overrides["seed"] = random.randrange(2**32)  # drawn once: the fallback below keeps it
    overrides = parameters.check_overrides(overrides)
    params, warnings = generation_parameters(choice, overrides)
    original = parameters.load_image(image, height=params.height, width=params.width)
    picture = parameters.prepare_image(original, params.height, params.width)  # too small? say so now
    env, device, budget = check_machine(emulate_t4, vram_budget_gib, say)
    plans = plans_for(plan, device, env, budget, params, choice.checkpoint, say)

    # 2. The weights: built (tiny, random) or loaded (fp16 variant, safetensors). Without Hub access, and only
    #    when the user named neither a model nor a source: tiny weights, said and recorded.
    free_memory(device)  # a pipeline from an earlier run in this notebook may still wait for the garbage collector
    loaded = time.perf_counter()
    try:
        choice = with_weights(choice, say)
        say(f"loading {choice.location} ({choice.source} weights: {choice.reason}) ...")
        pipe = load_pipeline(choice, device)
    except HubUnreachable as error:
        if choice.explicit:
            raise
        choice, fallback = tiny_fallback(choice, error, say)
        params, warnings = generation_parameters(choice, overrides)
        warnings.append(fallback)
        picture = parameters.prepare_image(original, params.height, params.width)
        plans = plans_for(plan, device, env, budget, params, choice.checkpoint, say)
        pipe = load_pipeline(choice, device)
    load_s = time.perf_counter() - loaded
    say_warnings(choice, device, warnings, say)

    # 3. The plan: the fastest predicted to fit (memory.choose_plan), then every lower one as a fallback.
    threads, why = cpu_threads()  # on the CPU: the cores other processes leave free (recorded, not printed: it varies)
    environment = {**env.to_dict(), "cpu_threads": f"{threads} ({why})" if device == "cpu" else None}
    planned = PlannedPipeline(pipe, choice, device, *plans, environment, budget, emulate_t4, compile_unet=compile_unet)
    say(f"plan: {planned.plan.name} ({planned.plan_reason})")
    del pipe  # `planned` holds it now: after an out-of-memory, no other reference may keep it alive

    # 4. Apply the plan, generate (falling back on CUDA out-of-memory), write the video and the report.
    # (With a budget: a T4's cap and kernels, or --vram-budget's cap.)
    limits = (
        memory.emulate_t4(budget, t4_kernels=emulate_t4)
        if budget is not None
        else (torch_threads(threads) if device == "cpu" else nullcontext())
    )
    with limits:
        return make_video(
            planned,
            image,
            picture,
            params,
            warnings,
            output,
            report_path,
            gif_path=gif_path,
            decode_chunk_size=overrides.get("decode_chunk_size"),
            force=force,
            command=command,
            started=started,
            load_s=load_s,
            say=say,
            on_step=on_step,
        )


def tiny_fallback(choice: ModelChoice, error: Exception, say) -> tuple[ModelChoice, str]:
    """Tiny weights instead of the default's pretrained ones, which the Hub cannot give; and the warning to record."""
    fallback = (
        f"the Hub is unreachable and {choice.location} is not cached, so tiny random weights were used "
        f"(set {SOURCE_VARIABLE}=pretrained to make this an error)"
    )
    say(
        f"note: {error}\nnote: falling back to tiny random weights (set {SOURCE_VARIABLE}=pretrained to make this an error)"
    )
    return with_weights(ModelChoice("", "tiny", choice.checkpoint, False, "fell back: " + fallback), say), fallback


def say_warnings(choice: ModelChoice, device: str, warnings: list[str], say) -> None:
    for warning in warnings:
        say(f"warning: {warning}")
    if choice.source in ("tiny", "random"):
        say("note: " + RANDOM_WEIGHTS_NOTE.format(source=choice.source))
    if choice.source == "random" and device == "cpu":
        say("note: full-size random weights on a CPU take minutes a step; --source tiny runs in seconds")


def plans_for(plan: str, device: str, env, budget_gib: float | None, params, checkpoint, say) -> tuple:
    """memory.plans_to_try for this machine (under the GPU budget, if any): the plans, why the first, its peak."""
    from svd_learn import memory

    vram = (budget_gib if budget_gib is not None else env.vram_gib) if device == "cuda" else None
    try:
        return memory.plans_to_try(plan, device, vram, env.host_ram_gib, checkpoint.name, params, say)
    except memory.PlanError as error:
        raise GenerationError(str(error)) from None


def check_outputs(output, report, gif: bool, force: bool) -> tuple[Path, Path, Path | None]:
    """The video, report and GIF paths, each refused now if it cannot be written (no folder is created yet)."""
    from svd_learn.video import check_output

    output = check_output(output, force=force, suffix=".mp4")
    report_path = check_output(
        report if report is not None else output.with_suffix(".json"), force=force, suffix=".json"
    )
    gif_path = check_output(output.with_suffix(".gif"), force=force, suffix=".gif") if gif else None
    return output, report_path, gif_path


def check_machine(emulate_t4: bool, vram_budget_gib: float | None, say) -> tuple:
    """Probe the machine (expandable segments asked for first); refuse a GPU cap this machine cannot have.
    Returns the environment, the device ("cuda" or "cpu") and the GPU budget in GiB (None: the whole GPU)."""
    import math

    import torch

    from svd_learn import memory

    if torch.cuda.is_available():  # (this does not start CUDA; probe() does)
        expandable_segments(say)
    env = probe()
    device = "cuda" if env.cuda_available else "cpu"
    if (emulate_t4 or vram_budget_gib is not None) and device != "cuda":
        raise GenerationError(
            "--emulate-t4 and --vram-budget cap a CUDA GPU's memory, and this machine has no CUDA GPU."
        )
    if vram_budget_gib is not None and not (math.isfinite(vram_budget_gib) and 0 < vram_budget_gib <= env.vram_gib):
        raise GenerationError(
            f"--vram-budget {vram_budget_gib:g}: give GiB above 0 and at most this GPU's {env.vram_gib:g} GiB."
        )
    budget = vram_budget_gib if vram_budget_gib is not None else (memory.T4_GIB if emulate_t4 else None)
    return env, device, budget


def expandable_segments(say) -> None:
    """Expandable segments cut fragmentation (the planner's calibration was measured with them); they must be
    asked for before CUDA starts, so in a notebook that already used the GPU we can only say so."""
    from svd_learn import memory

    try:
        memory.enable_expandable_segments()
    except RuntimeError:
        say(
            f"warning: CUDA started before {memory.ALLOC_CONF_VARIABLE}={memory.EXPANDABLE_SEGMENTS} was set: "
            "expect more reserved memory than the plan predicts"
        )


def generation_parameters(choice: ModelChoice, overrides: dict):
    """The checkpoint's preset with the caller's values (parameters.KNOBS; None = keep the preset), validated;
    and its warnings.

    Tiny weights run at their own trained size (the real one / 8) with the real frame count and steps.
    """
    from svd_learn import parameters

    params = replace(parameters.preset(choice.checkpoint.name), **parameters.check_overrides(overrides))
    if choice.source == "tiny":
        params = replace(params, height=models.TINY_SIZE[0], width=models.TINY_SIZE[1])
    warnings = params.validate(choice.checkpoint.name)
    if choice.source == "tiny":  # tiny weights were "trained" at TINY_SIZE: the size warnings do not apply
        warnings = [w for w in warnings if w.split("=")[0] not in ("height", "width")]
    return params, warnings


# ----------------------------------------------------------------------------------------------------
# One video from a loaded pipeline: what `generate_video` does once and `svd-learn batch` (batch.py) many times.


@dataclass
class PlannedPipeline:
    """A loaded pipeline with its memory plans: the first to try, then every lower one to fall back to.

    The current plan is applied on first use. After a CUDA out-of-memory `fall_back` drops the pipeline (with
    its offload hooks); the next use loads a fresh one with the next lower plan, which later videos keep.
    """

    pipe: object = field(repr=False)  # None after an out-of-memory, until the next use reloads it
    choice: ModelChoice
    device: str  # "cpu", "cuda" or "cuda:N" (one GPU per process in a batch); the report's device
    plans: list  # memory.Plan objects, the first to try first
    plan_reason: str
    predicted_peak_gib: float | None
    environment: dict  # probe().to_dict(), for the reports
    budget_gib: float | None = None
    emulate_t4: bool = False
    compile_unet: bool = False  # torch.compile the UNet after applying a plan that keeps it on the device
    plan_index: int = 0
    applied: bool = False  # the current plan is applied to `pipe`
    load_s: float = 0.0  # seconds spent applying plans and reloading

    @property
    def plan(self):
        return self.plans[self.plan_index]

    def pipeline(self, say: Callable[[str], None] = print):
        """The pipeline with the current plan applied (and reloaded first, after an out-of-memory)."""
        from svd_learn import memory

        if self.pipe is None or not self.applied:
            started = time.perf_counter()
            if self.pipe is None:  # a fresh pipeline, free of the last plan's hooks
                say(f"reloading {self.choice.location} ...")
                self.pipe = load_pipeline(self.choice, self.device.split(":")[0])  # "cuda:1" loads as "cuda"
            memory.apply_plan(self.pipe, self.plan, self.device)
            if self.compile_unet:
                compile_unet(self.pipe, self.plan, say)
            self.applied = True
            self.load_s += time.perf_counter() - started
        return self.pipe

    def fall_back(self, error: str, say: Callable[[str], None] = print) -> None:
        """After a CUDA out-of-memory: drop the pipeline, free its memory, take the next lower plan (or give up)."""
        failed = self.plan
        self.pipe, self.applied = None, False
        free_memory(self.device)
        if self.plan_index + 1 == len(self.plans):
            raise GenerationError(
                f"Out of GPU memory with every plan down to {failed.name}. Try fewer frames (--frames 14), "
                "a smaller --decode-chunk-size (1), or a GPU with more memory."
            )
        self.plan_index += 1
        say(f"out of GPU memory with plan {failed.name} ({error}); freed it, falling back to plan {self.plan.name}")


def compile_unet(pipe, plan, say: Callable[[str], None] = print) -> bool:
    """`pipe.unet = torch.compile(pipe.unet)` (default mode), when `plan` keeps the UNet on its device; says why
    not otherwise (offload hooks move its weights during the call). Returns whether it compiled.

    The video is the same (benchmarks/speedups.py checks the frames); the steps run faster, but the first call
    compiles for minutes, so it pays back only over many videos of one size in one process: `svd-learn batch`."""
    import torch

    if plan.placement not in ("gpu", "cpu"):
        say(
            f"note: --compile skipped: plan {plan.name} offloads the UNet, and compiling an offloaded UNet is not measured"
        )
        return False
    pipe.unet = torch.compile(pipe.unet)
    say("compiling the UNet with torch.compile: the first video waits for it (minutes on a GPU); later ones run faster")
    return True


def make_video(
    planned: PlannedPipeline,
    image: str | Path,
    picture,
    params,
    warnings: list[str],
    output: Path,
    report_path: Path,
    *,
    gif_path: Path | None = None,
    decode_chunk_size: int | None = None,
    force: bool = False,
    command: list[str] | None = None,
    started: float | None = None,
    load_s: float = 0.0,
    say: Callable[[str], None] = print,
    on_step: Callable[[int, int], None] | None = None,
    quiet: bool = False,
) -> RunReport:
    """One video from a loaded pipeline: denoise and decode (on CUDA out-of-memory: free, take the next lower
    plan, say so, record it), write the mp4 (and a GIF) atomically, then the run report; return the report.

    `picture` is `image` prepared to the parameters' size; `decode_chunk_size` is the caller's (None: the
    plan's). `started` is when the caller's work began and `load_s` what it spent loading (both for the
    report's timings). `quiet` keeps only the fallback messages (no progress lines or bar): what a batch wants.
    """
    from svd_learn.video import write_gif, write_mp4

    started = time.perf_counter() if started is None else started
    progress = (lambda message: None) if quiet else say
    loads_before = planned.load_s
    choice = planned.choice
    run = RunReport(
        output=str(output),
        image=str(image),
        model=choice.location,
        source=choice.source,
        source_reason=choice.reason,
        checkpoint=choice.checkpoint.name,
        random_weights=choice.source in ("tiny", "random"),
        parameters=params.to_dict(),
        warnings=warnings,
        device=planned.device,
        plan=planned.plan.name,
        plan_reason=planned.plan_reason,
        predicted_peak_gib=planned.predicted_peak_gib,
        budget_gib=planned.budget_gib,
        emulate_t4=planned.emulate_t4,
        environment=planned.environment,
        report=str(report_path),
        command=command,
    )
    frames, call = _generate_with_fallback(
        planned, picture, params, run, decode_chunk_size, say, progress, on_step, quiet
    )
    run.plan = planned.plan.name
    run.t4_estimate = t4_estimate(planned.plan, params, choice.source == "tiny")
    run.compiled_unet = planned.compile_unet and planned.plan.placement in ("gpu", "cpu")
    run.parameters["decode_chunk_size"] = call.decode_chunk_size
    run.peak_allocated_gib, run.peak_reserved_gib = call.peak_allocated_gib, call.peak_reserved_gib
    run.denoise_peak_allocated_gib = call.denoise_peak_allocated_gib
    timings = {"load_s": round(load_s + planned.load_s - loads_before, 2), **call.timings}  # with any reload

    # Write the video (and GIF) atomically, then the report.
    progress(f"writing {output} ...")
    written = time.perf_counter()
    write_mp4(frames, output, fps=params.fps, force=force)
    if gif_path:
        run.gif = str(write_gif(frames, gif_path, fps=params.fps, force=force))
    timings["write_s"] = round(time.perf_counter() - written, 2)
    run.frames, run.fps = len(frames), params.fps
    run.width, run.height = frames[0].width // 2 * 2, frames[0].height // 2 * 2  # as written: even sizes
    run.file_bytes = Path(output).stat().st_size
    run.host_rss_peak_gib = host_rss_peak_gib()
    timings["total_s"] = round(time.perf_counter() - started, 2)
    run.timings = timings
    run.save(report_path, force=force)
    return run


def _generate_with_fallback(
    planned: PlannedPipeline, picture, params, run: RunReport, decode_chunk_size, say, progress, on_step, quiet: bool
):
    """Denoise and decode with the current plan; on CUDA out-of-memory free everything, record it in
    `run.fallbacks`, take the next lower plan and try again. Returns the frames and the call's measurements."""
    from svd_learn import memory

    while True:
        try:
            pipe = planned.pipeline(progress)
            _raise_if_simulated(planned.plan.name)
            if quiet:
                pipe.set_progress_bar_config(disable=True)  # processes side by side would interleave their bars
            return denoise_and_decode(
                pipe,
                picture,
                params,
                plan=planned.plan,
                decode_chunk_size=decode_chunk_size,
                device=planned.device,
                say=progress,
                on_step=on_step,
            )
        except Exception as error:  # noqa: BLE001 -- only out-of-memory is handled here
            if not memory.is_out_of_memory(error):  # the one test of "out of memory" (lesson 4's)
                raise
            message = str(error).splitlines()[0] if str(error) else "CUDA out of memory"
            run.fallbacks.append({"plan": planned.plan.name, "error": message})
        # Outside the except block the exception (and the frames it holds, with their tensors) is gone.
        pipe = None
        planned.fall_back(message, say)


@dataclass
class CallMeasures:
    """What one pipeline call measured: the decode chunk it used, its GPU peaks (None on a CPU) and its timings."""

    decode_chunk_size: int
    timings: dict  # denoise_s, s_per_step, decode_s, call_s
    peak_allocated_gib: float | None = None
    peak_reserved_gib: float | None = None
    denoise_peak_allocated_gib: float | None = None  # the peak before decoding began


def denoise_and_decode(
    pipe,
    picture,
    params,
    *,
    plan,
    decode_chunk_size: int | None,
    device: str,
    say: Callable[[str], None] = print,
    on_step: Callable[[int, int], None] | None = None,
):
    """One call of the pipeline, timed in two phases: denoising (the step callback marks its end) and decoding.
    `decode_chunk_size` is the caller's (None: the plan's). Returns the frames and a CallMeasures."""
    import torch

    cuda = device.startswith("cuda")  # "cuda" or "cuda:N": the memory counters of that GPU
    total_steps = params.num_inference_steps
    chunk = min(
        decode_chunk_size or plan.decode_chunk_size or params.num_frames, params.num_frames
    )  # what the VAE decodes at once
    measures = CallMeasures(decode_chunk_size=chunk, timings={})
    marks: dict[str, float] = {}

    def step_end(pipeline, step, timestep, tensors):
        if on_step is not None:
            on_step(step + 1, total_steps)
        if step + 1 == total_steps:
            marks["denoised"] = time.perf_counter()
            if cuda:
                torch.cuda.synchronize(device)
                measures.denoise_peak_allocated_gib = round(torch.cuda.max_memory_allocated(device) / GIB, 2)
            say(f"decoding {params.num_frames} frames, {chunk} at a time ...")
        return tensors

    if on_step is not None:
        pipe.set_progress_bar_config(disable=True)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    kwargs = {**params.pipeline_kwargs(), "decode_chunk_size": chunk}
    generator = torch.Generator("cpu").manual_seed(params.seed)  # same noise on any device
    say(f"denoising: {total_steps} steps, {params.num_frames} frames of {params.width}x{params.height}")
    called = time.perf_counter()
    frames = pipe(picture, callback_on_step_end=step_end, generator=generator, **kwargs).frames[0]
    finished = time.perf_counter()
    if cuda:
        torch.cuda.synchronize(device)
        measures.peak_allocated_gib = round(torch.cuda.max_memory_allocated(device) / GIB, 2)
        measures.peak_reserved_gib = round(torch.cuda.max_memory_reserved(device) / GIB, 2)
    denoised = marks.get("denoised", finished)
    measures.timings = dict(
        denoise_s=round(denoised - called, 2),
        s_per_step=round((denoised - called) / total_steps, 3),
        decode_s=round(finished - denoised, 2),
        call_s=round(finished - called, 2),
    )
    return frames, measures


# ----------------------------------------------------------------------------------------------------
# A simulated out-of-memory error: the public seam for lesson 5 and the tests (a CPU has no GPU memory to exhaust).

_SIMULATED_OUT_OF_MEMORY: dict = {}


@contextmanager
def simulated_out_of_memory(*plans: str, message: str = "CUDA out of memory. Tried to allocate 7.03 GiB (simulated)"):
    """While active, every pipeline call with one of these plans raises torch.OutOfMemoryError, as a GPU too
    small for them would; other plans run as usual. Yields the list of plans called, in order."""
    called: list[str] = []
    _SIMULATED_OUT_OF_MEMORY.update(plans=set(plans), message=message, called=called)
    try:
        yield called
    finally:
        _SIMULATED_OUT_OF_MEMORY.clear()


def _raise_if_simulated(plan: str) -> None:
    import torch

    if _SIMULATED_OUT_OF_MEMORY:
        _SIMULATED_OUT_OF_MEMORY["called"].append(plan)
        if plan in _SIMULATED_OUT_OF_MEMORY["plans"]:
            raise torch.OutOfMemoryError(_SIMULATED_OUT_OF_MEMORY["message"])
