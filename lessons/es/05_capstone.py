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
# **Qué vas a aprender.** Primero, la receta simple de diffusers para una T4, del final de la lección 4: la
# vas a ejecutar. Después, cómo las cuatro lecciones la refuerzan hasta formar un programa que no se cae. Ese
# programa revisa sus entradas y salidas antes de gastar tiempo de GPU. Elige un plan de memoria que cabe en
# la GPU que encuentra. Se recupera cuando la GPU se queda sin memoria. Escribe un video que todo navegador
# reproduce. Nunca deja un archivo a medias. Y registra lo que hizo. Lo vas a ejecutar, y luego vas a
# desarmar cada decisión.
#
# **La idea.** La receta son seis llamadas. `svd_learn.generate.generate_video` es la misma receta, con las
# comprobaciones alrededor. `svd-learn generate IMAGE -o OUT.mp4` es esa función en la línea de comandos. Sus
# pasos, en orden:
#
# 1. revisar las salidas (no sobrescribir; crear la carpeta si falta);
# 2. cargar la imagen (lección 2): bien orientada, en RGB, redimensionada y recortada al centro al tamaño del modelo;
# 3. los parámetros de la ficha del modelo (la model card, lección 2), validados;
# 4. mirar la máquina y elegir un plan de memoria (lección 4);
# 5. cargar el pipeline (lección 1; el Hub y sus errores, lección 3), aplicar el plan, quitar el ruido, decodificar;
#    si CUDA se queda sin memoria ("out of memory"), liberar todo y bajar al siguiente plan de la lista;
# 6. escribir el mp4 (y un GIF) con un nombre temporal, y luego renombrarlo a su lugar;
# 7. escribir un informe JSON junto al video.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn import memory

# Must run before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (lesson 4, 2.6).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()

# %% [markdown]
# En Colab con una T4, la fuente es **pretrained**. La receta descarga SVD-XT una vez (4.2 GiB). Luego hace un
# video real de 25 fotogramas en 25 pasos. Después, `generate_video` hace un segundo video, desde la caché. Sin
# GPU, la fuente es **tiny**: el mismo código corre con pesos aleatorios diminutos. Usa la cantidad de
# fotogramas del modelo real y 1/8 de su tamaño, y **los fotogramas son ruido**. En una CPU, la receta hace 2
# pasos en vez de 25: una CPU es lenta. Todo lo demás (comprobaciones, plan, planes de respaldo, archivo,
# informe) es igual.
#
# ## 0. La receta simple
#
# Estas son las líneas de la lección 4, sección 6. Solo tres cosas vienen del curso. Dónde están los pesos
# (`location`: el id del repo en el Hub en Colab, una carpeta local con pesos tiny). El tamaño (576x1024 para
# el modelo real). Y el dispositivo. Esto es lo que tardan los dos videos en una T4 (una estimación; la
# descarga va aparte):

# %%
from svd_learn import t4

print("two videos of 25 steps:", t4.describe_estimate(unet_steps=2 * 25, decoded_frames=2 * 25))

# %%
import os

os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"  # before CUDA starts: PyTorch reads it once

import tempfile
from pathlib import Path

import torch
from diffusers import StableVideoDiffusionPipeline
from diffusers.utils import export_to_video, load_image

from svd_learn import models

location = models.pipeline_location(source.name, "svd-xt")  # "stabilityai/stable-video-diffusion-img2vid-xt" on Colab
height, width = models.TINY_SIZE if source.name == "tiny" else (576, 1024)
device, steps = ("cuda", 25) if torch.cuda.is_available() else ("cpu", 2)
work = Path(tempfile.mkdtemp())

pipe = StableVideoDiffusionPipeline.from_pretrained(location, torch_dtype=torch.float16, variant="fp16")
pipe.to(device)
image = load_image(str(models.SAMPLE_IMAGE)).resize((width, height))
frames = pipe(image, height=height, width=width, num_inference_steps=steps, decode_chunk_size=2,
              generator=torch.manual_seed(42)).frames[0]
export_to_video(frames, str(work / "recipe.mp4"), fps=7)
print(f"{len(frames)} frames of {frames[0].size[0]}x{frames[0].size[1]} in {work / 'recipe.mp4'}")
assert len(frames) == models.get_checkpoint("svd-xt").num_frames and frames[0].size == (width, height)

