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
# # Lección 3: descargas, revisiones y los errores de versiones
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/03_hub_and_versions.ipynb)
#
# **Qué vas a aprender.** Parte A: qué descarga `from_pretrained` del Hugging Face Hub, con y sin
# `variant="fp16"`; `hf_hub_download` y `snapshot_download`; cómo es la caché en tu disco; ramas (branches),
# *tags* y commits, y por qué fijar un commit hace reproducible un notebook; trabajar sin conexión; inspeccionar
# y limpiar la caché; tokens y repos de acceso restringido (gated). Parte B: el error más común en los notebooks
# antiguos de SVD, `cannot import name 'cached_download'` ("no se puede importar el nombre `cached_download`").
# Lo provocamos a propósito, leemos su traceback, lo diagnosticamos y lo corregimos de la forma correcta.

# %% [markdown]
# **La idea.** Un modelo en el Hub es un repositorio git. Cada descarga indica una *revisión* (una rama, un tag
# o un commit). El cliente guarda lo que descargó en una caché organizada por commit. Los errores de versiones
# son la misma historia, un nivel más arriba. Cada biblioteca fija un rango de versiones de las demás. Una
# versión fijada hace tiempo se rompe cuando el resto de las bibliotecas avanza.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
LANGUAGE = "es"  # the language of svd-learn's messages: "en" or "es" (the Spanish edition says "es")
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
# ## Un Hub real en esta máquina
#
# Esta lección no descarga nada de huggingface.co. Ejecuta un servidor compatible con el Hub (olah, de PyPI) en
# `127.0.0.1` y configura el cliente para que lo use. olah funciona desde su propio entorno pequeño, creado en
# su primer arranque (unos segundos con uv), así que no cambia ninguna biblioteca de este notebook. El servidor
# responde a la misma API HTTP que el Hub. Sirve un repo del curso, `svd-learn/tiny-svd-xt`: la estructura y las
# clases reales de SVD-XT, con pesos aleatorios diminutos. El repo es un repositorio git con historial:
#
# | commit | mensaje | qué cambió | refs |
# |---|---|---|---|
# | 1 | `Add full-precision weights` | configuraciones, `*.safetensors` (fp32) | tag `v1.0` |
# | 2 | `Add the fp16 variant` | `*.fp16.safetensors` | rama `main` |
# | 3 | `Try trailing timestep spacing` | configuración del scheduler | rama `dev` |

# %% [markdown]
# `huggingface_hub` lee la variable `HF_ENDPOINT` **una sola vez, al importarse**. Por eso elegimos el puerto,
# definimos la variable y solo entonces iniciamos el servidor (que importa diffusers, que importa huggingface_hub).

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
# # Parte A: cómo funcionan las descargas
#
# ## 1. Qué descarga `from_pretrained`
#
# `server.clear_log()` olvida las peticiones anteriores. `server.requests()` lista las que llegaron después,
# como `(method, path, status)`. La función auxiliar de abajo conserva los nombres de archivo de las descargas
# (`GET .../resolve/<revision>/<file>`).

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
# Con `variant="fp16"`, diffusers descarga `model_index.json`, la configuración de cada componente y solo los
# pesos `*.fp16.safetensors`. El repo también tiene archivos en precisión completa; no llegó ninguno. Aquí está
# cada petición que hizo el cliente, en orden de llegada (las descargas de archivos van en paralelo, así que las
# mostramos ordenadas):

# %%
api_requests = [r for r in fp16_requests if "/resolve/" not in r[1]]
file_requests = sorted((r for r in fp16_requests if "/resolve/" in r[1]), key=lambda r: (r[1], r[0]))
for method, path, status in api_requests + file_requests:
    print(f"{method:4} {status} {path}")
assert api_requests[0][:2] == ("GET", f"/api/models/{REPO}")  # 1. which files does the repo have at main?

