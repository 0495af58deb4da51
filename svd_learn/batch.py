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
    -> open a session (generate.Session) load the pipeline once, plan it, then run the share; a failed job is
                                        recorded, the next one runs
    -> gather_object(results)           the main process prints the summary and writes OUT_DIR/batch_summary.json

Each job writes `NAME.mp4` and its run report `NAME.json` (run.RunReport), replaced together, video first:
a report beside a video of the size it records means the job finished. NAME is the image's stem, plus
`__motion_bucket_id-60` and the like for swept values. Every job uses the seed given (default 0) unless the
sweep varies `seed`, so a job gives the same video whichever process, GPU or launch runs it. Ctrl-C says which
jobs were made and which were not (BatchInterrupted); a batch that stops before it wrote anything leaves no new
folder.

One generation is the capstone's (generate.Session.make_video): the same model choice, parameters, plans,
out-of-memory fallback and report. What differs is that each process opens one session for all its jobs. The memory
plan is chosen before resuming: its decode chunk changes the video, so it is part of what a complete job must match.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from accelerate import PartialState
from accelerate.utils import gather_object

from svd_learn import generate, models
from svd_learn.checkpoints import DATA
from svd_learn.errors import UserError
from svd_learn.language import Localized, first_line, joined
from svd_learn.parameters import KNOBS, GenerationParameters, ImageError, knob_type, load_image, prepare_image
from svd_learn.quiet import quiet_libraries
from svd_learn.request import checked_parameters, video_request
from svd_learn.run import Outputs, RunSpec
from svd_learn.video import check_output_folder, missing_folders, remove_empty_folders, write_json

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SUMMARY_NAME = "batch_summary.json"
# What a sweep may vary: the generation parameters a run may set (parameters.KNOBS: size is the checkpoint's).
SWEEPABLE = KNOBS
# Parameters that do not change the video, so an old report with other values still counts (a batch makes one
# video per call). The decode chunk does change it: the VAE's temporal layers see the frames of one chunk.
SAME_VIDEO = ("num_videos_per_prompt",)


class BatchError(UserError, ValueError):
    """A batch that cannot start as asked (no images, a bad sweep, clashing names); the message says what to do."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during this process's share of a batch: the jobs it finished (video and report complete, or failed)
    and those it did not start or finish (nothing of them left)."""

    def __init__(self, done: list[str], failed: list[str], not_done: list[str]):
        super().__init__(done, failed, not_done)
        self.done, self.failed, self.not_done = done, failed, not_done

    def __str__(self) -> str:
        total = len(self.done) + len(self.failed) + len(self.not_done)
        made = Localized("made {done} of {total} videos", done=len(self.done), total=total)
        made = Localized("{made} ({names})", made=made, names=", ".join(self.done)) if self.done else made
        failed = Localized("; failed: {names}", names=", ".join(self.failed)) if self.failed else ""
        return str(
            Localized(
                "{made}{failed}; not made: {names}. Run the same command again to make the rest: complete videos are "
                "skipped.",
                made=made,
                failed=failed,
                names=", ".join(self.not_done) or Localized("none"),
            )
        )


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
        raise BatchError(
            Localized("{folder} is not a folder. Pass a folder of images (PNG, JPEG, WebP).", folder=folder)
        )
    images = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not images:
        raise BatchError(
            Localized(
                "{folder} has no images (files ending with {suffixes}).",
                folder=folder,
                suffixes=", ".join(IMAGE_SUFFIXES),
            )
        )
    return images