# %% [markdown]
# Eso es un video. En tu propio notebook, pon primero la línea de `PYTORCH_CUDA_ALLOC_CONF`. Aquí, la celda de
# preparación ya le pidió su nombre a la GPU, y eso inicia CUDA. Por eso, en una GPU, la celda avisa que el
# ajuste llega demasiado tarde. En una CPU (pesos tiny), diffusers avisa que un pipeline fp16 no puede correr
# en la CPU. Además, imageio rellena 128x72 hasta un múltiplo de 16. Aun así, la celda corrió: el aviso de fp16
# se refiere al modelo real, y 1024x576 no necesita relleno. En la GPU de Colab no ves ninguno de los dos.
# Dos cosas merecen una segunda mirada:
# - La foto de ejemplo mide 640x427. `.resize((1024, 576))` la estira de 3:2 a 16:9 y la agranda 1.6 veces.
#   Agrandar no inventa detalle: el video sale menos nítido que uno hecho con una foto grande. Para el mejor
#   resultado, usa tu propia foto, de al menos 1024x576. `generate_video` recorta en vez de estirar.
# - El pipeline se queda en memoria hasta que lo sueltas. Un segundo pipeline a su lado necesitaría otros
#   4.2 GiB de memoria de GPU y de RAM del sistema. Así que libéralo antes de la siguiente sección:

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
# - recortar en vez de estirar;
# - escribir el archivo de forma segura, y decir lo que hizo.
#
# `generate_video` añade exactamente eso.
#
# ## 1. Toda la ejecución, en una llamada

# %%
from svd_learn import generate
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

video_path = work / "videos" / "rocket.mp4"  # the folder does not exist yet: generate_video creates it
run = generate.generate_video(models.SAMPLE_IMAGE, video_path, GenerationParameters(seed=0), RunSpec(gif=True))

# %% [markdown]
# Cada línea de arriba es un paso de la lista. `run` es el informe, que también se guarda como JSON junto al
# video. Aquí está la cuadrícula de fotogramas: cinco fotogramas, del primero al último.

# %%
from IPython.display import Video, display

from svd_learn import video

