"""Lesson 3: a real Hub-compatible server on 127.0.0.1, serving a course model repo with history.

Nothing in CI can reach huggingface.co, and a lesson about downloads must still make real downloads.
So the course runs olah (a self-hosted Hub mirror, from PyPI) in offline mode on this machine. olah runs
from its own small environment ($SVD_LEARN_HOME/olah-env, created on first start, see server_environment),
never from the lesson's: it needs newer huggingface_hub, fastapi and pydantic than older Colab images ship.
It serves one model repo, built here as a git repository the way model repos on the Hub are:

    commit 1  "Add full-precision weights"   model_index.json, configs, *.safetensors (fp32)   tag v1.0
    commit 2  "Add the fp16 variant"         + *.fp16.safetensors                              branch main
    commit 3  "Try trailing timestep spacing" scheduler config edited                          branch dev

Weights are tiny (svd_learn.models), the layout is the real SVD-XT's, and `*.safetensors` files are
stored with Git LFS, as on the Hub. Commits have fixed authors and dates, so their hashes only change
when the files do.

    with hub.local_hub() as server:           # free port, starts in about 2 s (the first time: + its environment), always stopped
        hf_hub_download(hub.COURSE_REPO, "model_index.json", endpoint=server.endpoint)
        print(server.request_log())            # what the client asked for

huggingface_hub reads HF_ENDPOINT once, when it is imported. To point diffusers at this server without
`endpoint=` arguments, pick the port first, set HF_ENDPOINT, then start (which imports diffusers):

    port = hub.free_port(); os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"; server = hub.start(port)

So this module imports svd_learn.models (torch, diffusers) and svd_learn.lab only inside the functions that use them.
"""

from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from filelock import FileLock  # huggingface_hub's own dependency: one builder at a time

from svd_learn.environment import course_home
from svd_learn.errors import UserError

COURSE_REPO = "svd-learn/tiny-svd-xt"  # the repo id the local Hub serves
TAG = "v1.0"  # on the first commit: full-precision weights only
DEV_BRANCH = "dev"
HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0  # a first start (cold imports) takes about 3 s, later ones about 1.5 s

# Fixed identity and dates: the same files always give the same commit hashes.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "svd-learn",
    "GIT_AUTHOR_EMAIL": "course@svd-learn.invalid",
    "GIT_COMMITTER_NAME": "svd-learn",
    "GIT_COMMITTER_EMAIL": "course@svd-learn.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,  # ignore the user's git config (hooks, signing, default branch)
    "GIT_CONFIG_NOSYSTEM": "1",
}
_COMMIT_DATES = ("2026-01-05T12:00:00+00:00", "2026-02-02T12:00:00+00:00", "2026-03-02T12:00:00+00:00")
_LFS_ATTRIBUTES = "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


class PortInUseError(UserError, RuntimeError):
    """The port asked for is already taken on 127.0.0.1."""


# ----------------------------------------------------------------------------------------------------
# The course repo: a git repository with history, weights in Git LFS.


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    if shutil.which("git") is None:
        raise RuntimeError(
            "The local Hub builds its model repo with git, and git is not installed: install it (apt-get install git)."
        )
    env = {**os.environ, **_GIT_ENV}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    result = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result.stdout.strip()


def _add_files(repo: Path, source: Path, names: list[Path]) -> None:
    """Copy files into the repo; `*.safetensors` become Git LFS pointers plus an object in .git/lfs
    (what `git lfs` does, without needing git-lfs installed)."""
    for name in names:
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (source / name).read_bytes()
        if name.suffix == ".safetensors":
            oid = hashlib.sha256(data).hexdigest()
            lfs_object = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
            lfs_object.parent.mkdir(parents=True, exist_ok=True)
            lfs_object.write_bytes(data)
            target.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n")
        else:
            target.write_bytes(data)
        _git(repo, "add", str(name))


