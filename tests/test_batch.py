"""svd_learn.batch: job lists, sweeps, resume, and a real 2-process Accelerate launch on tiny weights."""

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svd_learn import batch, generate, models, planner
from svd_learn.batch import BatchError, Job
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec
from svd_learn.video import OutputError, read_video_info

FAST = GenerationParameters(num_frames=2, num_inference_steps=1)  # seconds a video on a CPU
TINY = RunSpec(source="tiny")
FAST_FLAGS = ["--source", "tiny", "--frames", "2", "--steps", "1"]


def write_images(folder: Path, count: int, broken: str | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels = (np.random.default_rng(index).random((160, 256, 3)) * 255).astype("uint8")
        path = folder / f"image{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    if broken:
        (folder / broken).write_bytes(b"this is not a PNG")  # Pillow cannot identify it
    return paths


# ----------------------------------------------------------------------------------------------------
# Jobs and sweeps (no model).


def test_images_are_listed_by_name_and_other_files_are_ignored(tmp_path):
    write_images(tmp_path, 2)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / "a.JPG").write_bytes(b"")
    assert [p.name for p in batch.list_images(tmp_path)] == ["a.JPG", "image0.png", "image1.png"]
    with pytest.raises(BatchError, match="has no images"):
        batch.list_images(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
    with pytest.raises(BatchError, match="is not a folder"):
        batch.list_images(tmp_path / "missing")


def test_sweep_values_take_the_parameters_types():
    sweep = batch.parse_sweep(["motion_bucket_id=60,127,180", "noise_aug_strength=0.02,0.1", "seed=0,1"])
    assert sweep == {"motion_bucket_id": [60, 127, 180], "noise_aug_strength": [0.02, 0.1], "seed": [0, 1]}
    assert all(isinstance(v, int) for v in sweep["motion_bucket_id"])
    assert all(isinstance(v, float) for v in sweep["noise_aug_strength"])
    for bad, message in [
        ("motion_bucket_id", "write NAME=V1"),
        ("height=576", "cannot be swept"),
        ("motion_bucket_id=a,b", "whole numbers"),
        ("seed=1,1", "repeated"),
    ]:
        with pytest.raises(BatchError, match=message):
            batch.parse_sweep([bad])
    with pytest.raises(BatchError, match="given twice"):
        batch.parse_sweep(["seed=1", "seed=2"])


def test_jobs_are_image_by_image_with_deterministic_names(tmp_path):
    images = write_images(tmp_path, 2)
    jobs = batch.make_jobs(images, {"motion_bucket_id": [60, 180], "seed": [0, 1]})
    assert [job.name for job in jobs] == [
        "image0__motion_bucket_id-60__seed-0",
        "image0__motion_bucket_id-60__seed-1",
        "image0__motion_bucket_id-180__seed-0",
        "image0__motion_bucket_id-180__seed-1",
        "image1__motion_bucket_id-60__seed-0",
        "image1__motion_bucket_id-60__seed-1",
        "image1__motion_bucket_id-180__seed-0",
        "image1__motion_bucket_id-180__seed-1",
    ]
    assert jobs == batch.make_jobs(images, {"motion_bucket_id": [60, 180], "seed": [0, 1]})  # same list every time
    assert [job.name for job in batch.make_jobs(images)] == ["image0", "image1"]
    (tmp_path / "image0.jpg").write_bytes(b"")
    with pytest.raises(BatchError, match="would both write image0.mp4"):
        batch.make_jobs(batch.list_images(tmp_path))


def test_output_state_tells_complete_partial_different_and_missing(tmp_path):
    job = Job("in/a.png", "a")
    expected = batch.fingerprint("tiny", "svd-xt", {"motion_bucket_id": 127, "seed": 0, "decode_chunk_size": 2})
    assert "decode_chunk_size" in expected  # the VAE's temporal layers see one chunk: it changes the video
    assert batch.output_state(job, tmp_path, expected)[0] == "missing"
    job.video(tmp_path).write_bytes(b"12345")
    assert batch.output_state(job, tmp_path, expected) == ("partial", "a video without its report")
    report = {
        "source": "tiny",
        "checkpoint": "svd-xt",
        "parameters": {"motion_bucket_id": 127, "seed": 0, "decode_chunk_size": 2},
        "file_bytes": 5,
        "frames": 2,
    }
    job.report(tmp_path).write_text(json.dumps(report))
    assert batch.output_state(job, tmp_path, expected) == ("complete", "")
    job.report(tmp_path).write_text(json.dumps({**report, "file_bytes": 4}))
    assert batch.output_state(job, tmp_path, expected)[0] == "partial"  # the video is not the one reported
    job.report(tmp_path).write_text("{not json")
    assert batch.output_state(job, tmp_path, expected) == ("partial", "an unreadable report")
    job.report(tmp_path).write_text(json.dumps({**report, "parameters": {"motion_bucket_id": 60, "seed": 0}}))
    state, why = batch.output_state(job, tmp_path, expected)
    assert state == "different" and "motion_bucket_id 60 there, 127 now" in why


# ----------------------------------------------------------------------------------------------------
# Real runs on tiny weights.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # launches two processes
def test_two_processes_make_each_good_image_exactly_once_and_record_the_broken_one(tmp_path):
    """The issue's test: `accelerate launch` starts 2 CPU processes (gloo) over 5 images, one broken."""
    images = write_images(tmp_path / "in", 4, broken="broken.png")
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_cpu_threads_per_process",
        "1",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        "-m",
        "svd_learn.cli",
        "batch",
        str(tmp_path / "in"),
        "-o",
        str(out),
        *FAST_FLAGS,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    log = done.stdout + done.stderr
    assert done.returncode != 0, log  # one job failed: the launch says so with its exit status
    summary = json.loads((out / batch.SUMMARY_NAME).read_text())
    assert summary["num_processes"] == 2 and summary["distributed_type"] == "MULTI_CPU", log
    assert sorted(r["name"] for r in summary["done"]) == [p.stem for p in images]
    assert [r["name"] for r in summary["failed"]] == ["broken"] and "Pillow" in summary["failed"][0]["error"]
    assert summary["skipped"] == []
    assert {r["process"] for r in summary["done"]} == {0, 1}, log  # both processes worked
    assert sorted(p["jobs"] for p in summary["processes"]) == [2, 3]  # 5 jobs split 3 + 2
    # Exactly one valid video (read back) and one report per good image; nothing for the broken one.
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"{p.stem}.mp4" for p in images]
    for image in images:
        assert read_video_info(out / f"{image.stem}.mp4")["frames"] == 2
        report = json.loads((out / f"{image.stem}.json").read_text())
        assert report["frames"] == 2 and report["image"] == str(image) and report["parameters"]["seed"] == 0
    assert not list(out.glob(".*partial*")), "a temporary file was left behind"
    assert log.count("batch: 5 jobs on 2 process(es): 4 done, 0 skipped, 1 failed") == 1, log  # printed once


