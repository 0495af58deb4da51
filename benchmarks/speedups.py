"""Speed-ups that leave the video unchanged, under a T4's limits, measured in one run (issue 16).

    # on the GPU machine, from the repository root, with .rehearsal/kernel carried (Colab's diffusers):
    python3 benchmarks/speedups.py --out $OUT/speedups-h200.json
    # here, on the CPU: the same jobs with tiny weights, 2 steps, compile with the "eager" backend (a dry run)
    python benchmarks/speedups.py --dry-run --out /tmp/speedups-dry.json

Full-size random SVD-XT fp16 weights (models.build_full_size_random_pipeline), 25 frames at 576x1024, under the
rehearsal's T4 limits: PyTorch's pool capped at 14.74 GiB, no FlashAttention, no cuDNN attention (what
benchmarks/colab_t4/t4_emulation.py sets, without renaming the device: torch.compile's Triton reads the compute
capability to choose its target, and a T4's 7.5 would build kernels an H200 cannot run).

Each job runs in a fresh process (offload hooks and compiled graphs cannot be removed; peaks must not mix) with
PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, and the results file is rewritten after every job. To fit one
call of the GPU machine, every pipeline call runs --steps steps (5), and a 25-step call is estimated as
prepare + 25 x the median step + decode. Jobs, most important first:
- rates: the GPU's dense fp16 matmul rate (8192^3) and host->GPU copy bandwidth (the H200 time model);
- gpu: the planner's plan, then in the same process: channels_last UNet, cuDNN benchmark mode, math-only
  attention, and the plan again (run-to-run noise). Its frames and final latents are the reference;
- docs-recipe: diffusers' SVD docs low-memory recipe (model offload, forward chunking, decode_chunk_size=2);
- compile-regional, compile: the planner's plan with the UNet compiled as `svd-learn generate --compile` does it
  (svd_learn.generate.compile_unet): its repeated blocks (regional), then the whole UNet (torch.compile(pipe.unet),
  default mode). The first call's extra seconds are the warm-up, the second call is timed and compared;
- seed-recipe: pipe.to("cuda") in fp16, decoding all 25 frames at once (expected: out of memory under the cap);
- decode: the reference latents decoded 2, 8, 14 and 25 frames at a time: seconds, peak, and how the frames
  differ (mean absolute difference from decoding all 25 at once; frame-to-frame change inside and across chunks);
- seed-recipe-attention-slicing: the seed notes' own recipe (model offload + attention slicing, decode all).
A candidate counts as unchanged when its frames differ from the reference by at most 1/255 on average (one level
of the 8-bit video), with the same seed and the same decode chunk; the summary says which pass.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from svd_learn.environment import GIB  # noqa: E402 (once the repository is on the path)
from svd_learn.memory import T4_GIB, T4_SAFE_PEAK_GIB  # noqa: E402

UNCHANGED_MEAN_ABS = 1 / 255  # frames in [0, 1]: one level of the written 8-bit video, on average
DOCS_RECIPE = "docs-recipe"
SEED_RECIPE = "gpu-decode-all"  # pipe.to("cuda"), decode every frame at once
DECODE_CHUNKS = (2, 8, 14, 25)


# ----------------------------------------------------------------------------------------------------
# In a child: one pipeline call, measured


def t4_limits(torch) -> None:
    """The rehearsal's T4 limits in this process: a 14.74 GiB pool, no FlashAttention, no cuDNN attention."""
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(T4_GIB * GIB / total, 0)
    torch.backends.cuda.enable_flash_sdp(False)
    torch.backends.cuda.enable_cudnn_sdp(False)


