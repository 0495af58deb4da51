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
#
# **The idea.** GPU memory holds two things: the *weights* (4.2 GiB for SVD-XT in fp16) and the
# *activations* (the intermediate tensors of one call). For SVD the activations are the problem: the UNet
# sees every frame twice per step, and the VAE decodes frames at full resolution. You can move weights
# off the GPU (offloading) or cut activations into pieces (chunking). Each costs time; the right mix
# depends on how much memory you have.
#
# A free Colab T4 has 14.74 GiB. The advice that started this course was "use `enable_model_cpu_offload()`
# plus `enable_attention_slicing()`". We will see that it runs out of memory, and why.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn import memory

# Must run before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (section 2.6).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()

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
weights_gib = {name: models.count_parameters(architecture[name]) * 2 / GIB for name in memory.COMPONENTS}
for name, gib in weights_gib.items():
    print(f"{name:14}{gib:5.2f} GiB")
print(f"{'total':14}{sum(weights_gib.values()):5.2f} GiB")
assert 4.1 < sum(weights_gib.values()) < 4.3

# %% [markdown]
# A T4 holds that easily. So where do the other 10 GiB go?
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
# widens that 8x (GEGLU: 4x wider, and twice that before its gate). From the real config:

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
benchmarks = memory.read_benchmarks()
runs = benchmarks["runs"]
real_up_channels = list(reversed(models.real_configs("svd-xt")["vae"]["block_out_channels"]))
all_frames_gib = checkpoint.num_frames * real_up_channels[2] * checkpoint.height * checkpoint.width * 2 / GIB
print(f"25 frames x {real_up_channels[2]} x 576 x 1024 x 2 bytes = {all_frames_gib:.2f} GiB")
seed_oom = next(r for r in runs if r["plan"] == "seed-recipe" and r["oom"])
print("what the seed's recipe hit on the GPU:", seed_oom["error"][:80], "...", seed_oom["error_at"])
assert f"Tried to allocate {all_frames_gib:.2f} GiB" in seed_oom["error"]

# %% [markdown]
# That is the exact allocation the seed's recipe failed on. `decode_chunk_size` is **the** memory knob of
# the VAE: with 2 frames at a time that tensor is 0.56 GiB instead of 7.03.
#
# ## 2. The tools, one by one
#
# ### 2.1 Where the networks sit: offloading
#
# `pipe.to("cuda")` puts all 4.2 GiB on the GPU. `enable_model_cpu_offload()` keeps the networks in host
# RAM and moves one *whole network* to the GPU when it runs, using Accelerate hooks
# (`accelerate.cpu_offload_with_hook`) chained in the order `model_cpu_offload_seq`. Current diffusers (0.42
# here) refuses to enable it without an accelerator:

# %%
try:
    load().enable_model_cpu_offload()
    offload_error = None
except RuntimeError as error:
    offload_error = str(error)
print(offload_error or "a GPU is here: model offload enabled")
assert torch.cuda.is_available() or "requires accelerator" in offload_error

# %% [markdown]
# Given `device="cpu"` explicitly, it installs the same hooks (they move nothing, since the "GPU" is the
# CPU). That lets us look at the chain: each network's hook offloads the network *before* it.

# %%
pipe = load()
pipe.enable_model_cpu_offload(device="cpu")
modules = {id(getattr(pipe, name)): name for name in memory.COMPONENTS}
chain = [(modules[id(hook.model)], modules[id(hook.hook.prev_module_hook.model)] if hook.hook.prev_module_hook else None)
         for hook in pipe._all_hooks]
for name, previous in chain:
    print(f"before {name:14} runs, its hook offloads: {previous}")
print("model_cpu_offload_seq:", pipe.model_cpu_offload_seq)
assert [name for name, _ in chain] == pipe.model_cpu_offload_seq.split("->")