def test_a_rerun_skips_complete_outputs_and_redoes_an_interrupted_one(tmp_path):
    write_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    first = batch.run_batch(tmp_path / "in", out, FAST, TINY, say=lambda _: None)
    assert [r["name"] for r in first.done] == ["image0", "image1"] and not first.failed
    made = (out / "image0.mp4").stat().st_mtime_ns
    (out / "image1.json").unlink()  # interrupted between the video and its report
    again = batch.run_batch(tmp_path / "in", out, FAST, TINY, say=lambda _: None)
    assert [r["name"] for r in again.skipped] == ["image0"]
    assert [r["name"] for r in again.done] == ["image1"]
    assert (out / "image0.mp4").stat().st_mtime_ns == made  # untouched
    # Other settings in the same folder: refused per job (before loading anything), never silently replaced.
    changed = batch.run_batch(tmp_path / "in", out, replace(FAST, motion_bucket_id=60), TINY, say=lambda _: None)
    assert [r["name"] for r in changed.failed] == ["image0", "image1"] and not changed.done
    assert (
        "motion_bucket_id 127 there, 60 now" in changed.failed[0]["error"] and "--force" in changed.failed[0]["error"]
    )
    assert changed.processes[0]["jobs"] == 0 and changed.processes[0]["load_s"] == 0
    assert (out / "image0.mp4").stat().st_mtime_ns == made


def test_force_remakes_complete_outputs(tmp_path):
    write_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    batch.run_batch(tmp_path / "in", out, FAST, TINY, say=lambda _: None)
    forced = batch.run_batch(
        tmp_path / "in", out, replace(FAST, motion_bucket_id=60), replace(TINY, force=True), say=lambda _: None
    )
    assert [r["name"] for r in forced.done] == ["image0"] and not forced.skipped
    assert json.loads((out / "image0.json").read_text())["parameters"]["motion_bucket_id"] == 60


