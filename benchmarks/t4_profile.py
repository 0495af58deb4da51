"""How long SVD-XT takes on a T4, projected from a profile on a bigger GPU; and torch.compile under Colab's 2 CPUs.

Issue 21: the course printed FLOPs / 24 TFLOP/s as "at least" the T4 time, 2.7x below the public T4 reports. This
script measures what a better model needs, in one call of the GPU machine:

    # on the GPU machine, from the repository root, .rehearsal/kernel carried (Colab's diffusers 0.39):
    python3 benchmarks/t4_profile.py run --out $OUT/t4-profile-h200.json
    # here: project the profile onto a T4 and hold it against the public T4 reports
    python benchmarks/t4_profile.py project benchmarks/results/t4-profile-h200.json
    # here, a CPU dry run of every job (tiny weights, eager compile backend):
    python benchmarks/t4_profile.py run --dry-run --out /tmp/t4-profile-dry.json

Every job runs in a fresh process under the rehearsal's T4 limits (PyTorch's pool capped at 14.74 GiB, no
FlashAttention, no cuDNN attention, expandable segments), on the T4 plan (everything on the GPU in fp16, decode 2
frames at a time), 25 frames at 576x1024, full-size random SVD-XT weights. The device is not renamed: Triton reads
the compute capability to choose its target, and a T4's 7.5 would build kernels the H200 cannot run.

- rates: this GPU's dense fp16 matmul rate and device memory bandwidth (the two rates the projection scales by);
- profile-plain, profile-regional: torch.profiler over a 1-step and a 3-step pipeline call (after a warm-up call);
  their difference is two UNet steps, the rest of the 1-step call is the fixed work (encoders, decode). Every
  operator's GPU time is kept with its class: matrix work (matmul, convolution, attention) or memory-bound work;
- cpu2-plain, cpu2-regional, cpu2-full: the same plan on 2 CPU cores (`taskset -c 0,1`, Colab's 2 vCPUs): load
  time, the first call (with the compile warm-up), a second 3-step call, peak reserved memory, and the frames
  against the plain run's (same seed); regional also tries decoding 8 frames at a time (its peak).

`project` scales each class of the profile to a T4: matrix work by the ratio of sustained matmul rates (this GPU's,
measured; a T4's under its 70 W cap, from data/t4.toml), memory-bound work by the ratio of memory bandwidths
(datasheets). It prints the projected T4 seconds per step and per video at the public reports' settings and at
the course's, and the compile saving projected to a T4.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from speedups import emit, t4_limits, timed  # noqa: E402 (once benchmarks/ is on the path)

from svd_learn.environment import GIB  # noqa: E402
from svd_learn.memory import T4_GIB  # noqa: E402

PLAN = "gpu-decode2"  # the planner's plan for a free Colab T4 (svd-learn plan --vram 14.74 --host-ram 12.7)
# Kernels that do matrix work on tensor cores, by name: cuBLAS (nvjet_*, *gemm*), cuDNN convolutions (*xmma*,
# implicit_convolve_sgemm) and PyTorch's memory-efficient attention (fmha_cutlass*). Every other kernel is bound by
# memory bandwidth: elementwise, norms, copies, layout transforms, inductor's fused triton_* kernels.
MATRIX_KERNELS = ("nvjet", "gemm", "xmma", "fmha", "cutlass")


# ----------------------------------------------------------------------------------------------------
# In a child


def load(args):
    import torch
    from PIL import Image

    from svd_learn import models, plans

    cuda = args.device == "cuda"
    started = time.perf_counter()
    pipe = models.load_pipeline(args.folder, device=args.device, dtype=torch.float16 if cuda else torch.float32)
    pipe.set_progress_bar_config(disable=True)
    if cuda:
        t4_limits(torch)
    plans.apply_plan(pipe, PLAN, args.device)
    image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((args.width, args.height))
    return pipe, image, time.perf_counter() - started


def compile_unet(pipe, how: str, backend: str) -> None:
    """What `svd-learn generate --compile` does (generate.compile_unet), or nothing for "none"."""
    if how != "none":
        from svd_learn import generate

        generate.compile_unet(pipe, how, backend)


def call(pipe, image, args, steps: int, chunk: int = 2, profile: bool = False) -> dict:
    """One pipeline call: seconds, peak reserved, the frames; with `profile`, the operators' GPU times."""
    import torch

    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    generator = torch.Generator("cpu").manual_seed(0)
    kwargs = dict(
        num_frames=args.frames,
        height=args.height,
        width=args.width,
        num_inference_steps=steps,
        decode_chunk_size=chunk,
        generator=generator,
        output_type="pt",
    )
    profiler = None
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        profiler = torch_profile(activities=activities, record_shapes=True, with_flops=True)
        profiler.__enter__()
    started = time.perf_counter()
    frames = pipe(image, **kwargs).frames
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    row = {
        "steps": steps,
        "decode_chunk_size": chunk,
        "seconds": round(seconds, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2) if cuda else None,
    }
    if profiler is not None:
        profiler.__exit__(None, None, None)
        row["operators"] = operators(profiler, cuda)
    return row, frames


