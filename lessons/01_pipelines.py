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
# # Lesson 1: what a diffusers pipeline is
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/01_pipelines.ipynb)
#
# **What you will learn.** What `DiffusionPipeline.from_pretrained` actually builds when you point it at
# Stable Video Diffusion (SVD): the folder it reads, the five components it creates, how big each one is,
# which weight files it picks, and what a call returns. Every claim is checked by a cell below.
#
# **The idea.** A pipeline is not one model. It is a folder with a `model_index.json` that names
# components, and one subfolder per component. `from_pretrained` reads the index, builds each component
# with its own library (diffusers or transformers), and hands them to a pipeline class that runs them in order.

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

# Before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (section 9; lesson 4 explains).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("01_pipelines"))

# %% [markdown]
# **Optional, on Colab: keep the weights on Google Drive.** Each notebook you open from a badge gets a fresh
# machine, so it downloads the 4.2 GiB of weights again (a few minutes each time). Set
# `KEEP_WEIGHTS_ON_DRIVE = True` below, and the cell mounts your Drive (Colab asks for permission). Then it points
# `HF_HOME`, the Hugging Face cache folder, at it. Every lesson offers this cell: with it, the next lessons find
# the files on your Drive and download nothing. It needs about 5 GiB free on your Drive.
#
# `huggingface_hub` reads `HF_HOME` once, when it is imported. So run this cell right after the setup cell,
# before anything imports it. Outside Colab the cell does nothing.

# %%
from svd_learn.environment import keep_hub_cache_on_drive

KEEP_WEIGHTS_ON_DRIVE = False  # True: keep the Hub cache on your Google Drive (Colab only)
print(keep_hub_cache_on_drive(KEEP_WEIGHTS_ON_DRIVE))

# %% [markdown]
# The header says where the weights come from (the *model source*). Without a GPU the course uses **tiny**
# random weights built with the real classes: every structure, shape and file below is real, the numbers
# inside the weights are not, so generated frames are noise. With a GPU it uses the real SVD-XT weights.
#
# ## 1. The folder `from_pretrained` reads
#
# `pipeline_location` gives what the course passes to `from_pretrained`. For the real model that is the Hub
# repo id. For tiny weights it is a local folder (built once, in about a second). Either way the layout is the
# Hub's, file for file.

# %%
from pathlib import Path

from svd_learn import models

location = models.pipeline_location(source.name, "svd-xt")
print("from_pretrained will read:", location if source.name == "pretrained" else "a local folder in the Hub layout")

# %% [markdown]
# `from_pretrained` does two jobs. First it gets a folder: a repo id is downloaded into the Hub cache (lesson 3
# shows the cache). Then it builds the pipeline from that folder. `DiffusionPipeline.download` does only the first
# job and returns the folder. With the real model this cell downloads the 4.2 GiB of weights (a few minutes on
# Colab; the sizes below are in MiB, 2^20 bytes). The next cells then find them in the cache.

# %%
from diffusers import DiffusionPipeline

folder = Path(location) if Path(location).is_dir() else Path(DiffusionPipeline.download(location, variant="fp16"))
for path in sorted(folder.rglob("*")):
    if path.is_file():
        kind = "weights" if path.suffix == ".safetensors" else "config"
        print(f"{kind:8}{path.stat().st_size / 2**20:9.1f} MiB  {path.relative_to(folder)}")
assert (folder / "model_index.json").is_file()

# %% [markdown]
# Three kinds of file: `model_index.json` (the table of contents), one small JSON config per component
# (the architecture: sizes, layer counts), and `.safetensors` weight files (only for components that are
# neural networks). The scheduler and the feature extractor have a config and no weights.
#
# The tiny folder holds two weight files per network: fp32 and fp16. From the Hub, only the fp16 files came
# down: `variant="fp16"` chose them (section 4).
#
# ## 2. `model_index.json`: the table of contents

# %%
import json

from diffusers import __version__ as diffusers_version

index = DiffusionPipeline.load_config(location)
print(json.dumps({k: v for k, v in index.items() if k != "_diffusers_version"}, indent=2))  # that one: next cell

