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
# # Lección 2: la ficha del modelo SVD, parámetro por parámetro
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/02_svd_parameters.ipynb)
#
# **Qué vas a aprender.** Qué significa cada argumento de `StableVideoDiffusionPipeline.__call__`. Qué dice de
# él la ficha del modelo (model card), y qué hace de verdad el pipeline con él. No nos fiamos solo de la
# documentación: ponemos ganchos (hooks) en el pipeline real y capturamos lo que recibe la UNet. Conocerás los
# tres checkpoints de SVD, cómo se entrenaron y qué no pueden hacer. Al final tendrás una receta para que tu
# propia foto se mueva más o menos, y la ejecutarás.

# %% [markdown]
# **La idea.** SVD no tiene prompt. Además de la imagen, lo guían tres números: la frecuencia de fotogramas, el
# *motion bucket* (cuánto movimiento) y la intensidad del ruido que se añade a la imagen. El modelo vio esos
# números durante el entrenamiento. A eso se añade una escala de guía (guidance scale) que cambia de un
# fotograma a otro. Esos tres números son el microcondicionamiento (micro-conditioning): cada uno se convierte
# en un vector de senos y cosenos, que se suma a la señal que le dice a la UNet en qué paso de la eliminación de
# ruido (denoising) está.

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

# Before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (lesson 4 explains).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("02_svd_parameters"))

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
# Con los **pesos diminutos** (tiny, sin GPU), todo lo que la UNet *recibe* es real: los números de
# condicionamiento, su *embedding*, la guía de cada fotograma y los 8 canales de entrada. Lo que *produce* es
# ruido, porque sus pesos son aleatorios. Con los pesos reales (en una GPU), los videos de la sección 7 son
# videos reales de tu foto.
#
# ## 1. Tres checkpoints, una arquitectura
#
# Stability publicó tres checkpoints de imagen a video. Comparten la arquitectura y el tamaño de entrenamiento.
# Se diferencian en cuántos fotogramas producen y en su último ajuste fino (fine-tuning).

# %%
from svd_learn import models

print(f"{'name':12}{'Hub repo':50}{'frames':>7}{'trained size':>14}  gated")
for checkpoint in models.CHECKPOINTS.values():
    print(f"{checkpoint.name:12}{checkpoint.repo_id:50}{checkpoint.num_frames:>7}{checkpoint.height:>8}x{checkpoint.width:<5}  {'yes' if checkpoint.gated else 'no'}")
for checkpoint in models.CHECKPOINTS.values():
    print(f"- {checkpoint.name}: {checkpoint.note}")
    assert models.real_configs(checkpoint.name)["unet"]["num_frames"] == checkpoint.num_frames

# %% [markdown]
# La página de cada repo en el Hub es su *ficha del modelo* (model card), la fuente de esta lección:
# [stable-video-diffusion-img2vid](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid) (SVD),
# [stable-video-diffusion-img2vid-xt](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt)
# (SVD-XT) y
# [stable-video-diffusion-img2vid-xt-1-1](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1)
# (SVD-XT 1.1).
#
# **Cómo se entrenó SVD**, en tres etapas (las fichas y el artículo que enlazan):
# 1. *Preentrenamiento con imágenes*: se parte de Stable Diffusion 2.1, un modelo de imágenes.
# 2. *Preentrenamiento con video*: se añaden capas temporales (capas que mezclan fotogramas vecinos) y se
#    entrena con un gran conjunto de videos seleccionados, a baja resolución.
# 3. *Ajuste fino de alta calidad*: un conjunto más pequeño de buenos videos, a 576x1024.
#
# El apéndice de la ficha de SVD cifra el costo de todo en unas 200 000 horas de GPU A100 de 80 GB.

# %% [markdown]
# **Etiquetas, y qué significa "6 fps".** Durante el entrenamiento, cada clip se etiquetó con su frecuencia de
# fotogramas, una puntuación de movimiento (el *motion bucket*) y la intensidad del ruido añadido a su primer
# fotograma. El modelo aprendió a producir lo que describen las etiquetas. Al generar, tú eliges las etiquetas.
# SVD-XT se siguió entrenando a partir de SVD para producir 25 fotogramas. SVD-XT 1.1 recibió otro ajuste fino
# con las etiquetas **fijas** en 6 fps y motion bucket 127. Así funciona bien sin que tengas que ajustarlas.
#
# Ese "6" es el número que recibe el modelo. En diffusers escribes `fps=7`: el pipeline le da a la UNet
# `fps - 1` (la sección 4 lo captura). Así que los "6 fps" de la ficha son el `fps=7` de diffusers, su valor por
# defecto.

