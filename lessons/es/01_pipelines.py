# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lección 1: qué es un pipeline de diffusers
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/01_pipelines.ipynb)
#
# **Qué vas a aprender.** Qué construye de verdad `DiffusionPipeline.from_pretrained` cuando le pides Stable
# Video Diffusion (SVD). Verás la carpeta que lee, los cinco componentes que crea y el tamaño de cada uno. Verás
# también qué archivos de pesos elige y qué devuelve una llamada. Cada afirmación se comprueba en una celda de
# abajo.
#
# **La idea.** Un pipeline no es un solo modelo. Es una carpeta con un `model_index.json` que nombra los
# componentes, y una subcarpeta por componente. `from_pretrained` lee el índice. Construye cada componente con
# su propia biblioteca (diffusers o transformers). Luego se los entrega a una clase de pipeline que los ejecuta
# en orden.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
LANGUAGE = "es"  # the language of svd-learn's messages: "en" or "es" (the Spanish edition says "es")
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn import language, lesson_work, memory

language.use(LANGUAGE)  # every message below, and those of the commands this notebook runs

# Before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (section 9; lesson 4 explains).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("01_pipelines"))

# %% [markdown]
# **Opcional, en Colab: guarda los pesos en Google Drive.** Cada notebook que abres desde una insignia de Colab
# recibe una máquina nueva. Por eso vuelve a descargar los 4.2 GiB de pesos (unos minutos cada vez). Pon
# `KEEP_WEIGHTS_ON_DRIVE = True` abajo, y la celda monta tu Drive (Colab te pide permiso). Después hace que
# `HF_HOME`, la carpeta de caché de Hugging Face, apunte a tu Drive. Todas las lecciones ofrecen esta celda: con
# ella, las lecciones siguientes encuentran los archivos en tu Drive y no descargan nada. Necesitas unos 5 GiB
# libres en tu Drive.
#
# `huggingface_hub` lee `HF_HOME` una sola vez, cuando se importa. Así que ejecuta esta celda justo después de
# la celda de preparación (setup), antes de que algo lo importe. Fuera de Colab, la celda no hace nada.

# %%
from svd_learn.environment import keep_hub_cache_on_drive

KEEP_WEIGHTS_ON_DRIVE = False  # True: keep the Hub cache on your Google Drive (Colab only)
print(keep_hub_cache_on_drive(KEEP_WEIGHTS_ON_DRIVE))

# %% [markdown]
# La cabecera dice de dónde vienen los pesos: la *fuente del modelo* (model source). Sin GPU, el curso usa
# **pesos diminutos** (tiny): pesos aleatorios construidos con las clases reales. Todas las estructuras, formas
# y archivos de abajo son reales. Los números dentro de los pesos no lo son, así que los fotogramas generados
# son ruido. Con GPU, el curso usa los pesos reales de SVD-XT.
#
# ## 1. La carpeta que lee `from_pretrained`
#
# `pipeline_location` da lo que el curso le pasa a `from_pretrained`. Para el modelo real, es el id del repo en
# el Hub. Para los pesos diminutos, es una carpeta local (se construye una sola vez, en más o menos un segundo).
# En los dos casos, la estructura es la del Hub, archivo por archivo.

# %%
from pathlib import Path

from svd_learn import models

location = models.pipeline_location(source.name, "svd-xt")
print("from_pretrained will read:", location if source.name == "pretrained" else "a local folder in the Hub layout")

# %% [markdown]
# `from_pretrained` hace dos trabajos. Primero consigue una carpeta: un id de repo se descarga en la caché del Hub
# (la lección 3 enseña la caché). Después construye el pipeline a partir de esa carpeta.
# `DiffusionPipeline.download` hace solo el primer trabajo y devuelve la carpeta. Con el modelo real, esta celda
# descarga los 4.2 GiB de pesos (unos minutos en Colab; los tamaños de abajo están en MiB, 2^20 bytes). Después,
# las celdas siguientes los encuentran en la caché.