def operators(profiler, cuda: bool) -> dict[str, list[dict]]:
    """The GPU time of the call, twice: by operator (CPU-side ops, each with the GPU time of its own kernels:
    summing them counts every kernel once) and by kernel (the GPU's own events, the 150 longest). Each row: name,
    calls, self GPU microseconds, FLOPs (operators with a FLOP formula: matmuls and convolutions)."""
    from torch.autograd import DeviceType

    ops, kernels = [], []
    for event in profiler.key_averages():
        self_us = getattr(event, "self_device_time_total", 0) if cuda else event.self_cpu_time_total
        if self_us <= 0:
            continue
        row = {
            "name": event.key,
            "calls": event.count,
            "self_us": round(self_us, 1),
            "flops": int(getattr(event, "flops", 0) or 0),
        }
        (ops if event.device_type == DeviceType.CPU else kernels).append(row)
    return {
        "ops": sorted(ops, key=lambda r: -r["self_us"]),
        "kernels": sorted(kernels, key=lambda r: -r["self_us"])[:150],
    }


def job_rates(args) -> None:
    import torch

    cuda = args.device == "cuda"
    n, repeats = (8192, 50) if cuda else (512, 3)
    dtype = torch.float16 if cuda else torch.float32
    a, b = (torch.randn(n, n, dtype=dtype, device=args.device) for _ in range(2))
    out = torch.empty_like(a)
    for _ in range(3):
        torch.matmul(a, b, out=out)
    seconds = timed(lambda: [torch.matmul(a, b, out=out) for _ in range(repeats)], cuda)
    row = {"job": "rates", "matmul_tflops": round(2 * n**3 * repeats / seconds / 1e12, 1)}
    if cuda:
        source = torch.empty(2 * GIB, dtype=torch.uint8, device="cuda")
        target = torch.empty_like(source)
        target.copy_(source)
        copied = timed(lambda: [target.copy_(source) for _ in range(10)], cuda)
        row["device_copy_gb_s"] = round(2 * 10 * 2 * GIB / copied / 1e9, 1)  # bytes read plus bytes written
    emit(row)


def job_profile(args) -> None:
    """A warm-up call (the compile, when asked), then a profiled 1-step and a profiled 3-step call."""
    pipe, image, _ = load(args)
    compile_unet(pipe, args.compile, args.backend)
    started = time.perf_counter()
    call(pipe, image, args, 1)
    warm_up = time.perf_counter() - started
    one, _ = call(pipe, image, args, 1, profile=True)
    three, _ = call(pipe, image, args, 3, profile=True)
    emit({"job": args.job, "compile": args.compile, "warm_up_call_seconds": round(warm_up, 1), "calls": [one, three]})


def job_cpu2(args) -> None:
    """The T4 plan as a learner on 2 CPUs runs it: load, first call (compile warm-up), second call, frames."""
    import torch

    pipe, image, load_seconds = load(args)
    compile_unet(pipe, args.compile, args.backend)
    row = {
        "job": args.job,
        "compile": args.compile,
        "cpus": len(os.sched_getaffinity(0)),
        "load_seconds": round(load_seconds, 1),
    }
    try:
        first, _ = call(pipe, image, args, args.steps)
        second, frames = call(pipe, image, args, args.steps)
    except Exception as error:  # noqa: BLE001 -- a compile failure is a result too
        emit({**row, "error": f"{type(error).__name__}: {str(error).strip()[:800]}"})
        return
    row.update(first_call=first, second_call=second, warm_up_seconds=round(first["seconds"] - second["seconds"], 1))
    reference = Path(args.work) / "plain-frames.pt"
    if args.compile == "none":
        torch.save(frames.cpu(), reference)
    elif reference.exists():
        row["frames_mean_abs_diff"] = float((frames.cpu().float() - torch.load(reference).float()).abs().mean())
    if args.compile == "regional":
        try:
            row["decode8_call"], _ = call(pipe, image, args, 1, chunk=8)
        except Exception as error:  # noqa: BLE001 -- out of memory is an answer
            row["decode8_call"] = {"error": f"{type(error).__name__}: {str(error).strip()[:300]}"}
    emit(row)


