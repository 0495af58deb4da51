"""The app (`svd-learn app`, svd_learn/app.py) on tiny weights (conftest sets SVD_LEARN_SOURCE=tiny).

Three tiers: its work without a server (the crop, the plan, one session for many videos, Stop, every refusal as
one line); a gradio client calling its generate endpoint; and a person's visit in Debian's Chromium, driven by
Playwright, against `svd-learn app` started as a learner starts it. The last two are slow (a server, a browser).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

import svd_learn
from svd_learn import app, generate, measure, models, planner, t4, video
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

FLAGS = [  # Chromium as root on a machine without a screen or a network (see the machine's notes)
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def settings(**changed) -> list:
    """The page's settings (app.SETTINGS order): the defaults, a short video, then `changed`."""
    chosen = {
        "checkpoint": "svd-xt",
        "num_frames": 3,
        "num_inference_steps": 1,
        "fps": 7,
        "motion_bucket_id": 127,
        "noise_aug_strength": 0.02,
        "min_guidance_scale": 1.0,
        "max_guidance_scale": 3.0,
        "seed": 0,
        "random_seed": False,
        "smooth_fps": 0,
    }
    return [{**chosen, **changed}[name] for name in app.SETTINGS]


def no_progress(*args, **kwargs):
    return None


def text_file_named_png(folder: Path) -> Path:
    path = folder / "holiday.png"
    path.write_text("these are my holiday notes, not a photo\n" * 20)
    return path


# ----------------------------------------------------------------------------------------------------
# Without a server


def test_the_crop_is_what_svd_sees_and_a_small_photo_is_said_to_be_enlarged():
    real = app.Studio(RunSpec(source="pretrained"))  # nothing is downloaded: only the size is needed
    picture, note = real.crop(str(models.SAMPLE_IMAGE), "svd-xt")
    assert picture.size == (1024, 576) and note.startswith("Your photo is 640x427")
    assert "enlarged 1.6x" in note and "at least 1024x576" in note
    tiny_picture, tiny_note = app.Studio(RunSpec(source="tiny")).crop(str(models.SAMPLE_IMAGE), "svd-xt")
    assert tiny_picture.size == (128, 72) and "enlarged" not in tiny_note


def test_every_refusal_of_a_photo_is_one_line_without_the_uploads_folder(tmp_path):
    (tmp_path / "truncated.jpg").write_bytes(models.SAMPLE_IMAGE.read_bytes()[:20000])
    Image.new("RGB", (40, 24)).save(tmp_path / "small.png")
    cases = [  # (photo, source, what the page says): the real size refuses a small photo, tiny weights' does not
        (text_file_named_png(tmp_path), "tiny", "holiday.png is not an image Pillow can read"),
        (tmp_path / "truncated.jpg", "tiny", "truncated.jpg could not be decoded"),
        (tmp_path / "small.png", "pretrained", "The image is 40x24 (width x height); covering 1024x576 would upscale"),
    ]
    for photo, source, phrase in cases:
        studio = app.Studio(RunSpec(source=source), tmp_path / "out")
        crop, note = app.show_crop(studio, str(photo), "svd-xt")
        assert crop is None and phrase in note and str(tmp_path) not in note and "\n" not in note
        with pytest.raises(gr.Error, match=re.escape(phrase)):
            app.on_generate(studio, str(photo), *settings(), [], progress=no_progress)
    assert not (tmp_path / "out").exists()


def test_the_plan_has_the_figures_svd_learn_plan_prints(tmp_path):
    text = app.Studio(RunSpec(source="tiny"), tmp_path).plan("svd-xt", 25, 25)
    assert "**Plan on this machine:** cpu" in text and "none (no CUDA GPU)" in text
    on_t4 = planner.choose_plan(14.74, 12.7, "svd-xt", 25, 576, 1024)
    assert f"plan {on_t4.plan.name}, predicted peak {on_t4.predicted_peak_gib:.1f} GiB" in text
    assert t4.describe_plan_estimate(on_t4.plan, 25, 25, 576, 1024) in text
    assert "warning: num_frames=14" in app.Studio(RunSpec(source="tiny"), tmp_path).plan("svd-xt", 14, 25)