# %%
from diffusers import DiffusionPipeline

folder = Path(location) if Path(location).is_dir() else Path(DiffusionPipeline.download(location, variant="fp16"))
for path in sorted(folder.rglob("*")):
    if path.is_file():
        kind = "weights" if path.suffix == ".safetensors" else "config"
        print(f"{kind:8}{path.stat().st_size / 2**20:9.1f} MiB  {path.relative_to(folder)}")
assert (folder / "model_index.json").is_file()

# %% [markdown]
# Hay tres tipos de archivo. `model_index.json` es el índice. Hay un pequeño archivo de configuración JSON por
# componente: describe la arquitectura (tamaños, número de capas). Y hay archivos de pesos `.safetensors`, solo
# para los componentes que son redes neuronales. El scheduler y el extractor de características
# (`feature_extractor`) tienen configuración, pero no tienen pesos.
#
# La carpeta de los pesos diminutos tiene dos archivos de pesos por red: fp32 y fp16. Del Hub solo bajaron los
# archivos fp16: los eligió `variant="fp16"` (sección 4).
#
# ## 2. `model_index.json`: el índice

# %%
import json

from diffusers import __version__ as diffusers_version

index = DiffusionPipeline.load_config(location)
print(json.dumps({k: v for k, v in index.items() if k != "_diffusers_version"}, indent=2))  # that one: next cell

# %% [markdown]
# `_diffusers_version` registra qué versión de diffusers escribió el archivo. Es un registro, no un requisito de
# versión. Las carpetas de las fuentes `tiny` y `random` las escribe la versión de diffusers instalada aquí. El
# `model_index.json` del SVD-XT real lo escribió la 0.24.0.dev0, justo antes de que se publicara SVD (el curso
# incluye una copia, tomada del Hub). La versión actual de diffusers todavía lo carga: en Colab, lo hace cada
# lección.

# %%
real_index = json.loads((models.DATA / "svd-xt-config" / "model_index.json").read_text())
print("this model_index.json was written by the diffusers installed here:", index["_diffusers_version"] == diffusers_version)
print("stabilityai/stable-video-diffusion-img2vid-xt was written by diffusers", real_index["_diffusers_version"])
assert real_index["_diffusers_version"] == "0.24.0.dev0"
assert index["_diffusers_version"] in (diffusers_version, real_index["_diffusers_version"])  # built here, or the Hub's

# %% [markdown]
# Cada componente corresponde a un par `[library, class]` (biblioteca, clase). `_class_name` es la clase del
# pipeline. Así es como el método genérico `DiffusionPipeline.from_pretrained` sabe que
# debe construir un `StableVideoDiffusionPipeline`:

# %%
import torch

dtype = torch.float16 if torch.cuda.is_available() else torch.float32  # fp16 on a GPU; a CPU computes in fp32
pipe = DiffusionPipeline.from_pretrained(location, variant="fp16", torch_dtype=dtype)  # torch_dtype=: see section 5
print(type(pipe).__name__)
assert type(pipe).__name__ == index["_class_name"] == "StableVideoDiffusionPipeline"
for name, component in pipe.components.items():
    library, class_name = index[name]
    print(f"{name:18} index: {library}.{class_name:34} built: {type(component).__module__.split('.')[0]}.{type(component).__name__}")
    assert type(component).__module__.startswith(library)
    assert type(component).__name__.startswith(class_name)  # see the note below on CLIPImageProcessorPil
assert set(pipe.components) == {name for name in index if not name.startswith("_")}

# %% [markdown]
# Cada componente lo construyó la biblioteca que nombra su entrada en el índice. Quizá veas un detalle: si
# torchvision no está instalado, transformers construye `CLIPImageProcessorPil` en lugar de
# `CLIPImageProcessor` (y muestra un aviso). Hace el mismo preprocesamiento con Pillow. En Colab, torchvision
# está instalado y obtienes la clase que nombra el índice.