# %% [markdown]
# **Repos de acceso restringido (gated) y tokens.** `svd-xt-1-1` es de *acceso restringido*: sus archivos solo
# se descargan con una cuenta que ha iniciado sesión y ha aceptado la licencia en la página del modelo en el
# Hub. Un *token* es la forma en que tu código demuestra quién eres. Crea uno (con acceso de lectura) en
# huggingface.co/settings/tokens. Luego ejecuta `huggingface_hub.login()` o, en Colab, añádelo como el secreto
# `HF_TOKEN`. Sin token, `from_pretrained` falla con un error 401/403 `gated repo` (la lección 3 explica ese
# error). Los otros dos repos no necesitan token.

# %%
import huggingface_hub

print("a Hub token is configured here:", huggingface_hub.get_token() is not None)
assert [c.name for c in models.CHECKPOINTS.values() if c.gated] == ["svd-xt-1-1"]

# %% [markdown]
# ## 2. Los valores por defecto, y los presets de las fichas del modelo
#
# diffusers guarda los valores por defecto de SVD donde Python guarda todos los valores por defecto: en la
# firma de la llamada. Léelos ahí, con `inspect`:

# %%
import inspect

from diffusers import StableVideoDiffusionPipeline

call = inspect.signature(StableVideoDiffusionPipeline.__call__).parameters
knobs = ("num_inference_steps", "fps", "motion_bucket_id", "noise_aug_strength", "min_guidance_scale",
         "max_guidance_scale", "decode_chunk_size", "num_frames")
for name in knobs:
    print(f"{name:20} default {call[name].default}")
assert (call["fps"].default, call["motion_bucket_id"].default, call["noise_aug_strength"].default) == (7, 127, 0.02)

# %% [markdown]
# `num_frames=None` significa la cantidad propia de la UNet (25 en SVD-XT), y `decode_chunk_size=None`
# significa todos los fotogramas a la vez. `parameters.GenerationParameters`, del curso, guarda los mismos doce
# valores de una generación, en un solo objeto. Lo que añade: `preset()` lo rellena a partir de las fichas del
# modelo, o del sampler de referencia de la propia Stability, que no usa los mismos valores que diffusers; y
# `validate()` lo comprueba (abajo).

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
    assert all(part in str(error) for part in ("height=500", "496", "504", "decode_chunk_size=0"))  # 496 or 504: x8

# %% [markdown]
# Con los pesos diminutos usamos su propio tamaño (el real dividido entre 8), y `validate` avisa, con razón, de
# que el checkpoint real no se entrenó con ese tamaño. Con los pesos de tamaño real no tiene nada que decir:

# %%
checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
params = replace(parameters.preset("svd-xt"), height=height, width=width, num_inference_steps=2)
size_warnings = params.validate("svd-xt")
for warning in size_warnings:
    print("warning:", warning)
if not size_warnings:
    print(f"no warning: {width}x{height} is the size {checkpoint.name} was trained at")
assert (source.name != "tiny") == (size_warnings == [])

# %% [markdown]
# ## 3. La imagen de entrada
#
# SVD se entrenó con imágenes horizontales de 576x1024 (16:9). El pipeline estiraría a ese tamaño cualquier otra
# forma. Dos llamadas de bibliotecas preparan la foto en su lugar. `load_image` de diffusers la abre con la
# orientación correcta (las fotos del teléfono se guardan de lado, con una etiqueta de rotación en sus datos
# EXIF) y en RGB. `ImageOps.fit` de Pillow la escala hasta cubrir el tamaño y recorta el centro.

# %%
from diffusers.utils import load_image
from PIL import Image, ImageOps

photo = load_image(str(models.SAMPLE_IMAGE))
plain = ImageOps.fit(photo, (width, height), method=Image.Resampling.LANCZOS)  # scale to cover, crop the centre
print("on disk:", photo.size, photo.mode, "| fitted:", plain.size)
assert plain.size == (width, height)