def test_one_session_makes_the_videos_until_the_checkpoint_changes_and_stop_writes_nothing(tmp_path, monkeypatch):
    loads, real_load = [], models.load_chosen
    monkeypatch.setattr(models, "load_chosen", lambda *args: loads.append(args[0].checkpoint.name) or real_load(*args))
    studio = app.Studio(RunSpec(source="tiny"), tmp_path)
    photo, steps = str(models.SAMPLE_IMAGE), []

    def made(*changes, history=()):
        return app.on_generate(studio, photo, *settings(**dict(changes)), list(history), progress=no_progress)

    first = made(("motion_bucket_id", 60))
    second = made(("motion_bucket_id", 200), history=first[5])
    assert loads == ["svd-xt"]  # the second video did not reload the pipeline
    assert [Path(p).name for p in (first[0], second[0])] == ["rocket-001.mp4", "rocket-002.mp4"]
    assert [json.loads(Path(f).read_text())["parameters"]["motion_bucket_id"] for f in (first[2][1], second[2][1])] == [
        60,
        200,
    ]
    history = second[5]
    assert [h["label"].split(",")[0] for h in history] == ["motion 200", "motion 60"]  # newest first
    assert [update["visible"] for update in second[6:]] == [True, True, False, False]

    def stop_after_the_first_step(step, total):
        steps.append(step)
        studio.request_stop()

    with pytest.raises(measure.StopRequested):
        studio.make_video(
            photo, "svd-xt", GenerationParameters(num_frames=3, num_inference_steps=3), None, stop_after_the_first_step
        )
    assert steps == [1] and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("rocket-003")) == []
    made(("checkpoint", "svd"))
    assert loads == ["svd-xt", "svd"]  # another checkpoint: a new session


def test_out_of_memory_with_every_plan_is_one_line_and_the_next_video_starts_afresh(tmp_path):
    studio = app.Studio(RunSpec(source="tiny"), tmp_path)
    with generate.simulated_out_of_memory("cpu"):
        with pytest.raises(gr.Error, match="Out of GPU memory with every plan down to cpu"):
            app.on_generate(studio, str(models.SAMPLE_IMAGE), *settings(), [], progress=no_progress)
    assert studio.session is None and list(tmp_path.iterdir()) == []
    made = app.on_generate(studio, str(models.SAMPLE_IMAGE), *settings(smooth_fps=24), [], progress=no_progress)
    assert video.read_video_info(made[0])["frames"] == 3 and Path(made[2][2]).name == "rocket-001-24fps.mp4"
    assert "smoother copy" in made[3]


@pytest.mark.parametrize("share", [False, True])
def test_the_page_listens_on_127_0_0_1_and_is_public_only_when_asked(tmp_path, monkeypatch, capsys, share):
    """gradio's own default in a notebook, Colab's included, is a public link: the app always says share=False, so
    that Colab shows the page through its own proxy; a `!svd-learn app` in Colab is told where to open it."""
    asked = {}

    def launch(page, **options):
        asked.update(options)
        page.local_url, page.share_url = "http://127.0.0.1:7860/", "https://x.gradio.live" if share else None

    monkeypatch.setattr(gr.Blocks, "launch", launch)
    monkeypatch.setattr(app, "in_colab", lambda: True)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)  # a command, not a notebook
    app.serve(RunSpec(source="tiny"), tmp_path, share=share, block=False)
    assert asked["server_name"] == "127.0.0.1" and asked["share"] is share
    said = capsys.readouterr().out
    assert "served by this computer at http://127.0.0.1:7860/" in said and "open it from a notebook cell" in said
    assert ("a public link through gradio's servers" in said) is share


