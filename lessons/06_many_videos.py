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
# # Appendix: many videos on many GPUs, with Accelerate
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/06_many_videos.ipynb)
#
# **What you will learn.** How to turn a folder of images (and a sweep of parameters) into videos on
# several GPUs at once, with 🤗 Accelerate. How the work is split so that every video is made exactly once.
# How to launch one process per GPU. What happens to a broken image. How a re-run resumes after an
# interruption. And how much faster two GPUs really are (measured on two H200s).

# %% [markdown]
# **The idea.** Videos do not depend on each other. So we do not split the *model* across GPUs (SVD-XT
# fits on one); we split the *list of videos*. Each GPU gets its own process with its own copy of the
# pipeline and makes its share of the list, one video after another. Nothing has to travel between GPUs
# while they work, so N GPUs make about N times as many videos a minute. Accelerate tells each process
# who it is (`process_index`) and how many there are (`num_processes`). It gives each its own device, and
# its share of a list (`split_between_processes`).

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
LANGUAGE = "en"  # the language of svd-learn's messages: "en" or "es" (the Spanish edition says "es")
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn import language, lesson_work

language.use(LANGUAGE)  # every message below, and those of the commands this notebook runs

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("06_many_videos"))

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
# **On Colab.** Colab gives you one GPU, so nothing here runs on several GPUs there. What runs on a Colab
# T4: every cell. The launch of section 2 starts one process on the one GPU, with the real weights. The
# split, the broken image, the resume and the summary work the same with one process. What needs a
# machine with several GPUs: seeing two or more processes share the list, and the speed-up. For those,
# section 5 shows numbers measured on two H200s, and section 6 the commands to type on such a machine.
# Without a GPU (on tiny weights) the lesson starts two CPU processes, so you see the split there too.

# %% [markdown]
# On **tiny** weights (no GPU) the frames are noise, but everything this lesson is about is real: the
# processes, the split, the files, the failures and the resume. Without a GPU, the processes are CPU
# processes talking over `gloo` (PyTorch's CPU backend) instead of GPU processes talking over NCCL.
#
# ## 1. A folder of images is a list of jobs
#
# We make a folder with three images, and one file that only pretends to be a PNG (it will fail).

# %%
import tempfile
from pathlib import Path

from diffusers.utils import load_image
from PIL import ImageOps

from svd_learn import batch, models

work = Path(tempfile.mkdtemp(prefix="many-videos-"))
images_dir = work / "images"
images_dir.mkdir()
sample = load_image(str(models.SAMPLE_IMAGE))  # diffusers' loader: upright and RGB
sample.save(images_dir / "rocket.png")
ImageOps.mirror(sample).save(images_dir / "rocket_mirrored.png")
ImageOps.grayscale(sample).save(images_dir / "rocket_grey.png")
(images_dir / "broken.png").write_bytes(b"this is not a PNG")
print(sorted(p.name for p in images_dir.iterdir()))

# %% [markdown]
# A *job* is one (image, parameters) pair. With a sweep (here two motion buckets) each image gives one job
# per value. Every process must build **the same list in the same order**. Otherwise their shares would
# overlap or leave gaps. So the images are sorted by name. Each job's output name is made from the image's
# name and the swept values. Nothing random, nothing that depends on the process.

# %%
sweep = batch.parse_sweep(["motion_bucket_id=60,180"])
jobs = batch.make_jobs(batch.list_images(images_dir), sweep)
for job in jobs:
    print(f"{job.name:36} <- {Path(job.image).name}")
assert len(jobs) == 4 * 2
assert jobs == batch.make_jobs(batch.list_images(images_dir), sweep)  # the same list every time

