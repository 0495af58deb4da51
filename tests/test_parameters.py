"""Tests for svd_learn.parameters: every validation rule, every image mode, and the conditioning inspector
on tiny weights (what the UNet really receives)."""

import inspect
import math
import struct
import warnings
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from svd_learn import models
from svd_learn import parameters as P
from svd_learn.parameters import GenerationParameters, ImageError, ParameterError

TINY_HEIGHT, TINY_WIDTH = models.TINY_SIZE

# ----------------------------------------------------------------------------------------------------
# Presets and parameters.


def test_presets_match_the_model_cards_and_stabilitys_sampler():
    assert set(P.PRESETS) >= {"svd", "svd-xt", "svd-xt-1-1", "svd-xt-stability-reference"}
    assert [P.preset(n).num_frames for n in ("svd", "svd-xt", "svd-xt-1-1")] == [14, 25, 25]
    tuned = P.preset("svd-xt-1-1")
    assert (tuned.fps - 1, tuned.motion_bucket_id) == (6, 127)  # the UNet sees fps - 1 = 6
    reference = P.preset("svd-xt-stability-reference")
    assert (reference.min_guidance_scale, reference.max_guidance_scale, reference.num_inference_steps) == (1.5, 3.0, 30)
    assert (reference.decode_chunk_size, reference.noise_aug_strength) == (14, 0.02)
    svd_reference = P.preset("svd-stability-reference")
    assert (svd_reference.min_guidance_scale, svd_reference.max_guidance_scale, svd_reference.num_frames) == (
        1.0,
        2.5,
        14,
    )
    for name in P.PRESETS:
        assert P.preset(name).validate(P.preset_checkpoint(name)) == []


def test_defaults_are_diffusers_call_defaults():
    from diffusers import StableVideoDiffusionPipeline

    signature = inspect.signature(StableVideoDiffusionPipeline.__call__).parameters
    params = GenerationParameters()
    for name, value in params.pipeline_kwargs().items():
        assert name in signature, name
        assert value == signature[name].default, name  # None for num_frames (the UNet's) and decode_chunk_size (all)
    assert params.num_frames is None and params.decode_chunk_size is None


def test_the_checkpoint_fills_the_frames_and_the_plan_fills_the_decode_chunk():
    params = GenerationParameters()
    assert params.for_checkpoint("svd").num_frames == 14 and params.for_checkpoint("svd-xt").num_frames == 25
    assert replace(params, num_frames=7).for_checkpoint("svd").num_frames == 7  # a value given is kept
    filled = params.for_checkpoint("svd-xt")
    assert filled.with_plan_chunk(2).decode_chunk_size == 2  # the plan's, when none was asked for
    assert replace(filled, decode_chunk_size=8).with_plan_chunk(2).decode_chunk_size == 8  # the caller's wins
    assert (
        filled.with_plan_chunk(25).decode_chunk_size == 25
        and replace(filled, num_frames=3).with_plan_chunk(8).decode_chunk_size == 3
    )  # never more than the frames: the same decode
    assert params.validate() == [] and filled.with_plan_chunk(2).validate("svd-xt") == []


def test_unknown_preset_and_checkpoint_name_the_known_ones():
    with pytest.raises(ValueError, match="svd-xt-1-1"):
        P.preset("svd-xxl")
    with pytest.raises(ValueError, match="Known checkpoints"):
        GenerationParameters().validate("svd-xxl")


def test_pipeline_kwargs_have_no_seed_and_to_dict_round_trips():
    params = P.preset("svd")
    assert "seed" not in params.pipeline_kwargs()
    assert params.to_dict()["seed"] == params.seed
    assert GenerationParameters(**params.to_dict()) == params


