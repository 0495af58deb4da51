"""`svd-learn generate` and generate.generate_video on tiny weights (conftest sets SVD_LEARN_SOURCE=tiny).

Every bad input ends with a short message, exit code 1 (130 for Ctrl-C), no traceback, and nothing lost.
Generations use few frames and steps where the test allows, so the file runs in well under a minute.
"""

import importlib
import json
from dataclasses import replace

import huggingface_hub
import numpy as np
import pytest
import torch
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError
from packaging.version import Version
from PIL import Image
from typer.testing import CliRunner

from svd_learn import environment, generate, measure, models, planner, plans, request, video
from svd_learn.cli import app
from svd_learn.environment import SOURCE_VARIABLE, SourceChoice
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

FAST = ["--frames", "3", "--steps", "1"]
CPU = ["--full-size-on-cpu"]  # the Hub's weights are full size, and this machine has no GPU: the tests consent
# The HTTP library whose responses and errors the installed huggingface_hub raises: httpx up to 1.x, httpx2 from 2.0.
httpx = importlib.import_module("httpx2" if Version(huggingface_hub.__version__).major >= 2 else "httpx")


def cli(*arguments):
    return CliRunner().invoke(app, ["generate", *map(str, arguments)])


def assert_clean_failure(result, *phrases, code=1):
    """Failed with `code`, said what is wrong (every phrase), and showed no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # not a crash
    for phrase in phrases:
        assert phrase in result.output, result.output


def no_leftovers(folder):
    return not [p.name for p in folder.iterdir() if ".partial" in p.name or p.name.endswith(".check")]


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "my pictures" / "fusée à l'aube.png"  # spaces and non-ASCII letters in the input path too
    path.parent.mkdir()
    Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((256, 144)).save(path)
    return path


# ----------------------------------------------------------------------------------------------------
# It works: the embedded default, the video, the report.


def test_default_generates_with_tiny_weights_at_the_real_frame_count_and_says_it_is_noise(tmp_path):
    out = tmp_path / "new folder" / "rakéta videó.mp4"  # a missing folder, spaces and non-ASCII letters
    result = cli(models.SAMPLE_IMAGE, "-o", out, "--steps", "1", "--gif")
    assert result.exit_code == 0, result.output
    info = video.read_video_info(out)
    checkpoint = models.get_checkpoint("svd-xt")
    assert info == {
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "width": models.TINY_SIZE[1],
        "height": models.TINY_SIZE[0],
        "fps": 7.0,
        "frames": checkpoint.num_frames,
    }
    assert "frames are noise" in result.output and f"wrote {out}" in result.output and "plan cpu" in result.output
    # The measured time says where it was measured; the T4's is an estimate for the real model, labelled as one.
    assert "s measured on the CPU" in result.output and "estimated on a T4: about" in result.output
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.n_frames == checkpoint.num_frames
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["source"] == "tiny" and report["random_weights"] and report["checkpoint"] == "svd-xt"
    assert report["parameters"]["seed"] == 0 and report["parameters"]["num_frames"] == 25
    assert report["plan"] == "cpu" and "CUDA GPU" in report["plan_reason"] and report["fallbacks"] == []
    assert report["t4_estimate"].startswith("with the real model at 1024x576, estimated on a T4: about")
    assert "a model, not a measurement" in report["t4_estimate"] and "public T4 reports" in report["t4_estimate"]
    assert report["environment"]["versions"]["diffusers"] and report["host_rss_peak_gib"] > 0
    assert {"load_s", "denoise_s", "decode_s", "write_s", "total_s"} <= set(report["timings"])
    assert no_leftovers(out.parent)


def test_requested_fps_frames_and_report_path(tmp_path, image):
    out, report = tmp_path / "clip.mp4", tmp_path / "reports" / "run.json"
    result = cli(
        image,
        "-o",
        out,
        "--frames",
        "5",
        "--steps",
        "2",
        "--fps",
        "9",
        "--seed",
        "7",
        "--report",
        report,
        "--decode-chunk-size",
        "2",
        "--motion-bucket-id",
        "180",
        "--noise-aug-strength",
        "0.1",
        "--min-guidance",
        "1.5",
        "--max-guidance",
        "2.5",
    )
    assert result.exit_code == 0, result.output
    info = video.read_video_info(out)
    assert (info["frames"], info["fps"]) == (5, 9.0)
    saved = json.loads(report.read_text())
    assert saved["parameters"]["seed"] == 7 and saved["parameters"]["fps"] == 9 and saved["frames"] == 5
    assert {
        k: saved["parameters"][k]
        for k in (
            "decode_chunk_size",
            "motion_bucket_id",
            "noise_aug_strength",
            "min_guidance_scale",
            "max_guidance_scale",
        )
    } == {
        "decode_chunk_size": 2,
        "motion_bucket_id": 180,
        "noise_aug_strength": 0.1,
        "min_guidance_scale": 1.5,
        "max_guidance_scale": 2.5,
    }
    assert "decoding 5 frames, 2 at a time" in result.output
    assert saved["parameters"]["num_inference_steps"] == 2
    assert not out.with_suffix(".json").exists()


def test_smooth_24_writes_a_24_fps_copy_as_long_as_the_video_and_the_report_says_so(tmp_path, image):
    out = tmp_path / "clip.mp4"
    result = cli(image, "-o", out, "--steps", "1", "--smooth", "24")  # 25 frames at 7 fps
    assert result.exit_code == 0, result.output
    smooth = tmp_path / "clip-24fps.mp4"
    assert (video.read_video_info(out)["frames"], video.read_video_info(out)["fps"]) == (25, 7.0)  # the original stays
    assert (video.read_video_info(smooth)["frames"], video.read_video_info(smooth)["fps"]) == (86, 24.0)
    said = json.loads(out.with_suffix(".json").read_text())["smooth"]
    assert said["video"] == str(smooth) and (said["frames"], said["fps"]) == (86, 24)
    assert "86 frames at 24 fps from the model's 25 at 7 fps" in said["interpolated"]
    assert f"smoother copy {smooth}" in result.output and no_leftovers(tmp_path)
    again = cli(image, "-o", tmp_path / "other.mp4", "--steps", "1", "--smooth", "24")
    assert again.exit_code == 0 and (tmp_path / "other-24fps.mp4").exists()
    out.unlink()
    out.with_suffix(".json").unlink()  # the smoother copy is left: refused first, as the video would be
    assert_clean_failure(cli(image, "-o", out, "--smooth", "24"), "clip-24fps.mp4 exists; pass --force")


def test_a_smoothing_that_adds_no_frames_is_refused_before_loading(tmp_path, image, monkeypatch):
    loads = count_builds_and_loads(monkeypatch)
    result = cli(image, "-o", tmp_path / "clip.mp4", "--fps", "12", "--smooth", "10")
    assert_clean_failure(result, "--smooth 10: give a frame rate above the video's 12 fps")
    assert loads == [] and list(tmp_path.iterdir()) == [image.parent]


def test_python_api_returns_the_report(tmp_path, image):
    messages = []
    params = GenerationParameters(num_frames=3, num_inference_steps=1)
    run = generate.generate_video(image, tmp_path / "a.mp4", params, say=messages.append)
    assert isinstance(run, generate.RunReport) and run.frames == 3 and run.file_bytes > 0
    assert json.loads((tmp_path / "a.json").read_text()) == run.to_dict()
    assert any(m.startswith("plan: cpu") for m in messages) and any("decoding 3 frames" in m for m in messages)


def test_a_local_pipeline_folder_as_the_model(tmp_path, image):
    folder = models.tiny_pipeline_folder()
    choice = models.choose_model(str(folder), None)
    assert (choice.location, choice.source, choice.checkpoint.name, choice.explicit) == (
        str(folder),
        "folder",
        "svd-xt",
        True,
    )
    assert_clean_failure(cli(image, "-o", tmp_path / "b.mp4", "--model", tmp_path), "not a diffusers pipeline")


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_image_modes_are_converted_not_refused(tmp_path, mode):
    source = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((256, 144))
    if mode == "I;16":
        converted = Image.fromarray(np.asarray(source.convert("L"), dtype=np.uint16) * 257)
    else:
        converted = source.convert(mode)
    path = tmp_path / f"image.{'jpg' if mode == 'CMYK' else 'png'}"
    converted.save(path)
    result = cli(path, "-o", tmp_path / "out.mp4", *FAST)
    assert result.exit_code == 0, result.output
    assert video.read_video_info(tmp_path / "out.mp4")["frames"] == 3


def test_a_very_large_image_is_resized(tmp_path):
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 6000), (30, 90, 160)).save(path, quality=70)
    result = cli(path, "-o", tmp_path / "out.mp4", *FAST)
    assert result.exit_code == 0, result.output


# ----------------------------------------------------------------------------------------------------
# Bad images: refused before any model is loaded, nothing written.


def bad_images(tmp_path):
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "text.png").write_bytes(b"this is not an image at all" * 10)
    full = tmp_path / "full.jpg"
    Image.open(models.SAMPLE_IMAGE).save(full)
    (tmp_path / "truncated.jpg").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    Image.new("RGB", (40, 24)).save(tmp_path / "small.png")
    first, second = Image.new("RGB", (256, 144), "red"), Image.new("RGB", (256, 144), "blue")
    first.save(tmp_path / "animated.gif", save_all=True, append_images=[second], duration=100)
    return {
        "missing.png": "does not exist",
        "folder.png": "is a folder",
        "text.png": "not an image",
        "truncated.jpg": "truncated",
        "small.png": "upscale",
        "animated.gif": "animated",
    }


def test_bad_images_get_a_short_message_and_no_output(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(models, "load_chosen", lambda *a: loads.append(a))
    for name, phrase in bad_images(tmp_path).items():
        out = tmp_path / f"{name}.mp4"
        assert_clean_failure(cli(tmp_path / name, "-o", out), "error:", phrase)
        assert not out.exists() and not out.with_suffix(".json").exists()
    assert loads == []  # refused before loading a model


# ----------------------------------------------------------------------------------------------------
# Bad outputs and parameters.


def test_existing_output_is_refused_without_force_and_untouched(tmp_path, image):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"my old video")
    assert_clean_failure(cli(image, "-o", out, *FAST), "exists; pass --force")
    assert out.read_bytes() == b"my old video"
    result = cli(image, "-o", out, *FAST, "--force")
    assert result.exit_code == 0, result.output
    assert video.read_video_info(out)["frames"] == 3


def test_unwritable_outputs(tmp_path, image):
    (tmp_path / "a file").write_text("x")
    assert_clean_failure(cli(image, "-o", tmp_path / "a file" / "out.mp4"), "Cannot create the folder")
    (tmp_path / "dir.mp4").mkdir()
    assert_clean_failure(cli(image, "-o", tmp_path / "dir.mp4"), "is a folder")
    assert_clean_failure(cli(image, "-o", f"{tmp_path / 'clips'}/"), "clips is a folder; give a file name")
    assert_clean_failure(cli(image, "-o", tmp_path / "out.avi"), "must end with .mp4")
    assert_clean_failure(cli(image, "-o", tmp_path / "ok.mp4", "--report", tmp_path / "a file"), "must end with .json")


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0, reason="root can write anywhere"
)
def test_read_only_folder(tmp_path, image):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    assert_clean_failure(cli(image, "-o", folder / "out.mp4"), "Cannot write to the folder")


@pytest.mark.parametrize(
    "option, phrase",
    [
        (["--frames", "0"], "num_frames=0"),
        (["--steps", "0"], "num_inference_steps=0"),
        (["--decode-chunk-size", "0"], "decode_chunk_size=0"),
        (["--noise-aug-strength", "-1"], "noise_aug_strength=-1"),
        (["--plan", "fastest"], "Unknown plan 'fastest'"),
        (["--plan", "docs-recipe"], "this run is on the CPU"),
        (["--source", "cloud"], "--source cloud is not a model source. Use one of: tiny, random, pretrained"),
        (["--emulate-t4"], "no CUDA GPU"),
        (["--vram-budget", "8"], "no CUDA GPU"),
        (["--vram-budget", "0.5"], "the CUDA context and its libraries take about 0.74 GiB"),
        (["--model", "no-such-model"], "not one of the course's checkpoints"),
    ],
)
def test_out_of_range_parameters(tmp_path, image, option, phrase):
    out = tmp_path / "out.mp4"
    assert_clean_failure(cli(image, "-o", out, *option), "error:", phrase)
    assert not out.exists()


def test_ctrl_c_during_generation_leaves_no_file(tmp_path, image, monkeypatch):
    from svd_learn import cli as command_line

    def ctrl_c(self, step, total):
        raise KeyboardInterrupt  # what Ctrl-C raises, in the middle of denoising

    monkeypatch.setattr(command_line.DenoisingBar, "on_step", ctrl_c)
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"my old video")
    result = cli(image, "-o", out, "--frames", "3", "--steps", "3", "--force")
    assert_clean_failure(result, "interrupted: nothing was written", code=130)
    assert out.read_bytes() == b"my old video" and not out.with_suffix(".json").exists()
    assert no_leftovers(tmp_path)


# ----------------------------------------------------------------------------------------------------
# The Hub: gated, unreachable.


def fail_loading(monkeypatch, error):
    """Make loading anything but a local folder fail as from_pretrained does (diffusers wraps the cause)."""
    real = models.load_pipeline

    def load(location, **kwargs):
        if not models.Path(location).is_dir():
            raise OSError(f"Cannot load model {location}") from error
        return real(location, **kwargs)

    monkeypatch.setattr(models, "load_pipeline", load)


def gated_error():
    url = "https://huggingface.co/api/models/stabilityai/stable-video-diffusion-img2vid-xt-1-1"
    response = httpx.Response(401, request=httpx.Request("GET", url), headers={"X-Error-Code": "GatedRepo"})
    return GatedRepoError(
        "Access to model stabilityai/stable-video-diffusion-img2vid-xt-1-1 is restricted.", response=response
    )


def test_gated_model_without_token_says_how_to_get_access(tmp_path, monkeypatch):
    fail_loading(monkeypatch, gated_error())
    result = cli(
        models.SAMPLE_IMAGE, "-o", tmp_path / "out.mp4", "--model", "svd-xt-1-1", "--source", "pretrained", *CPU
    )
    assert_clean_failure(
        result, "is gated", "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1", "hf auth login"
    )
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    "error", [LocalEntryNotFoundError("not cached"), httpx.ConnectError("Name or service not known")]
)
def test_no_network_and_nothing_cached_says_what_to_do(tmp_path, monkeypatch, error):
    fail_loading(monkeypatch, error)
    result = cli(models.SAMPLE_IMAGE, "-o", tmp_path / "out.mp4", "--source", "pretrained", *CPU)
    assert_clean_failure(result, "Hub is unreachable", "--source tiny")


def test_without_an_explicit_model_or_source_no_hub_falls_back_to_tiny_and_records_why(tmp_path, monkeypatch):
    monkeypatch.delenv(SOURCE_VARIABLE)
    monkeypatch.setattr(environment, "choose_source", lambda: SourceChoice("pretrained", "a CUDA GPU is present"))
    fail_loading(monkeypatch, LocalEntryNotFoundError("not cached"))
    result = cli(models.SAMPLE_IMAGE, "-o", tmp_path / "out.mp4", *FAST, *CPU)
    assert result.exit_code == 0, result.output
    assert "falling back to tiny random weights" in result.output and "frames are noise" in result.output
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["source"] == "tiny" and "--source" not in report["source_reason"]  # nobody asked for tiny
    assert "Hub is unreachable" in report["source_reason"]
    assert any("tiny random weights were used" in w for w in report["warnings"])


@pytest.mark.parametrize("model", ["stabilityai/nonexistent-model", "svd-xt"])
def test_a_named_model_without_hub_access_fails_instead_of_becoming_tiny(tmp_path, monkeypatch, model):
    monkeypatch.delenv(SOURCE_VARIABLE)
    monkeypatch.setattr(environment, "choose_source", lambda: SourceChoice("pretrained", "a CUDA GPU is present"))
    fail_loading(monkeypatch, LocalEntryNotFoundError("not cached"))
    out = tmp_path / "out.mp4"
    assert_clean_failure(cli(models.SAMPLE_IMAGE, "-o", out, *FAST, "--model", model, *CPU), "Hub is unreachable")
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_a_hub_repo_id_named_on_a_machine_without_a_gpu_is_loaded_from_the_hub_never_replaced(tmp_path, monkeypatch):
    """Without a GPU the default source is tiny: a repo id named with --model used to get tiny random weights."""
    monkeypatch.delenv(SOURCE_VARIABLE)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    fail_loading(monkeypatch, LocalEntryNotFoundError("not cached"))
    out, repo_id = tmp_path / "out.mp4", models.get_checkpoint("svd-xt").repo_id
    result = cli(models.SAMPLE_IMAGE, "-o", out, *FAST, "--model", repo_id, *CPU)
    assert_clean_failure(result, f"Cannot download {repo_id}: the Hub is unreachable")
    assert not out.exists() and not out.with_suffix(".json").exists()
    choice = models.resolve_model(repo_id)
    assert (choice.source, choice.location, choice.explicit) == ("pretrained", repo_id, True)
    assert models.resolve_model("svd-xt").source == "tiny"  # a checkpoint's name: the machine's source


# ----------------------------------------------------------------------------------------------------
# Every input is checked before anything is built, loaded or downloaded; a failed run leaves nothing.


def count_builds_and_loads(monkeypatch):
    calls = []
    monkeypatch.setattr(models, "pipeline_location", lambda *a, **k: calls.append(("build", a)))
    monkeypatch.setattr(models, "load_chosen", lambda *a: calls.append(("load", a)))
    return calls


@pytest.mark.parametrize(
    "source, disk", [("random", "4.2 GB of disk for its random weights"), ("pretrained", "4.5 GB download")]
)
def test_full_size_weights_on_a_cpu_say_their_cost_and_need_consent(tmp_path, monkeypatch, source, disk):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls = count_builds_and_loads(monkeypatch)
    out = tmp_path / "out.mp4"
    result = cli(models.SAMPLE_IMAGE, "-o", out, "--source", source)
    assert_clean_failure(result, "full-size svd-xt on the CPU: about 15 GB of RAM (this machine has", disk)
    assert "min a denoising step at 25 frames" in result.output and "Add --full-size-on-cpu" in result.output
    assert calls == [] and not out.exists()  # nothing built, downloaded or loaded before asking


def test_a_too_small_image_is_refused_before_any_weights_are_built(tmp_path, monkeypatch):
    Image.new("RGB", (16, 16)).save(tmp_path / "tiny.png")
    calls = count_builds_and_loads(monkeypatch)
    for source in ("random", "tiny"):
        assert_clean_failure(cli(tmp_path / "tiny.png", "-o", tmp_path / "out.mp4", "--source", source), "upscale")
    assert calls == []


@pytest.mark.parametrize("plan", ["turbo", "fastest"])
def test_an_unknown_plan_is_refused_before_loading_with_the_one_list(tmp_path, image, monkeypatch, plan):
    calls = count_builds_and_loads(monkeypatch)
    result = cli(image, "-o", tmp_path / "out.mp4", "--plan", plan)
    assert_clean_failure(result, f"Unknown plan {plan!r}", *plans.PLANS)  # every plan, as `svd-learn plan` lists them
    assert calls == []


def test_a_gpu_plan_asked_for_on_a_machine_without_a_gpu_is_reported_where_it_ran(tmp_path, image):
    out = tmp_path / "out.mp4"
    result = cli(image, "-o", out, *FAST, "--plan", "gpu-decode2")
    assert result.exit_code == 0, result.output
    assert "measured on the CPU, no GPU, plan gpu-decode2 run on the CPU" in result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["device"] == "cpu" and report["predicted_peak_gib"] is None  # no GPU memory was predicted
    assert "run on the CPU: this machine has no CUDA GPU" in report["plan_reason"]
    assert report["parameters"]["decode_chunk_size"] == 2  # what the plan's name says, on this device


def test_a_failed_run_creates_no_folder(tmp_path):
    assert_clean_failure(
        cli(tmp_path / "missing.png", "-o", tmp_path / "bad" / "newdir" / "sub" / "o.mp4"), "does not exist"
    )
    assert not (tmp_path / "bad").exists()


def test_the_report_and_messages_give_the_decode_chunk_really_used(tmp_path, image):
    result = cli(image, "-o", tmp_path / "out.mp4", "--steps", "1", "--frames", "2")
    assert result.exit_code == 0, result.output
    assert "decoding 2 frames, 2 at a time" in result.output
    assert json.loads((tmp_path / "out.json").read_text())["parameters"]["decode_chunk_size"] == 2


# ----------------------------------------------------------------------------------------------------
# Out of GPU memory: free, fall back to the next lower plan, say so, record it.


def test_out_of_memory_falls_back_to_the_next_lower_plan(tmp_path, image, monkeypatch):
    loads = []
    real_load = models.load_chosen

    def counting_load(*args):
        loads.append(args)
        return real_load(*args)

    monkeypatch.setattr(models, "load_chosen", counting_load)
    order = planner.fallback_order()
    with generate.simulated_out_of_memory(order[0], message="CUDA out of memory. Tried to allocate 7.03 GiB") as tried:
        result = cli(image, "-o", tmp_path / "out.mp4", *FAST, "--plan", order[0])
    assert result.exit_code == 0, result.output
    assert tried == order[:2] and len(loads) == 2  # a fresh pipeline for the second plan (no stale hooks)
    assert (
        f"out of GPU memory with plan {order[0]}" in result.output
        and f"falling back to plan {order[1]}" in result.output
    )
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["plan"] == order[1]
    assert report["fallbacks"] == [{"plan": order[0], "error": "CUDA out of memory. Tried to allocate 7.03 GiB"}]
    assert video.read_video_info(tmp_path / "out.mp4")["frames"] == 3


def test_out_of_memory_with_every_plan_is_a_clear_error(tmp_path, image, monkeypatch):
    monkeypatch.setattr(models, "load_chosen", lambda *args: object())  # no need for real weights here
    monkeypatch.setattr(plans, "apply_plan", lambda *args: None)
    with generate.simulated_out_of_memory(*plans.PLANS):
        result = cli(image, "-o", tmp_path / "out.mp4", *FAST, "--plan", planner.fallback_order()[0])
    assert_clean_failure(result, "Out of GPU memory with every plan", "--frames 14")
    assert not (tmp_path / "out.mp4").exists() and no_leftovers(tmp_path)


def test_the_simulated_out_of_memory_is_off_outside_its_block(tmp_path, image):
    with generate.simulated_out_of_memory("cpu"):
        pass
    params = GenerationParameters(num_frames=2, num_inference_steps=1)
    run = generate.generate_video(image, tmp_path / "a.mp4", params, say=lambda m: None)
    assert run.fallbacks == [] and run.plan == "cpu"


def test_plans_to_try_walks_down_the_fallback_order_on_a_gpu():
    from types import SimpleNamespace

    params = SimpleNamespace(num_frames=25, height=576, width=1024)
    tried = planner.plans_to_try("auto", "cuda", 14.74, 12.7, "svd-xt", params, print)
    order = planner.fallback_order()
    assert [p.name for p in tried.plans] == order[order.index(tried.first.name) :]
    assert tried.predicted_peak_gib is not None and tried.predicted_peak_gib <= 14.0 and tried.reason
    docs = planner.plans_to_try("docs-recipe", "cuda", 14.74, 12.7, "svd-xt", params, print).plans
    assert docs[0].name == "docs-recipe" and all(p.placement != "cpu" for p in docs)


# ----------------------------------------------------------------------------------------------------
# CPU threads: the cores other processes leave free, not one per core.


@pytest.mark.parametrize("load, threads", [(6.3, 1), (1.2, 1), (0.2, 2), (0.0, 2)])
def test_cpu_threads_leave_busy_cores_alone(monkeypatch, load, threads):
    from svd_learn import environment

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(environment.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(environment.os, "getloadavg", lambda: (load, load, load))
    assert environment.cpu_threads()[0] == threads
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert environment.cpu_threads() == (torch.get_num_threads(), "set by OMP_NUM_THREADS")


def test_a_cpu_generation_runs_with_the_chosen_threads_and_gives_them_back(tmp_path, image, monkeypatch):
    monkeypatch.setattr(generate, "cpu_threads", lambda: (1, "2 cores, load average 6.3: 1 left for this run"))
    before, during = torch.get_num_threads(), []
    torch.set_num_threads(2)  # what torch starts with on 2 cores
    try:
        run = generate.generate_video(
            image,
            tmp_path / "a.mp4",
            GenerationParameters(num_frames=2, num_inference_steps=2),
            say=lambda m: None,
            on_step=lambda step, total: during.append(torch.get_num_threads()),
        )
        assert during == [1, 1] and torch.get_num_threads() == 2  # given back
    finally:
        torch.set_num_threads(before)
    assert run.environment["cpu_threads"].startswith("1 (2 cores, load average 6.3")


def test_an_out_of_memory_runtime_error_from_a_kernel_also_falls_back(tmp_path, image, monkeypatch):
    real, tried = measure.measure_call, []

    def kernel_runs_out(pipe, picture, params, **named):
        tried.append(params.decode_chunk_size)
        if len(tried) == 1:  # how some CUDA kernels report it: a RuntimeError, not torch.OutOfMemoryError
            raise RuntimeError("CUDA error: out of memory")
        return real(pipe, picture, params, **named)

    monkeypatch.setattr(measure, "measure_call", kernel_runs_out)
    order = planner.fallback_order()
    params = GenerationParameters(num_frames=2, num_inference_steps=1)
    run = generate.generate_video(image, tmp_path / "a.mp4", params, RunSpec(plan=order[0]), say=lambda m: None)
    assert len(tried) == 2 and run.plan == order[1] and run.fallbacks[0]["error"] == "CUDA error: out of memory"


def test_hub_advice_for_a_missing_repo_and_for_offline_mode():
    from huggingface_hub.errors import OfflineModeIsEnabled, RepositoryNotFoundError

    url = "https://huggingface.co/api/models/stabilityai/nonexistent-model"
    missing = RepositoryNotFoundError("404", response=httpx.Response(404, request=httpx.Request("GET", url)))
    assert models.hub_advice(OSError("Cannot load model"), "x") is None  # an error it does not know is left alone
    wrapped = OSError("Cannot load model stabilityai/nonexistent-model")
    wrapped.__cause__ = missing
    advice = models.hub_advice(wrapped, "stabilityai/nonexistent-model")
    assert "was not found on the Hub" in str(advice) and "https://huggingface.co/stabilityai/nonexistent-model" in str(
        advice
    )
    offline = models.hub_advice(OfflineModeIsEnabled("offline"), "stabilityai/stable-video-diffusion-img2vid-xt")
    assert isinstance(offline, models.HubUnreachable) and "HF_HUB_OFFLINE=1" in str(offline)


def test_a_14_frame_folder_gets_the_svd_presets(tmp_path):
    folder = tmp_path / "my-svd"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    (folder / "unet" / "config.json").write_text(json.dumps({"num_frames": 14}))
    choice = models.resolve_model(str(folder))
    assert choice.source == "folder" and choice.checkpoint.name == "svd"
    params, _ = request.checked_parameters(GenerationParameters(), choice)
    assert params.num_frames == 14  # SVD's frame count, not SVD-XT's 25


# ----------------------------------------------------------------------------------------------------
# CUDA starts after the allocator setting (issue 21): the plan's figures were measured with expandable segments.


@pytest.mark.parametrize("entry", ["svd-learn", "generate_video"])
def test_nothing_starts_cuda_before_the_allocator_setting(tmp_path, monkeypatch, entry):
    """`svd-learn generate` as a learner runs it on a GPU (default model and source, nothing set in the environment),
    and generate_video in a fresh notebook: every start of CUDA on the way to the first allocation sees
    PYTORCH_CUDA_ALLOC_CONF asking for expandable segments. This CPU machine plays a T4 up to that first
    allocation, where it stops."""
    import os
    import sys
    import traceback
    from types import SimpleNamespace

    from svd_learn import cli, memory

    starts = []  # (the allocator setting when CUDA started, who started it)

    def lazy_init():
        caller = next(f for f in reversed(traceback.extract_stack()[:-1]) if "torch" not in f.filename)
        starts.append(
            (os.environ.get(memory.ALLOC_CONF_VARIABLE), f"{caller.name} ({caller.filename}:{caller.lineno})")
        )

    def t4_properties(device=None):
        torch.cuda._lazy_init()  # as the real one does
        return SimpleNamespace(name="Tesla T4", total_memory=int(14.74 * 2**30), major=7, minor=5)

    for variable in (*memory.ALLOC_CONF_VARIABLES, SOURCE_VARIABLE):
        monkeypatch.setenv(variable, "")  # recorded, so that what the run sets is undone after the test
        monkeypatch.delenv(variable)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: bool(starts))
    monkeypatch.setattr(torch.cuda, "_lazy_init", lazy_init)
    monkeypatch.setattr(torch.cuda, "get_device_properties", t4_properties)
    command = ["svd-learn", "generate", str(models.SAMPLE_IMAGE), "-o", str(tmp_path / "a.mp4"), *FAST]
    monkeypatch.setattr(sys, "argv", command)
    with pytest.raises(BaseException) as stopped:  # noqa: B017 -- the first real CUDA call: this machine has none
        if entry == "svd-learn":
            cli.main()
        else:
            params = GenerationParameters(num_frames=3, num_inference_steps=1)
            generate.generate_video(models.SAMPLE_IMAGE, tmp_path / "a.mp4", params, say=lambda m: None)
    assert not isinstance(stopped.value, SystemExit), "the run ended before it reached the GPU"
    assert starts, "CUDA never started: the test did not reach the GPU"
    assert all(setting and memory.EXPANDABLE_SEGMENTS in setting for setting, _ in starts), starts


def test_in_a_notebook_that_already_used_the_gpu_the_warning_says_what_to_do(monkeypatch):
    from svd_learn import memory

    for variable in memory.ALLOC_CONF_VARIABLES:
        monkeypatch.setenv(variable, "")  # recorded, so that nothing set here outlives the test
        monkeypatch.delenv(variable)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    said = []
    generate.expandable_segments(said.append)
    assert said[0].startswith("warning: CUDA started before PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True")
    assert "restart the runtime" in said[0] and "enable_expandable_segments()" in said[0]


def test_choosing_the_source_does_not_start_cuda(monkeypatch):
    monkeypatch.delenv(SOURCE_VARIABLE)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "_lazy_init", lambda: pytest.fail("choosing the source started CUDA"))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda *a: pytest.fail("choosing the source probed"))
    assert environment.choose_source().name == "pretrained"
    assert models.resolve_model(None, None).source == "pretrained"


# ----------------------------------------------------------------------------------------------------
# One session, many videos (what an app keeps open): no reload, progress per step, a stop that writes nothing.


def test_one_session_makes_many_videos_with_one_load_and_stops_cleanly_when_asked(tmp_path, image, monkeypatch):
    from svd_learn.run import Outputs

    loads, real_load = [], models.load_chosen
    monkeypatch.setattr(models, "load_chosen", lambda *args: loads.append(args) or real_load(*args))
    spec, params = RunSpec(source="tiny"), GenerationParameters(num_frames=2, num_inference_steps=2)
    choice, machine = models.resolve_model(spec.model, spec.source), generate.machine_for(spec)
    plans_to_try = generate.plan_memory(spec, machine, request.checked_parameters(params, choice)[0], choice, print)

    def video_for(name, **changes):
        outputs = Outputs.check(tmp_path / f"{name}.mp4")
        return request.video_request(image, replace(params, **changes), choice, outputs)

    steps = []
    with generate.Session.open(spec, choice, machine, plans_to_try, say=lambda m: None) as session:
        first = session.make_video(video_for("first"), on_step=lambda step, total: steps.append((step, total)))
        second = session.make_video(video_for("second", motion_bucket_id=60))
        with pytest.raises(measure.StopRequested):
            session.make_video(video_for("stopped", num_inference_steps=5), should_stop=lambda: True)
        after = session.make_video(video_for("after"))
    assert len(loads) == 1 and steps == [(1, 2), (2, 2)]
    assert first.timings["load_s"] > 0 and second.timings["load_s"] == after.timings["load_s"] == 0
    assert second.parameters["motion_bucket_id"] == 60 and video.read_video_info(tmp_path / "after.mp4")["frames"] == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("stopped")) == []  # nothing, not even part
    assert no_leftovers(tmp_path) and session.pipe is None  # closed: its memory given back


def test_a_stop_request_ends_generate_video_between_steps_and_writes_nothing(tmp_path, image):
    asked = []
    with pytest.raises(measure.StopRequested, match="after 1 of 3 steps"):
        generate.generate_video(
            image,
            tmp_path / "out" / "a.mp4",
            GenerationParameters(num_frames=2, num_inference_steps=3),
            say=lambda m: None,
            should_stop=lambda: asked.append(1) or True,
        )
    assert asked == [1] and not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------------------
# --compile: the same video, faster steps after a warm-up; a compile that fails never ends in a traceback.


def test_compile_flag_compiles_the_unet_once_and_the_report_says_how(tmp_path, image, monkeypatch):
    compiled = []
    monkeypatch.setattr(generate, "compile_unet", lambda pipe, mode, backend: compiled.append(mode) or mode)
    out = tmp_path / "compiled.mp4"
    result = cli(image, "-o", out, *FAST, "--compile")
    assert result.exit_code == 0, result.output
    assert compiled == [generate.COMPILE_MODE] and "compiling the UNet" in result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["compiled_unet"] == generate.COMPILE_MODE and report["compile_note"] is None
    compiled.clear()
    params = GenerationParameters(num_frames=2, num_inference_steps=1)
    plain = generate.generate_video(image, tmp_path / "plain.mp4", params, say=lambda m: None)
    assert compiled == [] and plain.compiled_unet is None and plain.compile_note is None  # off unless asked for


def test_compile_is_skipped_with_a_note_for_plans_that_offload_the_unet(monkeypatch):
    monkeypatch.setattr(generate, "compile_unet", lambda *args: pytest.fail("an offloaded UNet was compiled"))
    said = []
    plans_to_try = planner.PlansToTry((plans.get_plan("docs-recipe"),), "asked for with --plan", None)
    session = generate.Session(RunSpec(compile_unet=True), None, None, plans_to_try, said.append)
    session.compile(object())
    assert session.compiled_unet is None and "offloads the UNet" in session.compile_note and "skipped" in said[0]


def regional_blocks(pipe) -> list:
    return [m for m in pipe.unet.modules() if type(m).__name__ in generate.REPEATED_BLOCKS]


def test_the_svd_unet_has_the_repeated_blocks_that_regional_compilation_names():
    pipe = models.load_pipeline(models.tiny_pipeline_folder(), device="cpu")
    assert {type(m).__name__ for m in regional_blocks(pipe)} == set(generate.REPEATED_BLOCKS)
    assert not getattr(pipe.unet, "_repeated_blocks", None)  # diffusers declares none for the SVD UNet
    assert hasattr(pipe.unet, "compile_repeated_blocks")  # diffusers >= 0.35 (the course needs 0.36)


@pytest.mark.slow  # dynamo traces the tiny UNet for real: 10 to 30 s on 2 cores
def test_regional_compilation_compiles_each_repeated_block_and_gives_the_same_video(tmp_path, image, monkeypatch):
    monkeypatch.setattr(generate, "COMPILE_MODE", "regional")
    monkeypatch.setattr(generate, "COMPILE_BACKEND", "eager")  # dynamo's graphs, run as they are: any CPU
    torch._dynamo.reset()
    result = cli(image, "-o", tmp_path / "compiled.mp4", *FAST, "--compile")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "compiled.json").read_text())["compiled_unet"] == "regional"
    assert cli(image, "-o", tmp_path / "plain.mp4", *FAST).exit_code == 0
    assert np.array_equal(video.read_frames(tmp_path / "compiled.mp4"), video.read_frames(tmp_path / "plain.mp4"))


@pytest.mark.slow  # dynamo traces the tiny UNet for real, then the backend fails: 10 to 30 s a mode on 2 cores
@pytest.mark.parametrize("mode", ["regional", "full"])
def test_a_compile_that_fails_says_so_in_one_line_and_the_plain_unet_makes_the_video(
    tmp_path, image, monkeypatch, mode
):
    def no_kernel_for_this_gpu(graph, example_inputs):  # what Triton answered for a T4's sm_75 on an H200 (issue 21)
        raise RuntimeError("no kernel image is available for execution on the device")

    monkeypatch.setattr(generate, "COMPILE_MODE", mode)
    monkeypatch.setattr(generate, "COMPILE_BACKEND", no_kernel_for_this_gpu)
    torch._dynamo.reset()
    result = cli(image, "-o", tmp_path / "out.mp4", *FAST, "--compile")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    (note,) = [line for line in result.output.splitlines() if "compiling failed" in line]
    assert note.startswith("note: compiling failed (") and "no kernel image" in note and "plain UNet" in note
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["compiled_unet"] is None and "no kernel image" in report["compile_note"]
    assert video.read_video_info(tmp_path / "out.mp4")["frames"] == 3