def parse_sweep(specs: list[str] | tuple[str, ...]) -> dict[str, list[int | float]]:
    """`["motion_bucket_id=60,127,180", "seed=0,1"]` -> `{"motion_bucket_id": [60, 127, 180], "seed": [0, 1]}`.

    Values take the parameter's type (int or float); the range checks come later, from parameters.py.
    """
    sweep: dict[str, list[int | float]] = {}
    for spec in specs:
        name, equals, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not values.strip():
            raise BatchError(
                Localized("--sweep {spec!r}: write NAME=V1,V2,... (e.g. motion_bucket_id=60,127,180).", spec=spec)
            )
        if name not in SWEEPABLE:
            raise BatchError(
                Localized(
                    "--sweep {spec!r}: {name!r} cannot be swept. Sweepable: {sweepable}.",
                    spec=spec,
                    name=name,
                    sweepable=", ".join(SWEEPABLE),
                )
            )
        if name in sweep:
            raise BatchError(Localized("--sweep {name} is given twice: put all its values in one --sweep.", name=name))
        convert = knob_type(name)
        try:
            parsed = [convert(value.strip()) for value in values.split(",")]
        except ValueError:
            raise BatchError(
                Localized(
                    "--sweep {spec!r}: {name} takes {kind}.",
                    spec=spec,
                    name=name,
                    kind=Localized("whole numbers") if convert is int else Localized("numbers"),
                )
            ) from None
        if len(set(parsed)) != len(parsed):
            raise BatchError(Localized("--sweep {spec!r}: a value is repeated.", spec=spec))
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
                Localized(
                    "{first} and {second} would both write {name}.mp4: rename one.",
                    first=Path(by_name[job.name]).name,
                    second=Path(job.image).name,
                    name=job.name,
                )
            )
        by_name[job.name] = job.image
    return jobs


# ----------------------------------------------------------------------------------------------------
# Resume: which outputs are already complete.


def fingerprint(source: str, checkpoint: str, parameters: dict) -> dict:
    """What decides a video: the weights and every parameter as the call used them (the decode chunk included)."""
    return {"source": source, "checkpoint": checkpoint, **{k: v for k, v in parameters.items() if k not in SAME_VIDEO}}


def output_state(job: Job, out_dir: Path, expected: dict) -> tuple[str, str]:
    """("complete" | "missing" | "partial" | "different", why) for a job's outputs in `out_dir`.

    complete: the report parses, records these settings, and the video has the size the report records.
    partial: a video without a valid report (an interrupted job): redo it. different: a complete job made
    with other settings: never replaced without --force.
    """
    video, report = job.video(out_dir), job.report(out_dir)
    if not report.exists():
        return ("partial", Localized("a video without its report")) if video.exists() else ("missing", "")
    try:
        data = json.loads(report.read_text())
        recorded = fingerprint(data["source"], data["checkpoint"], data["parameters"])
        size_ok = video.exists() and video.stat().st_size == data["file_bytes"] and data["frames"] > 0
    except (OSError, ValueError, KeyError, TypeError):
        return "partial", Localized("an unreadable report")
    if not size_ok:
        return "partial", Localized("a report without its video")
    changed = [
        Localized("{name} {there!r} there, {now!r} now", name=k, there=recorded.get(k), now=v)
        for k, v in expected.items()
        if recorded.get(k) != v
    ]
    if changed:
        return "different", Localized("made with other settings ({changes})", changes=joined(changed))
    return "complete", ""


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
    settings: dict  # the batch's spec, parameters and sweep
    wall_s: float  # the main process, from the start to the summary
    work_s: float  # the slowest process, from the common start line (all loaded) to its last job
    videos_per_minute: float | None  # done / work_s: the throughput of the GPUs, without start-up and loading

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        """The summary as `svd-learn batch` prints it, in the learner's language."""
        lines = [
            Localized(
                "batch: {jobs} jobs on {processes} process(es): {done} done, {skipped} skipped, {failed} failed in "
                "{seconds:.1f} s",
                jobs=self.jobs,
                processes=self.num_processes,
                done=len(self.done),
                skipped=len(self.skipped),
                failed=len(self.failed),
                seconds=self.wall_s,
            )
        ]
        for entry in self.done:
            lines.append(
                Localized(
                    "  done     {name}  (process {process}, {seconds:.1f} s)",
                    name=entry["name"],
                    process=entry["process"],
                    seconds=entry["seconds"],
                )
            )
        for entry in self.skipped:
            lines.append(Localized("  skipped  {name}  (already complete)", name=entry["name"]))
        for entry in self.failed:
            process = entry["process"]
            where = (
                Localized("process {process}", process=process)
                if process is not None
                else Localized("before the split")
            )
            lines.append(
                Localized(
                    "  failed   {name}  ({where}): {error}", name=entry["name"], where=where, error=entry["error"]
                )
            )
        if self.videos_per_minute:
            lines.append(
                Localized(
                    "throughput: {rate:.2f} videos a minute ({seconds:.1f} s for {done} videos once every process had "
                    "loaded the pipeline)",
                    rate=self.videos_per_minute,
                    seconds=self.work_s,
                    done=len(self.done),
                )
            )
        lines.append(Localized("summary: {path}", path=Path(self.out_dir) / SUMMARY_NAME))
        return "\n".join(map(str, lines))


