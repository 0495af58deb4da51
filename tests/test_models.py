"""The checkpoints, the three model sources' builders, and loading."""

import json

import pytest
import torch
from PIL import Image

from svd_learn import models

REAL_PARAMETERS = {"unet": 1_524_623_082, "image_encoder": 632_076_800, "vae": 97_742_847}


def test_three_checkpoints_from_the_model_cards():
    assert set(models.CHECKPOINTS) == {"svd", "svd-xt", "svd-xt-1-1"}
    assert models.get_checkpoint("svd").num_frames == 14
    assert models.get_checkpoint("svd-xt").num_frames == 25
    assert models.get_checkpoint("svd-xt-1-1").gated and not models.get_checkpoint("svd-xt").gated
    assert models.checkpoint_for_repo("stabilityai/stable-video-diffusion-img2vid-xt").name == "svd-xt"
    assert all((c.height, c.width) == (576, 1024) for c in models.CHECKPOINTS.values())
    with pytest.raises(ValueError, match="Known checkpoints: svd, svd-xt, svd-xt-1-1"):
        models.get_checkpoint("svd-2")


@pytest.mark.parametrize("checkpoint", ["svd-xt", "svd"])
def test_full_size_architecture_has_the_real_parameter_counts(checkpoint):
    components = models.full_size_architecture(checkpoint)
    counts = {name: models.count_parameters(components[name]) for name in models.MODEL_COMPONENTS}
    assert counts == REAL_PARAMETERS  # frames do not change the weights
    assert components["unet"].config.num_frames == models.get_checkpoint(checkpoint).num_frames
    assert next(components["unet"].parameters()).is_meta


