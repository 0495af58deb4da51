"""Turn benchmarks/results/*.json into the planner's calibration and the lesson's data (package data).

    python benchmarks/calibrate.py

Writes svd_learn/data/memory_calibration.json (per plan: peaks, speed, host memory at the reference call,
SVD-XT 25x576x1024 under a 14.74 GiB cap) and svd_learn/data/memory_benchmarks.json (every run, for
Lesson 4's table and plots, so the lesson works where benchmarks/ is not installed, e.g. Colab).
"""

from __future__ import annotations

import json
from pathlib import Path

from svd_learn import memory, models
from svd_learn.environment import GIB
from svd_learn.plans import PLANS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "svd_learn" / "data"
REFERENCE = dict(checkpoint="svd-xt", frames=25, height=576, width=1024, steps=25, cap_gib=memory.T4_GIB)
GPU_RESERVE_GIB = round(memory.T4_GIB - memory.T4_SAFE_PEAK_GIB, 2)  # CUDA context + cuDNN, outside PyTorch's pool
HOST_RESERVE_GIB = 2.0  # the OS, Python and the notebook itself (free Colab: 12.7 GiB in all)
# A larger decode chunk is only worth taking with room to spare. gpu-decode8 reserved 13.44 GiB in a fresh
# process (results/speedups-h200.json, job "plain") but 14.55 GiB in the Colab rehearsal of Lesson 5, a notebook
# kernel that had run another pipeline before (results/colab-rehearsal.json, 2026-12-01): 1.11 GiB more.
LARGER_CHUNK_MARGIN_GIB = 1.11
# The plan the planner may choose whose settings equal a baseline's: measured once, as the baseline.
SAME_SETTINGS = {"model-offload-chunked-decode2": "docs-recipe"}
KEEP = (
    "plan",
    "warm_up",
    "placement",
    "checkpoint",
    "frames",
    "height",
    "width",
    "steps",
    "cap_gib",
    "oom",
    "chosen_by_planner",
    "peak_allocated_gib",
    "peak_reserved_gib",
    "denoise_peak_allocated_gib",
    "decode_peak_allocated_gib",
    "host_rss_gib",
    "seconds",
    "seconds_per_step",
    "prepare_seconds",
    "decode_seconds",
    "error",
    "error_at",
    "load_kwargs",
)


def resident_weights_gib() -> dict[str, tuple[float, float]]:
    """GiB of fp16 weights each placement keeps on the GPU (while denoising, while decoding), from the real
    architecture's parameter counts. Model offload keeps the VAE beside the UNet (its hook offloads only the
    model before it: the placement trace shows it); group offload keeps the encoder and VAE; sequential ~0."""
    sizes = {
        name: models.count_parameters(module) * 2 / GIB
        for name, module in models.full_size_architecture("svd-xt").items()
        if name in models.MODEL_COMPONENTS
    }
    everything = sum(sizes.values())
    return {
        "gpu": (everything, everything),
        "model_offload": (sizes["unet"] + sizes["vae"], sizes["vae"]),
        "group_offload": (sizes["image_encoder"] + sizes["vae"], sizes["image_encoder"] + sizes["vae"]),
        "sequential_offload": (0.0, 0.0),
    }


def load_runs() -> list[dict]:
    """Every run of every results file written by run_plans.py (a JSON list of runs). Other JSON files there
    (capstone-*.json: reports of `svd-learn generate` runs) are not plan measurements and are skipped."""
    runs = []
    for path in sorted(RESULTS.glob("*.json")):
        content = json.loads(path.read_text())
        if isinstance(content, list) and all("plan" in run and "machine" in run for run in content):
            runs.extend(dict(run, source=path.name) for run in content)
    return runs


def is_reference(run: dict) -> bool:
    return all(run.get(key) == value for key, value in REFERENCE.items() if key != "steps")


def calibrate(runs: list[dict]) -> dict:
    resident = resident_weights_gib()
    plans = {}
    for name in [n for n, p in PLANS.items() if p.placement != "cpu"]:
        measured_as = SAME_SETTINGS.get(name, name)
        if measured_as != name:
            a, b = PLANS[name], PLANS[measured_as]
            assert (a.placement, a.forward_chunking, a.decode_chunk_size, a.attention_slicing) == (
                b.placement,
                b.forward_chunking,
                b.decode_chunk_size,
                b.attention_slicing,
            )
        candidates = [
            r for r in runs if r["plan"] == measured_as and is_reference(r) and not r["oom"] and "error" not in r
        ]
        # Plans load onto the CPU (apply_plan moves them): prefer runs loaded that way.
        preferred = [r for r in candidates if not r.get("load_kwargs")] or candidates
        if not preferred:
            continue
        worst = max(preferred, key=lambda r: r["peak_reserved_gib"])  # the safe side: the largest peak measured
        steps = REFERENCE["steps"]
        seconds = [
            r["seconds"]
            if r["steps"] == steps
            else r["prepare_seconds"] + steps * r["seconds_per_step"] + r["decode_seconds"]
            for r in preferred
        ]
        on_gpu_denoise, on_gpu_decode = resident[PLANS[name].placement]
        plans[name] = dict(
            measured_as=measured_as,
            runs=len(preferred),
            peak_reserved_gib=round(worst["peak_reserved_gib"], 3),
            peak_allocated_gib=round(worst["peak_allocated_gib"], 3),
            denoise_peak_allocated_gib=round(worst["denoise_peak_allocated_gib"], 3),
            decode_peak_allocated_gib=round(worst["decode_peak_allocated_gib"], 3),
            resident_denoise_gib=round(on_gpu_denoise, 3),
            resident_decode_gib=round(on_gpu_decode, 3),
            host_rss_gib=round(max(r["host_rss_gib"] for r in preferred), 2),
            seconds=round(sum(seconds) / len(seconds), 2),
            seconds_estimated_from_steps=worst["steps"] if worst["steps"] != steps else None,
            seconds_per_step=round(sum(r["seconds_per_step"] for r in preferred) / len(preferred), 3),
            decode_seconds=round(sum(r["decode_seconds"] for r in preferred) / len(preferred), 2),
        )
    machine = runs[0]["machine"]
    return {
        "source": "benchmarks/calibrate.py from " + ", ".join(sorted({r["source"] for r in runs})),
        "machine": machine,
        "reference": REFERENCE,
        "gpu_reserve_gib": GPU_RESERVE_GIB,
        "host_reserve_gib": HOST_RESERVE_GIB,
        "larger_chunk_margin_gib": LARGER_CHUNK_MARGIN_GIB,
        "expandable_segments": True,
        "plans": plans,
    }


def lesson_data(runs: list[dict]) -> dict:
    return {
        "machine": runs[0]["machine"],
        "runs": [dict({k: r[k] for k in KEEP if k in r}, source=r["source"]) for r in runs],
    }


def main() -> None:
    runs = load_runs()
    (DATA / "memory_calibration.json").write_text(json.dumps(calibrate(runs), indent=1) + "\n")
    (DATA / "memory_benchmarks.json").write_text(json.dumps(lesson_data(runs), indent=1) + "\n")
    print(f"calibrated from {len(runs)} runs in {RESULTS}")


if __name__ == "__main__":
    main()