def short_error(error: BaseException) -> str:
    """One line: the errors a user can cause already say what to do; anything else gets its type name."""
    if isinstance(error, UserError):
        return first_line(error)  # in English in batch_summary.json, in the learner's language when shown
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_batch(
    images_dir: str | Path,
    out_dir: str | Path,
    params: GenerationParameters | None = None,
    spec: RunSpec = RunSpec(),
    *,
    sweep: dict[str, list[int | float]] | None = None,
    say: Callable[[str], None] = print,
    summarize: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Make one video and one report per (image, swept parameters) in OUT_DIR, on this process's share.

    `params` are every job's parameters (as for generate_video; None: the defaults, seed 0) and `spec` how to run
    them (RunSpec: the model and source, the plan, compile; `force` remakes every job, even complete ones);
    `sweep` maps some parameters to lists of values, one job per combination.

    Call it in every process of a launch (or in a plain process: one share, everything). Returns the gathered
    summary in every process; the main process prints it (through `summarize`, else `say`) and writes
    OUT_DIR/batch_summary.json. Raises BatchError (or another errors.UserError) before any work for a batch that
    cannot start, and BatchInterrupted on Ctrl-C during the jobs; a batch that ends before it wrote anything
    leaves no new folder.
    """
    quiet_libraries()
    out_dir = check_output_folder(out_dir)  # a file, a folder nobody may write to, a full disk: said first
    choice = batch_weights(spec, say)
    # cpu=True where there is no GPU: without it, processes started by `accelerate launch` or torchrun on a
    # machine without CUDA do not join one group, and each one believes it is alone (and would do every job).
    state = PartialState(cpu=not torch.cuda.is_available())
    made = missing_folders(out_dir / SUMMARY_NAME)
    try:
        return run_jobs(state, images_dir, out_dir, params, spec, choice, sweep, say, summarize or say)
    finally:  # a batch stopped before it wrote anything (an error, Ctrl-C) leaves no empty folder
        remove_empty_folders(made)


def batch_weights(spec: RunSpec, say) -> models.ModelChoice:
    """The batch's weights, ready to load: full-size ones on a CPU only with the spec's consent; tiny and random
    ones built once, under a file lock, before the process group exists: inside one, transformers'
    save_pretrained writes weights only on rank 0, so a folder built by another rank would lack the image
    encoder's weights."""
    first_process = os.environ.get("RANK", "0") == "0"  # set by the launcher; PartialState does not exist yet
    choice = models.resolve_model(spec.model, spec.source)
    generate.check_full_size_on_cpu(spec, choice, "cuda" if torch.cuda.is_available() else "cpu")  # before building
    return models.with_weights(choice, say=say if first_process else _silent)


def run_jobs(state, images_dir, out_dir: Path, params, spec: RunSpec, choice, sweep, say, summarize) -> BatchSummary:
    """run_batch's work in this process, once the weights are ready and the processes are one group."""
    started = time.perf_counter()
    said_once = say if state.is_main_process else _silent  # what every process would say the same

    # 1. The same job list, in the same order, in every process, each with its checked parameters; the plan for
    #    the largest (the same everywhere: its decode chunk is part of what a complete job must match).
    jobs = make_jobs(list_images(images_dir), sweep)
    checked = job_parameters(jobs, params or GenerationParameters(), choice)
    machine = replace(generate.machine_for(spec, said_once), device=str(state.device))
    plans = generate.plan_memory(spec, machine, largest(checked), choice, said_once)
    say_warnings(checked, choice, said_once)

    # 2. Resume: look at OUT_DIR, then wait until every process has looked, before anyone writes.
    results, pending = resume(jobs, checked, plans.first.decode_chunk_size, out_dir, choice, spec.force)
    if not state.is_main_process:
        results = []  # decided identically everywhere: reported once
    out_dir.mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()

    # 3. This process's share: one session, its jobs one after another (a failure is recorded, the next job runs).
    with state.split_between_processes(pending) as share:
        share = list(share)
    shared = run_this_share(state, share, len(pending), Share(checked, spec, choice, machine, plans, out_dir), say)
    results += shared.results

    # 4. Gather every process's results; the main process writes and prints the summary.
    summary = gather_summary(state, jobs, results, shared.process, images_dir, out_dir, started)
    summary.settings = settings(spec, choice, params, sweep)
    if state.is_main_process:
        write_summary(summary, out_dir)
        summarize(summary.text())
    state.wait_for_everyone()  # nobody exits (and tears the group down) before the summary is written
    return summary


@dataclass(frozen=True)
class Share:
    """What every process shares for its jobs: their checked parameters, the spec, the weights, the machine, the
    plans, and OUT_DIR."""

    checked: dict  # job name -> (parameters, warnings)
    spec: RunSpec
    choice: models.ModelChoice
    machine: generate.Machine
    plans: object  # planner.PlansToTry
    out_dir: Path


@dataclass
class ShareResults:
    results: list[JobResult]
    process: dict  # process, device, jobs, load_s, work_s


def run_this_share(state, share: list[Job], pending: int, context: Share, say) -> ShareResults:
    """Open this process's session (only if there is work), wait for every process (the common start line:
    throughput is measured from there, loading excluded), then make the share's videos one after another."""
    tag = f"[process {state.process_index}/{state.num_processes}] " if state.num_processes > 1 else ""

    def say_here(message: str) -> None:
        say(joined([tag, message], ""))

    if share:
        names = ", ".join(job.name for job in share)
        say_here(
            Localized(
                "{share} of {pending} jobs on {device}: {names}",
                share=len(share),
                pending=pending,
                device=state.device,
                names=names,
            )
        )
    try:
        loaded = open_session(share, context, say_here)
    except KeyboardInterrupt:
        raise BatchInterrupted([], [], unfinished(share, [])) from None
    state.wait_for_everyone()
    work_started = time.perf_counter()
    results = run_share(share, context, loaded, state.process_index, say_here)
    process = {"process": state.process_index, "device": str(state.device), "jobs": len(share)}
    process.update(load_s=round(loaded.load_s, 2), work_s=round(time.perf_counter() - work_started, 2))
    if loaded.session is not None:
        loaded.session.close()
    return ShareResults(results, process)


def _silent(message: str) -> None:
    """What processes other than the first say: nothing (every process would say the same)."""


def settings(spec: RunSpec, choice, params: GenerationParameters | None, sweep) -> dict:
    """The batch's settings for its summary: the spec, the knobs of every job, and the sweep."""
    knobs = (params or GenerationParameters()).to_dict()
    return {
        "model": choice.location,
        "source": choice.source,
        "plan": spec.plan,
        "force": spec.force,
        "compile_unet": spec.compile_unet,
        **{name: knobs[name] for name in KNOBS},
        "sweep": {k: list(v) for k, v in (sweep or {}).items()},
    }


def say_warnings(checked: dict, choice, say) -> None:
    """The jobs' warnings, each once, and what random weights mean."""
    for warning in dict.fromkeys(w for _, said in checked.values() for w in said):
        say(Localized("warning: {warning}", warning=warning))
    if choice.source in ("tiny", "random"):
        say(Localized("note: {note}", note=generate.random_weights_note(choice.source)))


def write_summary(summary: BatchSummary, out_dir: Path) -> None:
    write_json(summary.to_dict(), out_dir / SUMMARY_NAME, force=True)


def job_parameters(jobs: list[Job], params: GenerationParameters, choice) -> dict:
    """Per job: its parameters (the batch's, with its swept values) checked for these weights, and their warnings
    (request.checked_parameters). A value that cannot work stops the batch (BatchError): it is the command's."""
    checked = {}
    for job in jobs:
        try:
            checked[job.name] = checked_parameters(replace(params, **dict(job.sweep)), choice)
        except UserError as error:  # the same for every image: the command line is wrong, stop here
            raise BatchError(Localized("{job}: {error}", job=job.name, error=error)) from None
    return checked


def largest(checked: dict) -> GenerationParameters:
    """The parameters of the largest call (frames x pixels): the session's plan must fit it."""
    return max((params for params, _ in checked.values()), key=lambda p: p.num_frames * p.height * p.width)


def resume(jobs: list[Job], checked: dict, plan_chunk: int, out_dir: Path, choice, force: bool):
    """The jobs already complete (skipped) or in the way (failed: made with other settings), and those to make.
    A job's settings are its parameters as its call will use them: the plan's decode chunk where none was asked."""
    results: list[JobResult] = []
    pending: list[Job] = []
    for job in jobs:
        params = checked[job.name][0].with_plan_chunk(plan_chunk)
        expected = fingerprint(choice.source, choice.checkpoint.name, params.to_dict())
        state_now, why = output_state(job, out_dir, expected)
        entry = JobResult(
            job.name, job.image, "skipped", dict(job.sweep), str(job.video(out_dir)), str(job.report(out_dir))
        )
        if state_now == "complete" and not force:
            results.append(entry)
        elif state_now == "different" and not force:
            entry.status = "failed"
            entry.error = Localized(
                "{video} exists, {why}: pass --force to replace it, or use another OUT_DIR.",
                video=job.video(out_dir),
                why=why,
            )
            results.append(entry)
        else:
            pending.append(job)
    return results, pending


@dataclass
class LoadedShare:
    """A process's session for its share (None if nothing to do or it failed to open), and the images that
    cannot be used (checked in milliseconds each, before loading)."""

    session: generate.Session | None = None
    load_s: float = 0.0
    load_error: str | None = None
    unusable: dict = field(default_factory=dict)  # job name -> the image's error


def open_session(share: list[Job], context: Share, say_here) -> LoadedShare:
    """Check the share's images, then open one session for all its jobs (unless none can be made)."""
    loaded = LoadedShare()
    for job in share:
        params = context.checked[job.name][0]
        try:
            prepare_image(load_image(job.image, height=params.height, width=params.width), params.height, params.width)
        except ImageError as error:
            loaded.unusable[job.name] = error.args[0]  # (the sentence itself: English in batch_summary.json)
    if len(loaded.unusable) == len(share):
        return loaded
    loading = time.perf_counter()
    try:  # quiet: one line per job (run_share's), no progress lines or bars from processes side by side
        loaded.session = generate.Session.open(
            context.spec, context.choice, context.machine, context.plans, say_here, quiet=True
        )
    except Exception as error:  # noqa: BLE001 -- every job of this share fails with it; the others go on
        loaded.load_error = short_error(error)
        say_here(Localized("could not load the pipeline: {error}", error=loaded.load_error))
        return loaded
    loaded.load_s = time.perf_counter() - loading
    say_here(
        Localized(
            "loaded {source} weights in {seconds:.1f} s, plan {plan}",
            source=context.choice.source,
            seconds=loaded.load_s,
            plan=loaded.session.plan.name,
        )
    )
    return loaded


def run_share(share: list[Job], context: Share, loaded: LoadedShare, process: int, say_here) -> list[JobResult]:
    """This process's jobs, one after another: a failed job is recorded and the next one runs. On CUDA
    out-of-memory the session falls back to the next lower plan, which the following jobs keep."""
    results: list[JobResult] = []
    try:
        for number, job in enumerate(share, 1):
            results.append(run_job(job, context, loaded, process))
            entry = results[-1]
            outcome = (
                Localized("wrote {video}", video=job.video(context.out_dir).name)
                if entry.status == "done"
                else Localized("FAILED: {error}", error=entry.error)
            )
            say_here(
                Localized(
                    "job {number}/{jobs} {name}: {outcome} ({seconds:.1f} s)",
                    number=number,
                    jobs=len(share),
                    name=job.name,
                    outcome=outcome,
                    seconds=entry.seconds,
                )
            )
    except KeyboardInterrupt:  # the job under way left nothing (its files are replaced together, or not at all)
        done, failed = ([r.name for r in results if (r.status == "done") == made] for made in (True, False))
        raise BatchInterrupted(done, failed, unfinished(share, results)) from None
    return results


def unfinished(share: list[Job], results: list[JobResult]) -> list[str]:
    return [job.name for job in share[len(results) :]]


def run_job(job: Job, context: Share, loaded: LoadedShare, process: int) -> JobResult:
    """One job: its video and report (replaced together), or its error in one line."""
    entry = JobResult(job.name, job.image, "failed", dict(job.sweep), process=process)
    job_started = time.perf_counter()
    try:
        if job.name in loaded.unusable:
            raise ImageError(loaded.unusable[job.name])
        if loaded.load_error:
            raise generate.GenerationError(Localized("the pipeline did not load: {error}", error=loaded.load_error))
        # replace: output_state said this job is to be (re)made.
        outputs = Outputs(job.video(context.out_dir), job.report(context.out_dir), None, replace=True)
        request = video_request(job.image, context.checked[job.name][0], loaded.session.choice, outputs)
        run = loaded.session.make_video(request)
        entry.status, entry.video, entry.report = "done", run.output, run.report
    except Exception as error:  # noqa: BLE001 -- a broken image must not stop the others
        entry.error = short_error(error)
    entry.seconds = round(time.perf_counter() - job_started, 2)
    return entry


def gather_summary(
    state, jobs: list[Job], results: list[JobResult], process: dict, images_dir, out_dir: Path, started: float
) -> BatchSummary:
    """Every process's results and timings, gathered into one summary (the same in every process); the settings
    are run_batch's to fill."""
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
        settings={},  # run_batch's
        wall_s=round(time.perf_counter() - started, 2),
        work_s=round(slowest, 2),
        videos_per_minute=round(len(done) * 60 / slowest, 3) if done and slowest else None,
    )


