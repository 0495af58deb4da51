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
# word for it: we hook into the real pipeline and capture what the UNet receives. You will also meet the
# three SVD checkpoints, how they were trained, which values are safe, and what the model cannot do.
#
# **The idea.** SVD has no prompt. Besides the image, it is steered by three numbers (frame rate, motion
# bucket, noise strength) that the model saw during training, plus a guidance scale that changes from frame
# to frame. These are *micro-conditioning*: small numbers embedded and added to the UNet's timestep signal.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()

# %% [markdown]
# On **tiny** weights (no GPU) everything the UNet *receives* is real: the conditioning numbers, their
# embedding, the guidance per frame, the 8 input channels. What it *makes* is noise, because its weights
# are random. The sections that compare videos run only on the real (pretrained) weights.
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
# **How SVD was trained** (model card and paper, about 200,000 A100-hours): three stages.
# 1. *Image pretraining*: start from Stable Diffusion 2.1, an image model.
# 2. *Video pretraining*: add temporal layers and train on a large curated video set at low resolution.
# 3. *High-quality finetuning*: a smaller set of good videos at 576x1024.
#
# During training each clip was labelled with its frame rate, a motion score (the *motion bucket*) and the
# strength of the noise added to its first frame. The model learned to produce what those labels describe.
# At generation time you set the labels: that is micro-conditioning. SVD-XT continued from SVD to make 25
# frames; SVD-XT 1.1 was finetuned again with the labels **fixed** at 6 fps and motion bucket 127, so that
# it behaves well without tuning them.
#
# **Gated repos and tokens.** `svd-xt-1-1` is *gated*: its files download only for a logged-in account that
# has accepted the license on the model's Hub page. A *token* is how your code proves who you are: create
# one (read access) at huggingface.co/settings/tokens, then run `huggingface_hub.login()` or, on Colab, add
# it as the secret `HF_TOKEN`. Without it, `from_pretrained` fails with a 401/403 "gated repo" error
# (lesson 3 explains that error; its local server has no accounts, so it cannot show a real one). The
# other two repos need no token.

# %%
import huggingface_hub

print("a Hub token is configured here:", huggingface_hub.get_token() is not None)
assert [c.name for c in models.CHECKPOINTS.values() if c.gated] == ["svd-xt-1-1"]

# %% [markdown]
# ## 2. Presets: the model cards' values in one object
#
# `svd_learn.parameters.GenerationParameters` holds the twelve values of one generation. `preset()` fills
# them from the model cards, or from Stability's own reference sampler, which differs from diffusers' defaults.

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
    assert "height=500: must be a multiple of 8" in str(error) and "decode_chunk_size=0" in str(error)

# %% [markdown]
# We will run at the tiny model's size (the real one divided by 8) when on tiny weights. `validate` says
# honestly that the real checkpoint was not trained at that size:

# %%
checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
params = replace(parameters.preset("svd-xt"), height=height, width=width, num_inference_steps=2, decode_chunk_size=8)
for warning in params.validate("svd-xt"):
    print("warning:", warning)
assert (source.name != "tiny") == (params.validate("svd-xt") == [])

# %% [markdown]
# ## 3. The input image
#
# `load_image` applies the EXIF rotation (phone photos are stored sideways), converts any mode to RGB
# (transparency over white, 16-bit grayscale scaled to 8 bits) and refuses animated or broken files with a
# clear message. `prepare_image` resizes, keeping the aspect ratio, and crops the centre to exactly
# width x height. The pipeline would otherwise stretch your image to 576x1024.

# %%
from PIL import Image

with Image.open(models.SAMPLE_IMAGE) as original:
    print("on disk:", original.size, original.mode)
image = parameters.load_image(models.SAMPLE_IMAGE, height=height, width=width)
print("loaded: ", image.size, image.mode)
image = parameters.prepare_image(image, height, width)
print("prepared:", image.size)
assert image.size == (width, height)

# %% [markdown]
# Given the target size, `load_image` lets Pillow decode a large JPEG at 1/2, 1/4 or 1/8 scale when that
# still covers the target (on tiny weights the 640x427 photo needs only 1/4). An image that would need
# more than 2x upscaling is refused: upscaling invents blur, and SVD would animate the blur.

# %%
try:
    parameters.prepare_image(Image.new("RGB", (400, 225)), 576, 1024)
except parameters.ImageError as error:
    print(error)
    assert "at least 512x288" in str(error)