# %% [markdown]
# ## 2. One process per GPU, each with its share
#
# `accelerate launch` starts the processes (one per GPU) and tells each who it is through environment
# variables; `PartialState()` reads them. Then every process runs the same code:
#
# ```python
# state = PartialState()                                   # process_index, num_processes, device
# with state.split_between_processes(jobs) as my_jobs:     # a contiguous share of the same list
#     for job in my_jobs:
#         ...                                              # make the video
# results = gather_object(my_results)                      # everyone's results, in every process
# if state.is_main_process:
#     ...                                                  # print and write the summary, once
# ```
#
# In this notebook there is one process, so its share is the whole list:

# %%
from accelerate import PartialState

state = PartialState()
with state.split_between_processes(jobs) as my_jobs:
    print(f"process {state.process_index} of {state.num_processes} on {state.device}: {len(my_jobs)} jobs")
assert state.num_processes == 1 and list(my_jobs) == jobs

# %% [markdown]
# With more processes each gets its own share. Here is the loop above as a whole program: eight jobs, split with
# `split_between_processes`, the results brought back with `gather_object`. `accelerate launch` starts it as one
# process per GPU (two CPU processes here, one on Colab's one GPU). Copy it to try Accelerate on your own list.

# %%
import subprocess

import torch

script = work / "split_jobs.py"
script.write_text("""
import torch
from accelerate import PartialState
from accelerate.utils import gather_object

state = PartialState(cpu=not torch.cuda.is_available())  # without a GPU, cpu=True makes the processes one group
jobs = [f"job {number}" for number in range(8)]
with state.split_between_processes(jobs) as my_jobs:
    mine = [(state.process_index, job) for job in my_jobs]
everyone = gather_object(mine)  # every process's list, joined in process order
if state.is_main_process:
    for process, job in everyone:
        print(f"process {process} ran {job}")
state.wait_for_everyone()  # nobody leaves before the main process has printed
state.destroy_process_group()  # then close the group cleanly
""")
processes = torch.cuda.device_count() or 2  # one per GPU; two CPU processes without a GPU
launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes), "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no"] + (["--multi_gpu"] if processes > 1 else [])
split = subprocess.run([*launch, str(script)], capture_output=True, text=True, timeout=300)
print(split.stdout)
ran = [line.split(" ran ")[1] for line in split.stdout.splitlines()]
assert split.returncode == 0 and sorted(ran) == sorted(f"job {number}" for number in range(8)), split.stderr[-2000:]

# %% [markdown]
# Each job ran exactly once, and the shares are contiguous (with two processes, process 0 takes the first half).
# Next, one job itself, in plain diffusers: the job's image, its swept value, a fixed seed, one call, one file. (Few frames and
# one step, so the lesson runs in seconds.)

# %%
import gc

from diffusers import StableVideoDiffusionPipeline
from diffusers.utils import export_to_video

from svd_learn import t4

print("one video of 4 frames and 1 step:", t4.describe_estimate(unet_steps=1, num_frames=4))
device = "cuda" if torch.cuda.is_available() else "cpu"
height, width = models.TINY_SIZE if source.name == "tiny" else (576, 1024)
pipe = StableVideoDiffusionPipeline.from_pretrained(models.pipeline_location(source.name, "svd-xt"), variant="fp16",
                                                    torch_dtype=torch.float16 if device == "cuda" else torch.float32)
pipe.to(device)
job = next(job for job in jobs if Path(job.image).name != "broken.png")  # the first job with a real image
frames = pipe(ImageOps.fit(load_image(str(job.image)), (width, height)), height=height, width=width, num_frames=4,
              num_inference_steps=1, decode_chunk_size=2, generator=torch.manual_seed(0), **dict(job.sweep)).frames[0]
print(f"{job.name}: {len(frames)} frames, {dict(job.sweep)} ->", Path(export_to_video(frames, str(work / "one_job.mp4"), fps=7)).name)
del pipe  # free the GPU for the processes launched below
gc.collect()
if torch.cuda.is_available():
    torch.cuda.empty_cache()
assert len(frames) == 4

