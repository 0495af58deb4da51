"""Lesson 1: what a Stable Video Diffusion pipeline is made of, and where the course's weights come from.

A diffusers pipeline on disk is a folder: `model_index.json` names each component's (library, class),
and each component has a subfolder with its config and, for models, its weights. This module knows the
three real checkpoints (checkpoints.py, from data/checkpoints.toml), ships their real configs (data/svd-xt-config/), and
writes pipeline folders in that exact layout from three sources:

- tiny: the real classes with tiny random weights, built in seconds on a CPU (CI, lessons without a GPU);
- random: the real full-size architecture with random fp16 weights (memory and speed checks on a GPU);
- pretrained: the real weights, downloaded from the Hub by diffusers itself.

`load_pipeline` is the one way every lesson and the capstone load a pipeline. For the capstone,
`resolve_model` turns --model and --source into a `ModelChoice` (nothing built or downloaded),
`with_weights` builds tiny or random weights once, and `load_chosen` loads them, turning the Hub's
errors into advice (`hub_advice`).

torch, diffusers, transformers and huggingface_hub are imported inside the functions that build, load or explain
(they take seconds to import): choosing the weights (`check_model`, `resolve_model`), what `svd-learn` does before
it refuses a bad argument, needs none of them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock  # huggingface_hub's own dependency: one builder at a time
from packaging.version import Version

from svd_learn import environment
from svd_learn.checkpoints import (
    CHECKPOINTS,
    DATA,
    DEFAULT_CHECKPOINT,
    FULL_SIZE_ON_CPU,
    TINY_SIZE,
    Checkpoint,
    checkpoint_for_repo,
    get_checkpoint,
)
from svd_learn.environment import check_source, course_home
from svd_learn.errors import UserError
from svd_learn.language import Localized
from svd_learn.quiet import quiet_libraries

if TYPE_CHECKING:
    import torch

SAMPLE_IMAGE = Path(str(DATA / "rocket.jpg"))  # the course's sample input (public domain; data/ATTRIBUTION.md)

# The names of a StableVideoDiffusionPipeline's components, in the order diffusers offloads them.
MODEL_COMPONENTS = ("image_encoder", "unet", "vae")
CONFIG_FILES = {
    "unet": "unet.config.json",
    "vae": "vae.config.json",
    "image_encoder": "image_encoder.config.json",
    "scheduler": "scheduler.scheduler_config.json",
    "feature_extractor": "feature_extractor.preprocessor_config.json",
}


# ----------------------------------------------------------------------------------------------------
# Configs: the real ones (package data) and tiny ones derived from them.


def real_configs(checkpoint: str = DEFAULT_CHECKPOINT) -> dict[str, dict]:
    """The real component configs of `checkpoint`, as on the Hub (svd differs from svd-xt only in frames)."""
    folder = DATA / "svd-xt-config"
    configs = {name: json.loads((folder / file).read_text()) for name, file in CONFIG_FILES.items()}
    configs["unet"]["num_frames"] = get_checkpoint(checkpoint).num_frames
    return configs


def tiny_configs(checkpoint: str = DEFAULT_CHECKPOINT) -> dict[str, dict]:
    """Configs of the same classes, shrunk to run in seconds on a CPU (after diffusers' own SVD tests).

    Everything a lesson measures keeps its real meaning: 8 input channels (4 noisy + 4 image latents),
    3 added time ids, the real scheduler, the real CLIP preprocessing (224x224 input).
    """
    configs = real_configs(checkpoint)
    configs["unet"].update(
        block_out_channels=[32, 64],
        down_block_types=["CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"],
        up_block_types=["UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"],
        layers_per_block=1,
        cross_attention_dim=32,
        num_attention_heads=[2, 4],
        addition_time_embed_dim=32,
        projection_class_embeddings_input_dim=96,  # 3 added time ids x 32
        sample_size=TINY_SIZE[0] // 8,
    )
    configs["vae"].update(
        block_out_channels=[32, 32, 32, 64],  # 4 blocks, like the real VAE: latents are 1/8 of the image
        down_block_types=["DownEncoderBlock2D"] * 4,
        layers_per_block=1,
        sample_size=TINY_SIZE[0],
    )
    configs["image_encoder"].update(
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        patch_size=32,  # the pipeline always feeds CLIP 224x224 images: 7x7 patches
        projection_dim=32,  # = the unet's cross_attention_dim
    )
    return configs


def _model_config(config: dict) -> dict:
    """A config without the bookkeeping keys that `save_pretrained` writes itself."""
    return {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures", "torch_dtype")}


# ----------------------------------------------------------------------------------------------------
# Building components and pipeline folders.


def build_components(configs: dict[str, dict], seed: int = 0, device: str | torch.device = "cpu") -> dict:
    """The five components of a StableVideoDiffusionPipeline from configs, with random weights.

    On device="meta" nothing is allocated: that is how the course counts the real model's parameters
    on any machine.
    """
    import torch
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNetSpatioTemporalConditionModel.from_config(_model_config(configs["unet"]))
        vae = AutoencoderKLTemporalDecoder.from_config(_model_config(configs["vae"]))
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**_model_config(configs["image_encoder"])))
    return {
        "unet": unet,
        "vae": vae,
        "image_encoder": image_encoder,
        "scheduler": EulerDiscreteScheduler.from_config(_model_config(configs["scheduler"])),
        "feature_extractor": CLIPImageProcessor(**_model_config(configs["feature_extractor"])),
    }


def full_size_architecture(checkpoint: str = DEFAULT_CHECKPOINT) -> dict:
    """The real architecture of `checkpoint` on the meta device: real shapes, no memory, no download."""
    return build_components(real_configs(checkpoint), device="meta")


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def write_pipeline_folder(components: dict, folder: str | Path, fp32: bool = True, fp16: bool = True) -> Path:
    """Save components as a Hub-layout pipeline folder: model_index.json, one subfolder per component,
    `*.safetensors` (fp32) and/or `*.fp16.safetensors` (the fp16 variant) weight files."""
    import torch
    from diffusers import StableVideoDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    folder = Path(folder)
    pipe = StableVideoDiffusionPipeline(**components)
    verbosity = diffusers_logging.get_verbosity()
    bars_were_on = transformers_logging.is_progress_bar_enabled()  # off in a session (quiet_libraries): stays off
    diffusers_logging.set_verbosity_error()  # casting a model we just built is fine; diffusers warns anyway
    transformers_logging.disable_progress_bar()  # one "Writing model shards" bar per tiny file is noise
    try:
        if fp32:
            pipe.to(torch.float32).save_pretrained(folder)
        if fp16:
            pipe.to(torch.float16).save_pretrained(folder, variant="fp16")
    finally:
        diffusers_logging.set_verbosity(verbosity)
        if bars_were_on:
            transformers_logging.enable_progress_bar()
    # Name the classes exactly as the Hub repo does. (transformers without torchvision substitutes
    # CLIPImageProcessorPil for CLIPImageProcessor and would write that name into the index.)
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    real_index = json.loads((DATA / "svd-xt-config" / "model_index.json").read_text())
    index.update({name: real_index[name] for name in CONFIG_FILES})
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return folder


def build_tiny_pipeline(folder: str | Path, checkpoint: str = DEFAULT_CHECKPOINT, seed: int = 0) -> Path:
    """Write a pipeline folder with the real classes and tiny random weights (about a second on a CPU)."""
    return write_pipeline_folder(build_components(tiny_configs(checkpoint), seed=seed), folder)


def build_full_size_random_pipeline(
    folder: str | Path, checkpoint: str = DEFAULT_CHECKPOINT, seed: int = 0, weight_scale: float = 0.5
) -> Path:
    """Write the real full-size architecture with random fp16 weights (fp16 variant files only).

    Same memory and speed as the real model, without a download. Weight matrices are scaled by
    `weight_scale` so that fp16 activations of random weights stay finite. Needs about 9 GB of host RAM.
    """
    import torch

    components = build_components(real_configs(checkpoint), seed=seed)
    with torch.no_grad():
        for name in MODEL_COMPONENTS:
            for parameter in components[name].parameters():
                if parameter.ndim >= 2:
                    parameter.mul_(weight_scale)
    return write_pipeline_folder(components, folder, fp32=False, fp16=True)


def tiny_pipeline_folder(checkpoint: str = DEFAULT_CHECKPOINT, on_build=None) -> Path:
    """The tiny pipeline folder for `checkpoint`, built once and reused (the build is deterministic).
    `on_build()` is called before a build, never when the folder is reused."""
    import diffusers

    folder = course_home() / f"tiny-{checkpoint}-diffusers-{diffusers.__version__}"
    return _build_once(folder, lambda partial: build_tiny_pipeline(partial, checkpoint), on_build)


def random_pipeline_folder(checkpoint: str = DEFAULT_CHECKPOINT, on_build=None) -> Path:
    """The full-size random pipeline folder for `checkpoint`, built once (minutes, about 9 GB of host RAM), in a
    process of its own (`in_own_process`)."""
    folder = course_home() / f"random-{checkpoint}"
    return _build_once(
        folder, lambda partial: in_own_process(build_full_size_random_pipeline, partial, checkpoint), on_build
    )


def _build_once(folder: Path, build, on_build=None) -> Path:
    """Build a pipeline folder unless it exists; build beside it and rename, so that a crash never leaves half a
    model, and a failed or interrupted build leaves nothing."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / "model_index.json").exists():
            if on_build is not None:
                on_build()
            partial = folder.with_name(folder.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            try:
                build(partial)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            shutil.rmtree(folder, ignore_errors=True)
            partial.replace(folder)
    return folder


def in_own_process(function, *args) -> None:
    """Run `function(*args)` in a fresh process and wait for it. Ctrl-C stops it at once: this process only waits,
    where a long write inside a library (gigabytes of safetensors) would hold the interrupt until it returns; the
    child ignores Ctrl-C and is killed. The memory it used goes back to the system when it ends."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_child, args=(function, *args))
    child.start()
    try:
        child.join()
    except BaseException:
        child.kill()
        child.join()
        raise
    if child.exitcode < 0:  # killed: the kernel's out-of-memory killer sends SIGKILL
        raise ModelError(
            Localized(
                "Building the weights was stopped by {signal}: if the machine ran out of memory, close other programs "
                "(full-size weights on a CPU need about {ram:g} GB of RAM).",
                signal=signal.Signals(-child.exitcode).name,
                ram=FULL_SIZE_ON_CPU["host_ram_gb"],
            )
        )
    if child.exitcode != 0:
        raise RuntimeError(f"{function.__name__} failed in its own process (its traceback is above).")


def _child(function, *args) -> None:
    """In the child: Ctrl-C left to the parent (which ends this process), the libraries as quiet as there."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_libraries()
    function(*args)


def pipeline_location(source: str, checkpoint: str = DEFAULT_CHECKPOINT, on_build=None) -> str:
    """What to pass to `from_pretrained` for `checkpoint` from a model source (see svd_learn.environment):
    a local folder for tiny and random (built on first use: `on_build()` is called first), the Hub repo id for pretrained."""
    if source == "tiny":
        return str(tiny_pipeline_folder(checkpoint, on_build))
    if source == "random":
        return str(random_pipeline_folder(checkpoint, on_build))
    check_source(source, f"source {source}")
    return get_checkpoint(checkpoint).repo_id


# ----------------------------------------------------------------------------------------------------
# Loading.


def dtype_keyword() -> str:
    """`dtype` for diffusers >= 0.40, `torch_dtype` before (the old name still works there, with a warning)."""
    import diffusers

    return "dtype" if Version(diffusers.__version__).release >= (0, 40) else "torch_dtype"


def default_dtype(device: str | torch.device) -> torch.dtype:
    """fp16 on a GPU (a T4 has no usable bf16), fp32 on a CPU (fp16 convolutions there are slow or missing)."""
    import torch

    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def load_pipeline(name_or_path: str | Path, *, device: str | None = None, dtype: torch.dtype | None = None, **kwargs):
    """Load an SVD pipeline from a Hub repo id or a local folder: fp16 variant files, safetensors only.

    `device` defaults to "cuda" when there is a GPU, else "cpu"; the pipeline is NOT moved there (memory
    plans decide placement). `dtype` defaults to `default_dtype(device)`. Extra keyword arguments go
    to `from_pretrained` (revision=, local_files_only=, token=...).
    """
    import torch
    from diffusers import StableVideoDiffusionPipeline

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    kwargs.setdefault("variant", "fp16")
    kwargs.setdefault("use_safetensors", True)
    kwargs[dtype_keyword()] = dtype or default_dtype(device)
    return StableVideoDiffusionPipeline.from_pretrained(str(name_or_path), **kwargs)


def describe_components(pipe) -> list[dict]:
    """One row per component: class, library, parameters, dtype, device and bytes of weights."""
    import torch

    rows = []
    for name, component in pipe.components.items():
        row = {
            "component": name,
            "class": type(component).__name__,
            "library": type(component).__module__.split(".")[0],
        }
        if isinstance(component, torch.nn.Module):
            parameters = list(component.parameters())
            row.update(
                parameters=sum(p.numel() for p in parameters),
                dtype=str(parameters[0].dtype).removeprefix("torch."),
                device=str(parameters[0].device),
                bytes=sum(p.numel() * p.element_size() for p in parameters),
            )
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------------
# Which weights: a model name, Hub id or folder, and a source; loaded with errors that say what to do.


class ModelError(UserError, RuntimeError):
    """Weights that cannot be had as asked (unknown model or source, gated, not on the Hub); the message says what to do."""


class HubUnreachable(ModelError):
    """The weights are not cached and the Hub cannot be reached (no network, or HF_HUB_OFFLINE=1)."""


# ----------------------------------------------------------------------------------------------------
# Which weights: a model name, Hub id or folder, and a source.


@dataclass(frozen=True)
class ModelChoice:
    location: str  # what from_pretrained reads: a folder or a Hub repo id ("" for tiny/random until with_weights)
    source: str  # tiny, random, pretrained, or folder (a local folder the user named)
    checkpoint: Checkpoint  # the checkpoint whose presets apply (svd-xt for unknown repos and folders)
    explicit: bool  # the user named the model or the source (--model, --source, $SVD_LEARN_SOURCE): never fall back
    reason: str


def choose_model(
    model: str | None = None, source: str | None = None, say: Callable[[str], None] = print
) -> ModelChoice:
    """`resolve_model`, then `with_weights`: the choice with its weights ready to load."""
    return with_weights(resolve_model(model, source), say)


def check_model(model: str | None = None, source: str | None = None) -> Checkpoint | Path | None:
    """What `--model` names, refused now if no weights can match it and `--source` (both as `resolve_model` takes
    them): a local pipeline folder (its Path), one of the course's checkpoints by name or Hub repo id (its
    Checkpoint), or None: another Hub repo id, which has only pretrained weights. Needs nothing of the machine:
    `svd-learn` calls it before importing torch. Raises ModelError."""
    source = named_source(source)
    model = model or DEFAULT_CHECKPOINT
    if Path(model).expanduser().is_dir():
        folder = Path(model).expanduser()
        if not (folder / "model_index.json").exists():
            raise ModelError(
                Localized("{folder} is a folder but not a diffusers pipeline (no model_index.json).", folder=folder)
            )
        return folder
    checkpoint = CHECKPOINTS.get(model) or checkpoint_for_repo(model)
    if checkpoint is None:  # a Hub repo the course does not know: only its real weights exist
        if "/" not in model:
            raise ModelError(
                Localized(
                    "{model!r} is not one of the course's checkpoints ({checkpoints}), a Hub repo id (owner/name) nor "
                    "an existing folder.",
                    model=model,
                    checkpoints=", ".join(CHECKPOINTS),
                )
            )
        if source not in (None, "pretrained"):
            raise ModelError(
                Localized(
                    "{model!r} is not one of the course's checkpoints ({checkpoints}), so there are no {source} "
                    "weights for it. Use --source pretrained, or --model svd-xt.",
                    model=model,
                    checkpoints=", ".join(CHECKPOINTS),
                    source=source,
                )
            )
    return checkpoint


def named_source(source: str | None) -> str | None:
    """The source the user named: --source, else $SVD_LEARN_SOURCE, else None (the machine decides). ModelError
    if it is not a source."""
    try:
        if source is not None:
            return check_source(source, f"--source {source}")
        requested = os.environ.get(environment.SOURCE_VARIABLE, "").strip().lower()
        return check_source(requested, f"{environment.SOURCE_VARIABLE}={requested}") if requested else None
    except ValueError as error:
        raise ModelError(error.args[0]) from None


def resolve_model(model: str | None = None, source: str | None = None) -> ModelChoice:
    """Resolve `--model` (checkpoint name, Hub repo id or local folder; default svd-xt) and `--source`, without
    building or downloading anything, so that every input can be checked first.

    Without --source, $SVD_LEARN_SOURCE decides, else: a Hub repo id's weights are the Hub's (pretrained: a repo
    named is never replaced by random weights), and a checkpoint name's are pretrained with a CUDA GPU, tiny without.
    """
    named = check_model(model, source)
    if isinstance(named, Path):
        folder = Localized("a local pipeline folder")
        return ModelChoice(str(named), "folder", _checkpoint_of_folder(named), True, folder)
    if named is None:
        return ModelChoice(model, "pretrained", get_checkpoint(DEFAULT_CHECKPOINT), True, Localized("a Hub repo id"))
    requested = named_source(source)
    if source is not None:
        chosen, reason = source, Localized("asked for with --source")
    elif requested is not None:
        chosen, reason = requested, Localized("set by {variable}", variable=environment.SOURCE_VARIABLE)
    elif model is not None and "/" in model:
        chosen, reason = "pretrained", Localized("a Hub repo id: its weights are on the Hub")
    else:
        choice = environment.choose_source()
        chosen, reason = choice.name, choice.reason
    explicit = model is not None or requested is not None
    location = named.repo_id if chosen == "pretrained" else ""
    return ModelChoice(location, chosen, named, explicit, reason)


def with_weights(choice: ModelChoice, say: Callable[[str], None] = print) -> ModelChoice:
    """The choice with a location to load: tiny and random weights are built on first use (and said so), then reused."""
    if choice.source not in ("tiny", "random") or choice.location:
        return choice
    name = choice.checkpoint.name
    location = pipeline_location(
        choice.source,
        name,
        on_build=lambda: say(
            Localized(
                "building {source} weights for {name} (once; later runs reuse them) ...",
                source=choice.source,
                name=name,
            )
        ),
    )
    return replace(choice, location=location)


def _checkpoint_of_folder(folder: Path) -> Checkpoint:
    """The checkpoint whose presets fit a local folder: by its UNet's trained frame count."""
    try:
        frames = json.loads((folder / "unet" / "config.json").read_text()).get("num_frames")
    except (OSError, ValueError):
        frames = None
    return get_checkpoint("svd" if frames == 14 else DEFAULT_CHECKPOINT)


# ----------------------------------------------------------------------------------------------------
# Loading, with errors that say what to do.


def load_chosen(choice: ModelChoice, device: str):
    """Load the chosen pipeline (fp16 variant, safetensors only), translating Hub errors into advice."""
    try:
        return load_pipeline(choice.location, device=device)
    except Exception as error:  # noqa: BLE001 -- we translate what we recognise and re-raise the rest
        advice = hub_advice(error, choice.location)
        if advice is None:
            raise
        raise advice from error


def hub_advice(error: BaseException, repo_id: str) -> ModelError | None:
    """A short what-to-do for the Hub errors a user meets (looking down the chain diffusers wraps them in)."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    page = f"https://huggingface.co/{repo_id}"
    for cause in _chain(error):
        if isinstance(cause, GatedRepoError):
            return ModelError(
                Localized(
                    "{repo} is gated: accept its license at {page} while logged in, then give this machine a token: "
                    "`hf auth login` (or set HF_TOKEN; on Colab, add HF_TOKEN under Secrets). Or use --model svd-xt, "
                    "which is not gated.",
                    repo=repo_id,
                    page=page,
                )
            )
        if isinstance(cause, RepositoryNotFoundError):
            return ModelError(
                Localized(
                    "{repo} was not found on the Hub (or is private): check the spelling at {page}.",
                    repo=repo_id,
                    page=page,
                )
            )
        if isinstance(cause, (LocalEntryNotFoundError, OfflineModeIsEnabled)) or _is_connection_error(cause):
            return HubUnreachable(
                Localized(
                    "Cannot download {repo}: the Hub is unreachable (or HF_HUB_OFFLINE=1) and it is not in the cache. "
                    "Connect to the internet and run again (the download is about 4.5 GB, once), or run without a "
                    "download: --source tiny (seconds, noise) or --source random (full size, noise).",
                    repo=repo_id,
                )
            )
    return None


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _is_connection_error(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"ConnectionError", "ConnectError", "NetworkError", "ConnectTimeout", "TimeoutException"})