# %% [markdown]
# Cómo leerlo:
# 1. `GET /api/models/{repo}`: la lista de archivos del repo en su rama por defecto, y el commit al que apunta
#    esa rama (`huggingface_hub.model_info`). diffusers elige de esa lista los archivos que necesita.
# 2. `GET /api/models/{repo}/revision/main` y `.../tree/<commit>`: `snapshot_download` averigua a qué commit
#    apunta `main` y luego lista los archivos de ese commit. Cada petición posterior nombra el **commit**, no
#    `main`. Así, una descarga nunca mezcla archivos de dos commits, aunque alguien suba un commit nuevo
#    mientras tanto. (huggingface_hub 1.4, la versión de la imagen de Colab de 2026-02, no pide `tree`: toma la
#    lista de archivos de la respuesta a `revision`.)
# 3. Para cada archivo, `HEAD .../resolve/<commit>/<file>` (tamaño, `ETag` = hash del contenido,
#    `X-Repo-Commit`), y luego `GET` para el contenido.
#
# En huggingface.co, los archivos grandes reciben otra respuesta (una redirección a un servidor de contenido, o
# el protocolo de almacenamiento Xet). Así que cuenta aquí las peticiones para aprender el flujo, no el tráfico
# exacto del Hub.
#
# Ahora sin variante, en precisión completa:

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
# Solo se descargaron los tres archivos de pesos en precisión completa. Los archivos de configuración no se
# descargaron otra vez. Ya estaban en la caché, en `snapshots/<commit>/`, y un archivo en un commit dado nunca
# puede cambiar. Así que el cliente no necesita descargarlo para confiar en él. (Algunas versiones de diffusers,
# como la 0.39 de Colab, todavía envían un `HEAD .../resolve/main/model_index.json` para saber a qué commit
# apunta `main` ahora.)
#
# ¿Cuántos bytes son? La lista de archivos del repo incluye el tamaño de cada archivo:

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
# Para el SVD-XT real no hace falta descargar nada. Los archivos de pesos guardan 2 bytes por parámetro en fp16
# y 4 en fp32, más una pequeña cabecera. Cuenta los parámetros de la arquitectura real (construida en el
# dispositivo `meta` de PyTorch, sin memoria, como en la lección 1):

# %%
real = models.full_size_architecture("svd-xt")
real_parameters = {name: models.count_parameters(real[name]) for name in models.MODEL_COMPONENTS}
total = sum(real_parameters.values())
for name, count in real_parameters.items():
    print(f"{name:14}{count:>15,} parameters  fp16 {count * 2 / 2**30:5.2f} GiB  fp32 {count * 4 / 2**30:5.2f} GiB")
print(f"{'total':14}{total:>15,} parameters  fp16 {total * 2 / 2**30:5.2f} GiB  fp32 {total * 4 / 2**30:5.2f} GiB")
assert 2.2e9 < total < 2.3e9

# %% [markdown]
# `from_pretrained(..., variant="fp16")` descarga unos 4.2 GiB para SVD-XT (las páginas del Hub dicen 4.5 GB,
# con GB = 10^9 bytes). Sin la variante descarga unos 8.4 GiB. Luego los convierte a fp16 de todos modos si
# pides `torch_dtype=torch.float16`. En Colab, pasa siempre `variant="fp16"`: la mitad de descarga, la mitad
# de disco y los mismos pesos fp16 en memoria.
#
# Una variante es solo un nombre de archivo. Una revisión que no tiene esos archivos falla, y lo dice. El tag
# `v1.0` es el commit de antes de añadir los archivos fp16:

# %%
try:
    StableVideoDiffusionPipeline.from_pretrained(REPO, revision=hub.TAG, variant="fp16")
    raise AssertionError("v1.0 has no fp16 files: this should have failed")
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
    assert "variant=fp16" in str(error)