# %% [markdown]
# `load_image` y `prepare_image`, del curso, hacen lo mismo, y añaden lo que una llamada simple no hace.
# Rechazan un archivo animado o dañado con un mensaje claro. Ponen los píxeles transparentes sobre blanco y
# reducen las imágenes de 16 bits a 8 bits. Decodifican un JPEG grande a menor escala cuando eso todavía cubre
# el tamaño (más rápido, menos memoria). Y rechazan una imagen que habría que ampliar más de 2x: una ampliación
# así no añade detalle, solo desenfoque, y SVD animaría ese desenfoque. Con una foto normal, el resultado es la
# misma imagen:

# %%
import numpy as np

image = parameters.prepare_image(parameters.load_image(models.SAMPLE_IMAGE, height=height, width=width), height, width)
difference = np.abs(np.asarray(image, dtype=float) - np.asarray(plain, dtype=float)).mean()
print(f"prepared: {image.size} | mean difference from ImageOps.fit: {difference:.2f} (pixels are 0 to 255)")
assert image.size == (width, height) and difference < 3  # tiny sizes: the JPEG is decoded at 1/4 scale first
try:
    parameters.prepare_image(Image.new("RGB", (400, 225)), 576, 1024)  # would need 2.6x enlarging
except parameters.ImageError as error:
    print(error)
    assert "512x288" in str(error)  # the smallest image that covers 1024x576 within the 2x allowed

# %% [markdown]
# Qué significa esto para tus fotos. Una foto más pequeña se amplía: la foto de ejemplo del curso, de 640x427,
# se amplía 1.6 veces para el modelo real. Eso está permitido, pero el video sale menos nítido que con una foto
# de 1024x576 o más. Una foto vertical se escala hasta que su ancho es 1024. Luego se conserva su franja
# central: se corta la mayor parte de arriba y de abajo. La celda comprueba los dos números:

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
# ## 4. Lo que recibe la UNet
#
# Cargamos el pipeline con diffusers, como en la lección 1 (archivos de pesos fp16; fp16 en una GPU, fp32 en una
# CPU). Se coloca como dice la receta para T4 del curso: lo que elige el planificador de memoria para una T4 (la
# lección 4 lo mide). Con el modelo real, las secciones 4 a 6 ejecutan después ocho llamadas de uno o dos pasos
# sobre 25 fotogramas, y decodifican una de ellas. La celda imprime cuánto tarda eso en una T4.

# %%
import torch

from svd_learn import planner, plans, t4

device = "cuda" if torch.cuda.is_available() else "cpu"
dtype = torch.float16 if device == "cuda" else torch.float32  # fp16 on a GPU; a CPU computes in fp32
pipe = StableVideoDiffusionPipeline.from_pretrained(models.pipeline_location(source.name, "svd-xt"),
                                                    torch_dtype=dtype, variant="fp16")
recipe = planner.choose_plan(memory.T4_GIB, 12.7).plan  # the course's T4 recipe (lesson 4)
plans.apply_plan(pipe, recipe, device)
pipe.set_progress_bar_config(disable=True)
params = replace(params, decode_chunk_size=recipe.decode_chunk_size)
print(f"placed as the T4 recipe says: {recipe.name} ({recipe.description})")
print("sections 4 to 6:", t4.describe_estimate(unet_steps=8, decoded_frames=25))

# %% [markdown]
# Primero, la forma simple de PyTorch de ver lo que recibe una red: un gancho previo (*forward pre-hook*), una
# función que PyTorch llama con las entradas de un módulo justo antes de ejecutarlo. Aquí guarda los
# `added_time_ids` de la UNet, los tres números de microcondicionamiento. Puedes copiarlo en cualquier notebook.
# `output_type="latent"` se detiene antes de que decodifique el VAE: sin fotogramas, menos tiempo.

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
# `parameters.inspect_conditioning(pipe, image, params)` es ese gancho y cinco más, en una sola llamada. También
# pone ganchos en el VAE y en el scheduler, cuenta las llamadas y quita todos los ganchos al terminar. Devuelve
# lo que vieron:

# %%
capture = parameters.inspect_conditioning(pipe, image, params, output_type="np")
print("UNet input (batch, frames, channels, h, w):", tuple(capture.unet_sample.shape))
for half, row in zip(("unconditional", "conditional"), capture.added_time_ids.tolist()):
    print(f"added_time_ids, {half} half: {[round(x, 4) for x in row]}")

# %% [markdown]
# ### fps: la UNet recibe fps - 1
#
# **Ficha / documentación:** "Stable Video Diffusion's UNet was micro-conditioned on fps-1 during training." Es
# decir: durante el entrenamiento, la UNet de SVD se microcondicionó con fps-1. **Código:** `fps = fps - 1`,
# justo antes de construir `added_time_ids`. El script de la propia Stability llama `fps_id` a este número y le
# da 6 por defecto, que equivale al valor por defecto de diffusers, `fps=7`. El gancho de arriba vio 11 para
# `fps=12`. La primera columna de la captura también es `fps - 1`:

# %%
print(f"fps={params.fps} -> the UNet receives {capture.added_time_ids[0, 0].item():g}")
assert torch.all(capture.added_time_ids[:, 0] == params.fps - 1)

# %% [markdown]
# `fps` no cambia cuántos fotogramas obtienes. Le dice al modelo cuánto tiempo pasa entre fotogramas (más fps,
# menos cambio por fotograma), y es la frecuencia a la que debes guardar el video. El script de Stability avisa
# cuando `fps_id` es menor que 5 o mayor que 30, que es `fps` 6 a 31 en diffusers.
#
# ### motion_bucket_id y noise_aug_strength: los otros dos números de condicionamiento
#
# Cada uno de los tres números se convierte en senos y cosenos y se suma al *embedding* del paso de tiempo
# (timestep embedding): el vector que le dice a la UNet en qué paso de la eliminación de ruido está. Esa suma
# llega a todos los bloques de la UNet. El módulo de la UNet que lo hace es `pipe.unet.add_time_proj`. Llámalo
# tú con los tres números (256 valores cada uno en el modelo real, 768 en total; 32 cada uno en el diminuto):

# %%
time_ids = torch.tensor([params.fps - 1, params.motion_bucket_id, params.noise_aug_strength])
embedded = pipe.unet.add_time_proj(time_ids)  # one row of sines and cosines per number
print(f"add_time_proj: 3 numbers -> {tuple(embedded.shape)}, {embedded.numel()} values in all")
assert embedded.numel() == pipe.unet.config.projection_class_embeddings_input_dim
assert torch.allclose(embedded.flatten().float(), capture.half(capture.time_id_embedding, True)[0], atol=1e-3)

# %% [markdown]
# Es exactamente lo que recibió la UNet (el assert lo compara con la captura). El gráfico muestra el vector, y
# la guía de cada fotograma (sección 5).

# %%
import matplotlib.pyplot as plt

fig = parameters.plot_conditioning(capture)
plt.show()
assert capture.time_id_embedding.shape[1] == pipe.unet.config.projection_class_embeddings_input_dim

# %% [markdown]
# **Ficha / documentación:** un `motion_bucket_id` más alto da más movimiento. Un `noise_aug_strength` más alto
# hace que el video se parezca menos a tu imagen, y añade movimiento. **Código:** ejecutamos un paso con cada
# valor y capturamos lo que cambia. Todas las ejecuciones usan la misma semilla. Así, cualquier diferencia la
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
# rango que su script acepta sin aviso; el valor por defecto es 127.
#
# La intensidad del ruido actúa dos veces. Es un número de condicionamiento. Y además, el pipeline suma de
# verdad `noise_aug_strength * randn` a la imagen antes de que el VAE la codifique. CLIP, la red que convierte la
# imagen en un embedding para la atención de la UNet, ve la imagen limpia.

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
# imagen, y más se mueve.
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
# `max_guidance_scale`, "with the last frame" (con el último fotograma). **Código:** `torch.linspace(min, max,
# num_frames)`. La guía sin clasificador (classifier-free guidance, CFG) ejecuta la UNet sobre un lote (batch)
# de dos mitades. Una mitad *incondicional* recibe embeddings de imagen **cero** y latentes de imagen **cero**.
# La mitad condicional recibe tu imagen. El resultado es `uncond + scale * (cond - uncond)`, por fotograma. El
# inspector midió la escala a partir de las salidas de la UNet (los puntos del gráfico de la izquierda, más
# arriba):

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
# reciben más. Con `max_guidance_scale <= 1`, la guía está desactivada: el lote de la UNet se reduce a la mitad,
# y también su tiempo por paso. El gancho de la sección 4 lo muestra: registra el tamaño del lote que recibe la
# UNet.