# %% [markdown]
# `svd-learn batch` is that loop, plus what a real batch needs:
# - each process loads the pipeline **once** (not once per video) and plans its memory like the capstone;
# - each video and its report are written atomically;
# - a failed job is recorded, and the next one runs;
# - outputs that are already complete are skipped.
#
# Now we launch it for real: one process per GPU, or two CPU processes here. From a terminal it is
#
# ```bash
# accelerate launch --num_processes 2 -m svd_learn.cli batch images -o videos --sweep motion_bucket_id=60,180
# ```
#
# (`-m svd_learn.cli` runs the `svd-learn` command as a module, which is what `accelerate launch` needs.)
# Few frames and steps here, so the lesson runs in seconds.

# %%
print("each video of 4 frames and 1 step:", t4.describe_estimate(unet_steps=1, num_frames=4))
gpus = torch.cuda.device_count()
processes = gpus if gpus else 2  # one per GPU; two CPU processes without a GPU
out_dir = work / "videos"
command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
if processes > 1:
    command += ["--multi_gpu"]  # starts the processes with torch.distributed (on a CPU machine too)
command += ["-m", "svd_learn.cli", "batch", str(images_dir), "-o", str(out_dir), "--sweep", "motion_bucket_id=60,180",
            "--source", source.name, "--frames", "4", "--steps", "1"]
launched = subprocess.run(command, capture_output=True, text=True, timeout=600)
print("exit status:", launched.returncode, "(1: some jobs failed, as the summary says)")
assert launched.returncode == 1, launched.stdout[-3000:] + launched.stderr[-3000:]

# %% [markdown]
# The exit status is 1 because a job failed (the broken file): scripts can tell. The main process wrote
# `batch_summary.json` in the output folder after gathering every process's results:

# %%
import json

summary = json.loads((out_dir / batch.SUMMARY_NAME).read_text())
print(f"{summary['num_processes']} processes ({summary['distributed_type']}): {len(summary['done'])} done, "
      f"{len(summary['skipped'])} skipped, {len(summary['failed'])} failed")
for entry in summary["done"] + summary["failed"]:
    print(f"  process {entry['process']}  {entry['status']:7} {entry['name']:36} {entry['error'] or ''}")
assert summary["num_processes"] == processes

# %% [markdown]
# ## 3. Every job exactly once, a broken image recorded
#
# The split is contiguous: with 8 jobs and 2 processes, process 0 took the first four and process 1 the
# last four. Each good image gave exactly one video per motion bucket, each with its report; we read every
# video back and count its frames. The broken file failed twice (once per bucket) without stopping anything.

# %%
from svd_learn.video import read_video_info

ran_by = {entry["name"]: entry["process"] for entry in summary["done"] + summary["failed"]}
base, extra = divmod(len(jobs), processes)  # the first `extra` processes take one job more
expected = [process for process in range(processes) for _ in range(base + (process < extra))]
assert [ran_by[job.name] for job in jobs] == expected
good = [job for job in jobs if not job.name.startswith("broken")]
assert sorted(p.name for p in out_dir.glob("*.mp4")) == sorted(job.video(out_dir).name for job in good)
for job in good:
    report = json.loads(job.report(out_dir).read_text())
    frames = read_video_info(job.video(out_dir))["frames"]
    assert frames == report["frames"] == 4 and report["parameters"]["motion_bucket_id"] == dict(job.sweep)["motion_bucket_id"]
print("videos:", len(good), "each with 4 frames and its report")
assert [entry["name"] for entry in summary["failed"]] == ["broken__motion_bucket_id-60", "broken__motion_bucket_id-180"]
print("failed:", summary["failed"][0]["error"])

# %% [markdown]
# diffusers reads any of these videos back with `load_video`. Here are the frames of the first one (noise on tiny
# weights; on Colab, your video):

# %%
from diffusers.utils import load_video, make_image_grid
from IPython.display import display