# %% [markdown]
# `_diffusers_version` records which diffusers wrote the file. It is a record, not a pin. The tiny and
# random folders are written by the diffusers installed here. The real SVD-XT's `model_index.json` (the
# course ships a copy, taken from the Hub) was written by 0.24.0.dev0, just before SVD's first release.
# Today's diffusers still loads it: on Colab, every lesson does.

# %%
real_index = json.loads((models.DATA / "svd-xt-config" / "model_index.json").read_text())
print("this model_index.json was written by the diffusers installed here:", index["_diffusers_version"] == diffusers_version)
print("stabilityai/stable-video-diffusion-img2vid-xt was written by diffusers", real_index["_diffusers_version"])
assert real_index["_diffusers_version"] == "0.24.0.dev0"
assert index["_diffusers_version"] in (diffusers_version, real_index["_diffusers_version"])  # built here, or the Hub's

# %% [markdown]
# Each component maps to a pair `[library, class]`. `_class_name` is the pipeline class. That is how the
# generic `DiffusionPipeline.from_pretrained` knows it must build a `StableVideoDiffusionPipeline`:

# %%
import torch

dtype = torch.float16 if torch.cuda.is_available() else torch.float32  # fp16 on a GPU; a CPU computes in fp32
pipe = DiffusionPipeline.from_pretrained(location, variant="fp16", torch_dtype=dtype)  # torch_dtype=: see section 5
print(type(pipe).__name__)
assert type(pipe).__name__ == index["_class_name"] == "StableVideoDiffusionPipeline"
for name, component in pipe.components.items():
    library, class_name = index[name]
    print(f"{name:18} index: {library}.{class_name:34} built: {type(component).__module__.split('.')[0]}.{type(component).__name__}")
    assert type(component).__module__.startswith(library)
    assert type(component).__name__.startswith(class_name)  # see the note below on CLIPImageProcessorPil
assert set(pipe.components) == {name for name in index if not name.startswith("_")}

# %% [markdown]
# Each component was built by the library its index entry names. One detail you may see: transformers
# without torchvision installed builds `CLIPImageProcessorPil` for `CLIPImageProcessor` (and warns). It does
# the same preprocessing with Pillow; on Colab, torchvision is installed and you get the class named.

# %% [markdown]
# ## 3. The components: class, size, dtype, device
#
# `pipe.components` is a plain dict of the objects the pipeline holds.

# %%
def show_components(rows):
    print(f"{'component':18}{'class':36}{'parameters':>14}  {'dtype':8}{'device':7}{'MB':>9}")
    for row in rows:
        if "parameters" in row:
            print(f"{row['component']:18}{row['class']:36}{row['parameters']:>14,}  {row['dtype']:8}{row['device']:7}{row['bytes'] / 1e6:>9.2f}")
        else:
            print(f"{row['component']:18}{row['class']:36}{'(config only)':>14}")


show_components(models.describe_components(pipe))

# %% [markdown]
# The tiny model has about 2 million parameters. The real SVD-XT has 2.25 **billion**. We do not need to
# download 4.2 GiB to see that: build the real architecture on PyTorch's `meta` device, which records shapes
# and allocates nothing.

# %%
real = models.full_size_architecture("svd-xt")
real_counts = {name: models.count_parameters(real[name]) for name in models.MODEL_COMPONENTS}
for name, count in real_counts.items():
    print(f"{name:14}{type(real[name]).__name__:36}{count:>15,} parameters  {count * 2 / 2**30:5.2f} GiB in fp16")
total = sum(real_counts.values())
print(f"{'total':50}{total:>15,} parameters  {total * 2 / 2**30:5.2f} GiB in fp16")
assert real_counts == {"unet": 1_524_623_082, "image_encoder": 632_076_800, "vae": 97_742_847}
assert next(real["unet"].parameters()).device.type == "meta"  # nothing was allocated

