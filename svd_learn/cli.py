"""The `svd-learn` command. Each lesson's module adds the commands it teaches; this file only wires them."""

import json
from typing import Annotated

import typer

app = typer.Typer(
    help="svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong."""


@app.command()
def env(as_json: bool = typer.Option(False, "--json", help="Print the probe as JSON.")) -> None:
    """Show this machine (GPU, VRAM, host RAM, Colab or not, library versions) and the model source."""
    from svd_learn.environment import choose_source, header, probe

    environment = probe()
    if as_json:
        typer.echo(json.dumps(environment.to_dict(), indent=2))
    else:
        typer.echo(header(environment, choose_source(environment)))



@app.command()
def doctor() -> None:
    """Check this environment for known-bad version combinations (lesson 3); exit 1 when one is found."""
    from svd_learn.compat import doctor as run_doctor

    raise typer.Exit(1 if run_doctor() else 0)


@app.command()
def explain(
    file: str = typer.Argument("-", help="A file holding the error message or traceback; '-' reads standard input."),
    list_known: bool = typer.Option(False, "--list", help="List the known errors instead."),
) -> None:
    """Name the cause, the versions involved and the fix of a pasted error (lesson 3); exit 1 if not recognised."""
    from svd_learn import compat

    raise typer.Exit(compat.explain_command(file, list_known))


@app.command()
def plan(
    vram: float = typer.Option(None, "--vram", help="GPU memory in GiB (default: this machine's; 0 = no GPU). A Colab T4 has 14.74."),
    host_ram: float = typer.Option(None, "--host-ram", help="Host RAM in GiB (default: this machine's; free Colab has 12.7)."),
    checkpoint: str = typer.Option("svd-xt", "--checkpoint", help="svd, svd-xt or svd-xt-1-1."),
    frames: int = typer.Option(None, "--frames", help="Frames to generate (default: the checkpoint's)."),
    height: int = typer.Option(576, "--height"),
    width: int = typer.Option(1024, "--width"),
    as_json: bool = typer.Option(False, "--json", help="Print the choice as JSON."),
) -> None:
    """The fastest memory plan predicted to fit this GPU (lesson 4), why, and what was rejected."""
    from svd_learn.memory import plan_command

    raise typer.Exit(plan_command(vram, host_ram, checkpoint, frames, height, width, as_json))


lab_app = typer.Typer(help="Reproduce a known version error in a throwaway environment (lesson 3).", no_args_is_help=True)
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
    find_links: list[str] = typer.Option([], "--find-links", metavar="DIR", help="A folder of wheels to install from too (repeatable), e.g. behind a proxy. PIP_FIND_LINKS works as well."),
    no_index: bool = typer.Option(False, "--no-index", help="Install only from the --find-links folders, never from the registry (as PIP_NO_INDEX=1)."),
) -> None:
    """Reproduce a known error for real, diagnose it, then show the fixed environment running cleanly."""
    from svd_learn import lab

    raise typer.Exit(lab.run_command(entry_id, use_uv=False if no_uv else None, find_links=find_links, no_index=no_index))


# The sampling options that `generate` and `batch` share, defined once (typer reads the Annotated metadata).
ModelOption = Annotated[str, typer.Option("--model", help="Checkpoint (svd, svd-xt, svd-xt-1-1), Hub repo id or local folder. Default: svd-xt.")]
SourceOption = Annotated[str, typer.Option("--source", help="Where the weights come from: tiny, random or pretrained. Default: $SVD_LEARN_SOURCE, else pretrained with a GPU, tiny without.")]
FramesOption = Annotated[int, typer.Option("--frames", help="Frames to generate (default: the checkpoint's, 25 for svd-xt).")]
StepsOption = Annotated[int, typer.Option("--steps", help="Denoising steps (default 25).")]
FpsOption = Annotated[int, typer.Option("--fps", help="Frames per second: the video's rate and the model's conditioning (default 7).")]
MotionOption = Annotated[int, typer.Option("--motion-bucket-id", help="More motion when higher (default 127; trained up to 255).")]
NoiseOption = Annotated[float, typer.Option("--noise-aug-strength", help="Noise added to the image: less like it, more motion (default 0.02).")]
MinGuidanceOption = Annotated[float, typer.Option("--min-guidance", help="Guidance scale of the first frame (default 1.0).")]
MaxGuidanceOption = Annotated[float, typer.Option("--max-guidance", help="Guidance scale of the last frame (default 3.0).")]
DecodeChunkOption = Annotated[int, typer.Option("--decode-chunk-size", help="Frames the VAE decodes at once (default: the plan's).")]
PlanOption = Annotated[str, typer.Option("--plan", help="Memory plan: auto (the fastest predicted to fit) or a name from `svd-learn plan`.")]


@app.command()
def generate(
    image: str = typer.Argument(..., help="The input image (PNG, JPEG, WebP; any size from 512x288 up, any mode)."),
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
    emulate_t4: bool = typer.Option(False, "--emulate-t4", help="On a bigger GPU, behave like a T4: 14.74 GiB cap, no FlashAttention."),
    vram_budget: float = typer.Option(None, "--vram-budget", help="Cap CUDA memory at this many GiB (plans for that budget)."),
    gif: bool = typer.Option(False, "--gif", help="Also write a GIF beside the video."),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
    report: str = typer.Option(None, "--report", help="Where to write the JSON run report (default: OUTPUT with .json)."),
) -> None:
    """Generate a video from one image (lesson 5): planned for this GPU, written safely, reported."""
    from svd_learn.generate import run_command

    raise typer.Exit(run_command(
        image=image, output=output, model=model, source=source, num_frames=frames, num_inference_steps=steps,
        fps=fps, motion_bucket_id=motion_bucket_id, noise_aug_strength=noise_aug_strength,
        min_guidance_scale=min_guidance, max_guidance_scale=max_guidance, seed=seed,
        decode_chunk_size=decode_chunk_size, plan=plan, emulate_t4=emulate_t4, vram_budget_gib=vram_budget,
        gif=gif, force=force, report=report,
    ))


@app.command()
def batch(
    images_dir: str = typer.Argument(..., help="A folder of images: each becomes one video (and one per swept value)."),
    output_dir: str = typer.Option(..., "-o", "--output-dir", help="Where the videos, their reports and batch_summary.json go."),
    sweep: list[str] = typer.Option([], "--sweep", help="NAME=V1,V2,...: one video per value, e.g. motion_bucket_id=60,127,180 (repeat for a grid)."),
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
    force: bool = typer.Option(False, "--force", help="Remake every job, even those already complete."),
) -> None:
    """Make a video of every image in a folder, split across processes with Accelerate (appendix lesson 6).

    Under `accelerate launch --num_processes N -m svd_learn.cli batch ...` each process (one per GPU) takes
    its share. Complete outputs are skipped on a re-run; a failed image is recorded and the others go on.
    """
    from svd_learn.batch import run_command

    raise typer.Exit(run_command(
        images_dir, output_dir, sweep, model=model, source=source, num_frames=frames, num_inference_steps=steps,
        fps=fps, motion_bucket_id=motion_bucket_id, noise_aug_strength=noise_aug_strength,
        min_guidance_scale=min_guidance, max_guidance_scale=max_guidance, seed=seed,
        decode_chunk_size=decode_chunk_size, plan=plan, force=force,
    ))


if __name__ == "__main__":
    app()
