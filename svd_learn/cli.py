"""The `svd-learn` command. Each lesson's module adds the commands it teaches; this file only wires them.

`main` is the program: it asks PyTorch's CUDA allocator for expandable segments before anything else, then runs
the command. The commands whose work imports torch, diffusers, gradio or the lab (generate, batch, app, doctor, explain, lab)
import it inside their body: that takes seconds, and a mistake in the arguments is refused before. The generation options become one `GenerationParameters` and
one `RunSpec`, here, once; they reach the pipeline call as they are.
"""

import json
import sys
from dataclasses import asdict
from importlib import metadata
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer.core import TyperCommand

from svd_learn import memory
from svd_learn.environment import choose_source, header, probe
from svd_learn.errors import UserError
from svd_learn.language import Localized
from svd_learn.parameters import GenerationParameters
from svd_learn.planner import plan_command
from svd_learn.request import check_arguments
from svd_learn.run import RunSpec
from svd_learn.video import check_output_folder

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
    try:
        return metadata.version("svd-learn")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        return Localized("unknown (not installed: pip install -e .)")


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"svd-learn {course_version()}")
        raise typer.Exit()


@app.callback()
def options(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=show_version, help="Print the version and exit."
    ),
) -> None:
    """svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong."""


@app.command(cls=Command)
def env(as_json: bool = typer.Option(False, "--json", help="Print the probe and the model source as JSON.")) -> None:
    """Show this machine (GPU, VRAM, host RAM, Colab or not, library versions) and the model source."""
    environment = probe()
    try:
        source = choose_source(environment)
    except ValueError as error:  # a bad $SVD_LEARN_SOURCE
        echo_error(error)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({**environment.to_dict(), "model_source": asdict(source)}, indent=2))
    else:
        typer.echo(header(environment, source))


def echo_error(error: Exception | str) -> None:
    """A user's mistake, in one line on stderr, in the learner's language."""
    typer.echo(str(Localized("error: {error}", error=error)), err=True)


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


# The sampling options that `generate` and `batch` share, defined once (typer reads the Annotated metadata). Their
# defaults are GenerationParameters' own (diffusers' call defaults), and each command builds one GenerationParameters
# from them with sampling_parameters, where the short option names (--frames, --steps, --min-guidance,
# --max-guidance) become diffusers' argument names, once.
DEFAULTS = GenerationParameters()


def sampling_parameters(
    frames, steps, fps, motion_bucket_id, noise_aug_strength, min_guidance, max_guidance, decode_chunk_size, seed
) -> GenerationParameters:
    """The shared sampling options of `generate` and `batch`, under diffusers' names."""
    return GenerationParameters(
        num_frames=frames,
        num_inference_steps=steps,
        fps=fps,
        motion_bucket_id=motion_bucket_id,
        noise_aug_strength=noise_aug_strength,
        min_guidance_scale=min_guidance,
        max_guidance_scale=max_guidance,
        decode_chunk_size=decode_chunk_size,
        seed=seed,
    )


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
StepsOption = Annotated[int, typer.Option("--steps", help="Denoising steps.")]
FpsOption = Annotated[
    int, typer.Option("--fps", help="Frames per second: the video's rate and the model's conditioning.")
]
MotionOption = Annotated[int, typer.Option("--motion-bucket-id", help="More motion when higher (trained up to 255).")]
NoiseOption = Annotated[
    float, typer.Option("--noise-aug-strength", help="Noise added to the image: less like it, more motion.")
]
MinGuidanceOption = Annotated[float, typer.Option("--min-guidance", help="Guidance scale of the first frame.")]
MaxGuidanceOption = Annotated[float, typer.Option("--max-guidance", help="Guidance scale of the last frame.")]
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
        help="torch.compile the UNet: the same video, faster steps, but the first video waits for it. Pays back over many videos (batch); see benchmarks/README.md.",
    ),
]