# %% [markdown]
# ## 2. Un archivo: `hf_hub_download`
#
# `hf_hub_download(repo, filename)` descarga un archivo (o lo encuentra en la caché) y devuelve su ruta.
# `get_hf_file_metadata` muestra la respuesta a la petición `HEAD` que lo decide:

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
# La ruta está dentro de la caché, en `snapshots/<commit>/`: el commit al que apuntaba `main`. Para un archivo
# de pesos, el ETag es el SHA-256 de su contenido (se guarda con Git LFS). El cliente nombra los archivos de la
# caché por su ETag, como muestra la sección siguiente.
#
# ## 3. Varios archivos: `snapshot_download` con `allow_patterns`
#
# `snapshot_download` descarga una revisión entera, o la parte que coincide con `allow_patterns` (patrones al
# estilo de la shell). Aquí: todos los archivos JSON (las configuraciones, sin pesos) de la rama `dev`.

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
# Seis archivos de configuración, sin pesos, y solo uno de ellos descargado. En `dev`, la configuración del
# scheduler es distinta de la de `main`. Los otros cinco tienen el mismo contenido que archivos que ya están en
# la caché. La respuesta a `HEAD` trae el hash del contenido (ETag). El cliente encontró en su caché un archivo
# con ese hash y lo enlazó, en lugar de descargarlo otra vez. La caché guarda contenidos, no nombres de archivo,
# como muestra la sección siguiente.
#
# `from_pretrained` en sí es `snapshot_download` con patrones calculados a partir de `model_index.json` y de la
# variante. Cuando necesitas una parte de un repo grande (un componente, un formato), `allow_patterns` es la
# forma de saltarte el resto.
#
# ## 4. La caché: blobs, snapshots, refs
#
# Todo lo anterior fue a una sola carpeta, `$HF_HOME/hub` (por defecto `~/.cache/huggingface/hub`):

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
# - `blobs/` guarda el contenido de cada archivo una sola vez, con su ETag como nombre.
# - `snapshots/<commit>/` reproduce los archivos del repo en ese commit, como enlaces simbólicos a `blobs/`.
# - `refs/<branch or tag>` es un archivo de texto con el commit al que apuntaba ese nombre en la última descarga.
# - Las versiones recientes de huggingface_hub también guardan `trees/` (listas de archivos, para que
#   `from_pretrained` funcione sin conexión) y `.no_exist/` (archivos que se sabe que faltan, para no volver a
#   pedirlos).
#
# Comprueba el nombre del blob de un archivo de pesos contra su contenido:

# %%
import hashlib

weights = repo_cache / "snapshots" / refs["main"] / "unet" / "diffusion_pytorch_model.fp16.safetensors"
weights_blob = weights.resolve().name
print("unet weights blob:", weights_blob, "= sha256 of the content = the ETag")
assert weights_blob == hashlib.sha256(weights.read_bytes()).hexdigest() == metadata.etag

# %% [markdown]
# ## 5. Revisiones: rama, tag, commit
#
# Cada descarga acepta `revision=`: una rama (`main`, `dev`), un tag (`v1.0`) o el hash de un commit. Las ramas
# y los tags del repo:

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
# `dev` contiene un cambio que los autores están probando. Las ramas se mueven; un commit nunca cambia. Supón
# que ahora los autores fusionan (merge) `dev` en `main`, como pasa en el Hub sin aviso:

# %%
pinned = refs["main"]  # the commit this notebook was written against
hub.fast_forward(server.repo_path, "main", to="dev")  # the authors push: main moves to dev's commit

print("main now:        ", timestep_spacing("main"))
print("pinned commit:   ", timestep_spacing(pinned))
assert timestep_spacing("main") == "trailing" and timestep_spacing(pinned) == "leading"
assert (repo_cache / "refs" / "main").read_text() == refs["dev"]

# %% [markdown]
# La misma línea, `from_pretrained(repo)`, ahora construye un scheduler distinto. Un notebook que decía
# `revision="main"` (o nada) cambió sus resultados sin avisar. El que fijó el commit, no. Fijar el commit
# también hace que baste con la caché. Un archivo en un hash de commit que ya está en la caché no necesita
# ninguna petición.

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
# diffusers todavía pide una vez la lista de archivos en ese commit (para elegir los archivos de la variante).
# Luego toma cada archivo de la caché: ni `HEAD` ni `GET`.

