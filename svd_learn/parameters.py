"""Lesson 2: the parameters of one Stable Video Diffusion generation, checked, and what the UNet receives.

Four parts, in the order a generation uses them:

- `GenerationParameters`: the knobs of `StableVideoDiffusionPipeline.__call__`, their defaults where they are
  declared, with `validate()` (errors for impossible values, warnings for values the model was not trained
  on) and `preset()` (the model cards' settings and Stability's reference sampler). Two fields may be None,
  as in diffusers: `num_frames` (the checkpoint's trained count: `for_checkpoint` fills it) and
  `decode_chunk_size` (all frames at once in diffusers; the memory plan's in the capstone: `with_plan_chunk`).
  `KNOBS` are the fields a run may set and a batch may sweep. Presets and rules live in data/parameters.toml.
- `load_image` / `prepare_image`: any image file to an RGB image of exactly the generation's size.
- `inspect_conditioning`: run the real pipeline with hooks and capture what the UNet actually receives
  (added time ids, per-frame guidance, the 8-channel input, the zero embeddings of the unconditional half,
  the noise added to the conditioning image), plus `plot_conditioning` to see it.
- `sweep` / `motion_score` / `plot_frame_grid`: the same generation with one parameter changed, to compare videos.

torch and matplotlib are imported inside the functions that need them (seconds to import): checking parameters
and images, what `svd-learn` does first, does not wait for them.
"""

from __future__ import annotations

import math
import re
import tomllib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from svd_learn.checkpoints import CHECKPOINTS, DATA, get_checkpoint
from svd_learn.errors import UserError
from svd_learn.language import Localized, joined, localized


class ParameterError(UserError, ValueError):
    """A generation parameter that cannot work. The message names the value, the allowed range and the rule's source."""


class ImageError(UserError, ValueError):
    """An input image that cannot be used. The message says what was wrong and what to do."""


_TABLE = tomllib.loads((DATA / "parameters.toml").read_text())
# Where each rule comes from (not environment.SOURCES), and the rules; their words in the learner's language (_es).
RULE_SOURCES: dict[str, str] = {
    name: localized(_TABLE["sources"], name) for name in _TABLE["sources"] if not name.endswith("_es")
}
RULES: list[dict] = [{**rule, "why": localized(rule, "why")} if "why" in rule else rule for rule in _TABLE["rules"]]
IMAGE_POLICY: dict = _TABLE["image"]
PRESETS: tuple[str, ...] = tuple(_TABLE["presets"])


# ----------------------------------------------------------------------------------------------------
# Parameters.


