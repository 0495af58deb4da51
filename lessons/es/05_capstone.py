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
# # Lección 5 (proyecto final): una imagen de entrada, un video SVD-XT de salida, en una T4 gratis
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/05_capstone.ipynb)
#
# **Qué vas a aprender.** Primero, la receta simple de diffusers para una T4, del final de la lección 4, con los
# ajustes de movimiento de la lección 2: la vas a ejecutar. Después, cómo las cuatro lecciones la refuerzan
# hasta formar un programa que no se cae. Ese programa revisa sus entradas y salidas antes de gastar tiempo de
# GPU. Elige un plan de memoria que cabe en la GPU que encuentra. Se recupera cuando la GPU se queda sin
# memoria. Escribe un video que todo navegador reproduce. Nunca deja un archivo a medias. Y registra lo que
# hizo. Lo vas a ejecutar, y luego vas a examinar cada decisión una por una.

# %% [markdown]
# **La idea.** La receta son unas pocas llamadas de diffusers. `svd_learn.generate.generate_video` es la misma
# receta, con las comprobaciones alrededor. `svd-learn generate IMAGE -o OUT.mp4` es esa función en la línea de
# comandos. Sus pasos, en orden:
#
# 1. revisar las salidas (no sobrescribir; crear la carpeta si falta);
# 2. cargar la imagen (lección 2): bien orientada, en RGB, redimensionada y recortada al centro al tamaño del
#    modelo;
# 3. los parámetros de la ficha del modelo (model card; lección 2), validados;
# 4. examinar la máquina y elegir un plan de memoria (lección 4);
# 5. cargar el pipeline (lección 1; el Hub y sus errores, lección 3), aplicar el plan, quitar el ruido,
#    decodificar; si CUDA se queda sin memoria (out of memory), liberar todo y bajar al siguiente plan de la
#    lista;
# 6. escribir el mp4 (y un GIF) con un nombre temporal, y luego renombrarlo a su lugar;
# 7. escribir un informe JSON junto al video.

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

# Must run before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (lesson 4, 2.6).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("05_capstone"))

# %% [markdown]
# **Opcional, en Colab: guarda los pesos en Google Drive** (la lección 1 lo explica). Con `KEEP_WEIGHTS_ON_DRIVE
# = True`, la celda monta tu Drive y guarda ahí la caché de Hugging Face. Si otra lección ya descargó los pesos
# en tu Drive, te ahorras la descarga de 4.2 GiB. Ejecútala justo después de la celda de preparación (setup).
# Fuera de Colab no hace nada.

# %%
from svd_learn.environment import keep_hub_cache_on_drive

KEEP_WEIGHTS_ON_DRIVE = False  # True: keep the Hub cache on your Google Drive (Colab only)
print(keep_hub_cache_on_drive(KEEP_WEIGHTS_ON_DRIVE))

# %% [markdown]
# En Colab con una T4, la fuente es **pretrained**. La receta descarga SVD-XT una vez (4.2 GiB) y hace un video
# real de 25 fotogramas en 25 pasos: el único video completo de la lección. Después, `generate_video` hace uno
# corto (14 fotogramas, 5 pasos) desde la caché, para mostrar lo que añade. Sin GPU, la fuente es la de los
# **pesos diminutos** (tiny): el mismo código se ejecuta con pesos aleatorios a 1/8 del tamaño real, y **los
# fotogramas son ruido**. En una CPU, la receta hace 2 pasos en vez de 25: una CPU es lenta. Todo lo demás
# (comprobaciones, plan, planes de respaldo, archivo, informe) es igual.
#
# ## 0. La receta simple
#
# Estas son las líneas de la lección 4, sección 6, con los ajustes de movimiento de la lección 2 escritos uno a
# uno. **Tu propia foto:** en Colab, pon `UPLOAD_MY_PHOTO = True` abajo y elige una (horizontal; lo mejor es de
# al menos 1024x576). Si no, la receta anima la foto de ejemplo.

# %%
from pathlib import Path

from svd_learn import models

UPLOAD_MY_PHOTO = False  # True on Colab: choose a photo from your computer
photo_path = models.SAMPLE_IMAGE
if UPLOAD_MY_PHOTO and "google.colab" in sys.modules:
    from google.colab import files

    uploaded = files.upload()  # a file chooser appears below the cell
    photo_path = Path(next(iter(uploaded))) if uploaded else photo_path