# %% [markdown]
# Para fijar un modelo real: abre su página en el Hub, "Files and versions", "History", copia el hash del
# commit y pasa `revision="<hash>"` a cada `from_pretrained`. Un tag (`v1.0`) se lee mejor, pero en el Hub
# los autores pueden mover o borrar un tag. Solo el hash de un commit es fijo.
#
# ## 6. Sin conexión: `HF_HUB_OFFLINE` y `local_files_only`
#
# `HF_HUB_OFFLINE=1` hace que cada llamada use solo la caché, sin una sola petición. Como `HF_ENDPOINT`, se
# lee al importar huggingface_hub. Por eso lo mostramos en un proceso de Python nuevo:

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
# En un notebook en marcha, pasa en cambio `local_files_only=True` a una sola llamada. Para probar que no
# necesita el servidor, primero detenemos el servidor:

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
# Sin conexión, un nombre de rama se resuelve a través de `refs/` (el commit al que apuntaba en la última
# descarga). Así, una ejecución sin conexión puede usar un `main` desactualizado sin saberlo. Otra razón para
# fijar el commit.
#
# Tu huggingface_hub puede negarse con `IncompleteSnapshotError` (la celda de arriba lo maneja). En ese caso,
# recuerda que una carpeta de snapshot `snapshots/<commit>/` es una carpeta de pipeline normal:
# `from_pretrained(that_folder)` la lee sin red y sin preguntas.
#
# ## 7. Inspeccionar y limpiar la caché
#
# `scan_cache_dir()` lee la caché. `delete_revisions(...)` planea un borrado, te dice cuánto libera y lo hace al
# llamar a `.execute()`. (Desde una terminal, las versiones recientes de huggingface_hub tienen `hf cache ls` y
# `hf cache rm`.)

# %%
from huggingface_hub import scan_cache_dir

info = scan_cache_dir()
repo_info = next(r for r in info.repos if r.repo_id == REPO)
print(f"{repo_info.repo_id}: {repo_info.size_on_disk / 1e6:.2f} MB on disk, {len(repo_info.revisions)} revisions")
for revision in sorted(repo_info.revisions, key=lambda r: r.nb_files):
    print(f"  {revision.commit_hash}  {revision.nb_files:2} files  {revision.size_on_disk:>10,} bytes  refs: {', '.join(sorted(revision.refs)) or 'none'}")
assert {r.commit_hash: set(r.refs) for r in repo_info.revisions}[pinned] == set()

# %% [markdown]
# Hay tres commits en la caché. El que tiene los 13 archivos es el `main` antiguo: ya no apunta a él ninguna
# ref (`main` pasó al commit de `dev` en la sección 5). Una revisión así, *desconectada* (detached), es lo que
# se suele limpiar (`hf cache prune` las borra todas).
# `delete_revisions` primero hace un plan y dice cuánto liberaría:


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
# Borrar una revisión libera solo los blobs que no usa ninguna otra revisión de la caché. Cada archivo de `v1.0`
# que teníamos en la caché (`model_index.json`, la configuración del scheduler) tiene el mismo contenido que en
# el `main` antiguo: un solo blob, compartido por los dos. Por eso borrar `v1.0` no liberaría nada. Por eso,
# también, un commit nuevo que cambia un archivo de configuración añade a tu caché un blob pequeño, no una
# segunda copia de los pesos.
#
# ## 8. Tokens y repos de acceso restringido
#
# Algunos repos son de acceso restringido (gated). Tienes que aceptar su licencia en la página web del Hub, con
# tu sesión iniciada, y enviar un token con cada petición. De los tres checkpoints de SVD, uno lo es:

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
# - El cliente envía el token como `Authorization: Bearer <token>`. Dónde lo busca depende de la versión. Desde
#   huggingface_hub 1.19 (Colab tiene la 1.27): `token=`; si no, la variable de entorno `HF_TOKEN`; si no, el
#   archivo que escribió `hf auth login`; si no (en Colab), un secreto llamado `HF_TOKEN` en el panel Secrets.
#   Hasta la 1.18, el secreto de Colab iba antes que la variable y el archivo (se lee en `get_token`, en
#   `huggingface_hub/utils/_auth.py` de cada versión). `help(huggingface_hub.get_token)` describe la tuya. Usa
#   el panel Secrets: un token escrito en una celda acaba en el notebook guardado.
# - Sin acceso, un repo de acceso restringido responde con un error que el cliente lanza como `GatedRepoError`.
#   Es una subclase de `RepositoryNotFoundError`. Por eso, captura `GatedRepoError` primero si quieres
#   distinguirlos. La solución está en la página web (aceptar la licencia), y luego un token. Reintentar no
#   sirve.