# %% [markdown]
# So the VAE's hook offloads the UNet, and nothing offloads the VAE until the call ends: during the
# denoising steps the VAE still sits beside the UNet. Here is where each network was at each stage of
# real calls on the GPU, traced with forward hooks by `memory.measure_run` (the same hooks run live in
# section 5). `meta` means sequential offload parked the weights on the CPU and streams them layer by
# layer.

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
# - **model offload**: one network at a time (the UNet, 2.8 GiB, plus the VAE). Moving 4.5 GB over PCIe per
#   call costs a few seconds, and the host must hold every weight (about 6 GiB of host RAM, measured).
# - **group offload** (`pipe.unet.enable_group_offload(..., use_stream=True)`): the UNet's blocks stream in
#   while the previous block computes, and go back to the CPU as soon as they are done (so the trace shows
#   the UNet on the CPU even right after it ran). Only the UNet: on the whole pipeline it clashes with the
#   VAE's fp32 upcast. Each step moves the whole UNet again.
# - **sequential offload**: one layer at a time. The least GPU memory, and much slower.
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
# `pipe.unet.enable_forward_chunking()` runs every feed-forward layer on one image of the batch at a time,
# so the 8x-wide tensor of section 1.2 exists for one image instead of 2 x frames. Same result, more
# (smaller) kernel launches:

# %%
pipe = load()
memory.apply_plan(pipe, "gpu-chunked-decode2", "cuda" if torch.cuda.is_available() else "cpu")
geglu = next(m for m in pipe.unet.modules() if type(m).__name__ == "GEGLU")
chunked_shapes = []
hook = geglu.proj.register_forward_hook(lambda module, args, out: chunked_shapes.append(tuple(out.shape)))
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, output_type="pt")
hook.remove()
print(f"GEGLU projection: {len(chunked_shapes)} calls of {chunked_shapes[0]} (without chunking: 1 call of {geglu_shapes[0]})")
assert len(chunked_shapes) == 2 * num_frames and chunked_shapes[0][0] == 1

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
# Two runs on two machines of the same kind: `main` measured every plan, `planner` re-ran the planner's
choice beside both recipes. Sequential offload was measured for 4 steps only: at 6 to 7 s per step on an
H100, a full call takes 3 minutes. Three `main` runs loaded the weights straight onto the GPU
(`from_pretrained(..., device_map="cuda")`): that saved no host memory and cost 1.1 GiB more at gpu-decode8's
peak, so the plans load onto the CPU and `apply_plan` moves them.
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
assert memory.PLANS[chosen["plan"]].placement == "gpu" and chosen["peak_reserved_gib"] <= memory.T4_SAFE_PEAK_GIB
assert chosen["host_rss_gib"] < docs["host_rss_gib"] and docs["seconds"] / chosen["seconds"] >= 1.25

# %% [markdown]
# - The seed's recipe denoises fine (model offload), then runs out of memory decoding all 25 frames at once.
# - The diffusers documentation's low-memory recipe (model offload + forward chunking + `decode_chunk_size=2`)
#   fits with room to spare, but moves the weights every call and chunks the feed-forward layers it does
#   not need to chunk on a T4.
# - Keeping everything on the GPU and decoding a few frames at a time fits a T4 too, and is faster. It also
#   needs less host RAM (free Colab has 12.7 GB): the weights do not have to stay in host memory. Most of
#   the gain is in the decode (2.6 s against 4.8 to 5.1 s) and in not moving weights; per step it is 11%.
# - Sequential offload needs the least GPU memory (4.6 GiB) and is 7x slower per step: for small GPUs only.
# - Group offload of the UNet, as set up here (one block per group, CUDA streams), did worse than model
#   offload on all three counts: a higher reserved peak (its streams fragment memory), slower, more host RAM.
#
# ## 4. The planner: the fastest plan predicted to fit
#
# `memory.choose_plan` reads these measurements (package data, with the machine and versions) and picks, for
# a GPU and host RAM, the fastest plan whose predicted peak fits, keeping 0.74 GiB free for the CUDA context
# (so 14.0 GiB on a T4). For other sizes it scales the activations: denoising with frames x pixels,
# decoding with the decode chunk x pixels.

# %%
print(f"{'GPU GiB':>8}  {'plan':36}{'predicted peak GiB':>19}  fits")
for vram in (None, 8, 12, memory.T4_GIB, 16, 24, 40, 80):
    choice = memory.choose_plan(vram, 12.7)
    peak = "-" if choice.predicted_peak_gib is None else f"{choice.predicted_peak_gib:.2f}"
    print(f"{vram or 'none':>8}  {choice.plan.name:36}{peak:>19}  {choice.fits}")