def timed_call(pipe, image, args, steps: int, chunk: int) -> dict:
    """One pipeline call (svd_learn.measure.measure_call, the course's one measured call): step times, prepare and
    decode seconds, peaks (denoising, decoding), the final latents and the frames; and the 25-step estimate."""
    from svd_learn import measure
    from svd_learn.parameters import GenerationParameters

    params = GenerationParameters(
        num_frames=args.frames, height=args.height, width=args.width, num_inference_steps=steps, decode_chunk_size=chunk
    )
    call = measure.measure_call(pipe, image, params, device=args.device, output_type="pt", keep_latents=True)
    measured = call.measurement
    row = {
        "steps": steps,
        "decode_chunk_size": chunk,
        "seconds": measured.seconds,
        "step_seconds": measured.step_seconds,
        "seconds_per_step": measured.seconds_per_step,
        "prepare_seconds": measured.prepare_seconds,
        "decode_seconds": measured.decode_seconds,
        "frames_finite": measured.frames_finite,
    }
    row["seconds_25_steps"] = row["prepare_seconds"] + 25 * measured.seconds_per_step + row["decode_seconds"]
    if args.device == "cuda":
        row.update(
            denoise_peak_reserved_gib=measured.denoise_peak_reserved_gib,
            decode_peak_reserved_gib=measured.decode_peak_reserved_gib,
            peak_allocated_gib=measured.peak_allocated_gib,
            peak_reserved_gib=measured.peak_reserved_gib,
        )
    row["frames"] = call.frames.detach().float().cpu()
    row["latents"] = call.latents
    return row


def compare(row: dict, reference: dict) -> dict:
    """How far a call's frames and final latents are from the reference call's (same seed)."""
    frames, latents = row["frames"], row["latents"].float()
    ref_frames, ref_latents = reference["frames"], reference["latents"].float()
    difference = (frames - ref_frames).abs()
    return {
        "frames_mean_abs_diff": float(difference.mean()),
        "frames_max_abs_diff": float(difference.max()),
        "frames_8bit_levels_changed_share": float(
            ((frames * 255).round() != (ref_frames * 255).round()).float().mean()
        ),
        "latents_relative_l2_diff": float((latents - ref_latents).norm() / ref_latents.norm().clamp_min(1e-12)),
    }


def measured(name: str, call, reference: dict | None, same_decode: bool = True) -> dict:
    """A job row from a timed call: the numbers, and (against the reference) whether the video is unchanged."""
    row = {"job": name, **{k: v for k, v in call.items() if k not in ("frames", "latents")}}
    if reference is not None:
        row.update(compare(call, reference))
        if same_decode:
            row["unchanged"] = row["frames_mean_abs_diff"] <= UNCHANGED_MEAN_ABS
    return row


def failed(name: str, error: BaseException) -> dict:
    import torch

    from svd_learn import measure

    oom = measure.is_out_of_memory(error)
    if not oom:
        traceback.print_exc()
    row = {
        "job": name,
        "oom": oom,
        "error": f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}",
        "error_at": "; ".join(getattr(error, "__notes__", [])),
    }
    if torch.cuda.is_available():
        row.update(
            peak_reserved_gib=torch.cuda.max_memory_reserved() / GIB,
            peak_allocated_gib=torch.cuda.max_memory_allocated() / GIB,
        )
        torch.cuda.empty_cache()
    return row


def emit(row: dict) -> None:
    print("RESULT " + json.dumps(row), flush=True)