@dataclass
class GenerationParameters:
    """One SVD generation's parameters, with diffusers' `StableVideoDiffusionPipeline.__call__` defaults for SVD-XT
    (tests/test_parameters.py checks them against the installed diffusers). The rules that check them, and the
    presets of each checkpoint, are in data/parameters.toml.
    """

    height: int = 576  # pixels, a multiple of 8 (the VAE turns 8x8 pixels into one latent); the checkpoints' size
    width: int = 1024  # pixels, a multiple of 8
    num_frames: int | None = None  # frames to generate; None: the checkpoint's (SVD-XT was trained on 25, SVD on 14)
    num_inference_steps: int = 25  # denoising steps: time grows with them
    fps: int = 7  # the video's frame rate; the pipeline gives the UNet fps - 1 (what the model was trained on)
    motion_bucket_id: int = 127  # how much motion: higher moves more (trained on 0 to 255)
    noise_aug_strength: float = 0.02  # noise added to the conditioning image: less like the image, more motion
    min_guidance_scale: float = 1.0  # guidance of the first frame; it rises linearly ...
    max_guidance_scale: float = 3.0  # ... to this value at the last frame (guidance is off when it is <= 1)
    decode_chunk_size: int | None = None  # frames the VAE decodes at once, the decoder's memory knob; None: all of
    # them in diffusers, the memory plan's in the capstone (with_plan_chunk fills it where the plan is chosen)
    seed: int = 0  # seeds a CPU torch.Generator (as the capstone does): the same noise on any device
    num_videos_per_prompt: int = 1  # videos per call (the course makes one)

    def validate(self, checkpoint: str | None = None) -> list[str]:
        """Check every rule of data/parameters.toml.

        Raises ParameterError (one line per problem) if any value cannot work. Otherwise returns the
        warnings, one string per off-distribution value, and emits nothing: the caller decides to print
        them. `checkpoint` (svd, svd-xt, svd-xt-1-1) selects its frame count and its tuned values; with
        None, a value is accepted if it matches any of the three checkpoints.
        """
        if checkpoint is not None:
            get_checkpoint(checkpoint)  # a clear error for an unknown name
        errors = self._type_errors()
        if errors:  # comparing a string with a number would only add confusing lines
            raise ParameterError(joined(errors, "\n"))
        problems = {"error": [], "warning": []}
        for rule in RULES:
            if checkpoint not in rule.get("only_for", [checkpoint]):
                continue
            value = getattr(self, rule["field"])
            requirement = _broken_requirement(rule, value, self, checkpoint)
            if requirement:
                problems[rule["level"]].append(
                    Localized(
                        "{field}={value!r}: {requirement}. {why} (source: {source})",
                        field=rule["field"],
                        value=value,
                        requirement=requirement,
                        why=rule["why"],
                        source=RULE_SOURCES[rule["source"]],
                    )
                )
        if problems["error"]:
            raise ParameterError(joined(problems["error"], "\n"))
        return problems["warning"]

    def _type_errors(self) -> list[str]:
        errors = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None and spec.type.endswith("| None"):
                continue
            if spec.type.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
                errors.append(
                    Localized(
                        "{name}={value!r}: must be a whole number (int). (source: {source})",
                        name=spec.name,
                        value=value,
                        source=RULE_SOURCES["diffusers"],
                    )
                )
            elif spec.type == "float" and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            ):
                errors.append(
                    Localized(
                        "{name}={value!r}: must be a finite number. (source: {source})",
                        name=spec.name,
                        value=value,
                        source=RULE_SOURCES["diffusers"],
                    )
                )
        return errors

    def for_checkpoint(self, checkpoint: str) -> GenerationParameters:
        """These parameters with the checkpoint's trained frame count where num_frames is None (as diffusers
        reads it from the UNet's config)."""
        if self.num_frames is not None:
            return self
        return replace(self, num_frames=get_checkpoint(checkpoint).num_frames)

    def with_plan_chunk(self, plan_chunk: int) -> GenerationParameters:
        """These parameters with the decode chunk a call uses: ours if set, else the memory plan's; at most
        num_frames (a larger chunk decodes the same frames). Call it where the plan is chosen."""
        chunk = self.decode_chunk_size if self.decode_chunk_size is not None else plan_chunk
        return replace(self, decode_chunk_size=min(chunk, self.num_frames))

    def pipeline_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `pipe(image, **kwargs)`: everything but the seed (build the generator from it)."""
        kwargs = self.to_dict()
        del kwargs["seed"]
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _broken_requirement(rule: dict, value, params: GenerationParameters, checkpoint: str | None) -> str | None:
    """The requirement `value` breaks, in words ("must be at least 1"), or None if it keeps the rule. A value of
    None (num_frames or decode_chunk_size, left to the checkpoint or the memory plan) is checked once filled in."""
    if value is None:
        return None
    check, limit = rule["check"], rule.get("limit")
    other = f"{rule['other']}={getattr(params, rule['other'])!r}" if "other" in rule else None
    if check == "min" and value < limit:
        return Localized("must be at least {limit}", limit=limit)
    if check == "max" and value > limit:
        return Localized("expected at most {limit}", limit=limit)
    if check == "above" and value <= limit:
        return Localized("expected above {limit}", limit=limit)
    if check == "multiple_of" and value % limit != 0:
        below, above = value - value % limit, value - value % limit + limit
        return Localized(
            "must be a multiple of {limit} (e.g. {below} or {above})", limit=limit, below=below, above=above
        )
    if check == "range" and not rule["min"] <= value <= rule["max"]:
        if rule["min"] == rule["max"]:
            return Localized("expected {value}", value=rule["min"])
        return Localized("expected {min} to {max}", min=rule["min"], max=rule["max"])
    if check == "not_above" and value > getattr(params, rule["other"]):
        return Localized("expected at most {other}", other=other)
    if check == "max_when_other_at_most" and value > limit and getattr(params, rule["other"]) <= rule["other_limit"]:
        return Localized("must be at most {limit} when {other}", limit=limit, other=other)
    if check == "checkpoint":
        names = [checkpoint] if checkpoint else list(CHECKPOINTS)
        expected = sorted({getattr(CHECKPOINTS[name], rule["attribute"]) for name in names})
        if value not in expected:
            trained = joined([str(e) for e in expected], Localized(" or "))
            return Localized(
                "expected {trained} (the value {names} was trained with)", trained=trained, names="/".join(names)
            )
    return None


# The parameters a run may set (and a batch may sweep): every field but the size, which is the checkpoint's,
# and num_videos_per_prompt (a run makes one video).
KNOBS: tuple[str, ...] = tuple(
    f.name for f in fields(GenerationParameters) if f.name not in ("height", "width", "num_videos_per_prompt")
)


def knob_type(name: str) -> type:
    """int or float: the type a knob's values take (a sweep's values on the command line are converted to it)."""
    declared = {spec.name: spec.type for spec in fields(GenerationParameters)}[name]
    return int if declared.startswith("int") else float


def preset(name: str) -> GenerationParameters:
    """The parameters of a named preset (see PRESETS): model-card settings or Stability's reference sampler."""
    if name not in _TABLE["presets"]:
        raise ValueError(
            Localized("Unknown preset {name!r}. Presets: {presets}.", name=name, presets=", ".join(PRESETS))
        )
    table = _TABLE["presets"][name]
    values = {k: v for k, v in table.items() if k not in ("checkpoint", "description")}
    return GenerationParameters(**values).for_checkpoint(table["checkpoint"])


