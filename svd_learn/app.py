"""Lesson 5's app: the capstone in a web page, for trying settings on your own photo (`svd-learn app`).

A gradio page (`gr.Blocks`) on the capstone's own code, with nothing of its own between the page and the pipeline:
- the photo and the settings are checked by generate.video_request (parameters.load_image and prepare_image): the
  page shows the crop SVD will see before anything runs, and every refusal of `svd-learn generate` (not an image,
  too small, a truncated file, out of GPU memory with every plan ...) as one line in the page, never a traceback;
- the plan and its figures are the planner's (generate.plan_memory) and t4.describe_plan_estimate's, the figures
  `svd-learn plan` prints;
- one generate.Session makes the videos and stays open while the checkpoint and the plan stay the same, so the
  second video does not reload the pipeline. Its on_step moves the page's progress bar, and its should_stop is the
  Stop button: the call ends after the current step and writes nothing;
- the files are those `svd-learn generate` writes (run.Outputs: the mp4, its JSON report, the smoother copy),
  numbered in the output folder, never overwritten.
The page's words (labels, one-line hints, ranges) are data/app.toml's.

The page is served on 127.0.0.1: by this computer, to this computer only. In Colab gradio shows it in the notebook
through Colab's own proxy: `share=False` is passed on purpose, because gradio's default in a notebook is a public
link (`--share` asks for one). Only arguments that gradio 5.50 and 6.x both accept are used (gradio 6 moved
Blocks' `theme` and `css` to launch, and removed launch's `show_api`). gradio is the app's one optional dependency
(`pip install 'svd-learn[app]'`; Colab ships it). It and torch are imported at the top: this module is the app.
"""

from __future__ import annotations

import html
import re
import secrets
import sys
import threading
import tomllib
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from svd_learn import generate, measure, memory, models, parameters, planner, t4
from svd_learn.checkpoints import CHECKPOINTS, DATA, DEFAULT_CHECKPOINT
from svd_learn.environment import in_colab
from svd_learn.errors import UserError
from svd_learn.language import Localized, localized
from svd_learn.parameters import GenerationParameters
from svd_learn.request import checked_parameters
from svd_learn.run import Outputs, RunReport, RunSpec

WORDS = tomllib.loads((DATA / "app.toml").read_text())
TEXT, CONTROLS = WORDS["text"], WORDS["controls"]
HOST = "127.0.0.1"  # this computer only
COLAB_HOST_RAM_GIB = 12.7  # free Colab's host RAM: with memory.T4_GIB, the T4 the page plans for on other machines
HISTORY_SLOTS = 4  # the earlier results shown side by side
VIDEO_HEIGHT = 360  # pixels: the video as a player shows it (the earlier ones at half)
DEFAULTS = GenerationParameters()
# The settings the page sends to a generation, in the order of its controls (and of the API's arguments).
SETTINGS = (
    "checkpoint",
    "num_frames",
    "num_inference_steps",
    "fps",
    "motion_bucket_id",
    "noise_aug_strength",
    "min_guidance_scale",
    "max_guidance_scale",
    "seed",
    "random_seed",
    "smooth_fps",
)
SLIDERS = SETTINGS[1:8]  # the parameters of the call (GenerationParameters' knobs), each on a slider