def measured_throughput() -> dict:
    """The throughput of `svd-learn batch` on 1 and 2 GPUs, as measured by benchmarks/batch_throughput.py
    (a copy of benchmarks/results/batch-*.json shipped as package data for the appendix lesson)."""
    return json.loads((DATA / "batch_throughput.json").read_text())


def run_command(images_dir: str, out_dir: str, sweep: list[str], params: GenerationParameters, spec: RunSpec) -> int:
    """`svd-learn batch`: run the batch, saying what it does on stderr and the summary on stdout; one short message
    for a batch that cannot start, and for Ctrl-C what was made and what was not.

    Returns the exit code: 0 when every job is done or skipped, 1 when any failed or the batch could not start,
    130 interrupted (Ctrl-C).
    """

    def say(message: str) -> None:  # what it does, as generate's progress: on stderr, one write a line (processes
        sys.stderr.write(message + "\n")  # of a launch share the terminal: their lines must not run into each other)
        sys.stderr.flush()

    def summarize(text: str) -> None:  # the outcome, as generate's summary: on stdout
        print(text, flush=True)

    try:
        summary = run_batch(images_dir, out_dir, params, spec, sweep=parse_sweep(sweep), say=say, summarize=summarize)
    except UserError as error:
        if os.environ.get("RANK", "0") == "0":  # every process fails the same way: say it once
            say(Localized("error: {error}", error=error))
        return 1
    except BatchInterrupted as interrupted:
        ignore_further_interrupts()
        say(this_process() + str(Localized("interrupted: {what}", what=interrupted)))
        return 130
    except KeyboardInterrupt:  # before the jobs started, or while the summary was gathered
        ignore_further_interrupts()
        say(
            this_process()
            + str(
                Localized("interrupted: videos already complete stay; run the same command again to finish the batch.")
            )
        )
        return 130
    return 1 if summary.failed else 0


def ignore_further_interrupts() -> None:
    """Ctrl-C reaches every process of a launch, then `accelerate launch` forwards a second one: once a process is
    stopping in order, a second interrupt would only turn its exit into a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def this_process() -> str:
    """ "[process 1/2] " under a launch of several processes (their lines share one terminal), else nothing."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return f"[process {os.environ.get('RANK', '0')}/{world}] " if world > 1 else ""
