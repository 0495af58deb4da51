# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 5 (capstone): one image in, one SVD-XT video out, on a free T4
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/05_capstone.ipynb)
#
# **What you will learn.** First, the plain diffusers recipe for a T4, from the end of lesson 4, with lesson
# 2's motion settings: you run it. Then how the four lessons harden it into one program that does not fall
# over. That program checks its inputs and outputs before it spends GPU time. It picks a memory plan that
# fits the GPU it finds. It recovers from running out of GPU memory. It writes a video every browser plays,
# never leaves half a file behind, and records what it did. You will run it, then take each decision apart.

# %% [markdown]
# **The idea.** The recipe is a few diffusers calls. `svd_learn.generate.generate_video` is the same recipe
# with the checks around it, and `svd-learn generate IMAGE -o OUT.mp4` is that function on the command line.
# Its steps, in order:
#
# 1. check the outputs (refuse to overwrite; create a missing folder);
# 2. load the image (lesson 2): upright, RGB, resized and centre-cropped to the model's size;
# 3. parameters from the model card (lesson 2), validated;
# 4. look at the machine and choose a memory plan (lesson 4);
# 5. load the pipeline (lesson 1; the Hub and its errors, lesson 3), apply the plan, denoise, decode;
#    on CUDA out-of-memory, free everything and take the next plan down;
# 6. write the mp4 (and a GIF) under a temporary name, then rename it into place;
# 7. write a JSON report beside the video.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
LANGUAGE = "en"  # the language of svd-learn's messages: "en" or "es" (the Spanish edition says "es")
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn import language, lesson_work, memory

language.use(LANGUAGE)  # every message below, and those of the commands this notebook runs

# Must run before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (lesson 4, 2.6).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("05_capstone"))

# %% [markdown]
# **Optional, on Colab: keep the weights on Google Drive** (lesson 1 explains it). With
# `KEEP_WEIGHTS_ON_DRIVE = True` the cell mounts your Drive and keeps the Hugging Face cache there. A lesson
# that already downloaded the weights to your Drive then saves you the 4.2 GiB download. Run it right after the
# setup cell. Outside Colab it does nothing.

# %%
from svd_learn.environment import keep_hub_cache_on_drive

KEEP_WEIGHTS_ON_DRIVE = False  # True: keep the Hub cache on your Google Drive (Colab only)
print(keep_hub_cache_on_drive(KEEP_WEIGHTS_ON_DRIVE))

# %% [markdown]
# On Colab with a T4 the source is **pretrained**. The recipe downloads SVD-XT once (4.2 GiB) and makes a
# real video of 25 frames in 25 steps: the lesson's one full video. Then `generate_video` makes a short one
# (14 frames, 5 steps) from the cache, to show what it adds. Without a GPU the source is **tiny**: the same
# code runs with tiny random weights, at 1/8 of the real size, and **the frames are noise**. On a CPU the recipe
# takes 2 steps instead of 25: a CPU is slow. Everything else (checks, plan, fallbacks, file, report) is the same.
#
# ## 0. The plain recipe
#
# These are the lines of lesson 4, section 6, with lesson 2's motion settings spelled out. **Your own photo:** on
# Colab, set `UPLOAD_MY_PHOTO = True` below and pick one (landscape, at least 1024x576 is best). Otherwise
# the recipe animates the sample photo.

# %%
from pathlib import Path

from svd_learn import models

UPLOAD_MY_PHOTO = False  # True on Colab: choose a photo from your computer
photo_path = models.SAMPLE_IMAGE
if UPLOAD_MY_PHOTO and "google.colab" in sys.modules:
    from google.colab import files

    uploaded = files.upload()  # a file chooser appears below the cell
    photo_path = Path(next(iter(uploaded))) if uploaded else photo_path
print("photo:", photo_path.name)

# %% [markdown]
# Only three things come from the course: where the weights are (`location`: the Hub repo id on Colab, a
# local folder on tiny weights), the size (576x1024 for the real model), and the device. The recipe is the
# planner's choice for a T4 (lesson 4): the cell checks that it still is. How long the video takes on a T4
# (an estimate; the download comes on top):

# %%
from svd_learn import planner, t4