FullSizeOnCpuOption = Annotated[
    bool,
    typer.Option(
        "--full-size-on-cpu",
        help="Run full-size weights (random or pretrained) without a CUDA GPU: about 15 GB of RAM and tens of minutes a denoising step. Refused without it, after saying what it costs.",
    ),
]
SmoothOption = Annotated[
    int,
    typer.Option(
        "--smooth",
        metavar="FPS",
        help="Also write a smoother copy at FPS frames a second (e.g. 24; OUTPUT-24fps.mp4), the frames between the "
        "model's made by ffmpeg's motion interpolation (minterpolate). The original video stays.",
    ),
]


@app.command(cls=Command)
def generate(
    image: str = typer.Argument(
        ..., metavar="IMAGE", help="The input image (PNG, JPEG, WebP; any size from 512x288 up, any mode)."
    ),
    output: str = typer.Option(..., "-o", "--output", help="The video to write (.mp4, H.264, plays in a browser)."),
    model: ModelOption = None,
    source: SourceOption = None,
    frames: FramesOption = None,
    steps: StepsOption = DEFAULTS.num_inference_steps,
    fps: FpsOption = DEFAULTS.fps,
    motion_bucket_id: MotionOption = DEFAULTS.motion_bucket_id,
    noise_aug_strength: NoiseOption = DEFAULTS.noise_aug_strength,
    min_guidance: MinGuidanceOption = DEFAULTS.min_guidance_scale,
    max_guidance: MaxGuidanceOption = DEFAULTS.max_guidance_scale,
    seed: int = typer.Option(
        DEFAULTS.seed, "--seed", help="Random seed (the same seed, parameters and plan give the same video)."
    ),
    decode_chunk_size: DecodeChunkOption = None,
    plan: PlanOption = "auto",
    emulate_t4: bool = typer.Option(
        False, "--emulate-t4", help="On a bigger GPU, behave like a T4: 14.74 GiB cap, no FlashAttention."
    ),
    vram_budget: float = typer.Option(
        None, "--vram-budget", help="Cap CUDA memory at this many GiB (plans for that budget)."
    ),
    compile_unet: CompileOption = False,
    full_size_on_cpu: FullSizeOnCpuOption = False,
    gif: bool = typer.Option(False, "--gif", help="Also write a GIF beside the video."),
    smooth: SmoothOption = None,
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
    report: str = typer.Option(
        None, "--report", help="Where to write the JSON run report (default: OUTPUT with .json)."
    ),
) -> None:
    """Generate a video from one image (lesson 5): planned for this GPU, written safely, reported."""
    params = sampling_parameters(
        frames, steps, fps, motion_bucket_id, noise_aug_strength, min_guidance, max_guidance, decode_chunk_size, seed
    )
    spec = RunSpec(
        model=model,
        source=source,
        plan=plan,
        vram_budget_gib=vram_budget,
        emulate_t4=emulate_t4,
        compile_unet=compile_unet,
        gif=gif,
        smooth_fps=smooth,
        force=force,
        full_size_on_cpu=full_size_on_cpu,
        command=("svd-learn", *sys.argv[1:]),
    )
    raise typer.Exit(run_generate(image, output, report, params, spec))


EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def run_generate(image: str, output: str, report: str | None, params: GenerationParameters, spec: RunSpec) -> int:
    """`svd-learn generate`: generate_video with a rich progress bar on stderr, the summary on stdout, and a
    user's mistake turned into one message. Returns the exit code: 0 done, 1 a problem the message explains,
    130 interrupted (Ctrl-C)."""
    console = Console(stderr=True, highlight=False, soft_wrap=True, force_jupyter=False)  # plain text, unbroken lines
    bar = DenoisingBar(console)

    def say(message: str) -> None:
        console.print(str(message), markup=False)  # str(): the learner's language (rich prints a str's own text)

    try:
        check_arguments(image, output, report, params, spec)  # a mistake costs a fraction of a second: no torch yet
        from svd_learn.generate import generate_video  # torch and diffusers: seconds, so after the arguments

        run = generate_video(image, output, params, spec, report=report, say=say, on_step=bar.on_step)
    except UserError as error:
        bar.stop()
        say(Localized("error: {error}", error=error))
        return EXIT_ERROR
    except KeyboardInterrupt:
        bar.stop()
        say(Localized("interrupted: nothing was written ({output} is as it was).", output=output))
        return EXIT_INTERRUPTED
    print(run.summary())
    return EXIT_OK


