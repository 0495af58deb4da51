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
# # Lesson 2: the SVD model card, parameter by parameter
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/02_svd_parameters.ipynb)
#
# **What you will learn.** What each argument of `StableVideoDiffusionPipeline.__call__` means, what the
# model card says about it, and what the pipeline really does with it. We do not take the documentation's
# word for it: we hook into the real pipeline and capture what the UNet receives. You will meet the three
# SVD checkpoints, how they were trained and what they cannot do. At the end you get a recipe to make your
# own photo move more or less, and you run it.

# %% [markdown]
# **The idea.** SVD has no prompt. Besides the image, three numbers steer it: the frame rate, the *motion
# bucket* (how much motion) and the strength of the noise added to the image. The model saw these numbers
# during training. A guidance scale that changes from frame to frame comes on top. The three numbers are
# *micro-conditioning*: each becomes a vector of sines and cosines, added to the signal that tells the UNet
# which denoising step it is at.

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

# Before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (lesson 4 explains).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("02_svd_parameters"))

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
# On **tiny** weights (no GPU) everything the UNet *receives* is real: the conditioning numbers, their
# embedding, the guidance per frame, the 8 input channels. What it *makes* is noise, because its weights
# are random. With the real weights (on a GPU) the videos of section 7 are real videos of your photo.
#
# ## 1. Three checkpoints, one architecture
#
# Stability released three image-to-video checkpoints. They share the architecture and the trained size;
# they differ in how many frames they make and in their last finetuning.

# %%
from svd_learn import models

print(f"{'name':12}{'Hub repo':50}{'frames':>7}{'trained size':>14}  gated")
for checkpoint in models.CHECKPOINTS.values():
    print(f"{checkpoint.name:12}{checkpoint.repo_id:50}{checkpoint.num_frames:>7}{checkpoint.height:>8}x{checkpoint.width:<5}  {'yes' if checkpoint.gated else 'no'}")
for checkpoint in models.CHECKPOINTS.values():
    print(f"- {checkpoint.name}: {checkpoint.note}")
    assert models.real_configs(checkpoint.name)["unet"]["num_frames"] == checkpoint.num_frames

# %% [markdown]
# Each repo's page on the Hub is its *model card*, the source of this lesson:
# [stable-video-diffusion-img2vid](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid) (SVD),
# [stable-video-diffusion-img2vid-xt](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt) (SVD-XT)
# and [stable-video-diffusion-img2vid-xt-1-1](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1)
# (SVD-XT 1.1).
#
# **How SVD was trained**, in three stages (the cards and the paper they link):
# 1. *Image pretraining*: start from Stable Diffusion 2.1, an image model.
# 2. *Video pretraining*: add temporal layers (layers that mix neighbouring frames) and train on a large
#    curated video set at low resolution.
# 3. *High-quality finetuning*: a smaller set of good videos at 576x1024.
#
# The SVD card's appendix puts the cost at about 200,000 hours of A100 80GB GPUs for all of it.

# %% [markdown]
# **Labels, and what "fps 6" means.** During training each clip was labelled with its frame rate, a motion
# score (the *motion bucket*) and the strength of the noise added to its first frame. The model learned to
# make what the labels describe. When you generate, you set the labels. SVD-XT continued from SVD to make 25
# frames. SVD-XT 1.1 was finetuned again with the labels **fixed** at 6 fps and motion bucket 127, so that it
# behaves well without tuning them.
#
# That "6" is the number the model receives. In diffusers you write `fps=7`: the pipeline gives the UNet
# `fps - 1` (section 4 captures it). So the card's "6 fps" is diffusers' `fps=7`, the default.

# %% [markdown]
# **Gated repos and tokens.** `svd-xt-1-1` is *gated*: its files download only for a logged-in account that
# has accepted the license on the model's Hub page. A *token* is how your code proves who you are: create
# one (read access) at huggingface.co/settings/tokens, then run `huggingface_hub.login()` or, on Colab, add
# it as the secret `HF_TOKEN`. Without it, `from_pretrained` fails with a 401/403 "gated repo" error
# (lesson 3 explains that error). The other two repos need no token.