t4_choice = memory.choose_plan(memory.T4_GIB, 12.7)
assert t4_choice.plan.placement == "gpu" and t4_choice.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB

# %% [markdown]
# A plan that another plan beats on GPU memory, host RAM and time at once is never tried, not even as a
# fallback: `memory.fallback_order()` leaves it out.

# %%
for name in memory.PLANS:
    better = memory.dominated_by(name)
    if better and not memory.PLANS[name].baseline:
        print(f"{name} is never tried: {better} is as good or better on every count")
print("fallback order on out-of-memory:", " -> ".join(memory.fallback_order()))
assert memory.dominated_by("group-offload-chunked-decode2") == "model-offload-chunked-decode2"

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
    assert not r["oom"] and r["peak_reserved_gib"] <= r["cap_gib"] - memory.read_calibration()["gpu_reserve_gib"]
svd14 = next(r for r in checks if r["checkpoint"] == "svd")
predicted = memory.predict_peak_gib(svd14["plan"], svd14["frames"], svd14["height"], svd14["width"])
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
import gc

from svd_learn.environment import probe

del pipe, vae, geglu  # free the earlier pipelines before measuring
gc.collect()
env = probe()
choice = memory.choose_plan(env.vram_gib, env.host_ram_gib, "svd-xt", checkpoint.num_frames, height, width)
device = "cuda" if env.cuda_available else "cpu"
pipe = load()
memory.apply_plan(pipe, choice.plan, device)
measurement = memory.measure_run(pipe, image, choice.plan, num_frames=checkpoint.num_frames, height=height,
                                 width=width, steps=8 if device == "cuda" else 2, device=device)
print("plan:", choice.plan.name, "|", choice.reason.split(":")[0])
for stage, where in measurement.placement:
    print(f"  {stage:15}" + "  ".join(f"{name}={place}" for name, place in where.items()))
assert measurement.frames_finite and [stage for stage, _ in measurement.placement][:2] == ["image_encoder", "vae encode"]

# %% [markdown]
# What it measured (the values change from machine to machine, so this cell prints only the names; print
# `numbers` to see them). On a CPU the GPU fields stay empty:

# %%
numbers = {k: v for k, v in measurement.to_dict().items() if k not in ("placement", "plan")}
print("measured:", ", ".join(k for k, v in numbers.items() if v is not None))
print("empty here:", ", ".join(k for k, v in numbers.items() if v is None) or "nothing")
assert numbers["seconds"] > 0 and numbers["host_rss_gib"] > 0
assert (numbers["peak_reserved_gib"] is not None) == (device == "cuda")

# %% [markdown]
# On a T4 with the real weights, `choose_plan` picks `gpu-decode2` and the peak stays under 14 GiB. On a
# bigger GPU, wrap the call in `with memory.emulate_t4():` to see a T4's limits.
#
# ## Things to try
# - `svd-learn plan --vram 8 --host-ram 12.7`, then `--frames 14`: what changes, and why?
# - In section 2.5, set `decode_chunk_size=None` and count the decoder calls.
# - On a GPU: measure `memory.apply_plan(load(), "docs-recipe", "cuda")` under `memory.emulate_t4()` and
#   compare with section 3.
# - Run `benchmarks/run_plans.py --jobs smoke` on a big GPU (see benchmarks/README.md).
#
# ## Summary
# - SVD's memory is activations: the UNet runs on 2 x frames images (CFG), and the VAE decodes at full size;
#   decoding all 25 frames at once needs one 7.03 GiB tensor.
# - `decode_chunk_size` is the VAE's memory knob; `unet.enable_forward_chunking()` cuts the feed-forward layers.
# - `enable_attention_slicing()` changes nothing for SVD; the temporal VAE has no slicing or tiling.
# - Offloading (model, group, sequential) trades time and host RAM for GPU memory.
# - On a T4: everything on the GPU, decode 2 frames at a time, expandable segments on. Measured under a T4's
#   limits it peaked at 12.6 GiB and ran 1.25x to 1.27x faster than the documentation's low-memory recipe.
# - `memory.choose_plan` / `svd-learn plan` pick the fastest plan that fits and say why.