t4_recipe = planner.choose_plan(memory.T4_GIB, 12.7).plan
print(f"the planner's T4 choice: {t4_recipe.name} ({t4_recipe.description})")
assert t4_recipe.placement == "gpu" and not t4_recipe.forward_chunking and t4_recipe.decode_chunk_size == 2  # the lines below
print("one video of 25 steps:", t4.describe_estimate(unet_steps=25))

# %%
import os

os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"  # before CUDA starts: PyTorch reads it once

import tempfile

import torch
from diffusers import StableVideoDiffusionPipeline
from diffusers.utils import export_to_video, load_image
from PIL import ImageOps

location = models.pipeline_location(source.name, "svd-xt")  # "stabilityai/stable-video-diffusion-img2vid-xt" on Colab
height, width = models.TINY_SIZE if source.name == "tiny" else (576, 1024)
device, steps = ("cuda", 25) if torch.cuda.is_available() else ("cpu", 2)
work = Path(tempfile.mkdtemp())

if device == "cuda":
    pipe = StableVideoDiffusionPipeline.from_pretrained(location, torch_dtype=torch.float16, variant="fp16")
else:  # not on Colab: a CPU computes fp16 slowly, so the harness loads the same files in fp32
    pipe = StableVideoDiffusionPipeline.from_pretrained(location, torch_dtype=torch.float32, variant="fp16")
pipe.to(device)
image = ImageOps.fit(load_image(str(photo_path)), (width, height))  # scale to cover 1024x576, crop the centre (lesson 2)
frames = pipe(
    image,
    height=height,
    width=width,
    num_inference_steps=steps,
    motion_bucket_id=127,  # more motion: 180 first, up to 255 (lesson 2, section 7)
    noise_aug_strength=0.02,  # still too still: 0.1
    fps=7,
    min_guidance_scale=1.0,
    max_guidance_scale=3.0,
    decode_chunk_size=2,
    generator=torch.manual_seed(42),
).frames[0]
export_to_video(frames, str(work / "recipe.mp4"), fps=7)
print(f"{len(frames)} frames of {frames[0].size[0]}x{frames[0].size[1]} in {work / 'recipe.mp4'}")
assert len(frames) == models.get_checkpoint("svd-xt").num_frames and frames[0].size == (width, height)

# %% [markdown]
# That is a video. In your own notebook, put the `PYTORCH_CUDA_ALLOC_CONF` line first: PyTorch reads it
# once, when CUDA starts. Here the setup cell set it already, before `print_header()` asked the GPU for its
# name (that starts CUDA). On a GPU the pipeline is fp16; a CPU computes in fp32 (tiny weights here), and
# imageio pads their 128x72 to a multiple of 16 with a warning. 1024x576 needs no padding: on Colab you see none.

# %% [markdown]
# Two things are worth a second look:
# - `ImageOps.fit` crops your photo to 16:9; a plain `.resize((1024, 576))` would stretch it. The sample photo
#   is 640x427, so it is also enlarged 1.6 times. Enlarging invents no detail: the video is softer than one
#   from a large photo.
# - The pipeline stays in memory until you drop it. A second pipeline beside it would need another
#   4.2 GiB of GPU memory and of host RAM. So free it before the next section:

# %%
import gc

del pipe
gc.collect()
if torch.cuda.is_available():
    torch.cuda.empty_cache()
    print(f"GPU memory still allocated: {torch.cuda.memory_allocated() / 2**30:.2f} GiB")
    assert torch.cuda.memory_allocated() < 0.5 * 2**30

# %% [markdown]
# What the recipe does not do:
# - check that it can write the output before it spends minutes;
# - pick the settings for the GPU it finds, and recover from out-of-memory;
# - refuse a photo so small that the video would be blur;
# - write the file safely, and say what it did.
#
# `generate_video` adds exactly that.
#
# ## 1. The whole run, in one call
#
# The recipe made this lesson's full video. To stay within a Colab session, `generate_video` now makes a short
# one: 14 frames in 5 steps (it accepts every parameter of lesson 2 by name). The checks, the plan, the file and
# the report are the same at any length. The cell first prints how long it takes on a T4.