# %%
batches = []
hook = pipe.unet.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
try:
    pipe(image, height=height, width=width, min_guidance_scale=1.0, max_guidance_scale=1.0, num_inference_steps=1, output_type="latent")
finally:
    hook.remove()
print("UNet batch with guidance:", capture.unet_sample.shape[0], "| without:", batches[0])
assert (capture.unet_sample.shape[0], batches[0]) == (2, 1)

# %% [markdown]
# ## 6. Pasos, fotogramas, trozos de decodificación, semilla
#
# - `num_inference_steps`: una llamada a la UNet por paso (25 por defecto; Stability usa 30 para XT).
# - `num_frames`: la cantidad propia del checkpoint (14 o 25). Otras cantidades se ejecutan, pero el modelo no
#   se entrenó con ellas.
# - `decode_chunk_size`: el tamaño de cada trozo (chunk) de fotogramas que el VAE decodifica en una llamada.
#   Menos fotogramas por llamada: menos memoria y un video algo menos fluido. La lección 4 mide la memoria; aquí
#   contamos las llamadas.
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
# ## 7. La receta del movimiento: que tu foto se mueva más, o menos
#
# **Lo que produce el modelo real.** El equipo de diffusers publicó estos dos resultados en su
# [guía de Stable Video Diffusion](https://huggingface.co/docs/diffusers/using-diffusers/svd). La misma imagen
# del cohete, la misma semilla (42), SVD-XT. A la izquierda, los valores por defecto (`motion_bucket_id=127`,
# `noise_aug_strength=0.02`). A la derecha, `motion_bucket_id=180, noise_aug_strength=0.1`. (Las imágenes se
# cargan desde el Hub: necesitan conexión a internet.)
#
# | ajustes por defecto | `motion_bucket_id=180`, `noise_aug_strength=0.1` |
# |:---:|:---:|
# | ![SVD-XT, ajustes por defecto (documentación de diffusers)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket.gif) | ![SVD-XT, más movimiento (documentación de diffusers)](https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/output_rocket_with_conditions.gif) |

# %% [markdown]
# **La llamada.** Cada ajuste de movimiento es un argumento de la llamada al pipeline. Copia esto en tu propio
# notebook (`pipe` e `image` como en las secciones 3 y 4; los valores son los de diffusers por defecto):
#
# ```python
# frames = pipe(
#     image,                     # 1024x576, preparada como en la sección 3
#     motion_bucket_id=127,      # cuánto movimiento: más alto, más movimiento
#     noise_aug_strength=0.02,   # ruido sobre tu imagen: más alto, más movimiento y menos parecido
#     fps=7,                     # fotogramas por segundo; el modelo recibe fps - 1
#     min_guidance_scale=1.0,    # la guía del primer fotograma...
#     max_guidance_scale=3.0,    # ... sube hasta esta en el último
#     decode_chunk_size=2,       # fotogramas que el VAE decodifica a la vez: el de la receta para T4 (lección 4)
#     generator=torch.manual_seed(42),  # la misma semilla da el mismo video
# ).frames[0]
# ```

# %% [markdown]
# **Los rangos, y de dónde vienen.**
#
# | argumento | por defecto | rango que usan las fuentes | fuente |
# |---|---|---|---|
# | `motion_bucket_id` | 127 | de 0 a 255; 180 como "más movimiento" | el script de Stability avisa por encima de 255; el ejemplo de la guía de diffusers |
# | `noise_aug_strength` | 0.02 | 0.02; 0.1 como "más movimiento" | el script de Stability (`cond_aug=0.02`); el ejemplo de la guía de diffusers |
# | `fps` | 7 | de 6 a 31 | el script de Stability avisa fuera de `fps_id` 5 a 30 |
# | `min_guidance_scale`, `max_guidance_scale` | 1.0, 3.0 | de 1.0 a 2.5 (SVD); de 1.5 a 3.0 (SVD-XT) | las configuraciones de referencia de Stability |
#
# El script de Stability es [`scripts/sampling/simple_video_sample.py`](https://github.com/Stability-AI/generative-models/blob/main/scripts/sampling/simple_video_sample.py),
# en su repositorio generative-models, junto a sus configuraciones `svd.yaml` y `svd_xt.yaml`. SVD-XT 1.1 se
# ajustó solo con 127 y `fps=7` (su ficha).