def check_size(checkpoint: str, num_frames: int, height: int, width: int) -> list[str]:
    """Check a call's size by the rules `generate` uses (the checkpoint's preset, with this size); return the
    warnings or raise ParameterError. `svd-learn plan` checks its inputs with it."""
    get_checkpoint(checkpoint)  # a clear error for an unknown name
    return replace(preset(checkpoint), num_frames=num_frames, height=height, width=width).validate(checkpoint)


def preset_checkpoint(name: str) -> str:
    """The checkpoint a preset is for (svd, svd-xt or svd-xt-1-1)."""
    preset(name)  # a clear error for an unknown name
    return _TABLE["presets"][name]["checkpoint"]


# ----------------------------------------------------------------------------------------------------
# Images.

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # a scheme and "//": http://, https://, s3://, hf://...


def load_image(path: str | Path, *, height: int | None = None, width: int | None = None):
    """Open an image file as an upright RGB PIL image, or raise ImageError saying what is wrong.

    - EXIF orientation is applied (phone photos are stored sideways with a rotation tag).
    - Any mode becomes RGB: transparency (RGBA, LA, PA, palette with transparency) is composited over
      white; grayscale, palette and CMYK are converted; 16-bit and 32-bit grayscale (I;16, I) are scaled
      to 8 bits; float (F) images are read as 0..1 if their maximum is at most 1, else 0..255.
    - Animated images (GIF, APNG, WebP with several frames) are refused: SVD starts from one still image,
      and silently picking a frame would hide the choice from you.
    - With `height` and `width` (the generation size), a large JPEG is decoded at a reduced scale that
      still covers that size (Pillow's `draft`), so an 8000x6000 photo does not need 144 MB.
    Pillow's decompression-bomb guard stays on: images above 2 x 89.5 Mpx are refused.
    - A URL is refused, with how to download it: the file is what a run report records and reproduces.
    """
    path = _image_file(path)
    try:
        with Image.open(path) as opened:
            frames = getattr(opened, "n_frames", 1)
            if frames > 1:
                raise ImageError(
                    Localized(
                        "{path} is animated ({frames} frames). SVD starts from one still image: save the frame you "
                        "want as PNG or JPEG and pass that.",
                        path=path,
                        frames=frames,
                    )
                )
            if height and width and opened.format == "JPEG":
                opened.draft("RGB", (width, height))  # decode at 1/2, 1/4 or 1/8 scale if that still covers the target
            opened.load()  # Image.open is lazy: decode now, so a truncated file fails here
            image = ImageOps.exif_transpose(opened)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(
            Localized("{path} is not an image Pillow can read. Use a PNG, JPEG or WebP file.", path=path)
        ) from None
    except Image.DecompressionBombError as error:
        raise ImageError(
            Localized("{path} is too large to open safely ({error}). Downscale it first.", path=path, error=error)
        ) from None
    except OSError as error:  # truncated or corrupt data
        raise ImageError(
            Localized(
                "{path} could not be decoded ({error}). The file may be truncated: download it again.",
                path=path,
                error=error,
            )
        ) from None
    return to_rgb(image)