# %%
from svd_learn import generate
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

print("14 frames, 5 steps:", t4.describe_estimate(unet_steps=5, num_frames=14))

video_path = work / "videos" / "rocket.mp4"  # the folder does not exist yet: generate_video creates it
run = generate.generate_video(
    models.SAMPLE_IMAGE, video_path, GenerationParameters(seed=0, num_frames=14, num_inference_steps=5), RunSpec(gif=True)
)

# %% [markdown]
# Each line above is one step of the list. `run` is the report, also saved as JSON beside the video. The
# warning about `num_frames=14` is honest: SVD-XT was trained on 25. Nothing was downloaded a second time:
# `from_pretrained` found the recipe's files in the Hub cache. `huggingface_hub` can tell where a cached file is:

# %%
import huggingface_hub

cached = huggingface_hub.try_to_load_from_cache(models.get_checkpoint("svd-xt").repo_id, "model_index.json")
print("model_index.json in the Hub cache:", cached if isinstance(cached, str) else "no (tiny weights are a local folder)")
assert isinstance(cached, str) == (source.name == "pretrained")

# %% [markdown]
# Here is the frame grid: five frames from first to last. diffusers reads a video back with `load_video`
# (a list of PIL images) and lays images out with `make_image_grid`:

# %%
from diffusers.utils import load_video, make_image_grid
from IPython.display import Video, display