# %% [markdown]
# ## 3. Los componentes: clase, tamaño, dtype, dispositivo
#
# `pipe.components` es un diccionario normal de Python con los objetos que tiene el pipeline.

# %%
def show_components(rows):
    print(f"{'component':18}{'class':36}{'parameters':>14}  {'dtype':8}{'device':7}{'MB':>9}")
    for row in rows:
        if "parameters" in row:
            print(f"{row['component']:18}{row['class']:36}{row['parameters']:>14,}  {row['dtype']:8}{row['device']:7}{row['bytes'] / 1e6:>9.2f}")
        else:
            print(f"{row['component']:18}{row['class']:36}{'(config only)':>14}")


show_components(models.describe_components(pipe))

# %% [markdown]
# El modelo diminuto tiene unos 2 millones de parámetros. El SVD-XT real tiene 2.25 **mil millones**. No hace
# falta descargar 4.2 GiB para verlo. Construimos la arquitectura real en el dispositivo `meta` de PyTorch, que
# registra las formas y no reserva memoria.

# %%
real = models.full_size_architecture("svd-xt")
real_counts = {name: models.count_parameters(real[name]) for name in models.MODEL_COMPONENTS}
for name, count in real_counts.items():
    print(f"{name:14}{type(real[name]).__name__:36}{count:>15,} parameters  {count * 2 / 2**30:5.2f} GiB in fp16")
total = sum(real_counts.values())
print(f"{'total':50}{total:>15,} parameters  {total * 2 / 2**30:5.2f} GiB in fp16")
assert real_counts == {"unet": 1_524_623_082, "image_encoder": 632_076_800, "vae": 97_742_847}
assert next(real["unet"].parameters()).device.type == "meta"  # nothing was allocated

# %% [markdown]
# La UNet es dos tercios del modelo. En fp16 (2 bytes por parámetro), solo los pesos ocupan 4.2 GiB. En fp32
# ocuparían 8.4 GiB, más de la mitad de la RAM de una sesión gratuita de Colab. Por eso el curso siempre carga
# en fp16.
#
# **Unidades.** En este curso, los tamaños están en GiB (1 GiB = 2^30 bytes), como los muestra PyTorch. Las
# páginas del Hub usan GB (10^9 bytes): allí, los mismos 4.2 GiB son 4.5 GB.
#
# ## 4. `variant="fp16"` elige los archivos de pesos
#
# El repo incluye cada modelo dos veces: `diffusion_pytorch_model.safetensors` (fp32) y
# `diffusion_pytorch_model.fp16.safetensors`. `variant="fp16"` le dice a `from_pretrained` que lea el segundo.
# La prueba: un archivo safetensors empieza con una pequeña cabecera que registra el dtype de cada tensor.
# `safetensors.safe_open` lee esa cabecera sin cargar los pesos.

# %%
from safetensors import safe_open

for name in ("diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.safetensors"):
    path = folder / "unet" / name
    if path.exists():
        with safe_open(path, framework="pt") as weights:
            stored = weights.get_slice("conv_in.weight").get_dtype()
        print(f"unet/{name:42} stores conv_in.weight as {stored}")
    else:
        print(f"unet/{name:42} not downloaded: variant='fp16' chose the other file")
with safe_open(folder / "unet" / "diffusion_pytorch_model.fp16.safetensors", framework="pt") as weights:
    assert weights.get_slice("conv_in.weight").get_dtype() == "F16"

# %% [markdown]
# El *archivo* decide qué valores obtienes y cuánto descargas. El *argumento dtype* decide qué queda en memoria.
# Carga una red desde el archivo fp16 sin `torch_dtype=`: diffusers te da float32, el doble de memoria. (El VAE
# es la red más pequeña: 0.2 GiB en fp16.)

# %%
from diffusers import AutoencoderKLTemporalDecoder

vae = AutoencoderKLTemporalDecoder.from_pretrained(location, subfolder="vae", variant="fp16")  # no torch_dtype
print("VAE read from its fp16 file, without torch_dtype: in memory as", vae.dtype)
assert vae.dtype == torch.float32
del vae

