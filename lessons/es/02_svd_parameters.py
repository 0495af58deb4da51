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
# # Lección 2: la ficha del modelo SVD, parámetro por parámetro
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/02_svd_parameters.ipynb)
#
# **Qué vas a aprender.** Qué significa cada argumento de `StableVideoDiffusionPipeline.__call__`. Qué dice de
# él la ficha del modelo (model card), y qué hace de verdad el pipeline con él. No nos fiamos solo de la
# documentación: ponemos hooks (ganchos) en el pipeline real y capturamos lo que recibe la UNet. También conocerás los
# tres checkpoints de SVD: cómo se entrenaron, qué valores son seguros y qué no puede hacer el modelo.
#
# **La idea.** SVD no tiene prompt. Además de la imagen, lo guían tres números: la frecuencia de fotogramas,
# el motion bucket (cuánto movimiento) y la intensidad del ruido. El modelo vio esos números durante el
# entrenamiento. A eso se añade una escala de guía (guidance scale) que cambia de un fotograma a otro. Esos
# tres números son el *micro-conditioning* (microcondicionamiento): números pequeños que se convierten en un embedding y se suman a
# la señal del paso de tiempo (timestep) de la UNet.

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()

# %% [markdown]
# Con los pesos **tiny** (sin GPU), todo lo que la UNet *recibe* es real: los números de condicionamiento, su
# embedding, la guía de cada fotograma y los 8 canales de entrada. Lo que *produce* es ruido, porque sus pesos
# son aleatorios. Las secciones que comparan videos solo se ejecutan con los pesos reales (pretrained).
#
# ## 1. Tres checkpoints, una arquitectura
#
# Stability publicó tres checkpoints de imagen a video. Comparten la arquitectura y el tamaño de
# entrenamiento. Se diferencian en cuántos fotogramas producen y en su último ajuste fino (finetuning).

# %%
from svd_learn import models

print(f"{'name':12}{'Hub repo':50}{'frames':>7}{'trained size':>14}  gated")
for checkpoint in models.CHECKPOINTS.values():
    print(f"{checkpoint.name:12}{checkpoint.repo_id:50}{checkpoint.num_frames:>7}{checkpoint.height:>8}x{checkpoint.width:<5}  {'yes' if checkpoint.gated else 'no'}")
for checkpoint in models.CHECKPOINTS.values():
    print(f"- {checkpoint.name}: {checkpoint.note}")
    assert models.real_configs(checkpoint.name)["unet"]["num_frames"] == checkpoint.num_frames

# %% [markdown]
# **Cómo se entrenó SVD** (según la ficha del modelo y el artículo, unas 200,000 horas de A100): en tres etapas.
# 1. *Preentrenamiento con imágenes*: se parte de Stable Diffusion 2.1, un modelo de imágenes.
# 2. *Preentrenamiento con video*: se añaden capas temporales y se entrena con un gran conjunto de videos
#    seleccionados, a baja resolución.
# 3. *Ajuste fino de alta calidad*: un conjunto más pequeño de buenos videos, a 576x1024.
#
# Durante el entrenamiento, cada clip se etiquetó con tres datos: su frecuencia de fotogramas, una puntuación
# de movimiento (el *motion bucket*) y la intensidad del ruido añadido a su primer fotograma. El modelo aprendió
# a producir lo que describen esas etiquetas. Al generar, tú eliges las etiquetas: eso es el
# micro-conditioning. SVD-XT se siguió entrenando a partir de SVD para producir 25 fotogramas. SVD-XT 1.1 recibió
# otro ajuste fino con las etiquetas **fijas** en 6 fps y motion bucket 127. Así funciona bien sin que tengas
# que ajustarlas.
#
# **Repos restringidos (gated) y tokens.** `svd-xt-1-1` está *restringido*: sus archivos solo se descargan con
# una cuenta que ha iniciado sesión y ha aceptado la licencia en la página del modelo en el Hub. Un *token* es
# la forma en que tu código demuestra quién eres. Crea uno (con acceso de lectura) en
# huggingface.co/settings/tokens. Luego ejecuta `huggingface_hub.login()` o, en Colab, añádelo como el secreto
# `HF_TOKEN`. Sin token, `from_pretrained` falla con un error 401/403 "gated repo" (el repo está restringido).
# La lección 3 explica ese error; su servidor local no tiene cuentas, así que no puede mostrar uno real. Los
# otros dos repos no necesitan token.

