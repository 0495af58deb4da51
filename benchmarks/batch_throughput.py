"""Throughput of `svd-learn batch` with 1 process and with 2 (one GPU each), measured in the same call.

    python benchmarks/batch_throughput.py --out results.json [--videos 4] [--steps 10] [--source random]

1. Builds the full-size SVD-XT architecture with random fp16 weights once (timed; same memory and speed as
   the real model, no download) into $SVD_LEARN_HOME.
2. Writes --videos distinct images (mirrored, flipped, recoloured copies of the course's sample image).
3. Runs the same batch with `accelerate launch`, each into a fresh folder: first 1 process (GPU 0), then
   2 processes (GPUs 0 and 1). Every video is read back (frame count) afterwards.
4. Writes one JSON: settings, machine, build time, and per run the launch's wall time (start to exit),
   the load time and work time per process and the throughput, from the batch's own summary; then the
   speed-ups of 2 processes over 1.

Two throughputs, both recorded: `videos_per_minute` counts from the moment every process has loaded the
pipeline (the batch's common start line) to its last video, i.e. what the GPUs sustain; `end_to_end`
divides by the launch's whole wall time, start-up and loading included, which a batch of 4 videos
feels and a batch of 400 does not.

With --source tiny it runs on CPU processes in seconds (a smoke test of this script, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

# NVLink multicast stays off on shared machines (the device notes: it can take the host's GPUs out of service).
SAFE_NCCL = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def gpus() -> list[str]:
    """The GPUs nvidia-smi sees (name, memory), without starting CUDA in this process."""
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def versions() -> dict:
    from importlib import metadata

    names = ("torch", "diffusers", "transformers", "accelerate", "imageio-ffmpeg")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def write_images(folder: Path, count: int) -> list[Path]:
    """`count` different 640x427 images from the sample: mirrored, flipped, inverted, grey, rotated hues."""
    from PIL import Image, ImageOps

    from svd_learn import models

    folder.mkdir(parents=True, exist_ok=True)
    sample = Image.open(models.SAMPLE_IMAGE).convert("RGB")
    variants = [
        lambda im: im,
        ImageOps.mirror,
        ImageOps.flip,
        ImageOps.invert,
        lambda im: ImageOps.grayscale(im).convert("RGB"),
        lambda im: Image.merge("RGB", im.split()[::-1]),
    ]
    paths = []
    for index in range(count):
        image = variants[index % len(variants)](sample)
        if index >= len(variants):
            image = image.rotate(180)
        path = folder / f"image{index:02d}.png"
        image.save(path)
        paths.append(path)
    return paths


def launch(processes: int, images: Path, out: Path, args, env: dict) -> dict:
    """One `accelerate launch ... svd-learn batch`; returns its wall time, exit status and summary."""
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    if processes > 1:
        command += ["--multi_gpu", "--main_process_port", str(args.port)]
    command += [
        "-m",
        "svd_learn.cli",
        "batch",
        str(images),
        "-o",
        str(out),
        "--source",
        args.source,
        "--steps",
        str(args.steps),
        "--frames",
        str(args.frames),
    ]
    shutil.rmtree(out, ignore_errors=True)
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, text=True, capture_output=True, timeout=args.timeout)
    wall = time.perf_counter() - started
    print(done.stdout[-4000:], done.stderr[-3000:] if done.returncode else "", flush=True)
    summary_path = out / "batch_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return {"processes": processes, "returncode": done.returncode, "launch_wall_s": round(wall, 2), "summary": summary}


def describe(run: dict, out: Path) -> dict:
    """The numbers of one run, from its summary and its videos (each read back)."""
    from svd_learn.video import read_video_info

    summary = run["summary"] or {}
    done = summary.get("done", [])
    videos = len(done)
    frames = [read_video_info(entry["video"])["frames"] for entry in done]
    reports = [json.loads(Path(entry["report"]).read_text()) for entry in done]
    return {
        "processes": run["processes"],
        "returncode": run["returncode"],
        "videos_done": videos,
        "failed": summary.get("failed", []),
        "frames_read_back": frames,
        "launch_wall_s": run["launch_wall_s"],
        "per_process": summary.get("processes", []),
        "work_s": summary.get("work_s"),
        "videos_per_minute": summary.get("videos_per_minute"),
        "end_to_end_videos_per_minute": round(videos * 60 / run["launch_wall_s"], 3) if videos else None,
        "jobs": [
            {
                "name": e["name"],
                "process": e["process"],
                "seconds": e["seconds"],
                "call_s": r["timings"].get("call_s"),
                "load_s": r["timings"].get("load_s"),
                "write_s": r["timings"].get("write_s"),
                "peak_reserved_gib": r.get("peak_reserved_gib"),
                "plan": r.get("plan"),
                "device": r.get("device"),
            }
            for e, r in zip(done, reports)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="The JSON to write.")
    parser.add_argument("--work", default="/tmp/batch-throughput", help="Scratch folder: weights, images, videos.")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--source", default="random", choices=["random", "tiny"])
    parser.add_argument("--port", type=int, default=29511)
    parser.add_argument("--timeout", type=float, default=300, help="Seconds a launch may take.")
    args = parser.parse_args()

    work = Path(args.work)
    env = dict(os.environ, **SAFE_NCCL, TQDM_DISABLE="1", SVD_LEARN_HOME=str(work / "home"), PYTHONUNBUFFERED="1")
    os.environ.update(env)  # the build below uses $SVD_LEARN_HOME too

    from svd_learn import models

    started = time.perf_counter()
    folder = models.pipeline_location(args.source)  # built once, before any process group exists
    build_s = round(time.perf_counter() - started, 1)
    print(f"weights ({args.source}) ready in {build_s} s: {folder}", flush=True)
    images = write_images(work / "images", args.videos)

    def ratio(key: str) -> float | None:
        one, two = runs.get(1, {}).get(key), runs.get(2, {}).get(key)
        return round(two / one, 3) if one and two else None

    runs: dict[int, dict] = {}
    for processes in (1, 2):
        run = launch(processes, work / "images", work / f"out-{processes}", args, env)
        runs[processes] = describe(run, work / f"out-{processes}")
        result = {  # written after each run: a call cut short still returns what it measured
            "what": "svd-learn batch throughput, 2 processes (one GPU each) vs 1, the same images and settings, one call",
            "settings": {
                "checkpoint": "svd-xt",
                "source": args.source,
                "videos": len(images),
                "num_inference_steps": args.steps,
                "num_frames": args.frames,
                "height": 576 if args.source == "random" else models.TINY_SIZE[0],
                "width": 1024 if args.source == "random" else models.TINY_SIZE[1],
                "plan": "auto",
                "seed": 0,
                "launcher": "accelerate launch (--multi_gpu for 2 processes)",
            },
            "machine": {
                "gpus": gpus(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "versions": versions(),
            },
            "weights_build_s": build_s,
            "one_process": runs.get(1),
            "two_processes": runs.get(2),
            "speedup": {
                "videos_per_minute": ratio("videos_per_minute"),
                "end_to_end_videos_per_minute": ratio("end_to_end_videos_per_minute"),
            },
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["speedup"]), flush=True)


if __name__ == "__main__":
    main()