first = load_video(str(good[0].video(out_dir)))
display(make_image_grid(first, rows=1, cols=len(first)))
print(f"{good[0].video(out_dir).name}: {len(first)} frames of {first[0].size[0]}x{first[0].size[1]}")
assert len(first) == 4

# %% [markdown]
# Seeds are fixed too. Every job uses the same seed (`--seed`, default 0) unless you sweep it
# (`--sweep seed=0,1,2`). So a job makes the same video whichever process or GPU runs it.
#
# ## 4. Resume after an interruption
#
# A job is complete when its report exists and its video has the size the report records (the video is
# written first, the report last, both atomically). Say the machine stopped after one video was written
# but before its report: we delete one report. Then we run the batch again, in this notebook (one
# process). The complete jobs are skipped. The interrupted one is made again. The broken one is tried
# again, and fails again.

# %%
interrupted = good[0]
interrupted.report(out_dir).unlink()
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

again = batch.run_batch(images_dir, out_dir, GenerationParameters(num_frames=4, num_inference_steps=1),
                        RunSpec(source=source.name), sweep=sweep, say=lambda message: None)
print(f"done: {[e['name'] for e in again.done]}\nskipped: {len(again.skipped)}\nfailed: {len(again.failed)}")
assert [e["name"] for e in again.done] == [interrupted.name]
assert len(again.skipped) == len(good) - 1 and len(again.failed) == 2

# %% [markdown]
# What if you change a setting and run into the same folder? A complete video made with other settings is
# never replaced silently: the job fails with a message that says what differs, and `--force` remakes it.

# %%
changed = batch.run_batch(images_dir, out_dir, GenerationParameters(num_frames=4, num_inference_steps=2),
                          RunSpec(source=source.name), sweep=sweep, say=lambda message: None)
refused = [entry for entry in changed.failed if not entry["name"].startswith("broken")]
print(str(refused[0]["error"]).replace(str(out_dir), "videos"))  # str(): the message in the lesson's language
assert len(refused) == len(good) and not changed.done
assert "num_inference_steps 1 there, 2 now" in refused[0]["error"]  # as recorded: English, like batch_summary.json

# %% [markdown]
# ## 5. How fast: two GPUs against one, measured
#
# `benchmarks/batch_throughput.py` ran the same batch twice in one session on a machine with two H200s:
# with 1 process (GPU 0), then with 2 (GPUs 0 and 1). The model: full-size SVD-XT with random fp16 weights
# (the real model's memory and speed, no download). 25 frames of 576x1024, 10 denoising steps. That is
# fewer than the 25 of real use, to save GPU time: a step costs the same either way. It ran in December 2026,
# on the batch code this lesson runs. An H200 is much faster than a T4, so read the ratio, not the minutes.

# %% [markdown]
# The batch measures two throughputs:
# - while working: from the moment every process has loaded the pipeline to its last video (what the GPUs sustain);
# - launch to exit: from `accelerate launch` to its exit (what a small batch feels: start-up and loading included).

# %%
measured = batch.measured_throughput()
settings = measured["settings"]
print(f"{measured['machine']['gpus'][0]} x {len(measured['machine']['gpus'])}; {settings['videos']} videos of "
      f"{settings['num_frames']} frames {settings['width']}x{settings['height']}, {settings['num_inference_steps']} steps")
print(f"{'':12}{'videos/min (GPUs busy)':>24}{'videos/min (launch to exit)':>30}{'load s':>8}{'launch s':>10}")
for key, label in (("one_process", "1 GPU"), ("two_processes", "2 GPUs")):
    run = measured[key]
    load = max(p["load_s"] for p in run["per_process"])
    print(f"{label:12}{run['videos_per_minute']:>24.2f}{run['end_to_end_videos_per_minute']:>30.2f}{load:>8.1f}{run['launch_wall_s']:>10.1f}")