# ----------------------------------------------------------------------------------------------------
# In the parent


JOBS = [  # (name, kind, compile, on 2 CPUs, time limit in seconds)
    ("rates", "rates", "none", False, 60),
    ("profile-plain", "profile", "none", False, 150),
    ("cpu2-plain", "cpu2", "none", True, 150),
    ("cpu2-regional", "cpu2", "regional", True, 300),
    ("profile-regional", "profile", "regional", False, 200),
    ("cpu2-full", "cpu2", "full", True, 420),
]


def run_child(job, args, environment: dict, timeout: float) -> list[dict]:
    name, kind, how, two_cpus, _ = job
    command = [
        sys.executable,
        __file__,
        "child",
        kind,
        "--job",
        name,
        "--compile",
        how,
        "--folder",
        str(args.folder),
        "--work",
        args.work,
        "--steps",
        str(args.steps),
        "--frames",
        str(args.frames),
        "--height",
        str(args.height),
        "--width",
        str(args.width),
        "--device",
        args.device,
        "--backend",
        args.backend,
    ]
    if two_cpus and sys.platform.startswith("linux"):
        command = ["taskset", "-c", "0,1"] + command
    cache = Path(args.work) / f"cache-{name}"  # a cold compile cache: the warm-up a learner pays the first time
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={
                **environment,
                "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
                "TRITON_CACHE_DIR": str(cache / "triton"),
            },
        )
        stdout, failure = done.stdout, (done.stderr[-2000:] if done.returncode else None)
    except subprocess.TimeoutExpired as expired:
        stdout = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        failure = f"timed out after {timeout:.0f} s"
    rows = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
    if not rows:
        rows = [{"job": name, "error": failure or "no result"}]
    for row in rows:
        row["process_seconds"] = round(time.perf_counter() - started, 1)
    return rows


def parent(args) -> None:
    deadline = time.monotonic() + args.deadline_s
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "plain-frames.pt").unlink(missing_ok=True)
    site = work / "site"
    if not args.dry_run:
        from rehearse_colab import install_bundles  # .rehearsal/kernel: Colab's diffusers, accelerate, hub

        install_bundles(site)
    paths = [str(ROOT), str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    environment = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(paths),
        TQDM_DISABLE="1",
        HF_HUB_OFFLINE="1",
        PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True",
    )
    args.folder = build(args, environment)
    results = {
        "settings": {k: getattr(args, k) for k in ("steps", "frames", "height", "width", "dry_run")},
        "machine": machine(args, environment),
        "jobs": [],
    }
    results["settings"].update(
        plan=PLAN,
        limits=f"{T4_GIB} GiB pool, no FlashAttention, no cuDNN attention, expandable segments",
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for job in JOBS:
        if args.only and job[0] not in args.only.split(","):
            continue
        left = deadline - time.monotonic()
        if left < 60:
            results["jobs"].append({"job": job[0], "skipped": f"{left:.0f} s left of the deadline"})
            continue
        for row in run_child(job, args, environment, min(job[4], left)):
            results["jobs"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "calls"})[:600], flush=True)
        out.write_text(json.dumps(results, indent=1) + "\n")  # after every job: a run cut short keeps its rows