def load(args, plan: str):
    """The pipeline from --folder with `plan` applied, and the sample image at the call's size."""
    import torch
    from PIL import Image

    from svd_learn import models, plans

    dtype = torch.float16 if args.device == "cuda" else torch.float32
    pipe = models.load_pipeline(args.folder, device=args.device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    if args.device == "cuda":
        t4_limits(torch)
    plans.apply_plan(pipe, plan, args.device)
    image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((args.width, args.height))
    return pipe, image


# ----------------------------------------------------------------------------------------------------
# The child jobs


def job_rates(args) -> None:
    """The GPU's dense fp16 matmul rate and its host<->GPU copy bandwidth (pageable and pinned memory)."""
    import torch

    cuda = args.device == "cuda"
    n, repeats = (8192, 100) if cuda else (512, 3)
    dtype = torch.float16 if cuda else torch.float32
    a, b = torch.randn(n, n, dtype=dtype, device=args.device), torch.randn(n, n, dtype=dtype, device=args.device)
    for _ in range(3):  # warm-up: cuBLAS picks its kernel
        a @ b
    c = torch.empty_like(a)
    seconds = timed(lambda: [torch.matmul(a, b, out=c) for _ in range(repeats)], cuda)
    row = {
        "job": "rates",
        "matmul_size": n,
        "matmul_dtype": str(dtype),
        "matmul_tflops": 2 * n**3 * repeats / seconds / 1e12,
    }
    if cuda:
        host = torch.empty(2 * GIB, dtype=torch.uint8)
        pinned = torch.empty(2 * GIB, dtype=torch.uint8, pin_memory=True)
        device = torch.empty(2 * GIB, dtype=torch.uint8, device="cuda")
        host.fill_(1)  # touch every page: a copy from never-touched memory reads the zero page
        device.copy_(pinned)  # first copies: driver set-up
        device.copy_(host)
        row["h2d_pageable_gb_s"] = 2 * GIB / timed(lambda: device.copy_(host), cuda) / 1e9
        row["h2d_pinned_gb_s"] = 2 * GIB / timed(lambda: device.copy_(pinned), cuda) / 1e9
        row["d2h_pageable_gb_s"] = 2 * GIB / timed(lambda: host.copy_(device), cuda) / 1e9
    emit(row)


def timed(work, cuda: bool) -> float:
    import torch

    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    work()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started


def _variants(torch, pipe):
    """Same-process candidates on the plain plan: (name, switch(on), a warm-up call first)."""

    def channels_last(on):  # the 2-D convolutions' weights (the temporal layers' Conv3d have no such format)
        layout = torch.channels_last if on else torch.contiguous_format
        for module in pipe.unet.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.data = module.weight.data.contiguous(memory_format=layout)

    def cudnn_benchmark(on):  # cuDNN times its algorithms for each new shape: the warm-up call pays for that
        torch.backends.cudnn.benchmark = on

    def math_attention(on):  # memory-efficient attention off: only the math kernel is left
        torch.backends.cuda.enable_mem_efficient_sdp(not on)

    return [
        ("channels_last", channels_last, False),
        ("cudnn_benchmark", cudnn_benchmark, True),
        ("sdpa_math", math_attention, False),
        ("plain_again", None, False),
    ]


def job_gpu(args) -> None:
    """The planner's plan (the reference), the candidates that need no fresh process, the plan again (run-to-run
    noise), then the decode study on the reference latents."""
    import torch

    pipe, image = load(args, args.plan)
    timed_call(pipe, image, args, 1, args.chunk)  # warm-up: a fresh process's first call is slower
    reference = timed_call(pipe, image, args, args.steps, args.chunk)
    torch.save({"frames": reference["frames"], "latents": reference["latents"]}, Path(args.work) / "reference.pt")
    emit({**measured("plain", reference, None), "plan": args.plan})
    for name, switch, warm_up in _variants(torch, pipe):
        try:
            if switch:
                switch(True)
            if warm_up:
                timed_call(pipe, image, args, 1, args.chunk)
            emit(
                {**measured(name, timed_call(pipe, image, args, args.steps, args.chunk), reference), "plan": args.plan}
            )
        except Exception as error:  # noqa: BLE001 - recorded; math attention is expected to run out of memory
            emit({**failed(name, error), "plan": args.plan})
        finally:
            if switch:
                switch(False)
    decode_study(pipe, reference, args)


def job_plan(args) -> None:
    """One plan in its own process (offload hooks stay): a warm-up call, then the measured one."""
    reference = _reference(args)
    try:
        pipe, image = load(args, args.plan)
        if args.warm_up:
            timed_call(pipe, image, args, 1, args.chunk)
        call = timed_call(pipe, image, args, args.steps, args.chunk)
        emit({**measured(args.job, call, reference, same_decode=False), "plan": args.plan})
    except Exception as error:  # noqa: BLE001 - recorded; the seed recipe is expected to run out of memory
        emit({**failed(args.job, error), "plan": args.plan})


def job_compile(args) -> None:
    """The UNet compiled as the course compiles it (svd_learn.generate.compile_unet, in this job's mode: "compile" is
    torch.compile(pipe.unet), "compile-regional" its repeated blocks): the first call compiles (its extra seconds are
    the warm-up), the second is timed."""
    from svd_learn import generate

    reference = _reference(args)
    pipe, image = load(args, args.plan)
    mode = "regional" if args.job.endswith("regional") else "full"
    generate.compile_unet(pipe, mode, args.compile_backend)
    about = {"plan": args.plan, "backend": args.compile_backend, "mode": mode}
    try:
        first = timed_call(pipe, image, args, args.steps, args.chunk)
        emit({**measured(f"{args.job}-first-call", first, reference), **about})
        second = timed_call(pipe, image, args, args.steps, args.chunk)
    except Exception as error:  # noqa: BLE001 - recorded: a compile failure is a result too
        emit({**failed(args.job, error), **about})
        return
    emit({**measured(args.job, second, reference), **about, "warm_up_seconds": first["seconds"] - second["seconds"]})


def _reference(args) -> dict | None:
    import torch

    path = Path(args.work) / "reference.pt"
    return torch.load(path) if path.exists() else None


def decode_study(pipe, reference: dict, args) -> None:
    """The reference latents decoded with each chunk size, in the plan's process (the UNet stays on the GPU, as
    in a call): seconds and peak under the cap, and how the frames differ from decoding all at once. A chunk that
    runs out of memory under the cap is decoded again without it, for the comparison only."""
    import torch

    cuda = args.device == "cuda"
    latents = reference["latents"].to(args.device)
    rows, frames = [], {}
    for chunk in DECODE_CHUNKS:
        try:
            row, frames[chunk] = _decode(pipe, latents, args.frames, chunk, cuda)
        except Exception as error:  # noqa: BLE001 - the large chunks run out of memory under the cap
            row = failed(f"decode-{chunk}", error)
            if cuda and row["oom"]:
                torch.cuda.set_per_process_memory_fraction(1.0, 0)
                uncapped, frames[chunk] = _decode(pipe, latents, args.frames, chunk, cuda)
                row.update(
                    uncapped=True,
                    uncapped_seconds=uncapped["seconds"],
                    uncapped_peak_reserved_gib=uncapped.get("peak_reserved_gib"),
                )
                t4_limits(torch)
        rows.append({**row, "job": f"decode-{chunk}", "decode_chunk_size": chunk, "plan": args.plan})
    for row in rows:
        chunk = row["decode_chunk_size"]
        if chunk in frames:
            row.update(_decode_quality(frames[chunk], frames.get(max(DECODE_CHUNKS)), chunk))
        if chunk == args.chunk and chunk in frames:  # the reference call decoded these latents the same way
            row["mean_abs_diff_vs_reference_call"] = float((frames[chunk] - reference["frames"]).abs().mean())
        emit(row)


def _decode(pipe, latents, num_frames: int, chunk: int, cuda: bool) -> tuple[dict, object]:
    """pipe.decode_latents, as the pipeline calls it; frames in [0, 1] as output_type="pt" gives them."""
    import torch

    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    kept = []
    with torch.no_grad():
        seconds = timed(lambda: kept.append(pipe.decode_latents(latents, num_frames, chunk)), cuda)
    frames = (kept[0].float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 1, 3, 4).cpu()  # (batch, frames, channels, h, w)
    row = {"seconds": seconds}
    if cuda:
        row.update(
            peak_reserved_gib=torch.cuda.max_memory_reserved() / GIB,
            peak_allocated_gib=torch.cuda.max_memory_allocated() / GIB,
        )
    return row, frames


def _decode_quality(frames, all_at_once, chunk: int) -> dict:
    """Mean absolute difference from decoding all frames at once, and frame-to-frame change: its mean, and its
    mean inside chunks and across chunk boundaries (where the VAE's temporal layers lose their context)."""
    steps = (frames[:, 1:] - frames[:, :-1]).abs().mean(dim=(0, 2, 3, 4))  # change from frame t to t + 1
    boundary = [t for t in range(len(steps)) if (t + 1) % chunk == 0]
    inside = [t for t in range(len(steps)) if (t + 1) % chunk != 0]
    row = {
        "flicker_mean_abs": float(steps.mean()),
        "flicker_inside_chunks": float(steps[inside].mean()) if inside else None,
        "flicker_across_chunks": float(steps[boundary].mean()) if boundary else None,
    }
    if all_at_once is not None:
        row["mean_abs_diff_vs_all_at_once"] = float((frames - all_at_once).abs().mean())
    return row


CHILDREN = {"rates": job_rates, "gpu": job_gpu, "plan": job_plan, "compile": job_compile}


# ----------------------------------------------------------------------------------------------------
# The parent: the jobs, each in a fresh process, and the results file


def jobs(plan: str, args) -> list[dict]:
    """The jobs in order, most important first. `limit`: seconds a job may take; `leave`: seconds it leaves
    for the jobs after it (the compile warm-up takes what is left)."""
    return [
        dict(job="rates", kind="rates", limit=90),
        dict(job="gpu", kind="gpu", plan=plan, limit=240),
        dict(job=DOCS_RECIPE, kind="plan", plan=DOCS_RECIPE, warm_up=True, limit=120),
        dict(job="compile-regional", kind="compile", plan=plan, limit=240, leave=35),
        dict(job="compile", kind="compile", plan=plan, limit=420, leave=35),
        dict(job="seed-recipe", kind="plan", plan=SEED_RECIPE, steps=2, limit=60),
        dict(job="seed-recipe-attention-slicing", kind="plan", plan="seed-recipe", steps=2, limit=60),
    ]


def run_child(job: dict, args, environment: dict, timeout: float) -> list[dict]:
    """One job in a fresh process: its RESULT rows (or one row saying how it failed)."""
    from svd_learn import plans

    plan = job.get("plan", "gpu-decode8")
    command = [
        sys.executable,
        __file__,
        "--child",
        job["kind"],
        "--job",
        job["job"],
        "--plan",
        plan,
        "--folder",
        str(args.folder),
        "--work",
        str(args.work),
        "--steps",
        str(job.get("steps", args.steps)),
        "--chunk",
        str(plans.get_plan(plan).decode_chunk_size),
        "--frames",
        str(args.frames),
        "--height",
        str(args.height),
        "--width",
        str(args.width),
        "--device",
        args.device,
        "--compile-backend",
        args.compile_backend,
    ] + (["--warm-up"] if job.get("warm_up") else [])
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    except subprocess.TimeoutExpired as expired:
        stdout = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        rows = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
        return rows + [{"job": job["job"], "plan": plan, "error": f"timed out after {timeout:.0f} s"}]
    rows = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not rows:
        print(done.stderr[-3000:], flush=True)
    if not rows:
        rows = [{"job": job["job"], "plan": plan, "error": f"child exited {done.returncode}: {done.stderr[-1500:]}"}]
    for row in rows:
        row["process_seconds"] = round(time.perf_counter() - started, 1)
    return rows


def prepare(args) -> dict:
    """The environment of the children: Colab's libraries from the carried bundles (on the GPU machine), the
    repository on PYTHONPATH, expandable segments, and a fresh compile cache (the warm-up a learner pays)."""
    site = Path(args.site)
    if not args.dry_run:
        from rehearse_colab import install_bundles  # .rehearsal/kernel: Colab's diffusers, accelerate, hub

        install_bundles(site)
    sys.path.insert(0, str(site))
    paths = [str(ROOT), str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(paths),
        PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True",
        TQDM_DISABLE="1",
        HF_HUB_OFFLINE="1",
        TORCHINDUCTOR_CACHE_DIR=str(Path(args.work) / f"inductor-{os.getpid()}"),
        TRITON_CACHE_DIR=str(Path(args.work) / f"triton-{os.getpid()}"),
    )


def build(args, environment: dict) -> Path:
    """The weights, built once per machine in their own process: full-size random SVD-XT, or tiny ones."""
    folder = Path(args.work) / ("tiny-svd-xt" if args.dry_run else "random-svd-xt")
    rehearsal = Path("/tmp/svd-learn-rehearsal/random-svd-xt")  # rehearse_colab.py's build, on a warm machine
    if not args.dry_run and (rehearsal / "model_index.json").exists():
        return rehearsal
    if not (folder / "model_index.json").exists():
        started = time.perf_counter()
        builder = "build_tiny_pipeline" if args.dry_run else "build_full_size_random_pipeline"
        code = f"from svd_learn import models; import sys; models.{builder}(sys.argv[1], 'svd-xt')"
        subprocess.run([sys.executable, "-c", code, str(folder) + ".partial"], check=True, env=environment)
        Path(str(folder) + ".partial").rename(folder)
        print(f"built {folder} in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def machine(args) -> dict:
    import torch

    from svd_learn.environment import installed_version

    found = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        **{name: installed_version(name) for name in ("diffusers", "transformers", "accelerate", "huggingface_hub")},
    }
    if args.device == "cuda":
        found.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda)
    else:
        found.update(gpu=None, note="dry run: tiny weights on the CPU; the seconds and FLOP shares mean nothing")
    return found


