"""Measure every memory plan on a real GPU with full-size random SVD-XT weights, each plan in its own process.

    python benchmarks/run_plans.py --out results.json [--jobs main|extra|smoke] [--deadline-s 540]

Builds the real architecture from the real configs with random fp16 weights ONCE (a few minutes, about
9 GB of host RAM) into --work, then runs each job in a fresh Python process (offload hooks cannot be
removed and peaks must not mix) with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True. A job with a cap
emulates that GPU on a bigger one (svd_learn.memory.emulate_t4: memory cap, no FlashAttention, fp16), and measures
each call with svd_learn.measure.measure_call.
Results are written after every job, so a run cut short still leaves what it measured.

SVD (14 frames) runs on the SVD-XT folder: the two architectures are identical; the UNet's `num_frames`
config is only the call's default (unused by any layer), so the call passes num_frames=14.
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

T4 = 14.74
XT = dict(checkpoint="svd-xt", frames=25, height=576, width=1024)
SVD = dict(checkpoint="svd", frames=14, height=576, width=1024)

# (plan, call shape, steps, cap GiB or None). Most important first: a run cut short keeps the done criteria.
JOBS = {
    "smoke": [("gpu-decode8", XT, 3, T4), ("group-offload-chunked-decode2", XT, 2, T4)],
    # The first call, as it ran: gpu plans then loaded with device_map="cuda" (see --load-onto-gpu).
    "main": [
        ("gpu-decode8", XT, 25, T4, "load-onto-gpu"),
        ("docs-recipe", XT, 25, T4),
        ("seed-recipe", XT, 25, T4),
        ("gpu-decode2", XT, 25, T4, "load-onto-gpu"),
        ("gpu-chunked-decode2", XT, 25, T4, "load-onto-gpu"),
        ("group-offload-chunked-decode2", XT, 25, T4),
        ("sequential-offload-chunked-decode1", XT, 4, T4),
        ("gpu-decode8", XT, 25, T4),
        ("gpu-decode-all", XT, 25, None, "load-onto-gpu"),
    ],
    # Second call, after calibrating from "main": the planner's choice per budget (the T4 one beside the two
    # recipes, in the same run), the 14-frame model (how peaks scale with frames), and attention slicing on/off.
    "extra": [
        ("warm-up", SVD, 3, T4),  # a fresh machine's first call is slower (page cache, clocks): keep it out
        ("planner", XT, 25, T4),
        ("docs-recipe", XT, 25, T4),
        ("seed-recipe", XT, 25, T4),
        ("planner", XT, 25, 12.0),
        ("planner", XT, 4, 8.0),  # sequential offload: 7 s/step on an H100, so 4 steps
        ("planner", SVD, 25, T4),
        ("docs-recipe", SVD, 25, T4),
        ("seed-recipe", XT, 25, None),  # attention slicing on ...
        ("model-offload-decode-all", XT, 25, None),  # ... and off
    ],
}


def versions() -> dict:
    from importlib import metadata

    import torch

    found = {name: metadata.version(name) for name in ("torch", "diffusers", "transformers", "accelerate")}
    found["cuda"] = torch.version.cuda
    return found


def child(args) -> None:
    """One job in this process: load, apply the plan, measure one call, print one JSON line."""
    import torch
    from PIL import Image

    from svd_learn import measure, memory, models, plans
    from svd_learn.parameters import GenerationParameters

    if not memory.expandable_segments_enabled():
        sys.exit("run_plans.py child: PYTORCH_CUDA_ALLOC_CONF must say expandable_segments:True (the parent sets it).")
    record = dict(
        plan=args.plan,
        checkpoint=args.checkpoint,
        frames=args.frames,
        height=args.height,
        width=args.width,
        steps=args.steps,
        cap_gib=args.cap,
        oom=False,
        expandable_segments=True,
    )
    if args.chosen_by_planner:
        record["chosen_by_planner"] = True
    plan = plans.get_plan(args.plan)
    started = time.perf_counter()
    # --load-onto-gpu: from_pretrained(device_map="cuda"). Measured in the first run: no less host memory
    # (3.8 GiB peak either way) and 1.1 GiB more reserved GPU memory at the decode peak, so plans load onto the CPU.
    load = {"device_map": "cuda"} if args.load_onto_gpu else {}
    record["load_kwargs"] = load
    pipe = models.load_pipeline(args.folder, device="cuda", dtype=torch.float16, **load)
    record["host_after_load"] = memory.host_memory_gib()
    pipe.set_progress_bar_config(disable=True)
    image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((args.width, args.height))
    cap = memory.emulate_t4(args.cap) if args.cap else _uncapped()
    try:
        with cap:
            plans.apply_plan(pipe, plan, "cuda")
            record["load_and_apply_seconds"] = time.perf_counter() - started
            params = GenerationParameters(
                num_frames=args.frames,
                height=args.height,
                width=args.width,
                num_inference_steps=args.steps,
                decode_chunk_size=plan.decode_chunk_size,
            )
            call = measure.measure_call(pipe, image, params, device="cuda", output_type="pt", trace=True)
        record.update(call.measurement.to_dict())
        record["host_after_call"] = memory.host_memory_gib()
    except Exception as error:  # noqa: BLE001 - every failure is recorded, OOM is the expected one
        record["oom"] = measure.is_out_of_memory(error)
        record["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        record["error_at"] = "; ".join(getattr(error, "__notes__", []))
        record["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        record["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
        record["host_rss_gib"] = memory.host_peak_rss_gib()
        if not record["oom"]:
            traceback.print_exc()
    print("RESULT " + json.dumps(record), flush=True)


class _uncapped:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def build_folder(work: Path) -> Path:
    folder = work / "random-svd-xt"
    if not (folder / "model_index.json").exists():
        started = time.perf_counter()
        # In its own process: this one then stays small, and the 9 GB build never counts in a child's memory.
        build = (
            "from svd_learn import models; import sys; models.build_full_size_random_pipeline(sys.argv[1], 'svd-xt')"
        )
        subprocess.run([sys.executable, "-c", build, str(folder) + ".partial"], check=True)
        Path(str(folder) + ".partial").rename(folder)
        print(f"built {folder} in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def run_job(
    folder: Path,
    plan: str,
    shape: dict,
    steps: int,
    cap: float | None,
    timeout: float,
    chosen: bool,
    load_onto_gpu: bool = False,
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--folder",
        str(folder),
        "--plan",
        plan,
        "--steps",
        str(steps),
        "--checkpoint",
        shape["checkpoint"],
        "--frames",
        str(shape["frames"]),
        "--height",
        str(shape["height"]),
        "--width",
        str(shape["width"]),
    ]
    if cap:
        command += ["--cap", str(cap)]
    if chosen:
        command += ["--chosen-by-planner"]
    if load_onto_gpu:
        command += ["--load-onto-gpu"]
    env = dict(os.environ, PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True", TQDM_DISABLE="1")
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(plan=plan, **shape, steps=steps, cap_gib=cap, oom=False, error=f"timed out after {timeout:.0f} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return dict(
            plan=plan,
            **shape,
            steps=steps,
            cap_gib=cap,
            oom=False,
            error=f"child exited {done.returncode}: {done.stderr[-1500:]}",
        )
    record = json.loads(lines[-1].removeprefix("RESULT "))
    record["process_seconds"] = time.perf_counter() - started
    if done.returncode or "error" in record and not record["oom"]:
        print(done.stderr[-3000:], flush=True)
    return record


def parent(args) -> None:
    import torch

    from svd_learn import planner

    deadline = time.monotonic() + args.deadline_s
    props = torch.cuda.get_device_properties(0)
    machine = dict(
        gpu=props.name,
        gpu_total_gib=round(props.total_memory / 2**30, 2),
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        **versions(),
    )
    print("machine:", machine, flush=True)
    folder = build_folder(Path(args.work))
    out = Path(args.out)
    runs: list[dict] = []
    for plan, shape, steps, cap, *options in JOBS[args.jobs]:
        load_onto_gpu = "load-onto-gpu" in options
        left = deadline - time.monotonic()
        if left < 60:
            print(f"skipped {plan} {shape['checkpoint']} cap={cap}: {left:.0f} s left", flush=True)
            continue
        chosen = False
        if plan == "planner":  # the planner's choice for this budget, from the committed calibration
            choice = planner.choose_plan(
                cap or props.total_memory / 2**30,
                12.7,
                shape["checkpoint"],
                shape["frames"],
                shape["height"],
                shape["width"],
            )
            plan, chosen = choice.plan.name, True
        elif cap == T4 and shape is XT:
            chosen = planner.choose_plan(T4, 12.7).plan.name == plan
        if chosen:
            print(f"planner ({planner.read_calibration()['source'][:40]}...) chose {plan} for cap={cap}", flush=True)
        warm_up = plan == "warm-up"
        if warm_up:
            plan = "gpu-decode2"
        record = run_job(folder, plan, shape, steps, cap, min(left - 5, 240), chosen, load_onto_gpu)
        record["machine"] = machine
        if warm_up:
            record["warm_up"] = True
        if chosen:
            record["planner_calibration"] = planner.read_calibration()["source"]
        runs.append(record)
        out.write_text(json.dumps(runs, indent=1))
        peak = record.get("peak_reserved_gib")
        print(
            f"{plan:36} {'gpu-load' if load_onto_gpu else '':8} {shape['checkpoint']:7} cap={cap!s:5} steps={steps:2} oom={record['oom']!s:5} "
            f"reserved={peak if peak is None else round(peak, 2)!s:6} host={round(record.get('host_rss_gib') or 0, 2)} "
            f"call={round(record.get('seconds') or 0, 1)} s/step={round(record.get('seconds_per_step') or 0, 3)} "
            f"{record.get('error', '')[:160]}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--folder")
    parser.add_argument("--plan")
    parser.add_argument("--checkpoint", default="svd-xt")
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--cap", type=float)
    parser.add_argument("--chosen-by-planner", action="store_true")
    parser.add_argument("--load-onto-gpu", action="store_true", help="from_pretrained(device_map='cuda')")
    parser.add_argument("--jobs", choices=sorted(JOBS), default="main")
    parser.add_argument("--work", default="/tmp/svd-bench")
    parser.add_argument("--out", default="results.json")
    parser.add_argument("--deadline-s", type=float, default=540)
    args = parser.parse_args()
    child(args) if args.child else parent(args)


if __name__ == "__main__":
    main()