# %%
import huggingface_hub

print("a Hub token is configured here:", huggingface_hub.get_token() is not None)
assert [c.name for c in models.CHECKPOINTS.values() if c.gated] == ["svd-xt-1-1"]

# %% [markdown]
# ## 2. The defaults, and presets from the model cards
#
# diffusers keeps SVD's defaults where Python keeps every default: in the signature of the call. Read them
# there, with `inspect`:

# %%
import inspect

from diffusers import StableVideoDiffusionPipeline

call = inspect.signature(StableVideoDiffusionPipeline.__call__).parameters
knobs = ("num_inference_steps", "fps", "motion_bucket_id", "noise_aug_strength", "min_guidance_scale",
         "max_guidance_scale", "decode_chunk_size", "num_frames")
for name in knobs:
    print(f"{name:20} default {call[name].default}")
assert (call["fps"].default, call["motion_bucket_id"].default, call["noise_aug_strength"].default) == (7, 127, 0.02)

# %% [markdown]
# `num_frames=None` means the UNet's own count (25 for SVD-XT), and `decode_chunk_size=None` means all frames
# at once. The course's `parameters.GenerationParameters` holds the same twelve values of one generation, as
# one object. What it adds: `preset()` fills it from the model cards, or from Stability's own reference
# sampler, which differs from diffusers' defaults; and `validate()` checks it (below).

# %%
from svd_learn import parameters

print(f"{'preset':28}{'frames':>7}{'steps':>6}{'fps':>5}{'motion':>7}{'noise':>6}{'guidance':>10}{'decode':>7}")
for name in parameters.PRESETS:
    p = parameters.preset(name)
    print(f"{name:28}{p.num_frames:>7}{p.num_inference_steps:>6}{p.fps:>5}{p.motion_bucket_id:>7}{p.noise_aug_strength:>6}"
          f"{p.min_guidance_scale:>5}-{p.max_guidance_scale:<4}{p.decode_chunk_size or 'all':>7}")  # None: all at once
    assert p.validate(parameters.preset_checkpoint(name)) == []
assert [parameters.preset(n).num_frames for n in ("svd", "svd-xt", "svd-xt-1-1")] == [14, 25, 25]

# %% [markdown]
# The Stability reference for SVD-XT guides harder on the first frames (1.5 instead of 1.0) and takes 30
# steps instead of 25. Both are reasonable; the course uses diffusers' values unless you pick the other preset.
#
# `validate()` raises `ParameterError` for values that cannot work and returns warnings for values the model
# was not trained on. Each message names the value, the allowed range and where the rule comes from:

# %%
from dataclasses import replace

try:
    replace(parameters.preset("svd-xt"), height=500, decode_chunk_size=0).validate("svd-xt")
except parameters.ParameterError as error:
    print(error)
    assert all(part in str(error) for part in ("height=500", "496", "504", "decode_chunk_size=0"))  # 496 or 504: x8

# %% [markdown]
# On tiny weights we run at the tiny model's size (the real one divided by 8), and `validate` says honestly
# that the real checkpoint was not trained at that size. On full-size weights it has nothing to say:

# %%
checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
params = replace(parameters.preset("svd-xt"), height=height, width=width, num_inference_steps=2)
size_warnings = params.validate("svd-xt")
for warning in size_warnings:
    print("warning:", warning)
if not size_warnings:
    print(f"no warning: {width}x{height} is the size {checkpoint.name} was trained at")
assert (source.name != "tiny") == (size_warnings == [])

# %% [markdown]
# ## 3. The input image
#
# SVD was trained on landscape 576x1024 images (16:9). The pipeline would stretch any other shape to that
# size. Two library calls prepare a photo instead. diffusers' `load_image` opens it upright (phone photos are
# stored sideways, with a rotation tag in their EXIF data) and in RGB. Pillow's `ImageOps.fit` scales it to
# cover the size and crops the centre.

# %%
from diffusers.utils import load_image
from PIL import Image, ImageOps