# %% [markdown]
# **Lo que este servidor local no puede mostrar.** No tiene cuentas ni acceso restringido. Sirve todos los
# archivos a cualquiera e ignora los tokens. Así que no podemos mostrarte la respuesta real de un repo de acceso
# restringido, la página de la licencia ni un token rechazado. Además, cuando falta un archivo o una revisión,
# responde como si faltara el repo (`RepositoryNotFoundError`). El Hub lanza ahí `RemoteEntryNotFoundError` o
# `RevisionNotFoundError`, así que aquí no mostramos esos errores. Todo lo demás de arriba es el cliente real
# contra un servidor HTTP real.

# %% [markdown]
# # Parte B: los errores de versiones
#
# ## 9. Provocar `cached_download` a propósito
#
# Muchos notebooks de SVD de 2023 y 2024 fijan un diffusers antiguo. Ahora fallan en su primera importación:
#
# `ImportError: cannot import name 'cached_download' from 'huggingface_hub'`
#
# Significa: no se puede importar el nombre `cached_download` desde `huggingface_hub`.
#
# El laboratorio del curso (lab) lo reproduce de verdad, en cuatro pasos:
# 1. un entorno virtual desechable;
# 2. las versiones fijadas, instaladas desde el registro de paquetes (con uv, un instalador rápido, si está
#    disponible);
# 3. la línea que falla, ejecutada ahí;
# 4. lo mismo con las versiones corregidas.
#
# Tu propio entorno no se toca.

# %%
from svd_learn import compat, lab
from svd_learn.environment import installed_version

result = lab.run_reproduction("cached_download")
assert result.reproduced and result.fixed_ok

# %% [markdown]
# ## 10. Leer el traceback
#
# Un traceback se lee de abajo arriba. La última línea es el error. Los marcos (frames) de arriba dicen quién lo
# pidió.

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
# - **El error**: `huggingface_hub` no tiene `cached_download`. La ruta entre paréntesis dice *qué*
#   huggingface_hub: el que está instalado en ese entorno.
# - **Qué archivo**: ni tu código ni huggingface_hub, sino `diffusers/utils/dynamic_modules_utils.py`. diffusers
#   0.28.2 importa `cached_download` al principio de ese archivo. Por eso falla incluso `import diffusers`.
# - **Qué versiones**: huggingface_hub eliminó `cached_download` en la 0.26.0; diffusers quitó esa importación
#   en la 0.29.0. diffusers 0.28.2 no pone límite superior a huggingface_hub. Así que pip instala sin quejarse
#   el hub nuevo junto al diffusers antiguo. (Versiones posteriores añadieron un límite: los wheels de diffusers
#   0.36 y 0.39 exigen un hub inferior a 2.0.) En Python 3.12 y posteriores, el error termina con `Did you mean:
#   'hf_hub_download'?` ("¿quisiste decir `hf_hub_download`?").
#
# ## 11. Diagnosticarlo: `explain` y `doctor`
#
# `svd-learn explain` (o `compat.explain` en Python) lee el texto de un error, incluso un traceback entero
# pegado. Luego nombra el error conocido, las versiones implicadas y la solución:

# %%
diagnoses = compat.explain(result.error_text)
assert [d.id for d in diagnoses] == ["cached_download"]