# %%
import huggingface_hub

print("a Hub token is configured here:", huggingface_hub.get_token() is not None)
assert [c.name for c in models.CHECKPOINTS.values() if c.gated] == ["svd-xt-1-1"]

# %% [markdown]
# ## 2. Presets: los valores de las fichas del modelo en un objeto
#
# `svd_learn.parameters.GenerationParameters` guarda los doce valores de una generación. `preset()` los rellena
# a partir de las fichas del modelo. También puede rellenarlos a partir del sampler de referencia de la propia
# Stability, que no usa los mismos valores por defecto que diffusers.

# %%
from svd_learn import parameters

print(f"{'preset':28}{'frames':>7}{'steps':>6}{'fps':>5}{'motion':>7}{'noise':>6}{'guidance':>10}{'decode':>7}")
for name in parameters.PRESETS:
    p = parameters.preset(name)
    print(f"{name:28}{p.num_frames:>7}{p.num_inference_steps:>6}{p.fps:>5}{p.motion_bucket_id:>7}{p.noise_aug_strength:>6}"
          f"{p.min_guidance_scale:>5}-{p.max_guidance_scale:<4}{p.decode_chunk_size or 'all':>7}")  # None: all at once
    assert p.validate(parameters.preset_checkpoint(name)) == []
assert [parameters.preset(n).num_frames for n in ("svd", "svd-xt", "svd-xt-1-1")] == [14, 25, 25]

# %% [markdown]
# La referencia de Stability para SVD-XT guía con más fuerza en los primeros fotogramas (1.5 en lugar de 1.0).
# Además, usa 30 pasos en lugar de 25. Las dos opciones son razonables. El curso usa los valores de diffusers,
# salvo que elijas el otro preset.
#
# `validate()` lanza `ParameterError` con los valores que no pueden funcionar. Con los valores que el modelo no
# vio en el entrenamiento, devuelve avisos. Cada mensaje nombra el valor, el rango permitido y de dónde viene
# la regla:

# %%
from dataclasses import replace

try:
    replace(parameters.preset("svd-xt"), height=500, decode_chunk_size=0).validate("svd-xt")
except parameters.ParameterError as error:
    print(error)
    assert "height=500: must be a multiple of 8" in str(error) and "decode_chunk_size=0" in str(error)

# %% [markdown]
# Con los pesos tiny, usaremos el tamaño del modelo tiny (el real dividido entre 8). `validate` dice con
# honestidad que el checkpoint real no se entrenó con ese tamaño:

# %%
checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
params = replace(parameters.preset("svd-xt"), height=height, width=width, num_inference_steps=2, decode_chunk_size=8)
for warning in params.validate("svd-xt"):
    print("warning:", warning)
assert (source.name != "tiny") == (params.validate("svd-xt") == [])

# %% [markdown]
# ## 3. La imagen de entrada
#
# `load_image` aplica la rotación EXIF (las fotos del teléfono se guardan de lado). Convierte cualquier modo a RGB
# (la transparencia se pone sobre blanco; la escala de grises de 16 bits se reduce a 8 bits). Y rechaza con un mensaje
# claro los archivos animados o dañados. `prepare_image` cambia el tamaño conservando la proporción. Después
# recorta el centro a exactamente ancho x alto. Si no, el pipeline estiraría tu imagen a 576x1024.

# %%
from PIL import Image

with Image.open(models.SAMPLE_IMAGE) as original:
    print("on disk:", original.size, original.mode)