photo = load_image(str(models.SAMPLE_IMAGE))
plain = ImageOps.fit(photo, (width, height), method=Image.Resampling.LANCZOS)  # scale to cover, crop the centre
print("on disk:", photo.size, photo.mode, "| fitted:", plain.size)
assert plain.size == (width, height)

# %% [markdown]
# The course's `load_image` and `prepare_image` do the same, and add what a plain call misses. They refuse an
# animated or broken file with a clear message. They put transparent pixels over white and scale 16-bit images
# to 8 bits. They decode a large JPEG at a smaller scale when that still covers the size (faster, less
# memory). And they refuse an image that would need more than 2x enlarging: that invents blur, and SVD would
# animate the blur. On a normal photo the result is the same image:

# %%
import numpy as np

image = parameters.prepare_image(parameters.load_image(models.SAMPLE_IMAGE, height=height, width=width), height, width)
difference = np.abs(np.asarray(image, dtype=float) - np.asarray(plain, dtype=float)).mean()
print(f"prepared: {image.size} | mean difference from ImageOps.fit: {difference:.2f} (pixels are 0 to 255)")
assert image.size == (width, height) and difference < 3  # tiny sizes: the JPEG is decoded at 1/4 scale first
try:
    parameters.prepare_image(Image.new("RGB", (400, 225)), 576, 1024)  # would need 2.6x enlarging
except parameters.ImageError as error:
    print(error)
    assert "512x288" in str(error)  # the smallest image that covers 1024x576 within the 2x allowed

# %% [markdown]
# What that means for your photos. A smaller photo is enlarged: the course's sample, 640x427, is enlarged 1.6
# times for the real model. That is allowed, but the video is softer than one from a photo of 1024x576 or
# more. A portrait photo is scaled until its width is 1024, then its centre strip is kept: most of the top and
# bottom is cut off. The cell checks both numbers:

# %%
def enlargement(size, target=(1024, 576)):
    """How much prepare_image enlarges a (width, height) photo to cover the target (1 or less: no enlarging)."""
    return max(target[0] / size[0], target[1] / size[1])


portrait = (1080, 1920)
kept = 576 / (1920 * enlargement(portrait))  # the share of the portrait's height that survives the crop
print(f"sample 640x427: enlarged {enlargement((640, 427)):.2f}x | portrait 1080x1920: {kept:.0%} of its height kept")
assert parameters.prepare_image(Image.new("RGB", (640, 427)), 576, 1024).size == (1024, 576)  # 1.6x: allowed

# A portrait in three bands, red / blue / green from top to bottom: only the blue middle survives.
bands = Image.new("RGB", portrait, "red")
bands.paste("blue", (0, 640, 1080, 1280))
bands.paste("green", (0, 1280, 1080, 1920))
cropped = parameters.prepare_image(bands, 576, 1024)
print("colours of the top and bottom rows after prepare_image:", cropped.getpixel((512, 0)), cropped.getpixel((512, 575)))
assert kept < 1 / 3 and cropped.getpixel((512, 0))[2] > 200 and cropped.getpixel((512, 575))[2] > 200

# %% [markdown]
# ## 4. What the UNet receives
#
# We load the pipeline with diffusers, as lesson 1 did (fp16 weight files; fp16 on a GPU, fp32 on a CPU). It is
# placed as the course's T4 recipe says: the memory planner's choice for a T4 (lesson 4 measures it). With
# the real model, sections 4 to 6 then run eight calls of one or two steps on 25 frames, and decode one of
# them. The cell prints how long that takes on a T4.

# %%
import torch

from svd_learn import planner, plans, t4

device = "cuda" if torch.cuda.is_available() else "cpu"
dtype = torch.float16 if device == "cuda" else torch.float32  # fp16 on a GPU; a CPU computes in fp32
pipe = StableVideoDiffusionPipeline.from_pretrained(models.pipeline_location(source.name, "svd-xt"),
                                                    torch_dtype=dtype, variant="fp16")