class Studio:
    """What the page works with, one per server: how to run (the RunSpec), where the videos go, the open session
    and the Stop button's request. One video at a time (a lock): a GPU makes one at a time anyway."""

    def __init__(self, spec: RunSpec = RunSpec(), output_dir: str | Path = "outputs/app", say=print):
        self.spec, self.output_dir, self.say = spec, Path(output_dir).expanduser().resolve(), say
        self.session: generate.Session | None = None
        self.probed: generate.Machine | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.said: list[str] = []  # what the current video's run said (warnings, notes, fallbacks)

    @property
    def machine(self) -> generate.Machine:
        if self.probed is None:
            self.probed = generate.machine_for(self.spec, self.tell)
        return self.probed

    def tell(self, message: str) -> None:
        self.said.append(message)
        self.say(message)

    def choice(self, checkpoint: str) -> models.ModelChoice:
        """This checkpoint's weights from the spec's source (nothing built or downloaded yet: models.resolve_model)."""
        return models.resolve_model(checkpoint, self.spec.source)

    def crop(self, photo, checkpoint: str):
        """The picture SVD will see (parameters.prepare_image at the checkpoint's size) and a note of what was done
        to the photo; parameters.ImageError if the photo cannot be used."""
        params, _ = checked_parameters(DEFAULTS, self.choice(checkpoint))
        original = parameters.load_image(photo)
        picture = parameters.prepare_image(original, params.height, params.width)
        width, height = original.size
        size = f"{params.width}x{params.height}"
        note = word(TEXT, "crop_note", width=width, height=height, size=size)
        scale = max(params.width / width, params.height / height)  # as prepare_image covers the size
        return picture, note + (" " + word(TEXT, "upscaled", scale=scale, size=size) if scale > 1 else "")

    def plan(self, checkpoint: str, num_frames: int, steps: int) -> str:
        """The plan for a video of this size on this machine, its predicted peak and the minutes on a T4, as
        `svd-learn plan` gives them; and the settings' warnings."""
        choice = self.choice(checkpoint)
        asked = replace(DEFAULTS, num_frames=int(num_frames), num_inference_steps=int(steps))
        params, warnings = checked_parameters(asked, choice)
        plans = generate.plan_memory(self.spec, self.machine, params, choice, say=warnings.append)
        peak = word(TEXT, "no_gpu_peak") if plans.predicted_peak_gib is None else f"{plans.predicted_peak_gib:.1f} GiB"
        lines = [word(TEXT, "plan", plan=plans.first.name, description=plans.first.description, peak=peak)]
        steps, frames = params.num_inference_steps, params.num_frames
        if self.machine.device.startswith("cuda"):
            estimate = t4.describe_plan_estimate(plans.first, steps, frames, params.height, params.width)
            lines.append(word(TEXT, "estimate", estimate=estimate))
        else:  # the plan and minutes of a free Colab T4, for the real model
            real = CHECKPOINTS[choice.checkpoint.name]
            on_t4 = planner.choose_plan(memory.T4_GIB, COLAB_HOST_RAM_GIB, real.name, frames, real.height, real.width)
            estimate = t4.describe_plan_estimate(on_t4.plan, steps, frames, real.height, real.width)
            lines.append(word(TEXT, "on_t4", plan=on_t4.plan.name, peak=on_t4.predicted_peak_gib, estimate=estimate))
        return "\n\n".join(lines + [str(Localized("warning: {warning}", warning=warning)) for warning in warnings])

    def make_video(self, photo, checkpoint: str, params: GenerationParameters, smooth_fps: int | None, on_step):
        """One video of `photo`, as `svd-learn generate` makes it, in the output folder; returns its report and what
        the run said. Raises errors.UserError for what the user can change, measure.StopRequested after Stop."""
        with self.lock:
            self.said, self.stop = [], threading.Event()  # a Stop pressed before this video does not stop it
            choice = self.choice(checkpoint)
            outputs = Outputs.check(self.next_video(photo), smooth_fps=smooth_fps)
            request = generate.video_request(photo, params, choice, outputs)
            session = self.session_for(choice, request)
            generate.say_notes(request, session, self.tell)
            try:
                return session.make_video(request, on_step=on_step, should_stop=self.stop.is_set), self.said
            except measure.StopRequested:
                raise
            except BaseException:  # out of memory with every plan, or anything else: the next video starts afresh
                self.close()
                raise

    def session_for(self, choice: models.ModelChoice, request: generate.VideoRequest) -> generate.Session:
        """The open session if it has these weights and was planned as this video would be (it keeps a plan it
        fell back to); else a new one, the old one closed first (its memory given back)."""
        plans = generate.plan_memory(self.spec, self.machine, request.params, choice, self.tell)
        kept = self.session
        if kept is not None and kept.choice.checkpoint == choice.checkpoint and kept.plans.first == plans.first:
            return kept
        self.close()
        self.session = generate.Session.open(self.spec, choice, self.machine, plans, say=self.tell, quiet=True)
        return self.session

    def next_video(self, photo) -> Path:
        """The first free name for a video of `photo` in the output folder: rocket-001.mp4, rocket-002.mp4 ..."""
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(photo).stem).strip("-")[:40] or "video"
        number = 1
        while any(self.output_dir.glob(f"{stem}-{number:03d}[.-]*")):
            number += 1
        return self.output_dir / f"{stem}-{number:03d}.mp4"

    def request_stop(self) -> None:
        self.stop.set()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


# ----------------------------------------------------------------------------------------------------
# The page


def build(studio: Studio) -> gr.Blocks:
    """The page: the photo and its crop, the plan, Generate and Stop, the video and its files, the settings with
    their hints, and the earlier results of this browser session side by side."""
    choice = studio.choice(DEFAULT_CHECKPOINT)
    source_note = word(WORDS, "random_weights", source=choice.source) if choice.source in ("tiny", "random") else ""
    with gr.Blocks(title=word(WORDS, "title"), analytics_enabled=False) as page:
        gr.Markdown(f"## {word(WORDS, 'title')}\n\n" + word(WORDS, "intro", source=source_note))
        shown = layout()
        wire(page, shown, studio)
    return page


