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
# # Lesson 4: fitting SVD on a T4, measured
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/04_memory.ipynb)
#
# **What you will learn.** Why Stable Video Diffusion (SVD) needs so much GPU memory, what each memory
# tool in diffusers and Accelerate really does (and what it costs in time), which common advice does
# nothing, and how to pick the fastest setup that fits your GPU. Every number comes from a measurement:
# live cells on tiny weights here, and full-size runs on a real GPU stored with the course.

# %% [markdown]
# **The idea.** GPU memory holds two things. The *weights* are 4.2 GiB for SVD-XT in fp16. The
# *activations* are the tensors that one call creates on the way. For SVD the activations are the problem.
# The UNet sees every frame twice per step. The VAE decodes frames at full resolution. You can move
# weights off the GPU (offloading). You can cut activations into pieces (chunking). Each costs time. The
# right mix depends on how much memory you have.

# %% [markdown]
# **Units.** All sizes in this course are in GiB: 1 GiB = 2^30 bytes. PyTorch reports GiB. Web pages
# often say GB (10^9 bytes): 4.2 GiB is 4.5 GB.
#
# **Allocated and reserved.** PyTorch counts GPU memory two ways. *Allocated* is what live tensors hold.
# *Reserved* is what PyTorch has taken from the GPU: the allocated memory, plus freed blocks it keeps for
# reuse. Reserved is what runs out, so the course's peaks are reserved peaks. Section 2.6 shows how the two
# drift apart.

# %% [markdown]
# A free Colab T4 has 14.74 GiB. The advice that started this course was: "use `enable_model_cpu_offload()`
# plus `enable_attention_slicing()`". We will see that it runs out of memory, and why. The lesson ends with
# the plain recipe that fits (section 6).

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

# Must run before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (section 2.6).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("04_memory"))

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
# Without a GPU this lesson runs on **tiny** random weights: the real classes, small sizes. The memory
# *flow* (what runs when, where each network sits, which tensors grow with what) is real; the sizes are
# not, so the GPU numbers come from full-size runs measured on an H100 under a T4's limits (section 3).
# With a GPU, section 5 measures your own GPU live.
#
# ## 1. Why SVD needs so much memory
#
# ### 1.1 The weights: 4.2 GiB
#
# The real architecture can be built on PyTorch's `meta` device: every shape, no memory. Counting its
# parameters gives the weights' size in fp16 (2 bytes each).

# %%
import torch

from svd_learn import models

GIB = 2**30
architecture = models.full_size_architecture("svd-xt")
weights_gib = {name: models.count_parameters(architecture[name]) * 2 / GIB for name in models.MODEL_COMPONENTS}
for name, gib in weights_gib.items():
    print(f"{name:14}{gib:5.2f} GiB")
print(f"{'total':14}{sum(weights_gib.values()):5.2f} GiB")
assert 4.1 < sum(weights_gib.values()) < 4.3

# %% [markdown]
# **Host RAM while loading: Accelerate's empty weights.** The `meta` device is also how loading saves
# host RAM. A plain PyTorch model is built with random weights first; loading then overwrites them. For a
# moment the host holds the model twice. `accelerate.init_empty_weights()` builds the model on the `meta`
# device instead: shapes, no memory. Then the weights go straight into it. We build the real SVD-XT VAE
# (0.1 B parameters, fp32) both ways and measure the process's memory: its *RSS* (resident set size), the
# host RAM the process really occupies. This runs first in the lesson, before any pipeline was loaded and
# freed: freed memory would be reused and hide the growth.

# %%
import gc

import psutil
from accelerate import init_empty_weights
from diffusers import AutoencoderKLTemporalDecoder


def host_gib():
    """This process's resident memory (RSS), in GiB."""
    return psutil.Process().memory_info().rss / GIB


vae_config = models.real_configs("svd-xt")["vae"]
gc.collect()
start = host_gib()
with init_empty_weights():
    empty_vae = AutoencoderKLTemporalDecoder.from_config(vae_config)
empty_growth, start = host_gib() - start, host_gib()
random_vae = AutoencoderKLTemporalDecoder.from_config(vae_config)
random_growth = host_gib() - start
vae_bytes_gib = models.count_parameters(random_vae) * 4 / GIB
print(f"the weights in fp32: {vae_bytes_gib:.2f} GiB")
print(f"built empty: the process grew by less than 0.05 GiB: {empty_growth < 0.05} (device: {next(empty_vae.parameters()).device.type})")
print(f"built with random weights: the process grew by at least 0.8 x the weights: {random_growth > 0.8 * vae_bytes_gib}")
assert next(empty_vae.parameters()).device.type == "meta" and empty_growth < 0.05 < 0.8 * vae_bytes_gib < random_growth
del empty_vae, random_vae
_ = gc.collect()

# %% [markdown]
# You rarely call it yourself. `from_pretrained` does it when accelerate is installed:
# `low_cpu_mem_usage=True` is its default. diffusers' docstring says it "tries to not use more than 1x model
# size in CPU memory (including peak memory) while loading the model" (`ModelMixin.from_pretrained`).
# Without accelerate diffusers warns, and the host RAM peak rises.

# %% [markdown]
# Two more loading arguments come from Accelerate:
# - `device_map="cuda"` loads the weights onto the GPU instead of the CPU. Section 3 measures it: it saved
#   no host RAM there, and the GPU peak was 1.1 GiB higher.
# - `max_memory={0: "10GiB", "cpu": "8GiB"}` with `device_map="auto"` lets Accelerate split one *model*
#   between the GPU and the CPU. SVD's networks each fit a T4, so the course does not need it.
#
# Back to the GPU. A T4 holds 4.2 GiB of weights easily. So where do the other 10 GiB go?
#
# ### 1.2 The UNet sees every frame twice
#
# With classifier-free guidance (CFG) the pipeline runs the UNet on a conditional and an unconditional
# copy of the video at every step. We capture the UNet's input with a forward hook on tiny weights:

# %%
from PIL import Image

location = models.pipeline_location(source.name, "svd-xt")
checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((width, height))


def load():
    """A fresh pipeline on the CPU: memory plans decide where it goes (offload hooks cannot be removed)."""
    pipe = models.load_pipeline(location)
    pipe.set_progress_bar_config(disable=True)
    return pipe


pipe = load()
pipe.to("cuda" if torch.cuda.is_available() else "cpu")
seen = []
hook = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
num_frames = 6
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=2, output_type="pt")
hook.remove()
print("UNet input (CFG copies, frames, channels, latent height, latent width):", seen[0])
assert seen[0][:2] == (2, num_frames) and len(seen) == 2  # 2 steps, one UNet call each with both copies

# %% [markdown]
# Inside, the UNet flattens that to a batch of 2 x frames images: **50 for SVD-XT**. Its first blocks work
# on the latent grid, 72 x 128 = 9,216 positions for a 576 x 1024 video, with 320 channels. One feature map
# of the real model is 50 x 9,216 x 320 x 2 bytes. The feed-forward layer of each transformer block
# widens that 8x. It is a *GEGLU*, a gated layer: one projection makes two tensors, each 4x wider than its
# input, and multiplies one by a smooth function (GELU) of the other. So the projection's output is 8x
# wider. From the real config:

# %%
unet_config = models.real_configs("svd-xt")["unet"]
batch = 2 * checkpoint.num_frames
positions = (checkpoint.height // 8) * (checkpoint.width // 8)
channels = unet_config["block_out_channels"][0]
feature_map = batch * positions * channels * 2 / GIB
feed_forward = batch * positions * channels * 4 * 2 * 2 / GIB
print(f"one feature map: {feature_map:.2f} GiB; one feed-forward tensor: {feed_forward:.2f} GiB")

# The same widening, captured in the tiny UNet: the GEGLU projection's output has 8x the block's channels.
geglu_shapes = []
geglu = next(m for m in pipe.unet.modules() if type(m).__name__ == "GEGLU")
hook = geglu.proj.register_forward_hook(lambda module, args, out: geglu_shapes.append(tuple(out.shape)))
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, output_type="pt")
hook.remove()
tiny_channels = pipe.unet.config.block_out_channels[0]
print("tiny GEGLU projection output (batch, positions, channels):", geglu_shapes[0])
assert geglu_shapes[0][0] == 2 * num_frames and geglu_shapes[0][2] == 8 * tiny_channels

# %% [markdown]
# A few of those alive at once, plus attention, is why the denoising steps alone peak at **12 GiB** on the
# real model (measured in section 3). Everything in that estimate scales with *frames x pixels*.
#
# ### 1.3 The VAE decodes frames at full resolution
#
# After the last step the VAE turns latents back into pixels. By default the pipeline decodes **all
# frames at once** (`decode_chunk_size=None` means all of them). The decoder's largest tensors live at
# the full image size. We find the largest one in the tiny VAE with hooks, per frame:

# %%
largest = []


