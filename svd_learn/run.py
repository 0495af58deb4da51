"""What a run is asked to do (`RunSpec`), where it writes (`Outputs`), and what it reports (`RunReport`).

The generation parameters travel apart, as one `parameters.GenerationParameters`: the spec says how to run
(which weights, which memory plan, on what budget, compiled or not, what to write), the parameters what to make.
`svd-learn generate` builds one spec per run, `svd-learn batch` one for all its jobs, an app one per session.
The report is built in one piece from the spec, the parameters and the measurements (generate.Session), and
saved as JSON beside the video: batch resume reads it back (batch.output_state), old reports included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from svd_learn.language import Localized, joined
from svd_learn.video import check_output, write_json


@dataclass(frozen=True)
class RunSpec:
    """How to run: the weights, the memory plan and its budget, compilation, and what to write. Every default is
    what `svd-learn generate` does without the option."""

    # The weights. None: svd-xt. Or svd, svd-xt-1-1, a Hub repo id ("owner/name") or a local pipeline folder.
    model: str | None = None
    # Where they come from: tiny, random or pretrained. None: $SVD_LEARN_SOURCE, else pretrained with a CUDA GPU
    # and tiny without; and, when neither model nor source was named, tiny if the Hub cannot give the pretrained ones.
    source: str | None = None
    # The memory plan: "auto" (the fastest predicted to fit: planner.choose_plan) or a name of plans.PLANS.
    plan: str = "auto"
    # Cap CUDA memory at this many GiB and plan for it (--vram-budget). None: the whole GPU.
    vram_budget_gib: float | None = None
    # Behave like a Colab T4 on a bigger GPU: a 14.74 GiB cap and only the attention kernels a T4 has.
    emulate_t4: bool = False
    # torch.compile the UNet (generate.COMPILE_MODE): the same video, faster steps after a warm-up.
    compile_unet: bool = False
    # Also write a GIF beside each video (for sharing: 256 colours a frame).
    gif: bool = False
    # Also write a smoother copy at this frame rate, its frames interpolated by ffmpeg (video.save_smooth_mp4), as
    # OUTPUT-24fps.mp4 beside the video, which stays as the model made it. None: no copy.
    smooth_fps: int | None = None
    # Replace existing outputs (generate), or remake jobs already complete (batch). Never without it.
    force: bool = False
    # Run full-size weights (random or pretrained) without a CUDA GPU: about 15 GB of RAM and tens of minutes a
    # denoising step. Refused without it, after saying what it costs (generate.check_full_size_on_cpu).
    full_size_on_cpu: bool = False
    # The command line that asked for the run, recorded in each report (None from Python).
    command: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Outputs:
    """Where one video goes: the mp4, its JSON report, the GIF (None: no GIF) and the smoother copy at smooth_fps
    (None: none); `replace`: an existing file may be replaced (--force, or a batch job being remade)."""

    video: Path
    report: Path
    gif: Path | None = None
    replace: bool = False
    smooth: Path | None = None
    smooth_fps: int | None = None

    @classmethod
    def check(
        cls, video, report=None, gif: bool = False, force: bool = False, smooth_fps: int | None = None
    ) -> Outputs:
        """The video, report (default: beside the video, .json), GIF and smoother copy's paths, each refused now
        (video.OutputError) if it cannot be written. Nothing is created yet: a folder is made when its first file
        is written."""
        video = check_output(video, force=force, suffix=".mp4")
        report = check_output(report if report is not None else video.with_suffix(".json"), force=force, suffix=".json")
        gif_path = check_output(video.with_suffix(".gif"), force=force, suffix=".gif") if gif else None
        smooth = smooth_path(video, smooth_fps) if smooth_fps is not None else None
        smooth = check_output(smooth, force=force, suffix=".mp4") if smooth else None
        return cls(video, report, gif_path, force, smooth, smooth_fps)


def smooth_path(video: Path, smooth_fps: int) -> Path:
    """Where the smoother copy of `video` goes: beside it, its frame rate in the name (rocket.mp4: rocket-24fps.mp4)."""
    return video.with_name(f"{video.stem}-{smooth_fps:g}fps.mp4")


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
    parameters: dict  # GenerationParameters as the call used them (frames and decode chunk filled in)
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
    smooth: dict | None = None  # the smoother copy: its path, fps, frames, what was interpolated and how
    fallbacks: list[dict] = field(default_factory=list)  # {"plan", "error"}: each plan that ran out of GPU memory
    peak_allocated_gib: float | None = None
    peak_reserved_gib: float | None = None
    denoise_peak_allocated_gib: float | None = None
    host_rss_peak_gib: float = 0.0
    timings: dict = field(default_factory=dict)  # load_s, denoise_s, s_per_step, decode_s, call_s, write_s, total_s
    t4_estimate: str | None = None  # svd_learn.t4's estimate of this call on a T4 (FLOPs and PCIe), labelled as one
    compiled_unet: str | None = None  # how the UNet ran compiled ("regional" or "full"; its warm-up is in denoise_s)
    compile_note: str | None = None  # why it did not, when --compile was asked for
    report: str | None = None
    command: list[str] | None = None  # the command line, when run as `svd-learn generate`

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path, force: bool = True) -> Path:
        return write_json(self.to_dict(), path, force=force)  # replaced only by a complete file, read back

    def summary(self) -> Localized:
        """The one line `svd-learn generate` prints when the video is written."""
        peak = (
            Localized("peak VRAM {peak:.2f} GiB reserved", peak=self.peak_reserved_gib)
            if self.peak_reserved_gib is not None
            else Localized("no GPU")
        )
        fallbacks = Localized(", after {count} fallback(s)", count=len(self.fallbacks)) if self.fallbacks else ""
        measured_on = self.environment.get("gpu_name") if self.device.startswith("cuda") else None
        if measured_on is None and self.plan != "cpu":  # a GPU plan asked for on a machine without one
            fallbacks = Localized(" run on the CPU{fallbacks}", fallbacks=fallbacks)
        parts = [
            Localized(
                "wrote {output}: {frames} frames {width}x{height} at {fps:g} fps, {mb:.2f} MB, {seconds:.1f} s "
                "measured on {device}, {peak}, plan {plan}{fallbacks}",
                output=self.output,
                frames=self.frames,
                width=self.width,
                height=self.height,
                fps=self.fps,
                mb=self.file_bytes / 1e6,
                seconds=self.timings.get("total_s", 0),
                device=measured_on or Localized("the CPU"),
                peak=peak,
                plan=self.plan,
                fallbacks=fallbacks,
            )
        ]
        if self.random_weights:
            parts.append(Localized(" (random weights, {source} source: the frames are noise)", source=self.source))
        if self.t4_estimate:
            parts.append(joined(["; ", self.t4_estimate], ""))
        if self.smooth:
            parts.append(
                Localized(
                    "; smoother copy {video}: {interpolated}",
                    video=self.smooth["video"],
                    interpolated=self.smooth["interpolated"],
                )
            )
        return joined(parts, "")