image = parameters.load_image(models.SAMPLE_IMAGE, height=height, width=width)
print("loaded: ", image.size, image.mode)
image = parameters.prepare_image(image, height, width)
print("prepared:", image.size)
assert image.size == (width, height)

# %% [markdown]
# Si le das el tamaño de destino, `load_image` deja que Pillow decodifique un JPEG grande a 1/2, 1/4 o 1/8 de
# su tamaño, cuando eso todavía cubre el destino. Con los pesos tiny, la foto de 640x427 solo necesita 1/4. Se
# rechaza una imagen que habría que ampliar más de 2x: ampliar inventa desenfoque, y SVD animaría el
# desenfoque.

# %%
try:
    parameters.prepare_image(Image.new("RGB", (400, 225)), 576, 1024)
except parameters.ImageError as error:
    print(error)
    assert "at least 512x288" in str(error)

# %% [markdown]
# Qué significa esto para tus fotos. SVD se entrenó en horizontal, a 1024x576 (16:9). Una foto más pequeña se
# amplía. La muestra del curso, de 640x427, se amplía 1.6 veces para el modelo real. Eso está permitido, pero
# el video sale menos nítido que con una foto de 1024x576 o más. Una foto vertical se escala hasta que su ancho
# es 1024. Luego se conserva su franja central: se corta la mayor parte de arriba y de abajo. La celda
# comprueba los dos números:

# %%
def enlargement(size, target=(1024, 576)):
    """How much prepare_image enlarges a (width, height) photo to cover the target (1 or less: no enlarging)."""
    return max(target[0] / size[0], target[1] / size[1])


portrait = (1080, 1920)
kept = 576 / (1920 * enlargement(portrait))  # the share of the portrait's height that survives the crop
print(f"sample 640x427: enlarged {enlargement((640, 427)):.2f}x | portrait 1080x1920: {kept:.0%} of its height kept")
assert parameters.prepare_image(Image.new("RGB", (640, 427)), 576, 1024).size == (1024, 576)  # 1.6x: allowed

# A portrait in three bands, red / blue / green from top to bottom: only the blue middle survives.
bands = Image.new("RGB", portrait, "red")
bands.paste("blue", (0, 640, 1080, 1280))
bands.paste("green", (0, 1280, 1080, 1920))
cropped = parameters.prepare_image(bands, 576, 1024)
print("colours of the top and bottom rows after prepare_image:", cropped.getpixel((512, 0)), cropped.getpixel((512, 575)))
assert kept < 1 / 3 and cropped.getpixel((512, 0))[2] > 200 and cropped.getpixel((512, 575))[2] > 200

# %% [markdown]
# ## 4. Lo que recibe la UNet: el inspector
#
# `inspect_conditioning(pipe, image, params)` ejecuta una vez el pipeline real con hooks de PyTorch en la UNet,
# el VAE y el scheduler. Devuelve lo que vieron. `models.load_pipeline` carga el pipeline como en la lección 1
# (archivos de pesos fp16; fp16 en una GPU, fp32 en una CPU). Con el modelo real, cada inspección de las
# secciones 4 y 5 ejecuta uno o dos pasos de la UNet sobre 25 fotogramas, y los decodifica:

# %%
from svd_learn import t4

print("one inspection of one step:", t4.describe_estimate(unet_steps=1))

# %%
import torch

pipe = models.load_pipeline(models.pipeline_location(source.name, "svd-xt"))
if torch.cuda.is_available():
    pipe.enable_model_cpu_offload()  # keeps a 14.74 GiB T4 within memory; lesson 4 explains
pipe.set_progress_bar_config(disable=True)

capture = parameters.inspect_conditioning(pipe, image, params, output_type="np")
print("UNet input (batch, frames, channels, h, w):", tuple(capture.unet_sample.shape))
for half, row in zip(("unconditional", "conditional"), capture.added_time_ids.tolist()):
    print(f"added_time_ids, {half} half: {[round(x, 4) for x in row]}")