# %% [markdown]
# En una GPU quieres las dos cosas: los archivos fp16 y fp16 en memoria. Por eso la sección 2 pasó
# `variant="fp16", torch_dtype=dtype`.
#
# ## 5. `torch_dtype=`, no `dtype=`: una trampa en Colab
#
# diffusers 0.40 añadió un nombre nuevo para el argumento: `dtype=` (transformers hizo lo mismo). El nombre
# antiguo, `torch_dtype=`, sigue funcionando en esa versión. Solo muestra un aviso: desaparecerá en
# diffusers 1.0. Las versiones anteriores de diffusers, como la 0.39 de Colab en 2026, solo conocen
# `torch_dtype=`.

# %% [markdown]
# **La trampa.** Copia `dtype=torch.float16` de la documentación actual en un Colab con diffusers 0.39. Nada
# falla. diffusers escribe una línea de aviso en su registro (log), ignora el argumento y carga el modelo en
# fp32: el doble de memoria. El código fuente lo confirma. En diffusers 0.39.0,
# `DiffusionPipeline.from_pretrained` solo toma `torch_dtype` de sus argumentos. Todos los argumentos que no
# conoce acaban en un único aviso (`src/diffusers/pipelines/pipeline_utils.py`):
#
# `logger.warning(f"Keyword arguments {unused_kwargs} are not expected by {pipeline_class.__name__} and will be
# ignored.")`
#
# El aviso dice que la clase del pipeline no espera esos argumentos y que los va a ignorar. Por eso este curso
# siempre escribe `torch_dtype=`: todas las versiones de diffusers con SVD lo aceptan.

# %% [markdown]
# No podemos instalar diffusers 0.39 dentro de este notebook. Pero ese aviso sigue en la versión actual de
# diffusers, y para la 0.39 `dtype` es solo un nombre que no conoce. Así que pasamos un nombre que la versión
# actual tampoco conoce, y miramos qué pasa. Pasamos también todos los componentes (`**pipe.components`). Así,
# `from_pretrained` los reutiliza en lugar de cargarlos: un segundo modelo completo necesitaría otros 4.2 GiB de
# memoria.

# %%
import logging
import warnings

import diffusers
from packaging.version import Version