def parent(args) -> None:
    deadline = time.monotonic() + args.deadline_s
    Path(args.work).mkdir(parents=True, exist_ok=True)
    environment = prepare(args)
    (Path(args.work) / "reference.pt").unlink(missing_ok=True)  # never compare with an earlier run's frames
    from svd_learn import planner

    results = {
        "settings": {k: getattr(args, k) for k in ("steps", "frames", "height", "width", "dry_run", "compile_backend")},
        "machine": machine(args),
        "jobs": [],
        "summary": {},
    }
    results["settings"].update(
        emulation=f"{T4_GIB} GiB pool, no FlashAttention, no cuDNN attention" if args.device == "cuda" else None,
        unchanged_if_frames_mean_abs_diff_at_most=UNCHANGED_MEAN_ABS,
        timing=f"each call runs {args.steps} steps (the seed recipes 2); seconds_25_steps = the call's "
        "preparation + 25 x its median step + its decode",
        docs_recipe="diffusers' SVD docs: enable_model_cpu_offload(), unet.enable_forward_chunking(), "
        "decode_chunk_size=2",
    )
    print("machine:", results["machine"], flush=True)
    args.folder = build(args, environment)
    plan = planner.choose_plan(T4_GIB, 12.7).plan.name  # the planner's plan for a free Colab T4
    results["settings"]["planner_plan"] = plan
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for job in jobs(plan, args):
        if args.only and job["job"] not in args.only.split(","):
            continue
        left = deadline - time.monotonic() - job.get("leave", 0)
        if left < 30:
            print(f"skipped {job['job']}: {left:.0f} s left", flush=True)
            results["jobs"].append({"job": job["job"], "skipped": f"{left:.0f} s left of the deadline"})
            continue
        for row in run_child(job, args, environment, min(job["limit"], left)):
            results["jobs"].append(row)
            print(_line(row), flush=True)
        results["summary"] = summarize(results["jobs"], args)
        out.write_text(json.dumps(results, indent=1) + "\n")  # after every job: a run cut short keeps what it measured
    print(json.dumps(results["summary"], indent=1), flush=True)