# %% [markdown]
# The UNet is two thirds of the model. In fp16 (2 bytes a parameter) the weights alone are 4.2 GiB. In fp32
# they would be 8.4 GiB, more than half of a free Colab session's RAM. That is why the course always loads fp16.
#
# **Units.** Sizes in this course are in GiB (1 GiB = 2^30 bytes), as PyTorch reports them. The Hub's
# pages say GB (10^9 bytes): the same 4.2 GiB is 4.5 GB there.
#
# ## 4. `variant="fp16"` chooses the weight files
#
# The repo ships each model twice: `diffusion_pytorch_model.safetensors` (fp32) and
# `diffusion_pytorch_model.fp16.safetensors`. `variant="fp16"` tells `from_pretrained` to read the second.
# Evidence: a safetensors file starts with a small header that records each tensor's dtype.
# `safetensors.safe_open` reads that header without loading the weights.

# %%
from safetensors import safe_open

for name in ("diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.safetensors"):
    path = folder / "unet" / name
    if path.exists():
        with safe_open(path, framework="pt") as weights:
            stored = weights.get_slice("conv_in.weight").get_dtype()
        print(f"unet/{name:42} stores conv_in.weight as {stored}")
    else:
        print(f"unet/{name:42} not downloaded: variant='fp16' chose the other file")
with safe_open(folder / "unet" / "diffusion_pytorch_model.fp16.safetensors", framework="pt") as weights:
    assert weights.get_slice("conv_in.weight").get_dtype() == "F16"

# %% [markdown]
# The *file* decides what values you get and how much you download. The *dtype argument* decides what sits in
# memory. Load one network from the fp16 file without `torch_dtype=`: diffusers gives you float32, twice the
# memory. (The VAE is the smallest network: 0.2 GiB in fp16.)

# %%
from diffusers import AutoencoderKLTemporalDecoder

vae = AutoencoderKLTemporalDecoder.from_pretrained(location, subfolder="vae", variant="fp16")  # no torch_dtype
print("VAE read from its fp16 file, without torch_dtype: in memory as", vae.dtype)
assert vae.dtype == torch.float32
del vae

# %% [markdown]
# On a GPU you want both: the fp16 files and fp16 in memory. That is why section 2 passed
# `variant="fp16", torch_dtype=dtype`.
#
# ## 5. `torch_dtype=`, not `dtype=`: a trap on Colab
#
# diffusers 0.40 added a new name for the argument: `dtype=` (transformers did the same). The old name
# `torch_dtype=` still works there. It only warns that it will go away in diffusers 1.0. Older diffusers,
# like the 0.39 on Colab in 2026, know only `torch_dtype=`.

# %% [markdown]
# **The trap.** Copy `dtype=torch.float16` from today's docs into a Colab with diffusers 0.39. Nothing
# fails. diffusers logs one line, ignores the argument, and loads the model in fp32: twice the memory.
# The source says so. In diffusers 0.39.0, `DiffusionPipeline.from_pretrained` takes only `torch_dtype`
# out of its arguments. Every argument it does not know goes into one warning
# (`src/diffusers/pipelines/pipeline_utils.py`):
#
# `logger.warning(f"Keyword arguments {unused_kwargs} are not expected by {pipeline_class.__name__} and will be ignored.")`
#
# So this course always writes `torch_dtype=`: every diffusers version with SVD accepts it.

# %% [markdown]
# We cannot install diffusers 0.39 inside this notebook. But that warning is still in today's diffusers,
# and to 0.39 `dtype` is just a name it does not know. So we pass a name today's diffusers does not know
# either, and watch. Passing every component (`**pipe.components`) makes `from_pretrained` reuse them
# instead of loading them: a second full model would need another 4.2 GiB of memory.

# %%
import logging
import warnings

import diffusers
from packaging.version import Version