class KeepMessages(logging.Handler):
    """Keeps the messages that diffusers logs (they also go to the notebook, in red)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


kept = KeepMessages()
logging.getLogger("diffusers").addHandler(kept)
unknown = DiffusionPipeline.from_pretrained(location, variant="fp16", a_name_it_does_not_know=torch.float16, **pipe.components)
logging.getLogger("diffusers").removeHandler(kept)
print("logged:", kept.messages)
assert any("are not expected by StableVideoDiffusionPipeline and will be ignored" in m for m in kept.messages)

# %% [markdown]
# En diffusers 0.40 y posteriores, `torch_dtype=` funciona y muestra un aviso (un `FutureWarning`). El aviso no
# hace daño: el dtype se usa.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reused = DiffusionPipeline.from_pretrained(location, variant="fp16", torch_dtype=dtype, **pipe.components)
warned = any("torch_dtype" in str(w.message) for w in caught)
print("diffusers >= 0.40:", Version(diffusers.__version__).release >= (0, 40), "| torch_dtype= warned:", warned, "| dtype in memory:", reused.dtype)
assert warned == (Version(diffusers.__version__).release >= (0, 40)) and reused.dtype == dtype
del unknown, reused

# %% [markdown]
# ## 6. Guardar y cargar una carpeta de pipeline
#
# `save_pretrained` escribe la misma estructura que viste en la sección 1. `from_pretrained` sobre esa carpeta
# devuelve pesos idénticos. Nombra la variante según lo que guardas: `variant="fp16"` promete tensores fp16.
# Por eso, un pipeline en fp32 (como aquí, en una CPU) se guarda sin variante.
#
# Para comprobar la ida y vuelta, recargamos un solo componente: el VAE. Con `subfolder=`, cualquier componente se
# puede cargar por separado. Y una segunda copia del modelo entero necesitaría otros 4.2 GiB de memoria.

# %%
import tempfile

variant = "fp16" if pipe.dtype == torch.float16 else None
saved = Path(tempfile.mkdtemp()) / "my-svd"
pipe.save_pretrained(saved, variant=variant)
print(sorted(str(p.relative_to(saved)) for p in saved.rglob("*.json")))
print(sorted(p.name for p in (saved / "vae").glob("*.safetensors")))
reloaded_vae = AutoencoderKLTemporalDecoder.from_pretrained(saved, subfolder="vae", variant=variant, torch_dtype=pipe.dtype)
same = all(torch.equal(a, b) for a, b in zip(pipe.vae.state_dict().values(), reloaded_vae.state_dict().values()))
print("round trip identical:", same)
assert same and next(reloaded_vae.parameters()).dtype == pipe.dtype
del reloaded_vae

# %% [markdown]
# ## 7. Cambiar el scheduler
#
# El scheduler convierte las predicciones de la UNet en una trayectoria de eliminación de ruido (denoising). No
# tiene pesos, solo una configuración. Por eso puedes reconstruirlo con otros ajustes. El de SVD usa sigmas de
# Karras que van de 700 a 0.002:

# %%
from diffusers import EulerDiscreteScheduler

print(type(pipe.scheduler).__name__, "use_karras_sigmas =", pipe.scheduler.config.use_karras_sigmas)
pipe.scheduler.set_timesteps(5)
print("Karras sigmas:", [round(s, 3) for s in pipe.scheduler.sigmas.tolist()])

plain = EulerDiscreteScheduler.from_config(pipe.scheduler.config, use_karras_sigmas=False)
plain.set_timesteps(5)
print("plain sigmas: ", [round(s, 3) for s in plain.sigmas.tolist()])
assert not torch.allclose(pipe.scheduler.sigmas, plain.sigmas)

# %% [markdown]
# Para usarlo, asígnalo: `pipe.scheduler = plain`. Los valores por defecto de la ficha del modelo (model card)
# se eligieron para la secuencia de sigmas de Karras. Cámbialo solo para experimentar.
#
# ## 8. Los componentes se pueden compartir
#
# Un pipeline nuevo construido con `pipe.components` tiene exactamente los mismos objetos: sin copias, sin
# memoria extra.

# %%
from diffusers import StableVideoDiffusionPipeline

twin = StableVideoDiffusionPipeline(**pipe.components)
print("same UNet object:", twin.unet is pipe.unet)
assert twin.unet is pipe.unet

# %% [markdown]
# ## 9. Qué devuelve una llamada
#
# SVD recibe una imagen y ningún prompt. Llamamos al pipeline con el tamaño con el que se entrenó el modelo, y
# con pocos pasos. Para los pesos diminutos, ese tamaño es el real, 576x1024, dividido entre 8. Esta lección
# trata de la estructura; la lección 2, de los parámetros.
#
# Dónde están las redes durante la llamada, y cuántos fotogramas decodifica el VAE a la vez, es la *receta para
# T4* del curso. Es lo que elige el planificador de memoria para una T4 (14.74 GiB de memoria de GPU, 12.7 GiB
# de RAM): la lección 4 mide por qué cabe. La celda la imprime, y también lo que tardan en una T4 las dos
# llamadas de abajo:

# %%
from svd_learn import planner, plans, t4

recipe = planner.choose_plan(memory.T4_GIB, 12.7).plan  # the planner's choice for a free Colab T4
print(f"the T4 recipe: {recipe.name} ({recipe.description})")
print(t4.describe_estimate(unet_steps=3 + 2, decoded_frames=2 * 25))

# %% [markdown]
# `plans.apply_plan` coloca el pipeline como dice la receta. En una CPU no hay nada que planificar: todo se
# ejecuta ahí. La llamada usa el `decode_chunk_size` de la receta.

# %%
from PIL import Image

checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((width, height))
device = "cuda" if torch.cuda.is_available() else "cpu"
plans.apply_plan(pipe, recipe, device)  # lesson 4, section 5: the diffusers calls behind each plan
result = pipe(image, height=height, width=width, num_inference_steps=3, decode_chunk_size=recipe.decode_chunk_size,
              generator=torch.Generator(device).manual_seed(0))
frames = result.frames
print(type(result).__name__, "| frames:", type(frames).__name__, "of", len(frames), "video(s),",
      len(frames[0]), "frames of", type(frames[0][0]).__name__, frames[0][0].size)
assert len(frames[0]) == checkpoint.num_frames == pipe.unet.config.num_frames

# %% [markdown]
# `frames` es una lista con una entrada por video. Cada entrada es una lista de imágenes PIL (ancho x alto).
# Con `output_type="np"` obtienes, en cambio, un solo array con la forma (videos, fotogramas, alto, ancho,
# canales):

# %%
array = pipe(image, height=height, width=width, num_inference_steps=2, decode_chunk_size=recipe.decode_chunk_size, output_type="np",
             generator=torch.Generator(device).manual_seed(0)).frames
print(type(array).__name__, array.shape, array.dtype, f"values in [{array.min():.2f}, {array.max():.2f}]")
assert array.shape == (1, checkpoint.num_frames, height, width, 3)

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 6, figsize=(18, 2.2))
axes[0].imshow(image)
axes[0].set_title("input image")
for ax, i in zip(axes[1:], range(0, checkpoint.num_frames, 6)):
    ax.imshow(frames[0][i])
    ax.set_title(f"frame {i}")
for ax in axes:
    ax.axis("off")
fig.suptitle(f"SVD-XT output, {source.name} weights" + (" (random weights: noise is expected)" if source.name != "pretrained" else ""))
plt.show()

# %% [markdown]
# ## Cosas para probar
# - Carga con `variant=None` y compara el tamaño de la descarga (la lección 3 lo mide).
# - Pon `plain` como `pipe.scheduler` y vuelve a llamar al pipeline.
# - Imprime `pipe.unet.config` y busca `num_frames`, `in_channels` (8: ¿por qué? Lo verás en la lección 2) y
#   `cross_attention_dim`.
# - Ejecuta con `SVD_LEARN_SOURCE=pretrained` en una GPU y compara la tabla de la sección 3 con los tamaños
#   reales.

# %% [markdown]
# ## Resumen
# - Un pipeline es una carpeta: `model_index.json` nombra un `[library, class]` por componente; `_class_name`
#   elige el pipeline.
# - SVD-XT = UNet (1520 millones de parámetros) + codificador de imágenes CLIP (630 millones) + VAE temporal
#   (100 millones) + scheduler + extractor de características: 4.2 GiB en fp16.
# - `from_pretrained` = descargar (`DiffusionPipeline.download`) + construir a partir de la carpeta.
# - `variant="fp16"` elige los *archivos* de pesos; `torch_dtype=` elige el dtype *en memoria*. Escribe
#   `torch_dtype=`: el diffusers 0.39 de Colab ignora `dtype=` y carga en fp32.
# - `save_pretrained` / `from_pretrained` guardan y recuperan una carpeta sin cambiar nada; los schedulers se
#   reconstruyen a partir de su configuración.
# - Una llamada devuelve `.frames`: una lista de imágenes PIL por video, con 25 fotogramas en SVD-XT.

# %% [markdown]
# ## Para seguir leyendo
# [diffusers: Pipelines](https://huggingface.co/docs/diffusers/api/pipelines/overview), la referencia de la clase
# que usó esta lección (en inglés). Lee su sección `DiffusionPipeline`. En `from_pretrained`, busca `variant`,
# `torch_dtype`, `use_safetensors` y `local_files_only`. Después lee `download`, `save_pretrained` y
# `components`. Todos se ejecutaron en esta lección; la página explica los argumentos que no usamos.