# %% [markdown]
# **Qué probar primero.**
# - *Más movimiento:* sube primero `motion_bucket_id`, por ejemplo a 180. Solo cambia la etiqueta de movimiento
#   (sección 4). No pases de 255.
# - *Todavía demasiado quieto:* después sube `noise_aug_strength` a 0.1. El video se mueve más, pero se parece
#   menos a tu foto.
# - *Menos movimiento:* baja `motion_bucket_id`, por ejemplo a 40, y deja `noise_aug_strength` en 0.02.
# - Cambia un valor cada vez y conserva la semilla: así, la diferencia que ves viene de ese valor.
# - Deja `fps=7` y guarda el video a 7 fotogramas por segundo.

# %% [markdown]
# **Tu propia foto.** En Colab, pon `UPLOAD_MY_PHOTO = True` y ejecuta la celda: debajo aparece un selector de
# archivos. Elige una foto; horizontal y de al menos 1024x576 da el mejor video. El curso la recorta como
# explica la sección 3. Sin subir nada (o fuera de Colab), la celda usa la foto de ejemplo.

# %%
from pathlib import Path

UPLOAD_MY_PHOTO = False  # True on Colab: choose a photo from your computer
photo_path = models.SAMPLE_IMAGE
if UPLOAD_MY_PHOTO and "google.colab" in sys.modules:
    from google.colab import files

    uploaded = files.upload()  # a file chooser appears below the cell
    photo_path = Path(next(iter(uploaded))) if uploaded else photo_path
my_image = parameters.prepare_image(parameters.load_image(photo_path, height=height, width=width), height, width)
print(f"{photo_path.name}: prepared to {my_image.size[0]}x{my_image.size[1]}")

# %% [markdown]
# Ahora, la receta con esa foto: tres videos con `motion_bucket_id` 40, 127 y 220, la misma semilla y todo lo
# demás con los valores por defecto. Para que quepa en una sesión de Colab, hacemos 14 fotogramas (no 25) en 10
# pasos (no 25). El trabajo de la UNet en cada paso crece con los fotogramas, así que cada video cuesta más o
# menos una cuarta parte de uno completo (las dos líneas de abajo). Con menos pasos, los fotogramas salen menos
# nítidos; con menos fotogramas, el video es más corto. En una CPU (pesos diminutos), la celda hace 2 pasos.

# %%
print("one full video (25 frames, 25 steps):", t4.describe_estimate(unet_steps=25))
print("the three videos below:", t4.describe_estimate(unet_steps=3 * 10, num_frames=14, decoded_frames=3 * 14))

# %%
steps = 10 if device == "cuda" else 2  # a CPU is slow
videos = {}
for motion_bucket_id in (40, 127, 220):
    videos[motion_bucket_id] = pipe(
        my_image,
        height=height,
        width=width,
        num_frames=14,
        num_inference_steps=steps,
        motion_bucket_id=motion_bucket_id,
        noise_aug_strength=0.02,
        fps=7,
        min_guidance_scale=1.0,
        max_guidance_scale=3.0,
        decode_chunk_size=recipe.decode_chunk_size,
        generator=torch.manual_seed(42),
    ).frames[0]
print({value: f"{len(frames)} frames of {frames[0].size[0]}x{frames[0].size[1]}" for value, frames in videos.items()})
assert all(len(frames) == 14 for frames in videos.values())

# %% [markdown]
# `motion_score` es el cambio medio entre fotogramas consecutivos (0 para un video quieto). Con los pesos
# reales, espera que crezca con el motion bucket, aunque no con todas las fotos. Con los pesos diminutos, los
# fotogramas son ruido: la cuadrícula solo muestra la disposición.

