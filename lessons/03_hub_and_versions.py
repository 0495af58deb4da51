# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 3: downloads, revisions, and the version errors
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/03_hub_and_versions.ipynb)
#
# **What you will learn.**
# Part A: what `from_pretrained` downloads from the Hugging Face Hub, with and without `variant="fp16"`;
# `hf_hub_download` and `snapshot_download`; what the cache on your disk looks like; branches, tags and
# commits, and why pinning a commit makes a notebook reproducible; working offline; inspecting and
# cleaning the cache; tokens and gated repos.
# Part B: the most common error in old SVD notebooks, `cannot import name 'cached_download'`. We cause it
# on purpose, read its traceback, diagnose it, and fix it the right way.

# %% [markdown]
# **The idea.** A model on the Hub is a git repository. Every download names a *revision* (a branch, a tag
# or a commit), and the client keeps what it downloaded in a cache organised by commit. Version errors are
# the same story one level up: each library pins a range of the others, and an old pin breaks when the
# rest of the stack moves on.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
LANGUAGE = "en"  # the language of svd-learn's messages: "en" or "es" (the Spanish edition says "es")
import os
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements("hub")  # and the hub extra: uv, for fast throwaway environments

from svd_learn import language, lesson_work

language.use(LANGUAGE)  # every message below, and those of the commands this notebook runs

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("03_hub_and_versions"))

# %% [markdown]
# ## A real Hub on this machine
#
# This lesson does not download from huggingface.co: it runs a Hub-compatible server (olah, from PyPI) on
# `127.0.0.1` and points the client at it. olah runs from its own small environment, made at its first start
# (a few seconds with uv), so it changes none of the libraries this notebook uses.
# The server speaks the Hub's HTTP API. It serves a course repo,
# `svd-learn/tiny-svd-xt`: the real SVD-XT layout and classes, with tiny random weights. The repo is a git
# repository with a history:
#
# | commit | message | what changed | refs |
# |---|---|---|---|
# | 1 | Add full-precision weights | configs, `*.safetensors` (fp32) | tag `v1.0` |
# | 2 | Add the fp16 variant | `*.fp16.safetensors` | branch `main` |
# | 3 | Try trailing timestep spacing | scheduler config | branch `dev` |

# %% [markdown]
# `huggingface_hub` reads the `HF_ENDPOINT` variable **once, when it is imported**. So we pick the port,
# set the variable, and only then start the server (which imports diffusers, which imports huggingface_hub).

# %%
from svd_learn import hub

port = hub.free_port()
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"  # must come before the first import of huggingface_hub
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"  # keep the request log to the requests we make
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"  # never send your own Hub token (if you have one) to this server
server = hub.start(port)

import huggingface_hub.constants  # the submodule itself: importing the package alone may not load it

assert huggingface_hub.constants.ENDPOINT == server.endpoint, "huggingface_hub was imported before HF_ENDPOINT was set: restart the runtime"
REPO = hub.COURSE_REPO
refs = hub.repo_refs(server.repo_path)  # branch and tag -> commit, read from the served git repository
print("local Hub:", server.endpoint, "serving", REPO)
for name, commit in refs.items():
    print(f"  {name:5} -> {commit}")

# %% [markdown]
# # Part A: how downloads work
#
# ## 1. What `from_pretrained` downloads
#
# `server.clear_log()` forgets earlier requests; `server.requests()` lists the ones since, as
# `(method, path, status)`. The helper below keeps the file names of the downloads (`GET .../resolve/<revision>/<file>`).

# %%
import torch
from diffusers import StableVideoDiffusionPipeline

from svd_learn import models


def requested_files(requests, method="GET"):
    """The files asked for with `method` (GET: downloaded) in requests like `.../resolve/<revision>/<file>`, sorted."""
    return sorted(path.split("/resolve/", 1)[1].split("/", 1)[1] for m, path, status in requests if m == method and "/resolve/" in path)


server.clear_log()
pipe = StableVideoDiffusionPipeline.from_pretrained(REPO, variant="fp16", torch_dtype=torch.float16)
fp16_requests = server.requests()
fp16_files = requested_files(fp16_requests)
print("\n".join(fp16_files))
assert all(".fp16." in name for name in fp16_files if name.endswith(".safetensors"))
assert len([name for name in fp16_files if name.endswith(".safetensors")]) == 3  # unet, vae, image_encoder

# %% [markdown]
# With `variant="fp16"` diffusers downloads `model_index.json`, each component's config, and only the
# `*.fp16.safetensors` weights. The repo also has full-precision files; none of them came. Here is every
# request the client made, in order of arrival (the file downloads run in parallel, so they are sorted):