def test_a_job_made_with_another_decode_chunk_is_not_done_and_force_remakes_it(tmp_path):
    """The decode chunk changes the video (the VAE's temporal layers see one chunk at a time): resume counts it."""
    write_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    batch.run_batch(tmp_path / "in", out, FAST, TINY, say=lambda _: None)  # the plan's chunk: all 2 frames at once
    assert json.loads((out / "image0.json").read_text())["parameters"]["decode_chunk_size"] == 2
    one_at_a_time = replace(FAST, decode_chunk_size=1)
    again = batch.run_batch(tmp_path / "in", out, one_at_a_time, TINY, say=lambda _: None)
    assert not again.skipped and not again.done
    assert "decode_chunk_size 2 there, 1 now" in again.failed[0]["error"] and "--force" in again.failed[0]["error"]
    remade = batch.run_batch(tmp_path / "in", out, one_at_a_time, replace(TINY, force=True), say=lambda _: None)
    assert [r["name"] for r in remade.done] == ["image0"]
    assert json.loads((out / "image0.json").read_text())["parameters"]["decode_chunk_size"] == 1
    same = batch.run_batch(tmp_path / "in", out, one_at_a_time, TINY, say=lambda _: None)
    assert [r["name"] for r in same.skipped] == ["image0"]


def test_a_report_written_before_the_run_spec_still_resumes(tmp_path):
    """A report as `svd-learn batch` wrote it before issue 24 (tests/data: a real one, paths aside) still counts."""
    write_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    report = json.loads((Path(__file__).parent / "data" / "run-report-before-issue-24.json").read_text())
    report.update(output=str(out / "image0.mp4"), image=str(tmp_path / "in" / "image0.png"))
    (out / "image0.json").write_text(json.dumps(report, indent=2))
    (out / "image0.mp4").write_bytes(b"\0" * report["file_bytes"])  # resume checks the size the report records
    summary = batch.run_batch(tmp_path / "in", out, FAST, TINY, say=lambda _: None)
    assert [r["name"] for r in summary.skipped] == ["image0"] and not summary.done and not summary.failed


def test_compile_compiles_the_processs_unet_once_for_all_its_videos(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from svd_learn.cli import app

    compiled = []
    monkeypatch.setattr(generate, "compile_unet", lambda pipe, mode, backend: compiled.append(mode) or mode)
    write_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "in"), "-o", str(out), *FAST_FLAGS, "--compile"])
    assert result.exit_code == 0, result.output
    assert compiled == [generate.COMPILE_MODE]  # one pipeline, compiled once, two videos
    assert json.loads((out / batch.SUMMARY_NAME).read_text())["settings"]["compile_unet"] is True
    assert all(json.loads((out / f"image{i}.json").read_text())["compiled_unet"] for i in range(2))


def test_a_sweep_makes_one_video_per_value_with_its_own_report(tmp_path):
    write_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    summary = batch.run_batch(
        tmp_path / "in", out, FAST, TINY, sweep=batch.parse_sweep(["motion_bucket_id=60,180"]), say=lambda _: None
    )
    assert [r["name"] for r in summary.done] == ["image0__motion_bucket_id-60", "image0__motion_bucket_id-180"]
    for value in (60, 180):
        report = json.loads((out / f"image0__motion_bucket_id-{value}.json").read_text())
        assert report["parameters"]["motion_bucket_id"] == value
        assert read_video_info(report["output"])["frames"] == 2
    assert json.loads((out / batch.SUMMARY_NAME).read_text())["settings"]["sweep"] == {"motion_bucket_id": [60, 180]}


def test_a_bad_sweep_value_stops_the_batch_before_any_work(tmp_path):
    write_images(tmp_path / "in", 1)
    with pytest.raises(BatchError, match="motion_bucket_id=-5"):
        batch.run_batch(
            tmp_path / "in", tmp_path / "out", FAST, TINY, sweep={"motion_bucket_id": [60, -5]}, say=lambda _: None
        )
    assert not (tmp_path / "out").exists()


def test_the_command_returns_1_when_a_job_failed_and_explains_a_bad_folder(tmp_path, capsys):
    from typer.testing import CliRunner

    from svd_learn.cli import app

    result = CliRunner().invoke(app, ["batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "is not a folder" in result.output
    write_images(tmp_path / "in", 1, broken="zz.png")
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *FAST_FLAGS])
    assert result.exit_code == 1, result.output
    assert "1 done, 0 skipped, 1 failed" in result.output


