"""benchmarks/speedups.py: its summary from rows, and a dry run end to end (tiny weights on the CPU)."""

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location("speedups", ROOT / "benchmarks" / "speedups.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call(job, plan, seconds_per_step, peak, **extra):
    return {
        "job": job,
        "plan": plan,
        "seconds_per_step": seconds_per_step,
        "prepare_seconds": 1.0,
        "decode_seconds": 2.5,
        "seconds_25_steps": 1.0 + 25 * seconds_per_step + 2.5,
        "peak_reserved_gib": peak,
        **extra,
    }


def test_the_summary_compares_with_the_docs_recipe_counts_the_warm_up_and_keeps_only_exact_candidates():
    speedups = load_script()
    rows = [
        {"job": "rates", "matmul_tflops": 800.0, "h2d_pageable_gb_s": 20.0},
        call("plain", "gpu-decode8", 0.8, 13.4),
        call(
            "channels_last", "gpu-decode8", 0.7, 13.4, unchanged=False, frames_mean_abs_diff=0.02
        ),  # faster, not exact
        call("docs-recipe", "docs-recipe", 0.9, 8.6),
        call("compile", "gpu-decode8", 0.6, 13.4, unchanged=True, frames_mean_abs_diff=0.001, warm_up_seconds=128.0),
        {"job": "seed-recipe", "plan": "gpu-decode-all", "oom": True, "error": "OutOfMemoryError: ..."},
    ]
    args = types.SimpleNamespace(dry_run=False, frames=25, height=576, width=1024)
    summary = speedups.summarize(rows, args)
    docs_s, plain_s, compiled_s = 1 + 25 * 0.9 + 2.5, 1 + 25 * 0.8 + 2.5, 1 + 25 * 0.6 + 2.5
    assert summary["chosen_exact"]["candidate"] == "compile"  # channels_last is faster but changes the frames
    assert summary["chosen_exact"]["speedup_vs_docs_recipe"] == pytest.approx(docs_s / compiled_s)
    assert summary["compile"]["break_even_videos"] == 26  # 128 s of warm-up / 5 s saved per video: 25.6
    assert summary["seed_recipe_out_of_memory"] is True
    plain = summary["candidates"]["plain"]
    assert plain["fits"] and plain["speedup_vs_docs_recipe"] == pytest.approx(docs_s / plain_s)
    assert plain["unet_tflops_achieved"] == pytest.approx(159.9 / 0.8, rel=1e-3)  # data/t4.toml's FLOPs per step
    assert plain["unet_share_of_matmul_rate"] == pytest.approx(159.9 / 0.8 / 800, rel=1e-3)
    assert summary["candidates"]["docs-recipe"]["predicted_transfer_seconds_this_gpu"] == pytest.approx(
        9.018 / 20, rel=1e-3
    )


@pytest.mark.slow
def test_the_dry_run_runs_every_job_end_to_end(tmp_path):
    out = tmp_path / "speedups.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "speedups.py"),
            "--dry-run",
            "--frames",
            "2",  # the fewest that still has a first and a later frame: the dry run checks the plumbing
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    jobs = {row["job"]: row for row in results["jobs"]}
    expected = {
        "rates",
        "plain",
        "channels_last",
        "cudnn_benchmark",
        "sdpa_math",
        "plain_again",
        "decode-2",
        "decode-8",
        "decode-14",
        "decode-25",
        "docs-recipe",
        "compile-first-call",
        "compile",
        "compile-regional-first-call",
        "compile-regional",
        "seed-recipe",
        "seed-recipe-attention-slicing",
    }
    assert expected <= set(jobs), set(jobs) ^ expected
    assert not [row for row in results["jobs"] if "error" in row]
    assert jobs["plain_again"]["unchanged"] and jobs["compile"]["unchanged"]  # on a CPU these are the same numbers
    assert jobs["compile-regional"]["unchanged"] and jobs["compile-regional"]["mode"] == "regional"
    assert jobs["decode-25"]["mean_abs_diff_vs_all_at_once"] == 0
    summary = results["summary"]
    assert summary["chosen_exact"]["candidate"] in (
        "plain",
        "channels_last",
        "cudnn_benchmark",
        "compile",
        "compile-regional",
    )
    assert "break_even_videos" in summary["compile"] and summary["candidates"]["docs-recipe"]["speedup_vs_plain"] > 0