def record_largest(module, args, output):
    if isinstance(output, torch.Tensor):
        largest.append((output.numel() // output.shape[0], tuple(output.shape[1:]), type(module).__name__))


vae = pipe.vae
hooks = [m.register_forward_hook(record_largest) for m in vae.decoder.up_blocks.modules()]
latents = torch.randn(1, 4, height // 8, width // 8, device=vae.device, dtype=vae.dtype)  # one frame
with torch.no_grad():
    vae.decode(latents, num_frames=1)
for h in hooks:
    h.remove()
per_frame, shape, where = max(largest)
up_channels = list(reversed(vae.config.block_out_channels))
print(f"largest decoder tensor per frame: {shape} from {where}; the up blocks' channels are {up_channels}")
assert per_frame == up_channels[2] * height * width  # the third up block's channels, at full size

# %% [markdown]
# The same rule for the real VAE: its third up block has 256 channels, so each frame needs a
# 256 x 576 x 1024 fp16 tensor, and decoding 25 frames at once needs 25 of them in one piece:

# %%
from svd_learn import planner, plans

benchmarks = planner.read_benchmarks()
runs = benchmarks["runs"]
real_up_channels = list(reversed(models.real_configs("svd-xt")["vae"]["block_out_channels"]))
all_frames_gib = checkpoint.num_frames * real_up_channels[2] * checkpoint.height * checkpoint.width * 2 / GIB
print(f"25 frames x {real_up_channels[2]} x 576 x 1024 x 2 bytes = {all_frames_gib:.2f} GiB")
seed_oom = next(r for r in runs if r["plan"] == "seed-recipe" and r["oom"])
print("what the seed's recipe hit on the GPU:", seed_oom["error"][:80], "...", seed_oom["error_at"])
assert f"Tried to allocate {all_frames_gib:.2f} GiB" in seed_oom["error"]

# %% [markdown]
# That is the exact allocation the seed's recipe failed on. `decode_chunk_size` is the VAE's main memory
# knob. With 2 frames at a time that tensor is 0.56 GiB instead of 7.03. It is not free: section 2.5 shows
# what it changes in the frames.
#
# ## 2. The tools, one by one
#
# ### 2.1 Where the networks sit: offloading
#
# `pipe.to("cuda")` puts all 4.2 GiB on the GPU. `enable_model_cpu_offload()` keeps the networks in host
# RAM. It moves one *whole network* to the GPU when that network runs. It does this with Accelerate's
# documented hook, `accelerate.cpu_offload_with_hook`, one per network, chained in the order of the
# pipeline's `model_cpu_offload_seq`. Recent diffusers (0.34 and later) refuses to enable it without an
# accelerator:

# %%
try:
    load().enable_model_cpu_offload()
    offload_error = None
except RuntimeError as error:
    offload_error = str(error)
print(offload_error or "a GPU is here: model offload enabled")
assert torch.cuda.is_available() or "requires accelerator" in offload_error

# %% [markdown]
# The order is a public attribute of the pipeline class:

# %%
print("model_cpu_offload_seq:", pipe.model_cpu_offload_seq)
assert pipe.model_cpu_offload_seq.split("->") == ["image_encoder", "unet", "vae"]

# %% [markdown]
# `cpu_offload_with_hook(model, prev_module_hook=...)` is how Accelerate documents the chain. Each hook
# moves its network to the GPU before it runs, and sends the *previous* network back to the CPU. So the
# VAE's hook offloads the UNet. Nothing offloads the VAE until the call ends. The VAE also runs first (it
# encodes your image), so it stays on the GPU beside the UNet during the denoising steps.
#
# The hooks themselves sit in private attributes of the pipeline, so we do not read them. We watch the
# result instead. `measure.measure_call` adds a forward hook (plain PyTorch) to each network and records
# where every network sits when one of them runs. Here is what it recorded on a GPU for four setups (the
# same hooks run live in section 5). `meta` means sequential offload parked the weights on the CPU and
# streams them in layer by layer.

# %%
def trace_table(plan):
    run = next(r for r in runs if r["plan"] == plan and r.get("placement"))
    print(f"{plan}:")
    for stage, where in run["placement"]:
        print(f"  {stage:15}" + "  ".join(f"{name}={place:5}" for name, place in where.items()))
    return dict((stage, where) for stage, where in run["placement"])


docs_trace = trace_table("docs-recipe")
gpu_trace = trace_table("gpu-decode2")
sequential_trace = trace_table("sequential-offload-chunked-decode1")
group_trace = trace_table("group-offload-chunked-decode2")
assert docs_trace["unet"] == {"image_encoder": "cpu", "unet": "cuda", "vae": "cuda"}
assert docs_trace["vae decode"]["unet"] == "cpu" and docs_trace["after the call"]["vae"] == "cpu"
assert set(gpu_trace["unet"].values()) == {"cuda"} and set(sequential_trace["unet"].values()) == {"meta"}

# %% [markdown]
# Four placements, from most GPU memory to least:
# - **gpu**: everything stays on the GPU. Nothing moves; the fastest.
# - **model offload**: one network at a time (the UNet, 2.8 GiB, plus the VAE). The weights travel over
#   *PCIe*, the bus between the host's memory and the GPU. Moving 4.2 GiB over it per call costs a few
#   seconds. The host must hold every weight (about 6 GiB of host RAM, measured).
# - **group offload**: the UNet's blocks come to the GPU one after another, at every step (details below).
# - **sequential offload**: one layer at a time. The least GPU memory, and much slower.

# %% [markdown]
# Group offload is `pipe.unet.enable_group_offload(..., use_stream=True)`. A *CUDA stream* is a queue of GPU
# work; copies on their own stream run while another stream computes. So the next block streams in while the
# previous one computes. Each block goes back to the CPU as soon as it is done (so the trace shows the UNet on
# the CPU even right after it ran). Only the UNet: on the whole pipeline it clashes with the VAE's fp32
# upcast. Each step moves the whole UNet again.
#
# ### 2.2 Attention slicing does nothing for SVD
#
# `pipe.enable_attention_slicing()` only reaches networks that have a `set_attention_slice` method. Neither
# SVD's UNet nor its VAE has one, so the call passes silently and changes nothing:

# %%
pipe = load()
before = dict(pipe.unet.attn_processors)
pipe.enable_attention_slicing()
after = pipe.unet.attn_processors
unchanged = sum(before[name] is after[name] for name in before)
print(f"{unchanged} of {len(before)} attention processors are the same objects after enable_attention_slicing()")
print("has set_attention_slice: unet", hasattr(pipe.unet, "set_attention_slice"), "| vae", hasattr(pipe.vae, "set_attention_slice"))
assert unchanged == len(before) and not hasattr(pipe.unet, "set_attention_slice") and not hasattr(pipe.vae, "set_attention_slice")

# %% [markdown]
# On the GPU (no cap), the seed's recipe (model offload + attention slicing, decode all frames) and the
# same without attention slicing peaked at exactly the same memory:

# %%
def find(plan, cap=memory.T4_GIB, checkpoint="svd-xt", steps=25, **extra):
    return next(r for r in runs if r["plan"] == plan and r["cap_gib"] == cap and r["checkpoint"] == checkpoint
                and r["steps"] == steps and all(r.get(k) == v for k, v in extra.items()))


with_slicing, without = find("seed-recipe", cap=None), find("model-offload-decode-all", cap=None)
for run in (with_slicing, without):
    print(f"{run['plan']:26} peak allocated {run['peak_allocated_gib']:.2f} GiB, reserved {run['peak_reserved_gib']:.2f} GiB")
assert abs(with_slicing["peak_allocated_gib"] - without["peak_allocated_gib"]) < 0.01

# %% [markdown]
# ### 2.3 The temporal VAE has no slicing or tiling
#
# Image pipelines save VAE memory with `pipe.vae.enable_slicing()` and `enable_tiling()`. SVD's temporal
# VAE refuses both:

# %%
vae_errors = {}
for method in ("enable_slicing", "enable_tiling"):
    try:
        getattr(pipe.vae, method)()
    except NotImplementedError as error:
        vae_errors[method] = str(error)
    print(f"vae.{method}():", vae_errors.get(method, "no error"))
assert set(vae_errors) == {"enable_slicing", "enable_tiling"}

# %% [markdown]
# ### 2.4 Forward chunking: the feed-forward layers one sample at a time
#
# `pipe.unet.enable_forward_chunking()` runs every feed-forward layer on one image of the batch at a time.
# So the 8x-wide tensor of section 1.2 exists for one image, not for 2 x frames. The result should be the
# same. We check both: the same call, with the same seed, without and with chunking.

# %%
device = "cuda" if torch.cuda.is_available() else "cpu"
pipe = load()
pipe.to(device)


def one_step_frames():
    """One denoising step with a fixed seed, decoded 2 frames at a time; frames as a tensor in [0, 1]."""
    return pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, decode_chunk_size=2,
                output_type="pt", generator=torch.manual_seed(0)).frames


plain_frames = one_step_frames()
pipe.unet.enable_forward_chunking()  # the library call itself: chunk_size=1 along the batch (dim 0)
geglu = next(m for m in pipe.unet.modules() if type(m).__name__ == "GEGLU")
chunked_shapes = []
hook = geglu.proj.register_forward_hook(lambda module, args, out: chunked_shapes.append(tuple(out.shape)))
chunked_frames = one_step_frames()
hook.remove()
difference = (plain_frames - chunked_frames).abs().max().item()
print(f"GEGLU projection: {len(chunked_shapes)} calls of {chunked_shapes[0]} (without chunking: 1 call of {geglu_shapes[0]})")
print(f"largest pixel difference, with and without chunking: {difference:.5f} (pixels are 0 to 1)")
assert len(chunked_shapes) == 2 * num_frames and chunked_shapes[0][0] == 1
assert difference < 0.01  # the same frames, up to rounding (fp16 on a GPU rounds a little differently in pieces)

# %% [markdown]
# ### 2.5 `decode_chunk_size`: how many frames the VAE decodes at once
#
# Count the decoder's calls and the frames in each:

# %%
decoder_batches = []
hook = pipe.vae.decoder.register_forward_pre_hook(lambda module, args: decoder_batches.append(args[0].shape[0]))
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, decode_chunk_size=2, output_type="pt")
hook.remove()
print("frames per decoder call with decode_chunk_size=2:", decoder_batches)
assert decoder_batches == [2] * (num_frames // 2)

# %% [markdown]
# **What a small chunk costs.** SVD's VAE decoder is *temporal*: some of its layers mix neighbouring
# frames, to keep the video smooth. But each chunk is decoded alone. Frames in different chunks never see
# each other. The diffusers docs warn about it ([SVD guide](https://huggingface.co/docs/diffusers/using-diffusers/svd)):
# with `decode_chunk_size=1` "the video might have some flickering", and a smaller chunk "slightly leads to
# video quality deterioration".

# %% [markdown]
# We measure it. One set of latents for all 25 frames (a few denoising steps), then the same latents decoded
# with `decode_chunk_size` 1, 2, 8 and 25. `pipe.decode_latents` is the pipeline's own decode loop. Two
# numbers per chunk size:
# - how far its frames are from the all-at-once decode (mean absolute pixel difference);
# - the mean change between neighbouring frames, across a chunk border and inside a chunk.
#
# Decoding 25 full-size frames at once needs the 7.03 GiB tensor of section 1.3: it does not fit a T4.
# So the cell skips chunk size 25 when one piece would pass 2 GiB, and compares with chunk size 8 instead.
# Latents and decoding, with the real model:

# %%
from svd_learn import t4

decode_steps = 10 if torch.cuda.is_available() else 1  # more steps give real-looking latents; a CPU is slow
print(f"{decode_steps} steps, then 25 frames decoded 3 times and 8 once more:",
      t4.describe_estimate(unet_steps=decode_steps, decoded_frames=3 * checkpoint.num_frames + 8))

# %%
frames_in_video = checkpoint.num_frames
latents = pipe(image, height=height, width=width, num_frames=frames_in_video, num_inference_steps=decode_steps,
               output_type="latent", generator=torch.manual_seed(0)).frames
one_piece_gib = frames_in_video * real_up_channels[2] * height * width * 2 / GIB  # the largest tensor, decoding all at once
chunk_sizes = [1, 2, 8] + ([frames_in_video] if one_piece_gib < 2 else [])
if len(chunk_sizes) == 3:
    print(f"chunk size {frames_in_video} skipped: one piece would need {one_piece_gib:.2f} GiB")
decoded = {}
with torch.no_grad():
    for size in chunk_sizes:
        decoded[size] = ((pipe.decode_latents(latents, frames_in_video, size) + 1) / 2).clamp(0, 1).cpu()  # pixels 0 to 1
reference = max(chunk_sizes)
print(f"{'chunk':>5}{'diff. from chunk ' + str(reference):>22}{'change at a border':>20}{'change inside':>15}")
for size, frames in decoded.items():
    change = (frames[:, :, 1:] - frames[:, :, :-1]).abs().mean(dim=(0, 1, 3, 4))  # change[i]: frame i to frame i + 1
    border = [change[i].item() for i in range(frames_in_video - 1) if (i + 1) % size == 0]
    inside = [change[i].item() for i in range(frames_in_video - 1) if (i + 1) % size != 0]
    mean = lambda values: f"{sum(values) / len(values):.4f}" if values else "-"
    print(f"{size:5}{(frames - decoded[reference]).abs().mean().item():22.4f}{mean(border):>20}{mean(inside):>15}")
assert all((decoded[size] - decoded[reference]).abs().max() > 0 for size in chunk_sizes if size != reference)

# %% [markdown]
# Every chunk size gives different pixels: the chunk is not only a memory setting. The check below shows
# why. The first 8 frames decoded with `decode_chunk_size=8` are exactly the first 8 latents decoded alone.
# No frame after them had any say.

# %%
with torch.no_grad():
    first_chunk_alone = ((pipe.decode_latents(latents[:, :8], 8, 8) + 1) / 2).clamp(0, 1).cpu()
print("first chunk of 8, decoded alone, is identical:", torch.equal(first_chunk_alone, decoded[8][:, :, :8]))
assert torch.equal(first_chunk_alone, decoded[8][:, :, :8])

# %% [markdown]
# On tiny weights the frames are noise, so read only the structure there: the pixels differ, and chunks
# are independent. With the real model, the table is the real cost. If a border change is clearly larger
# than an inside change, you would see it as a jump every `decode_chunk_size` frames.

# %% [markdown]
# **Why the course decodes 2 frames at a time on a T4.** The planner (section 4) measured two plans on a
# T4 budget. Both keep the whole model on the GPU. `gpu-decode8` peaked at 13.42 GiB reserved, `gpu-decode2`
# at 12.56 GiB. Both decoded in about 2.5 s. The chunk changes the video: the VAE's temporal layers see only
# the frames of one chunk. So when the speed is the same, the planner takes the largest chunk that fits with
# room to spare. A notebook that already ran a pipeline peaks higher than a fresh process: in the course's
# Colab rehearsal, `gpu-decode8` reached 14.55 GiB in Lesson 5, over the 14.0 a T4 allows. So the planner
# takes 8 frames only with 1.1 GiB to spare (from 16 GiB of GPU memory up), and 2 frames on a T4.

# %%
decode8 = find("gpu-decode8", source="h100-main.json", load_kwargs={})
decode2 = find("gpu-decode2", source="h100-planner.json")
print(f"gpu-decode8: {decode8['peak_reserved_gib']:.2f} GiB, decode {decode8['decode_seconds']:.1f} s | "
      f"gpu-decode2: {decode2['peak_reserved_gib']:.2f} GiB, decode {decode2['decode_seconds']:.1f} s")
assert decode8["peak_reserved_gib"] <= memory.T4_SAFE_PEAK_GIB and decode2["peak_reserved_gib"] < decode8["peak_reserved_gib"] - 0.8
assert abs(decode8["decode_seconds"] - decode2["decode_seconds"]) < 0.1 * decode2["decode_seconds"]

# %% [markdown]
# ### 2.6 Expandable segments: less wasted memory
#
# PyTorch keeps freed GPU memory *reserved* for reuse. Tensors of changing sizes leave gaps in it
# (fragmentation), so *reserved* grows past *allocated*, and out-of-memory errors come while memory is
# nominally free. `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` lets the allocator grow segments
# instead of leaving gaps. PyTorch reads it **once, when CUDA starts**: set it first (the setup cell did,
# with `memory.enable_expandable_segments()`, which refuses once CUDA has started). Every measurement below
# used it.

# %%
import os

print(f"{memory.ALLOC_CONF_VARIABLE}={os.environ[memory.ALLOC_CONF_VARIABLE]}")
assert memory.expandable_segments_enabled()

# %% [markdown]
# ### 2.7 Reading an out-of-memory message
#
# Running out of GPU memory is the first error most SVD learners meet. PyTorch's message says what went wrong
# in numbers. Here is a real one: the seed's recipe of section 1.3, on the H100 capped like a T4 (section 3).
# The course stored its first 300 characters. One sentence per line:

# %%
print(seed_oom["error"].replace(". ", ".\n").replace("; ", ";\n"))
print("\nraised during:", seed_oom["error_at"])

# %% [markdown]
# Line by line:
# 1. **Tried to allocate 7.03 GiB**: what one operation asked for, in one piece. Here it is the decode
#    tensor of section 1.3: 25 frames at once.
# 2. **total capacity ... of which ... is free**: the whole card. On a real T4 this line says 14.74 GiB, and
#    the free part is small. This run was an H100 under a cap, so read line 4 instead.
# 3. **this process has 13.33 GiB memory in use**: everything the process holds on the GPU. That is PyTorch's
#    reserved memory, plus the *CUDA context* (the GPU's copy of the libraries' code and state, outside
#    PyTorch's pool).

# %% [markdown]
# 4. **14.74 GiB allowed**: the cap. Free under it: 14.74 - 13.33 = 1.41 GiB, far less than 7.03.
# 5. **12.55 GiB is allocated by PyTorch**: the live tensors (the weights and the activations).
# 6. **107.71 MiB is reserved by PyTorch but unallocated**: reserved but free, the gaps of section 2.6. The
#    full message goes on: "If reserved but unallocated memory is large try setting
#    PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation."

# %% [markdown]
# The same numbers, read by code: what was asked for, what was free, and where the rest went.

# %%
import re


def gib(pattern):
    """The first size after `pattern` in the message, in GiB."""
    value, unit = re.search(pattern + r" ([\d.]+) (GiB|MiB)", seed_oom["error"]).groups()
    return float(value) / (1024 if unit == "MiB" else 1)


asked, in_use, allowed = gib("Tried to allocate"), gib("this process has"), float(re.search(r"([\d.]+) GiB allowed", seed_oom["error"])[1])
allocated, gaps = gib("Of the allocated memory"), gib("PyTorch, and")
print(f"asked {asked:.2f} GiB | free under the cap {allowed - in_use:.2f} GiB | reserved but unallocated {gaps:.2f} GiB "
      f"| outside PyTorch (CUDA context) {in_use - allocated - gaps:.2f} GiB")
assert asked > allowed - in_use and gaps < 0.5 and abs(asked - all_frames_gib) < 0.01

# %% [markdown]
# **What to change first.**
# - *The request is far larger than what is free* (here 7.03 GiB against 1.41): make that one operation
#   smaller. The message says how large, and the traceback's last diffusers lines say where. In the VAE
#   decode: a smaller `decode_chunk_size` (2 frames need 0.56 GiB). In the UNet: fewer frames, then forward
#   chunking (section 2.4).
# - *"Reserved but unallocated" is large* (GiBs, not MiBs): memory is lost in gaps. Set expandable segments
#   before CUDA starts (section 2.6).
# - *Only then* offload: it frees the most, and costs the most time (section 3).
#
# Here the gaps were 0.11 GiB, so expandable segments would not have saved this run. A smaller decode chunk did.

# %% [markdown]
# ## 3. Measured: full-size SVD-XT under a T4's limits
#
# `benchmarks/run_plans.py` built the real SVD-XT architecture from its real configs with random fp16
# weights (memory and speed depend on the shapes, not the values), then ran every plan in its own process
# on an H100 capped like a T4 (`memory.emulate_t4()`: 14.74 GiB, no FlashAttention, fp16). 25 frames,
# 576 x 1024, 25 steps. Peak = `torch.cuda.max_memory_reserved`, host = the process's peak RSS, time = the
# pipeline call.

# %%
machine = benchmarks["machine"]
print(f"measured on {machine['gpu']}, torch {machine['torch']}, diffusers {machine['diffusers']}\n")
t4_runs = [r for r in runs if r["cap_gib"] == memory.T4_GIB and r["checkpoint"] == "svd-xt" and not r.get("warm_up")]
print(f"{'run':8}{'plan':36}{'steps':>6}{'reserved':>9}{'alloc.':>8}{'host':>6}{'call s':>8}{'s/step':>8}  result")
for r in t4_runs:
    timing = "" if r["oom"] else f"{r['seconds']:8.1f}{r['seconds_per_step']:8.2f}"
    note = " (loaded with device_map='cuda')" if r.get("load_kwargs") else ""
    print(f"{r['source'].split('-')[1].split('.')[0]:8}{r['plan']:36}{r['steps']:6}{r['peak_reserved_gib']:9.2f}"
          f"{r['peak_allocated_gib']:8.2f}{r['host_rss_gib']:6.1f}{timing:16}  {'OUT OF MEMORY' if r['oom'] else 'ok'}{note}")

# %% [markdown]
# Two runs on two machines of the same kind. `main` measured every plan. `planner` re-ran the planner's
# choice beside both recipes. Sequential offload was measured for 4 steps only: at 6 to 7 s per step on an
# H100, a full call takes 3 minutes. Three `main` runs loaded the weights straight onto the GPU
# (`from_pretrained(..., device_map="cuda")`). That saved no host memory and cost 1.1 GiB more at
# gpu-decode8's peak. So the plans load onto the CPU, then move the pipeline.

# %% [markdown]
# **Read the seconds with care.** The cap makes an H100 run out of memory where a T4 would. It does not
# make it as slow as a T4: a T4 computes many times slower (`t4.describe_estimate` gives the course's
# estimate). The times compare plans on the H100. On a real T4 the ratios may differ.
#
# Now the same runs as pictures: peak memory per plan against the T4's 14.74 GiB, and the time per call.

# %%
import matplotlib.pyplot as plt

latest = {}
for r in sorted(t4_runs, key=lambda r: not r.get("load_kwargs")):  # one bar per plan: its latest run, loaded on the CPU if any
    latest[r["plan"]] = r
order = sorted(latest.values(), key=lambda r: -r["peak_reserved_gib"])
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
colors = ["tab:red" if r["oom"] else "tab:blue" for r in order]
left.barh([r["plan"] for r in order], [r["peak_reserved_gib"] for r in order], color=colors)
left.axvline(memory.T4_GIB, color="black", linestyle="--", label="T4: 14.74 GiB")
left.axvline(memory.T4_SAFE_PEAK_GIB, color="gray", linestyle=":", label="safe peak: 14.0 GiB")
left.set_xlabel("peak reserved GPU memory, GiB (red: ran out)")
left.invert_yaxis()
left.legend(loc="lower right")
timed = [r for r in order if not r["oom"]]
seconds = [r["seconds"] if r["steps"] == 25 else r["prepare_seconds"] + 25 * r["seconds_per_step"] + r["decode_seconds"] for r in timed]
bars = right.barh([r["plan"] for r in timed], seconds, color="tab:green")
right.bar_label(bars, fmt="%.0f s", padding=3)
right.set_xlim(0, max(seconds) * 1.15)
right.set_xlabel("seconds per 25-step call on the H100 (sequential: from 4 steps)")
right.invert_yaxis()
fig.suptitle(f"SVD-XT, 25 frames, 576x1024, under a T4 budget on {machine['gpu']}")
fig.tight_layout()
plt.show()

# %% [markdown]
# What the table says, checked:

# %%
planner_run = [r for r in t4_runs if r["source"] == "h100-planner.json"]
docs = next(r for r in planner_run if r["plan"] == "docs-recipe")
seed = next(r for r in planner_run if r["plan"] == "seed-recipe")
chosen = next(r for r in planner_run if r.get("chosen_by_planner"))
print(f"seed recipe: out of memory {seed['error_at']}")
print(f"docs recipe: fits, {docs['peak_reserved_gib']:.1f} GiB, {docs['seconds']:.1f} s, host {docs['host_rss_gib']:.1f} GiB")
print(f"{chosen['plan']}: fits, {chosen['peak_reserved_gib']:.1f} GiB, {chosen['seconds']:.1f} s, host {chosen['host_rss_gib']:.1f} GiB: "
      f"{docs['seconds'] / chosen['seconds']:.2f}x the docs recipe's speed, in the same run")
assert seed["oom"] and "VAE decode" in seed["error_at"]
assert plans.PLANS[chosen["plan"]].placement == "gpu" and chosen["peak_reserved_gib"] <= memory.T4_SAFE_PEAK_GIB
assert chosen["host_rss_gib"] < docs["host_rss_gib"] and docs["seconds"] / chosen["seconds"] >= 1.25

# %% [markdown]
# - The seed's recipe denoises fine (model offload), then runs out of memory decoding all 25 frames at once.
# - The diffusers documentation's low-memory recipe (model offload + forward chunking + `decode_chunk_size=2`)
#   fits with room to spare, but moves the weights every call and chunks the feed-forward layers it does
#   not need to chunk on a T4.
# - Keeping everything on the GPU and decoding a few frames at a time fits a T4 too. On the capped H100 it
#   was 1.25x faster. It also needs less host RAM (free Colab has 12.7 GiB): the weights do not have to stay
#   in host memory. Most of the gain is in the decode (2.6 s against 4.8 to 5.1 s) and in not moving
#   weights. Per step it is 11%.

# %% [markdown]
# - Sequential offload needs the least GPU memory (4.6 GiB) and is 7x slower per step: for small GPUs only.
# - Group offload of the UNet, as set up here (one block per group, CUDA streams), allocated less than
#   model offload (6.3 GiB against 7.5). But it *reserved* more (its streams fragment memory), ran slower
#   and used more host RAM. Reserved memory is what runs out, so the planner never picks it.

# %%
group = find("group-offload-chunked-decode2")
model_offload = find("docs-recipe", source="h100-main.json")
for r in (group, model_offload):
    print(f"{r['plan']:31} allocated {r['peak_allocated_gib']:.2f}  reserved {r['peak_reserved_gib']:.2f} GiB  "
          f"{r['seconds']:.1f} s  host {r['host_rss_gib']:.1f} GiB")
assert group["peak_allocated_gib"] < model_offload["peak_allocated_gib"]
assert group["peak_reserved_gib"] > model_offload["peak_reserved_gib"] and group["seconds"] > model_offload["seconds"]
assert group["host_rss_gib"] > model_offload["host_rss_gib"]

# %% [markdown]
# ## 4. The planner: the fastest plan predicted to fit
#
# `planner.choose_plan` reads these measurements (package data, with the machine and versions) and picks, for
# a GPU and host RAM, the fastest plan whose predicted peak fits, keeping 0.74 GiB free for the CUDA context
# (so 14.0 GiB on a T4). For other sizes it scales the activations: denoising with frames x pixels,
# decoding with the decode chunk x pixels.

# %%
print(f"{'GPU GiB':>8}  {'plan':36}{'predicted peak GiB':>19}  fits")
for vram in (None, 8, 12, memory.T4_GIB, 16, 24, 40, 80):
    choice = planner.choose_plan(vram, 12.7)
    peak = "-" if choice.predicted_peak_gib is None else f"{choice.predicted_peak_gib:.2f}"
    print(f"{vram or 'none':>8}  {choice.plan.name:36}{peak:>19}  {choice.fits}")
t4_choice = planner.choose_plan(memory.T4_GIB, 12.7)
assert t4_choice.plan.placement == "gpu" and t4_choice.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB

# %% [markdown]
# A plan that another plan beats on GPU memory, host RAM and time at once is never tried, not even as a
# fallback: `planner.fallback_order()` leaves it out.

# %%
for name in plans.PLANS:
    better = planner.dominated_by(name)
    if better and not plans.PLANS[name].baseline:
        print(f"{name} is never tried: {better} is as good or better on every count")
print("fallback order on out-of-memory:", " -> ".join(planner.fallback_order()))
assert planner.dominated_by("group-offload-chunked-decode2") == "model-offload-chunked-decode2"

# %% [markdown]
# It explains itself (the same text as `svd-learn plan --vram 14.74 --host-ram 12.7`):

# %%
print(t4_choice.explain())

# %% [markdown]
# Were the planner's choices right? The second GPU run ran each choice under its budget, beside both recipes:

# %%
checks = [r for r in runs if r.get("chosen_by_planner") and r["source"] == "h100-planner.json"]
for r in checks:
    print(f"{r['checkpoint']:7}{r['frames']:3} frames, cap {r['cap_gib']:5} GiB: {r['plan']:36} peak {r['peak_reserved_gib']:5.2f} GiB, "
          f"{'OUT OF MEMORY' if r['oom'] else 'fits'}")
    assert not r["oom"] and r["peak_reserved_gib"] <= r["cap_gib"] - planner.read_calibration()["gpu_reserve_gib"]
svd14 = next(r for r in checks if r["checkpoint"] == "svd")
predicted = planner.predict_peak_gib(svd14["plan"], svd14["frames"], svd14["height"], svd14["width"])
print(f"14-frame SVD: predicted {predicted:.2f} GiB, measured {svd14['peak_reserved_gib']:.2f} GiB")
assert svd14["peak_reserved_gib"] <= predicted

# %% [markdown]
# ## 5. The recipe the capstone uses, measured live
#
# This is what `svd-learn generate` does (lesson 5), in five lines: expandable segments before CUDA starts
# (the setup cell), the planner's choice for this machine, a fresh pipeline, `apply_plan`, and the call with
# the plan's `decode_chunk_size`. On a GPU, `measure_run` records peak memory and time on your GPU (fewer
# steps: memory does not depend on them). Here, without one, the same code runs the `cpu` plan on tiny
# weights and records host memory, time, and where each network sat.

# %%
from svd_learn import t4

print("8 steps on 25 frames:", t4.describe_estimate(unet_steps=8))

# %%
import gc

from svd_learn import measure
from svd_learn.environment import probe
from svd_learn.parameters import GenerationParameters

del pipe, vae, geglu  # free the earlier pipelines before measuring
gc.collect()
env = probe()
choice = planner.choose_plan(env.vram_gib, env.host_ram_gib, "svd-xt", checkpoint.num_frames, height, width)
device = "cuda" if env.cuda_available else "cpu"
pipe = load()
plans.apply_plan(pipe, choice.plan, device)
params = GenerationParameters(num_frames=checkpoint.num_frames, height=height, width=width,
                              num_inference_steps=8 if device == "cuda" else 2,  # memory does not depend on steps
                              decode_chunk_size=choice.plan.decode_chunk_size)
measurement = measure.measure_call(pipe, image, params, device=device, output_type="pt", trace=True).measurement
print("plan:", choice.plan.name, "|", choice.reason.split(":")[0])
for stage, where in measurement.placement:
    print(f"  {stage:15}" + "  ".join(f"{name}={place}" for name, place in where.items()))
assert measurement.frames_finite and [stage for stage, _ in measurement.placement][:2] == ["image_encoder", "vae encode"]

# %% [markdown]
# What it measured (the values change from machine to machine, so this cell prints only the names; print
# `numbers` to see them). On a CPU the GPU fields stay empty:

# %%
numbers = {k: v for k, v in measurement.to_dict().items() if k != "placement"}
print("measured:", ", ".join(k for k, v in numbers.items() if v is not None))
print("empty here:", ", ".join(k for k, v in numbers.items() if v is None) or "nothing")
assert numbers["seconds"] > 0 and numbers["host_rss_gib"] > 0
assert (numbers["peak_reserved_gib"] is not None) == (device == "cuda")

# %% [markdown]
# On a T4 with the real weights, the planner's choice (section 4 printed it) keeps the peak under 14 GiB. On a
# bigger GPU, wrap the call in `with memory.emulate_t4():` to see a T4's limits.
#
# ## 6. The plain recipe for a T4
#
# The planner's T4 choice, as plain diffusers calls you can copy into any Colab notebook. No course code:
#
# ```python
# import os
# os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"  # 1. before CUDA starts (section 2.6)
#
# import torch
# from diffusers import StableVideoDiffusionPipeline
# from diffusers.utils import export_to_video, load_image
#
# pipe = StableVideoDiffusionPipeline.from_pretrained(                 # 2. fp16 files, fp16 in memory
#     "stabilityai/stable-video-diffusion-img2vid-xt", torch_dtype=torch.float16, variant="fp16")
# pipe.to("cuda")                                                      # 3. everything on the GPU (section 3)
# image = load_image("my_photo.jpg").resize((1024, 576))               #    the size SVD was trained at
# frames = pipe(image, decode_chunk_size=2, generator=torch.manual_seed(42)).frames[0]  # 4. 2 frames per decode
# export_to_video(frames, "my_video.mp4", fps=7)                       # 5. the video
# ```

# %% [markdown]
# - `torch_dtype=torch.float16` works on every diffusers version. diffusers 0.40 added the new name
#   `dtype=`, but Colab's diffusers 0.39 ignores `dtype=` and loads fp32 (lesson 1 shows the trap).
# - `.resize((1024, 576))` stretches a photo of another shape, and a small photo gets blurred by the
#   upscaling. Lesson 2's `prepare_image` crops instead of stretching.
#
# The recipe lives in one place: the planner. This cell checks that the block above is still its T4 choice.
# If new measurements change the planner's mind, the cell fails, and the block must change with it.

# %%
t4_plan = planner.choose_plan(memory.T4_GIB, 12.7).plan
print(f"the planner's T4 choice: {t4_plan.name} ({t4_plan.description})")
assert t4_plan.placement == "gpu" and not t4_plan.forward_chunking  # the block's pipe.to("cuda"), nothing chunked
assert t4_plan.decode_chunk_size == 2  # the block's decode_chunk_size=2

# %% [markdown]
# **On a smaller GPU, ask the planner.** `svd-learn plan` prints its choice for any GPU, with the predicted peak
# and the time measured on the calibration GPU. Here is its answer for an 8 GiB card with Colab's 12.7 GiB of
# RAM (`planner.plan_command` prints what `svd-learn plan --vram 8 --host-ram 12.7` prints). Then the docs'
# recipe of section 3, which peaked above 8 GiB:

# %%
exit_code = planner.plan_command(8, 12.7, "svd-xt", None, 576, 1024)
print(f"the docs' recipe ({docs['plan']}) peaked at {docs['peak_reserved_gib']:.2f} GiB reserved on the capped H100")
small = planner.choose_plan(8, 12.7)
assert exit_code == 0 and small.fits and docs["peak_reserved_gib"] > 8 > small.predicted_peak_gib

# %% [markdown]
# Lesson 5 runs the block above, then shows what the course's `generate_video` adds around it.
#
# ## Things to try
# - `svd-learn plan --vram 8 --host-ram 12.7`, then `--frames 14`: what changes, and why?
# - In section 2.5, set `decode_chunk_size=None` and count the decoder calls.
# - On a GPU: measure `plans.apply_plan(load(), "docs-recipe", "cuda")` under `memory.emulate_t4()` and
#   compare with section 3.
# - Run `benchmarks/run_plans.py --jobs smoke` on a big GPU (see benchmarks/README.md).

# %% [markdown]
# ## Summary
# - SVD's memory is activations: the UNet runs on 2 x frames images (CFG), and the VAE decodes at full size;
#   decoding all 25 frames at once needs one 7.03 GiB tensor.
# - `decode_chunk_size` is the VAE's memory knob; `unet.enable_forward_chunking()` cuts the feed-forward layers.
# - `enable_attention_slicing()` changes nothing for SVD; the temporal VAE has no slicing or tiling.
# - Offloading (model, group, sequential) trades time and host RAM for GPU memory.
# - An out-of-memory message says what was asked for and what was free: shrink that operation first.
# - On a T4: the planner's choice (section 4), with expandable segments on. Capped like a T4, it ran 1.25x
#   faster than the docs' low-memory recipe (section 3).
# - A small `decode_chunk_size` changes the pixels: each chunk is decoded without the other frames.
# - `planner.choose_plan` / `svd-learn plan` pick the fastest plan that fits and say why.

# %% [markdown]
# ## Read next
# - Accelerate's [Big Model Inference](https://huggingface.co/docs/accelerate/usage_guides/big_modeling): read how
#   `init_empty_weights` builds a model without memory (section 1.1 here), then what `device_map="auto"` and
#   `max_memory` do. Look for the offload hooks: `enable_model_cpu_offload` is built on them (section 2.1).
# - diffusers' [Reduce memory usage](https://huggingface.co/docs/diffusers/optimization/memory): read its parts
#   on offloading (CPU, model and group offloading), and on VAE slicing and tiling. Check each against this
#   lesson: which ones reach SVD's UNet and temporal VAE, and what each cost here.
