"""The environment probe and the choice of model source."""

import pytest

from svd_learn import environment
from svd_learn.environment import Environment, choose_source


def make_env(cuda: bool, **kwargs) -> Environment:
    gpu = dict(gpu_name="Tesla T4", vram_gib=14.74, compute_capability=(7, 5), cuda_version="12.8") if cuda else {}
    return Environment(
        python="3.13.15",
        platform="Linux x86_64",
        in_colab=cuda,
        host_ram_gib=12.7,
        cuda_available=cuda,
        **gpu,
        **kwargs,
    )


def test_default_source_is_tiny_without_gpu(monkeypatch):
    monkeypatch.delenv(environment.SOURCE_VARIABLE, raising=False)
    choice = choose_source(make_env(cuda=False))
    assert choice.name == "tiny"
    assert "no CUDA GPU" in choice.reason


def test_default_source_is_pretrained_with_gpu(monkeypatch):
    monkeypatch.delenv(environment.SOURCE_VARIABLE, raising=False)
    assert choose_source(make_env(cuda=True)).name == "pretrained"


@pytest.mark.parametrize("value", ["tiny", "random", "pretrained", " Random "])
def test_environment_variable_overrides(monkeypatch, value):
    monkeypatch.setenv(environment.SOURCE_VARIABLE, value)
    choice = choose_source(make_env(cuda=True))
    assert choice.name == value.strip().lower()
    assert environment.SOURCE_VARIABLE in choice.reason


def test_unknown_source_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(environment.SOURCE_VARIABLE, "huge")
    with pytest.raises(ValueError, match="not a model source. Use one of: tiny, random, pretrained"):
        choose_source(make_env(cuda=False))


def test_t4_has_no_bf16_and_a100_has():
    assert not make_env(cuda=True).supports_bf16
    assert Environment("3.11", "Linux", False, 80, True, "A100", 80, (8, 0)).supports_bf16
    assert not make_env(cuda=False).supports_bf16


def test_probe_reads_this_machine():
    env = environment.probe()
    assert env.host_ram_gib > 0
    assert set(env.versions) == set(environment.LIBRARIES)
    assert env.versions["torch"] and env.versions["diffusers"]
    assert env.cuda_available == (env.gpu_name is not None)


def test_header_names_source_machine_and_versions():
    text = environment.header(make_env(cuda=True), environment.SourceChoice("pretrained", "a CUDA GPU is present"))
    lines = text.splitlines()
    assert lines[0] == "model source: pretrained (a CUDA GPU is present)"
    assert lines[1].startswith("machine: GPU Tesla T4, 14.7 GiB VRAM, compute capability 7.5; host RAM 12.7 GiB; Colab")
    assert lines[2].startswith("versions: Python 3.13.15")


def test_requirements_of_this_install_are_met():
    from importlib import metadata

    # From a checkout that was never installed there is nothing declared to check: that must not pass quietly.
    assert metadata.requires("svd-learn"), "svd-learn is not installed here: pip install -e '.[test]'"
    assert environment.requirement_problems() == []


def test_out_of_range_and_stale_versions_are_reported(monkeypatch):
    import sys
    import types

    monkeypatch.setattr(environment, "installed_version", lambda name: {"diffusers": "0.28.2"}.get(name, "99.0"))
    monkeypatch.setitem(sys.modules, "diffusers", types.SimpleNamespace(__version__="0.27.0"))
    problems = [str(p) for p in environment.requirement_problems()]
    assert {(p.kind, p.name) for p in environment.requirement_problems()} >= {
        ("out_of_range", "diffusers"),
        ("stale", "diffusers"),
    }
    assert any(p.startswith("diffusers 0.28.2 is installed; the course needs diffusers>=") for p in problems)
    assert any(
        "diffusers 0.27.0 is loaded in this process but 0.28.2 is installed: restart the runtime" in p for p in problems
    )
    with pytest.raises(RuntimeError, match="needs fixing"):
        environment.check_requirements()


def test_a_gpu_environment_reads_back_from_json_unchanged():
    """The run report stores the environment as JSON; on a GPU it must read back equal (a tuple would not)."""
    import json

    for env in (make_env(cuda=True), make_env(cuda=False)):
        assert json.loads(json.dumps(env.to_dict())) == env.to_dict()


def test_drive_cache_changes_nothing_outside_colab(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("HF_HOME", "/somewhere/hf")
    assert environment.keep_hub_cache_on_drive(False) == "Hub cache: /somewhere/hf"
    assert "Not on Colab" in environment.keep_hub_cache_on_drive(True)
    assert environment.os.environ["HF_HOME"] == "/somewhere/hf"


def test_drive_cache_on_colab_refuses_once_huggingface_hub_is_imported(monkeypatch):
    import huggingface_hub  # noqa: F401  (imported, as after any earlier cell that used it)

    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-20260819")
    with pytest.raises(RuntimeError, match="Restart the session"):
        environment.keep_hub_cache_on_drive(True)
