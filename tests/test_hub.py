"""The local Hub (svd_learn.hub): the course repo's history, a real server, and that it never outlives us.

huggingface_hub was imported with the default endpoint here, so every call passes `endpoint=`."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from svd_learn import hub


def gone(pid: int, within_s: float = 10.0) -> bool:
    """True once no live process has this pid (a zombie counts as gone: it runs nothing)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def template() -> Path:
    return hub.course_repo_template()


@pytest.fixture(scope="module")
def server(template):
    with hub.local_hub() as running:
        yield running


def test_course_repo_history(template):
    refs = hub.repo_refs(template)
    assert set(refs) == {"main", "dev", hub.TAG}
    files = {ref: set(hub._git(template, "ls-tree", "-r", "--name-only", ref).splitlines()) for ref in refs}
    fp16 = {name for name in files["main"] if name.endswith(".fp16.safetensors")}
    assert fp16 == {
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "image_encoder/model.fp16.safetensors",
    }
    assert files[hub.TAG] == files["main"] - fp16  # the tag is the full-precision-only commit
    assert hub._git(template, "rev-parse", "main~1") == refs[hub.TAG]
    assert hub._git(template, "rev-parse", "dev~1") == refs["main"]  # dev is one commit ahead of main
    # weights are Git LFS pointers, with the object in .git/lfs, as on the Hub
    pointer = hub._git(template, "show", "main:unet/diffusion_pytorch_model.fp16.safetensors")
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1\noid sha256:")
    oid = pointer.split("sha256:")[1].split()[0]
    assert (template / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).stat().st_size > 100_000


def test_commit_hashes_are_deterministic(template, tmp_path):
    rebuilt = hub.build_course_repo(tmp_path / "again")
    assert hub.repo_refs(rebuilt) == hub.repo_refs(template)