recipe = planner.choose_plan(memory.T4_GIB, 12.7).plan  # the course's T4 recipe (lesson 4)
plans.apply_plan(pipe, recipe, device)
pipe.set_progress_bar_config(disable=True)
params = replace(params, decode_chunk_size=recipe.decode_chunk_size)
print(f"placed as the T4 recipe says: {recipe.name} ({recipe.description})")
print("sections 4 to 6:", t4.describe_estimate(unet_steps=8, decoded_frames=25))

# %% [markdown]
# First, the plain PyTorch way to see what a network receives: a *forward pre-hook*. It is a function that
# PyTorch calls with a module's inputs just before the module runs. Here it keeps the UNet's `added_time_ids`,
# the three micro-conditioning numbers. You can copy it into any notebook. `output_type="latent"` stops
# before the VAE decodes: no frames, less time.

# %%
received = []
hook = pipe.unet.register_forward_pre_hook(lambda module, args, kwargs: received.append(kwargs["added_time_ids"].tolist()), with_kwargs=True)
try:
    pipe(image, height=height, width=width, fps=12, num_inference_steps=1, output_type="latent")
finally:
    hook.remove()  # hooks stay until removed
print("fps=12 -> added_time_ids[0] =", [round(x, 4) for x in received[0][0]])
assert received[0][0][0] == 11

# %% [markdown]
# `parameters.inspect_conditioning(pipe, image, params)` is that hook and five more, in one call. It also hooks
# the VAE and the scheduler, counts the calls, and removes every hook afterwards. It returns what they saw:

# %%
capture = parameters.inspect_conditioning(pipe, image, params, output_type="np")
print("UNet input (batch, frames, channels, h, w):", tuple(capture.unet_sample.shape))
for half, row in zip(("unconditional", "conditional"), capture.added_time_ids.tolist()):
    print(f"added_time_ids, {half} half: {[round(x, 4) for x in row]}")

# %% [markdown]
# ### fps: the UNet gets fps - 1
#
# **Card / docs:** "Stable Video Diffusion's UNet was micro-conditioned on fps-1 during training."
# **Code:** `fps = fps - 1` just before the time ids are built. Stability's own script calls this number
# `fps_id` and defaults it to 6, which is diffusers' default `fps=7`. The hook above saw 11 for `fps=12`. The
# first column of the capture is `fps - 1` too:

# %%
print(f"fps={params.fps} -> the UNet receives {capture.added_time_ids[0, 0].item():g}")
assert torch.all(capture.added_time_ids[:, 0] == params.fps - 1)

# %% [markdown]
# `fps` does not change how many frames you get. It tells the model how much time passes between frames
# (more fps, less change per frame), and it is the rate to write the video at. Stability's script warns when
# `fps_id` is below 5 or above 30, which is `fps` 6 to 31 in diffusers.
#
# ### motion_bucket_id and noise_aug_strength: the other two conditioning numbers
#
# The three numbers are each turned into sines and cosines and added to the *timestep embedding* (the vector
# that tells the UNet which denoising step it is at). That sum reaches every UNet block. The UNet module
# that does it is `pipe.unet.add_time_proj`. Call it yourself on the three numbers (256 values each in the
# real model, 768 in all; 32 each in the tiny one):

# %%
time_ids = torch.tensor([params.fps - 1, params.motion_bucket_id, params.noise_aug_strength])
embedded = pipe.unet.add_time_proj(time_ids)  # one row of sines and cosines per number
print(f"add_time_proj: 3 numbers -> {tuple(embedded.shape)}, {embedded.numel()} values in all")
assert embedded.numel() == pipe.unet.config.projection_class_embeddings_input_dim
assert torch.allclose(embedded.flatten().float(), capture.half(capture.time_id_embedding, True)[0], atol=1e-3)

# %% [markdown]
# That is exactly what the UNet received (the assert compares it with the capture). The plot shows the vector,
# and the guidance per frame (section 5).

# %%
import matplotlib.pyplot as plt

fig = parameters.plot_conditioning(capture)
plt.show()
assert capture.time_id_embedding.shape[1] == pipe.unet.config.projection_class_embeddings_input_dim