speedup = measured["speedup"]
print(f"speed-up of 2 GPUs: {speedup['videos_per_minute']:.2f}x while working, {speedup['end_to_end_videos_per_minute']:.2f}x launch to exit")
assert measured["one_process"]["videos_done"] == measured["two_processes"]["videos_done"] == settings["videos"]
assert speedup["videos_per_minute"] >= 1.8

# %% [markdown]
# Just under 2x while working? Look at each video's time. The first video a process makes is slower:
# CUDA kernels are chosen and cached on first use. After that, a video takes the same time on either GPU.
# With 1 GPU, one of the four videos pays that warm-up. With 2 GPUs, each GPU pays it on one of its two, in
# parallel: the warm-up is a bigger share of a shorter run, so the ratio ends just under 2. The steady
# per-video time is what to plan with. (The plan column says `gpu-decode8`: an H200 has room for it. A T4 runs
# `gpu-decode2`, lesson 4. Each GPU works alone, so the ratio is what carries over to other GPUs.)

# %%
for key in ("one_process", "two_processes"):
    for job in measured[key]["jobs"]:
        print(f"{key:14} {job['name']}  {job['device']:7} {job['seconds']:5.1f} s  (call {job['call_s']:.1f} s, "
              f"write {job['write_s']:.1f} s, peak {job['peak_reserved_gib']:.1f} GiB, plan {job['plan']})")
first, later = [], []
for key in ("one_process", "two_processes"):
    seen = set()
    for job in measured[key]["jobs"]:  # in the order each process made them
        (later if job["device"] in seen else first).append(job["seconds"])
        seen.add(job["device"])
print(f"a process's first video: {min(first):.1f} to {max(first):.1f} s; every later one: {min(later):.1f} to {max(later):.1f} s")
assert min(first) > max(later)  # the warm-up is real
assert max(later) < 1.05 * min(later)  # after it, the same speed on either GPU, alone or side by side

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
labels = ["1 GPU", "2 GPUs"]
busy = [measured[k]["videos_per_minute"] for k in ("one_process", "two_processes")]
whole = [measured[k]["end_to_end_videos_per_minute"] for k in ("one_process", "two_processes")]
ax.bar([0, 1], busy, width=0.38, label="while the GPUs work")
ax.bar([0.4, 1.4], whole, width=0.38, label="launch to exit (start-up and loading included)")
ax.set_xticks([0.2, 1.2], labels)
ax.set_ylabel("videos a minute")
ax.set_title(f"svd-learn batch, SVD-XT {settings['num_frames']}x{settings['height']}x{settings['width']}, "
             f"{settings['num_inference_steps']} steps, {measured['machine']['gpus'][0].split(',')[0]}")
ax.set_ylim(0, max(busy) * 1.35)  # room for the legend above the bars
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# Why is "launch to exit" further from 2x? Because every launch pays a fixed cost once per process, in
# parallel: starting Python and importing torch, and loading the 4.2 GiB pipeline onto its GPU. With 4
# videos that fixed cost is a large share; with a class's 400 images it vanishes. A simple model of one
# launch on G GPUs is `fixed + ceil(N / G) x seconds_per_video`; with the measured numbers it predicts:

# %%
import math

one = measured["one_process"]
seconds_per_video = one["work_s"] / one["videos_done"]
fixed = one["launch_wall_s"] - one["work_s"]
def predicted_minutes(videos: int, gpus: int) -> float:
    return (fixed + math.ceil(videos / gpus) * seconds_per_video) / 60
print(f"fixed cost of a launch: {fixed:.0f} s (start-up and loading); then {seconds_per_video:.1f} s a video per GPU")
for videos in (4, 40, 400):
    print(f"{videos:4} videos: 1 GPU {predicted_minutes(videos, 1):6.1f} min, 2 GPUs {predicted_minutes(videos, 2):6.1f} min, "
          f"speed-up {predicted_minutes(videos, 1) / predicted_minutes(videos, 2):.2f}x")
