"""Appendix (lesson 6): many videos on many GPUs, with Accelerate.

A folder of images, times an optional parameter sweep, is a list of jobs: one (image, parameters) pair each,
with a deterministic output name. Run it on one process or on many:

    svd-learn batch IMAGES_DIR -o OUT_DIR --sweep motion_bucket_id=60,127,180
    accelerate launch --num_processes 2 -m svd_learn.cli batch IMAGES_DIR -o OUT_DIR

Every process of the launch does the same, in this order:

    PartialState()                      one process per GPU (CPU processes where there is no GPU)
    -> list the jobs                    sorted names: every process builds the same list in the same order
    -> drop the complete ones           a video and a valid report made with these settings: resume for free
    -> wait_for_everyone()              nobody writes before every process has looked at OUT_DIR
    -> split_between_processes(jobs)    a contiguous share each: every job runs exactly once
    -> load the pipeline once, plan it  then run the share; a failed job is recorded, the next one runs
    -> gather_object(results)           the main process prints the summary and writes OUT_DIR/batch_summary.json

Each job writes `NAME.mp4` and its run report `NAME.json` (generate.RunReport), both atomically, video first:
a report beside a video of the size it records means the job finished. NAME is the image's stem, plus
`__motion_bucket_id-60` and the like for swept values. Every job uses the seed given (default 0) unless the
sweep varies `seed`, so a job gives the same video whichever process, GPU or launch runs it.

One generation is the capstone's (generate.make_video): the same model choice, parameters, plans, out-of-memory
fallback and report. What differs is that each process loads the pipeline once for all its jobs, not once per video.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from svd_learn import generate
from svd_learn.parameters import KNOBS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SUMMARY_NAME = "batch_summary.json"
# What a sweep may vary: the generation parameters a run may set (parameters.KNOBS: size is the checkpoint's).
SWEEPABLE = KNOBS
# Parameters that do not change the video (only memory), so an old report with other values still counts.
MEMORY_ONLY = ("decode_chunk_size", "num_videos_per_prompt")


class BatchError(ValueError):
    """A batch that cannot start as asked (no images, a bad sweep, clashing names); the message says what to do."""


# ----------------------------------------------------------------------------------------------------
# Jobs: what to make, named deterministically.


@dataclass(frozen=True)
class Job:
    """One video to make: an image with the parameters that differ from the batch's (the sweep's values)."""

    image: str
    name: str  # the output's stem: OUT_DIR/NAME.mp4 and OUT_DIR/NAME.json
    sweep: tuple[tuple[str, int | float], ...] = ()

    def video(self, out_dir: Path) -> Path:
        return Path(out_dir) / f"{self.name}.mp4"

    def report(self, out_dir: Path) -> Path:
        return Path(out_dir) / f"{self.name}.json"


def list_images(images_dir: str | Path) -> list[Path]:
    """The image files directly in `images_dir` (by suffix; hidden files skipped), sorted by name."""
    folder = Path(images_dir).expanduser()
    if not folder.is_dir():
        raise BatchError(f"{folder} is not a folder. Pass a folder of images (PNG, JPEG, WebP).")
    images = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not images:
        raise BatchError(f"{folder} has no images (files ending with {', '.join(IMAGE_SUFFIXES)}).")
    return images


def parse_sweep(specs: list[str] | tuple[str, ...]) -> dict[str, list[int | float]]:
    """`["motion_bucket_id=60,127,180", "seed=0,1"]` -> `{"motion_bucket_id": [60, 127, 180], "seed": [0, 1]}`.

    Values take the parameter's type (int or float); the range checks come later, from parameters.py.
    """
    from svd_learn.parameters import GenerationParameters

    types = {spec.name: spec.type for spec in fields(GenerationParameters)}
    sweep: dict[str, list[int | float]] = {}
    for spec in specs:
        name, equals, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not values.strip():
            raise BatchError(f"--sweep {spec!r}: write NAME=V1,V2,... (e.g. motion_bucket_id=60,127,180).")
        if name not in SWEEPABLE:
            raise BatchError(f"--sweep {spec!r}: {name!r} cannot be swept. Sweepable: {', '.join(SWEEPABLE)}.")
        if name in sweep:
            raise BatchError(f"--sweep {name} is given twice: put all its values in one --sweep.")
        convert = int if types[name] == "int" else float
        try:
            parsed = [convert(value.strip()) for value in values.split(",")]
        except ValueError:
            raise BatchError(
                f"--sweep {spec!r}: {name} takes {'whole numbers' if convert is int else 'numbers'}."
            ) from None
        if len(set(parsed)) != len(parsed):
            raise BatchError(f"--sweep {spec!r}: a value is repeated.")
        sweep[name] = parsed
    return sweep


def make_jobs(images: list[Path], sweep: dict[str, list[int | float]] | None = None) -> list[Job]:
    """One job per image and combination of swept values, image by image, in a fixed order."""
    sweep = sweep or {}
    names = list(sweep)
    combinations = list(itertools.product(*(sweep[name] for name in names)))  # [()] when nothing is swept
    jobs = []
    for image in images:
        for values in combinations:
            pairs = tuple(zip(names, values))
            jobs.append(Job(str(image), Path(image).stem + "".join(f"__{k}-{v}" for k, v in pairs), pairs))
    by_name: dict[str, str] = {}
    for job in jobs:
        if job.name in by_name and by_name[job.name] != job.image:
            raise BatchError(
                f"{Path(by_name[job.name]).name} and {Path(job.image).name} would both write {job.name}.mp4: rename one."
            )
        by_name[job.name] = job.image
    return jobs


# ----------------------------------------------------------------------------------------------------
# Resume: which outputs are already complete.


def fingerprint(source: str, checkpoint: str, parameters: dict) -> dict:
    """What decides a video: the weights and every parameter except the memory-only ones."""
    return {"source": source, "checkpoint": checkpoint, **{k: v for k, v in parameters.items() if k not in MEMORY_ONLY}}


def output_state(job: Job, out_dir: Path, expected: dict) -> tuple[str, str]:
    """("complete" | "missing" | "partial" | "different", why) for a job's outputs in `out_dir`.

    complete: the report parses, records these settings, and the video has the size the report records.
    partial: a video without a valid report (an interrupted job): redo it. different: a complete job made
    with other settings: never replaced without --force.
    """
    video, report = job.video(out_dir), job.report(out_dir)
    if not report.exists():
        return ("partial", "a video without its report") if video.exists() else ("missing", "")
    try:
        data = json.loads(report.read_text())
        recorded = fingerprint(data["source"], data["checkpoint"], data["parameters"])
        size_ok = video.exists() and video.stat().st_size == data["file_bytes"] and data["frames"] > 0
    except (OSError, ValueError, KeyError, TypeError):
        return "partial", "an unreadable report"
    if not size_ok:
        return "partial", "a report without its video"
    changed = [f"{k} {recorded.get(k)!r} there, {v!r} now" for k, v in expected.items() if recorded.get(k) != v]
    if changed:
        return "different", "made with other settings (" + "; ".join(changed) + ")"
    return "complete", ""


# ----------------------------------------------------------------------------------------------------
# One job: the capstone's make_video, with the process's already loaded pipeline.


def run_job(
    job: Job,
    out_dir: Path,
    params,
    warnings: list[str],
    decode_chunk_size: int | None,
    planned: generate.PlannedPipeline,
    say: Callable[[str], None] = print,
) -> generate.RunReport:
    """Make one job's video and report (atomically, video first) with the process's pipeline. On CUDA
    out-of-memory the pipeline falls back to the next lower plan, which the following jobs keep."""
    from svd_learn import parameters

    started = time.perf_counter()
    picture = parameters.load_image(job.image, height=params.height, width=params.width)
    picture = parameters.prepare_image(picture, params.height, params.width)
    # force: output_state said this job is to be (re)made. quiet: one line per job (run_batch's), not a bar.
    return generate.make_video(
        planned,
        job.image,
        picture,
        params,
        warnings,
        job.video(out_dir),
        job.report(out_dir),
        decode_chunk_size=decode_chunk_size,
        force=True,
        started=started,
        say=say,
        quiet=True,
    )


# ----------------------------------------------------------------------------------------------------
# The batch.


@dataclass
class JobResult:
    """What happened to one job, for the summary."""

    name: str
    image: str
    status: str  # done, skipped or failed
    sweep: dict = field(default_factory=dict)
    video: str | None = None
    report: str | None = None
    process: int | None = None  # the process that ran it (None: decided before the split)
    seconds: float | None = None
    error: str | None = None


@dataclass
class BatchSummary:
    """The gathered results of every process, as written to OUT_DIR/batch_summary.json."""

    images_dir: str
    out_dir: str
    num_processes: int
    distributed_type: str
    jobs: int
    done: list[dict]
    skipped: list[dict]
    failed: list[dict]
    processes: list[dict]  # per process: device, jobs, load_s, work_s
    settings: dict  # the batch's parameters (None: the checkpoint's preset) and sweep
    wall_s: float  # the main process, from the start to the summary
    work_s: float  # the slowest process, from the common start line (all loaded) to its last job
    videos_per_minute: float | None  # done / work_s: the throughput of the GPUs, without start-up and loading

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        lines = [
            f"batch: {self.jobs} jobs on {self.num_processes} process(es): {len(self.done)} done, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed in {self.wall_s:.1f} s"
        ]
        for entry in self.done:
            lines.append(f"  done     {entry['name']}  (process {entry['process']}, {entry['seconds']:.1f} s)")
        for entry in self.skipped:
            lines.append(f"  skipped  {entry['name']}  (already complete)")
        for entry in self.failed:
            where = f"process {entry['process']}" if entry["process"] is not None else "before the split"
            lines.append(f"  failed   {entry['name']}  ({where}): {entry['error']}")
        if self.videos_per_minute:
            lines.append(
                f"throughput: {self.videos_per_minute:.2f} videos a minute ({self.work_s:.1f} s for "
                f"{len(self.done)} videos once every process had loaded the pipeline)"
            )
        lines.append(f"summary: {Path(self.out_dir) / SUMMARY_NAME}")
        return "\n".join(lines)


def short_error(error: BaseException) -> str:
    """One line: our own errors already say what to do; anything else gets its type name."""
    from svd_learn.parameters import ImageError, ParameterError
    from svd_learn.video import OutputError

    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, (ImageError, ParameterError, OutputError, generate.GenerationError)):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_batch(
    images_dir: str | Path,
    out_dir: str | Path,
    *,
    model: str | None = None,
    source: str | None = None,
    sweep: dict[str, list[int | float]] | None = None,
    plan: str = "auto",
    force: bool = False,
    compile_unet: bool = False,
    say: Callable[[str], None] = print,
    **overrides,
) -> BatchSummary:
    """Make one video and one report per (image, swept parameters) in OUT_DIR, on this process's share.

    `overrides` are the generation parameters of every job, by field name (parameters.KNOBS, as for
    generate_video); `sweep` maps some of them to lists of values, one job per combination.

    Call it in every process of a launch (or in a plain process: one share, everything). Returns the gathered
    summary in every process; the main process prints it (through `say`) and writes OUT_DIR/batch_summary.json.
    `force` remakes every job, even complete ones; `compile_unet` compiles each process's UNet once. Raises BatchError (or the capstone's GenerationError /
    ParameterError) before any work for a batch that cannot start.
    """
    import torch
    from accelerate import PartialState

    if torch.cuda.is_available():
        generate.expandable_segments(say)  # before CUDA starts (the planner's calibration used it)
    # The weights first (tiny and random ones are built once, under a file lock), before the process group
    # exists: inside one, transformers' save_pretrained writes weights only on rank 0, so a folder built by
    # another rank would lack the image encoder's weights.
    first_process = os.environ.get("RANK", "0") == "0"  # set by the launcher; PartialState does not exist yet
    choice = generate.choose_model(model, source, say=say if first_process else lambda message: None)
    # cpu=True where there is no GPU: without it, processes started by `accelerate launch` or torchrun on a
    # machine without CUDA do not join one group, and each one believes it is alone (and would do every job).
    state = PartialState(cpu=not torch.cuda.is_available())
    started = time.perf_counter()
    out_dir = Path(out_dir).expanduser()
    tag = f"[process {state.process_index}/{state.num_processes}] " if state.num_processes > 1 else ""

    def say_here(message: str) -> None:
        say(tag + message)

    # 1. The same job list, in the same order, in every process, each with its checked parameters.
    jobs = make_jobs(list_images(images_dir), sweep)
    base, resolved = job_parameters(jobs, choice, overrides)
    if state.is_main_process:  # the same for every process: said once
        say_warnings(resolved, choice, say)

    # 2. Resume: look at OUT_DIR, then wait until every process has looked, before anyone writes.
    results, pending = resume(jobs, resolved, out_dir, choice, force)
    if not state.is_main_process:
        results = []  # decided identically everywhere: reported once
    out_dir.mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()

    # 3. This process's share; the pipeline is loaded once, and only if there is work.
    with state.split_between_processes(pending) as share:
        share = list(share)
    if share:
        say_here(f"{len(share)} of {len(pending)} jobs on {state.device}: {', '.join(job.name for job in share)}")
    loaded = load_for_share(share, resolved, plan, state, choice, say_here, compile_unet)
    state.wait_for_everyone()  # the common start line: throughput is measured from here, loading excluded

    # 4. The jobs, one after another; a failure is recorded and the next job runs.
    work_started = time.perf_counter()
    results += run_share(share, resolved, out_dir, loaded, state.process_index, say_here)
    work_s = time.perf_counter() - work_started

    # 5. Gather every process's results; the main process writes and prints the summary.
    process = {
        "process": state.process_index,
        "device": str(state.device),
        "jobs": len(share),
        "load_s": round(loaded.load_s, 2),
        "work_s": round(work_s, 2),
    }
    settings = {
        "model": choice.location,
        "source": choice.source,
        "plan": plan,
        "force": force,
        "compile_unet": compile_unet,
        **base,
        "sweep": {k: list(v) for k, v in (sweep or {}).items()},
    }
    summary = gather_summary(state, jobs, results, process, images_dir, out_dir, settings, started)
    if state.is_main_process:
        write_summary(summary, out_dir)
        say(summary.text())
    state.wait_for_everyone()  # nobody exits (and tears the group down) before the summary is written
    return summary


def say_warnings(resolved: dict, choice, say) -> None:
    for warning in dict.fromkeys(w for params, warnings, _ in resolved.values() for w in warnings):
        say(f"warning: {warning}")
    if choice.source in ("tiny", "random"):
        say("note: " + generate.RANDOM_WEIGHTS_NOTE.format(source=choice.source))


def write_summary(summary: BatchSummary, out_dir: Path) -> None:
    from svd_learn.video import write_json

    write_json(summary.to_dict(), out_dir / SUMMARY_NAME, force=True)


def job_parameters(jobs: list[Job], choice, overrides: dict) -> tuple[dict, dict]:
    """Every knob of the batch (None: the preset's; seed 0 unless given), and per job its checked parameters,
    warnings and explicit decode chunk. A value that cannot work stops the batch (BatchError)."""
    from svd_learn import parameters

    base = {**dict.fromkeys(KNOBS), "seed": 0, **parameters.check_overrides(overrides)}
    resolved = {}
    for job in jobs:
        job_overrides = {**base, **dict(job.sweep)}
        try:
            resolved[job.name] = (
                *generate.generation_parameters(choice, job_overrides),
                job_overrides["decode_chunk_size"],
            )
        except parameters.ParameterError as error:  # the same for every image: the command line is wrong, stop here
            raise BatchError(f"{job.name}: {error}") from None
    return base, resolved


def resume(jobs: list[Job], resolved: dict, out_dir: Path, choice, force: bool) -> tuple[list[JobResult], list[Job]]:
    """The jobs already complete (skipped) or in the way (failed: made with other settings), and those to make."""
    results: list[JobResult] = []
    pending: list[Job] = []
    for job in jobs:
        params = resolved[job.name][0]
        state_now, why = output_state(
            job, out_dir, fingerprint(choice.source, choice.checkpoint.name, params.to_dict())
        )
        entry = JobResult(
            job.name, job.image, "skipped", dict(job.sweep), str(job.video(out_dir)), str(job.report(out_dir))
        )
        if state_now == "complete" and not force:
            results.append(entry)
        elif state_now == "different" and not force:
            entry.status, entry.error = (
                "failed",
                f"{job.video(out_dir)} exists, {why}: pass --force to replace it, or use another OUT_DIR.",
            )
            results.append(entry)
        else:
            pending.append(job)
    return results, pending


@dataclass
class LoadedShare:
    """A process's pipeline for its share (None if nothing to do or it failed to load), and the images that
    cannot be used (checked in milliseconds each, before loading)."""

    planned: generate.PlannedPipeline | None = None
    load_s: float = 0.0
    load_error: str | None = None
    unusable: dict = field(default_factory=dict)  # job name -> the image's error


def load_for_share(
    share: list[Job], resolved: dict, plan: str, state, choice, say_here, compile_unet: bool = False
) -> LoadedShare:
    from svd_learn import parameters
    from svd_learn.environment import probe

    loaded = LoadedShare()
    for job in share:
        params = resolved[job.name][0]
        try:
            picture = parameters.load_image(job.image, height=params.height, width=params.width)
            parameters.prepare_image(picture, params.height, params.width)
        except parameters.ImageError as error:
            loaded.unusable[job.name] = str(error)
    if len(loaded.unusable) == len(share):
        return loaded
    try:
        machine = probe()
        largest = max((resolved[job.name][0] for job in share), key=lambda p: p.num_frames * p.height * p.width)
        plans, reason, predicted = generate.plans_for(
            plan, state.device.type, machine, None, largest, choice.checkpoint, say_here
        )
        loading = time.perf_counter()  # plan for the biggest call, load once
        loaded.planned = generate.PlannedPipeline(
            generate.load_pipeline(choice, state.device.type),
            choice,
            str(state.device),
            plans,
            reason,
            predicted,
            machine.to_dict(),
            compile_unet=compile_unet,
        )
        loaded.planned.pipeline(
            say_here
        )  # the plan applied now, before the start line (compiling waits for the first call)
        loaded.load_s = time.perf_counter() - loading
        say_here(f"loaded {choice.source} weights in {loaded.load_s:.1f} s, plan {loaded.planned.plan.name}")
    except Exception as error:  # noqa: BLE001 -- every job of this share fails with it; the others go on
        loaded.load_error = short_error(error)
        say_here(f"could not load the pipeline: {loaded.load_error}")
    return loaded


def run_share(
    share: list[Job], resolved: dict, out_dir: Path, loaded: LoadedShare, process: int, say_here
) -> list[JobResult]:
    """This process's jobs, one after another: a failed job is recorded and the next one runs."""
    from svd_learn import parameters

    results = []
    for number, job in enumerate(share, 1):
        params, warnings, explicit_chunk = resolved[job.name]
        entry = JobResult(job.name, job.image, "failed", dict(job.sweep), process=process)
        job_started = time.perf_counter()
        try:
            if job.name in loaded.unusable:
                raise parameters.ImageError(loaded.unusable[job.name])
            if loaded.load_error:
                raise generate.GenerationError(f"the pipeline did not load: {loaded.load_error}")
            run = run_job(job, out_dir, params, warnings, explicit_chunk, loaded.planned, say_here)
            entry.status, entry.video, entry.report = "done", run.output, run.report
        except Exception as error:  # noqa: BLE001 -- a broken image must not stop the others
            entry.error = short_error(error)
        entry.seconds = round(time.perf_counter() - job_started, 2)
        results.append(entry)
        outcome = f"wrote {job.video(out_dir).name}" if entry.status == "done" else f"FAILED: {entry.error}"
        say_here(f"job {number}/{len(share)} {job.name}: {outcome} ({entry.seconds:.1f} s)")
    return results


def gather_summary(
    state,
    jobs: list[Job],
    results: list[JobResult],
    process: dict,
    images_dir,
    out_dir: Path,
    settings: dict,
    started: float,
) -> BatchSummary:
    """Every process's results and timings, gathered into one summary (the same in every process)."""
    from accelerate.utils import gather_object

    gathered = gather_object([{"results": [asdict(r) for r in results], "process": process}])
    order = {job.name: index for index, job in enumerate(jobs)}
    every = sorted((r for part in gathered for r in part["results"]), key=lambda r: order[r["name"]])
    slowest = max((part["process"]["work_s"] for part in gathered if part["process"]["jobs"]), default=0.0)
    done = [r for r in every if r["status"] == "done"]
    return BatchSummary(
        images_dir=str(images_dir),
        out_dir=str(out_dir),
        num_processes=state.num_processes,
        distributed_type=str(state.distributed_type).removeprefix("DistributedType."),
        jobs=len(jobs),
        done=done,
        skipped=[r for r in every if r["status"] == "skipped"],
        failed=[r for r in every if r["status"] == "failed"],
        processes=[part["process"] for part in gathered],
        settings=settings,
        wall_s=round(time.perf_counter() - started, 2),
        work_s=round(slowest, 2),
        videos_per_minute=round(len(done) * 60 / slowest, 3) if done and slowest else None,
    )


def measured_throughput() -> dict:
    """The throughput of `svd-learn batch` on 1 and 2 GPUs, as measured by benchmarks/batch_throughput.py
    (a copy of benchmarks/results/batch-*.json shipped as package data for the appendix lesson)."""
    from svd_learn.models import DATA

    return json.loads((DATA / "batch_throughput.json").read_text())


def run_command(images_dir: str, out_dir: str, sweep: list[str], **options) -> int:
    """`svd-learn batch`: run the batch; one short message for a batch that cannot start.

    Returns the exit code: 0 when every job is done or skipped, 1 when any failed or the batch could not start.
    """
    from svd_learn.models import ModelError
    from svd_learn.parameters import ImageError, ParameterError
    from svd_learn.video import OutputError

    try:
        summary = run_batch(images_dir, out_dir, sweep=parse_sweep(sweep), **options)
    except (BatchError, ImageError, ParameterError, OutputError, generate.GenerationError, ModelError) as error:
        if os.environ.get("RANK", "0") == "0":  # every process fails the same way: say it once
            print(f"error: {error}")
        return 1
    return 1 if summary.failed else 0