def test_server_serves_revisions_and_logs_requests(server, template, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    refs = hub.repo_refs(template)
    server.clear_log()
    path = hf_hub_download(
        hub.COURSE_REPO, "model_index.json", revision=hub.TAG, endpoint=server.endpoint, cache_dir=tmp_path
    )
    assert f"/snapshots/{refs[hub.TAG]}/" in path
    assert server.requests()[0] == ("HEAD", f"/{hub.COURSE_REPO}/resolve/{hub.TAG}/model_index.json", 200)
    assert f"GET  200 /{hub.COURSE_REPO}/resolve/{hub.TAG}/model_index.json" in server.request_log()

    folder = snapshot_download(hub.COURSE_REPO, allow_patterns=["unet/*"], endpoint=server.endpoint, cache_dir=tmp_path)
    assert sorted(p.name for p in Path(folder, "unet").iterdir()) == [
        "config.json",
        "diffusion_pytorch_model.fp16.safetensors",
        "diffusion_pytorch_model.safetensors",
    ]
    assert not Path(folder, "vae").exists()
    branches = {
        b.name: b.target_commit for b in HfApi(endpoint=server.endpoint).list_repo_refs(hub.COURSE_REPO).branches
    }
    assert branches == {"main": refs["main"], "dev": refs["dev"]}


def test_repo_info_without_revision_is_the_default_branch(server, template):
    # The Hub answers repo info for the default branch; olah alone answers 401 offline (hub.py fixes it).
    from huggingface_hub import HfApi

    info = HfApi(endpoint=server.endpoint).model_info(hub.COURSE_REPO)
    assert info.sha == hub.repo_refs(template)["main"]


def test_a_moved_branch_is_served_at_once(template, tmp_path):
    from huggingface_hub import hf_hub_download

    refs = hub.repo_refs(template)
    with hub.local_hub() as server:
        assert hub.fast_forward(server.repo_path, "main", to="dev") == refs["dev"]
        path = hf_hub_download(
            hub.COURSE_REPO, "scheduler/scheduler_config.json", endpoint=server.endpoint, cache_dir=tmp_path
        )
        assert f"/snapshots/{refs['dev']}/" in path and '"timestep_spacing": "trailing"' in Path(path).read_text()
    assert hub.repo_refs(template) == refs  # the template is untouched


def test_starts_fast_and_stops_completely():
    hub.server_environment()  # made once per course home (seconds): not part of a start
    started = time.perf_counter()
    server = hub.start()
    seconds = time.perf_counter() - started
    pid, folder = server.process.pid, server.folder
    assert server.is_running() and seconds < 5, f"started in {seconds:.1f} s"
    server.stop()
    server.stop()  # idempotent
    assert gone(pid) and not folder.exists()


def test_stops_when_the_block_fails():
    with pytest.raises(ZeroDivisionError):
        with hub.local_hub() as server:
            pid = server.process.pid
            raise ZeroDivisionError("an error inside the with block")
    assert gone(pid)


def test_port_already_taken(server):
    with pytest.raises(
        hub.PortInUseError, match=rf"Port {server.port} on 127.0.0.1 is already in use.*leave port= out"
    ):
        hub.start(port=server.port)


@pytest.mark.parametrize("port", [0, 70000, "8080"])
def test_bad_port(port):
    with pytest.raises(ValueError, match="port must be a whole number from 1 to 65535"):
        hub.start(port=port)


def test_repo_that_is_not_a_git_repository(tmp_path):
    with pytest.raises(ValueError, match="is not a git repository"):
        hub.start(repo=tmp_path)


@pytest.mark.parametrize(
    "ending", ["sys.exit(0)", "os.kill(os.getpid(), signal.SIGKILL)"], ids=["normal-exit", "killed"]
)
def test_server_never_outlives_its_process(ending, template):
    # A normal exit without stop() runs atexit; a killed process runs nothing: the server watches its parent.
    script = textwrap.dedent(f"""
        import os, signal, sys
        from svd_learn import hub
        server = hub.start(repo={str(template)!r})
        print(server.process.pid, flush=True)
        {ending}
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pid = int(result.stdout.split()[0])
    assert gone(pid), f"the server (pid {pid}) outlived its parent"


# --- the local Hub's own environment ----------------------------------------------------------------------


def test_the_server_runs_from_its_own_isolated_environment(server):
    from svd_learn.environment import course_home

    python = hub.server_environment()
    assert python.is_relative_to(course_home() / hub.SERVER_ENVIRONMENT)
    assert server.process.args[:3] == [str(python), "-I", "-u"]
    assert server.process.args[3] == str(hub.SERVER_PROGRAM)
    # isolated: it sees olah, and nothing of the environment that started it (not even svd_learn)
    probe = "import importlib.util as u; print(bool(u.find_spec('olah')), bool(u.find_spec('svd_learn')))"
    seen = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, env={"PYTHONPATH": str(Path.cwd())}
    )
    assert seen.stdout.split() == ["True", "False"], seen.stderr


def test_repo_info_without_revision_is_rewritten_to_main():
    import asyncio

    from svd_learn import hub_server

    seen = []

    async def app(scope, receive, send):
        seen.append((scope["path"], scope["raw_path"]))

    middleware = hub_server.DefaultBranchInfo(app)
    for path in ("/api/models/org/name", "/api/models/org/name/revision/v1.0", "/org/name/resolve/main/a.json"):
        asyncio.run(middleware({"type": "http", "path": path, "raw_path": path.encode()}, None, None))
    assert [path for path, _ in seen] == [
        "/api/models/org/name/revision/main",
        "/api/models/org/name/revision/v1.0",
        "/org/name/resolve/main/a.json",
    ]
    assert seen[0][1] == b"/api/models/org/name/revision/main"


def test_the_environment_is_made_once_and_again_when_its_requirements_change(monkeypatch, tmp_path):
    monkeypatch.setenv("SVD_LEARN_HOME", str(tmp_path))
    made = []

    def create(folder, echo):  # stands in for uv / venv + pip
        made.append(folder)
        hub._environment_python(folder).parent.mkdir(parents=True, exist_ok=True)
        hub._environment_python(folder).touch()
        return "uv"

    monkeypatch.setattr(hub, "_create_server_environment", create)
    lines = []
    first = hub.server_environment(echo=lines.append)
    assert hub.server_environment(echo=lines.append) == first and len(made) == 1
    assert lines == ["the local Hub's own environment is ready (uv, 0 s); later starts reuse it"]
    monkeypatch.setattr(hub, "server_requirements", lambda: ["olah>=0.6"])
    hub.server_environment(echo=lines.append)
    assert made == [tmp_path / "olah-env"] * 2


@pytest.mark.slow  # creates a virtual environment
@pytest.mark.parametrize("use_uv", [True, False], ids=["uv", "venv-pip"])
def test_a_failed_creation_says_what_to_do_and_leaves_nothing(use_uv, monkeypatch, tmp_path):
    from svd_learn import lab

    if use_uv and lab.find_uv() is None:
        pytest.skip("uv is not installed here")
    if not use_uv:
        monkeypatch.setattr(lab, "find_uv", lambda: None)
    empty = tmp_path / "wheels"
    empty.mkdir()
    monkeypatch.setenv("SVD_LEARN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # a wheel folder that lacks olah, and nothing else
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    lines = []
    with pytest.raises(
        RuntimeError,
        match=r"(?s)runs olah from its own environment, and creating it failed:.*"
        r"do not hold olah>=0.5.4.*Check the network \(or the wheel folder in PIP_FIND_LINKS\)",
    ):
        hub.server_environment(echo=lines.append)
    assert lines[0].startswith("creating the local Hub's own environment (once): olah>=0.5.4 with ")
    assert any("uv would make this faster" in line for line in lines) == (not use_uv)
    assert not (tmp_path / "home" / hub.SERVER_ENVIRONMENT).exists()


@pytest.mark.slow  # creates a virtual environment
def test_an_environment_without_olah_is_refused(monkeypatch, tmp_path):
    from svd_learn import lab

    monkeypatch.setenv("SVD_LEARN_HOME", str(tmp_path))
    monkeypatch.setattr(lab.Installer, "install", lambda self, python, pins: None)  # installs nothing
    with pytest.raises(
        RuntimeError, match="was created, but olah does not import there: ModuleNotFoundError: No module named 'olah'"
    ):
        hub.server_environment(echo=lambda line: None)
    assert not (tmp_path / hub.SERVER_ENVIRONMENT).exists()