# Each case: the changes that break one rule, the checkpoint, the rule's level and a fragment of its message.
CASES = [
    ({"height": 500}, None, "error", "height=500: must be a multiple of 8 (e.g. 496 or 504)"),
    ({"width": 1020}, None, "error", "width=1020: must be a multiple of 8"),
    ({"height": 0}, None, "error", "height=0: must be at least 8"),
    ({"width": -8}, None, "error", "width=-8: must be at least 8"),
    ({"num_frames": 0}, None, "error", "num_frames=0: must be at least 1"),
    ({"num_inference_steps": 0}, None, "error", "num_inference_steps=0: must be at least 1"),
    ({"fps": 0}, None, "error", "fps=0: must be at least 1"),
    ({"motion_bucket_id": -1}, None, "error", "motion_bucket_id=-1: must be at least 0"),
    ({"noise_aug_strength": -0.1}, None, "error", "noise_aug_strength=-0.1: must be at least 0.0"),
    ({"min_guidance_scale": -1.0}, None, "error", "min_guidance_scale=-1.0: must be at least 0.0"),
    (
        {"max_guidance_scale": -1.0, "min_guidance_scale": -2.0},
        None,
        "error",
        "max_guidance_scale=-1.0: must be at least 0.0",
    ),
    (
        {"min_guidance_scale": 2.0, "max_guidance_scale": 1.0},
        None,
        "error",
        "min_guidance_scale=2.0: must be at most 1.0 when max_guidance_scale=1.0",
    ),
    ({"decode_chunk_size": 0}, None, "error", "decode_chunk_size=0: must be at least 1"),
    ({"num_videos_per_prompt": 0}, None, "error", "num_videos_per_prompt=0: must be at least 1"),
    ({"seed": -1}, None, "error", "seed=-1: expected 0 to 18446744073709551615"),
    ({"seed": 2**64}, None, "error", "seed=18446744073709551616: expected 0 to"),
    ({"height": 576 + 64}, "svd-xt", "warning", "height=640: expected 576"),
    ({"width": 512}, None, "warning", "width=512: expected 1024"),
    ({"num_frames": 14}, "svd-xt", "warning", "num_frames=14: expected 25"),
    ({"num_frames": 16}, None, "warning", "num_frames=16: expected 14 or 25"),
    ({"motion_bucket_id": 256}, None, "warning", "motion_bucket_id=256: expected at most 255"),
    ({"fps": 5}, None, "warning", "fps=5: expected 6 to 31"),
    ({"fps": 32}, None, "warning", "fps=32: expected 6 to 31"),
    ({"noise_aug_strength": 1.5}, None, "warning", "noise_aug_strength=1.5: expected at most 1.0"),
    ({"min_guidance_scale": 3.5}, None, "warning", "min_guidance_scale=3.5: expected at most max_guidance_scale=3.0"),
    ({"max_guidance_scale": 1.0}, None, "warning", "max_guidance_scale=1.0: expected above 1.0"),
    ({"fps": 8}, "svd-xt-1-1", "warning", "fps=8: expected 7. SVD-XT 1.1"),
    ({"motion_bucket_id": 180}, "svd-xt-1-1", "warning", "motion_bucket_id=180: expected 127. SVD-XT 1.1"),
]


@pytest.mark.parametrize("changes, checkpoint, level, fragment", CASES)
def test_each_rule_names_the_value_the_range_and_the_source(changes, checkpoint, level, fragment):
    params = replace(GenerationParameters(), **changes)
    if level == "error":
        with pytest.raises(ParameterError) as caught:
            params.validate(checkpoint)
        message = str(caught.value)
    else:
        message = "\n".join(params.validate(checkpoint))
    line = next((line for line in message.splitlines() if fragment in line), None)
    assert line is not None, message
    assert "(source: " in line and line.endswith(")")


def test_every_rule_in_the_data_file_has_a_case():
    covered = set()
    for changes, checkpoint, level, _ in CASES:
        params = replace(GenerationParameters(), **changes)
        for index, rule in enumerate(P.RULES):
            applies = checkpoint in rule.get("only_for", [checkpoint])
            if (
                applies
                and rule["level"] == level
                and P._broken_requirement(rule, getattr(params, rule["field"]), params, checkpoint)
            ):
                covered.add(index)
    assert covered == set(range(len(P.RULES)))


def test_rules_only_for_one_checkpoint_stay_silent_for_the_others():
    assert replace(GenerationParameters(), fps=8, motion_bucket_id=180).validate("svd-xt") == []
    assert replace(GenerationParameters(), num_frames=14).validate("svd") == []
    assert replace(GenerationParameters(), num_frames=14).validate(None) == []  # 14 is a real checkpoint's count
    assert replace(GenerationParameters(), fps=6, motion_bucket_id=255).validate() == []  # the edges are allowed


def test_all_errors_are_reported_at_once():
    with pytest.raises(ParameterError) as caught:
        replace(GenerationParameters(), height=500, num_frames=0, decode_chunk_size=0).validate()
    assert len(str(caught.value).splitlines()) == 3


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"height": 576.0}, "height=576.0: must be a whole number"),
        ({"num_frames": True}, "num_frames=True: must be a whole number"),
        ({"seed": None}, "seed=None: must be a whole number"),
        ({"noise_aug_strength": "0.02"}, "noise_aug_strength='0.02': must be a finite number"),
        ({"max_guidance_scale": math.nan}, "max_guidance_scale=nan: must be a finite number"),
    ],
)
def test_wrong_types_are_errors(changes, fragment):
    with pytest.raises(ParameterError, match=fragment):
        replace(GenerationParameters(), **changes).validate()