def test_tiny_folder_has_the_hub_layout(tmp_path):
    folder = models.build_tiny_pipeline(tmp_path / "tiny")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [
        "feature_extractor/preprocessor_config.json",
        "image_encoder/config.json",
        "image_encoder/model.fp16.safetensors",
        "image_encoder/model.safetensors",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableVideoDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNetSpatioTemporalConditionModel"]
    unet = json.loads((folder / "unet" / "config.json").read_text())
    assert unet["in_channels"] == 8 and unet["num_frames"] == 25


def test_tiny_pipeline_loads_and_generates_frames_of_the_expected_shape():
    pipe = models.load_pipeline(models.tiny_pipeline_folder("svd-xt"), device="cpu")
    assert type(pipe).__name__ == "StableVideoDiffusionPipeline"
    assert pipe.unet.dtype == torch.float32  # CPU default
    height, width = models.TINY_SIZE
    pipe.set_progress_bar_config(disable=True)
    frames = pipe(
        Image.new("RGB", (width, height), "orange"),
        height=height,
        width=width,
        num_inference_steps=2,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).frames
    assert frames.shape == (1, 25, height, width, 3)
    assert torch.isfinite(torch.from_numpy(frames)).all()


def test_tiny_build_is_deterministic_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("SVD_LEARN_HOME", str(tmp_path))
    first = models.tiny_pipeline_folder("svd")
    stamp = (first / "unet" / "diffusion_pytorch_model.fp16.safetensors").stat().st_mtime_ns
    assert models.tiny_pipeline_folder("svd") == first
    assert (first / "unet" / "diffusion_pytorch_model.fp16.safetensors").stat().st_mtime_ns == stamp
    again = models.build_tiny_pipeline(tmp_path / "again", "svd")
    for name in ("unet/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"):
        assert (first / name).read_bytes() == (again / name).read_bytes()
    assert not list(tmp_path.glob("*.partial"))


def test_full_size_random_weights_are_scaled_fp16(tmp_path, monkeypatch):
    # The full-size builder on the tiny configs: same code path, seconds instead of minutes.
    tiny = models.tiny_configs()
    monkeypatch.setattr(models, "real_configs", lambda checkpoint: tiny)
    folder = models.build_full_size_random_pipeline(tmp_path / "random", weight_scale=0.5)
    assert not list(folder.rglob("diffusion_pytorch_model.safetensors"))  # fp16 variant files only
    reference = models.build_components(models.tiny_configs(), seed=0)["unet"].conv_in.weight
    unet = models.load_pipeline(folder, device="cpu").unet
    assert torch.allclose(unet.conv_in.weight, (reference * 0.5).half().float())


def test_pipeline_location_per_source(monkeypatch, tmp_path):
    monkeypatch.setenv("SVD_LEARN_HOME", str(tmp_path))
    assert models.pipeline_location("pretrained", "svd-xt-1-1") == "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
    assert models.pipeline_location("tiny", "svd").startswith(str(tmp_path))
    with pytest.raises(ValueError, match="Use one of: tiny, random, pretrained"):
        models.pipeline_location("large")


def test_source_names_are_checked_in_one_place_with_one_message(monkeypatch):
    from svd_learn import environment

    expected = "is not a model source. Use one of: tiny, random, pretrained."
    with pytest.raises(models.ModelError, match=f"--source cloud {expected}"):
        models.resolve_model("svd-xt", "cloud")
    with pytest.raises(ValueError, match=f"source cloud {expected}"):
        models.pipeline_location("cloud")
    monkeypatch.setenv(environment.SOURCE_VARIABLE, "cloud")
    with pytest.raises(models.ModelError, match=f"{environment.SOURCE_VARIABLE}=cloud {expected}"):
        models.resolve_model()


def test_dtype_keyword_follows_the_installed_diffusers(monkeypatch):
    import diffusers

    monkeypatch.setattr(diffusers, "__version__", "0.39.0")
    assert models.dtype_keyword() == "torch_dtype"
    monkeypatch.setattr(diffusers, "__version__", "0.40.0")
    assert models.dtype_keyword() == "dtype"
    assert models.default_dtype("cuda") == torch.float16 and models.default_dtype("cpu") == torch.float32


def test_describe_components_reports_size_dtype_device():
    pipe = models.load_pipeline(models.tiny_pipeline_folder("svd-xt"), device="cpu")
    rows = {row["component"]: row for row in models.describe_components(pipe)}
    assert rows["unet"]["parameters"] == models.count_parameters(pipe.unet)
    assert rows["unet"]["bytes"] == 4 * rows["unet"]["parameters"]
    assert rows["unet"]["device"] == "cpu" and rows["vae"]["dtype"] == "float32"
    assert "parameters" not in rows["scheduler"]


# Builds the pipeline folder of `sys.argv[1]` with a build that writes half a model, then runs a long call that does
# not look for Ctrl-C (as safetensors writing gigabytes does; seconds here, minutes in a real build) in a process of
# its own (models.in_own_process, as the full-size random weights are built).
INTERRUPTED_BUILD = """
import signal
import sys
from pathlib import Path
from svd_learn import models

# Ctrl-C as a shell delivers it: pytest-xdist's workers ignore SIGINT, and a child would inherit that.
signal.signal(signal.SIGINT, signal.default_int_handler)

def build(partial):
    partial.mkdir()
    (partial / "half.safetensors").write_bytes(bytes(1000))
    models.in_own_process(sum, range(10**9))

try:
    models._build_once(Path(sys.argv[1]), build)
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_stops_a_build_in_its_own_process_at_once_and_leaves_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "random-svd-xt"
    building = subprocess.Popen([sys.executable, "-c", INTERRUPTED_BUILD, str(folder)], stderr=subprocess.PIPE)
    half = folder.with_name(folder.name + ".partial") / "half.safetensors"
    deadline = time.monotonic() + 60
    while not half.exists() and building.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # the long call has started
    building.send_signal(signal.SIGINT)  # Ctrl-C
    pressed = time.monotonic()
    code = building.wait(timeout=120)
    reacted = time.monotonic() - pressed
    assert code == 130, building.stderr.read().decode()
    assert reacted < 2, f"Ctrl-C took {reacted:.1f} s"  # the child is killed, not waited for
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random-svd-xt.lock"]  # no half model


@pytest.mark.slow  # starts a Python process that imports diffusers
def test_a_build_in_its_own_process_makes_the_whole_folder_quietly(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)  # as in a user's shell: the notices are on
    folder = models._build_once(
        tmp_path / "tiny", lambda partial: models.in_own_process(models.build_tiny_pipeline, partial)
    )
    assert json.loads((folder / "model_index.json").read_text())["feature_extractor"][1] == "CLIPImageProcessor"
    assert (folder / "unet" / "diffusion_pytorch_model.fp16.safetensors").exists()
    printed = capfd.readouterr()
    assert "torchvision" not in printed.out + printed.err, printed.err  # the child is as quiet as the parent