class DenoisingBar:
    """rich's progress bar for the denoising steps: `denoising ---- 12/25 steps, 0:00:31 elapsed, 0:00:33 left`."""

    def __init__(self, console):
        self.progress = Progress(
            TextColumn(str(Localized("denoising"))),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(str(Localized("steps,"))),
            TimeElapsedColumn(),
            TextColumn(str(Localized("elapsed,"))),
            TimeRemainingColumn(),
            TextColumn(str(Localized("left"))),
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


@app.command(cls=Command)
def batch(
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
    steps: StepsOption = DEFAULTS.num_inference_steps,
    fps: FpsOption = DEFAULTS.fps,
    motion_bucket_id: MotionOption = DEFAULTS.motion_bucket_id,
    noise_aug_strength: NoiseOption = DEFAULTS.noise_aug_strength,
    min_guidance: MinGuidanceOption = DEFAULTS.min_guidance_scale,
    max_guidance: MaxGuidanceOption = DEFAULTS.max_guidance_scale,
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="The seed of every job (sweep seed=... for several)."),
    decode_chunk_size: DecodeChunkOption = None,
    plan: PlanOption = "auto",
    compile_unet: CompileOption = False,
    full_size_on_cpu: FullSizeOnCpuOption = False,
    force: bool = typer.Option(False, "--force", help="Remake every job, even those already complete."),
) -> None:
    """Make a video of every image in a folder, split across processes with Accelerate (appendix lesson 6).

    Under `accelerate launch --num_processes N -m svd_learn.cli batch ...` each process (one per GPU) takes
    its share. Complete outputs are skipped on a re-run; a failed image is recorded and the others go on.
    """
    try:
        check_output_folder(output_dir)  # a mistake costs a fraction of a second: no torch yet
    except UserError as error:
        echo_error(error)
        raise typer.Exit(1) from None
    from svd_learn.batch import run_command  # torch, diffusers and accelerate: seconds, so after the arguments

    params = sampling_parameters(
        frames, steps, fps, motion_bucket_id, noise_aug_strength, min_guidance, max_guidance, decode_chunk_size, seed
    )
    spec = RunSpec(
        model=model, source=source, plan=plan, compile_unet=compile_unet, force=force, full_size_on_cpu=full_size_on_cpu
    )
    raise typer.Exit(run_command(images_dir, output_dir, sweep, params, spec))


@app.command("app", cls=Command)
def app_command(
    source: SourceOption = None,
    output_dir: str = typer.Option(
        "outputs/app", "-o", "--output-dir", help="Where the videos and their reports go (numbered, never replaced)."
    ),
    port: int = typer.Option(None, "--port", help="The port on 127.0.0.1 (default: the first free one from 7860)."),
    share: bool = typer.Option(
        False,
        "--share",
        help="Also make a public link through gradio's servers: anyone who has it can use this computer. Off unless asked.",
    ),
) -> None:
    """A web page for the capstone (lesson 5) on 127.0.0.1: your photo, the settings, the plan, the video. Needs
    gradio: pip install 'svd-learn[app]' (Colab ships it)."""
    try:
        from svd_learn import app as page  # gradio, torch and diffusers: seconds, so after the arguments
    except ModuleNotFoundError as error:
        if error.name != "gradio":
            raise
        echo_error(Localized("svd-learn app needs gradio: pip install 'svd-learn[app]' (Colab ships it)."))
        raise typer.Exit(EXIT_ERROR) from None
    try:
        page.serve(RunSpec(source=source), output_dir, port=port, share=share)
    except UserError as error:  # a bad --source, say
        echo_error(error)
        raise typer.Exit(EXIT_ERROR) from None


def main() -> None:
    """The `svd-learn` program (pyproject's [project.scripts], and `python -m svd_learn.cli`). Its first act, before
    anything can start CUDA: ask PyTorch's allocator for expandable segments (the planner's figures were measured
    with them; a PYTORCH_CUDA_ALLOC_CONF of your own that names expandable_segments is kept). Then the command."""
    memory.enable_expandable_segments()
    app()


if __name__ == "__main__":
    main()