# %% [markdown]
# ### fps: la UNet recibe fps - 1
#
# **Ficha / documentación:** "Stable Video Diffusion's UNet was micro-conditioned on fps-1 during training."
# Es decir: durante el entrenamiento, la UNet de SVD se microcondicionó con fps-1.
# **Código:** `fps = fps - 1`, justo antes de construir los time ids. El script de la propia Stability llama
# `fps_id` a este número y le da 6 por defecto, que equivale al valor por defecto de diffusers, `fps=7`. La
# primera columna de arriba es `fps - 1`:

# %%
print(f"fps={params.fps} -> the UNet receives {capture.added_time_ids[0, 0].item():g}")
assert torch.all(capture.added_time_ids[:, 0] == params.fps - 1)

# %% [markdown]
# El inspector no tiene nada de mágico. Aquí tienes la misma prueba con un hook de PyTorch propio, que puedes
# copiar en cualquier notebook. Un *forward pre-hook* ve las entradas de un módulo justo antes de que se ejecute.

# %%
received = []
hook = pipe.unet.register_forward_pre_hook(lambda module, args, kwargs: received.append(kwargs["added_time_ids"].tolist()), with_kwargs=True)
try:
    pipe(image, height=height, width=width, fps=12, num_inference_steps=1, output_type="latent")
finally:
    hook.remove()  # hooks stay until removed
print("fps=12 -> added_time_ids[0] =", [round(x, 4) for x in received[0][0]])
assert received[0][0][0] == 11

# %% [markdown]
# `fps` no cambia cuántos fotogramas obtienes. Le dice al modelo cuánto tiempo pasa entre fotogramas (más fps,
# menos cambio por fotograma). Y es la frecuencia a la que debes guardar el video. Stability muestra un aviso
# fuera de `fps_id` 5 a 30, que es `fps` 6 a 31 en diffusers. SVD-XT 1.1 se ajustó con `fps=7` (fps_id 6).
#
# ### motion_bucket_id y noise_aug_strength: los otros dos números de condicionamiento
#
# Cada uno de los tres números se convierte en un embedding con sinusoides: 256 dimensiones cada uno en el
# modelo real (768 en total) y 32 cada uno en el tiny. Luego se suman al embedding del timestep: un solo vector
# que llega a todos los bloques de la UNet. El gráfico muestra ese vector tal como se capturó, y la guía de
# cada fotograma (sección 5).

# %%
import matplotlib.pyplot as plt

fig = parameters.plot_conditioning(capture)
plt.show()
assert capture.time_id_embedding.shape[1] == pipe.unet.config.projection_class_embeddings_input_dim

# %% [markdown]
# **Ficha / documentación:** un `motion_bucket_id` más alto da más movimiento. Un `noise_aug_strength` más alto
# hace que el video se parezca menos a tu imagen, y añade movimiento. **Código:** hacemos un barrido de cada
# uno y capturamos lo que cambia. Todas las ejecuciones usan la misma semilla. Así, cualquier diferencia la
# causa el parámetro.

# %%
def captures_for(name, values):
    return {v: parameters.inspect_conditioning(pipe, image, replace(params, num_inference_steps=1, **{name: v})) for v in values}


by_motion = captures_for("motion_bucket_id", [0, 255])
for value, c in by_motion.items():
    print(f"motion_bucket_id={value:3}: time ids {[round(x, 4) for x in c.added_time_ids[1].tolist()]}")
low, high = by_motion[0], by_motion[255]
assert torch.allclose(low.image_embeddings, high.image_embeddings) and torch.allclose(low.unet_sample, high.unet_sample)
assert not torch.equal(low.time_id_embedding, high.time_id_embedding)