# %%
api_requests = [r for r in fp16_requests if "/resolve/" not in r[1]]
file_requests = sorted((r for r in fp16_requests if "/resolve/" in r[1]), key=lambda r: (r[1], r[0]))
for method, path, status in api_requests + file_requests:
    print(f"{method:4} {status} {path}")
assert api_requests[0][:2] == ("GET", f"/api/models/{REPO}")  # 1. which files does the repo have at main?

# %% [markdown]
# How to read it:
# 1. `GET /api/models/{repo}`: the repo's file list at its default branch, and the commit that branch
#    points to (`huggingface_hub.model_info`). diffusers picks the files it needs from that list.
# 2. `GET /api/models/{repo}/revision/main` and `.../tree/<commit>`: `snapshot_download` resolves `main` to a
#    commit, then lists the files of that commit. Every later request names the **commit**, not `main`:
#    one download never mixes files from two commits, even if someone pushes meanwhile. (huggingface_hub 1.4,
#    the version on Colab's 2026-02 image, sends no `tree` request: it takes the file list from the `revision` answer.)
# 3. For each file, `HEAD .../resolve/<commit>/<file>` (size, `ETag` = content hash, `X-Repo-Commit`), then
#    `GET` for the content.
#
# On huggingface.co, large files are answered differently (a redirect to a content server, or the Xet
# storage protocol). So count requests here to learn the flow, not the Hub's exact traffic.
#
# Now without a variant, in full precision:

# %%
server.clear_log()
pipe32 = StableVideoDiffusionPipeline.from_pretrained(REPO, torch_dtype=torch.float32)
fp32_files = requested_files(server.requests())
print("\n".join(fp32_files))
assert fp32_files == sorted(name.replace(".fp16", "") for name in fp16_files if name.endswith(".safetensors"))
configs_downloaded = [name for name in fp32_files if name.endswith(".json")]
print("configs downloaded again:", configs_downloaded or "none")
assert not configs_downloaded

# %% [markdown]
# Only the three full-precision weight files were downloaded. The configs were not downloaded again. They
# were already in the cache under `snapshots/<commit>/`, and a file at a given commit can never change.
# So the client needs no download to trust it. (Some diffusers versions, like Colab's 0.39, still send one
# `HEAD .../resolve/main/model_index.json` to learn which commit `main` is now.)
#
# How many bytes is that? The repo's file list carries each file's size:

# %%
from huggingface_hub import HfApi

api = HfApi()
sizes = {f.path: f.size for f in api.list_repo_tree(REPO, recursive=True) if hasattr(f, "size")}
fp16_bytes = sum(sizes[name] for name in fp16_files if name.endswith(".safetensors"))
fp32_bytes = sum(sizes[name] for name in fp32_files)
all_bytes = sum(sizes.values())
print(f"tiny repo: fp16 weights {fp16_bytes / 1e6:.2f} MB, fp32 weights {fp32_bytes / 1e6:.2f} MB, whole repo {all_bytes / 1e6:.2f} MB")
assert 1.95 < fp32_bytes / fp16_bytes <= 2  # 4 bytes per parameter against 2, plus a small header per file

# %% [markdown]
# For the real SVD-XT we do not need to download anything: weight files hold 2 bytes per parameter in fp16
# and 4 in fp32, plus a small header. Count the parameters of the real architecture (built on PyTorch's
# `meta` device, no memory, as in lesson 1):

# %%
real = models.full_size_architecture("svd-xt")
real_parameters = {name: models.count_parameters(real[name]) for name in models.MODEL_COMPONENTS}
total = sum(real_parameters.values())
for name, count in real_parameters.items():
    print(f"{name:14}{count:>15,} parameters  fp16 {count * 2 / 2**30:5.2f} GiB  fp32 {count * 4 / 2**30:5.2f} GiB")
print(f"{'total':14}{total:>15,} parameters  fp16 {total * 2 / 2**30:5.2f} GiB  fp32 {total * 4 / 2**30:5.2f} GiB")
assert 2.2e9 < total < 2.3e9

# %% [markdown]
# `from_pretrained(..., variant="fp16")` downloads about 4.2 GiB for SVD-XT (the Hub's pages say 4.5 GB:
# 10^9 bytes). Without the variant it downloads about 8.4 GiB, then casts it to fp16 anyway if you ask
# for `torch_dtype=torch.float16`. On Colab, always pass `variant="fp16"`: half the download, half the
# disk, and the same fp16 weights in memory.
#
# A variant is just a file name. A revision that has no such files fails, and says so. The tag `v1.0` is
# the commit from before the fp16 files were added:

# %%
try:
    StableVideoDiffusionPipeline.from_pretrained(REPO, revision=hub.TAG, variant="fp16")
    raise AssertionError("v1.0 has no fp16 files: this should have failed")
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
    assert "variant=fp16" in str(error)

# %% [markdown]
# ## 2. One file: `hf_hub_download`
#
# `hf_hub_download(repo, filename)` downloads one file (or finds it in the cache) and returns its path.
# `get_hf_file_metadata` shows the answer to the `HEAD` request that decides it:

# %%
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

server.clear_log()
readme = hf_hub_download(REPO, "README.md")
print(readme.replace(huggingface_hub.constants.HF_HUB_CACHE, "<cache>"))
print(server.request_log())
assert [(m, s) for m, p, s in server.requests()] == [("HEAD", 200), ("GET", 200)]

metadata = get_hf_file_metadata(hf_hub_url(REPO, "unet/diffusion_pytorch_model.fp16.safetensors"))
print("commit:", metadata.commit_hash, "\netag:  ", metadata.etag, "\nsize:  ", metadata.size, "bytes")
assert metadata.commit_hash == refs["main"] and metadata.size == sizes["unet/diffusion_pytorch_model.fp16.safetensors"]

# %% [markdown]
# The path is inside the cache, under `snapshots/<commit>/`: the commit `main` pointed to. For a weight
# file the ETag is the SHA-256 of its content (it is stored with Git LFS). The client names cached files
# by their ETag, as the next section shows.
#
# ## 3. Several files: `snapshot_download` with `allow_patterns`
#
# `snapshot_download` downloads a whole revision, or the part that matches `allow_patterns` (shell-style
# patterns). Here: every JSON file (the configs, no weights) of the `dev` branch.

# %%
from pathlib import Path

from huggingface_hub import snapshot_download


server.clear_log()
folder = Path(snapshot_download(REPO, revision="dev", allow_patterns=["*.json"]))
files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
print("files in the dev snapshot:", ", ".join(files))
print("asked about with HEAD:   ", len(requested_files(server.requests(), "HEAD")), "files")
print("downloaded with GET:     ", ", ".join(requested_files(server.requests())))
print(f"(without allow_patterns: all {len(sizes)} files, {all_bytes / 1e6:.2f} MB, every variant)")
assert files == requested_files(server.requests(), "HEAD") and all(name.endswith(".json") for name in files)
assert requested_files(server.requests()) == ["scheduler/scheduler_config.json"]

# %% [markdown]
# Six config files, no weights, and only one of them downloaded. On `dev` the scheduler config differs
# from `main`; the other five have the same content as files already in the cache. The `HEAD` answer
# carries the content hash (ETag), the client found a file with that hash in its cache, and linked it
# instead of downloading it again. The cache stores contents, not file names, as the next section shows.
#
# `from_pretrained` itself is `snapshot_download` with patterns computed from `model_index.json` and the
# variant. When you need a part of a big repo (one component, one format), `allow_patterns` is how you
# skip the rest.
#
# ## 4. The cache: blobs, snapshots, refs
#
# Everything above went to one folder, `$HF_HOME/hub` (by default `~/.cache/huggingface/hub`):

# %%
cache = Path(huggingface_hub.constants.HF_HUB_CACHE)
repo_cache = cache / f"models--{REPO.replace('/', '--')}"
print(repo_cache.relative_to(cache), sorted(p.name for p in repo_cache.iterdir()))
print(f"  blobs/: {len(list((repo_cache / 'blobs').iterdir()))} files")
for path in sorted((repo_cache / "snapshots").rglob("*.safetensors")):  # the weight files; configs look the same
    print(f"  {path.relative_to(repo_cache)}  ->  {os.readlink(path)}")
for ref in sorted((repo_cache / "refs").iterdir()):
    print(f"  refs/{ref.name}: {ref.read_text()}")
assert (repo_cache / "refs" / "main").read_text() == refs["main"]

# %% [markdown]
# - `blobs/` holds each file's content once, named by its ETag.
# - `snapshots/<commit>/` mirrors the repo's files at that commit, as symbolic links into `blobs/`.
# - `refs/<branch or tag>` is a text file with the commit that name pointed to at the last download.
# - Recent huggingface_hub versions also keep `trees/` (file listings, so `from_pretrained` can work
#   offline) and `.no_exist/` (files known to be missing, so they are not asked for again).
#
# Check a weight file's blob name against its content:

# %%
import hashlib

weights = repo_cache / "snapshots" / refs["main"] / "unet" / "diffusion_pytorch_model.fp16.safetensors"
weights_blob = weights.resolve().name
print("unet weights blob:", weights_blob, "= sha256 of the content = the ETag")
assert weights_blob == hashlib.sha256(weights.read_bytes()).hexdigest() == metadata.etag