print("photo:", photo_path.name)

# %% [markdown]
# Solo tres cosas vienen del curso. Dónde están los pesos (`location`: el id del repo en el Hub en Colab, una
# carpeta local con pesos diminutos). El tamaño (576x1024 para el modelo real). Y el dispositivo. La receta es
# la elección del planificador para una T4 (lección 4): la celda comprueba que lo sigue siendo. Esto es lo que
# tarda el video en una T4 (una estimación; la descarga va aparte):

# %%
from svd_learn import planner, t4

t4_recipe = planner.choose_plan(memory.T4_GIB, 12.7).plan
print(f"the planner's T4 choice: {t4_recipe.name} ({t4_recipe.description})")
assert t4_recipe.placement == "gpu" and not t4_recipe.forward_chunking and t4_recipe.decode_chunk_size == 2  # the lines below
print("one video of 25 steps:", t4.describe_estimate(unet_steps=25))

# %%
import os

os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"  # before CUDA starts: PyTorch reads it once

import tempfile

import torch
from diffusers import StableVideoDiffusionPipeline
from diffusers.utils import export_to_video, load_image
from PIL import ImageOps

location = models.pipeline_location(source.name, "svd-xt")  # "stabilityai/stable-video-diffusion-img2vid-xt" on Colab
height, width = models.TINY_SIZE if source.name == "tiny" else (576, 1024)
device, steps = ("cuda", 25) if torch.cuda.is_available() else ("cpu", 2)
work = Path(tempfile.mkdtemp())

if device == "cuda":
    pipe = StableVideoDiffusionPipeline.from_pretrained(location, torch_dtype=torch.float16, variant="fp16")
else:  # not on Colab: a CPU computes fp16 slowly, so the harness loads the same files in fp32
    pipe = StableVideoDiffusionPipeline.from_pretrained(location, torch_dtype=torch.float32, variant="fp16")
pipe.to(device)
image = ImageOps.fit(load_image(str(photo_path)), (width, height))  # scale to cover 1024x576, crop the centre (lesson 2)
frames = pipe(
    image,
    height=height,
    width=width,
    num_inference_steps=steps,
    motion_bucket_id=127,  # more motion: 180 first, up to 255 (lesson 2, section 7)
    noise_aug_strength=0.02,  # still too still: 0.1
    fps=7,
    min_guidance_scale=1.0,
    max_guidance_scale=3.0,
    decode_chunk_size=2,
    generator=torch.manual_seed(42),
).frames[0]
export_to_video(frames, str(work / "recipe.mp4"), fps=7)
print(f"{len(frames)} frames of {frames[0].size[0]}x{frames[0].size[1]} in {work / 'recipe.mp4'}")
assert len(frames) == models.get_checkpoint("svd-xt").num_frames and frames[0].size == (width, height)

# %% [markdown]
# Ya tienes un video. En tu propio notebook, pon primero la línea de `PYTORCH_CUDA_ALLOC_CONF`: PyTorch la lee
# una sola vez, cuando arranca CUDA. Aquí, la celda de preparación ya la había puesto, antes de que
# `print_header()` le pidiera su nombre a la GPU (eso arranca CUDA). En una GPU el pipeline es fp16; una CPU
# calcula en fp32 (aquí, pesos diminutos), e imageio rellena sus 128x72 hasta un múltiplo de 16, con un aviso.
# 1024x576 no necesita relleno: en Colab no ves ninguno.

# %% [markdown]
# Dos detalles merecen atención:
# - `ImageOps.fit` recorta tu foto a 16:9; un simple `.resize((1024, 576))` la estiraría. La foto de ejemplo
#   mide 640x427, así que además se agranda 1.6 veces. Agrandar no añade detalle: el video sale menos nítido que
#   uno hecho con una foto grande.
# - El pipeline se queda en memoria hasta que lo sueltas. Un segundo pipeline a su lado necesitaría otros 4.2
#   GiB de memoria de GPU y de RAM del sistema (host). Así que libéralo antes de la siguiente sección:

# %%
import gc