# %% [markdown]
# El motion bucket cambia un número y nada más: la imagen, sus latentes y el ruido inicial son idénticos. No se
# ha publicado cómo calculó Stability los buckets a partir de los videos de entrenamiento. De 0 a 255 es el
# rango que su script acepta sin aviso. El valor por defecto es 127. La guía de diffusers usa 180 en su ejemplo
# de "more motion" (más movimiento)
# ([guía de Stable Video Diffusion](https://huggingface.co/docs/diffusers/using-diffusers/svd)). La sección 7
# muestra lo que hace.
#
# La intensidad del ruido actúa dos veces. Es un número de condicionamiento. Y además, el pipeline suma de
# verdad `noise_aug_strength * randn` a la imagen antes de que el VAE la codifique. CLIP ve la imagen limpia.

# %%
by_noise = captures_for("noise_aug_strength", [0.0, 0.1])
for value, c in by_noise.items():
    print(f"noise_aug_strength={value:<5}: std of the noise added to the image {c.added_noise.std().item():.4f}")
    assert abs(c.added_noise.std().item() - value) <= 0.05 * value + 1e-6
clean, noisy = by_noise[0.0], by_noise[0.1]
assert torch.allclose(clean.image_embeddings, noisy.image_embeddings)  # CLIP: the clean image either way
assert not torch.allclose(clean.image_latents, noisy.image_latents)  # VAE: the noisy image

# %% [markdown]
# Por defecto vale 0.02. La guía de diffusers dice: cuanto más alto es el valor, menos se parece el video a tu
# imagen, y más se mueve. Su ejemplo de "more motion" usa 0.1
# ([guía](https://huggingface.co/docs/diffusers/using-diffusers/svd)). La sección 7 hace un barrido de 0.0, 0.1
# y 0.3 con el modelo real, para que lo juzgues tú.
#
# ### 8 canales de entrada: latentes con ruido + el latente de la imagen en cada fotograma
#
# El `in_channels` de la UNet es 8. Son 4 canales de latentes del video con ruido y 4 canales del latente VAE
# de tu imagen, copiado en cada fotograma. Así es como cada fotograma "ve" la primera imagen.

# %%
cond_image_latents = capture.half(capture.image_latents, conditional=True)
print("in_channels:", pipe.unet.config.in_channels, "| image latent equal on all frames:",
      torch.equal(cond_image_latents, cond_image_latents[:, :1].expand_as(cond_image_latents)))