# %% [markdown]
# **Card / docs:** a higher `motion_bucket_id` gives more motion; a higher `noise_aug_strength` makes the
# video less like your image and adds motion. **Code:** we run one step with each value and capture what
# changes. Every run uses the same seed, so anything that differs is caused by the parameter.

# %%
def captures_for(name, values):
    return {v: parameters.inspect_conditioning(pipe, image, replace(params, num_inference_steps=1, **{name: v})) for v in values}


by_motion = captures_for("motion_bucket_id", [0, 255])
for value, c in by_motion.items():
    print(f"motion_bucket_id={value:3}: time ids {[round(x, 4) for x in c.added_time_ids[1].tolist()]}")
low, high = by_motion[0], by_motion[255]
assert torch.allclose(low.image_embeddings, high.image_embeddings) and torch.allclose(low.unet_sample, high.unet_sample)
assert not torch.equal(low.time_id_embedding, high.time_id_embedding)

# %% [markdown]
# The motion bucket changes one number and nothing else: the image, its latents and the starting noise are
# identical. How Stability computed the buckets from training videos is not public. 0 to 255 is the range its
# script accepts without a warning; the default is 127.
#
# The noise strength acts twice. It is a conditioning number, and the pipeline really adds
# `noise_aug_strength * randn` to the image before the VAE encodes it. CLIP, the network that turns the image
# into an embedding for the UNet's attention, sees the clean image.

# %%
by_noise = captures_for("noise_aug_strength", [0.0, 0.1])
for value, c in by_noise.items():
    print(f"noise_aug_strength={value:<5}: std of the noise added to the image {c.added_noise.std().item():.4f}")
    assert abs(c.added_noise.std().item() - value) <= 0.05 * value + 1e-6
clean, noisy = by_noise[0.0], by_noise[0.1]
assert torch.allclose(clean.image_embeddings, noisy.image_embeddings)  # CLIP: the clean image either way
assert not torch.allclose(clean.image_latents, noisy.image_latents)  # VAE: the noisy image

# %% [markdown]
# The default is 0.02. The diffusers guide says: the higher the value, the less the video resembles your
# image, and the more it moves.
#
# ### 8 input channels: noisy latents + the image latent on every frame
#
# The UNet's `in_channels` is 8: 4 channels of noisy video latents and 4 channels of your image's VAE
# latent, copied to every frame. That is how every frame "sees" the first image.

# %%
cond_image_latents = capture.half(capture.image_latents, conditional=True)
print("in_channels:", pipe.unet.config.in_channels, "| image latent equal on all frames:",
      torch.equal(cond_image_latents, cond_image_latents[:, :1].expand_as(cond_image_latents)))