# %% [markdown]
# ## 5. Revisions: branch, tag, commit
#
# Every download takes `revision=`: a branch (`main`, `dev`), a tag (`v1.0`) or a commit hash. The repo's
# branches and tags:

# %%
repo_refs = api.list_repo_refs(REPO)
for ref in repo_refs.branches + repo_refs.tags:
    print(f"{'tag' if ref in repo_refs.tags else 'branch':7}{ref.name:6}{ref.target_commit}")
assert {b.name: b.target_commit for b in repo_refs.branches} == {"main": refs["main"], "dev": refs["dev"]}

# %%
import json


def timestep_spacing(revision):
    path = hf_hub_download(REPO, "scheduler/scheduler_config.json", revision=revision)
    return json.loads(Path(path).read_text())["timestep_spacing"]


for revision in ["main", "dev", hub.TAG, refs["main"]]:
    print(f"{revision:40} timestep_spacing = {timestep_spacing(revision)}")
assert timestep_spacing("dev") == "trailing" and timestep_spacing("main") == "leading"

# %% [markdown]
# `dev` holds a change the authors are trying out. Branches move; a commit never changes. Suppose the
# authors now merge `dev` into `main`, as happens on the Hub without warning:

# %%
pinned = refs["main"]  # the commit this notebook was written against
hub.fast_forward(server.repo_path, "main", to="dev")  # the authors push: main moves to dev's commit

print("main now:        ", timestep_spacing("main"))
print("pinned commit:   ", timestep_spacing(pinned))
assert timestep_spacing("main") == "trailing" and timestep_spacing(pinned) == "leading"
assert (repo_cache / "refs" / "main").read_text() == refs["dev"]

# %% [markdown]
# The same line, `from_pretrained(repo)`, now builds a different scheduler: a notebook that said
# `revision="main"` (or nothing) silently changed its results. The one that pinned the commit did not.
# Pinning also makes the cache enough. A file at a commit hash that is already cached needs no request.

# %%
server.clear_log()
hf_hub_download(REPO, "scheduler/scheduler_config.json", revision=pinned)
print("hf_hub_download at a cached commit:", len(server.requests()), "requests")
assert server.requests() == []

pipe_pinned = StableVideoDiffusionPipeline.from_pretrained(REPO, revision=pinned, variant="fp16", torch_dtype=torch.float16)
print("from_pretrained at a cached commit:")
print(server.request_log())
assert [path for method, path, status in server.requests()] == [f"/api/models/{REPO}/revision/{pinned}"]
assert pipe_pinned.scheduler.config.timestep_spacing == "leading"

# %% [markdown]
# diffusers still asks once for the file list at that commit (to choose the files of the variant), then
# takes every file from the cache: no `HEAD`, no `GET`.

# %% [markdown]
# To pin a real model: open its page on the Hub, "Files and versions", "History", copy the commit hash,
# and pass `revision="<hash>"` to every `from_pretrained`. A tag (`v1.0`) reads better, but on the Hub
# the authors can move or delete a tag; only a commit hash is fixed.
#
# ## 6. Offline: `HF_HUB_OFFLINE` and `local_files_only`
#
# `HF_HUB_OFFLINE=1` makes every call use the cache only, without a single request. Like `HF_ENDPOINT` it
# is read when huggingface_hub is imported, so we show it in a fresh Python process:

# %%
import subprocess
import textwrap