del pipe
gc.collect()
if torch.cuda.is_available():
    torch.cuda.empty_cache()
    print(f"GPU memory still allocated: {torch.cuda.memory_allocated() / 2**30:.2f} GiB")
    assert torch.cuda.memory_allocated() < 0.5 * 2**30

# %% [markdown]
# Lo que la receta no hace:
# - comprobar que puede escribir la salida antes de gastar minutos;
# - elegir los ajustes para la GPU que encuentra, y recuperarse cuando se queda sin memoria;
# - rechazar una foto tan pequeña que el video saldría borroso;
# - escribir el archivo de forma segura, y decir lo que hizo.
#
# `generate_video` añade exactamente eso.
#
# ## 1. Toda la ejecución, en una llamada
#
# La receta hizo el video completo de esta lección. Para no pasarnos de una sesión de Colab, `generate_video`
# hace ahora uno corto: 14 fotogramas en 5 pasos (acepta por su nombre cualquier parámetro de la lección 2). Las
# comprobaciones, el plan, el archivo y el informe son los mismos con cualquier duración. La celda imprime
# primero cuánto tarda en una T4.

# %%
from svd_learn import generate
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

print("14 frames, 5 steps:", t4.describe_estimate(unet_steps=5, num_frames=14))

video_path = work / "videos" / "rocket.mp4"  # the folder does not exist yet: generate_video creates it
run = generate.generate_video(
    models.SAMPLE_IMAGE, video_path, GenerationParameters(seed=0, num_frames=14, num_inference_steps=5), RunSpec(gif=True)
)

# %% [markdown]
# Cada línea de arriba es un paso de la lista. `run` es el informe, que también se guarda como JSON junto al
# video. El aviso sobre `num_frames=14` tiene razón: SVD-XT se entrenó con 25. No se descargó nada por segunda
# vez: `from_pretrained` encontró los archivos de la receta en la caché del Hub. `huggingface_hub` puede decir
# dónde está un archivo de la caché:

# %%
import huggingface_hub

cached = huggingface_hub.try_to_load_from_cache(models.get_checkpoint("svd-xt").repo_id, "model_index.json")
print("model_index.json in the Hub cache:", cached if isinstance(cached, str) else "no (tiny weights are a local folder)")
assert isinstance(cached, str) == (source.name == "pretrained")

# %% [markdown]
# Aquí está la cuadrícula de fotogramas: cinco fotogramas, del primero al último. diffusers vuelve a leer un
# video con `load_video` (una lista de imágenes PIL) y coloca imágenes en cuadrícula con `make_image_grid`:

# %%
from diffusers.utils import load_video, make_image_grid
from IPython.display import Video, display