def _line(row: dict) -> str:
    fields = (
        "seconds",
        "seconds_per_step",
        "seconds_25_steps",
        "decode_seconds",
        "peak_reserved_gib",
        "frames_mean_abs_diff",
        "unchanged",
        "warm_up_seconds",
        "matmul_tflops",
        "h2d_pageable_gb_s",
        "mean_abs_diff_vs_all_at_once",
        "flicker_mean_abs",
        "oom",
        "error",
    )
    shown = {k: round(row[k], 4) if isinstance(row[k], float) else row[k] for k in fields if k in row}
    return f"{row['job']:32} {json.dumps(shown)[:400]}"


# ----------------------------------------------------------------------------------------------------
# The summary: speed-ups against the docs recipe, exactness, efficiency, the time model against this GPU

CANDIDATES = (
    "plain",
    "channels_last",
    "cudnn_benchmark",
    "sdpa_math",
    "plain_again",
    "compile",
    "compile-regional",
    DOCS_RECIPE,
    "seed-recipe",
    "seed-recipe-attention-slicing",
)


def summarize(rows: list[dict], args) -> dict:
    """What the rows say, recomputed after every job."""
    import math

    by = {row["job"]: row for row in rows}
    docs, plain = by.get(DOCS_RECIPE, {}), by.get("plain", {})
    gpu_rates = _gpu_rates(by.get("rates", {}), args)
    candidates = {
        name: _candidate(by[name], docs, plain, gpu_rates, by.get("rates", {}), args)
        for name in CANDIDATES
        if name in by
    }
    summary = {
        "candidates": candidates,
        "decode_chunks": [_decode_row(by[f"decode-{c}"]) for c in DECODE_CHUNKS if f"decode-{c}" in by],
    }
    for job, key in (("compile", "compile"), ("compile-regional", "compile_regional")):
        compiled = by.get(job, {})
        if "warm_up_seconds" in compiled and "seconds_25_steps" in plain:
            saving = plain["seconds_25_steps"] - compiled["seconds_25_steps"]
            summary[key] = {
                "warm_up_seconds": compiled["warm_up_seconds"],
                "saving_per_video_seconds": saving,
                "break_even_videos": math.ceil(compiled["warm_up_seconds"] / saving) if saving > 0 else None,
            }
    exact = [
        name
        for name, entry in candidates.items()
        if name in ("plain", "channels_last", "cudnn_benchmark", "compile", "compile-regional")
        and "seconds_25_steps" in entry
        and entry.get("unchanged", name == "plain")
        and entry.get("fits") is not False
    ]
    if exact:
        best = min(exact, key=lambda name: candidates[name]["seconds_25_steps"])
        entry = candidates[best]
        summary["chosen_exact"] = {
            "candidate": best,
            "plan": entry["plan"],
            "seconds_25_steps": entry["seconds_25_steps"],
            "speedup_vs_docs_recipe": entry.get("speedup_vs_docs_recipe"),
            "fits": entry.get("fits"),
            "unchanged": entry.get("unchanged", best == "plain"),
            "note": f"{best}: per video after its warm-up (see {best})" if best.startswith("compile") else None,
        }
        summary["chosen_exact"]["meets_1_4x"] = (entry.get("speedup_vs_docs_recipe") or 0) >= 1.4
    seed = by.get("seed-recipe", {})
    summary["seed_recipe_out_of_memory"] = seed.get("oom") if seed else None
    return summary