class KeepMessages(logging.Handler):
    """Keeps the messages that diffusers logs (they also go to the notebook, in red)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


kept = KeepMessages()
logging.getLogger("diffusers").addHandler(kept)
unknown = DiffusionPipeline.from_pretrained(location, variant="fp16", a_name_it_does_not_know=torch.float16, **pipe.components)
logging.getLogger("diffusers").removeHandler(kept)
print("logged:", kept.messages)
assert any("are not expected by StableVideoDiffusionPipeline and will be ignored" in m for m in kept.messages)

# %% [markdown]
# On diffusers 0.40 and later, `torch_dtype=` works and warns (a `FutureWarning`). The warning is harmless:
# the dtype is used.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reused = DiffusionPipeline.from_pretrained(location, variant="fp16", torch_dtype=dtype, **pipe.components)
warned = any("torch_dtype" in str(w.message) for w in caught)
print("diffusers >= 0.40:", Version(diffusers.__version__).release >= (0, 40), "| torch_dtype= warned:", warned, "| dtype in memory:", reused.dtype)
assert warned == (Version(diffusers.__version__).release >= (0, 40)) and reused.dtype == dtype
del unknown, reused

# %% [markdown]
# ## 6. Save and load a pipeline folder
#
# `save_pretrained` writes the same layout you saw in section 1; `from_pretrained` on that folder gives
# back identical weights. Name the variant after what you save: `variant="fp16"` promises fp16 tensors, so
# a pipeline held in fp32 (as on a CPU here) is saved without a variant.
#
# To check the round trip we reload one component, the VAE: any component loads alone with `subfolder=`,
# and a second copy of the whole model would need another 4.2 GiB of memory.

# %%
import tempfile

variant = "fp16" if pipe.dtype == torch.float16 else None
saved = Path(tempfile.mkdtemp()) / "my-svd"
pipe.save_pretrained(saved, variant=variant)
print(sorted(str(p.relative_to(saved)) for p in saved.rglob("*.json")))
print(sorted(p.name for p in (saved / "vae").glob("*.safetensors")))
reloaded_vae = AutoencoderKLTemporalDecoder.from_pretrained(saved, subfolder="vae", variant=variant, torch_dtype=pipe.dtype)
same = all(torch.equal(a, b) for a, b in zip(pipe.vae.state_dict().values(), reloaded_vae.state_dict().values()))
print("round trip identical:", same)
assert same and next(reloaded_vae.parameters()).dtype == pipe.dtype
del reloaded_vae

# %% [markdown]
# ## 7. Replacing the scheduler
#
# The scheduler turns the UNet's predictions into a denoising trajectory. It has no weights, only a config,
# so you can rebuild it with different settings. SVD's uses Karras sigmas from 700 down to 0.002:

# %%
from diffusers import EulerDiscreteScheduler

print(type(pipe.scheduler).__name__, "use_karras_sigmas =", pipe.scheduler.config.use_karras_sigmas)
pipe.scheduler.set_timesteps(5)
print("Karras sigmas:", [round(s, 3) for s in pipe.scheduler.sigmas.tolist()])

plain = EulerDiscreteScheduler.from_config(pipe.scheduler.config, use_karras_sigmas=False)
plain.set_timesteps(5)
print("plain sigmas: ", [round(s, 3) for s in plain.sigmas.tolist()])
assert not torch.allclose(pipe.scheduler.sigmas, plain.sigmas)

# %% [markdown]
# To use it, assign it: `pipe.scheduler = plain`. The model card's defaults were chosen for the Karras
# schedule; change it only to experiment.
#
# ## 8. Components can be shared
#
# A new pipeline built from `pipe.components` holds the very same objects: no copy, no extra memory.

# %%
from diffusers import StableVideoDiffusionPipeline

twin = StableVideoDiffusionPipeline(**pipe.components)
print("same UNet object:", twin.unet is pipe.unet)
assert twin.unet is pipe.unet

# %% [markdown]
# ## 9. What a call returns
#
# SVD takes one image and no prompt. We call it at the model's trained size (for tiny weights, the real
# 576x1024 divided by 8) with few steps: this lesson is about structure, lesson 2 is about the parameters.
#
# Where the networks sit during the call, and how many frames the VAE decodes at once, is the course's *T4
# recipe*. It is the memory planner's choice for a T4 (14.74 GiB of GPU memory, 12.7 GiB of RAM): lesson 4
# measures why it fits. The cell prints it, and how long the two calls below take on a T4:

# %%
from svd_learn import planner, plans, t4

recipe = planner.choose_plan(memory.T4_GIB, 12.7).plan  # the planner's choice for a free Colab T4
print(f"the T4 recipe: {recipe.name} ({recipe.description})")
print(t4.describe_estimate(unet_steps=3 + 2, decoded_frames=2 * 25))

# %% [markdown]
# `plans.apply_plan` places the pipeline as the recipe says. On a CPU there is nothing to plan: everything
# runs there. The call passes the recipe's `decode_chunk_size`.

# %%
from PIL import Image

checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((width, height))
device = "cuda" if torch.cuda.is_available() else "cpu"
plans.apply_plan(pipe, recipe, device)  # lesson 4, section 5: the diffusers calls behind each plan
result = pipe(image, height=height, width=width, num_inference_steps=3, decode_chunk_size=recipe.decode_chunk_size,
              generator=torch.Generator(device).manual_seed(0))
frames = result.frames
print(type(result).__name__, "| frames:", type(frames).__name__, "of", len(frames), "video(s),",
      len(frames[0]), "frames of", type(frames[0][0]).__name__, frames[0][0].size)
assert len(frames[0]) == checkpoint.num_frames == pipe.unet.config.num_frames

# %% [markdown]
# `frames` is a list with one entry per video, each a list of PIL images (width x height). With
# `output_type="np"` you get one array instead, shaped (videos, frames, height, width, channels):

# %%
array = pipe(image, height=height, width=width, num_inference_steps=2, decode_chunk_size=recipe.decode_chunk_size, output_type="np",
             generator=torch.Generator(device).manual_seed(0)).frames
print(type(array).__name__, array.shape, array.dtype, f"values in [{array.min():.2f}, {array.max():.2f}]")
assert array.shape == (1, checkpoint.num_frames, height, width, 3)

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 6, figsize=(18, 2.2))
axes[0].imshow(image)
axes[0].set_title("input image")
for ax, i in zip(axes[1:], range(0, checkpoint.num_frames, 6)):
    ax.imshow(frames[0][i])
    ax.set_title(f"frame {i}")
for ax in axes:
    ax.axis("off")
fig.suptitle(f"SVD-XT output, {source.name} weights" + (" (random weights: noise is expected)" if source.name != "pretrained" else ""))
plt.show()

# %% [markdown]
# ## Things to try
# - Load with `variant=None` and compare the download size (lesson 3 measures it).
# - Swap in `plain` as `pipe.scheduler` and call the pipeline again.
# - Print `pipe.unet.config` and find `num_frames`, `in_channels` (8: why? lesson 2) and `cross_attention_dim`.
# - Run with `SVD_LEARN_SOURCE=pretrained` on a GPU and compare section 3's table with the real sizes.

# %% [markdown]
# ## Summary
# - A pipeline is a folder: `model_index.json` names `[library, class]` per component; `_class_name` picks the pipeline.
# - SVD-XT = UNet (1.52 B parameters) + CLIP image encoder (0.63 B) + temporal VAE (0.10 B) + scheduler + feature extractor: 4.2 GiB in fp16.
# - `from_pretrained` = download (`DiffusionPipeline.download`) + build from the folder.
# - `variant="fp16"` picks the weight *files*; `torch_dtype=` picks the dtype *in memory*. Write `torch_dtype=`: Colab's diffusers 0.39 ignores `dtype=` and loads fp32.
# - `save_pretrained` / `from_pretrained` round-trip a folder exactly; schedulers are rebuilt from their config.
# - A call returns `.frames`: one list of PIL images per video, 25 frames for SVD-XT.

# %% [markdown]
# ## Read next
# [diffusers: Pipelines](https://huggingface.co/docs/diffusers/api/pipelines/overview), the reference of the
# class this lesson used. Read its `DiffusionPipeline` section. In `from_pretrained`, look for `variant`,
# `torch_dtype`, `use_safetensors` and `local_files_only`. Then read `download`, `save_pretrained` and
# `components`. Each one ran in this lesson; the page lists the arguments we did not use.