offline_script = textwrap.dedent(f"""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    print("cached:    ", hf_hub_download("{REPO}", "scheduler/scheduler_config.json", revision="main").split("/snapshots/")[1])
    try:
        hf_hub_download("{REPO}", "vae/config.json", revision="{hub.TAG}")
    except LocalEntryNotFoundError as error:
        print("not cached:", type(error).__name__)
""")
server.clear_log()
offline = subprocess.run([sys.executable, "-c", offline_script], env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
print(offline.stdout + offline.stderr[-500:])
print("requests the server received:", len(server.requests()))
assert "not cached: LocalEntryNotFoundError" in offline.stdout and server.requests() == []

# %% [markdown]
# In a running notebook, pass `local_files_only=True` to a single call instead. To prove it needs no
# server, stop the server first:

# %%
server.stop()
assert not server.is_running()
from huggingface_hub import errors, try_to_load_from_cache

# IncompleteSnapshotError exists from huggingface_hub 1.22 on; older versions never raise it (`()` catches nothing)
IncompleteSnapshotError = getattr(errors, "IncompleteSnapshotError", ())
try:
    offline_pipe = StableVideoDiffusionPipeline.from_pretrained(REPO, revision=pinned, variant="fp16", local_files_only=True, torch_dtype=torch.float16)
except IncompleteSnapshotError as error:
    # Seen with huggingface_hub 1.27 + diffusers 0.39 (Colab, 2026-08): offline, the client wants EVERY file of
    # the commit in the cache, even ones diffusers never needs (.gitattributes, README.md, the other variant).
    print("this huggingface_hub refuses a partial snapshot offline:", type(error).__name__)
    snapshot = Path(try_to_load_from_cache(REPO, "model_index.json", revision=pinned)).parent  # the cached snapshot folder
    offline_pipe = StableVideoDiffusionPipeline.from_pretrained(snapshot, variant="fp16", torch_dtype=torch.float16)
print(type(offline_pipe).__name__, "loaded from the cache with the server stopped")

# %% [markdown]
# Offline, a branch name resolves through `refs/` (the commit it pointed to at the last download), so an
# offline run can still use a stale `main` without knowing it. Another reason to pin the commit.
#
# If your huggingface_hub refuses with `IncompleteSnapshotError` (the cell above handles it), remember that a
# snapshot folder `snapshots/<commit>/` is a plain pipeline folder: `from_pretrained(that_folder)` reads it
# with no network and no questions.
#
# ## 7. Inspecting and cleaning the cache
#
# `scan_cache_dir()` reads the cache, and `delete_revisions(...)` plans a deletion, tells you how much it
# frees, and does it on `.execute()`. (From a terminal, recent huggingface_hub versions have `hf cache ls`
# and `hf cache rm`.)

# %%
from huggingface_hub import scan_cache_dir

info = scan_cache_dir()
repo_info = next(r for r in info.repos if r.repo_id == REPO)
print(f"{repo_info.repo_id}: {repo_info.size_on_disk / 1e6:.2f} MB on disk, {len(repo_info.revisions)} revisions")
for revision in sorted(repo_info.revisions, key=lambda r: r.nb_files):
    print(f"  {revision.commit_hash}  {revision.nb_files:2} files  {revision.size_on_disk:>10,} bytes  refs: {', '.join(sorted(revision.refs)) or 'none'}")
assert {r.commit_hash: set(r.refs) for r in repo_info.revisions}[pinned] == set()

# %% [markdown]
# Three commits are cached. The one with all 13 files is the old `main`: no ref points to it any more
# (`main` moved to `dev`'s commit in section 5). Such a *detached* revision is the usual thing to clean
# (`hf cache prune` removes all of them).
# `delete_revisions` first makes a plan and says how much it would free:


# %%
def unique_blob_bytes(commit):
    """Bytes of the blobs that only this cached revision uses."""
    mine = {f.blob_path for r in repo_info.revisions if r.commit_hash == commit for f in r.files}
    others = {f.blob_path for r in repo_info.revisions if r.commit_hash != commit for f in r.files}
    return sum(path.stat().st_size for path in mine - others)


for name, commit in [("v1.0", refs[hub.TAG]), ("old main", pinned)]:
    plan = info.delete_revisions(commit)
    print(f"deleting {name:8} ({commit}) would free {plan.expected_freed_size:>10,} bytes")
    assert plan.expected_freed_size == unique_blob_bytes(commit)
assert info.delete_revisions(refs[hub.TAG]).expected_freed_size == 0

info.delete_revisions(pinned).execute()
print(f"after deleting the old main: {scan_cache_dir().size_on_disk:,} bytes left in the whole cache")
assert not (repo_cache / "snapshots" / pinned).exists()

# %% [markdown]
# Deleting a revision frees only the blobs that no other cached revision uses. Every file of `v1.0` we had
# cached (`model_index.json`, the scheduler config) is the same content as in the old `main`, one blob
# shared by both, so deleting `v1.0` would free nothing. That is also why a new commit that changes one
# config file adds one small blob to your cache, not a second copy of the weights.
#
# ## 8. Tokens and gated repos
#
# Some repos are *gated*: you must accept their license on the Hub's web page while logged in, and send a
# token with every request. Of the three SVD checkpoints, one is:

# %%
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
from huggingface_hub.utils import build_hf_headers

for checkpoint in models.CHECKPOINTS.values():
    print(f"{checkpoint.repo_id:52} {'gated' if checkpoint.gated else 'open'}")

headers = build_hf_headers(token="hf_example_not_a_real_token")  # what the client adds to every request
print("authorization:", headers["authorization"])
assert headers["authorization"] == "Bearer hf_example_not_a_real_token"
assert issubclass(GatedRepoError, RepositoryNotFoundError)

# %% [markdown]
# - The client sends the token as `Authorization: Bearer <token>`. Where it looks for it depends on the
#   version. From huggingface_hub 1.19 (Colab has 1.27): `token=`, else the `HF_TOKEN` environment
#   variable, else the file `hf auth login` wrote, else (on Colab) a secret named `HF_TOKEN` in the Secrets
#   panel. Up to 1.18 the Colab secret came before the variable and the file (read in `get_token`, in
#   `huggingface_hub/utils/_auth.py` of each release). `help(huggingface_hub.get_token)` describes yours.
#   Use the Secrets panel: a token typed into a cell ends up in the saved notebook.
# - Without access, a gated repo answers with an error that the client raises as `GatedRepoError`. It is a
#   subclass of `RepositoryNotFoundError`, so catch `GatedRepoError` first if you want to tell them apart.
#   The fix is on the web page (accept the license), then a token; retrying does not help.

# %% [markdown]
# **What this local server cannot show.** It has no accounts and no gating. It serves every file to
# anyone and ignores tokens. So we cannot show you a real gated answer, the license page or a rejected
# token. It also answers a missing file or revision as a missing repo (`RepositoryNotFoundError`). The Hub
# raises `RemoteEntryNotFoundError` or `RevisionNotFoundError` there, so we do not show those errors here.
# Everything else above is the real client against a real HTTP server.

# %% [markdown]
# # Part B: the version errors
#
# ## 9. Cause `cached_download` on purpose
#
# Many SVD notebooks from 2023 and 2024 pin an old diffusers, and now fail on their first import:
#
# `ImportError: cannot import name 'cached_download' from 'huggingface_hub'`
#
# The course's lab reproduces it for real, in four steps:
# 1. a throwaway virtual environment;
# 2. the pinned versions, installed from the package registry (with uv, a fast installer, when it is there);
# 3. the failing line, run there;
# 4. the same with the fixed versions.
#
# Your own environment is not touched.

# %%
from svd_learn import compat, lab
from svd_learn.environment import installed_version

result = lab.run_reproduction("cached_download")
assert result.reproduced and result.fixed_ok

# %% [markdown]
# ## 10. Read the traceback
#
# A traceback reads from the bottom up. The last line is the error; the frames above it say who asked.

# %%
lines = result.error_text.splitlines()
print("\n".join(lines[-9:]))
frames = [line.strip() for line in lines if line.strip().startswith("File ")]
last_frame, failing_line, error_line = frames[-1], lines[-2].strip(), lines[-1]
print("\nthe error:     ", error_line.split(" (")[0])
print("which file:    ", last_frame.split("site-packages/")[1].split('"')[0])
print("which import:  ", failing_line)
print("versions:      ", " ".join(result.broken_pins))
assert "diffusers/utils/dynamic_modules_utils.py" in last_frame
assert failing_line.startswith("from huggingface_hub import cached_download")

# %% [markdown]
# - **The error**: `huggingface_hub` has no `cached_download`. The path in parentheses says *which*
#   huggingface_hub: the one installed in that environment.
# - **Which file**: not your code, not huggingface_hub: `diffusers/utils/dynamic_modules_utils.py`.
#   diffusers 0.28.2 imports `cached_download` at the top of that file, so even `import diffusers` fails.
# - **Which versions**: huggingface_hub removed `cached_download` in 0.26.0; diffusers dropped the import
#   in 0.29.0. diffusers 0.28.2 sets no upper bound on huggingface_hub, so pip happily installs the new
#   hub next to the old diffusers. (Later releases added one: the wheels of diffusers 0.36 and 0.39
#   require hub below 2.0.) On Python 3.12 and later the error ends with `Did you mean: 'hf_hub_download'?`.
#
# ## 11. Diagnose it: `explain` and `doctor`
#
# `svd-learn explain` (or `compat.explain` in Python) reads an error text, a whole pasted traceback
# included, and names the known error, the versions involved and the fix:

# %%
diagnoses = compat.explain(result.error_text)
assert [d.id for d in diagnoses] == ["cached_download"]

# %% [markdown]
# `svd-learn doctor` looks at the installed versions instead, before anything fails. Its table differs
# on every machine (run `compat.doctor()` in a cell to see yours). Here is its verdict for Colab's own
# stack with the old notebook's `diffusers==0.28.2` pin, and for this environment:

# %%
# Colab's preinstalled stack in 2026-08 (from its published pip freeze), plus an old notebook's pin.
colab_with_old_pin = {"torch": "2.11.0", "numpy": "2.1.3", "huggingface_hub": "1.27.0", "transformers": "5.15.0",
                      "accelerate": "1.14.0", "diffusers": "0.28.2"}
findings = compat.check_environment(versions=colab_with_old_pin)
for finding in findings:
    print(f"Colab + diffusers==0.28.2: {finding.title} [{finding.id}] ({finding.detail})")
assert "cached_download" in [f.id for f in findings]
here = [f.id for f in compat.check_environment()]
print("this environment:", here or "no known-bad combination")
assert "cached_download" not in here

# %% [markdown]
# **What to paste into a bug report.** diffusers and huggingface_hub each have a command that prints your
# versions: `diffusers-cli env` and `hf env` (in a Colab cell: `!diffusers-cli env`). Their issue
# templates ask for this text. The output differs on every machine, so this cell's output is not checked;
# its asserts are:

# %%
# NBVAL_IGNORE_OUTPUT
import shutil


def run_tool(name, *arguments):
    """Run a command-line tool installed beside this Python (or on PATH), return what it printed."""
    beside = Path(sys.executable).parent / name
    executable = str(beside) if beside.exists() else shutil.which(name)
    return subprocess.run([executable, *arguments], capture_output=True, text=True, check=True).stdout


diffusers_env, hub_env = run_tool("diffusers-cli", "env"), run_tool("hf", "env")
print(diffusers_env.strip(), "\n")
print("\n".join(line for line in hub_env.splitlines() if "version" in line.lower()))
assert f"Diffusers version: {installed_version('diffusers')}" in diffusers_env
assert f"huggingface_hub version: {installed_version('huggingface_hub')}" in hub_env

# %% [markdown]
# `doctor` finds a second problem in that Colab stack. The traceback could not show it, because the import
# stopped at the first. diffusers before 0.35.2 imports `FLAX_WEIGHTS_NAME` from transformers, and
# transformers 5 removed it. Pinning `diffusers==0.29` would only move you to that error (see it with
# `svd-learn lab run flax_weights_name`). Upgrading diffusers to a current release fixes both.
#
# An old diffusers pin on today's Colab (huggingface_hub 1.x, transformers 5), row by row. The cell below
# builds the table from real imports. The lab installs each old diffusers next to a huggingface_hub 1.x and
# runs `import diffusers`. The `cached_download` row is the run from section 9.

# %%
def first_import_says(outcome):
    """The last line of what `import diffusers` printed, without the path in parentheses."""
    return outcome.error_text.strip().splitlines()[-1].split(" (")[0] if outcome.reproduced else "imports cleanly"


oldest_svd_pin = lab.run_reproduction("hf_cache_home", echo=lambda line: None)  # diffusers 0.24.0, quietly
print(f"{'installed':46}import diffusers")
for outcome in (oldest_svd_pin, result):
    print(f"{' '.join(outcome.broken_pins):46}{first_import_says(outcome)}")
assert oldest_svd_pin.fixed_pins == result.fixed_pins  # both fixed steps install the same: Colab's own pair
print(f"{' '.join(result.fixed_pins):46}{'imports cleanly' if oldest_svd_pin.fixed_ok and result.fixed_ok else 'FAILS'}")
assert oldest_svd_pin.reproduced and "hf_cache_home" in first_import_says(oldest_svd_pin)
assert "cached_download" in first_import_says(result)
assert oldest_svd_pin.fixed_ok and result.fixed_ok and "diffusers==0.39.0" in result.fixed_pins

# %% [markdown]
# | pinned diffusers | on huggingface_hub 1.x and transformers 5 | reproduce it |
# |---|---|---|
# | 0.24.0 (the first with SVD) | `import diffusers` fails: `hf_cache_home` is gone (hub 1.0) | the cell above |
# | 0.25.0 to 0.28.2 | `import diffusers` fails: `cached_download` is gone (hub 0.26) | section 9 |
# | 0.29.0 to 0.35.1 | importing the SVD pipeline fails: `FLAX_WEIGHTS_NAME` is gone (transformers 5) | `svd-learn lab run flax_weights_name` |
# | 0.39.0 (Colab's own) | imports and runs | the "fixed" lines above |
#
# The third row needs torch in the throwaway environment, a large download, so this notebook does not run
# it. `svd-learn lab run flax_weights_name` does, and the course's tests run it.

# %% [markdown]
# ## 12. Fix it the right way
#
# The lab's last step installed `diffusers==0.39.0` (Colab's own, in 2026) and ran the same
# `import diffusers` cleanly:

# %%
print("fixed pins:", " ".join(result.fixed_pins), "->", "imports cleanly" if result.fixed_ok else "FAILS")
assert result.fixed_ok

# %% [markdown]
# The fix is to **upgrade diffusers** (`pip install -U "diffusers>=0.39"`), not to downgrade
# huggingface_hub. The tempting `pip install huggingface_hub==0.25.2` (the last release with
# `cached_download`) breaks the library next to it: transformers 5 declares which huggingface_hub it
# accepts, and 0.25.2 is far outside it. Read it from the installed transformers:

# %%
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version

hub_requirement = next(r for r in map(Requirement, metadata.requires("transformers")) if r.name.lower().replace("_", "-") == "huggingface-hub" and r.marker is None)
print(f"transformers {metadata.version('transformers')} requires {hub_requirement}")
print("accepts huggingface_hub 0.25.2:", hub_requirement.specifier.contains("0.25.2"))
assert not hub_requirement.specifier.contains("0.25.2")
lowest = max(Version(s.version) for s in hub_requirement.specifier if s.operator in (">=", ">"))
print(f"every huggingface_hub that transformers accepts is >= {lowest}: none has cached_download (removed in 0.26.0)")
assert lowest >= Version("0.26.0")

# %% [markdown]
# pip warns about such a conflict and installs anyway. Then `import transformers` fails, and SVD needs
# transformers (its image encoder is a CLIP model). The lab shows it: transformers 5.0.0, then
# `pip install huggingface_hub==0.25.2`, then `import transformers`:

# %%
old_pin = lab.run_reproduction("old_hub_pin")
assert old_pin.reproduced and old_pin.fixed_ok
print("\nthe last line:", old_pin.error_text.splitlines()[-1].split(" (")[0])

# %% [markdown]
# transformers 5.0.0 imports names that only huggingface_hub 1.x has (here `is_offline_mode`). So the
# import fails before transformers even gets to check the versions it declared.
#
# An old hub cannot serve both an old diffusers and a new transformers. A new diffusers works with both.
#
# ## 13. The Colab restart rule
#
# Python imports a module once per process. A `pip install` in a running notebook changes the files on
# disk, not the modules already imported. The old version stays loaded. Colab warns:
# `The following packages were previously imported in this runtime: [...] You must restart the runtime in
# order to use newly installed versions.` The lab shows it in a throwaway environment. A process imports
# huggingface_hub 1.3.4, installs 1.27.0 (as a `!pip install` cell would), and compares:

# %%
stale = lab.run_reproduction("stale_module")
assert stale.reproduced and stale.fixed_ok

# %% [markdown]
# The rule: **install in the first cell, before any import; if you install later, restart the runtime**
# (Runtime > Restart session) and run the notebook from the top. The course's `check_requirements()` (in
# every setup cell) compares the loaded and the installed version of each library and tells you when a
# restart is needed. In this notebook they agree:

# %%
from svd_learn.environment import installed_version, loaded_version

for name in ["huggingface_hub", "diffusers", "transformers"]:
    print(f"{name:16} loaded {loaded_version(name)}  installed {installed_version(name)}")
    assert loaded_version(name) == installed_version(name)

# %% [markdown]
# ## Things to try
# - Download with `revision="dev"` and load the pipeline: which scheduler setting do you get?
# - Delete the `main` snapshot with `delete_revisions` and load with `local_files_only=True`: read the error.
# - Run `svd-learn lab list`, then reproduce another error with `svd-learn lab run ID`.
# - Paste a traceback from an old notebook into `svd-learn explain -`.

# %% [markdown]
# ## Summary
# - `from_pretrained(repo, variant="fp16")` downloads configs and `*.fp16.safetensors` only: 4.2 GiB for
#   SVD-XT instead of 8.4 GiB. `hf_hub_download` fetches one file, `snapshot_download(allow_patterns=...)` a part.
# - The cache is `blobs/` (content, named by hash), `snapshots/<commit>/` (links) and `refs/` (branch -> commit).
# - Branches move, commits do not: pin `revision="<commit hash>"` for a reproducible notebook (and a cache
#   hit with no request at all).
# - `HF_ENDPOINT` and `HF_HUB_OFFLINE` are read at import; `local_files_only=True` works per call.
# - `scan_cache_dir().delete_revisions(...)` frees only blobs no other revision uses.
# - `cached_download`: upgrade diffusers (>= 0.29; 0.39+ on today's Colab), never pin huggingface_hub 0.25.2
#   (transformers 5 refuses it). Install first, then import; after a late install, restart.

# %% [markdown]
# ## Read next
# Two guides of `huggingface_hub`, the library this lesson called:
# - [Download files from the Hub](https://huggingface.co/docs/huggingface_hub/guides/download): read how to
#   download one file, then an entire repository. Look for `revision`, `allow_patterns`, and `local_dir` (a
#   plain folder instead of the cache).
# - [Understand caching](https://huggingface.co/docs/huggingface_hub/guides/manage-cache): read the cache's
#   layout (`refs`, `blobs` and `snapshots`, as in section 4), then how to scan and clean it (section 7). Look
#   for `HF_HOME` and `HF_HUB_CACHE`: they move the cache, as the Drive cell of the other lessons does.