assert pipe.unet.config.in_channels == capture.unet_sample.shape[2] == 8
assert torch.equal(cond_image_latents, cond_image_latents[:, :1].expand_as(cond_image_latents))
assert capture.unet_sample.shape[-2:] == (height // 8, width // 8)  # height and width: latents are 1/8

# %% [markdown]
# ## 5. Guidance, frame by frame
#
# **Docs:** `min_guidance_scale` is used "with the first frame", `max_guidance_scale` "with the last frame".
# **Code:** `torch.linspace(min, max, num_frames)`. Classifier-free guidance runs the UNet on a batch of two
# halves: an *unconditional* half that gets **zero** image embeddings and **zero** image latents, and a
# conditional half with your image. The result is `uncond + scale * (cond - uncond)`, per frame.
# The inspector measured the scale from the UNet's outputs (the dots in the left plot above):

# %%
print("set:     ", [round(x, 2) for x in capture.guidance_scale[:5].tolist()], "...", round(capture.guidance_scale[-1].item(), 2))
print("measured:", [round(x, 2) for x in capture.applied_guidance[:5].tolist()], "...", round(capture.applied_guidance[-1].item(), 2))
expected = torch.linspace(params.min_guidance_scale, params.max_guidance_scale, params.num_frames)
assert torch.allclose(capture.applied_guidance, expected, atol=0.02)  # 0.02: fp16 rounding on a GPU
print("unconditional half: nonzero embedding values", torch.count_nonzero(capture.half(capture.image_embeddings, False)).item(),
      "| nonzero image latent values", torch.count_nonzero(capture.half(capture.image_latents, False)).item())
assert torch.count_nonzero(capture.half(capture.image_embeddings, False)) == torch.count_nonzero(capture.half(capture.image_latents, False)) == 0

# %% [markdown]
# The first frame is your image, so it needs little guidance; later frames drift and get more.
# With `max_guidance_scale <= 1` guidance is off: the UNet batch halves, and so does its time per step.
# The hook of section 4 shows it: it records the batch size of what the UNet receives.

# %%
batches = []
hook = pipe.unet.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
try:
    pipe(image, height=height, width=width, min_guidance_scale=1.0, max_guidance_scale=1.0, num_inference_steps=1, output_type="latent")
finally:
    hook.remove()
print("UNet batch with guidance:", capture.unet_sample.shape[0], "| without:", batches[0])
assert (capture.unet_sample.shape[0], batches[0]) == (2, 1)

# %% [markdown]
# ## 6. Steps, frames, decode chunks, seed
#
# - `num_inference_steps`: one UNet call per step (25 by default; Stability uses 30 for XT).
# - `num_frames`: the checkpoint's own count (14 or 25). Other counts run but were not trained.
# - `decode_chunk_size`: the VAE decodes this many frames per call. Fewer frames per call, less memory,
#   slightly less smooth video. Lesson 4 measures the memory; here we count the calls.
# - `seed`: the generator's seed. The same seed gives the same starting noise (the sweeps above relied on it).

# %%
import math

print(f"UNet calls: {capture.unet_calls} for {params.num_inference_steps} steps | VAE decoder calls: "
      f"{capture.vae_decoder_calls} for {params.num_frames} frames in chunks of {params.decode_chunk_size}")
assert capture.unet_calls == params.num_inference_steps
assert capture.vae_decoder_calls == math.ceil(params.num_frames / params.decode_chunk_size)
assert torch.equal(by_motion[0].noisy_latents, by_motion[255].noisy_latents)  # same seed, same starting noise

# %% [markdown]
# ## 7. The motion recipe: make your photo move more, or less
#
# **What the real model makes.** The diffusers team published these two results in their
# [Stable Video Diffusion guide](https://huggingface.co/docs/diffusers/using-diffusers/svd). Same rocket image,
# same seed (42), SVD-XT. Left: the defaults (`motion_bucket_id=127`, `noise_aug_strength=0.02`). Right:
# `motion_bucket_id=180, noise_aug_strength=0.1`. (The images load from the Hub: they need an internet connection.)
#
# | default settings | `motion_bucket_id=180`, `noise_aug_strength=0.1` |
# |:---:|:---:|
# | ![SVD-XT, default settings (diffusers docs)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket.gif) | ![SVD-XT, more motion (diffusers docs)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket_with_conditions.gif) |

# %% [markdown]
# **The call.** Every motion setting is one argument of the pipeline call. Copy this into your own notebook
# (`pipe` and `image` as in sections 3 and 4; the values are diffusers' defaults):
#
# ```python
# frames = pipe(
#     image,                     # 1024x576, prepared as in section 3
#     motion_bucket_id=127,      # how much motion: higher moves more
#     noise_aug_strength=0.02,   # noise on your image: higher moves more, looks less like it
#     fps=7,                     # frames per second; the model receives fps - 1
#     min_guidance_scale=1.0,    # guidance of the first frame ...
#     max_guidance_scale=3.0,    # ... rising to this at the last frame
#     decode_chunk_size=2,       # frames the VAE decodes at once: the T4 recipe's value (lesson 4)
#     generator=torch.manual_seed(42),  # the same seed gives the same video
# ).frames[0]
# ```

# %% [markdown]
# **The ranges, and where they come from.**
#
# | argument | default | range the sources use | source |
# |---|---|---|---|
# | `motion_bucket_id` | 127 | 0 to 255; 180 as "more motion" | Stability's script warns above 255; the diffusers guide's example |
# | `noise_aug_strength` | 0.02 | 0.02; 0.1 as "more motion" | Stability's script (`cond_aug=0.02`); the diffusers guide's example |
# | `fps` | 7 | 6 to 31 | Stability's script warns outside `fps_id` 5 to 30 |
# | `min_guidance_scale`, `max_guidance_scale` | 1.0, 3.0 | 1.0 to 2.5 (SVD); 1.5 to 3.0 (SVD-XT) | Stability's reference configs |
#
# Stability's script is [`scripts/sampling/simple_video_sample.py`](https://github.com/Stability-AI/generative-models/blob/main/scripts/sampling/simple_video_sample.py)
# in its generative-models repository, beside its configs `svd.yaml` and `svd_xt.yaml`. SVD-XT 1.1 was tuned
# at 127 and `fps=7` only (its card).

# %% [markdown]
# **What to try first.**
# - *More motion:* raise `motion_bucket_id` first, for example to 180. It changes only the motion label
#   (section 4). Stay at or below 255.
# - *Still too still:* then raise `noise_aug_strength` to 0.1. The video moves more, but looks less like
#   your photo.
# - *Less motion:* lower `motion_bucket_id`, for example to 40, and keep `noise_aug_strength` at 0.02.
# - Change one value at a time, and keep the seed: then the difference you see comes from that value.
# - Keep `fps=7`, and write the video at 7 frames per second.

# %% [markdown]
# **Your own photo.** On Colab, set `UPLOAD_MY_PHOTO = True` and run the cell: a file chooser appears below
# it. Pick a photo; landscape and at least 1024x576 gives the best video. The course crops it as section 3
# explains. Without an upload (or outside Colab) the cell uses the sample photo.

# %%
from pathlib import Path

UPLOAD_MY_PHOTO = False  # True on Colab: choose a photo from your computer
photo_path = models.SAMPLE_IMAGE
if UPLOAD_MY_PHOTO and "google.colab" in sys.modules:
    from google.colab import files

    uploaded = files.upload()  # a file chooser appears below the cell
    photo_path = Path(next(iter(uploaded))) if uploaded else photo_path
my_image = parameters.prepare_image(parameters.load_image(photo_path, height=height, width=width), height, width)
print(f"{photo_path.name}: prepared to {my_image.size[0]}x{my_image.size[1]}")

# %% [markdown]
# Now the recipe on that photo: three videos with `motion_bucket_id` 40, 127 and 220, the same seed and
# everything else at the defaults. To fit a Colab session we make 14 frames (not 25) in 10 steps (not 25).
# The UNet's work per step grows with the frames, so each video costs about a quarter of a full one (the two
# lines below). Fewer steps leave the frames softer; fewer frames make a shorter video. On a CPU (tiny
# weights) the cell takes 2 steps.

# %%
print("one full video (25 frames, 25 steps):", t4.describe_estimate(unet_steps=25))
print("the three videos below:", t4.describe_estimate(unet_steps=3 * 10, num_frames=14, decoded_frames=3 * 14))

# %%
steps = 10 if device == "cuda" else 2  # a CPU is slow
videos = {}
for motion_bucket_id in (40, 127, 220):
    videos[motion_bucket_id] = pipe(
        my_image,
        height=height,
        width=width,
        num_frames=14,
        num_inference_steps=steps,
        motion_bucket_id=motion_bucket_id,
        noise_aug_strength=0.02,
        fps=7,
        min_guidance_scale=1.0,
        max_guidance_scale=3.0,
        decode_chunk_size=recipe.decode_chunk_size,
        generator=torch.manual_seed(42),
    ).frames[0]
print({value: f"{len(frames)} frames of {frames[0].size[0]}x{frames[0].size[1]}" for value, frames in videos.items()})
assert all(len(frames) == 14 for frames in videos.values())

# %% [markdown]
# `motion_score` is the mean change between consecutive frames (0 for a still video). With the real weights,
# expect it to grow with the motion bucket, but not for every photo. On tiny weights the frames are noise:
# the grid only shows the layout.

# %%
scores = {value: parameters.motion_score(frames) for value, frames in videos.items()}
fig = parameters.plot_frame_grid({f"bucket {v}\nmotion {scores[v]:.1f}": f for v, f in videos.items()},
                                 title=f"The motion recipe on {photo_path.name}, {source.name} weights"
                                 + (" (random weights: noise is expected)" if source.name != "pretrained" else ""))
plt.show()
print("motion scores:", {value: round(score, 1) for value, score in scores.items()})

# %% [markdown]
# And the video with the most motion, as a browser plays it. `export_to_video` is diffusers' writer; write the
# video at the `fps` you generated with. (On tiny weights imageio warns that it pads 128x72 to a multiple of 16.)

# %%
import tempfile

from diffusers.utils import export_to_video
from IPython.display import Video

more_motion = export_to_video(videos[220], str(Path(tempfile.mkdtemp()) / "more_motion.mp4"), fps=7)
Video(more_motion, embed=True, width=min(width * 4, 768))

# %% [markdown]
# ## 8. Sensible ranges, and what the card says SVD cannot do
#
# The warnings `validate()` gives come from one table (`svd_learn/data/parameters.toml`):

# %%
for rule in parameters.RULES:
    if rule["level"] == "warning":
        print(f"- {rule['field']}{' (' + ', '.join(rule['only_for']) + ')' if 'only_for' in rule else ''}: {rule['why']}")
assert {r["field"] for r in parameters.RULES if r["level"] == "warning"} >= {"height", "width", "num_frames", "motion_bucket_id", "fps"}

# %% [markdown]
# **Limitations, from the model card.** Videos are short (at most about 4 seconds). The model may produce
# no motion or only slow camera pans. It cannot be controlled by text. It cannot render legible text.
# Faces and people may come out poorly. The autoencoder is lossy, so fine detail can smear.
#
# **License.** The model cards send commercial users to Stability's license page,
# [stability.ai/license](https://stability.ai/license). Under the Stability AI Community License, use is free
# for research, for non-commercial use, and for commercial use by people and organisations with less than
# USD 1 million of revenue a year. Above that, commercial use needs a paid Enterprise license
# ([Stability's announcement](https://stability.ai/news/license-update)). Read the license file in the model's
# repo before you use the videos commercially.

# %% [markdown]
# ## Things to try
# - Change `params.fps` to 3 and to 40: read the warnings, and check the first column of `added_time_ids`.
# - Set `min_guidance_scale=3.0, max_guidance_scale=1.0` and look at the left plot.
# - In section 7, add `noise_aug_strength=0.1` to the video with `motion_bucket_id=220` and compare the scores.
# - On a GPU with real weights: the preset `svd-xt-stability-reference` (`parameters.preset(...).pipeline_kwargs()`
#   gives the call's arguments).

# %% [markdown]
# ## Summary
# - SVD has no prompt: an image, three conditioning numbers and a per-frame guidance scale steer it.
# - `fps` reaches the UNet as `fps - 1`; `fps=7` is Stability's `fps_id=6`. SVD-XT 1.1 was tuned at fps 7, motion bucket 127.
# - `motion_bucket_id` changes only its conditioning number; `noise_aug_strength` is also real noise on the image the VAE sees (CLIP sees it clean).
# - More motion: `motion_bucket_id` first (up to 255), then `noise_aug_strength` (0.1). Less: a lower motion bucket.
# - The UNet input has 8 channels: 4 noisy latents + 4 image latents repeated on every frame.
# - Guidance is `linspace(min, max, num_frames)`; the unconditional half gets zero embeddings and zero image latents.

# %% [markdown]
# ## Read next
# The three model cards:
# [SVD](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid),
# [SVD-XT](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt),
# [SVD-XT 1.1](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1) (gated: log in to read its
# files). In each, read "Model Details" (frames, size, what it was finetuned from) and "Uses" (what it is for,
# and its limitations). In the SVD-XT 1.1 card, find the fixed conditioning (6 fps, motion bucket 127). In the SVD
# card, the appendix gives the training compute. Then the diffusers
# [SVD guide](https://huggingface.co/docs/diffusers/using-diffusers/svd): its "micro-conditioning" part is
# section 4 of this lesson.