loaded = load_video(str(video_path))
display(make_image_grid(loaded[:: len(loaded) // 5][:5], rows=1, cols=5))
print(f"{len(loaded)} frames of {loaded[0].size[0]}x{loaded[0].size[1]}" + (" (random weights: noise is expected)" if run.random_weights else ""))

# %% [markdown]
# `video.read_frames`, del curso, lee los mismos fotogramas, como arrays, y los cuenta frente al informe:

# %%
from svd_learn import video

frames = video.read_frames(video_path)
print(f"{len(frames)} frames, the report says {run.frames}")
assert len(frames) == run.frames == len(loaded) == 14

# %% [markdown]
# Y el video en sí, tal como lo reproduce un navegador:

# %%
Video(str(video_path), embed=True, width=min(run.width * 4, 768))

# %% [markdown]
# ## 2. El archivo: por qué se reproduce en todas partes
#
# La opción segura para un mp4 es video **H.264** con **croma 4:2:0** (`yuv420p`: el color se guarda a la
# mitad de resolución). Todos los navegadores principales lo reproducen. Otros códecs y formatos de croma se
# reproducen en algunos navegadores, no en todos. 4:2:0 necesita un ancho y un alto pares. Leemos el archivo
# de nuevo con ffmpeg. Comprobamos el códec, el formato de píxel, los fotogramas por segundo y el número de
# fotogramas (contados, no tomados de la cabecera).

# %%
info = video.read_video_info(video_path)
print(info)
assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
assert info["fps"] == run.parameters["fps"] and info["frames"] == run.frames
assert info["width"] % 2 == 0 and info["height"] % 2 == 0
print("files:", sorted(p.name for p in video_path.parent.iterdir()))
assert sorted(p.name for p in video_path.parent.iterdir()) == ["rocket.gif", "rocket.json", "rocket.mp4"]

# %% [markdown]
# `export_to_video` de diffusers escribió el archivo de la receta en la sección 0. También es H.264 y yuv420p:
# léelo. Lo que añade el código del curso que escribe el video es el resto de esta sección y de la siguiente.
# Conserva el tamaño de los fotogramas: imageio, al que llama `export_to_video`, agranda un tamaño que no es
# múltiplo de 16 (128x72 pasa a 128x80 con los pesos diminutos; 1024x576 no cambia). Escribe con un nombre
# temporal. Y nunca sobrescribe por accidente.

# %%
recipe_info = video.read_video_info(work / "recipe.mp4")
print(recipe_info)
recipe_frames = load_video(str(work / "recipe.mp4"))  # diffusers reads it back
print(f"read back by load_video: {len(recipe_frames)} frames of {recipe_frames[0].size[0]}x{recipe_frames[0].size[1]}")
assert (recipe_info["codec"], recipe_info["pix_fmt"]) == ("h264", "yuv420p")
assert recipe_frames[0].size == (width, -(-height // 16) * 16)  # the height rounded up to a multiple of 16

# %% [markdown]
# diffusers también escribe GIF, con `export_to_gif`. `generate_video(..., gif=True)` escribió uno junto al
# video, de forma atómica como el mp4. Los dos GIF tienen los mismos fotogramas:

# %%
from diffusers.utils import export_to_gif

plain_gif = export_to_gif(loaded, str(work / "plain.gif"), fps=7)
from PIL import Image

with Image.open(plain_gif) as ours, Image.open(video_path.with_suffix(".gif")) as course:
    print(f"export_to_gif: {ours.n_frames} frames | generate_video's GIF: {course.n_frames} frames")
    assert ours.n_frames == course.n_frames == run.frames

# %% [markdown]
# Solo están el video, el GIF y el informe: ningún archivo temporal. Cada uno se escribió primero como
# `.rocket.<random>.partial.mp4` junto a su destino, y luego se renombró. `os.replace` es atómico dentro de un
# mismo sistema de archivos. Así, una caída del programa o un Ctrl-C deja el archivo anterior o nada. Nunca
# deja medio video.
#
# Antes de renombrar, cada archivo nuevo se comprueba: el código de salida de ffmpeg, y luego el archivo leído de
# nuevo (se cuentan sus fotogramas, se compara el texto del informe). Solo entonces los tres reemplazan a los
# anteriores, juntos. Un disco lleno termina en una línea que dice qué falló y cuánto espacio queda libre; los
# archivos anteriores quedan como estaban.

# %% [markdown]
# ## 3. Las salidas se revisan primero, y nunca se sobrescriben por accidente
#
# Una generación en una T4 tarda minutos. Descubrir *después* que no se puede escribir la salida es perder
# esos minutos. Por eso las comprobaciones van primero. Sin `force=True`, un archivo que ya existe se rechaza
# y queda como estaba:

# %%
before = video_path.read_bytes()
try:
    generate.generate_video(models.SAMPLE_IMAGE, video_path)
except video.OutputError as error:
    print("OutputError:", error)
assert video_path.read_bytes() == before

# %% [markdown]
# ## 4. La imagen y los parámetros
#
# La imagen pasa por `load_image` de la lección 2 (orientación EXIF, cualquier modo a RGB, imágenes animadas
# rechazadas). Luego pasa por `prepare_image`: redimensiona y recorta al centro al tamaño del modelo, y se niega
# a agrandar más de 2x. La foto de ejemplo mide 640x427: se agranda 1.6 veces para cubrir 1024x576, y luego se
# recorta. Eso está permitido. Pero agrandar no añade detalle, así que el video sale menos nítido que uno hecho
# con una foto más grande.
#
# La forma del propio pipeline de preparar una foto es `load_image` de diffusers y `ImageOps.fit` de Pillow,
# como en la receta. `prepare_image` da el mismo tamaño, y rechaza una foto que habría que agrandar más de 2x:

# %%
plain_image = ImageOps.fit(load_image(str(models.SAMPLE_IMAGE)), (run.width, run.height))
print("ImageOps.fit:", plain_image.size, "| the run's size:", (run.width, run.height))
assert plain_image.size == (run.width, run.height)

# %% [markdown]
# Los parámetros parten de los valores por defecto de diffusers, que están en la firma de la llamada:

# %%
import inspect

call = inspect.signature(StableVideoDiffusionPipeline.__call__).parameters
motion = ("fps", "motion_bucket_id", "noise_aug_strength", "min_guidance_scale", "max_guidance_scale")
print("diffusers' defaults:", {name: call[name].default for name in motion})
assert all(run.parameters[name] == call[name].default for name in motion)

# %% [markdown]
# El preset del curso para SVD-XT tiene los mismos valores (la lección 2 compara los presets). La ejecución los
# usó, validados, con los 14 fotogramas y los 5 pasos que pedimos:

# %%
from svd_learn import parameters

print("parameters:", run.parameters)
print("plan's decode chunk, used for this run:", run.parameters["decode_chunk_size"])
image = parameters.prepare_image(parameters.load_image(models.SAMPLE_IMAGE), run.height, run.width)
print("image prepared to", image.size, image.mode)
assert image.size == (run.width, run.height) and image.mode == "RGB"
preset = parameters.preset("svd-xt")
assert {k: run.parameters[k] for k in motion} == {k: getattr(preset, k) for k in motion}
assert (run.parameters["num_frames"], run.parameters["num_inference_steps"]) == (14, 5)

# %% [markdown]
# Los mismos fps, *motion bucket*, ruido y guía que la ficha del modelo. Con pesos diminutos cambia el tamaño
# (su "tamaño de entrenamiento" es 576x1024 / 8), y el trozo de decodificación (decode chunk) lo elige el plan
# de memoria (sección 5).
#
# ## 5. El plan de memoria: el más rápido que cabe en esta GPU
#
# La lección 4 midió cada plan en una GPU real, con el límite de memoria de una T4. `planner.choose_plan` elige
# el plan más rápido que, según su predicción, cabe. Y explica por qué. Esto es lo que eligió para esta máquina.
# También lo que elegiría en una T4 gratis de Colab (14.74 GiB) y en una tarjeta de 8 GiB:

# %%
from svd_learn import memory, planner

on_t4 = planner.choose_plan(memory.T4_GIB, 12.7, "svd-xt", 25, 576, 1024)  # free Colab: 14.74 GiB VRAM, 12.7 GiB RAM
small = planner.choose_plan(8.0, 12.7, "svd-xt", 25, 576, 1024)
print("this run:", run.plan)
print(f"on a T4:  {on_t4.plan.name}, predicted peak {on_t4.predicted_peak_gib:.1f} GiB (at most {memory.T4_SAFE_PEAK_GIB} GiB)")
print(f"on 8 GiB: {small.plan.name}, predicted peak {small.predicted_peak_gib:.1f} GiB")
assert on_t4.fits and on_t4.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB and on_t4.plan.placement == "gpu"
assert small.fits and small.predicted_peak_gib < on_t4.predicted_peak_gib and small.plan.placement != "gpu"

# %% [markdown]
# Por qué, en palabras del planificador. Su redacción y su calibración cambian con nuevas mediciones. Por eso
# el texto de esta celda no se comprueba; los números de arriba sí:

# %%
# NBVAL_IGNORE_OUTPUT
print("this run:", run.plan_reason, "\n")
print(on_t4.explain())

# %% [markdown]
# El plan decide dónde van las tres redes y cuántos fotogramas decodifica el VAE a la vez. En una T4, el
# planificador deja el modelo entero en la GPU y decodifica pocos fotogramas a la vez: es más rápido que el
# *offload*, que deja los pesos en la RAM del sistema y los lleva a la GPU por PCIe (el bus entre las dos) en
# cada llamada. Con 8 GiB, los pesos ya no caben junto a las activaciones, así que el planificador hace offload.
# En una CPU no hay nada que planificar: todo se ejecuta ahí.
#
# `generate_video` también le pide a PyTorch segmentos expandibles (expandable segments) antes de que arranque
# CUDA. Así hay menos fragmentación, y la calibración se midió con ellos.

# %% [markdown]
# `emulate_t4=True` limita una GPU más grande a 14.74 GiB, sin FlashAttention (una T4 no lo tiene). Así comprobó
# el curso esta misma función en una H100 80GB prestada, con pesos aleatorios de SVD-XT a tamaño completo: 25
# fotogramas, 576x1024, 25 pasos (`benchmarks/results/capstone-*.json`; con 24 GiB el planificador elige ahora
# `gpu-decode8`, igual de rápido, con 8 fotogramas decodificados a la vez). "Pico reservado" es la mayor
# cantidad de memoria de GPU que tuvo PyTorch (lección 4):
#
# | límite | plan elegido | pico reservado | llamada al pipeline | pico de RAM del sistema |
# |---|---|---|---|---|
# | T4 (`--emulate-t4`, 14.74 GiB) | `gpu-decode2` | 12.56 GiB (límite 14.0) | 24.9 s | 3.8 GiB |
# | 24 GiB (`--vram-budget 24`, FlashAttention permitido) | `gpu-decode2` | 12.56 GiB | 22.0 s | 3.8 GiB |
# | 8 GiB (`--vram-budget 8`) | `sequential-offload-chunked-decode1` | 4.61 GiB | 196 s | 6.5 GiB |

# %% [markdown]
# El mismo plan tardó 23.7 s en la ejecución de la lección 4 y 24.9 s aquí. Es la variación normal de un
# mismo plan entre una ejecución y otra, no un costo. Las cifras de memoria valen también para una T4 real.
# Los segundos no: el límite emula la memoria de una T4, no su velocidad. Para el tiempo en una T4, lee la
# estimación que se imprime al principio de esta lección.

# %% [markdown]
# ## 6. Sin memoria en la GPU: liberar, bajar de plan, avisar, registrar
#
# Una predicción puede fallar: otro notebook ocupa memoria, la imagen es más grande, una versión de una
# biblioteca reserva más. Entonces el pipeline lanza `torch.OutOfMemoryError`. `generate_video` lo captura.
# Suelta el pipeline y los ganchos (hooks) de offload que lleva puestos. Ejecuta `gc.collect()` y
# `torch.cuda.empty_cache()`. Carga un pipeline nuevo y prueba el siguiente plan de la lista.
#
# En una CPU no podemos quedarnos sin memoria de GPU, y en una T4 no queremos. Así que lo **simulamos**:
# `generate.simulated_out_of_memory` hace que la ejecución del primer plan lance la clase de error que lanzaría
# una GPU (`torch.OutOfMemoryError`), con un mensaje que dice que es simulado. Aquí nada se queda sin memoria.

# %%
from svd_learn import t4

print("4 frames, 2 steps:", t4.describe_estimate(unet_steps=2, num_frames=4))
order = planner.fallback_order()  # the plans from most GPU memory to least
simulated = "SIMULATED out of memory: raised on purpose to show the fallback; no GPU ran out of memory"
with generate.simulated_out_of_memory(order[0], message=simulated):
    rescued = generate.generate_video(models.SAMPLE_IMAGE, work / "rescued.mp4",
                                      GenerationParameters(num_frames=4, num_inference_steps=2), RunSpec(plan=order[0]))
print("fallbacks:", rescued.fallbacks)
assert rescued.plan == order[1] and rescued.fallbacks[0]["plan"] == order[0]
assert rescued.fallbacks[0]["error"] == simulated
assert video.read_video_info(work / "rescued.mp4")["frames"] == 4

# %% [markdown]
# (Forzamos el plan más rápido con `plan=`. En una CPU, su ubicación "GPU" simplemente significa "en este
# dispositivo".) Un mensaje real lleva números: la lección 4, sección 2.7, lee uno línea por línea.
#
# ## 7. El informe
#
# Todo lo necesario para reproducir la ejecución y para juzgarla: los parámetros y la semilla, el plan y su
# motivo, los planes de respaldo, las versiones de las bibliotecas, la GPU, el pico de memoria de GPU, el pico
# de RAM del sistema y los tiempos de cada fase.

# %%
import json

saved = json.loads(video_path.with_suffix(".json").read_text())
assert saved == run.to_dict()
for key in ("source", "checkpoint", "random_weights", "plan", "fallbacks", "device", "frames", "fps"):
    print(f"{key:16}{saved[key]}")
print(f"{'versions of':16}{sorted(saved['environment']['versions'])}")
print(f"{'timings':16}{sorted(saved['timings'])}")
assert saved["parameters"]["seed"] == 0 and saved["host_rss_peak_gib"] > 0
assert {"load_s", "denoise_s", "decode_s", "write_s", "total_s"} <= set(saved["timings"])

# %% [markdown]
# Las versiones del informe son las que importó este notebook: los mismos diffusers, huggingface_hub y
# accelerate cuyas llamadas ejecutaste en la sección 0.

# %%
import accelerate
import diffusers

imported = {"diffusers": diffusers.__version__, "huggingface_hub": huggingface_hub.__version__, "accelerate": accelerate.__version__}
same = all(saved["environment"]["versions"][name] == version for name, version in imported.items())
print("the report's diffusers, huggingface_hub and accelerate are the ones imported here:", same)
assert same

# %% [markdown]
# En una GPU, el informe también tiene `peak_allocated_gib` y `peak_reserved_gib`. En una T4, el pico
# reservado debe quedar por debajo de 14 GiB. `denoise_peak_allocated_gib` es el pico antes de decodificar: te
# dice si el pico lo marcó la UNet o el VAE.

# %% [markdown]
# ## 8. Cada error da una frase clara, no un traceback
#
# La línea de comandos ejecuta la misma función. Sus errores dicen qué estuvo mal y qué hacer. Sale con el
# código 1 (130 con Ctrl-C) y deja tus archivos como estaban. En una celda de Colab escribirías
# `!svd-learn generate missing.jpg -o a.mp4`. Aquí, Python ejecuta el mismo programa (`python -m
# svd_learn.cli` es lo que arranca `svd-learn`), para que la celda pueda comprobar el código de salida y el
# mensaje:

# %%
import subprocess

svd_learn_command = [sys.executable, "-m", "svd_learn.cli"]  # the program behind `svd-learn`, in this Python
result = subprocess.run([*svd_learn_command, "generate", "missing.jpg", "-o", "a.mp4"], cwd=work,
                        capture_output=True, text=True)
print(f"exit {result.returncode}: {result.stderr.strip()}")
assert result.returncode == 1 and "missing.jpg" in result.stderr and "Traceback" not in result.stderr
assert not (work / "a.mp4").exists()

# %% [markdown]
# Lo mismo vale para:
# - un archivo que no es una imagen, o una imagen truncada o animada, o una demasiado pequeña para usarla;
# - una salida que ya existe (añade `--force` para reemplazarla);
# - parámetros fuera de rango;
# - un modelo con acceso restringido (gated) sin token (el mensaje dice dónde aceptar la licencia y cómo
#   iniciar sesión);
# - sin red y sin nada en la caché. El mensaje dice qué hacer. Sin un `--source pretrained` explícito, el
#   comando pasa a los pesos diminutos, y lo avisa.
#
# `tests/test_generate.py` comprueba cada caso.

# %% [markdown]
# ## 9. En la línea de comandos
#
# ```bash
# svd-learn generate my_photo.jpg -o outputs/my_video.mp4                  # plan automático, informe en outputs/my_video.json
# svd-learn generate my_photo.jpg -o out.mp4 --motion-bucket-id 180 --noise-aug-strength 0.1 --seed 3 --gif
# svd-learn generate my_photo.jpg -o out.mp4 --plan model-offload-chunked-decode2 --force
# svd-learn generate my_photo.jpg -o out.mp4 --emulate-t4                   # en una GPU grande: actuar como una T4
# svd-learn generate my_photo.jpg -o out.mp4 --smooth 24   # además out-24fps.mp4: fotogramas añadidos por interpolación de ffmpeg
# svd-learn app                                                             # la página de la sección 10, en 127.0.0.1
# ```

# %% [markdown]
# ## 10. El mismo programa, en una página web
#
# Las llamadas de arriba sirven para aprender. Para probar diez ajustes con tu propia foto, una página es más
# rápida: mueves un control deslizante, pulsas un botón y comparas. `svd-learn app` es esa página, hecha con
# gradio (Colab ya lo trae). Te muestra el recorte que verá SVD, cada parámetro de la lección 2 con una pista
# de una línea, y el plan con sus minutos en una T4, antes de que pulses **Generate**. Después, una barra de
# progreso por paso, **Stop**, el video, su mp4 y su informe para descargar, y tus resultados anteriores uno al
# lado del otro. No es otra forma de generar: mantiene abierta una sola `generate.Session`, así que el segundo
# video no vuelve a cargar el pipeline, y cada rechazo de la sección 8 aparece como una línea en la página.

# %% [markdown]
# La celda de abajo construye la página (`app.build`) y la arranca con el `launch` del propio gradio.
# `server_name="127.0.0.1"` significa que solo esta máquina puede abrirla. `share=False` importa en Colab: allí,
# por defecto, gradio crea un enlace público a través de sus servidores; con `False`, el proxy de Colab te
# muestra la página debajo de la celda, solo a ti. La celda no genera nada: la página espera a que pulses
# **Generate**. En una CPU los pesos son tiny, así que los videos son ruido. `page.close()` detiene la página.

# %%
import gradio as gr  # Colab ships it; elsewhere: pip install "svd-learn[app]"

from svd_learn import app

studio = app.Studio(RunSpec(), work / "app")  # the videos go to work/app; one session, kept between videos
page = app.build(studio)  # a gr.Blocks: the page, made of gradio's own components
page.queue().launch(
    server_name="127.0.0.1",  # this machine only
    share=False,  # no public link: on Colab, Colab's own proxy shows the page below this cell
    prevent_thread_lock=True,  # the cell returns; the page keeps running beside the notebook
    allowed_paths=[str(studio.output_dir), str(models.SAMPLE_IMAGE.parent)],  # the only folders it may serve
    quiet=True,
)
print("the page is at", page.local_url, "(page.close() stops it)")
assert isinstance(page, gr.Blocks) and page.local_url.startswith("http://127.0.0.1:") and not page.share_url
assert studio.session is None and not studio.output_dir.exists()  # nothing loaded, nothing made

# %% [markdown]
# ## Cosas para probar
# - Ejecuta este notebook en Colab con una T4 y compara `run.peak_reserved_gib` con la predicción del plan.
# - Sube tu foto en la sección 0 y prueba la receta de movimiento de la lección 2: `motion_bucket_id=180`, y
#   después `noise_aug_strength=0.1`. En la línea de comandos: `--motion-bucket-id 180 --noise-aug-strength 0.1`.
# - Fuerza `plan="sequential-offload-chunked-decode1"` y compara `run.timings` con el plan automático.
# - Genera dos veces con la misma semilla y comprueba que los fotogramas son idénticos.
# - En la página de la sección 10, haz un video con movimiento 60 y otro con 200, y compáralos uno al lado del
#   otro. Después elige *Smoother copy: 24 fps* y compara los dos reproductores.

# %% [markdown]
# ## Resumen
# - `generate_video` / `svd-learn generate` = las lecciones 1 a 4 en orden: imagen, parámetros, plan, carga,
#   generación, escritura, informe.
# - Revisa primero las salidas; escribe en un archivo temporal y renómbralo; nunca sobrescribas sin `force`.
# - H.264 + yuv420p + tamaño par = un video que todo navegador reproduce.
# - El plan sale de mediciones (lección 4); si se acaba la memoria, libera todo y baja un plan.
# - El informe (JSON) dice qué se ejecutó, con qué versiones, cuánta memoria usó y cuánto tardó.
# - `svd-learn app` es el mismo programa en una página web en 127.0.0.1, con una sesión abierta entre videos.

# %% [markdown]
# ## Para seguir leyendo
# La [guía de Stable Video Diffusion](https://huggingface.co/docs/diffusers/using-diffusers/svd) de diffusers (en
# inglés), la página alrededor de la cual creció este curso. Lee su primer ejemplo: es la receta de la sección 0.
# Después, su parte sobre el microcondicionamiento (micro-conditioning; la sección 7 de la lección 2) y su parte
# sobre memoria: compara cada consejo con lo que midió la lección 4.