# %%
scores = {value: parameters.motion_score(frames) for value, frames in videos.items()}
fig = parameters.plot_frame_grid({f"bucket {v}\nmotion {scores[v]:.1f}": f for v, f in videos.items()},
                                 title=f"The motion recipe on {photo_path.name}, {source.name} weights"
                                 + (" (random weights: noise is expected)" if source.name != "pretrained" else ""))
plt.show()
print("motion scores:", {value: round(score, 1) for value, score in scores.items()})

# %% [markdown]
# Y el video con más movimiento, como lo reproduce un navegador. `export_to_video` es la función de diffusers
# que escribe videos; guarda el video con los `fps` con los que lo generaste. (Con los pesos diminutos, imageio
# avisa de que rellena 128x72 hasta un múltiplo de 16.)

# %%
import tempfile

from diffusers.utils import export_to_video
from IPython.display import Video

more_motion = export_to_video(videos[220], str(Path(tempfile.mkdtemp()) / "more_motion.mp4"), fps=7)
Video(more_motion, embed=True, width=min(width * 4, 768))

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
# puede no producir movimiento, o producir solo paneos lentos de cámara. No se puede controlar con texto. No
# puede dibujar texto legible. Las caras y las personas pueden salir mal. El autoencoder comprime con pérdida,
# así que los detalles finos pueden emborronarse.
#
# **Licencia.** Las fichas del modelo remiten el uso comercial a la página de licencias de Stability,
# [stability.ai/license](https://stability.ai/license). Con la Stability AI Community License, el uso es gratuito
# para investigación, para uso no comercial, y para uso comercial de personas y organizaciones con menos de
# 1 millón de dólares (USD) de ingresos al año. Por encima de eso, el uso comercial necesita una licencia
# Enterprise de pago ([el anuncio de Stability](https://stability.ai/news/license-update)). Lee el archivo de
# licencia del repo del modelo antes de usar los videos con fines comerciales.

# %% [markdown]
# ## Cosas para probar
# - Cambia `params.fps` a 3 y a 40: lee los avisos y mira la primera columna de `added_time_ids`.
# - Pon `min_guidance_scale=3.0, max_guidance_scale=1.0` y mira el gráfico de la izquierda.
# - En la sección 7, añade `noise_aug_strength=0.1` al video con `motion_bucket_id=220` y compara las
#   puntuaciones.
# - En una GPU con pesos reales: el preset `svd-xt-stability-reference` (`parameters.preset(...).pipeline_kwargs()`
#   da los argumentos de la llamada).

# %% [markdown]
# ## Resumen
# - SVD no tiene prompt: lo guían una imagen, tres números de condicionamiento y una escala de guía por
#   fotograma.
# - `fps` llega a la UNet como `fps - 1`; `fps=7` es el `fps_id=6` de Stability. SVD-XT 1.1 se ajustó con
#   fps 7 y motion bucket 127.
# - `motion_bucket_id` solo cambia su número de condicionamiento. `noise_aug_strength` es además ruido real
#   sobre la imagen que ve el VAE (CLIP la ve limpia).
# - Más movimiento: primero `motion_bucket_id` (hasta 255), después `noise_aug_strength` (0.1). Menos: un motion
#   bucket más bajo.
# - La entrada de la UNet tiene 8 canales: 4 de latentes con ruido + 4 de latentes de la imagen, repetidos en
#   cada fotograma.
# - La guía es `linspace(min, max, num_frames)`; la mitad incondicional recibe embeddings cero y latentes de
#   imagen cero.

# %% [markdown]
# ## Para seguir leyendo
# Las tres fichas del modelo (en inglés):
# [SVD](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid),
# [SVD-XT](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt), [SVD-XT
# 1.1](https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1) (restringida: inicia sesión
# para ver sus archivos). En cada una, lee "Model Details" (fotogramas, tamaño, de qué modelo se ajustó) y
# "Uses" (para qué sirve, y sus limitaciones). En la ficha de SVD-XT 1.1, busca el condicionamiento fijo (6 fps,
# motion bucket 127). En la ficha de SVD, el apéndice da el cómputo del entrenamiento. Después, la [guía de
# SVD](https://huggingface.co/docs/diffusers/using-diffusers/svd) de diffusers: su parte sobre el
# microcondicionamiento ("micro-conditioning") es la sección 4 de esta lección.