assert pipe.unet.config.in_channels == capture.unet_sample.shape[2] == 8
assert torch.equal(cond_image_latents, cond_image_latents[:, :1].expand_as(cond_image_latents))
assert capture.unet_sample.shape[-2:] == (height // 8, width // 8)  # height and width: latents are 1/8

# %% [markdown]
# ## 5. La guía, fotograma a fotograma
#
# **Documentación:** `min_guidance_scale` se usa "with the first frame" (con el primer fotograma), y
# `max_guidance_scale`, "with the last frame" (con el último fotograma).
# **Código:** `torch.linspace(min, max, num_frames)`. La guía sin clasificador (classifier-free guidance)
# ejecuta la UNet sobre un batch de dos mitades. Una mitad *incondicional* recibe embeddings de imagen **cero**
# y latentes de imagen **cero**. La mitad condicional recibe tu imagen. El resultado es
# `uncond + scale * (cond - uncond)`, por fotograma. El inspector midió la escala a partir de las salidas de la
# UNet (los puntos del gráfico de la izquierda, más arriba):

# %%
print("set:     ", [round(x, 2) for x in capture.guidance_scale[:5].tolist()], "...", round(capture.guidance_scale[-1].item(), 2))
print("measured:", [round(x, 2) for x in capture.applied_guidance[:5].tolist()], "...", round(capture.applied_guidance[-1].item(), 2))
expected = torch.linspace(params.min_guidance_scale, params.max_guidance_scale, params.num_frames)
assert torch.allclose(capture.applied_guidance, expected, atol=0.02)  # 0.02: fp16 rounding on a GPU
print("unconditional half: nonzero embedding values", torch.count_nonzero(capture.half(capture.image_embeddings, False)).item(),
      "| nonzero image latent values", torch.count_nonzero(capture.half(capture.image_latents, False)).item())
assert torch.count_nonzero(capture.half(capture.image_embeddings, False)) == torch.count_nonzero(capture.half(capture.image_latents, False)) == 0

# %% [markdown]
# El primer fotograma es tu imagen, así que necesita poca guía. Los fotogramas posteriores se alejan de ella y
# reciben más. Con `max_guidance_scale <= 1`, la guía está desactivada: el batch de la UNet se reduce a la
# mitad, y también su tiempo por paso.

# %%
unguided = parameters.inspect_conditioning(pipe, image, replace(params, num_inference_steps=1, min_guidance_scale=1.0, max_guidance_scale=1.0))
print("UNet batch with guidance:", capture.unet_sample.shape[0], "| without:", unguided.unet_sample.shape[0])
assert (capture.unet_sample.shape[0], unguided.unet_sample.shape[0]) == (2, 1)

# %% [markdown]
# ## 6. Pasos, fotogramas, chunks de decodificación, semilla
#
# - `num_inference_steps`: una llamada a la UNet por paso (25 por defecto; Stability usa 30 para XT).
# - `num_frames`: la cantidad propia del checkpoint (14 o 25). Otras cantidades se ejecutan, pero el modelo
#   no se entrenó con ellas.
# - `decode_chunk_size`: el VAE decodifica esta cantidad de fotogramas en cada llamada. Menos fotogramas por
#   llamada: menos memoria y un video algo menos fluido. La lección 4 mide la memoria; aquí contamos las
#   llamadas.
# - `seed`: la semilla del generador. La misma semilla da el mismo ruido inicial (los barridos de arriba
#   dependían de eso).

# %%
import math

print(f"UNet calls: {capture.unet_calls} for {params.num_inference_steps} steps | VAE decoder calls: "
      f"{capture.vae_decoder_calls} for {params.num_frames} frames in chunks of {params.decode_chunk_size}")
assert capture.unet_calls == params.num_inference_steps
assert capture.vae_decoder_calls == math.ceil(params.num_frames / params.decode_chunk_size)
assert torch.equal(by_motion[0].noisy_latents, by_motion[255].noisy_latents)  # same seed, same starting noise

# %% [markdown]
# ## 7. Qué cambia en el video
#
# Con los pesos tiny, los fotogramas son ruido (pesos aleatorios), así que compararlos no enseña nada. Aquí
# tienes lo que produjo el modelo tiny, solo para mostrar la cuadrícula. Con los pesos reales
# (`SVD_LEARN_SOURCE=pretrained` en una GPU), las celdas siguientes comparan videos reales.
#
# **Lo que produce el modelo real.** El equipo de diffusers publicó estos dos resultados en su
# [guía de Stable Video Diffusion](https://huggingface.co/docs/diffusers/using-diffusers/svd) (fuente:
# `docs/source/en/using-diffusers/svd.md` en huggingface/diffusers). La misma imagen del cohete, la misma
# semilla (42), SVD-XT. A la izquierda, los ajustes por defecto (`motion_bucket_id=127`,
# `noise_aug_strength=0.02`). A la derecha, `motion_bucket_id=180, noise_aug_strength=0.1`.
#
# | ajustes por defecto | `motion_bucket_id=180`, `noise_aug_strength=0.1` |
# |:---:|:---:|
# | ![SVD-XT, ajustes por defecto (documentación de diffusers)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket.gif) | ![SVD-XT, más movimiento (documentación de diffusers)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket_with_conditions.gif) |
#
# Las imágenes se cargan desde el Hub cuando se muestra el notebook: necesitan conexión a internet.

# %%
fig = parameters.plot_frame_grid({"tiny output": list(capture.frames[0])}, title=f"SVD-XT output, {source.name} weights"
                                 + (" (random weights: noise is expected)" if source.name != "pretrained" else ""))
plt.show()

# %% [markdown]
# **Solo con los pesos reales:** un barrido del motion bucket y otro de la intensidad del ruido. Cada uno usa
# la misma semilla y 10 pasos, y decodifica 2 fotogramas a la vez: seis videos en total. `motion_score` es el
# cambio medio entre fotogramas consecutivos (0 para un video quieto). Espera que crezca con los dos
# parámetros, aunque no en todas las imágenes.

# %%
print("six videos of 10 steps:", t4.describe_estimate(unet_steps=6 * 10, decoded_frames=6 * 25))

# %%
if source.name == "pretrained":
    video_params = replace(params, num_inference_steps=10, decode_chunk_size=2)
    for name, values in (("motion_bucket_id", [40, 127, 220]), ("noise_aug_strength", [0.0, 0.1, 0.3])):
        videos = parameters.sweep(pipe, image, video_params, name, values)
        scores = {value: parameters.motion_score(frames) for value, frames in videos.items()}
        parameters.plot_frame_grid({f"{name}={v}\nmotion {scores[v]:.1f}": f for v, f in videos.items()}, title=f"{name} sweep")
        plt.show()
        print(name, "motion scores:", {v: round(s, 1) for v, s in scores.items()})
else:
    print(f"skipped on {source.name} weights: their frames are noise, and comparing noise with noise teaches nothing")

# %% [markdown]
# ## 8. Rangos razonables, y lo que la ficha dice que SVD no puede hacer
#
# Los avisos de `validate()` salen de una sola tabla (`svd_learn/data/parameters.toml`):

# %%
for rule in parameters.RULES:
    if rule["level"] == "warning":
        print(f"- {rule['field']}{' (' + ', '.join(rule['only_for']) + ')' if 'only_for' in rule else ''}: {rule['why']}")
assert {r["field"] for r in parameters.RULES if r["level"] == "warning"} >= {"height", "width", "num_frames", "motion_bucket_id", "fps"}

# %% [markdown]
# **Limitaciones, según la ficha del modelo.** Los videos son cortos (como mucho, unos 4 segundos). El modelo
# puede no producir movimiento, o producir solo paneos lentos de cámara. No se puede controlar con texto. No puede
# dibujar texto legible. Las caras y las personas pueden salir mal. El autoencoder comprime con pérdida, así que
# los detalles finos pueden emborronarse. La licencia es la licencia comunitaria de Stability AI (el uso
# comercial por encima de cierto nivel de ingresos requiere registrarse).
#
# ## Cosas para probar
# - Cambia `params.fps` a 3 y a 40: lee los avisos y mira la primera columna de `added_time_ids`.
# - Pon `min_guidance_scale=3.0, max_guidance_scale=1.0` y mira el gráfico de la izquierda.
# - En una GPU con pesos reales: `motion_bucket_id=180, noise_aug_strength=0.1` (el ejemplo de "more motion"
#   de la documentación) y el preset `svd-xt-stability-reference`.
# - Carga una foto tuya con `parameters.load_image` e imprime `.size` antes y después de `prepare_image`.
#
# ## Resumen
# - SVD no tiene prompt: lo guían una imagen, tres números de condicionamiento y una escala de guía por
#   fotograma.
# - `fps` llega a la UNet como `fps - 1`; `fps=7` es el `fps_id=6` de Stability. SVD-XT 1.1 se ajustó con
#   fps 7 y motion bucket 127.
# - `motion_bucket_id` solo cambia su número de condicionamiento. `noise_aug_strength` es además ruido real
#   sobre la imagen que ve el VAE (CLIP la ve limpia).
# - La entrada de la UNet tiene 8 canales: 4 de latentes con ruido + 4 de latentes de la imagen, repetidos en
#   cada fotograma.
# - La guía es `linspace(min, max, num_frames)`; la mitad incondicional recibe embeddings cero y latentes de
#   imagen cero.
# - Los tres checkpoints se entrenaron a 576x1024, con 14 fotogramas (svd) o 25 (xt, xt-1-1). xt-1-1 está
#   restringido y necesita un token.