# %% [markdown]
# `svd-learn doctor`, en cambio, mira las versiones instaladas, antes de que algo falle. Su tabla es distinta
# en cada máquina (ejecuta `compat.doctor()` en una celda para ver la tuya). Aquí está su veredicto para las
# bibliotecas que trae Colab con la versión fijada `diffusers==0.28.2` del notebook antiguo, y para este entorno:

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
# **Qué pegar en un informe de error.** diffusers y huggingface_hub tienen cada uno un comando que imprime tus
# versiones: `diffusers-cli env` y `hf env` (en una celda de Colab: `!diffusers-cli env`). Sus plantillas de
# issues piden este texto. La salida es distinta en cada máquina. Por eso no se comprueba la salida de esta
# celda; se comprueban sus asserts:

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
# `doctor` encuentra un segundo problema en esas bibliotecas de Colab. El traceback no podía mostrarlo, porque
# la importación se detuvo en el primero. diffusers antes de la 0.35.2 importa `FLAX_WEIGHTS_NAME` de
# transformers, y transformers 5 lo eliminó. Fijar `diffusers==0.29` solo te llevaría a ese error (míralo con
# `svd-learn lab run flax_weights_name`). Actualizar diffusers a una versión actual corrige los dos.
#
# Aquí está, fila por fila, un diffusers antiguo fijado en el Colab de hoy (huggingface_hub 1.x, transformers
# 5). La celda de abajo construye la tabla con importaciones reales. El laboratorio instala cada diffusers
# antiguo junto a un huggingface_hub 1.x y ejecuta `import diffusers`. La fila de `cached_download` es la
# ejecución de la sección 9.

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
# | diffusers fijado | sobre huggingface_hub 1.x y transformers 5 | cómo reproducirlo |
# |---|---|---|
# | 0.24.0 (la primera con SVD) | `import diffusers` falla: `hf_cache_home` ya no existe (hub 1.0) | la celda de arriba |
# | 0.25.0 a 0.28.2 | `import diffusers` falla: `cached_download` ya no existe (hub 0.26) | sección 9 |
# | 0.29.0 a 0.35.1 | importar el pipeline de SVD falla: `FLAX_WEIGHTS_NAME` ya no existe (transformers 5) | `svd-learn lab run flax_weights_name` |
# | 0.39.0 (la de Colab) | se importa y funciona | las líneas "fixed" (corregido) de arriba |
#
# La tercera fila necesita torch en el entorno desechable, una descarga grande, así que este notebook no la
# ejecuta. `svd-learn lab run flax_weights_name` sí lo hace, y los tests del curso también.

# %% [markdown]
# ## 12. Corregirlo de la forma correcta
#
# El último paso del laboratorio instaló `diffusers==0.39.0` (la versión de Colab, en 2026) y ejecutó el mismo
# `import diffusers` sin errores:

# %%
print("fixed pins:", " ".join(result.fixed_pins), "->", "imports cleanly" if result.fixed_ok else "FAILS")
assert result.fixed_ok

# %% [markdown]
# La solución es **actualizar diffusers** (`pip install -U "diffusers>=0.39"`), no bajar de versión
# huggingface_hub. El tentador `pip install huggingface_hub==0.25.2` (la última versión con
# `cached_download`) rompe la biblioteca de al lado. transformers 5 declara qué versiones de huggingface_hub
# acepta, y la 0.25.2 queda muy fuera de ese rango. Léelo en el transformers instalado:

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
# pip avisa de ese conflicto e instala de todos modos. Entonces falla `import transformers`, y SVD necesita
# transformers (su codificador de imágenes es un modelo CLIP). El laboratorio lo muestra: transformers 5.0.0,
# luego `pip install huggingface_hub==0.25.2`, luego `import transformers`:

# %%
old_pin = lab.run_reproduction("old_hub_pin")
assert old_pin.reproduced and old_pin.fixed_ok
print("\nthe last line:", old_pin.error_text.splitlines()[-1].split(" (")[0])