def test_svd_learn_app_without_gradio_says_how_to_get_it(monkeypatch):
    from typer.testing import CliRunner

    from svd_learn.cli import app as command

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` fails as if it were not installed
    monkeypatch.delitem(sys.modules, "svd_learn.app")  # imported anew, as in a fresh process
    monkeypatch.delattr(svd_learn, "app")
    result = CliRunner().invoke(command, ["app"])
    assert result.exit_code == 1 and "pip install 'svd-learn[app]'" in result.output
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------------------------------
# A client, and a person in a browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((app.HOST, 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_gradio_client_gets_a_25_frame_video_and_a_non_image_gets_a_message(tmp_path):
    from gradio_client import Client, handle_file

    page = app.serve(RunSpec(source="tiny"), tmp_path / "out", port=free_port(), block=False)
    try:
        assert page.local_url.startswith(f"http://{app.HOST}:")
        client = Client(page.local_url, verbose=False, download_files=str(tmp_path / "client"))
        values = settings(num_frames=25, motion_bucket_id=180)
        made = client.predict(handle_file(str(models.SAMPLE_IMAGE)), *values, api_name="/generate")
        mp4 = made[0]["video"] if isinstance(made[0], dict) else made[0]
        assert video.read_video_info(mp4)["frames"] == 25
        with pytest.raises(Exception, match="holiday.png is not an image Pillow can read") as refused:
            client.predict(handle_file(str(text_file_named_png(tmp_path))), *values, api_name="/generate")
        assert "Traceback" not in str(refused.value)
        after = client.predict(handle_file(str(models.SAMPLE_IMAGE)), *settings(), api_name="/generate")
        assert video.read_video_info(after[0]["video"] if isinstance(after[0], dict) else after[0])["frames"] == 3
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="needs Debian's chromium (apt-get install chromium)",
)
def test_a_person_makes_a_video_in_chromium_downloads_it_and_sees_a_refusal(tmp_path):
    from playwright.sync_api import sync_playwright

    port, out = free_port(), tmp_path / "videos"
    server = subprocess.Popen(
        [sys.executable, "-m", "svd_learn.cli", "app", "--port", str(port), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = []
        for line in server.stdout:  # until it says where it is (or ends)
            said.append(line)
            if "served by this computer" in line:
                break
        assert f"served by this computer at http://{app.HOST}:{port}/" in said[-1], "".join(said)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
            try:
                visit(page, port, tmp_path)
            finally:
                page.screenshot(path=str(tmp_path / "page.png"), full_page=True)  # kept in pytest's tmp folder
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def visit(page, port: int, folder: Path) -> None:
    """What a person does: the sample photo, a motion value, Generate, the video, the downloads; then a text file
    named .png, refused in one line, and the page still there."""
    from playwright.sync_api import expect

    page.goto(f"http://{app.HOST}:{port}/")
    page.get_by_role("button", name=app.TEXT["sample"]).click()
    expect(page.locator("#crop img")).to_be_visible(timeout=60_000)
    expect(page.locator("#crop-note")).to_contain_text("Your photo is 640x427")
    for name, value in (("motion-bucket-id", 180), ("num-inference-steps", 1)):
        page.fill(f"#{name} input[type=number]", str(value))
        page.press(f"#{name} input[type=number]", "Enter")
    page.get_by_role("button", name=app.TEXT["generate"]).click()
    expect(page.locator("#video video")).to_be_visible(timeout=120_000)
    downloaded = {}
    for name in ("rocket-001.mp4", "rocket-001.json"):
        with page.expect_download() as download:
            page.locator(f"#files a[download='{name}']").click()
        downloaded[name] = folder / name
        download.value.save_as(downloaded[name])
    assert video.read_video_info(downloaded["rocket-001.mp4"])["frames"] == 25
    report = json.loads(downloaded["rocket-001.json"].read_text())
    assert report["frames"] == 25 and report["parameters"]["motion_bucket_id"] == 180
    page.locator("#photo button[aria-label=Clear]").click()
    page.locator("#photo input[type=file]").set_input_files(text_file_named_png(folder))  # what the file chooser does
    expect(page.locator("#crop-note")).to_contain_text("holiday.png is not an image Pillow can read")
    page.get_by_role("button", name=app.TEXT["generate"]).click()
    toast = page.locator("[data-testid=toast-body]")  # gradio's message box for a gr.Error
    expect(toast.filter(has_text="holiday.png is not an image Pillow can read")).to_be_visible()
    assert "Traceback" not in page.content()
    expect(page.locator("#earlier-0 video")).to_be_visible()  # the page kept working: the first video is still there