# %% [markdown]
# What that means for your photos. SVD was trained on landscape 1024x576 (16:9). A smaller photo is
# enlarged: the course's sample, 640x427, is enlarged 1.6 times for the real model. That is allowed, but
# the video is softer than one from a photo of 1024x576 or more. A portrait photo is scaled until its
# width is 1024, then its centre strip is kept: most of the top and bottom is cut off. The cell checks
# both numbers:

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
# ## 4. What the UNet receives: the inspector
#
# `inspect_conditioning(pipe, image, params)` runs the real pipeline once with PyTorch hooks on the UNet,
# the VAE and the scheduler, and returns what they saw. `models.load_pipeline` loads it as lesson 1 did
# (fp16 weight files; fp16 on a GPU, fp32 on a CPU). With the real model each inspection in sections 4 and 5
# runs one or two UNet steps on 25 frames, and decodes them:

# %%
from svd_learn import t4

print("one inspection of one step:", t4.describe_estimate(unet_steps=1))

# %%
import torch

pipe = models.load_pipeline(models.pipeline_location(source.name, "svd-xt"))
if torch.cuda.is_available():
    pipe.enable_model_cpu_offload()  # keeps a 14.74 GiB T4 within memory; lesson 4 explains
pipe.set_progress_bar_config(disable=True)

capture = parameters.inspect_conditioning(pipe, image, params, output_type="np")
print("UNet input (batch, frames, channels, h, w):", tuple(capture.unet_sample.shape))
for half, row in zip(("unconditional", "conditional"), capture.added_time_ids.tolist()):
    print(f"added_time_ids, {half} half: {[round(x, 4) for x in row]}")

# %% [markdown]
# ### fps: the UNet gets fps - 1
#
# **Card / docs:** "Stable Video Diffusion's UNet was micro-conditioned on fps-1 during training."
# **Code:** `fps = fps - 1` just before the time ids are built. Stability's own script calls this number
# `fps_id` and defaults it to 6, which is diffusers' default `fps=7`. The first column above is `fps - 1`:

# %%
print(f"fps={params.fps} -> the UNet receives {capture.added_time_ids[0, 0].item():g}")
assert torch.all(capture.added_time_ids[:, 0] == params.fps - 1)

# %% [markdown]
# The inspector is nothing magic. Here is the same evidence with one PyTorch hook of your own, which you
# can copy into any notebook: a *forward pre-hook* sees a module's inputs just before it runs.

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
# `fps` does not change how many frames you get: it tells the model how much time passes between frames
# (more fps, less change per frame) and is the rate you should write the video at. Stability warns outside
# `fps_id` 5 to 30, which is `fps` 6 to 31 in diffusers. SVD-XT 1.1 was tuned at `fps=7` (fps_id 6).
#
# ### motion_bucket_id and noise_aug_strength: the other two conditioning numbers
#
# The three numbers are each embedded with sinusoids (256 dimensions each in the real model, 768 in all;
# 32 each in the tiny one) and added to the timestep embedding: one vector that reaches every UNet block.
# The plot shows that vector as captured, and the guidance per frame (section 5).

# %%
import matplotlib.pyplot as plt

fig = parameters.plot_conditioning(capture)
plt.show()
assert capture.time_id_embedding.shape[1] == pipe.unet.config.projection_class_embeddings_input_dim

# %% [markdown]
# **Card / docs:** a higher `motion_bucket_id` gives more motion; a higher `noise_aug_strength` makes the
# video less like your image and adds motion. **Code:** we sweep each one and capture what changes.
# Every run uses the same seed, so anything that differs is caused by the parameter.

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
# identical. How Stability computed the buckets from training videos is not public; 0 to 255 is the range
# its script accepts without a warning. The default is 127. The diffusers guide uses 180 as its "more
# motion" example ([Stable Video Diffusion guide](https://huggingface.co/docs/diffusers/using-diffusers/svd)). Section 7 shows what it does.
#
# The noise strength acts twice: it is a conditioning number, and the pipeline really adds
# `noise_aug_strength * randn` to the image before the VAE encodes it. CLIP sees the clean image.

# %%
by_noise = captures_for("noise_aug_strength", [0.0, 0.1])
for value, c in by_noise.items():
    print(f"noise_aug_strength={value:<5}: std of the noise added to the image {c.added_noise.std().item():.4f}")
    assert abs(c.added_noise.std().item() - value) <= 0.05 * value + 1e-6
clean, noisy = by_noise[0.0], by_noise[0.1]
assert torch.allclose(clean.image_embeddings, noisy.image_embeddings)  # CLIP: the clean image either way
assert not torch.allclose(clean.image_latents, noisy.image_latents)  # VAE: the noisy image