def layout() -> SimpleNamespace:
    """The page's components, laid out: the photo, its crop, the plan, the buttons and the results on the left, the
    settings on the right, the earlier results below."""
    with gr.Row():
        with gr.Column():
            photo = gr.File(label=word(TEXT, "photo"), file_types=["image"], type="filepath", elem_id="photo")
            sample = gr.Button(word(TEXT, "sample"), elem_id="sample")
            crop = gr.Image(label=word(TEXT, "crop"), type="pil", interactive=False, elem_id="crop")
            crop_note, plan = gr.Markdown(elem_id="crop-note"), gr.Markdown(elem_id="plan")
            with gr.Row():
                go = gr.Button(word(TEXT, "generate"), variant="primary", elem_id="generate")
                stop = gr.Button(word(TEXT, "stop"), variant="stop", elem_id="stop")
            player = dict(height=VIDEO_HEIGHT, interactive=False, autoplay=True, loop=True)
            video = gr.Video(label=word(TEXT, "video"), elem_id="video", **player)
            smooth = gr.Video(label=word(TEXT, "smooth_video"), visible=False, elem_id="smooth", **player)
            files = gr.File(label=word(TEXT, "downloads"), file_count="multiple", interactive=False, elem_id="files")
            status = gr.Markdown(elem_id="status")
        with gr.Column():
            settings = setting_controls()
    gr.Markdown(word(TEXT, "history"))
    with gr.Row():
        earlier = [
            gr.Video(height=VIDEO_HEIGHT // 2, visible=False, interactive=False, loop=True, elem_id=f"earlier-{i}")
            for i in range(HISTORY_SLOTS)
        ]
    return SimpleNamespace(
        photo=photo,
        sample=sample,
        crop=crop,
        crop_note=crop_note,
        plan=plan,
        go=go,
        stop=stop,
        video=video,
        smooth=smooth,
        files=files,
        status=status,
        settings=settings,
        earlier=earlier,
        history=gr.State([]),  # this browser session's results: {"video", "label"}, newest first
    )


def wire(page: gr.Blocks, shown: SimpleNamespace, studio: Studio) -> None:
    """What each control does: the sample and a new photo show the crop; the size shows the plan; Generate makes a
    video (the `generate` API endpoint too); Stop asks the running one to stop."""
    settings = shown.settings
    checkpoint, frames, steps = settings["checkpoint"], settings["num_frames"], settings["num_inference_steps"]
    shown.sample.click(lambda: str(models.SAMPLE_IMAGE), outputs=shown.photo, api_name=False)
    for changed in (shown.photo, checkpoint):
        changed.change(
            lambda *asked: show_crop(studio, *asked),
            [shown.photo, checkpoint],
            [shown.crop, shown.crop_note],
            api_name=False,
        )
    checkpoint.change(lambda name: CHECKPOINTS[name].num_frames, checkpoint, frames, api_name=False)
    for changed in (checkpoint, frames, steps):
        changed.change(lambda *size: studio.plan(*size), [checkpoint, frames, steps], shown.plan, api_name=False)
    page.load(lambda *size: studio.plan(*size), [checkpoint, frames, steps], shown.plan, api_name=False)

    def generate_clicked(photo, *values, progress=gr.Progress()):
        return on_generate(studio, photo, *values, progress=progress)

    shown.go.click(
        generate_clicked,
        [shown.photo, *settings.values(), shown.history],
        [shown.video, shown.smooth, shown.files, shown.status, settings["seed"], shown.history, *shown.earlier],
        api_name="generate",
        concurrency_limit=1,
        show_progress_on=shown.video,
    )
    shown.stop.click(lambda: on_stop(studio), api_name="stop", concurrency_limit=None)


def setting_controls() -> dict:
    """One control per setting (SETTINGS), labelled and hinted from data/app.toml, starting at the defaults."""
    controls = {"checkpoint": gr.Dropdown(list(CHECKPOINTS), value=DEFAULT_CHECKPOINT, **words("checkpoint"))}
    starts = {**DEFAULTS.to_dict(), "num_frames": CHECKPOINTS[DEFAULT_CHECKPOINT].num_frames}
    for name in SLIDERS:
        ranges = {key: CONTROLS[name][key] for key in ("minimum", "maximum", "step")}
        controls[name] = gr.Slider(value=starts[name], **ranges, **words(name))
    controls["seed"] = gr.Number(value=DEFAULTS.seed, precision=0, minimum=0, **words("seed"))
    controls["random_seed"] = gr.Checkbox(value=False, **words("random_seed"))
    smooth = CONTROLS["smooth_fps"]
    choices = [(f"{fps} fps" if fps else word(smooth, "none"), fps) for fps in smooth["choices"]]
    controls["smooth_fps"] = gr.Dropdown(choices, value=0, **words("smooth_fps"))
    return controls


def words(name: str) -> dict:
    """A control's label, hint and element id (for the browser tests)."""
    return dict(label=word(CONTROLS[name], "label"), info=word(CONTROLS[name], "hint"), elem_id=name.replace("_", "-"))


def show_crop(studio: Studio, photo, checkpoint: str):
    """The crop and its note; a photo that cannot be used empties the crop and says why in the note."""
    if not photo:
        return None, ""
    try:
        return studio.crop(photo, checkpoint)
    except UserError as error:
        return None, f"**{html.escape(said_of(error, photo))}**"


def on_generate(studio: Studio, photo, *values, progress):
    """Generate's handler: one video, its files and the earlier results; a refusal is one line (gr.Error)."""
    *values, history = values
    chosen = dict(zip(SETTINGS, values))
    if not photo:
        raise gr.Error(word(TEXT, "no_photo"), print_exception=False)
    seed = secrets.randbelow(2**32) if chosen["random_seed"] else int(chosen["seed"] or 0)
    knobs = {name: parameters.knob_type(name)(chosen[name]) for name in SLIDERS}  # a slider sends a float
    params = GenerationParameters(**knobs, seed=seed)
    progress(0, desc=word(TEXT, "loading"))

    def on_step(step: int, total: int) -> None:
        progress((step, total), desc=word(TEXT, "working"), unit="steps")

    try:
        run, said = studio.make_video(photo, chosen["checkpoint"], params, int(chosen["smooth_fps"]) or None, on_step)
    except measure.StopRequested as stopped:
        reason = str(stopped)
        status = word(TEXT, "stopped", reason=reason[:1].upper() + reason[1:])
        return gr.update(), gr.update(), gr.update(), status, seed, history, *[gr.update()] * HISTORY_SLOTS
    except UserError as error:
        raise gr.Error(html.escape(said_of(error, photo)), print_exception=False) from None
    history = [{"video": run.output, "label": label(run)}, *history][:HISTORY_SLOTS]
    files = [run.output, run.report] + ([run.smooth["video"]] if run.smooth else [])
    smooth = gr.update(value=run.smooth["video"] if run.smooth else None, visible=bool(run.smooth))
    status = "\n\n".join([html.escape(str(run.summary())), *(html.escape(str(line)) for line in said)])
    shown = [gr.update(value=h["video"], label=h["label"], visible=True) for h in history]
    return (
        run.output,
        smooth,
        files,
        status,
        seed,
        history,
        *shown,
        *[gr.update(visible=False)] * (HISTORY_SLOTS - len(shown)),
    )


def word(table: dict, key: str, **fields) -> str:
    """A text of data/app.toml (a field of `table`) in the learner's language (its `_es` twin), {fields} filled in."""
    text = localized(table, key)
    return str(Localized(text, **fields) if fields else text)


def label(run: RunReport) -> str:
    """An earlier result's label: the settings that tell two results apart."""
    return word(TEXT, "earlier", **run.parameters)


def said_of(error: UserError, photo) -> str:
    """The error's message, with the upload's temporary path shortened to the file's name."""
    return str(error).replace(str(photo), Path(photo).name)


def on_stop(studio: Studio) -> None:
    studio.request_stop()
    gr.Info(word(TEXT, "stopping"))


# ----------------------------------------------------------------------------------------------------
# Serving it


def serve(
    spec: RunSpec = RunSpec(),
    output_dir: str | Path = "outputs/app",
    *,
    port: int | None = None,
    share: bool = False,
    block: bool = True,
) -> gr.Blocks:
    """Build the page and serve it on 127.0.0.1 (`port`, or the first free one from 7860); in a notebook (and in
    Colab, through Colab's proxy) it is shown below the cell. `block`: wait until Ctrl-C (`svd-learn app`), else
    return at once with the page running (a notebook; `page.close()` stops it). `share`: also a public link
    through gradio's servers, only when asked."""
    studio = Studio(spec, output_dir)
    page = build(studio)
    page.queue()
    page.launch(
        server_name=HOST,
        server_port=port,
        share=share,
        allowed_paths=[str(studio.output_dir), str(models.SAMPLE_IMAGE.parent)],
        prevent_thread_lock=True,
        quiet=True,
    )
    print(word(WORDS, "served", url=page.local_url), flush=True)
    if in_colab() and "ipykernel" not in sys.modules:  # `!svd-learn app`: no notebook to show the page in
        print(word(WORDS, "colab_command"), flush=True)
    if share:
        print(word(WORDS, "shared", url=page.share_url), flush=True)
    if block:
        page.block_thread()  # until Ctrl-C
        studio.close()
    return page