def _gpu_rates(rates: dict, args):
    """This GPU for the time model: its measured matmul rate and pageable host->GPU bandwidth."""
    from svd_learn import t4

    if args.dry_run or "h2d_pageable_gb_s" not in rates:
        return None
    return t4.Rates(
        "this GPU (measured)",
        rates["matmul_tflops"],
        rates["matmul_tflops"],
        rates["h2d_pageable_gb_s"],
        "dense fp16 8192^3 matmuls (for the UNet and the decode alike) and a 2 GiB pageable host->GPU copy, "
        "measured in this run",
    )


def _candidate(row: dict, docs: dict, plain: dict, gpu_rates, rates: dict, args) -> dict:
    """One candidate's line of the summary."""
    from svd_learn import t4

    entry = {"plan": row.get("plan"), "oom": row.get("oom", False), "error": row.get("error")}
    if "seconds_25_steps" not in row:
        return entry
    seconds = row["seconds_25_steps"]
    peak = row.get("peak_reserved_gib")
    entry.update(
        seconds_25_steps=seconds,
        seconds_per_step=row["seconds_per_step"],
        decode_seconds=row["decode_seconds"],
        peak_reserved_gib=peak,
        fits=None if peak is None else peak <= T4_SAFE_PEAK_GIB,
        unchanged=row.get("unchanged"),
        frames_mean_abs_diff=row.get("frames_mean_abs_diff"),
    )
    if "seconds_25_steps" in docs:
        entry["speedup_vs_docs_recipe"] = docs["seconds_25_steps"] / seconds
    if "seconds_25_steps" in plain:
        entry["speedup_vs_plain"] = plain["seconds_25_steps"] / seconds
    if args.dry_run:
        return entry  # tiny weights: the full-size FLOPs below do not apply
    work = t4.plan_work(row["plan"], 25, args.frames, args.height, args.width)
    entry["unet_tflops_achieved"] = work.unet_tflop_per_step / row["seconds_per_step"]
    if rates.get("matmul_tflops"):
        entry["unet_share_of_matmul_rate"] = entry["unet_tflops_achieved"] / rates["matmul_tflops"]
    entry["predicted_t4_seconds"] = work.seconds()["seconds"]
    if gpu_rates is not None:
        predicted = work.seconds(gpu_rates)
        entry.update(
            predicted_seconds_this_gpu=predicted["seconds"],
            predicted_transfer_seconds_this_gpu=predicted["transfer_s"],
            measured_over_predicted=seconds / predicted["seconds"],
        )
    return entry