def build_course_repo(repo: str | Path, seed: int = 0) -> Path:
    """Write the course model repo (a git repository with three commits, a tag and a dev branch) at `repo`."""
    from svd_learn import models

    repo = Path(repo)
    with tempfile.TemporaryDirectory(prefix="svd-learn-weights-") as weights:
        weights = Path(weights)
        components = models.build_components(models.tiny_configs("svd-xt"), seed=seed)
        models.write_pipeline_folder(components, weights, fp32=True, fp16=True)
        files = sorted(p.relative_to(weights) for p in weights.rglob("*") if p.is_file())
        fp16_files = [p for p in files if ".fp16." in p.name]
        first_files = [p for p in files if p not in fp16_files]

        repo.mkdir(parents=True)
        _git(repo, "init", "--quiet", "--initial-branch=main")
        (repo / ".gitattributes").write_text(_LFS_ATTRIBUTES)
        (repo / "README.md").write_text(
            "# tiny-svd-xt\n\nThe course's stand-in for stabilityai/stable-video-diffusion-img2vid-xt: the same "
            "pipeline layout and classes, tiny random weights. Outputs are noise.\n"
        )
        _git(repo, "add", ".gitattributes", "README.md")
        _add_files(repo, weights, first_files)
        _git(repo, "commit", "--quiet", "-m", "Add full-precision weights", date=_COMMIT_DATES[0])
        _git(repo, "tag", TAG)
        _add_files(repo, weights, fp16_files)
        _git(repo, "commit", "--quiet", "-m", "Add the fp16 variant", date=_COMMIT_DATES[1])

    # dev: a change the authors are trying out, not yet on main.
    _git(repo, "checkout", "--quiet", "-b", DEV_BRANCH)
    scheduler = repo / "scheduler" / "scheduler_config.json"
    text = scheduler.read_text()
    if '"timestep_spacing": "leading"' not in text:
        raise RuntimeError(
            "The course's scheduler config no longer says timestep_spacing 'leading': update build_course_repo."
        )
    scheduler.write_text(text.replace('"timestep_spacing": "leading"', '"timestep_spacing": "trailing"'))
    _git(repo, "commit", "--quiet", "-am", "Try trailing timestep spacing", date=_COMMIT_DATES[2])
    _git(repo, "checkout", "--quiet", "main")
    return repo


def course_repo_template() -> Path:
    """The course repo, built once per diffusers version under the course home (about 2 s) and copied
    for each server, so that a lesson that pushes a commit never changes the next run's history."""
    from svd_learn import models

    folder = models.course_home() / f"hub-repo-diffusers-{version('diffusers')}"
    return models._build_once(folder, build_course_repo)  # the checked-out repo has model_index.json


def fast_forward(repo: str | Path, branch: str = "main", to: str = DEV_BRANCH) -> str:
    """Move `branch` forward to `to` (what a model's authors do when they merge their dev branch).
    A running server serves the new commit at once. Returns the commit `branch` now points to."""
    repo = Path(repo)
    current = _git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    _git(repo, "checkout", "--quiet", branch)
    try:
        _git(repo, "merge", "--quiet", "--ff-only", to)
        return _git(repo, "rev-parse", "HEAD")
    finally:
        _git(repo, "checkout", "--quiet", current)