def test_validation_warns_by_return_value_only():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # validate() must not call warnings.warn
        found = replace(GenerationParameters(), motion_bucket_id=300).validate()
    assert len(found) == 1


# ----------------------------------------------------------------------------------------------------
# Images: each built in code, in tmp_path.


def saved(image, tmp_path, name, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_missing_file_folder_and_non_image_are_refused(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        P.load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        P.load_image(tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageError, match="not an image Pillow can read"):
        P.load_image(text)


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_truncated_image_is_refused(tmp_path, name):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    path = saved(noise, tmp_path, name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageError, match="truncated"):
        P.load_image(path)


def test_animated_gif_is_refused_and_a_still_gif_is_read(tmp_path):
    frames = [Image.new("RGB", (16, 16), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    animated = tmp_path / "anim.gif"
    frames[0].save(animated, save_all=True, append_images=frames[1:])
    with pytest.raises(ImageError, match=r"animated \(3 frames\)"):
        P.load_image(animated)
    still = P.load_image(saved(Image.new("RGB", (16, 16), (0, 0, 255)), tmp_path, "still.gif"))
    assert still.mode == "RGB" and still.getpixel((0, 0)) == (0, 0, 255)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    upright = P.load_image(saved(image, tmp_path, "phone.jpg", exif=exif, quality=95))
    assert upright.size == (20, 40)
    top, bottom = upright.getpixel((10, 5)), upright.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 50  # the stored left (red) is now on top
    assert bottom[2] > 200 and bottom[0] < 50


@pytest.mark.parametrize(
    "mode, color, expected",
    [
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # fully transparent: the white background
        ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
        ("RGBA", (0, 0, 0, 128), (127, 127, 127)),  # half transparent black over white
        ("LA", (0, 0), (255, 255, 255)),
        ("LA", (10, 255), (10, 10, 10)),
        ("L", 77, (77, 77, 77)),
        ("1", 1, (255, 255, 255)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, color, expected):
    image = Image.new(mode, (8, 8), color)
    rgb = P.load_image(saved(image, tmp_path, "image.tiff" if mode == "CMYK" else "image.png"))
    assert rgb.mode == "RGB"
    assert all(abs(a - b) <= 1 for a, b in zip(rgb.getpixel((3, 3)), expected)), rgb.getpixel((3, 3))


def test_palette_with_and_without_transparency(tmp_path):
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    assert P.load_image(saved(palette, tmp_path, "p.png")).getpixel((0, 0)) == (0, 200, 0)
    transparent = P.load_image(saved(palette, tmp_path, "pt.png", transparency=1))
    assert transparent.getpixel((0, 0)) == (255, 255, 255)
    pa = Image.new("PA", (8, 8), (1, 0))
    pa.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    assert P.to_rgb(pa).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize("dtype, name", [(np.uint16, "gray16.png"), (np.int32, "gray32.tiff")])
def test_16_and_32_bit_grayscale_are_scaled_not_clipped(tmp_path, dtype, name):
    array = np.zeros((8, 8), dtype=dtype)
    array[:, 4:] = 65535
    array[:, 2:4] = 32768
    path = saved(Image.fromarray(array), tmp_path, name)
    assert Image.open(path).mode in ("I;16", "I")
    rgb = P.load_image(path)
    assert [rgb.getpixel((x, 0)) for x in (0, 2, 4)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_float_image_in_0_to_1_is_scaled(tmp_path):
    array = np.full((8, 8), 0.5, dtype=np.float32)
    rgb = P.load_image(saved(Image.fromarray(array), tmp_path, "float.tiff"))
    assert rgb.getpixel((0, 0)) == (128, 128, 128)


def test_large_jpeg_opens_without_a_bomb_warning_and_decodes_at_reduced_scale(tmp_path):
    path = saved(Image.new("RGB", (8000, 6000), (10, 120, 200)), tmp_path, "huge.jpg", quality=70)
    assert 8000 * 6000 < Image.MAX_IMAGE_PIXELS  # 48 Mpx: below Pillow's 89.5 Mpx warning threshold
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        full = P.load_image(path)
        reduced = P.load_image(path, height=576, width=1024)
    assert full.size == (8000, 6000)
    assert reduced.size == (2000, 1500)  # JPEG draft at 1/4 scale: still covers 1024x576, 16x fewer pixels
    assert P.prepare_image(reduced, 576, 1024).size == (1024, 576)


def test_decompression_bomb_is_refused(tmp_path):
    path = saved(Image.new("L", (4, 4)), tmp_path, "bomb.png")
    data = bytearray(path.read_bytes())
    header = struct.pack(">II", 20000, 10000) + bytes(data[24:29])  # claim 200 Mpx in the IHDR chunk
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="too large to open safely"):
        P.load_image(path)


@pytest.mark.parametrize("size", [(2000, 1000), (700, 1400), (1024, 1024), (1024, 576)])
def test_prepare_image_gives_exactly_the_target_size(size):
    assert P.prepare_image(Image.new("RGB", size), 576, 1024).size == (1024, 576)


def test_prepare_image_crops_the_centre():
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    image.paste((0, 255, 0), (100, 0, 200, 100))  # red | green | red
    square = P.prepare_image(image, 64, 64)
    assert square.getpixel((5, 32))[1] > 200 and square.getpixel((58, 32))[1] > 200  # only the green centre is left


def test_prepare_image_refuses_too_small_and_accepts_the_limit():
    with pytest.raises(ImageError, match=r"upscale it 2\.1x.*at least 512x288"):
        P.prepare_image(Image.new("RGB", (480, 270)), 576, 1024)
    assert P.prepare_image(Image.new("RGB", (512, 288)), 576, 1024).size == (1024, 576)  # exactly 2x: allowed
    assert P.prepare_image(Image.new("RGBA", (512, 288)), 576, 1024).mode == "RGB"


# ----------------------------------------------------------------------------------------------------
# The conditioning inspector, on tiny weights.


@pytest.fixture(scope="module")
def pipe():
    pipe = models.load_pipeline(models.tiny_pipeline_folder("svd-xt"), device="cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def image():
    return P.prepare_image(P.load_image(models.SAMPLE_IMAGE), TINY_HEIGHT, TINY_WIDTH)


@pytest.fixture(scope="module")
def capture(pipe, image):
    params = GenerationParameters(
        height=TINY_HEIGHT,
        width=TINY_WIDTH,
        num_frames=10,
        num_inference_steps=2,
        fps=9,
        motion_bucket_id=42,
        noise_aug_strength=0.05,
        min_guidance_scale=1.5,
        max_guidance_scale=3.5,
        decode_chunk_size=8,
    )
    return P.inspect_conditioning(pipe, image, params, output_type="np")


def test_fps_minus_one_motion_bucket_and_noise_reach_the_unet(capture, pipe):
    assert torch.allclose(capture.added_time_ids, torch.tensor([[8.0, 42.0, 0.05]] * 2))  # fps 9 arrives as 8
    expected = pipe.unet.add_time_proj(torch.tensor([8.0, 42.0, 0.05])).reshape(1, -1)
    assert torch.allclose(capture.time_id_embedding[1:], expected, atol=1e-6)
    assert capture.time_id_embedding.shape[1] == pipe.unet.config.projection_class_embeddings_input_dim


def test_guidance_is_per_frame_and_really_applied(capture):
    expected = torch.linspace(1.5, 3.5, 10)
    assert torch.allclose(capture.guidance_scale, expected)
    assert torch.allclose(capture.applied_guidance, expected, atol=1e-3)  # measured from the UNet's two halves


def test_unet_input_has_8_channels_with_the_image_latent_on_every_frame(capture):
    assert capture.unet_sample.shape == (2, 10, 8, TINY_HEIGHT // 8, TINY_WIDTH // 8)
    image_latents = capture.half(capture.image_latents, conditional=True)
    assert image_latents.abs().sum() > 0
    assert torch.equal(image_latents, image_latents[:, :1].expand_as(image_latents))  # the same latent on every frame
    assert not torch.equal(capture.noisy_latents[1, 0], capture.noisy_latents[1, 1])  # noise differs per frame


def test_unconditional_half_gets_zero_embeddings_and_zero_image_latents(capture):
    assert torch.count_nonzero(capture.half(capture.image_embeddings, conditional=False)) == 0
    assert torch.count_nonzero(capture.half(capture.image_latents, conditional=False)) == 0
    assert torch.count_nonzero(capture.half(capture.image_embeddings, conditional=True)) > 0
    assert torch.equal(*capture.noisy_latents.chunk(2))  # both halves denoise the same latents


def test_the_vae_sees_the_image_plus_scaled_noise(capture):
    noise = capture.added_noise
    assert noise.std().item() == pytest.approx(0.05, rel=0.05)
    assert abs(noise.mean().item()) < 0.005
    assert capture.clean_image.shape == (1, 3, TINY_HEIGHT, TINY_WIDTH)


def test_call_counts_follow_steps_and_decode_chunks(capture):
    assert capture.unet_calls == 2
    assert capture.vae_decoder_calls == math.ceil(10 / 8)
    assert capture.frames.shape == (1, 10, TINY_HEIGHT, TINY_WIDTH, 3)


def test_without_guidance_the_batch_has_one_half_and_hooks_are_removed(pipe, image):
    params = GenerationParameters(
        height=TINY_HEIGHT, width=TINY_WIDTH, num_frames=3, num_inference_steps=1, max_guidance_scale=1.0
    )
    capture = P.inspect_conditioning(pipe, image, params)
    assert not capture.classifier_free_guidance
    assert capture.unet_sample.shape[0] == capture.image_embeddings.shape[0] == 1
    with pytest.raises(ValueError, match="no unconditional half"):
        capture.half(capture.image_embeddings, conditional=False)
    assert not pipe.unet._forward_pre_hooks and not pipe.unet._forward_hooks
    assert not pipe.vae.encoder._forward_pre_hooks and "step" not in vars(pipe.scheduler)


def test_plot_conditioning_draws_both_panels(capture):
    import matplotlib

    matplotlib.use("Agg")
    figure = P.plot_conditioning(capture)
    guidance_axes, vector_axes = figure.axes
    assert np.allclose(guidance_axes.lines[0].get_ydata(), capture.guidance_scale.numpy())
    assert len(vector_axes.lines) == 3  # fps - 1, motion bucket, noise strength


def test_sweep_changes_one_parameter_and_motion_score_measures_change(pipe, image):
    base = GenerationParameters(
        height=TINY_HEIGHT, width=TINY_WIDTH, num_frames=3, num_inference_steps=1, decode_chunk_size=3
    )
    videos = P.sweep(pipe, image, base, "motion_bucket_id", [0, 255])
    assert list(videos) == [0, 255] and all(len(frames) == 3 for frames in videos.values())
    assert not np.array_equal(np.asarray(videos[0][1]), np.asarray(videos[255][1]))
    assert P.motion_score([image, image, image]) == 0.0
    assert P.motion_score(videos[0]) > 0
    with pytest.raises(ValueError, match="not a generation parameter"):
        P.sweep(pipe, image, base, "prompt", ["a cat"])


def test_the_guidance_error_rule_prevents_a_real_diffusers_crash(pipe, image):
    params = GenerationParameters(
        height=TINY_HEIGHT,
        width=TINY_WIDTH,
        num_frames=3,
        num_inference_steps=1,
        min_guidance_scale=2.0,
        max_guidance_scale=1.0,
    )
    with pytest.raises(ParameterError, match="crashes with a tensor size mismatch"):
        params.validate()
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):  # what diffusers does without the rule
        pipe(image, **params.pipeline_kwargs(), output_type="latent")


# ----------------------------------------------------------------------------------------------------
# The knobs travel as one mapping of field names, from the command line to the pipeline call.


def test_the_knobs_are_the_fields_a_run_may_set_and_a_batch_may_sweep():
    from dataclasses import fields

    from svd_learn import batch

    names = [f.name for f in fields(GenerationParameters)]
    assert list(P.KNOBS) == [n for n in names if n not in ("height", "width", "num_videos_per_prompt")]
    assert batch.SWEEPABLE == P.KNOBS


def test_every_knob_has_one_option_in_generate_and_batch_with_its_default():
    import typer

    from svd_learn import cli

    renamed = {"frames": "num_frames", "steps": "num_inference_steps"}
    renamed.update(min_guidance="min_guidance_scale", max_guidance="max_guidance_scale")
    defaults = GenerationParameters().to_dict()
    for command in ("generate", "batch"):
        options = {p.name: p.default for p in typer.main.get_command(cli.app).commands[command].params}
        knobs = {renamed.get(name, name): default for name, default in options.items()}
        assert {name: knobs[name] for name in P.KNOBS} == {name: defaults[name] for name in P.KNOBS}, command


def test_sweeps_and_the_inspector_seed_a_cpu_generator_as_the_capstone_does():
    # The same seed must give the same noise on every path: the capstone seeds torch.Generator("cpu").
    seen = []

    class Pipe:
        _execution_device = torch.device("cuda")  # a pipeline on a GPU

        def __call__(self, image, generator=None, **kwargs):
            seen.append(generator.device.type)
            return type("Output", (), {"frames": [["frame"]]})()

    P.sweep(Pipe(), Image.new("RGB", (64, 64)), GenerationParameters(), "seed", [1, 2])
    assert seen == ["cpu", "cpu"]