# The model must reproduce the measured 2-GPU launch within 15% before we trust its predictions.
assert abs(predicted_minutes(one["videos_done"], 2) * 60 - measured["two_processes"]["launch_wall_s"]) < 0.15 * measured["two_processes"]["launch_wall_s"]
assert predicted_minutes(400, 1) / predicted_minutes(400, 2) > 1.9

# %% [markdown]
# So expect about **N times the videos a minute on N GPUs**, each GPU at the speed of one. The batch must
# be long enough to hide the start-up (under half a minute here). Two conditions:
# - the processes must not share a GPU: two copies of SVD-XT on one GPU compete for the same compute and memory;
# - the host must have the RAM to load one pipeline per process at once.

# %% [markdown]
# **A long batch is also where compiling pays.** `svd-learn batch --compile` compiles the UNet once per
# process with `torch.compile` (the same video, faster steps). The compiler runs on the CPU before the first
# video, for minutes on Colab's two cores. The course's T4 model says after how many videos that pays back:

# %%
from svd_learn import t4

payback = t4.compile_payback()
print(payback.describe())
assert payback.videos_to_break_even > 1  # one video never pays for the compiler: leave --compile off for it

# %% [markdown]
# ## 6. Launching on a multi-GPU machine
#
# On a machine with several GPUs (a cloud VM, a lab server; Colab has one GPU, where plain
# `svd-learn batch` is all you need):
#
# ```bash
# pip install "svd-learn @ git+https://github.com/svd-learn/svd-learn"
# accelerate launch --num_processes 4 -m svd_learn.cli batch images/ -o videos/        # 4 GPUs, one process each
# accelerate launch --num_processes 2 --gpu_ids 2,3 -m svd_learn.cli batch images/ -o videos/   # only GPUs 2 and 3
# accelerate launch --num_processes 4 -m svd_learn.cli batch images/ -o videos/ --sweep seed=0,1,2  # 3 variations each
# ```
#
# Interrupted? Run the same command again: complete videos are skipped. Without a GPU, `--multi_gpu
# --num_processes 2` starts two CPU processes, as this lesson did. `accelerate config` saves your usual
# choices so that `accelerate launch -m svd_learn.cli batch ...` needs no flags.

# %% [markdown]
# ## Things to try
# - Add `--sweep seed=0,1,2` to the launch above and check that each image now has six videos.
# - Interrupt a launch with Ctrl-C halfway (in a terminal) and run it again: count what is skipped.
# - Launch with 3 processes: 8 jobs split 3 + 3 + 2. Which process gets the extra one?
# - Open one report (`videos/rocket__motion_bucket_id-60.json`): which process, device and plan made it?
# - Change `split_jobs.py` (section 2) to 9 jobs and launch it again: who gets the ninth?

# %% [markdown]
# ## Summary
# - Many videos on many GPUs is data parallelism: split the list of jobs, not the model.
# - `accelerate launch --num_processes N` starts one process per GPU; `PartialState()` tells each who it is
#   and which device is its own; `split_between_processes` gives each a contiguous share of the same list;
#   `gather_object` brings the results back; the main process reports once.
# - Same list in every process, deterministic names and seeds: every job runs exactly once, and a re-run
#   skips what is complete. A failed job is recorded; the others go on.
# - Measured on two H200s: 2 GPUs made videos about twice as fast as one while working. Start-up and
#   loading are paid once per launch, so long batches get the full speed-up.

# %% [markdown]
# ## Read next
# Accelerate's [Distributed inference](https://huggingface.co/docs/accelerate/usage_guides/distributed_inference)
# guide. Its first part, "Sending chunks of a batch automatically to each loaded model", is this lesson's
# pattern: one full copy of the model per GPU, and `split_between_processes`. Look for `apply_padding` (it
# evens out the shares) and for how the results come back. Its later parts split one model across GPUs: SVD-XT
# fits one GPU, so you do not need them here.