def repo_refs(repo: str | Path) -> dict[str, str]:
    """Branch and tag names of a repo, each with the commit it points to."""
    lines = _git(Path(repo), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads", "refs/tags")
    return dict(line.split() for line in lines.splitlines())


# ----------------------------------------------------------------------------------------------------
# The server.

_RUNNING: set[LocalHub] = set()  # stopped at interpreter exit, whatever happened before


@dataclass(eq=False)
class LocalHub:
    """A running olah server on 127.0.0.1 serving the course repo. Stop it with `stop()` (idempotent),
    or use `local_hub()` which always does."""

    port: int
    folder: Path  # its private folder: config, mirrored repo, log
    process: subprocess.Popen
    repo_id: str = COURSE_REPO
    _log_start: int = field(default=0, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def repo_path(self) -> Path:
        """The served git repository (a copy: change it with `fast_forward` or git)."""
        return self.folder / "mirrors" / "models" / self.repo_id

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every HTTP request the server answered since the last `clear_log()`."""
        text = self._settled_log()[self._log_start :].decode(errors="replace")
        return [(m, p, int(s)) for m, p, s in re.findall(r'"(GET|HEAD|POST|PUT) (\S+) HTTP/[\d.]+" (\d{3})', text)]

    def _settled_log(self, quiet_s: float = 0.1, at_most_s: float = 2.0) -> bytes:
        """The log file once it stops growing: the server writes a request's line just after it sends the
        response, so a client can finish a moment before the line of its last request is in the file."""
        size, deadline = self.log_path.stat().st_size, time.monotonic() + at_most_s
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            size, grown = self.log_path.stat().st_size, size
            if size == grown:
                break
        return self.log_path.read_bytes()

    def request_log(self, sort: bool = False) -> str:
        """The requests as lines a learner can read: `HEAD 200 /repo/resolve/main/file`. Clients fetch
        files in parallel, so their order differs between runs: `sort=True` sorts by path, then method."""
        requests = self.requests()
        if sort:
            requests = sorted(requests, key=lambda r: (r[1], r[0]))
        return "\n".join(f"{method:4} {status} {path}" for method, path, status in requests)

    def clear_log(self) -> None:
        """Forget the requests so far (the next `requests()` shows only new ones)."""
        self._log_start = self.log_path.stat().st_size

    def stop(self) -> None:
        """Stop the server and every process it started (its process group), then delete its folder."""
        if self.is_running():
            _kill_group(self.process)
        _RUNNING.discard(self)
        shutil.rmtree(self.folder, ignore_errors=True)


def _kill_group(process: subprocess.Popen, grace_s: float = 3.0) -> None:
    """SIGTERM the process group, SIGKILL it if it has not exited after `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            raise PortInUseError(
                f"Port {port} on {HOST} is already in use (another local Hub, or another program). "
                "Stop that program, choose another port, or leave port= out to pick a free one."
            ) from None


_CONFIG = """\
[basic]
host = "{host}"
port = {port}
repos-path = "{folder}/olah-cache"
hf-scheme = "http"
hf-netloc = "{host}:9"
hf-lfs-netloc = "{host}:9"
mirror-scheme = "http"
mirror-netloc = "{host}:{port}"
mirror-lfs-netloc = "{host}:{port}"
mirrors-path = ["{folder}/mirrors"]

[accessibility]
offline = true
"""
# ^ hf-netloc points at a closed local port: there is no upstream Hub. offline = true makes olah answer
#   from the mirrors at once instead of trying that upstream first.

# The server program, run by the local Hub's own Python (see server_environment and hub_server.py).
SERVER_PROGRAM = Path(__file__).with_name("hub_server.py")
SERVER_ENVIRONMENT = "olah-env"  # under the course's home


def server_requirements() -> list[str]:
    """What the local Hub's own environment holds (svd_learn/data/hub_server.toml): olah, at least."""
    text = resources.files("svd_learn").joinpath("data", "hub_server.toml").read_text()
    return tomllib.loads(text)["requirements"]


def _environment_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def server_environment(echo=print) -> Path:
    """The Python of the local Hub's own environment, $SVD_LEARN_HOME/olah-env, created on first use.

    olah is never installed next to the lessons' libraries: it needs newer huggingface_hub, fastapi and
    pydantic than older Colab images ship. With uv (the hub extra) the first creation takes seconds; with
    venv + pip longer. Installers read their usual settings (PIP_FIND_LINKS, PIP_NO_INDEX, UV_FIND_LINKS,
    UV_NO_INDEX), so a local wheel folder works. Raises RuntimeError saying what to do when it fails.
    """
    folder = course_home() / SERVER_ENVIRONMENT
    python, ready = _environment_python(folder), folder / "svd-learn-ready.json"
    # Rebuilt when the requirements or the Python that made it change.
    wanted = json.dumps({"requirements": server_requirements(), "python": os.path.realpath(sys.executable)})
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if python.exists() and ready.exists() and ready.read_text() == wanted:
            return python
        started = time.monotonic()
        name = _create_server_environment(folder, echo)
        ready.write_text(wanted)
        echo(
            f"the local Hub's own environment is ready ({name}, {time.monotonic() - started:.0f} s); later starts reuse it"
        )
    return python


def _create_server_environment(folder: Path, echo) -> str:
    """Create the environment at `folder` and install the server's requirements; returns the installer's name."""
    from svd_learn import lab

    requirements = server_requirements()
    try:
        installer = lab.Installer(cache_dir=None)  # uv's or pip's usual download cache
        echo(
            f"creating the local Hub's own environment (once): {' '.join(requirements)} with {installer.name}, "
            f"in {folder} ..."
        )
        if not installer.uv:
            echo(f"  (uv would make this faster: {lab.UV_SAVES}; pip install 'svd-learn[hub]' adds it)")
        python = installer.create(folder)
        installer.install(python, requirements)
    except lab.LabError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            f"The local Hub runs olah from its own environment, and creating it failed:\n{error}\n"
            "Check the network (or the wheel folder in PIP_FIND_LINKS), then run this cell again: "
            "it starts again from scratch."
        ) from None
    check = subprocess.run([str(python), "-I", "-c", "import olah.server"], capture_output=True, text=True)
    if check.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        last = (check.stdout + check.stderr).strip().splitlines()
        raise RuntimeError(
            f"The local Hub's own environment was created, but olah does not import there: "
            f"{last[-1] if last else 'no output'}. Check {' '.join(requirements)} in svd_learn/data/hub_server.toml."
        )
    return installer.name


def start(
    port: int | None = None, repo: str | Path | None = None, timeout_s: float = START_TIMEOUT_S, echo=print
) -> LocalHub:
    """Start olah on 127.0.0.1 serving a copy of the course repo (or of the git repo `repo`).

    `port=None` picks a free port. The first start creates the local Hub's own environment (see
    server_environment; progress goes to `echo`). Returns once the server answers; raises a short error if
    the port is taken, if that environment cannot be created, or if the server does not come up (with the
    end of its log).
    """
    if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
        raise ValueError(
            f"port must be a whole number from 1 to 65535, not {port!r}. Leave it out to pick a free port."
        )
    if repo is not None and not (Path(repo) / ".git").is_dir():
        raise ValueError(
            f"{repo} is not a git repository (no .git folder). Pass a folder made by build_course_repo, or leave repo= out."
        )
    python = server_environment(echo)
    if port is not None:
        _check_port_free(port)
    folder = Path(tempfile.mkdtemp(prefix="svd-learn-hub-"))
    port = port or free_port()
    config = folder / "configs.toml"
    config.write_text(_CONFIG.format(host=HOST, port=port, folder=folder))
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen(
        # -I: isolated (no PYTHONPATH or user site): only the local Hub's own environment
        [str(python), "-I", "-u", str(SERVER_PROGRAM), str(os.getpid()), str(config), str(folder / "logs")],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group
    )
    log.close()
    server = LocalHub(port=port, folder=folder, process=process)
    _RUNNING.add(server)
    try:
        # olah reads its mirrors per request: build and copy the repo while it boots
        template = Path(repo) if repo is not None else course_repo_template()
        shutil.copytree(template, server.repo_path, symlinks=True)
        _wait_until_ready(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    server.clear_log()  # the readiness probe is not the learner's request
    return server


def _wait_until_ready(server: LocalHub, timeout_s: float) -> None:
    """Poll the revision API of the served repo until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.is_running():
            tail = server.log_path.read_text(errors="replace")[-1500:]
            if "address already in use" in tail.lower():
                raise PortInUseError(
                    f"Port {server.port} on {HOST} was taken while the local Hub started. Start it again."
                )
            if "No module named" in tail:  # its own environment was damaged after it was made
                tail += (
                    f"\nThe local Hub's own environment lacks a module: delete {course_home() / SERVER_ENVIRONMENT} "
                    "and start again (it is created anew)."
                )
            raise RuntimeError(f"The local Hub (olah) exited during start-up. The end of its log:\n{tail}")
        try:
            connection = http.client.HTTPConnection(HOST, server.port, timeout=2)
            connection.request("GET", f"/api/models/{server.repo_id}/revision/main")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(
        f"The local Hub did not answer within {timeout_s:.0f} s. The end of its log:\n"
        + server.log_path.read_text(errors="replace")[-1500:]
    )


@contextmanager
def local_hub(port: int | None = None, repo: str | Path | None = None):
    """`with local_hub() as server:` a running server, stopped when the block ends, even on an error."""
    server = start(port=port, repo=repo)
    try:
        yield server
    finally:
        server.stop()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()
