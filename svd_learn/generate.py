"""Lesson 5, the capstone: one image in, one SVD video out, planned, guarded and reported.

`generate_video` is the whole course in one function, in numbered steps, as diffusers writes
`StableVideoDiffusionPipeline.__call__`:

    1. check every input before anything is built, loaded or downloaded (request.py, which imports no torch:
       `svd-learn` runs its first half before it imports this module): the outputs (never overwrite without
       force; no folder made yet), the model and its source, the parameters (filled for the checkpoint and
       validated) and the image (parameters.load_image / prepare_image);
    2. plan memory: the machine and its budget (expandable segments asked for first), the fastest plan predicted
       to fit (planner.choose_plan) and every lower one to fall back to;
    3. open a `Session`: the weights built or loaded (fp16 variant, safetensors), the plan applied, the UNet
       compiled if asked. Without Hub access, when the user named neither a model nor a source: tiny weights;
    4. make the video: denoise and decode (measure.measure_call; on CUDA out-of-memory: free everything, take the
       next lower plan, say so, record it), then write the mp4, a GIF and a smoother copy if asked
       (video.save_smooth_mp4) and the run report, all written and read back before they replace the old files
       together;
    5. return the report.

A `Session` is steps 3 and 4 for many videos: `svd-learn batch` opens one per process, an app keeps one while the
checkpoint stays the same (no reload), with a progress callback per denoising step and a stop request checked at
each step. `svd-learn generate` (cli.py) adds a progress bar. Every mistake a user can make ends in a short
errors.UserError that says what to do; `simulated_out_of_memory` is the seam through which lesson 5 and the tests
exercise the fallback on a machine without a GPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import torch

from svd_learn import measure, memory, models, planner, plans, t4, video
from svd_learn.checkpoints import FULL_SIZE_ON_CPU
from svd_learn.environment import SOURCE_VARIABLE, Environment, course_home, cpu_threads, probe
from svd_learn.errors import UserError
from svd_learn.language import Localized, joined
from svd_learn.models import HubUnreachable, ModelChoice
from svd_learn.parameters import GenerationParameters
from svd_learn.quiet import quiet_libraries
from svd_learn.request import VideoRequest, check_arguments, video_request
from svd_learn.run import Outputs, RunReport, RunSpec


def random_weights_note(source: str) -> Localized:
    return Localized(
        "the weights are random ({source} source): the frames are noise, not a video of your image", source=source
    )


# How --compile compiles the UNet. "regional": its repeated blocks, one by one (diffusers' compile_repeated_blocks),
# measured on the T4 plan with 2 CPU cores: a 128 s warm-up, steps 9% faster, 1.6 GiB less reserved (data/t4.toml
# [compile.regional]; t4.compile_payback says after how many videos it pays back). "full": torch.compile(pipe.unet),
# a longer warm-up (benchmarks/speedups.py measures both: compile-regional, compile).
COMPILE_MODE = "regional"
COMPILE_BACKEND = "inductor"  # torch.compile's default; the tests use backends that run on any CPU
# The SVD UNet declares no `_repeated_blocks` for compile_repeated_blocks (diffusers 0.36 to 0.42): these are the
# classes of its repeated blocks, the same in every one of those versions.
REPEATED_BLOCKS = ("SpatioTemporalResBlock", "TransformerSpatioTemporalModel")


class GenerationError(UserError, RuntimeError):
    """A generation that cannot run as asked; the message says what to do."""


# ----------------------------------------------------------------------------------------------------
# The capstone.


def generate_video(
    image: str | Path,
    output: str | Path,
    params: GenerationParameters | None = None,
    spec: RunSpec = RunSpec(),
    *,
    report: str | Path | None = None,
    say: Callable[[str], None] = print,
    on_step: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunReport:
    """Generate a video from one image and write it to `output` (an .mp4, its JSON report beside it or at
    `report`); return the run report. Every input is checked before anything is built, loaded or downloaded.

    - params: what to make (GenerationParameters; None: all its defaults). num_frames None: the checkpoint's;
      decode_chunk_size None: the memory plan's.
    - spec: how to run it (RunSpec: the model and source, the plan, a GPU budget or T4 emulation, compile, GIF, force).
    - say: progress messages; on_step(step, total): after each denoising step (else diffusers' bar);
      should_stop(): asked at each step; True ends the run with measure.StopRequested and writes nothing.
    KeyboardInterrupt from anywhere leaves no file; a failed run creates no folder.
    """
    # 1. Check every input: a refusal now costs nothing; the same refusal after ten minutes of GPU costs ten minutes.
    params = params or GenerationParameters()
    outputs = check_arguments(image, output, report, params, spec)  # what needs nothing of the machine or weights
    choice = models.resolve_model(spec.model, spec.source)  # nothing built or downloaded yet
    request = video_request(image, params, choice, outputs)  # too small an image for these weights? said now

    # 2. Plan memory: this machine, its budget, the fastest plan predicted to fit, and the lower ones.
    machine = machine_for(spec, say)
    plans_to_try = plan_memory(spec, machine, request.params, choice, say)

    # 3. Open a session: the weights built or loaded, the plan applied. Without Hub access, and only when the user
    #    named neither a model nor a source: tiny weights instead, said and recorded (and step 1 and 2 for them).
    try:
        session = Session.open(spec, choice, machine, plans_to_try, say)
    except HubUnreachable as error:
        if choice.explicit:
            raise
        choice, fallback = tiny_fallback(choice, error, say)
        request = video_request(image, params, choice, outputs, [fallback])
        session = Session.open(spec, choice, machine, plan_memory(spec, machine, request.params, choice, say), say)
    say_notes(request, session, say)

    # 4. Make the video: denoise, decode (falling back on CUDA out-of-memory), write it and its report.
    with session:
        run = session.make_video(request, on_step=on_step, should_stop=should_stop)

    # 5. The report (also saved as JSON beside the video).
    return run


@dataclass(frozen=True)
class Machine:
    """Where a session runs: the probe, the device ("cpu", "cuda" or "cuda:N") and its GPU budget in GiB (None:
    the whole GPU); on a CPU, the threads torch uses (the cores other processes leave free)."""

    env: Environment
    device: str
    budget_gib: float | None = None
    cpu_threads: int | None = None
    cpu_threads_why: str | None = None

    def report(self) -> dict:
        """The environment as reports record it."""
        threads = f"{self.cpu_threads} ({self.cpu_threads_why})" if self.cpu_threads else None
        return {**self.env.to_dict(), "cpu_threads": threads}


def machine_for(spec: RunSpec, say: Callable[[str], None] = print) -> Machine:
    """Probe the machine (expandable segments asked for first: the probe starts CUDA); refuse a GPU cap this
    machine cannot have (GenerationError)."""
    if torch.cuda.is_available():  # (this does not start CUDA)
        expandable_segments(say)
    env = probe()
    device = "cuda" if env.cuda_available else "cpu"
    budget = spec.vram_budget_gib
    if (spec.emulate_t4 or budget is not None) and device != "cuda":
        raise GenerationError(
            Localized("--emulate-t4 and --vram-budget cap a CUDA GPU's memory, and this machine has no CUDA GPU.")
        )
    if budget is not None and not (math.isfinite(budget) and 0 < budget <= env.vram_gib):
        raise GenerationError(
            Localized(
                "--vram-budget {budget:g}: give GiB above 0 and at most this GPU's {vram:g} GiB.",
                budget=budget,
                vram=env.vram_gib,
            )
        )
    if budget is None and spec.emulate_t4:
        budget = memory.T4_GIB
    threads, why = cpu_threads() if device == "cpu" else (None, None)
    return Machine(env, device, budget, threads, why)


def expandable_segments(say) -> None:
    """Expandable segments cut fragmentation (the planner's calibration was measured with them); they must be
    asked for before CUDA starts (`svd-learn` does it first), so in a notebook that already used the GPU we can
    only say so, and what to do."""
    try:
        memory.enable_expandable_segments()
    except RuntimeError:
        say(
            Localized(
                "warning: CUDA started before {variable}={setting} was set: expect more reserved memory than the plan "
                "predicts. To get what the plan assumed, restart the runtime and run "
                "`memory.enable_expandable_segments()` (the lessons' setup cell does) before anything uses the GPU.",
                variable=memory.ALLOC_CONF_VARIABLE,
                setting=memory.EXPANDABLE_SEGMENTS,
            )
        )


def plan_memory(spec: RunSpec, machine: Machine, params: GenerationParameters, choice: ModelChoice, say):
    """planner.plans_to_try for this machine (under its GPU budget, if any) and a call the size of `params`."""
    device = machine.device.split(":")[0]
    gpu_gib = (
        (machine.budget_gib if machine.budget_gib is not None else machine.env.vram_gib) if device == "cuda" else None
    )
    return planner.plans_to_try(
        spec.plan, device, gpu_gib, machine.env.host_ram_gib, choice.checkpoint.name, params, say
    )


def tiny_fallback(choice: ModelChoice, error: Exception, say) -> tuple[ModelChoice, str]:
    """Tiny weights instead of the default's pretrained ones, which the Hub cannot give; and the warning to record."""
    fallback = Localized(
        "the Hub is unreachable and {location} is not cached, so tiny random weights were used (set "
        "{variable}=pretrained to make this an error)",
        location=choice.location,
        variable=SOURCE_VARIABLE,
    )
    say(
        Localized(
            "note: {error}\nnote: falling back to tiny random weights (set {variable}=pretrained to make this an error)",
            error=error,
            variable=SOURCE_VARIABLE,
        )
    )
    return ModelChoice("", "tiny", choice.checkpoint, False, Localized("fell back: {why}", why=fallback)), fallback


def check_full_size_on_cpu(spec: RunSpec, choice: ModelChoice, device: str) -> None:
    """Refuse full-size weights (random or pretrained) on a CPU unless the spec consents (--full-size-on-cpu),
    saying first what they cost (GenerationError): nothing is built, downloaded or loaded before."""
    if device.split(":")[0] != "cpu" or choice.source not in ("random", "pretrained") or spec.full_size_on_cpu:
        return
    raise GenerationError(
        Localized(
            "{cost} Add --full-size-on-cpu to run it anyway, or use --source tiny (seconds; the frames are noise) or a "
            "machine with a CUDA GPU.",
            cost=full_size_on_cpu_cost(choice),
        )
    )


def full_size_on_cpu_cost(choice: ModelChoice) -> str:
    """What the full-size model costs on this CPU, in one sentence (data/checkpoints.toml [full_size_on_cpu]): RAM,
    disk, and the time of a denoising step at the checkpoint's frames (its FLOPs at an assumed CPU rate)."""
    cost, frames = FULL_SIZE_ON_CPU, choice.checkpoint.num_frames
    step_tflop = t4.time_model().unet_tflop_per_frame_step * frames
    minutes = step_tflop / cost["cpu_tflops"] / 60
    ram_gb = psutil.virtual_memory().total / 1e9
    if choice.source == "random":
        disk = Localized(
            "{gb:g} GB of disk for its random weights (built once under {home}: minutes)",
            gb=cost["random_disk_gb"],
            home=course_home(),
        )
    else:
        disk = Localized("a {gb:g} GB download into the Hub cache (once)", gb=cost["download_gb"])
    weights = Localized("Random weights") if choice.source == "random" else Localized("Pretrained weights")
    return Localized(
        "{weights} without a CUDA GPU run the full-size {checkpoint} on the CPU: about {ram:g} GB of RAM (this "
        "machine has {here:.1f} GB), {disk}, and roughly {minutes:.0f} min a denoising step at {frames} frames "
        "({tflop:.0f} TFLOP at an assumed {rate:g} TFLOP/s), {hours:.0f} h for 25 steps.",
        weights=weights,
        checkpoint=choice.checkpoint.name,
        ram=cost["host_ram_gb"],
        here=ram_gb,
        disk=disk,
        minutes=minutes,
        frames=frames,
        tflop=step_tflop,
        rate=cost["cpu_tflops"],
        hours=minutes * 25 / 60,
    )


def say_notes(request: VideoRequest, session: Session, say) -> None:
    """The request's warnings, and what random weights mean."""
    for warning in request.warnings:
        say(Localized("warning: {warning}", warning=warning))
    source = session.choice.source
    if source in ("tiny", "random"):
        say(Localized("note: {note}", note=random_weights_note(source)))


# ----------------------------------------------------------------------------------------------------
# A session: one loaded pipeline, planned for this machine, for as many videos as asked.


class Session:
    """The weights loaded once, with the memory plan applied (and the UNet compiled, if asked), for many videos.

    It owns what every video needs from the machine: loading, the plan, compilation, the fallback to the next lower
    plan on CUDA out-of-memory (a fresh pipeline, which later videos keep), and the device limits every load and
    call runs under (a T4's or --vram-budget's cap; the free CPU threads). Open it with `Session.open`, make videos
    with `make_video`, and close it (or use it as a context manager) to give its memory back.
    """

    def __init__(self, spec: RunSpec, choice: ModelChoice, machine: Machine, plans_to_try, say=print, quiet=False):
        self.spec, self.choice, self.machine, self.plans = spec, choice, machine, plans_to_try
        self.say = say
        self.quiet = quiet  # only what matters (fallbacks, compile failures): no progress lines, no bars
        self.plan_index = 0
        self.pipe = None  # None until loaded, and after an out-of-memory until the next video reloads it
        self.compiled_unet: str | None = None  # "regional" or "full" while the UNet runs compiled
        self.compile_note: str | None = None  # why not, when compiling was asked for
        self.unreported_load_s = 0.0  # loading not yet counted in a video's report

    @classmethod
    def open(cls, spec, choice, machine, plans_to_try, say=print, quiet=False) -> Session:
        """A session with its weights built or loaded and its plan applied now. Raises models.ModelError (or its
        HubUnreachable) when the weights cannot be had, and GenerationError for full-size weights on a CPU without
        the spec's consent (check_full_size_on_cpu)."""
        check_full_size_on_cpu(spec, choice, machine.device)
        quiet_libraries()  # before anything imports diffusers: some of its noise is printed at import
        session = cls(spec, choice, machine, plans_to_try, say, quiet)
        session.choice = models.with_weights(choice, say)  # tiny and random weights: built once, then reused
        loaded = session.choice
        session.progress(
            Localized(
                "loading {location} ({source} weights: {reason}) ...",
                location=loaded.location,
                source=loaded.source,
                reason=choice.reason,
            )
        )
        session.load()
        session.progress(Localized("plan: {plan} ({reason})", plan=session.plan.name, reason=plans_to_try.reason))
        return session

    @property
    def plan(self) -> plans.Plan:
        return self.plans.plans[self.plan_index]

    def load(self) -> None:
        """Load the weights, apply the current plan, and compile the UNet if asked (its warm-up comes at the first
        call). The time counts in the next video's report."""
        started = time.perf_counter()
        memory.free_memory(self.machine.device)  # a pipeline from an earlier run in this notebook may wait for the GC
        with self.limits():
            pipe = models.load_chosen(self.choice, self.machine.device.split(":")[0])  # "cuda:1" loads as "cuda"
            plans.apply_plan(pipe, self.plan, self.machine.device)
            if self.spec.compile_unet and not (self.compile_note or "").startswith("compiling failed"):
                self.compile(pipe)  # (once it failed, a reload after an out-of-memory does not pay for it again)
        self.pipe = pipe
        self.unreported_load_s += time.perf_counter() - started

    @contextmanager
    def limits(self):
        """The device limits of this session's loads and calls: a GPU budget (a T4's cap and kernels, or
        --vram-budget's cap), or on a CPU the threads other processes leave free."""
        if self.machine.budget_gib is not None:
            with memory.emulate_t4(self.machine.budget_gib, t4_kernels=self.spec.emulate_t4):
                yield
        elif self.machine.cpu_threads:
            with torch_threads(self.machine.cpu_threads):
                yield
        else:
            yield

    def progress(self, message: str) -> None:
        if not self.quiet:
            self.say(message)

    def close(self) -> None:
        """Drop the pipeline and give its memory back."""
        self.pipe = None
        memory.free_memory(self.machine.device)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------
    # One video

    def make_video(
        self,
        request: VideoRequest,
        *,
        on_step: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> RunReport:
        """One video: denoise and decode (on CUDA out-of-memory: free, take the next lower plan, say so, record
        it), write the mp4, a GIF if asked and the run report, replacing the old files together; return the report.

        `on_step(step, total)` runs after each denoising step (diffusers' own bar is then off); `should_stop()` is
        asked at each step, and True ends the call there (measure.StopRequested): nothing is decoded or written.
        """
        started = time.perf_counter()
        with self.limits():
            call, params, fallbacks = self.call(request, on_step, should_stop)
        frames, outputs = call.frames[0], request.outputs  # the first (only) video
        self.progress(Localized("writing {video} ...", video=outputs.video))
        written = time.perf_counter()
        # The files replace the old ones together, once all are written and read back: never a new video beside
        # an old report, nor a report of a video that failed to land.
        with video.replaced_together(force=outputs.replace) as files:
            file_bytes = video.save_mp4(files, frames, outputs.video, params.fps).stat().st_size
            if outputs.gif:
                video.save_gif(files, frames, outputs.gif, params.fps)
            smoothed = self.save_smooth(files, frames, outputs, params.fps)
            load_s, finished = self.unreported_load_s, time.perf_counter()
            timings = dict(load_s=round(load_s, 2), **call_timings(call.measurement))
            timings.update(write_s=round(finished - written, 2), total_s=round(finished - started + load_s, 2))
            run = self.report(request, params, call.measurement, frames, fallbacks, timings, file_bytes)
            run.smooth = smoothed
            video.save_json(files, run.to_dict(), outputs.report)
        self.unreported_load_s = 0.0  # counted in this video's report, now written
        return run

    def save_smooth(self, files: video.FileGroup, frames, outputs: Outputs, fps: int) -> dict | None:
        """The smoother copy, if asked for, written with the other files (video.save_smooth_mp4); what the report
        says of it."""
        if outputs.smooth is None:
            return None
        self.progress(
            Localized(
                "writing {video}: frames interpolated to {fps} fps by ffmpeg ...",
                video=outputs.smooth,
                fps=outputs.smooth_fps,
            )
        )
        return video.save_smooth_mp4(files, frames, outputs.smooth, fps, outputs.smooth_fps)

    def call(self, request: VideoRequest, on_step, should_stop):
        """Denoise and decode with the current plan; on CUDA out-of-memory free everything, take the next lower
        plan and try again. Returns the measured call, the parameters it used (the plan's decode chunk filled in)
        and the out-of-memory errors met on the way ({"plan", "error"})."""
        fallbacks: list[dict] = []
        while True:
            try:
                if self.pipe is None:  # a fresh pipeline, free of the failed plan's hooks
                    self.say(Localized("reloading {location} ...", location=self.choice.location))
                    self.load()
                params = request.params.with_plan_chunk(self.plan.decode_chunk_size)
                _raise_if_simulated(self.plan.name)
                return self.measured_call(request.picture, params, on_step, should_stop), params, fallbacks
            except Exception as error:  # noqa: BLE001 -- only out-of-memory is handled here
                if not measure.is_out_of_memory(error):  # the one test of "out of memory" (lesson 4's)
                    raise
                message = str(error).splitlines()[0] if str(error) else "CUDA out of memory"
                fallbacks.append({"plan": self.plan.name, "error": message})
            # Outside the except block the exception (and the frames it holds, with their tensors) is gone.
            self.fall_back(message)

    def measured_call(self, picture, params: GenerationParameters, on_step, should_stop) -> measure.MeasuredCall:
        """The pipeline call (measure.measure_call), with the progress lines; if the compiled UNet fails (a compile
        error shows at the first call), the plain UNet is put back and the call runs again."""
        total = params.num_inference_steps

        def step_done(step: int, steps: int) -> None:
            if on_step is not None:
                on_step(step, steps)
            if step == total:
                self.progress(
                    Localized(
                        "decoding {frames} frames, {chunk} at a time ...",
                        frames=params.num_frames,
                        chunk=params.decode_chunk_size,
                    )
                )

        if on_step is not None or self.quiet:  # our own bar, or processes side by side: no diffusers bar
            self.pipe.set_progress_bar_config(disable=True)
        self.progress(
            Localized(
                "denoising: {steps} steps, {frames} frames of {width}x{height}",
                steps=total,
                frames=params.num_frames,
                width=params.width,
                height=params.height,
            )
        )
        arguments = dict(device=self.machine.device, on_step=step_done, should_stop=should_stop)
        try:
            return measure.measure_call(self.pipe, picture, params, **arguments)
        except Exception as error:
            if self.compiled_unet is None or measure.is_out_of_memory(error):
                raise
            if isinstance(error, measure.StopRequested):
                raise
            self.uncompile(error)
        return measure.measure_call(self.pipe, picture, params, **arguments)

    def fall_back(self, error: str) -> None:
        """After a CUDA out-of-memory: drop the pipeline, free its memory, take the next lower plan (or give up)."""
        failed = self.plan
        self.pipe = None
        memory.free_memory(self.machine.device)
        if self.plan_index + 1 == len(self.plans.plans):
            raise GenerationError(
                Localized(
                    "Out of GPU memory with every plan down to {plan}. Try fewer frames (--frames 14), a smaller "
                    "--decode-chunk-size (1), or a GPU with more memory.",
                    plan=failed.name,
                )
            )
        self.plan_index += 1
        self.say(
            Localized(
                "out of GPU memory with plan {failed} ({error}); freed it, falling back to plan {plan}",
                failed=failed.name,
                error=error,
                plan=self.plan.name,
            )
        )

    # ------------------------------------------------------------------------------------------------
    # Compiling the UNet: the same video, faster steps after a warm-up; never a traceback

    def compile(self, pipe) -> None:
        """Compile the UNet (COMPILE_MODE) when the plan keeps it on its device; say why not otherwise."""
        if self.plan.placement not in ("gpu", "cpu"):
            self.compiled_unet = None
            self.compile_note = Localized(
                "plan {plan} offloads the UNet, and compiling an offloaded UNet is not measured", plan=self.plan.name
            )
            self.say(Localized("note: --compile skipped: {why}", why=self.compile_note))
            return
        self.compiled_unet = compile_unet(pipe, COMPILE_MODE, COMPILE_BACKEND)
        self.compile_note = None
        self.progress(
            Localized(
                "compiling the UNet ({how}) with torch.compile: the first video waits for it (minutes on a GPU); later "
                "ones run faster",
                how=self.compiled_unet,
            )
        )

    def uncompile(self, error: BaseException) -> None:
        """A compiled UNet failed: put the plain one back, and say so in one line (and in the report)."""
        cause = error  # torch wraps the compiler's own error (BackendCompilerFailed keeps it as inner_exception)
        while (inner := getattr(cause, "inner_exception", None) or cause.__cause__) is not None:
            cause = inner
        first_line = next((line for line in str(cause).splitlines() if line.strip()), "")
        failure = f"{type(cause).__name__}: {first_line[:200]}"
        self.compile_note = Localized("compiling failed ({failure}); ran the plain UNet", failure=failure)
        self.say(
            Localized(
                "note: compiling failed ({failure}): running the plain UNet instead, the same video without the "
                "speed-up",
                failure=failure,
            )
        )
        uncompile_unet(self.pipe, self.compiled_unet)
        self.compiled_unet = None

    # ------------------------------------------------------------------------------------------------
    # The report

    def report(
        self, request: VideoRequest, params, measured: measure.Measurement, frames, fallbacks, timings, file_bytes
    ):
        """The run report, in one piece: the spec, the weights, the parameters as used, the plan, the measurements."""
        choice, machine = self.choice, self.machine
        return RunReport(
            output=str(request.outputs.video),
            image=request.image,
            model=choice.location,
            source=choice.source,
            source_reason=choice.reason,
            checkpoint=choice.checkpoint.name,
            random_weights=choice.source in ("tiny", "random"),
            parameters=params.to_dict(),
            warnings=list(request.warnings),
            device=machine.device,
            plan=self.plan.name,
            plan_reason=joined([self.plans.reason, planner.on_the_cpu(self.plan, machine.device)], ""),
            predicted_peak_gib=self.plans.predicted_peak_gib,
            budget_gib=machine.budget_gib,
            emulate_t4=self.spec.emulate_t4,
            environment=machine.report(),
            frames=len(frames),
            width=frames[0].width // 2 * 2,  # as written: even sizes
            height=frames[0].height // 2 * 2,
            fps=params.fps,
            file_bytes=file_bytes,
            gif=str(request.outputs.gif) if request.outputs.gif else None,
            fallbacks=fallbacks,
            peak_allocated_gib=_rounded(measured.peak_allocated_gib),
            peak_reserved_gib=_rounded(measured.peak_reserved_gib),
            denoise_peak_allocated_gib=_rounded(measured.denoise_peak_allocated_gib),
            host_rss_peak_gib=round(memory.host_peak_rss_gib(), 2),
            timings=timings,
            t4_estimate=t4_estimate(self.plan, params, choice.source == "tiny"),
            compiled_unet=self.compiled_unet,
            compile_note=self.compile_note if self.spec.compile_unet else None,
            report=str(request.outputs.report),
            command=list(self.spec.command) if self.spec.command else None,
        )


def call_timings(measured: measure.Measurement) -> dict:
    """The report's timings of one call."""
    return dict(
        denoise_s=round(measured.denoise_seconds, 2),
        s_per_step=round(measured.seconds_per_step, 3),
        decode_s=round(measured.decode_seconds, 2),
        call_s=round(measured.seconds, 2),
    )


def _rounded(gib: float | None) -> float | None:
    return None if gib is None else round(gib, 2)


def t4_estimate(plan, params, tiny: bool) -> str:
    """The run's estimate on a T4 (svd_learn.t4): this call's steps and frames with the real model, at the call's
    size (tiny weights stand for the real model at its 576x1024)."""
    height, width = (576, 1024) if tiny else (params.height, params.width)
    text = t4.describe_plan_estimate(plan, params.num_inference_steps, params.num_frames, height, width)
    if tiny:
        return Localized(
            "with the real model at {width}x{height}, {estimate}", width=width, height=height, estimate=text
        )
    return text


@contextmanager
def torch_threads(threads: int):
    """Run with this many CPU threads (see environment.cpu_threads), then give back the number there was."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def compile_unet(pipe, mode: str = COMPILE_MODE, backend=COMPILE_BACKEND) -> str:
    """Compile `pipe.unet` with torch.compile; returns the mode. torch compiles at the first call, not here: a
    compile error shows there (Session.measured_call catches it and calls uncompile_unet).

    - "regional": each of the UNet's repeated blocks (REPEATED_BLOCKS) on its own, with diffusers'
      `compile_repeated_blocks(fullgraph=True)` (diffusers >= 0.35; the course needs 0.36). Every block instance
      is a graph of its own for dynamo, more than its default recompile limit (8): the limit is raised to fit.
    - "full": `pipe.unet = torch.compile(pipe.unet)`, the UNet as one graph.
    """
    if mode == "regional":
        pipe.unet._repeated_blocks = list(REPEATED_BLOCKS)  # what the SVD UNet does not declare itself
        blocks = sum(type(module).__name__ in REPEATED_BLOCKS for module in pipe.unet.modules())
        dynamo = torch._dynamo.config
        dynamo.recompile_limit = max(dynamo.recompile_limit, 2 * blocks)
        pipe.unet.compile_repeated_blocks(fullgraph=True, backend=backend)
    elif mode == "full":
        pipe.unet = torch.compile(pipe.unet, backend=backend)
    else:
        raise ValueError(f"Unknown compile mode {mode!r}: use 'regional' or 'full'.")
    return mode


def uncompile_unet(pipe, mode: str) -> None:
    """Put the plain UNet back after compile_unet: its original module ("full"), or every block's plain forward
    ("regional": nn.Module.compile keeps the compiled forward in `_compiled_call_impl`; None is the plain one)."""
    if mode == "full":
        pipe.unet = pipe.unet._orig_mod
    else:
        for module in pipe.unet.modules():
            module._compiled_call_impl = None


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
    if _SIMULATED_OUT_OF_MEMORY:
        _SIMULATED_OUT_OF_MEMORY["called"].append(plan)
        if plan in _SIMULATED_OUT_OF_MEMORY["plans"]:
            raise torch.OutOfMemoryError(_SIMULATED_OUT_OF_MEMORY["message"])