def _image_file(path: str | Path) -> Path:
    """`path` as a file to open, or the ImageError that says why it is not one (a URL, a folder, nothing there)."""
    if URL.match(str(path)):
        raise ImageError(
            Localized(
                "{path} is a URL; svd-learn reads image files. Download it first (curl -LO '{path}', or upload it on "
                "Colab), then pass the file: the run report then names an input that stays the same.",
                path=path,
            )
        )
    path = Path(path)
    if path.is_dir():
        raise ImageError(
            Localized("{path} is a folder, not an image file. Pass the path of one image (PNG, JPEG, WebP).", path=path)
        )
    if not path.exists():
        raise ImageError(
            Localized("{path} does not exist. Check the path (on Colab, upload the file first).", path=path)
        )
    return path


def to_rgb(image):
    """Any PIL image as 8-bit RGB; transparent pixels become the policy's background (white)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        array = np.asarray(image, dtype=np.float64)
        if image.mode == "F":
            scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        else:
            scale = 255.0 / 65535.0  # 16-bit samples (PNG 16-bit grayscale opens as I or I;16)
        gray = np.clip(array * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if (image.mode == "P" and "transparency" in image.info) or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*IMAGE_POLICY["background"], 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def prepare_image(image, height: int, width: int):
    """Resize (keeping the aspect ratio) and centre-crop to exactly width x height, in one resampling step.

    Raises ImageError if covering the target would need more than `max_upscale` (2x) upscaling, i.e. the
    image, after cropping to the target's aspect ratio, is less than half the target's height.
    """
    if image.mode != "RGB":
        image = to_rgb(image)
    source_width, source_height = image.size
    scale = max(width / source_width, height / source_height)  # the scale at which the image covers the target
    if scale > IMAGE_POLICY["max_upscale"]:
        smallest = (math.ceil(width / IMAGE_POLICY["max_upscale"]), math.ceil(height / IMAGE_POLICY["max_upscale"]))
        raise ImageError(
            Localized(
                "The image is {source_width}x{source_height} (width x height); covering {width}x{height} would upscale "
                "it {scale:.1f}x, more than the {most:g}x allowed (source: {source}: upscaling invents blur that SVD "
                "then animates). Use an image of at least {smallest_width}x{smallest_height} pixels.",
                source_width=source_width,
                source_height=source_height,
                width=width,
                height=height,
                scale=scale,
                most=IMAGE_POLICY["max_upscale"],
                source=RULE_SOURCES["course"],
                smallest_width=smallest[0],
                smallest_height=smallest[1],
            )
        )
    # The centred region of the source with the target's aspect ratio, resized straight to the target.
    crop_width, crop_height = width / scale, height / scale
    left, top = max(0.0, (source_width - crop_width) / 2), max(0.0, (source_height - crop_height) / 2)
    box = (left, top, min(source_width, left + crop_width), min(source_height, top + crop_height))  # no float overshoot
    return image.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


# ----------------------------------------------------------------------------------------------------
# The conditioning inspector.


@dataclass
class ConditioningCapture:
    """What the UNet received during one real pipeline call (tensors on the CPU, float32).

    The UNet batch is [unconditional half, conditional half] when classifier-free guidance is on
    (max_guidance_scale > 1), else just the conditional half. Captured at the first denoising step.
    """

    params: GenerationParameters
    classifier_free_guidance: bool
    added_time_ids: Any  # (batch, 3): [fps - 1, motion_bucket_id, noise_aug_strength] per row, as the UNet got it
    time_id_embedding: Any  # (batch, 3 * addition_time_embed_dim): the sinusoidal embedding of those three numbers
    guidance_scale: Any  # (num_frames,): the pipeline's per-frame guidance scales (pipe.guidance_scale)
    applied_guidance: Any  # (num_frames,): the scale measured from how the two halves' predictions were combined
    unet_sample: Any  # (batch, num_frames, 8, height/8, width/8): 4 noisy latent channels + 4 image latent channels
    image_embeddings: Any  # (batch, 1, dim): CLIP image embeddings (encoder_hidden_states)
    clean_image: Any  # (1, 3, height, width) in [-1, 1]: the image after the pipeline's resizing
    vae_input: Any  # (1, 3, height, width): what the VAE encoder received
    unet_calls: int  # UNet forward passes in the whole call (one per step)
    vae_decoder_calls: int  # VAE decoder passes (one per decode chunk; 0 with output_type="latent")
    frames: Any = None  # the pipeline's output

    @property
    def added_noise(self):
        """The noise the pipeline added to the conditioning image: noise_aug_strength x randn."""
        return self.vae_input - self.clean_image

    @property
    def noisy_latents(self):
        return self.unet_sample[:, :, :4]

    @property
    def image_latents(self):
        return self.unet_sample[:, :, 4:]

    def half(self, tensor, conditional: bool):
        """The unconditional (first) or conditional (second) half of a batched tensor."""
        if not self.classifier_free_guidance:
            if not conditional:
                raise ValueError("Guidance is off (max_guidance_scale <= 1): there is no unconditional half.")
            return tensor
        return tensor.chunk(2)[1 if conditional else 0]


def inspect_conditioning(pipe, image, params: GenerationParameters, output_type: str = "latent") -> ConditioningCapture:
    """Run `pipe(image, **params.pipeline_kwargs())` once, with hooks, and return what the UNet received.

    Hooks (all removed afterwards): the UNet's inputs and output and its `add_time_proj` (the embedding of
    the added time ids) at the first step, the VAE encoder's input, the VAE decoder's call count, and the
    scheduler's `step` (which receives the guided prediction, so the applied guidance can be measured).
    output_type="latent" skips decoding (fast); pass "pil" or "np" to also get frames.
    """
    import torch

    seen: dict[str, Any] = {"unet_calls": 0, "decoder_calls": 0}
    with _conditioning_hooks(pipe, seen):
        frames = pipe(
            image,
            **params.pipeline_kwargs(),
            generator=torch.Generator("cpu").manual_seed(params.seed),
            output_type=output_type,
        ).frames

    guidance = pipe.guidance_scale[0].flatten().float().cpu()  # (batch, frames, 1, 1, 1) after the call
    cfg = bool(params.max_guidance_scale > 1)
    batch = seen["added_time_ids"].shape[0]
    clean = pipe.video_processor.preprocess(image, height=params.height, width=params.width).float().cpu()
    return ConditioningCapture(
        params=params,
        classifier_free_guidance=cfg,
        added_time_ids=seen["added_time_ids"],
        time_id_embedding=seen["time_proj"].reshape(batch, -1),
        guidance_scale=guidance,
        applied_guidance=_applied_guidance(seen["unet_output"], seen["guided_output"])
        if cfg
        else torch.ones(len(guidance)),
        unet_sample=seen["sample"],
        image_embeddings=seen["encoder_hidden_states"],
        clean_image=clean,
        vae_input=seen["vae_input"],
        unet_calls=seen["unet_calls"],
        vae_decoder_calls=seen["decoder_calls"],
        frames=frames,
    )


@contextmanager
def _conditioning_hooks(pipe, seen: dict[str, Any]):
    """While active, fill `seen` with what the networks receive (the first step's tensors, on the CPU in float32)
    and count the UNet and VAE decoder calls."""

    def first(key, value):
        if key not in seen:
            seen[key] = value.detach().float().cpu().clone()

    def unet_inputs(module, args, kwargs):
        seen["unet_calls"] += 1
        first("sample", args[0] if args else kwargs["sample"])
        first(
            "encoder_hidden_states", kwargs["encoder_hidden_states"] if "encoder_hidden_states" in kwargs else args[2]
        )
        first("added_time_ids", kwargs["added_time_ids"] if "added_time_ids" in kwargs else args[3])

    def unet_output(module, args, kwargs, output):
        first("unet_output", output[0] if isinstance(output, tuple) else output.sample)

    def decoder_call(module, args):
        seen["decoder_calls"] += 1

    scheduler = pipe.scheduler
    original_step = scheduler.step

    def step(model_output, *args, **kwargs):
        first("guided_output", model_output)
        return original_step(model_output, *args, **kwargs)

    handles = [
        pipe.unet.register_forward_pre_hook(unet_inputs, with_kwargs=True),
        pipe.unet.register_forward_hook(unet_output, with_kwargs=True),
        pipe.unet.add_time_proj.register_forward_hook(lambda m, a, out: first("time_proj", out)),
        pipe.vae.encoder.register_forward_pre_hook(lambda m, args: first("vae_input", args[0])),
        pipe.vae.decoder.register_forward_pre_hook(decoder_call),
    ]
    scheduler.step = step  # an instance attribute shadows the method; deleted below
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()
        del scheduler.step


def _applied_guidance(unet_output, guided):
    """Per frame, the s in guided = uncond + s * (cond - uncond), by least squares (first video of the batch)."""
    uncond, cond = unet_output.chunk(2)
    difference, pushed = (cond - uncond)[0], (guided - uncond)[0]  # (frames, channels, h, w)
    return (pushed * difference).sum(dim=(1, 2, 3)) / (difference * difference).sum(dim=(1, 2, 3))


def plot_conditioning(capture: ConditioningCapture):
    """Two panels: the guidance scale per frame (set and measured), and the conditioning vector the UNet adds
    to its timestep embedding (the sinusoidal embedding of fps-1, motion bucket and noise strength)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
    frames = range(len(capture.guidance_scale))
    left.plot(frames, capture.guidance_scale.numpy(), "-", color="tab:blue", label="pipe.guidance_scale (set)")
    left.plot(
        frames,
        capture.applied_guidance.numpy(),
        "o",
        color="tab:orange",
        markersize=4,
        label="measured in the UNet outputs",
    )
    left.set_xlabel("frame")
    left.set_ylabel("guidance scale")
    left.set_title(
        f"Guidance per frame: linspace({capture.params.min_guidance_scale:g}, {capture.params.max_guidance_scale:g}, {capture.params.num_frames})"
    )
    left.legend(loc="upper left")

    row = capture.half(capture.time_id_embedding, conditional=True)[0].numpy()
    ids = capture.half(capture.added_time_ids, conditional=True)[0].tolist()
    third = len(row) // 3
    names = ("fps - 1", "motion_bucket_id", "noise_aug_strength")
    for i, (name, value, color) in enumerate(zip(names, ids, ("tab:green", "tab:purple", "tab:red"))):
        xs = range(i * third, (i + 1) * third)
        right.plot(xs, row[i * third : (i + 1) * third], color=color, label=f"{name} = {value:g}")
    right.set_xlabel("embedding dimension")
    right.set_title(f"Conditioning vector: 3 numbers x {third} sinusoidal dims = {len(row)}")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# Sweeps: one parameter changed, everything else (seed included) fixed.


def sweep(pipe, image, params: GenerationParameters, name: str, values) -> dict:
    """{value: frames of the first video} for `pipe(image, ...)` with `name` set to each value."""
    import torch

    if name not in {f.name for f in fields(GenerationParameters)}:
        raise ValueError(
            f"{name!r} is not a generation parameter. Parameters: {', '.join(f.name for f in fields(GenerationParameters))}."
        )
    videos = {}
    for value in values:
        changed = replace(params, **{name: value})
        changed.validate()
        videos[value] = pipe(
            image, **changed.pipeline_kwargs(), generator=torch.Generator("cpu").manual_seed(changed.seed)
        ).frames[0]
    return videos


def motion_score(frames) -> float:
    """Mean absolute change between consecutive frames, in 0..255 pixel units: 0 for a still video."""
    stack = np.stack([np.asarray(frame, dtype=np.float32) for frame in frames])
    return float(np.abs(np.diff(stack, axis=0)).mean())


def plot_frame_grid(videos: dict, columns: int = 5, title: str = ""):
    """One row per video ({label: list of frames}), `columns` frames evenly spaced from first to last."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(videos), columns, figsize=(2.6 * columns, 1.7 * len(videos)), squeeze=False)
    for row, (label, frames) in zip(axes, videos.items()):
        picks = np.linspace(0, len(frames) - 1, columns).round().astype(int)
        for ax, index in zip(row, picks):
            ax.imshow(frames[index])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"frame {index}", fontsize=8)
        row[0].set_ylabel(str(label), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
