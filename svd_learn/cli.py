"""The `svd-learn` command. Each lesson's module adds the commands it teaches; this file only wires them."""

import json
import sys
from typing import Annotated

import typer
from typer.core import TyperCommand

app = typer.Typer(
    help="svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags without a misleading <bool>, options that wrap on any terminal
)


class Command(TyperCommand):
    """Usage lines as click writes them (`generate [OPTIONS] IMAGE`), without typer's braces (`{image}`)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [piece.strip("{}") for piece in super().collect_usage_pieces(ctx)]


def course_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("svd-learn")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"svd-learn {course_version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=show_version, help="Print the version and exit."
    ),
) -> None:
    """svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong."""


@app.command(cls=Command)
def env(as_json: bool = typer.Option(False, "--json", help="Print the probe and the model source as JSON.")) -> None:
    """Show this machine (GPU, VRAM, host RAM, Colab or not, library versions) and the model source."""
    from dataclasses import asdict

    from svd_learn.environment import choose_source, header, probe

    environment = probe()
    try:
        source = choose_source(environment)
    except ValueError as error:  # a bad $SVD_LEARN_SOURCE
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({**environment.to_dict(), "model_source": asdict(source)}, indent=2))
    else:
        typer.echo(header(environment, source))


@app.command()
def doctor() -> None:
    """Check this environment for known-bad version combinations (lesson 3); exit 1 when one is found."""
    from svd_learn.compat import doctor as run_doctor

    raise typer.Exit(1 if run_doctor() else 0)


@app.command()
def explain(
    source: list[str] = typer.Argument(
        None,
        help="The error message itself (in quotes), a file holding the error or traceback, or '-' (the default) "
        "to paste it.",
    ),
    list_known: bool = typer.Option(False, "--list", help="List the known errors instead."),
) -> None:
    """Name the cause, the evidence, the versions involved and the fix of a pasted error (lesson 3); exit 1 if not recognised."""
    from svd_learn import compat

    raise typer.Exit(compat.explain_command(" ".join(source or ["-"]), list_known))


@app.command(cls=Command)
def plan(
    vram: float = typer.Option(
        None, "--vram", help="GPU memory in GiB (default: this machine's; 0 = no GPU). A Colab T4 has 14.74."
    ),
    host_ram: float = typer.Option(
        None, "--host-ram", help="Host RAM in GiB (default: this machine's; free Colab has 12.7)."
    ),
    checkpoint: str = typer.Option("svd-xt", "--checkpoint", help="svd, svd-xt or svd-xt-1-1."),
    frames: int = typer.Option(None, "--frames", help="Frames to generate (default: the checkpoint's)."),
    height: int = typer.Option(576, "--height"),
    width: int = typer.Option(1024, "--width"),
    as_json: bool = typer.Option(False, "--json", help="Print the choice as JSON."),
) -> None:
    """The fastest memory plan predicted to fit this GPU (lesson 4), why, and what was rejected."""
    from svd_learn.memory import plan_command

    raise typer.Exit(plan_command(vram, host_ram, checkpoint, frames, height, width, as_json))


lab_app = typer.Typer(
    help="Reproduce a known version error in a throwaway environment (lesson 3).", no_args_is_help=True
)
app.add_typer(lab_app, name="lab")


@lab_app.command("list")
def lab_list() -> None:
    """List the reproductions."""
    from svd_learn import lab

    lab.print_list()


@lab_app.command("run")
def lab_run(
    entry_id: str = typer.Argument(..., help="The id of a reproduction (svd-learn lab list)."),
    no_uv: bool = typer.Option(False, "--no-uv", help="Use venv + pip even when uv is installed."),
    find_links: list[str] = typer.Option(
        [],
        "--find-links",
        metavar="DIR",
        help="A folder of wheels to install from too (repeatable), e.g. behind a proxy. PIP_FIND_LINKS works as well.",
    ),
    no_index: bool = typer.Option(
        False,
        "--no-index",
        help="Install only from the --find-links folders, never from the registry (as PIP_NO_INDEX=1).",
    ),
) -> None:
    """Reproduce a known error for real, diagnose it, then show the fixed environment running cleanly."""
    from svd_learn import lab

    raise typer.Exit(
        lab.run_command(entry_id, use_uv=False if no_uv else None, find_links=find_links, no_index=no_index)
    )


# The sampling options that `generate` and `batch` share, defined once (typer reads the Annotated metadata).
# Their values reach the library as one mapping of GenerationParameters' field names (knobs_from): the short
# option names below are the only renames.
RENAMES = {
    "frames": "num_frames",
    "steps": "num_inference_steps",
    "min_guidance": "min_guidance_scale",
    "max_guidance": "max_guidance_scale",
}


def knobs_from(options: dict) -> dict:
    """The generation parameters among a command's options (typer's ctx.params), by their field names."""
    from svd_learn.parameters import KNOBS

    renamed = {RENAMES.get(name, name): value for name, value in options.items()}
    return {name: value for name, value in renamed.items() if name in KNOBS}


ModelOption = Annotated[
    str,
    typer.Option("--model", help="Checkpoint (svd, svd-xt, svd-xt-1-1), Hub repo id or local folder. Default: svd-xt."),
]
SourceOption = Annotated[
    str,
    typer.Option(
        "--source",
        help="Where the weights come from: tiny, random or pretrained. Default: $SVD_LEARN_SOURCE, else pretrained with a GPU, tiny without.",
    ),
]
FramesOption = Annotated[
    int, typer.Option("--frames", help="Frames to generate (default: the checkpoint's, 25 for svd-xt).")
]
StepsOption = Annotated[int, typer.Option("--steps", help="Denoising steps (default 25).")]
FpsOption = Annotated[
    int, typer.Option("--fps", help="Frames per second: the video's rate and the model's conditioning (default 7).")
]
MotionOption = Annotated[
    int, typer.Option("--motion-bucket-id", help="More motion when higher (default 127; trained up to 255).")
]
NoiseOption = Annotated[
    float,
    typer.Option("--noise-aug-strength", help="Noise added to the image: less like it, more motion (default 0.02)."),
]
MinGuidanceOption = Annotated[
    float, typer.Option("--min-guidance", help="Guidance scale of the first frame (default 1.0).")
]
MaxGuidanceOption = Annotated[
    float, typer.Option("--max-guidance", help="Guidance scale of the last frame (default 3.0).")
]
DecodeChunkOption = Annotated[
    int, typer.Option("--decode-chunk-size", help="Frames the VAE decodes at once (default: the plan's).")
]
PlanOption = Annotated[
    str,
    typer.Option("--plan", help="Memory plan: auto (the fastest predicted to fit) or a name from `svd-learn plan`."),
]
CompileOption = Annotated[
    bool,
    typer.Option(
        "--compile",
        help="torch.compile the UNet: the same video, faster steps, but the first video waits minutes for it. Pays back over many videos (batch); see benchmarks/README.md.",
    ),
]


@app.command(cls=Command)
def generate(
    ctx: typer.Context,
    image: str = typer.Argument(
        ..., metavar="IMAGE", help="The input image (PNG, JPEG, WebP; any size from 512x288 up, any mode)."
    ),
    output: str = typer.Option(..., "-o", "--output", help="The video to write (.mp4, H.264, plays in a browser)."),
    model: ModelOption = None,
    source: SourceOption = None,
    frames: FramesOption = None,
    steps: StepsOption = None,
    fps: FpsOption = None,
    motion_bucket_id: MotionOption = None,
    noise_aug_strength: NoiseOption = None,
    min_guidance: MinGuidanceOption = None,
    max_guidance: MaxGuidanceOption = None,
    seed: int = typer.Option(0, "--seed", help="Random seed (the same seed, parameters and plan give the same video)."),
    decode_chunk_size: DecodeChunkOption = None,
    plan: PlanOption = "auto",
    emulate_t4: bool = typer.Option(
        False, "--emulate-t4", help="On a bigger GPU, behave like a T4: 14.74 GiB cap, no FlashAttention."
    ),
    vram_budget: float = typer.Option(
        None, "--vram-budget", help="Cap CUDA memory at this many GiB (plans for that budget)."
    ),
    compile_unet: CompileOption = False,
    gif: bool = typer.Option(False, "--gif", help="Also write a GIF beside the video."),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
    report: str = typer.Option(
        None, "--report", help="Where to write the JSON run report (default: OUTPUT with .json)."
    ),
) -> None:
    """Generate a video from one image (lesson 5): planned for this GPU, written safely, reported."""
    raise typer.Exit(
        run_generate(
            image=image,
            output=output,
            model=model,
            source=source,
            plan=plan,
            emulate_t4=emulate_t4,
            vram_budget_gib=vram_budget,
            compile_unet=compile_unet,
            gif=gif,
            force=force,
            report=report,
            **knobs_from(ctx.params),
        )
    )


EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def run_generate(**options) -> int:
    """`svd-learn generate`: generate_video with a rich progress bar on stderr, the summary on stdout, and a
    user's mistake turned into one message. Returns the exit code: 0 done, 1 a problem the message explains,
    130 interrupted (Ctrl-C)."""
    from rich.console import Console

    from svd_learn.generate import GenerationError, generate_video
    from svd_learn.models import ModelError
    from svd_learn.parameters import ImageError, ParameterError
    from svd_learn.video import OutputError

    console = Console(stderr=True, highlight=False, soft_wrap=True, force_jupyter=False)  # plain text, unbroken lines
    bar = DenoisingBar(console)

    def say(message: str) -> None:
        console.print(message, markup=False)

    quiet_loading()
    try:
        report = generate_video(say=say, on_step=bar.on_step, command=["svd-learn", *sys.argv[1:]], **options)
    except (ImageError, ParameterError, OutputError, GenerationError, ModelError) as error:
        bar.stop()
        console.print(f"error: {error}", markup=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        bar.stop()
        console.print(f"interrupted: nothing was written ({options.get('output')} is as it was).", markup=False)
        return EXIT_INTERRUPTED
    print(report.summary())
    return EXIT_OK


class DenoisingBar:
    """rich's progress bar for the denoising steps: `denoising ---- 12/25 steps, 0:00:31 elapsed, 0:00:33 left`."""

    def __init__(self, console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("denoising"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps,"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=console,
        )
        self.task = None
        self.running = False

    def on_step(self, step: int, total: int) -> None:
        if step == 1:  # a new denoising loop (a fallback plan starts one too)
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.progress.start()
            self.running = True
            self.task = self.progress.add_task("denoising", total=total)
        self.progress.update(self.task, completed=step)
        if step == total:
            self.stop()

    def stop(self) -> None:
        if self.running:  # stopping a bar that never started prints an empty line
            self.progress.stop()
            self.running = False


def quiet_loading() -> None:
    """Keep off the terminal what a learner cannot act on: the loading bars of diffusers and transformers (nested
    bars print raw cursor escapes outside a terminal) and transformers' notice that torchvision is missing (the
    course does not need it). Download bars (huggingface_hub) stay: a 4.5 GB download should show its progress."""
    import logging

    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    logging.getLogger("transformers.utils.import_utils").addFilter(
        lambda record: "requires torchvision (not installed)" not in record.getMessage()
    )


@app.command(cls=Command)
def batch(
    ctx: typer.Context,
    images_dir: str = typer.Argument(
        ..., metavar="IMAGES_DIR", help="A folder of images: each becomes one video (and one per swept value)."
    ),
    output_dir: str = typer.Option(
        ..., "-o", "--output-dir", help="Where the videos, their reports and batch_summary.json go."
    ),
    sweep: list[str] = typer.Option(
        [], "--sweep", help="NAME=V1,V2,...: one video per value, e.g. motion_bucket_id=60,127,180 (repeat for a grid)."
    ),
    model: ModelOption = None,
    source: SourceOption = None,
    frames: FramesOption = None,
    steps: StepsOption = None,
    fps: FpsOption = None,
    motion_bucket_id: MotionOption = None,
    noise_aug_strength: NoiseOption = None,
    min_guidance: MinGuidanceOption = None,
    max_guidance: MaxGuidanceOption = None,
    seed: int = typer.Option(0, "--seed", help="The seed of every job (sweep seed=... for several)."),
    decode_chunk_size: DecodeChunkOption = None,
    plan: PlanOption = "auto",
    compile_unet: CompileOption = False,
    force: bool = typer.Option(False, "--force", help="Remake every job, even those already complete."),
) -> None:
    """Make a video of every image in a folder, split across processes with Accelerate (appendix lesson 6).

    Under `accelerate launch --num_processes N -m svd_learn.cli batch ...` each process (one per GPU) takes
    its share. Complete outputs are skipped on a re-run; a failed image is recorded and the others go on.
    """
    from svd_learn.batch import run_command

    raise typer.Exit(
        run_command(
            images_dir,
            output_dir,
            sweep,
            model=model,
            source=source,
            plan=plan,
            force=force,
            compile_unet=compile_unet,
            **knobs_from(ctx.params),
        )
    )


if __name__ == "__main__":
    app()