frames = video.read_frames(video_path)
display(video.frame_grid(frames, columns=5, every=len(frames) // 5))
print(f"{len(frames)} frames of {run.width}x{run.height}" + (" (random weights: noise is expected)" if run.random_weights else ""))
assert len(frames) == run.frames == models.get_checkpoint("svd-xt").num_frames

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
# Solo están el video, el GIF y el informe: ningún archivo temporal. Cada uno se escribió primero como
# `.rocket.<random>.partial.mp4` junto a su destino, y luego se renombró. `os.replace` es atómico dentro de un
# mismo sistema de archivos. Así, una caída del programa o un Ctrl-C deja el archivo anterior o nada. Nunca
# deja medio video.
#
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
# rechazadas). Luego pasa por `prepare_image`: redimensiona y recorta al centro al tamaño del modelo, y se
# niega a agrandar más de 2x. La foto de ejemplo mide 640x427: se agranda 1.6 veces para cubrir 1024x576, y
# luego se recorta. Eso está permitido. Pero agrandar no inventa detalle, así que el video sale menos nítido
# que uno hecho con una foto más grande. Los parámetros parten de los valores predefinidos del checkpoint (los
# de la ficha del modelo) y se validan.

# %%
from svd_learn import parameters

print("parameters:", run.parameters)
print("plan's decode chunk, used for this run:", run.parameters["decode_chunk_size"])
image = parameters.prepare_image(parameters.load_image(models.SAMPLE_IMAGE), run.height, run.width)
print("image prepared to", image.size, image.mode)
assert image.size == (run.width, run.height) and image.mode == "RGB"
preset = parameters.preset("svd-xt")
assert {k: run.parameters[k] for k in ("num_frames", "num_inference_steps", "fps", "motion_bucket_id")} == {
    k: getattr(preset, k) for k in ("num_frames", "num_inference_steps", "fps", "motion_bucket_id")
}

# %% [markdown]
# Los mismos fotogramas, pasos, fps y motion bucket que la ficha del modelo. Con pesos tiny solo cambia el
# tamaño (su "tamaño de entrenamiento" es 576x1024 / 8). También cambia el chunk de decodificación, que es la
# elección del plan de memoria (sección 5).
#
# ## 5. El plan de memoria: el más rápido que cabe en esta GPU
#
# La lección 4 midió cada plan en una GPU real, con el límite de memoria de una T4. `memory.choose_plan` elige
# el plan más rápido que, según su predicción, cabe. Y explica por qué. Esto es lo que eligió para esta
# máquina. También lo que elegiría en una T4 gratis de Colab (14.74 GiB) y en una tarjeta de 8 GiB:

# %%
from svd_learn import memory, planner

t4 = planner.choose_plan(memory.T4_GIB, 12.7, "svd-xt", 25, 576, 1024)  # free Colab: 14.74 GiB VRAM, 12.7 GiB RAM
small = planner.choose_plan(8.0, 12.7, "svd-xt", 25, 576, 1024)
print("this run:", run.plan)
print(f"on a T4:  {t4.plan.name}, predicted peak {t4.predicted_peak_gib:.1f} GiB (at most {memory.T4_SAFE_PEAK_GIB} GiB)")
print(f"on 8 GiB: {small.plan.name}, predicted peak {small.predicted_peak_gib:.1f} GiB")
assert t4.fits and t4.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB and t4.plan.placement == "gpu"
assert small.fits and small.predicted_peak_gib < t4.predicted_peak_gib and small.plan.placement != "gpu"

# %% [markdown]
# Por qué, en palabras del planificador. Su redacción y su calibración cambian con nuevas mediciones. Por eso
# el texto de esta celda no se comprueba; los números de arriba sí:

# %%
# NBVAL_IGNORE_OUTPUT
print("this run:", run.plan_reason, "\n")
print(t4.explain())

# %% [markdown]
# El plan decide dónde van las tres redes y cuántos fotogramas decodifica el VAE a la vez. En una T4, el
# modelo entero cabe en la GPU si el VAE decodifica pocos fotogramas a la vez. Eso es más rápido que el
# offload, que mueve pesos por PCIe en cada llamada. Con 8 GiB, los pesos ya no caben junto a las
# activaciones, así que el planificador hace offload. En una CPU no hay nada que planificar: todo corre ahí.
#
# `generate_video` también le pide a PyTorch *expandable segments* (segmentos expandibles) antes de que
# arranque CUDA. Así hay menos fragmentación, y la calibración se midió con ellos. `emulate_t4=True` limita una
# GPU más grande a 14.74 GiB, sin FlashAttention (una T4 no lo tiene). Así comprobó el curso esta misma
# función en una H100 80GB prestada, con pesos aleatorios de SVD-XT a tamaño completo. 25 fotogramas,
# 576x1024, 25 pasos (`benchmarks/results/capstone-*.json`; con 24 GiB el planificador elige ahora
# `gpu-decode8`, igual de rápido, con 8 fotogramas decodificados a la vez):
#
# | límite | plan elegido | pico reservado | llamada al pipeline | pico de RAM del sistema |
# |---|---|---|---|---|
# | T4 (`--emulate-t4`, 14.74 GiB) | gpu-decode2 | 12.56 GiB (límite 14.0) | 24.9 s | 3.8 GiB |
# | 24 GiB (`--vram-budget 24`, FlashAttention permitido) | gpu-decode2 | 12.56 GiB | 22.0 s | 3.8 GiB |
# | 8 GiB (`--vram-budget 8`) | sequential-offload-chunked-decode1 | 4.61 GiB | 196 s | 6.5 GiB |
#
# El mismo plan tardó 23.7 s en la ejecución de la lección 4 y 24.9 s aquí. Es la variación normal de un
# mismo plan entre una ejecución y otra, no un costo. Las cifras de memoria valen también para una T4 real.
# Los segundos no: el límite emula la memoria de una T4, no su velocidad. Para el tiempo en una T4, lee la
# estimación que se imprime al principio de esta lección.
#
# ## 6. Sin memoria en la GPU: liberar, bajar de plan, avisar, registrar
#
# Una predicción puede fallar: otro notebook ocupa memoria, la imagen es más grande, una versión de una
# biblioteca reserva más. Entonces el pipeline lanza `torch.OutOfMemoryError`. `generate_video` lo captura.
# Suelta el pipeline (y los hooks de offload que lleva enganchados). Ejecuta `gc.collect()` y
# `torch.cuda.empty_cache()`. Carga un pipeline nuevo y prueba el siguiente plan de la lista. En una CPU no
# podemos quedarnos sin memoria de GPU, así que lo simulamos: `generate.simulated_out_of_memory` hace que la
# ejecución del primer plan lance el mismo error que lanzaría una GPU.

# %%
order = planner.fallback_order()  # the plans from most GPU memory to least
with generate.simulated_out_of_memory(order[0]):
    rescued = generate.generate_video(models.SAMPLE_IMAGE, work / "rescued.mp4",
                                      GenerationParameters(num_frames=4, num_inference_steps=2), RunSpec(plan=order[0]))
print("fallbacks:", rescued.fallbacks)
assert rescued.plan == order[1] and rescued.fallbacks[0]["plan"] == order[0]
assert video.read_video_info(work / "rescued.mp4")["frames"] == 4

# %% [markdown]
# (Forzamos el plan más rápido con `plan=`. En una CPU, su ubicación "GPU" simplemente significa "en este
# dispositivo").
#
# ## 7. El informe
#
# Todo lo necesario para reproducir la ejecución y para juzgarla: los parámetros y la semilla, el plan y su
# motivo, los planes de respaldo, las versiones de las bibliotecas, la GPU, el pico de memoria de GPU, el pico
# de memoria del sistema y los tiempos de cada fase.

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
# En una GPU, el informe también tiene `peak_allocated_gib` y `peak_reserved_gib`. En una T4, el pico
# reservado debe quedar por debajo de 14 GiB. `denoise_peak_allocated_gib` es el pico antes de decodificar: te
# dice si el pico lo marcó la UNet o el VAE.
#
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
assert result.returncode == 1 and "missing.jpg does not exist" in result.stderr and "Traceback" not in result.stderr
assert not (work / "a.mp4").exists()

# %% [markdown]
# Lo mismo vale para:
# - un archivo que no es una imagen, o una imagen truncada o animada, o una demasiado pequeña para usarla;
# - una salida que ya existe (añade `--force` para reemplazarla);
# - parámetros fuera de rango;
# - un modelo con acceso restringido (gated) sin token (el mensaje dice dónde aceptar la licencia y cómo
#   iniciar sesión);
# - sin red y sin nada en la caché. El mensaje dice qué hacer. Sin un `--source pretrained` explícito, el
#   comando pasa a los pesos tiny, y lo avisa.
#
# `tests/test_generate.py` comprueba cada caso.
#
# ## 9. En la línea de comandos
#
# ```bash
# svd-learn generate my_photo.jpg -o outputs/my_video.mp4                  # plan automático, informe en outputs/my_video.json
# svd-learn generate my_photo.jpg -o out.mp4 --motion-bucket-id 180 --noise-aug-strength 0.1 --seed 3 --gif
# svd-learn generate my_photo.jpg -o out.mp4 --plan model-offload-chunked-decode2 --force
# svd-learn generate my_photo.jpg -o out.mp4 --emulate-t4                   # en una GPU grande: actuar como una T4
# ```
#
# ## Cosas para probar
# - Ejecuta este notebook en Colab con una T4 y compara `run.peak_reserved_gib` con la predicción del plan.
# - Cambia `motion_bucket_id` y `noise_aug_strength` (lección 2) y compara las cuadrículas de fotogramas.
# - Fuerza `plan="sequential-offload-chunked-decode1"` y compara `run.timings` con el plan automático.
# - Genera dos veces con la misma semilla y comprueba que los fotogramas son idénticos.
#
# ## Resumen
# - `generate_video` / `svd-learn generate` = las lecciones 1 a 4 en orden: imagen, parámetros, plan, carga,
#   generación, escritura, informe.
# - Revisa primero las salidas; escribe en un archivo temporal y renómbralo; nunca sobrescribas sin `force`.
# - H.264 + yuv420p + tamaño par = un video que todo navegador reproduce.
# - El plan sale de mediciones (lección 4); si se acaba la memoria, libera todo y baja un plan.
# - El informe (JSON) dice qué se ejecutó, con qué versiones, cuánta memoria usó y cuánto tardó.