def test_unusable_images_fail_before_the_pipeline_is_loaded(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.png").write_bytes(b"not a PNG")
    Image.new("RGB", (30, 20)).save(tmp_path / "in" / "small.png")  # would need more than 2x upscaling
    summary = batch.run_batch(tmp_path / "in", tmp_path / "out", FAST, TINY, say=lambda _: None)
    assert [r["name"] for r in summary.failed] == ["broken", "small"] and "upscale" in summary.failed[1]["error"]
    assert summary.processes[0]["jobs"] == 2 and summary.processes[0]["load_s"] == 0  # nothing was loaded


def test_out_of_memory_falls_back_once_and_the_next_jobs_keep_the_lower_plan(tmp_path, monkeypatch):
    """The capstone's fallback (generate.Session), with one session for the whole share: simulated on a CPU."""
    loads = []
    real_load = models.load_chosen

    def counting_load(*args):
        loads.append(args)
        return real_load(*args)

    monkeypatch.setattr(models, "load_chosen", counting_load)
    write_images(tmp_path / "in", 2)
    order = planner.fallback_order()
    messages = []
    with generate.simulated_out_of_memory(order[0], message="CUDA out of memory. Tried to allocate 7.03 GiB") as tried:
        summary = batch.run_batch(
            tmp_path / "in", tmp_path / "out", FAST, replace(TINY, plan=order[0]), say=messages.append
        )
    assert [r["name"] for r in summary.done] == ["image0", "image1"] and not summary.failed
    assert tried == [order[0], order[1], order[1]] and len(loads) == 2  # one reload, then the lower plan stays
    assert any(
        f"out of GPU memory with plan {order[0]}" in m and f"falling back to plan {order[1]}" in m for m in messages
    )
    first, second = (json.loads((tmp_path / "out" / f"image{i}.json").read_text()) for i in (0, 1))
    assert first["plan"] == second["plan"] == order[1]
    assert first["fallbacks"] == [{"plan": order[0], "error": "CUDA out of memory. Tried to allocate 7.03 GiB"}]
    assert second["fallbacks"] == []
    assert {"load_s", "denoise_s", "decode_s", "call_s", "write_s", "total_s"} <= set(second["timings"])


def test_the_lessons_throughput_data_is_the_committed_measurement():
    """svd_learn/data/batch_throughput.json ships with the package (the appendix lesson reads it on Colab);
    it must be the measurement committed under benchmarks/results/, and that measurement must meet the bar."""
    results = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "batch-h200x2.json"
    measured = batch.measured_throughput()
    assert measured == json.loads(results.read_text())
    assert measured["settings"]["source"] == "random" and measured["settings"]["num_frames"] == 25
    assert len(measured["machine"]["gpus"]) == 2
    for run in ("one_process", "two_processes"):
        assert measured[run]["videos_done"] == measured["settings"]["videos"]
        assert measured[run]["frames_read_back"] == [25] * measured["settings"]["videos"]
    assert measured["two_processes"]["videos_per_minute"] / measured["one_process"]["videos_per_minute"] >= 1.8


# ----------------------------------------------------------------------------------------------------
# A newcomer's mistakes, Ctrl-C, and what the command prints.


def batch_command(*arguments):
    from typer.testing import CliRunner

    from svd_learn.cli import app

    return CliRunner().invoke(app, ["batch", *map(str, arguments)])


@pytest.mark.parametrize(
    "out, phrase",
    [
        ("a file", "a file is a file, not a folder: give a folder for the outputs"),
        ("a file/sub", "Cannot create the folder {tmp}/a file/sub: {tmp}/a file is a file, not a folder."),
        ("/sys/out", "Cannot write to the folder /sys: creating a file there failed"),
    ],
)
def test_an_output_folder_that_cannot_be_one_is_refused_in_one_line_on_stderr(tmp_path, out, phrase):
    write_images(tmp_path / "in", 1)
    (tmp_path / "a file").write_text("not a folder")
    out = out if out.startswith("/") else tmp_path / out
    result = batch_command(tmp_path / "in", "-o", out, *FAST_FLAGS)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr  # one line
    assert phrase.format(tmp=tmp_path) in result.stderr and result.stdout == ""
    with pytest.raises(OutputError, match="not a folder"):  # the Python API refuses it too, before any work
        batch.run_batch(tmp_path / "in", tmp_path / "a file", FAST, TINY, say=lambda _: None)


def ctrl_c_at_job(monkeypatch, number: int):
    """Ctrl-C while the session makes the `number`-th video (1-based), as a user would press it."""
    real, calls = generate.Session.make_video, []

    def make_video(self, request, **kwargs):
        calls.append(request)
        if len(calls) == number:
            raise KeyboardInterrupt
        return real(self, request, **kwargs)

    monkeypatch.setattr(generate.Session, "make_video", make_video)


def test_ctrl_c_says_what_was_made_and_what_was_not_and_the_rest_is_made_by_the_same_command(tmp_path, monkeypatch):
    write_images(tmp_path / "in", 3)
    out = tmp_path / "out"
    ctrl_c_at_job(monkeypatch, 2)
    result = batch_command(tmp_path / "in", "-o", out, *FAST_FLAGS)
    assert result.exit_code == 130, result.output
    assert "interrupted: made 1 of 3 videos (image0); not made: image1, image2." in result.stderr
    assert "Run the same command again" in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["image0.json", "image0.mp4"]  # no part of image1
    monkeypatch.undo()
    again = batch_command(tmp_path / "in", "-o", out, *FAST_FLAGS)
    assert again.exit_code == 0 and "2 done, 1 skipped, 0 failed" in again.stdout, again.output


def test_ctrl_c_before_any_video_leaves_no_folder(tmp_path, monkeypatch):
    write_images(tmp_path / "in", 2)
    ctrl_c_at_job(monkeypatch, 1)
    result = batch_command(tmp_path / "in", "-o", tmp_path / "new" / "out", *FAST_FLAGS)
    assert result.exit_code == 130 and "interrupted: made 0 of 2 videos; not made: image0, image1." in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # neither out nor the folder made above it


@pytest.mark.slow  # launches the CLI
def test_the_command_prints_no_library_noise_its_progress_on_stderr_and_the_summary_on_stdout(tmp_path):
    """As a user's shell runs it: no test settings that hide noise, and tiny weights built afresh."""
    write_images(tmp_path / "in", 2, broken="zz.png")
    quiet_by_the_tests = ("TRANSFORMERS_VERBOSITY", "TQDM_DISABLE", "PYTHONWARNINGS")
    env = {k: v for k, v in os.environ.items() if k not in quiet_by_the_tests}
    env["SVD_LEARN_HOME"] = str(tmp_path / "home")  # the tiny weights are built in this run
    command = [sys.executable, "-m", "svd_learn.cli", "batch", tmp_path / "in", "-o", tmp_path / "out", *FAST_FLAGS]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stderr  # zz.png is not an image
    for noise in ("\x1b", "\r", "torchvision", "Loading", "it/s", "Warning"):
        assert noise not in done.stdout + done.stderr, done.stderr
    assert done.stdout.startswith("batch: 3 jobs on 1 process(es): 2 done, 0 skipped, 1 failed"), done.stdout
    assert "job 3/3 zz: FAILED: " in done.stderr and "FAILED" not in done.stdout.split("\n")[0]
    assert "building tiny weights" in done.stderr and "loaded tiny weights" in done.stderr


def test_full_size_weights_on_a_cpu_are_refused_before_they_are_built(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "pipeline_location", lambda *a, **k: pytest.fail("built without consent"))
    write_images(tmp_path / "in", 1)
    result = batch_command(tmp_path / "in", "-o", tmp_path / "out", "--source", "random", "--frames", "2")
    assert result.exit_code == 1 and "about 15 GB of RAM" in result.stderr and "--full-size-on-cpu" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_interrupted_process_of_a_launch_says_its_share_once_and_ignores_the_forwarded_interrupt(
    monkeypatch, capsys
):
    """Ctrl-C reaches every process of `accelerate launch`, which then forwards a second SIGINT: the process that is
    already stopping in order says what it made, prefixed with its rank, and does not turn its exit into a traceback."""
    import signal

    def interrupted(*args, **kwargs):
        raise batch.BatchInterrupted(["image0"], [], ["image1"])

    monkeypatch.setattr(batch, "run_batch", interrupted)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a shell (pytest-xdist's workers ignore it)
    try:
        code = batch.run_command("in", "out", [], FAST, TINY)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    err = capsys.readouterr().err
    assert code == 130 and err.startswith("[process 1/2] interrupted: ") and "image1" in err and err.count("\n") == 1