# %% [markdown]
# transformers 5.0.0 importa nombres que solo tiene huggingface_hub 1.x (aquí, `is_offline_mode`). Así que la
# importación falla antes de que transformers llegue siquiera a comprobar las versiones que declaró.
#
# Un hub antiguo no puede servir a la vez a un diffusers antiguo y a un transformers nuevo. Un diffusers nuevo
# funciona con los dos.
#
# ## 13. La regla del reinicio en Colab
#
# Python importa un módulo una vez por proceso. Un `pip install` en un notebook en marcha cambia los archivos
# del disco, no los módulos ya importados. La versión antigua sigue cargada. Colab avisa: `The following
# packages were previously imported in this runtime: [...] You must restart the runtime in order to use newly
# installed versions.` Significa: esos paquetes ya se importaron en este entorno de ejecución (runtime), y
# tienes que reiniciarlo para usar las versiones recién instaladas. El laboratorio lo muestra en un entorno
# desechable. Un proceso importa huggingface_hub 1.3.4, instala la 1.27.0 (como haría una celda `!pip install`)
# y compara:

# %%
stale = lab.run_reproduction("stale_module")
assert stale.reproduced and stale.fixed_ok

# %% [markdown]
# La regla: **instala en la primera celda, antes de cualquier importación; si instalas más tarde, reinicia el
# entorno de ejecución** (Runtime > Restart session) y ejecuta el notebook desde el principio. El
# `check_requirements()` del curso, que está en cada celda de preparación (setup), compara la versión cargada y
# la instalada de cada biblioteca. Te avisa cuando hace falta reiniciar. En este notebook coinciden:

# %%
from svd_learn.environment import installed_version, loaded_version

for name in ["huggingface_hub", "diffusers", "transformers"]:
    print(f"{name:16} loaded {loaded_version(name)}  installed {installed_version(name)}")
    assert loaded_version(name) == installed_version(name)

# %% [markdown]
# ## Cosas para probar
# - Descarga con `revision="dev"` y carga el pipeline: ¿qué ajuste del scheduler obtienes?
# - Borra el snapshot de `main` con `delete_revisions` y carga con `local_files_only=True`: lee el error.
# - Ejecuta `svd-learn lab list` y luego reproduce otro error con `svd-learn lab run ID`.
# - Pega un traceback de un notebook antiguo en `svd-learn explain -`.

# %% [markdown]
# ## Resumen
# - `from_pretrained(repo, variant="fp16")` descarga solo los archivos de configuración y los
#   `*.fp16.safetensors`: 4.2 GiB para SVD-XT en vez de 8.4 GiB. `hf_hub_download` descarga un archivo;
#   `snapshot_download(allow_patterns=...)`, una parte.
# - La caché es `blobs/` (contenido, con el hash como nombre), `snapshots/<commit>/` (enlaces) y `refs/` (rama
#   -> commit).
# - Las ramas se mueven, los commits no: fija `revision="<commit hash>"` para tener un notebook reproducible (y
#   servir desde la caché sin ninguna petición).
# - `HF_ENDPOINT` y `HF_HUB_OFFLINE` se leen al importar; `local_files_only=True` funciona en cada llamada.
# - `scan_cache_dir().delete_revisions(...)` libera solo los blobs que no usa ninguna otra revisión.
# - `cached_download`: actualiza diffusers (>= 0.29; 0.39+ en el Colab de hoy). Nunca fijes huggingface_hub
#   0.25.2 (transformers 5 lo rechaza). Primero instala y luego importa; después de una instalación tardía,
#   reinicia.

# %% [markdown]
# ## Para seguir leyendo
# Dos guías de `huggingface_hub`, la biblioteca que llamó esta lección (en inglés):
# - [Download files from the Hub](https://huggingface.co/docs/huggingface_hub/guides/download): lee cómo
#   descargar un archivo, y después un repositorio entero. Busca `revision`, `allow_patterns` y `local_dir` (una
#   carpeta normal en lugar de la caché).
# - [Understand caching](https://huggingface.co/docs/huggingface_hub/guides/manage-cache): lee la estructura de
#   la caché (`refs`, `blobs` y `snapshots`, como en la sección 4), y después cómo inspeccionarla y limpiarla
#   (sección 7). Busca `HF_HOME` y `HF_HUB_CACHE`: mueven la caché, como la celda de Drive de las otras lecciones.
