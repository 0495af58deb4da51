"""Lesson 4's modules: plans, the planner (against the committed GPU measurements), memory settings, and the
measured call (tracing and measuring on a CPU)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from svd_learn import measure, memory, models, planner, plans
from svd_learn.cli import app
from svd_learn.parameters import GenerationParameters

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BUDGETS = [8, 12, 14.74, 16, 24, 40, 80]
COLAB_HOST_GIB = 12.7


def load_calibrate_script():
    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "benchmarks" / "calibrate.py")
    calibrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibrate)
    return calibrate


calibrate = load_calibrate_script()


def all_runs() -> list[dict]:
    return calibrate.load_runs()


@pytest.fixture(scope="module")
def tiny_pipe_factory():
    folder = models.tiny_pipeline_folder()

    def make():
        pipe = models.load_pipeline(folder, device="cpu")
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return make


def image(size=64):
    return Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((size, size))


CALL = GenerationParameters(num_frames=3, height=64, width=64, num_inference_steps=2)  # seconds on a CPU


# ---------------------------------------------------------------------------------------------------- plans


def test_plans_the_capstone_names_exist_with_their_settings():
    for name in (
        "gpu-decode8",
        "gpu-decode2",
        "gpu-chunked-decode2",
        "model-offload-chunked-decode2",
        "group-offload-chunked-decode2",
        "sequential-offload-chunked-decode1",
        "seed-recipe",
        "docs-recipe",
    ):
        assert plans.PLANS[name].name == name
    docs = plans.PLANS["docs-recipe"]
    assert (docs.placement, docs.forward_chunking, docs.decode_chunk_size) == ("model_offload", True, 2)
    seed = plans.PLANS["seed-recipe"]
    assert (seed.placement, seed.attention_slicing, seed.decode_chunk_size >= 25) == ("model_offload", True, True)


def test_a_plan_with_a_wrong_placement_or_chunk_says_what_is_allowed():
    with pytest.raises(ValueError, match="Unknown placement 'disk'"):
        plans.Plan("x", "disk", False, 2)
    with pytest.raises(ValueError, match="at least 1"):
        plans.Plan("x", "gpu", False, 0)
    with pytest.raises(ValueError, match="Plans: auto, gpu-decode8"):
        plans.get_plan("gpu-fast")


def test_plans_that_another_plan_beats_in_everything_are_never_tried():
    assert planner.dominated_by("group-offload-chunked-decode2") == "model-offload-chunked-decode2"
    # gpu-decode2 is as fast within 5% with a lower peak, but decodes fewer frames at once: that changes the video
    assert planner.dominated_by("gpu-decode8") is None and "gpu-decode8" in planner.fallback_order()
    assert (
        planner.dominated_by("gpu-chunked-decode2") is None
        and planner.dominated_by("sequential-offload-chunked-decode1") is None
    )
    assert "group-offload-chunked-decode2" not in planner.fallback_order()
    why = {r.plan: r.why for r in planner.choose_plan(12, COLAB_HOST_GIB).alternatives}
    assert why["group-offload-chunked-decode2"].startswith("model-offload-chunked-decode2 needs no more")


def test_fallback_order_goes_down_in_measured_peak_and_holds_no_baseline():
    order = planner.fallback_order()
    assert not any(plans.PLANS[name].baseline for name in order)
    peaks = [planner.predict_peak_gib(name) for name in order]
    assert None not in peaks and peaks == sorted(peaks, reverse=True)
    assert order[0].startswith("gpu-") and order[-1].startswith("sequential-offload")


# ---------------------------------------------------------------------------------------------------- planner


@pytest.mark.parametrize("vram", BUDGETS)
def test_the_planner_picks_a_measured_plan_that_fits_each_gpu(vram):
    choice = planner.choose_plan(vram, COLAB_HOST_GIB)
    usable = vram - planner.read_calibration()["gpu_reserve_gib"]
    assert choice.fits and not choice.plan.baseline
    assert choice.predicted_peak_gib <= usable
    assert choice.plan.name in choice.explain() and "usable" in choice.reason
    # Every plan it passed over is explained.
    candidates = {name for name, plan in plans.PLANS.items() if not plan.baseline}
    assert {r.plan for r in choice.alternatives} == candidates - {choice.plan.name}


def test_the_planner_answers_for_each_size_as_measured():
    chosen = {vram: planner.choose_plan(vram, COLAB_HOST_GIB).plan.name for vram in BUDGETS}
    assert chosen[8] == "sequential-offload-chunked-decode1"  # 8.6 GiB offload peak does not fit 7.3 usable
    assert chosen[12] == "gpu-chunked-decode2"
    assert (
        chosen[14.74] == "gpu-decode2"
    )  # all on the GPU: faster than the docs recipe; 8 frames at once lack the margin
    assert chosen[16] == "gpu-decode8"  # with room to spare, 8 frames decoded at once
    assert all(plans.PLANS[chosen[v]].placement == "gpu" for v in (14.74, 16, 24, 40, 80))


def test_among_equally_fast_plans_the_largest_decode_chunk_that_fits_with_the_margin_wins():
    calibration = planner.read_calibration()
    margin, reserve = calibration["larger_chunk_margin_gib"], calibration["gpu_reserve_gib"]
    decode8 = calibration["plans"]["gpu-decode8"]["peak_reserved_gib"]
    roomy = planner.choose_plan(16, COLAB_HOST_GIB)
    assert roomy.plan.name == "gpu-decode8" and "largest decode chunk that fits with 1.1 GiB to spare" in roomy.reason
    assert "decodes fewer frames at once (2 instead of 8" in {r.plan: r.why for r in roomy.alternatives}["gpu-decode2"]
    # On a T4, decode 8 fits a fresh process but not with the margin a notebook needs: the smaller chunk is taken.
    t4 = planner.choose_plan(memory.T4_GIB, COLAB_HOST_GIB)
    assert decode8 <= memory.T4_SAFE_PEAK_GIB < decode8 + margin
    assert t4.plan.name == "gpu-decode2" and t4.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB
    assert "only taken with 1.1 GiB to spare" in {r.plan: r.why for r in t4.alternatives}["gpu-decode8"]
    # The margin decides it: just enough room for it, and decode 8 wins again.
    assert planner.choose_plan(decode8 + margin + reserve + 0.01, COLAB_HOST_GIB).plan.name == "gpu-decode8"
    assert planner.choose_plan(decode8 + margin + reserve - 0.01, COLAB_HOST_GIB).plan.name == "gpu-decode2"
    # On a calibration where the two tie, the larger chunk wins whatever its peak; out of the tie, the faster.
    import copy

    calibration = copy.deepcopy(calibration)
    calibration["plans"]["gpu-decode8"]["seconds"] = calibration["plans"]["gpu-decode2"]["seconds"] * 1.04
    assert planner.choose_plan(24, COLAB_HOST_GIB, calibration=calibration).plan.name == "gpu-decode8"
    calibration["plans"]["gpu-decode8"]["seconds"] = calibration["plans"]["gpu-decode2"]["seconds"] * 1.10  # not a tie
    assert planner.choose_plan(24, COLAB_HOST_GIB, calibration=calibration).plan.name == "gpu-decode2"


def test_without_a_gpu_the_planner_says_cpu_and_why():
    for vram in (None, 0):
        choice = planner.choose_plan(vram, 24)
        assert choice.plan.placement == "cpu" and choice.predicted_peak_gib is None
        assert "no CUDA GPU" in choice.reason


def test_a_gpu_too_small_for_anything_gets_the_least_memory_plan_and_a_warning():
    choice = planner.choose_plan(4, COLAB_HOST_GIB)
    assert not choice.fits and choice.plan.name == planner.fallback_order()[-1]
    assert any("fewer frames" in w for w in choice.warnings)


def test_little_host_ram_rules_out_offloading_plans():
    # Offload plans keep every weight in host RAM (6 GiB measured); everything-on-GPU needs 3.8.
    roomy = planner.choose_plan(12, COLAB_HOST_GIB)
    tight = planner.choose_plan(12, 7.0)
    assert roomy.plan.name == tight.plan.name == "gpu-chunked-decode2"
    rejected = {r.plan: r.why for r in tight.alternatives}
    assert "host RAM" in rejected["model-offload-chunked-decode2"]


def test_predictions_equal_the_measurement_at_the_reference_and_scale_with_frames():
    calibration = planner.read_calibration()
    for name, entry in calibration["plans"].items():
        assert planner.predict_peak_gib(name) == pytest.approx(entry["peak_reserved_gib"])
    assert planner.predict_peak_gib("gpu-decode2", num_frames=14) < planner.predict_peak_gib("gpu-decode2")
    assert planner.predict_peak_gib("gpu-decode2", height=768, width=1344) > planner.predict_peak_gib("gpu-decode2")
    assert planner.predict_peak_gib("seed-recipe") is None  # never calibrated: it does not fit a T4


def test_predictions_for_the_14_frame_model_are_on_the_safe_side_of_the_measurement():
    measured = [r for r in all_runs() if r["checkpoint"] == "svd" and r["steps"] == 25 and not r["oom"]]
    assert measured, "the committed results hold 14-frame runs"
    for run in measured:
        predicted = planner.predict_peak_gib(run["plan"], run["frames"], run["height"], run["width"])
        assert run["peak_reserved_gib"] <= predicted <= run["peak_reserved_gib"] * 1.1, run["plan"]


def test_the_unknown_checkpoint_error_lists_the_names():
    with pytest.raises(ValueError, match="Known checkpoints"):
        planner.choose_plan(16, 16, checkpoint="svd-xxl")


def test_svd_learn_plan_explains_its_choice():
    result = CliRunner().invoke(app, ["plan", "--vram", "14.74", "--host-ram", "12.7"])
    assert result.exit_code == 0, result.output
    assert (
        "plan: gpu-decode" in result.output
        and "considered:" in result.output
        and "calibration: measured on" in result.output
    )
    as_json = json.loads(CliRunner().invoke(app, ["plan", "--vram", "8", "--host-ram", "12.7", "--json"]).output)
    assert as_json["plan"]["name"] == "sequential-offload-chunked-decode1" and as_json["fits"]


# ---------------------------------------------------------------------------------------------------- data


def test_the_calibration_is_what_calibrate_py_makes_from_the_committed_results():
    runs = calibrate.load_runs()
    assert {run["source"] for run in runs} == {"h100-main.json", "h100-planner.json"}
    assert calibrate.calibrate(runs) == planner.read_calibration()
    assert calibrate.lesson_data(runs) == planner.read_benchmarks()


def test_every_run_has_the_fields_the_issue_asks_for():
    fields = {
        "plan",
        "checkpoint",
        "frames",
        "height",
        "width",
        "steps",
        "cap_gib",
        "peak_allocated_gib",
        "peak_reserved_gib",
        "host_rss_gib",
        "oom",
        "machine",
    }
    for run in all_runs():
        assert fields <= run.keys(), run["plan"]
        assert {"gpu", "torch", "diffusers"} <= run["machine"].keys()
        assert run["oom"] or "error" not in run, run.get("error")  # nothing failed except by running out of memory


def test_done_criteria_hold_in_one_t4_budget_run():
    runs = json.loads((RESULTS / "h100-planner.json").read_text())
    t4 = [
        r
        for r in runs
        if r["cap_gib"] == memory.T4_GIB
        and r["checkpoint"] == "svd-xt"
        and r["steps"] == 25
        and (r["frames"], r["height"], r["width"]) == (25, 576, 1024)
    ]
    chosen = [r for r in t4 if r.get("chosen_by_planner")]
    assert len(chosen) == 1 and chosen[0]["plan"] == "gpu-decode2"  # the planner of that run took the lowest peak
    (docs,) = [r for r in t4 if r["plan"] == "docs-recipe"]
    (seed,) = [r for r in t4 if r["plan"] == "seed-recipe"]
    # Today's planner, measured in either run, loaded as plans load now.
    today = planner.choose_plan(memory.T4_GIB, COLAB_HOST_GIB).plan.name
    measured = [
        r
        for name in ("h100-main.json", "h100-planner.json")
        for r in json.loads((RESULTS / name).read_text())
        if r["plan"] == today
        and r["cap_gib"] == memory.T4_GIB
        and not r.get("load_kwargs")
        and not r.get("warm_up")
        and (r["frames"], r["height"], r["width"], r["steps"]) == (25, 576, 1024, 25)
    ]
    assert measured
    for chosen in measured:
        assert not chosen["oom"] and chosen["frames_finite"]
        assert chosen["peak_reserved_gib"] <= memory.T4_SAFE_PEAK_GIB and chosen["host_rss_gib"] <= 6.0
        assert docs["seconds"] / chosen["seconds"] >= 1.25
    assert seed["oom"] and "VAE decode" in seed["error_at"]


# ---------------------------------------------------------------------------------------------------- on a CPU


def test_apply_plan_chunks_the_unet_when_the_plan_says_so(tiny_pipe_factory):
    pipe = tiny_pipe_factory()
    plans.apply_plan(pipe, "gpu-chunked-decode2", "cpu")
    chunked = [m for m in pipe.unet.modules() if hasattr(m, "_chunk_size")]
    assert chunked and all(m._chunk_size == 1 for m in chunked)


def test_attention_slicing_changes_no_attention_processor(tiny_pipe_factory):
    pipe = tiny_pipe_factory()
    before = dict(pipe.unet.attn_processors)
    plans.apply_plan(pipe, "seed-recipe", "cpu")  # model offload on device cpu works; attention slicing is on
    after = pipe.unet.attn_processors
    assert before.keys() == after.keys() and all(before[k] is after[k] for k in before)
    assert not hasattr(pipe.unet, "set_attention_slice") and not hasattr(pipe.vae, "set_attention_slice")


def test_the_measured_call_on_cpu_traces_each_stage_in_order(tiny_pipe_factory):
    pipe = tiny_pipe_factory()
    plans.apply_plan(pipe, "cpu", "cpu")
    call = measure.measure_call(pipe, image(), CALL, device="cpu", output_type="pt", trace=True)
    measurement = call.measurement
    assert [stage for stage, _ in measurement.placement] == [
        "image_encoder",
        "vae encode",
        "unet",
        "vae decode",
        "after the call",
    ]
    assert all(place == {"image_encoder": "cpu", "unet": "cpu", "vae": "cpu"} for _, place in measurement.placement)
    assert measurement.peak_reserved_gib is None and measurement.host_rss_gib > 0 and measurement.frames_finite
    assert measurement.seconds >= measurement.decode_seconds > 0


def test_an_error_in_the_call_says_at_which_stage(tiny_pipe_factory):
    pipe = tiny_pipe_factory()

    def fail(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 7.03 GiB")

    pipe.vae.decoder.forward = fail
    with pytest.raises(torch.OutOfMemoryError) as error:
        measure.measure_call(pipe, image(), CALL, device="cpu")
    assert error.value.__notes__ == ["in the VAE decode, after 2 of 2 steps"]


def test_out_of_memory_is_recognised_in_both_forms_and_nothing_else():
    assert measure.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert measure.is_out_of_memory(RuntimeError("CUDA error: out of memory"))  # from a kernel
    assert not measure.is_out_of_memory(RuntimeError("Expected all tensors to be on the same device"))
    assert not measure.is_out_of_memory(ValueError("decode_chunk_size must be at least 1"))


def test_expandable_segments_are_set_before_cuda_and_refused_after(monkeypatch):
    monkeypatch.delenv(memory.ALLOC_CONF_VARIABLE, raising=False)
    monkeypatch.delenv("PYTORCH_ALLOC_CONF", raising=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(RuntimeError, match="Restart the runtime"):
        memory.enable_expandable_segments()
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setenv(memory.ALLOC_CONF_VARIABLE, "max_split_size_mb:512")
    memory.enable_expandable_segments()
    assert memory.expandable_segments_enabled()
    import os

    assert os.environ[memory.ALLOC_CONF_VARIABLE] == "max_split_size_mb:512,expandable_segments:True"
    monkeypatch.setenv(memory.ALLOC_CONF_VARIABLE, "expandable_segments:False")  # a choice of your own is kept
    memory.enable_expandable_segments()
    assert os.environ[memory.ALLOC_CONF_VARIABLE] == "expandable_segments:False"
    assert not memory.expandable_segments_enabled()


def test_host_peak_is_this_process_own():
    now = memory.host_memory_gib()
    assert now["VmHWM"] >= now["VmRSS"] > 0 and memory.host_peak_rss_gib() == pytest.approx(now["VmHWM"], abs=0.05)


def test_emulating_a_t4_without_a_gpu_says_so():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        with memory.emulate_t4():
            pass


# ---------------------------------------------------------------------------------------------------- a newcomer's inputs


@pytest.mark.parametrize(
    "arguments, phrase",
    [
        (["--checkpoint", "sdxl"], "Unknown checkpoint 'sdxl'"),
        (["--vram", "-3"], "--vram -3 is not a memory size"),
        (["--vram", "nan"], "--vram nan is not a memory size"),
        (["--vram", "inf"], "--vram inf is not a memory size"),
        (["--host-ram", "0"], "--host-ram 0 is not a memory size"),
        (["--frames", "-5"], "num_frames=-5: must be at least 1"),
        (["--frames", "0"], "num_frames=0: must be at least 1"),  # not silently the checkpoint's 25
        (["--height", "0", "--width", "0"], "height=0: must be at least 8"),
        (["--height", "500"], "height=500: must be a multiple of 8"),
        # Below what the CUDA context takes, nothing of SVD fits: the smallest GPU that would is said instead.
        (["--vram", "0.5"], "--vram 0.5: the CUDA context and its libraries take about 0.74 GiB"),
        (["--vram", "0.5"], "The smallest GPU predicted to fit 25 frames at 576x1024 is 5.4 GiB"),
    ],
)
def test_svd_learn_plan_refuses_impossible_inputs_in_one_line(arguments, phrase):
    result = CliRunner().invoke(app, ["plan", "--vram", "14.74", "--host-ram", "12.7", *arguments])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("error: ") and phrase in result.output, result.output
    assert "fits the" not in result.output  # no answer for an impossible question


@pytest.mark.parametrize(
    "arguments, limits",
    [
        (["--frames", "1000"], ["peaks at 180.1 GiB > 14.0 GiB usable", "fits instead: 77 frames at this size"]),
        (["--host-ram", "4"], ["host RAM: 4 GiB leaves 2.0 GiB usable", "fits instead: at least 5.8 GiB of host RAM"]),
    ],
)
def test_svd_learn_plan_says_plainly_when_nothing_fits_and_recommends_nothing(arguments, limits):
    result = CliRunner().invoke(app, ["plan", "--vram", "14.74", "--host-ram", "12.7", *arguments])
    assert result.exit_code == 1, result.output
    assert "no plan fits: every plan is predicted to need more than this machine has." in result.output
    assert all(limit in result.output for limit in limits), result.output
    assert "try this one" not in result.output and "\nplan: " not in result.output  # no plan recommended
    as_json = CliRunner().invoke(app, ["plan", "--vram", "14.74", "--host-ram", "12.7", *arguments, "--json"])
    assert as_json.exit_code == 1 and not json.loads(as_json.output)["fits"]
    assert "try this one" not in as_json.output


def test_the_planner_names_the_constraint_that_binds():
    # 8 GiB of VRAM would fit sequential offload, but 2 GiB of host RAM fits nothing: host RAM is the limit.
    choice = planner.choose_plan(8, 2)
    assert not choice.fits
    warning = next(w for w in choice.warnings if "no plan is predicted to fit" in w)
    assert "host RAM" in warning and "host RAM" in choice.reason
    assert all("host RAM" in r.why for r in choice.alternatives if "needs no more" not in r.why)
    # With plenty of host RAM and too little VRAM, the GPU is named, and host RAM is not blamed.
    small_gpu = planner.choose_plan(4, 64)
    warning = next(w for w in small_gpu.warnings if "no plan is predicted to fit" in w)
    assert "GPU memory" in warning and "host RAM" not in warning


def test_svd_learn_plan_lists_every_plan_generate_accepts():
    result = CliRunner().invoke(app, ["plan", "--vram", "14.74", "--host-ram", "12.7"])
    listed = next(
        line for line in result.output.splitlines() if line.startswith("plans for `svd-learn generate --plan`")
    )
    assert all(name in listed for name in plans.PLANS)
    with pytest.raises(ValueError) as raised:
        plans.get_plan("turbo")
    assert all(name in str(raised.value) for name in plans.PLANS)  # the same list in the error


def test_svd_learn_plan_prints_the_measured_time_beside_the_t4_estimate():
    result = CliRunner().invoke(app, ["plan", "--vram", "14.74", "--host-ram", "12.7"])
    (line,) = [line for line in result.output.splitlines() if line.startswith("time for 25 steps:")]
    calibration = planner.read_calibration()
    assert f"{calibration['plans']['gpu-decode8']['seconds']:.1f} s measured on {calibration['machine']['gpu']}" in line
    minutes = float(re.search(r"estimated on a T4: about ([0-9.]+) min \(\d+-\d+ min; a model", line)[1])
    assert 6 <= minutes <= 10.5  # one 25-step SVD-XT video on the T4 plan (issue 21), from the calibrated model
    offload = CliRunner().invoke(app, ["plan", "--vram", "10", "--host-ram", "12.7", "--json"])
    assert "over PCIe 3.0 x16" in json.loads(offload.output)["time"]  # model offload moves every weight twice a call
    cpu = CliRunner().invoke(app, ["plan", "--vram", "0", "--host-ram", "12.7"])
    assert "estimated on a T4" not in cpu.output


def test_the_calibration_gpu_time_is_not_presented_as_the_users():
    reason = planner.choose_plan(memory.T4_GIB, COLAB_HOST_GIB).reason
    assert "calibration GPU" in reason and "your GPU's time differs" in reason


def test_choose_plan_uses_the_calibration_it_is_given():
    import copy

    calibration = copy.deepcopy(planner.read_calibration())
    chunked = calibration["plans"]["gpu-chunked-decode2"]
    chunked["peak_reserved_gib"] -= 9  # now the least GPU memory of all (and too slow to beat any other plan)
    chunked["seconds"] = 1000
    order = planner.fallback_order(calibration)
    assert order[-1] == "gpu-chunked-decode2" != planner.fallback_order()[-1]
    choice = planner.choose_plan(0.5, 64, calibration=calibration)  # nothing fits: the least GPU memory, as given
    assert not choice.fits and choice.plan.name == "gpu-chunked-decode2"


def test_forward_chunking_leaves_the_frames_unchanged(tiny_pipe_factory):
    def frames(plan):
        pipe = tiny_pipe_factory()
        plans.apply_plan(pipe, plan, "cpu")
        return pipe(
            image(),
            num_frames=3,
            height=64,
            width=64,
            num_inference_steps=2,
            decode_chunk_size=2,
            generator=torch.Generator("cpu").manual_seed(0),
            output_type="pt",
        ).frames

    plain, chunked = frames("gpu-decode2"), frames("gpu-chunked-decode2")
    assert torch.allclose(plain, chunked, atol=1e-5)  # the same numbers, computed one sample at a time


@pytest.mark.parametrize("plan", ["group-offload-chunked-decode2", "sequential-offload-chunked-decode1"])
def test_apply_plan_offload_branches_attach_their_hooks(tiny_pipe_factory, plan):
    import inspect

    from diffusers.hooks import group_offloading

    if (
        plan.startswith("group")
        and torch.accelerator.current_accelerator() is None
        and "current_accelerator().type" in inspect.getsource(group_offloading.ModuleGroup.__init__)
    ):
        pytest.skip("this diffusers' group offloading needs an accelerator (it reads current_accelerator().type)")
    pipe = tiny_pipe_factory()
    plans.apply_plan(pipe, plan, "cpu")
    hooked = [
        m for m in pipe.unet.modules() if getattr(m, "_diffusers_hook", None) is not None or hasattr(m, "_hf_hook")
    ]
    assert hooked, f"{plan} attached no offload hook to the UNet"
    if plan.startswith("sequential"):
        assert pipe.unet.device.type == "meta" or any(p.device.type == "meta" for p in pipe.unet.parameters())
        return  # (a sequential-offload call needs a GPU: accelerate cannot re-create the weights on a CPU device)
    assert pipe.image_encoder.device.type == pipe.vae.device.type == "cpu"  # the small networks stay put
    frames = pipe(
        image(),
        num_frames=3,
        height=64,
        width=64,
        num_inference_steps=1,
        decode_chunk_size=1,
        generator=torch.Generator("cpu").manual_seed(0),
        output_type="pt",
    ).frames
    assert frames.shape[1] == 3 and torch.isfinite(frames).all()


def test_the_readmes_t4_recipe_is_the_planners_t4_choice():
    """README.md and README.es.md print the T4 recipe as diffusers code: it must be what the planner chooses."""
    from svd_learn import planner

    chosen = planner.choose_plan(14.74, 12.7)
    assert chosen.plan.placement == "gpu" and not chosen.plan.forward_chunking
    for readme in ("README.md", "README.es.md"):
        text = (Path(__file__).resolve().parent.parent / readme).read_text()
        assert 'pipe.to("cuda")' in text and f"decode_chunk_size={chosen.plan.decode_chunk_size}," in text, readme
        assert f"{chosen.predicted_peak_gib:.1f} GiB" in text and "expandable_segments:True" in text, readme