loaded = load_video(str(video_path))
display(make_image_grid(loaded[:: len(loaded) // 5][:5], rows=1, cols=5))
print(f"{len(loaded)} frames of {loaded[0].size[0]}x{loaded[0].size[1]}" + (" (random weights: noise is expected)" if run.random_weights else ""))

# %% [markdown]
# The course's `video.read_frames` reads the same frames, as arrays, and counts them against the report:

# %%
from svd_learn import video

frames = video.read_frames(video_path)
print(f"{len(frames)} frames, the report says {run.frames}")
assert len(frames) == run.frames == len(loaded) == 14

# %% [markdown]
# And the video itself, as a browser plays it:

# %%
Video(str(video_path), embed=True, width=min(run.width * 4, 768))

# %% [markdown]
# ## 2. The file: why it plays everywhere
#
# The safe choice for an mp4 is **H.264** video with **4:2:0 chroma** (`yuv420p`: colour stored at half
# resolution). Every major browser plays it. Other codecs and chroma formats play in some browsers, not in
# all. 4:2:0 needs an even width and height. We read the file back with ffmpeg. We check the codec, the
# pixel format, the frame rate and the number of frames (counted, not taken from the header).

# %%
info = video.read_video_info(video_path)
print(info)
assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
assert info["fps"] == run.parameters["fps"] and info["frames"] == run.frames
assert info["width"] % 2 == 0 and info["height"] % 2 == 0
print("files:", sorted(p.name for p in video_path.parent.iterdir()))
assert sorted(p.name for p in video_path.parent.iterdir()) == ["rocket.gif", "rocket.json", "rocket.mp4"]

# %% [markdown]
# diffusers' `export_to_video` wrote the recipe's file in section 0. It is H.264 and yuv420p too: read it.
# What the course's writer adds is the rest of this section and the next. It keeps the frame size: imageio,
# which `export_to_video` calls, enlarges a size that is not a multiple of 16 (128x72 becomes 128x80 on tiny
# weights; 1024x576 needs no change). It writes under a temporary name. And it never overwrites by accident.

# %%
recipe_info = video.read_video_info(work / "recipe.mp4")
print(recipe_info)
recipe_frames = load_video(str(work / "recipe.mp4"))  # diffusers reads it back
print(f"read back by load_video: {len(recipe_frames)} frames of {recipe_frames[0].size[0]}x{recipe_frames[0].size[1]}")
assert (recipe_info["codec"], recipe_info["pix_fmt"]) == ("h264", "yuv420p")
assert recipe_frames[0].size == (width, -(-height // 16) * 16)  # the height rounded up to a multiple of 16

# %% [markdown]
# diffusers writes GIFs too, with `export_to_gif`. `generate_video(..., gif=True)` wrote one beside the video,
# atomically like the mp4. Both GIFs hold the same frames:

# %%
from diffusers.utils import export_to_gif

plain_gif = export_to_gif(loaded, str(work / "plain.gif"), fps=7)
from PIL import Image

with Image.open(plain_gif) as ours, Image.open(video_path.with_suffix(".gif")) as course:
    print(f"export_to_gif: {ours.n_frames} frames | generate_video's GIF: {course.n_frames} frames")
    assert ours.n_frames == course.n_frames == run.frames

# %% [markdown]
# Only the video, the GIF and the report are there: no temporary file. Each was written as
# `.rocket.<random>.partial.mp4` beside its target, then renamed. `os.replace` is atomic on one file
# system. So a crash or a Ctrl-C leaves the old file or nothing, never half a video.
#
# Before any rename, each new file is checked: ffmpeg's exit status, then the file read back (its frames
# counted, the report's text compared). Only then do the three replace the old ones, together. A full disk
# ends in one line that says what failed and how much space is free; the old files stay as they were.

# %% [markdown]
# ## 3. Outputs are checked first, and never overwritten by accident
#
# A generation on a T4 takes minutes. Finding out *after* that the output cannot be written wastes them,
# so the checks come first. Without `force=True`, an existing file is refused and left as it was:

# %%
before = video_path.read_bytes()
try:
    generate.generate_video(models.SAMPLE_IMAGE, video_path)
except video.OutputError as error:
    print("OutputError:", error)
assert video_path.read_bytes() == before

# %% [markdown]
# ## 4. The image and the parameters
#
# The image goes through lesson 2's `load_image` (EXIF orientation, any mode to RGB, animated images
# refused) and `prepare_image` (resize and centre-crop to the model's size, refusing more than 2x upscaling).
# The sample photo is 640x427: it is enlarged 1.6 times to cover 1024x576, then cropped. That is allowed,
# but enlarging invents no detail, so the video is softer than one from a larger photo.
#
# The pipeline's own way to prepare a photo is diffusers' `load_image` and Pillow's `ImageOps.fit`, as in the
# recipe. `prepare_image` gives the same size, and refuses a photo that would need more than 2x enlarging:

# %%
plain_image = ImageOps.fit(load_image(str(models.SAMPLE_IMAGE)), (run.width, run.height))
print("ImageOps.fit:", plain_image.size, "| the run's size:", (run.width, run.height))
assert plain_image.size == (run.width, run.height)

# %% [markdown]
# The parameters start from diffusers' own defaults, which live in the call's signature:

# %%
import inspect

call = inspect.signature(StableVideoDiffusionPipeline.__call__).parameters
motion = ("fps", "motion_bucket_id", "noise_aug_strength", "min_guidance_scale", "max_guidance_scale")
print("diffusers' defaults:", {name: call[name].default for name in motion})
assert all(run.parameters[name] == call[name].default for name in motion)

# %% [markdown]
# The course's preset for SVD-XT holds the same values (lesson 2 compares the presets). The run used them,
# validated, with the 14 frames and 5 steps we asked for:

# %%
from svd_learn import parameters

print("parameters:", run.parameters)
print("plan's decode chunk, used for this run:", run.parameters["decode_chunk_size"])
image = parameters.prepare_image(parameters.load_image(models.SAMPLE_IMAGE), run.height, run.width)
print("image prepared to", image.size, image.mode)
assert image.size == (run.width, run.height) and image.mode == "RGB"
preset = parameters.preset("svd-xt")
assert {k: run.parameters[k] for k in motion} == {k: getattr(preset, k) for k in motion}
assert (run.parameters["num_frames"], run.parameters["num_inference_steps"]) == (14, 5)

# %% [markdown]
# Same fps, motion bucket, noise and guidance as the model card. The size differs on tiny weights (their
# "trained size" is 576x1024 / 8), and the decode chunk is the memory plan's choice (section 5).
#
# ## 5. The memory plan: the fastest that fits this GPU
#
# Lesson 4 measured every plan on a real GPU under a T4's budget; `planner.choose_plan` picks the fastest
# plan predicted to fit, and says why. Here is what it chose for this machine, and what it would choose on
# a free Colab T4 (14.74 GiB) and on an 8 GiB card:

# %%
from svd_learn import memory, planner

on_t4 = planner.choose_plan(memory.T4_GIB, 12.7, "svd-xt", 25, 576, 1024)  # free Colab: 14.74 GiB VRAM, 12.7 GiB RAM
small = planner.choose_plan(8.0, 12.7, "svd-xt", 25, 576, 1024)
print("this run:", run.plan)
print(f"on a T4:  {on_t4.plan.name}, predicted peak {on_t4.predicted_peak_gib:.1f} GiB (at most {memory.T4_SAFE_PEAK_GIB} GiB)")
print(f"on 8 GiB: {small.plan.name}, predicted peak {small.predicted_peak_gib:.1f} GiB")
assert on_t4.fits and on_t4.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB and on_t4.plan.placement == "gpu"
assert small.fits and small.predicted_peak_gib < on_t4.predicted_peak_gib and small.plan.placement != "gpu"

# %% [markdown]
# Why, in the planner's words (its wording and calibration evolve with new measurements, so this cell's
# text is not checked; the numbers above are):

# %%
# NBVAL_IGNORE_OUTPUT
print("this run:", run.plan_reason, "\n")
print(on_t4.explain())

# %% [markdown]
# The plan decides where the three networks sit and how many frames the VAE decodes at once. On a T4 the
# planner keeps the whole model on the GPU and decodes a few frames at a time: that is faster than
# offloading, which moves weights over PCIe (the bus between the host and the GPU) every call. On 8 GiB the
# weights no longer fit beside the activations, so the planner offloads. On a CPU there is nothing to plan:
# everything runs there.
#
# `generate_video` also asks PyTorch for *expandable segments* before CUDA starts: less fragmentation, and
# the calibration was measured with them.

# %% [markdown]
# `emulate_t4=True` caps a bigger GPU at 14.74 GiB, without FlashAttention (a T4 lacks it). That is how the
# course checked this very function on a lent H100 80GB, with full-size random SVD-XT weights: 25 frames,
# 576x1024, 25 steps (`benchmarks/results/capstone-*.json`; with 24 GiB the planner now takes `gpu-decode8`,
# as fast, with 8 frames decoded at once). "Peak reserved" is the most GPU memory PyTorch held (lesson 4):
#
# | budget | plan chosen | peak reserved | pipeline call | host RAM peak |
# |---|---|---|---|---|
# | T4 (`--emulate-t4`, 14.74 GiB) | gpu-decode2 | 12.56 GiB (limit 14.0) | 24.9 s | 3.8 GiB |
# | 24 GiB (`--vram-budget 24`, FlashAttention allowed) | gpu-decode2 | 12.56 GiB | 22.0 s | 3.8 GiB |
# | 8 GiB (`--vram-budget 8`) | sequential-offload-chunked-decode1 | 4.61 GiB | 196 s | 6.5 GiB |

# %% [markdown]
# The same plan took 23.7 s in lesson 4's run and 24.9 s here. That is run-to-run noise of one plan, not a
# cost. The memory figures carry over to a real T4. The seconds do not: the cap emulates a T4's memory,
# not its speed. For a T4's time, read the estimate printed at the top of this lesson.

# %% [markdown]
# ## 6. Out of GPU memory: free, fall back, say so, record it
#
# A prediction can be wrong: another notebook holds memory, the image is larger, a library version
# allocates more. Then the pipeline raises `torch.OutOfMemoryError`. `generate_video` catches it, drops
# the pipeline (and the offload hooks attached to it), runs `gc.collect()` and `torch.cuda.empty_cache()`,
# loads a fresh pipeline and tries the next plan down.
#
# We cannot run out of GPU memory on a CPU, and on a T4 we do not want to. So we **simulate** it:
# `generate.simulated_out_of_memory` makes the first plan's run raise the error class a GPU would raise
# (`torch.OutOfMemoryError`), with a message that says it is simulated. Nothing runs out of memory here.

# %%
from svd_learn import t4

print("4 frames, 2 steps:", t4.describe_estimate(unet_steps=2, num_frames=4))
order = planner.fallback_order()  # the plans from most GPU memory to least
simulated = "SIMULATED out of memory: raised on purpose to show the fallback; no GPU ran out of memory"
with generate.simulated_out_of_memory(order[0], message=simulated):
    rescued = generate.generate_video(models.SAMPLE_IMAGE, work / "rescued.mp4",
                                      GenerationParameters(num_frames=4, num_inference_steps=2), RunSpec(plan=order[0]))
print("fallbacks:", rescued.fallbacks)
assert rescued.plan == order[1] and rescued.fallbacks[0]["plan"] == order[0]
assert rescued.fallbacks[0]["error"] == simulated
assert video.read_video_info(work / "rescued.mp4")["frames"] == 4

# %% [markdown]
# (We forced the fastest plan with `plan=`; on a CPU its "GPU" placement simply means "on this device".) A real
# message has numbers: lesson 4, section 2.7 reads one line by line.
#
# ## 7. The report
#
# Everything needed to reproduce the run and to judge it: parameters and seed, the plan and why, the
# fallbacks, library versions, the GPU, peak GPU memory, peak host memory, and timings per phase.

# %%
import json

saved = json.loads(video_path.with_suffix(".json").read_text())
assert saved == run.to_dict()
for key in ("source", "checkpoint", "random_weights", "plan", "fallbacks", "device", "frames", "fps"):
    print(f"{key:16}{saved[key]}")
print(f"{'versions of':16}{sorted(saved['environment']['versions'])}")
print(f"{'timings':16}{sorted(saved['timings'])}")
assert saved["parameters"]["seed"] == 0 and saved["host_rss_peak_gib"] > 0
assert {"load_s", "denoise_s", "decode_s", "write_s", "total_s"} <= set(saved["timings"])

# %% [markdown]
# The versions in the report are the ones this notebook imported: the same diffusers, huggingface_hub and
# accelerate whose calls you ran in section 0.

# %%
import accelerate
import diffusers

imported = {"diffusers": diffusers.__version__, "huggingface_hub": huggingface_hub.__version__, "accelerate": accelerate.__version__}
same = all(saved["environment"]["versions"][name] == version for name, version in imported.items())
print("the report's diffusers, huggingface_hub and accelerate are the ones imported here:", same)
assert same

# %% [markdown]
# On a GPU the report also has `peak_allocated_gib` and `peak_reserved_gib`. The reserved peak must stay
# under 14 GiB on a T4. `denoise_peak_allocated_gib` is the peak before decoding: it tells you whether the
# UNet or the VAE set the peak.

# %% [markdown]
# ## 8. Mistakes get one clear sentence, not a traceback
#
# The command line runs the same function. Its errors say what was wrong and what to do. It exits with
# code 1 (130 for Ctrl-C) and leaves your files as they were. In a Colab cell you would type
# `!svd-learn generate missing.jpg -o a.mp4`. Here Python runs the same program (`python -m svd_learn.cli`
# is what `svd-learn` starts), so that the cell can check the exit code and the message:

# %%
import subprocess

svd_learn_command = [sys.executable, "-m", "svd_learn.cli"]  # the program behind `svd-learn`, in this Python
result = subprocess.run([*svd_learn_command, "generate", "missing.jpg", "-o", "a.mp4"], cwd=work,
                        capture_output=True, text=True)
print(f"exit {result.returncode}: {result.stderr.strip()}")
assert result.returncode == 1 and "missing.jpg" in result.stderr and "Traceback" not in result.stderr
assert not (work / "a.mp4").exists()

# %% [markdown]
# The same holds for:
# - a file that is not an image, or a truncated or animated image, or one too small to use;
# - an output that already exists (add `--force` to replace it);
# - out-of-range parameters;
# - a gated model without a token (the message says where to accept the license and how to log in);
# - no network with nothing cached. The message says what to do. Without an explicit `--source pretrained`
#   the command falls back to tiny weights, and says so.
#
# `tests/test_generate.py` checks each one.

# %% [markdown]
# ## 9. On the command line
#
# ```bash
# svd-learn generate my_photo.jpg -o outputs/my_video.mp4                  # plan auto, report outputs/my_video.json
# svd-learn generate my_photo.jpg -o out.mp4 --motion-bucket-id 180 --noise-aug-strength 0.1 --seed 3 --gif
# svd-learn generate my_photo.jpg -o out.mp4 --plan model-offload-chunked-decode2 --force
# svd-learn generate my_photo.jpg -o out.mp4 --emulate-t4                   # on a big GPU: behave like a T4
# svd-learn generate my_photo.jpg -o out.mp4 --smooth 24   # also out-24fps.mp4: frames added by ffmpeg's interpolation
# svd-learn app                                                             # section 10's page, on 127.0.0.1
# ```

# %% [markdown]
# ## 10. The same program, in a web page
#
# The calls above teach well. To try ten settings on your own photo, a page is quicker: move a slider, press a
# button, compare. `svd-learn app` is that page, made with gradio (Colab ships it). It shows the crop SVD will
# see, each setting of lesson 2 with a one-line hint, and the plan with its T4 minutes, before you press
# **Generate**. Then a progress bar per step, **Stop**, the video, its mp4 and report to download, and your
# earlier results side by side. It is no second way to generate: it keeps one `generate.Session` open, so the
# second video does not reload the pipeline, and each refusal of section 8 appears as one line in the page.

# %% [markdown]
# The cell below builds the page (`app.build`) and starts it with gradio's own `launch`.
# `server_name="127.0.0.1"` means that only this machine can open it. `share=False` matters on Colab: there
# gradio's default is a public link through gradio's servers; with `False`, Colab's own proxy shows the page
# below the cell, to you only. The cell makes nothing: the page waits until you press **Generate**. On a CPU
# the weights are tiny, so the videos are noise. `page.close()` stops the page.

# %%
import gradio as gr  # Colab ships it; elsewhere: pip install "svd-learn[app]"

from svd_learn import app

studio = app.Studio(RunSpec(), work / "app")  # the videos go to work/app; one session, kept between videos
page = app.build(studio)  # a gr.Blocks: the page, made of gradio's own components
page.queue().launch(
    server_name="127.0.0.1",  # this machine only
    share=False,  # no public link: on Colab, Colab's own proxy shows the page below this cell
    prevent_thread_lock=True,  # the cell returns; the page keeps running beside the notebook
    allowed_paths=[str(studio.output_dir), str(models.SAMPLE_IMAGE.parent)],  # the only folders it may serve
    quiet=True,
)
print("the page is at", page.local_url, "(page.close() stops it)")
assert isinstance(page, gr.Blocks) and page.local_url.startswith("http://127.0.0.1:") and not page.share_url
assert studio.session is None and not studio.output_dir.exists()  # nothing loaded, nothing made

# %% [markdown]
# ## Things to try
# - Run this notebook on Colab with a T4 and compare `run.peak_reserved_gib` with the plan's prediction.
# - Upload your photo in section 0 and try lesson 2's motion recipe: `motion_bucket_id=180`, then
#   `noise_aug_strength=0.1`. On the command line: `--motion-bucket-id 180 --noise-aug-strength 0.1`.
# - Force `plan="sequential-offload-chunked-decode1"` and compare `run.timings` with the auto plan.
# - Generate twice with the same seed and check that the frames are identical.
# - In the page of section 10, make a video with motion 60, then one with 200, and compare them side by side.
#   Then choose *Smoother copy: 24 fps* and compare the two players.

# %% [markdown]
# ## Summary
# - `generate_video` / `svd-learn generate` = lessons 1 to 4 in order: image, parameters, plan, load, generate, write, report.
# - Check outputs first; write to a temporary file and rename; never overwrite without `force`.
# - H.264 + yuv420p + even size = a video every browser plays.
# - The plan comes from measurements (lesson 4); on out-of-memory, free everything and step down a plan.
# - The report (JSON) says what ran, with which versions, how much memory and how long.
# - `svd-learn app` is the same program in a web page on 127.0.0.1, with one session kept open between videos.

# %% [markdown]
# ## Read next
# diffusers' [Stable Video Diffusion guide](https://huggingface.co/docs/diffusers/using-diffusers/svd), the page
# this course grew around. Read its first example: it is section 0's recipe. Then its part on micro-conditioning
# (lesson 2's section 7) and its part on memory: compare each tip with what lesson 4 measured.