def _decode_row(row: dict) -> dict:
    keys = (
        "decode_chunk_size",
        "seconds",
        "peak_reserved_gib",
        "oom",
        "uncapped",
        "uncapped_seconds",
        "uncapped_peak_reserved_gib",
        "mean_abs_diff_vs_all_at_once",
        "flicker_mean_abs",
        "flicker_inside_chunks",
        "flicker_across_chunks",
        "mean_abs_diff_vs_reference_call",
    )
    entry = {key: row[key] for key in keys if key in row}
    if entry.get("peak_reserved_gib") is not None and not entry.get("oom"):
        entry["fits"] = entry["peak_reserved_gib"] <= T4_SAFE_PEAK_GIB
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="speedups.json", help="the results file, rewritten after every job")
    parser.add_argument(
        "--dry-run", action="store_true", help="tiny weights on the CPU, 2 steps, compile with the eager backend"
    )
    parser.add_argument("--steps", type=int, help="steps per pipeline call (default 5; dry run 2)")
    parser.add_argument("--work", default="/tmp/svd-speedups", help="weights, reference frames, compile cache")
    parser.add_argument("--site", default="/tmp/svd-speedups/site", help="where the carried wheels are installed")
    parser.add_argument(
        "--deadline-s", type=float, default=470, help="no job starts after this; compile takes what is left"
    )
    parser.add_argument("--compile-backend", help="torch.compile backend (default inductor; dry run eager)")
    parser.add_argument("--frames", type=int, default=25, help="frames per video (fewer only to test the script)")
    parser.add_argument("--only", help="run only these jobs (comma-separated names: rates,gpu,docs-recipe,...)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    for name in ("--job", "--plan", "--folder", "--device"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    for name in ("--chunk", "--height", "--width"):
        parser.add_argument(name, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm-up", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        CHILDREN[args.child](args)
        return
    from svd_learn import models

    args.device = "cpu" if args.dry_run else "cuda"
    args.steps = args.steps or (2 if args.dry_run else 5)
    args.compile_backend = args.compile_backend or ("eager" if args.dry_run else "inductor")
    args.height, args.width = models.TINY_SIZE if args.dry_run else (576, 1024)
    parent(args)


if __name__ == "__main__":
    main()