def build(args, environment: dict) -> Path:
    """The weights, built once per machine: full-size random SVD-XT (tiny ones for a dry run)."""
    rehearsal = Path("/tmp/svd-learn-rehearsal/random-svd-xt")  # rehearse_colab.py's, on a warm machine
    if not args.dry_run and (rehearsal / "model_index.json").exists():
        return rehearsal
    folder = Path(args.work) / ("tiny-svd-xt" if args.dry_run else "random-svd-xt")
    if not (folder / "model_index.json").exists():
        builder = "build_tiny_pipeline" if args.dry_run else "build_full_size_random_pipeline"
        code = f"from svd_learn import models; import sys; models.{builder}(sys.argv[1], 'svd-xt')"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(folder) + ".partial"], check=True, env=environment)
        Path(str(folder) + ".partial").rename(folder)
        print(f"built {folder} in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def machine(args, environment: dict) -> dict:
    code = (
        "import json, platform, torch, diffusers; print(json.dumps({'python': platform.python_version(), "
        "'torch': torch.__version__, 'diffusers': diffusers.__version__, "
        "'gpu': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    return {
        **json.loads(found.stdout.strip().splitlines()[-1]),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


# ----------------------------------------------------------------------------------------------------
# Here: the projection


def matrix_work(kernel: str) -> bool:
    return any(part in kernel.lower() for part in MATRIX_KERNELS)


def split(call_row: dict) -> dict:
    """A profiled call's GPU seconds by class, from the kernels (the operators' own times double count: a blocked
    launch shows as a "Command Buffer Full" operator that is charged the kernels that ran meanwhile)."""
    kernels = [r for r in call_row["operators"]["kernels"] if not r["name"].startswith("## ")]  # "## Call
    # CompiledFxGraph ... ##" rows are ranges on the GPU's timeline around a compiled graph's kernels, not kernels
    matrix = sum(r["self_us"] for r in kernels if matrix_work(r["name"])) / 1e6
    memory = sum(r["self_us"] for r in kernels if not matrix_work(r["name"])) / 1e6
    return {"matrix_s": matrix, "memory_s": memory, "wall_s": call_row["seconds"]}


def per_step_and_fixed(profile_row: dict) -> tuple[dict, dict]:
    """From the 1-step and 3-step calls: the seconds of one UNet step and of the fixed work, by class."""
    one, three = (split(c) for c in profile_row["calls"])
    step = {k: (three[k] - one[k]) / 2 for k in one}
    fixed = {k: one[k] - step[k] for k in one}
    return step, fixed


def project(path: Path) -> dict:
    """The profile scaled to a T4 (see the module docstring), beside the public T4 reports."""
    from svd_learn import t4

    results = json.loads(path.read_text())
    jobs = {row["job"]: row for row in results["jobs"]}
    data = t4._read_data()
    rates, projection = jobs["rates"], data["projection"]
    matrix_ratio = rates["matmul_tflops"] / data["rate"]["sustained_fp16_tflops"]
    memory_ratio = projection["profiled_gpu_bandwidth_gb_s"] / projection["t4_bandwidth_gb_s"]
    summary = {"matrix_ratio": round(matrix_ratio, 2), "memory_ratio": round(memory_ratio, 2)}
    flops, frames = data["flops"], results["settings"]["frames"]
    for name in ("profile-plain", "profile-regional"):
        if name not in jobs or "calls" not in jobs[name]:
            continue
        step, fixed = per_step_and_fixed(jobs[name])
        t4_step = step["matrix_s"] * matrix_ratio + step["memory_s"] * memory_ratio
        t4_fixed = fixed["matrix_s"] * matrix_ratio + fixed["memory_s"] * memory_ratio
        summary[name] = {
            "this_gpu_step_s": round(step["wall_s"], 3),
            "this_gpu_step_matrix_s": round(step["matrix_s"], 3),
            "this_gpu_step_memory_s": round(step["memory_s"], 3),
            "t4_step_s": round(t4_step, 2),
            "t4_fixed_s": round(t4_fixed, 1),
            "t4_video_25_steps_min": round((t4_fixed + 25 * t4_step) / 60, 2),
            "t4_video_30_steps_min": round((t4_fixed + 30 * t4_step) / 60, 2),
            # the rates data/t4.toml [calibration] keeps: the frames' FLOPs over the projected seconds
            "t4_unet_tflops": round(frames * flops["unet_tflop_per_frame_step"] / t4_step, 2),
            "t4_vae_tflops": round(frames * flops["vae_tflop_per_frame"] / t4_fixed, 2),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    child_parser = commands.add_parser("child")
    child_parser.add_argument("kind", choices=("rates", "profile", "cpu2"))
    child_parser.add_argument("--job", required=True)
    child_parser.add_argument("--compile", default="none", choices=("none", "regional", "full"))
    child_parser.add_argument("--folder", type=Path)
    for sub in (run_parser, child_parser):
        sub.add_argument("--work", default="/tmp/svd-learn-t4-profile")
        sub.add_argument("--steps", type=int, default=3)
        sub.add_argument("--frames", type=int, default=25)
        sub.add_argument("--height", type=int, default=576)
        sub.add_argument("--width", type=int, default=1024)
        sub.add_argument("--device", default="cuda")
        sub.add_argument("--backend", default="inductor")
    run_parser.add_argument("--out", required=True)
    run_parser.add_argument("--dry-run", action="store_true", help="tiny weights on the CPU, eager backend")
    run_parser.add_argument("--only", help="comma-separated job names")
    run_parser.add_argument("--deadline-s", type=float, default=540)
    project_parser = commands.add_parser("project")
    project_parser.add_argument("results", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        if args.dry_run:
            args.device, args.backend, args.steps, args.height, args.width = "cpu", "eager", 2, 72, 128
        parent(args)
    elif args.command == "child":
        {"rates": job_rates, "profile": job_profile, "cpu2": job_cpu2}[args.kind](args)
    else:
        print(json.dumps(project(args.results), indent=1))


if __name__ == "__main__":
    main()