# %% [markdown]
# Default 0.02. The diffusers guide says: the higher the value, the less the video resembles your image,
# and the more it moves. Its "more motion" example uses 0.1 ([guide](https://huggingface.co/docs/diffusers/using-diffusers/svd)). Section 7 sweeps 0.0, 0.1
# and 0.3 on the real model, so you can judge for yourself.
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

# %%
unguided = parameters.inspect_conditioning(pipe, image, replace(params, num_inference_steps=1, min_guidance_scale=1.0, max_guidance_scale=1.0))
print("UNet batch with guidance:", capture.unet_sample.shape[0], "| without:", unguided.unet_sample.shape[0])
assert (capture.unet_sample.shape[0], unguided.unet_sample.shape[0]) == (2, 1)

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
# ## 7. What changes in the video
#
# On tiny weights the frames are noise (random weights), so comparing them teaches nothing: here is what
# the tiny model made, only to show the grid. With the real weights (`SVD_LEARN_SOURCE=pretrained` on a
# GPU) the cells after it compare real videos.
#
# **What the real model makes.** These two results were published by the diffusers team in their
# [Stable Video Diffusion guide](https://huggingface.co/docs/diffusers/using-diffusers/svd) (source: `docs/source/en/using-diffusers/svd.md` in
# huggingface/diffusers). Same rocket image, same seed (42), SVD-XT. Left: the default settings
# (`motion_bucket_id=127`, `noise_aug_strength=0.02`). Right: `motion_bucket_id=180, noise_aug_strength=0.1`.
#
# | default settings | `motion_bucket_id=180`, `noise_aug_strength=0.1` |
# |:---:|:---:|
# | ![SVD-XT, default settings (diffusers docs)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket.gif) | ![SVD-XT, more motion (diffusers docs)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket_with_conditions.gif) |
#
# The images are loaded from the Hub when the notebook is shown: they need an internet connection.

# %%
fig = parameters.plot_frame_grid({"tiny output": list(capture.frames[0])}, title=f"SVD-XT output, {source.name} weights"
                                 + (" (random weights: noise is expected)" if source.name != "pretrained" else ""))
plt.show()

# %% [markdown]
# **Real weights only:** a motion bucket sweep and a noise strength sweep, each with the same seed, 10 steps,
# decoding 2 frames at a time: six videos. `motion_score` is the mean change between consecutive frames
# (0 for a still video): expect it to grow with both parameters, but not in every image.

# %%
print("six videos of 10 steps:", t4.describe_estimate(unet_steps=6 * 10, decoded_frames=6 * 25))

# %%
if source.name == "pretrained":
    video_params = replace(params, num_inference_steps=10, decode_chunk_size=2)
    for name, values in (("motion_bucket_id", [40, 127, 220]), ("noise_aug_strength", [0.0, 0.1, 0.3])):
        videos = parameters.sweep(pipe, image, video_params, name, values)
        scores = {value: parameters.motion_score(frames) for value, frames in videos.items()}
        parameters.plot_frame_grid({f"{name}={v}\nmotion {scores[v]:.1f}": f for v, f in videos.items()}, title=f"{name} sweep")
        plt.show()
        print(name, "motion scores:", {v: round(s, 1) for v, s in scores.items()})
else:
    print(f"skipped on {source.name} weights: their frames are noise, and comparing noise with noise teaches nothing")

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
# Faces and people may come out poorly. The autoencoder is lossy, so fine detail can smear. The license is
# Stability AI's community license (commercial use above a revenue threshold needs registration).
#
# ## Things to try
# - Change `params.fps` to 3 and to 40: read the warnings, and check the first column of `added_time_ids`.
# - Set `min_guidance_scale=3.0, max_guidance_scale=1.0` and look at the left plot.
# - On a GPU with real weights: `motion_bucket_id=180, noise_aug_strength=0.1` (the docs' "more motion"
#   example), and the preset `svd-xt-stability-reference`.
# - Load your own photo with `parameters.load_image` and print `.size` before and after `prepare_image`.
#
# ## Summary
# - SVD has no prompt: an image, three conditioning numbers and a per-frame guidance scale steer it.
# - `fps` reaches the UNet as `fps - 1`; `fps=7` is Stability's `fps_id=6`. SVD-XT 1.1 was tuned at fps 7, motion bucket 127.
# - `motion_bucket_id` changes only its conditioning number; `noise_aug_strength` is also real noise on the image the VAE sees (CLIP sees it clean).
# - The UNet input has 8 channels: 4 noisy latents + 4 image latents repeated on every frame.
# - Guidance is `linspace(min, max, num_frames)`; the unconditional half gets zero embeddings and zero image latents.
# - All three checkpoints were trained at 576x1024; 14 frames (svd) or 25 (xt, xt-1-1); xt-1-1 is gated and needs a token.
