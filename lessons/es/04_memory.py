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
# # Lección 4: hacer que SVD quepa en una T4, con mediciones
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/04_memory.ipynb)
#
# **Qué vas a aprender.** Por qué Stable Video Diffusion (SVD) necesita tanta memoria de GPU. Qué hace de verdad
# cada herramienta de memoria de diffusers y Accelerate (y cuánto tiempo cuesta). Qué consejo habitual no sirve
# para nada. Y cómo elegir la configuración más rápida que cabe en tu GPU. Cada número viene de una medición:
# aquí, celdas en vivo con pesos diminutos (tiny); y ejecuciones a tamaño completo en una GPU real, guardadas
# con el curso.

# %% [markdown]
# **La idea.** La memoria de la GPU guarda dos cosas. Los *pesos* ocupan 4.2 GiB para SVD-XT en fp16. Las
# *activaciones* son los tensores que una llamada crea por el camino. En SVD, el problema son las activaciones.
# La UNet ve cada fotograma dos veces por paso. El VAE decodifica los fotogramas a resolución completa. Puedes
# sacar pesos de la GPU: es el *offload*. Puedes trocear las activaciones, es decir, cortarlas en trozos
# (chunking). Cada cosa cuesta tiempo. La mezcla correcta depende de cuánta memoria tengas.

# %% [markdown]
# **Unidades.** Todos los tamaños de este curso están en GiB: 1 GiB = 2^30 bytes. PyTorch informa en GiB. Las
# páginas web suelen decir GB (10^9 bytes): 4.2 GiB son 4.5 GB.
#
# **Asignada y reservada.** PyTorch cuenta la memoria de GPU de dos formas. La memoria *asignada* (allocated)
# es la que ocupan los tensores vivos. La *reservada* (reserved) es la que PyTorch ha tomado de la GPU: la
# asignada, más los bloques liberados que guarda para reutilizarlos. Lo que se agota es la reservada, así que
# los picos del curso son picos de memoria reservada. La sección 2.6 muestra cómo se separan las dos.

# %% [markdown]
# Una T4 gratuita de Colab tiene 14.74 GiB. El consejo con el que empezó este curso (la receta inicial) fue: "usa
# `enable_model_cpu_offload()` más `enable_attention_slicing()`". Veremos que se queda sin memoria, y por qué.
# La lección termina con la receta sencilla que sí cabe (sección 6).

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

# Must run before anything touches the GPU: PyTorch reads this setting once, when CUDA starts (section 2.6).
memory.enable_expandable_segments()

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("04_memory"))

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
# Sin GPU, esta lección usa pesos aleatorios **diminutos**: las clases reales, con tamaños pequeños. El *flujo*
# de la memoria (qué se ejecuta y cuándo, dónde está cada red, qué tensores crecen y con qué) es real. Los
# tamaños no lo son. Por eso los números de GPU vienen de ejecuciones a tamaño completo, medidas en una H100 con
# los límites de una T4 (sección 3). Con GPU, la sección 5 mide tu propia GPU en vivo.
#
# ## 1. Por qué SVD necesita tanta memoria
#
# ### 1.1 Los pesos: 4.2 GiB
#
# La arquitectura real se puede construir en el dispositivo `meta` de PyTorch: todas las formas, sin memoria.
# Contar sus parámetros da el tamaño de los pesos en fp16 (2 bytes cada uno).

# %%
import torch

from svd_learn import models

GIB = 2**30
architecture = models.full_size_architecture("svd-xt")
weights_gib = {name: models.count_parameters(architecture[name]) * 2 / GIB for name in models.MODEL_COMPONENTS}
for name, gib in weights_gib.items():
    print(f"{name:14}{gib:5.2f} GiB")
print(f"{'total':14}{sum(weights_gib.values()):5.2f} GiB")
assert 4.1 < sum(weights_gib.values()) < 4.3

# %% [markdown]
# **La RAM del sistema (host) al cargar: los pesos vacíos de Accelerate.** El dispositivo `meta` también sirve
# para que la carga ahorre RAM del sistema. Un modelo normal de PyTorch se construye primero con pesos
# aleatorios; luego la carga los sobrescribe. Durante un momento, la RAM del sistema guarda el modelo dos veces.
# En cambio, `accelerate.init_empty_weights()` construye el modelo en el dispositivo `meta`: formas, sin
# memoria. Luego los pesos van directamente a él. Construimos el VAE real de SVD-XT (100 millones de parámetros,
# en fp32) de las dos formas y medimos la memoria del proceso: su *RSS* (resident set size, tamaño residente),
# la RAM del sistema que el proceso ocupa de verdad. Esto se ejecuta al principio de la lección, antes de cargar
# y liberar ningún pipeline: la memoria liberada se reutilizaría y ocultaría el crecimiento.

# %%
import gc

import psutil
from accelerate import init_empty_weights
from diffusers import AutoencoderKLTemporalDecoder


def host_gib():
    """This process's resident memory (RSS), in GiB."""
    return psutil.Process().memory_info().rss / GIB


vae_config = models.real_configs("svd-xt")["vae"]
gc.collect()
start = host_gib()
with init_empty_weights():
    empty_vae = AutoencoderKLTemporalDecoder.from_config(vae_config)
empty_growth, start = host_gib() - start, host_gib()
random_vae = AutoencoderKLTemporalDecoder.from_config(vae_config)
random_growth = host_gib() - start
vae_bytes_gib = models.count_parameters(random_vae) * 4 / GIB
print(f"the weights in fp32: {vae_bytes_gib:.2f} GiB")
print(f"built empty: the process grew by less than 0.05 GiB: {empty_growth < 0.05} (device: {next(empty_vae.parameters()).device.type})")
print(f"built with random weights: the process grew by at least 0.8 x the weights: {random_growth > 0.8 * vae_bytes_gib}")
assert next(empty_vae.parameters()).device.type == "meta" and empty_growth < 0.05 < 0.8 * vae_bytes_gib < random_growth
del empty_vae, random_vae
_ = gc.collect()

# %% [markdown]
# Rara vez lo llamas tú. `from_pretrained` lo hace cuando accelerate está instalado: `low_cpu_mem_usage=True` es
# su valor por defecto. El docstring de diffusers dice que "tries to not use more than 1x model size in CPU
# memory (including peak memory) while loading the model" (`ModelMixin.from_pretrained`). Significa: mientras
# carga el modelo, intenta no usar en la memoria de la CPU más de 1 vez su tamaño (incluido el pico). Sin
# accelerate, diffusers muestra un aviso y el pico de RAM del sistema sube.

# %% [markdown]
# Otros dos argumentos de carga vienen de Accelerate:
# - `device_map="cuda"` carga los pesos en la GPU en lugar de la CPU. La sección 3 lo mide: allí no ahorró RAM
#   del sistema, y el pico de la GPU fue 1.1 GiB más alto.
# - `max_memory={0: "10GiB", "cpu": "8GiB"}` con `device_map="auto"` permite a Accelerate repartir un mismo
#   *modelo* entre la GPU y la CPU. Cada red de SVD cabe por sí sola en una T4, así que el curso no lo necesita.
#
# Volvamos a la GPU. Una T4 guarda 4.2 GiB de pesos sin problema. Entonces, ¿adónde van los otros 10 GiB?
#
# ### 1.2 La UNet ve cada fotograma dos veces
#
# Con la guía sin clasificador (classifier-free guidance, CFG), el pipeline ejecuta la UNet en cada paso sobre
# dos copias del video: una condicionada y otra sin condicionar. Capturamos la entrada de la UNet con un gancho
# de PyTorch (forward hook), con pesos diminutos:

# %%
from PIL import Image

location = models.pipeline_location(source.name, "svd-xt")
checkpoint = models.get_checkpoint("svd-xt")
height, width = models.TINY_SIZE if source.name == "tiny" else (checkpoint.height, checkpoint.width)
image = Image.open(models.SAMPLE_IMAGE).convert("RGB").resize((width, height))


def load():
    """A fresh pipeline on the CPU: memory plans decide where it goes (offload hooks cannot be removed)."""
    pipe = models.load_pipeline(location)
    pipe.set_progress_bar_config(disable=True)
    return pipe


pipe = load()
pipe.to("cuda" if torch.cuda.is_available() else "cpu")
seen = []
hook = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
num_frames = 6
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=2, output_type="pt")
hook.remove()
print("UNet input (CFG copies, frames, channels, latent height, latent width):", seen[0])
assert seen[0][:2] == (2, num_frames) and len(seen) == 2  # 2 steps, one UNet call each with both copies

# %% [markdown]
# Dentro, la UNet lo aplana en un lote (batch) de imágenes: 2 x el número de fotogramas, **50 para SVD-XT**. Sus
# primeros bloques trabajan sobre la cuadrícula latente: 72 x 128 = 9216 posiciones para un video de 576 x 1024,
# con 320 canales. Un mapa de características del modelo real ocupa 50 x 9216 x 320 x 2 bytes. La capa
# *feed-forward* de cada bloque transformer (las capas lineales que siguen a la atención) lo ensancha 8x. Es una
# *GEGLU*, una capa con compuerta: una proyección produce dos tensores, cada uno 4x más ancho que su entrada, y
# multiplica uno por una función suave (GELU) del otro. Así que la salida de la proyección es 8x más ancha.
# Según la configuración real:

# %%
unet_config = models.real_configs("svd-xt")["unet"]
batch = 2 * checkpoint.num_frames
positions = (checkpoint.height // 8) * (checkpoint.width // 8)
channels = unet_config["block_out_channels"][0]
feature_map = batch * positions * channels * 2 / GIB
feed_forward = batch * positions * channels * 4 * 2 * 2 / GIB
print(f"one feature map: {feature_map:.2f} GiB; one feed-forward tensor: {feed_forward:.2f} GiB")

# The same widening, captured in the tiny UNet: the GEGLU projection's output has 8x the block's channels.
geglu_shapes = []
geglu = next(m for m in pipe.unet.modules() if type(m).__name__ == "GEGLU")
hook = geglu.proj.register_forward_hook(lambda module, args, out: geglu_shapes.append(tuple(out.shape)))
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, output_type="pt")
hook.remove()
tiny_channels = pipe.unet.config.block_out_channels[0]
print("tiny GEGLU projection output (batch, positions, channels):", geglu_shapes[0])
assert geglu_shapes[0][0] == 2 * num_frames and geglu_shapes[0][2] == 8 * tiny_channels

# %% [markdown]
# Varios de esos vivos a la vez, más la atención, explican por qué solo los pasos de eliminación de ruido
# (denoising) llegan a un pico de **12 GiB** en el modelo real (medido en la sección 3). Todo en esa estimación
# crece con *fotogramas x píxeles*.
#
# ### 1.3 El VAE decodifica los fotogramas a resolución completa
#
# Después del último paso, el VAE vuelve a convertir los latentes en píxeles. Por defecto, el pipeline
# decodifica **todos los fotogramas a la vez** (`decode_chunk_size=None` significa todos). Los tensores más
# grandes del decodificador tienen el tamaño completo de la imagen. Con ganchos, buscamos el más grande del VAE
# diminuto, por fotograma:

# %%
largest = []


def record_largest(module, args, output):
    if isinstance(output, torch.Tensor):
        largest.append((output.numel() // output.shape[0], tuple(output.shape[1:]), type(module).__name__))


vae = pipe.vae
hooks = [m.register_forward_hook(record_largest) for m in vae.decoder.up_blocks.modules()]
latents = torch.randn(1, 4, height // 8, width // 8, device=vae.device, dtype=vae.dtype)  # one frame
with torch.no_grad():
    vae.decode(latents, num_frames=1)
for h in hooks:
    h.remove()
per_frame, shape, where = max(largest)
up_channels = list(reversed(vae.config.block_out_channels))
print(f"largest decoder tensor per frame: {shape} from {where}; the up blocks' channels are {up_channels}")
assert per_frame == up_channels[2] * height * width  # the third up block's channels, at full size

# %% [markdown]
# La misma regla vale para el VAE real. Su tercer bloque de subida (up block) tiene 256 canales. Así que cada
# fotograma necesita un tensor fp16 de 256 x 576 x 1024, y decodificar 25 fotogramas a la vez necesita 25 de
# ellos en una sola pieza:

# %%
from svd_learn import planner, plans

benchmarks = planner.read_benchmarks()
runs = benchmarks["runs"]
real_up_channels = list(reversed(models.real_configs("svd-xt")["vae"]["block_out_channels"]))
all_frames_gib = checkpoint.num_frames * real_up_channels[2] * checkpoint.height * checkpoint.width * 2 / GIB
print(f"25 frames x {real_up_channels[2]} x 576 x 1024 x 2 bytes = {all_frames_gib:.2f} GiB")
seed_oom = next(r for r in runs if r["plan"] == "seed-recipe" and r["oom"])
print("what the seed's recipe hit on the GPU:", seed_oom["error"][:80], "...", seed_oom["error_at"])
assert f"Tried to allocate {all_frames_gib:.2f} GiB" in seed_oom["error"]

# %% [markdown]
# Es exactamente la asignación de memoria con la que falló la receta inicial. `decode_chunk_size` es el control
# principal de memoria del VAE. Con 2 fotogramas a la vez, ese tensor ocupa 0.56 GiB en lugar de 7.03. No es
# gratis: la sección 2.5 muestra qué cambia en los fotogramas.
#
# ## 2. Las herramientas, una por una
#
# ### 2.1 Dónde están las redes: offload
#
# `pipe.to("cuda")` pone los 4.2 GiB en la GPU. `enable_model_cpu_offload()` mantiene las redes en la RAM del
# sistema. Mueve una *red entera* a la GPU cuando esa red se ejecuta. Lo hace con el gancho documentado de
# Accelerate, `accelerate.cpu_offload_with_hook`, uno por red, encadenados en el orden de
# `model_cpu_offload_seq` del pipeline. Las versiones recientes de diffusers (0.34 y posteriores) se niegan a
# activarlo sin un acelerador:

# %%
try:
    load().enable_model_cpu_offload()
    offload_error = None
except RuntimeError as error:
    offload_error = str(error)
print(offload_error or "a GPU is here: model offload enabled")
assert torch.cuda.is_available() or "requires accelerator" in offload_error

# %% [markdown]
# El orden es un atributo público de la clase del pipeline:

# %%
print("model_cpu_offload_seq:", pipe.model_cpu_offload_seq)
assert pipe.model_cpu_offload_seq.split("->") == ["image_encoder", "unet", "vae"]

# %% [markdown]
# `cpu_offload_with_hook(model, prev_module_hook=...)` es la forma en que Accelerate documenta la cadena. Cada
# gancho mueve su red a la GPU antes de que se ejecute, y devuelve la red *anterior* a la CPU. Así, el gancho
# del VAE saca la UNet de la GPU. Nada saca el VAE hasta que termina la llamada. Además, el VAE se ejecuta
# primero (codifica tu imagen). Por eso se queda en la GPU junto a la UNet durante los pasos de eliminación de
# ruido.
#
# Los ganchos de Accelerate están en atributos privados del pipeline, así que no los leemos. En su lugar,
# miramos el resultado. `measure.measure_call` añade a cada red un gancho de PyTorch, sin más. Registra dónde
# está cada red cuando se ejecuta una de ellas. Esto es lo que registró en una GPU para cuatro configuraciones
# (los mismos ganchos se ejecutan en vivo en la sección 5). `meta` significa que el offload secuencial
# (sequential offload) dejó los pesos aparcados en la CPU y los va trayendo capa por capa.

# %%
def trace_table(plan):
    run = next(r for r in runs if r["plan"] == plan and r.get("placement"))
    print(f"{plan}:")
    for stage, where in run["placement"]:
        print(f"  {stage:15}" + "  ".join(f"{name}={place:5}" for name, place in where.items()))
    return dict((stage, where) for stage, where in run["placement"])


docs_trace = trace_table("docs-recipe")
gpu_trace = trace_table("gpu-decode2")
sequential_trace = trace_table("sequential-offload-chunked-decode1")
group_trace = trace_table("group-offload-chunked-decode2")
assert docs_trace["unet"] == {"image_encoder": "cpu", "unet": "cuda", "vae": "cuda"}
assert docs_trace["vae decode"]["unet"] == "cpu" and docs_trace["after the call"]["vae"] == "cpu"
assert set(gpu_trace["unet"].values()) == {"cuda"} and set(sequential_trace["unet"].values()) == {"meta"}

# %% [markdown]
# Cuatro ubicaciones, de la que más memoria de GPU usa a la que menos:
# - **gpu**: todo se queda en la GPU. Nada se mueve; es la más rápida.
# - **offload por modelos** (model offload): una red entera cada vez (la UNet, 2.8 GiB, más el VAE). Los pesos
#   viajan por *PCIe*, el bus entre la RAM del sistema y la GPU. Mover 4.2 GiB por él en cada llamada cuesta
#   unos segundos. La RAM del sistema tiene que guardar todos los pesos (unos 6 GiB, medido).
# - **offload por grupos** (group offload): los bloques de la UNet llegan a la GPU uno tras otro, en cada paso
#   (detalles abajo).
# - **offload secuencial**: una capa cada vez. La que menos memoria de GPU usa, y mucho más lenta.

# %% [markdown]
# El offload por grupos es `pipe.unet.enable_group_offload(..., use_stream=True)`. Un *CUDA stream* es una cola
# de trabajo de la GPU; las copias en su propio stream se ejecutan mientras otro stream calcula. Así, el
# siguiente bloque llega mientras el anterior calcula. Cada bloque vuelve a la CPU en cuanto termina (por eso la
# traza muestra la UNet en la CPU incluso justo después de ejecutarse). Solo la UNet: sobre el pipeline entero,
# choca con la conversión del VAE a fp32 (upcast). Cada paso vuelve a mover la UNet entera.
#
# ### 2.2 El attention slicing no hace nada en SVD
#
# `pipe.enable_attention_slicing()` solo llega a las redes que tienen un método `set_attention_slice`. Ni la
# UNet ni el VAE de SVD lo tienen. Así que la llamada no da ningún error, y no cambia nada:

# %%
pipe = load()
before = dict(pipe.unet.attn_processors)
pipe.enable_attention_slicing()
after = pipe.unet.attn_processors
unchanged = sum(before[name] is after[name] for name in before)
print(f"{unchanged} of {len(before)} attention processors are the same objects after enable_attention_slicing()")
print("has set_attention_slice: unet", hasattr(pipe.unet, "set_attention_slice"), "| vae", hasattr(pipe.vae, "set_attention_slice"))
assert unchanged == len(before) and not hasattr(pipe.unet, "set_attention_slice") and not hasattr(pipe.vae, "set_attention_slice")

# %% [markdown]
# En la GPU (sin límite de memoria), la receta inicial (offload por modelos + *attention slicing*, decodificar
# todos los fotogramas) y la misma receta sin attention slicing llegaron exactamente al mismo pico de memoria:

# %%
def find(plan, cap=memory.T4_GIB, checkpoint="svd-xt", steps=25, **extra):
    return next(r for r in runs if r["plan"] == plan and r["cap_gib"] == cap and r["checkpoint"] == checkpoint
                and r["steps"] == steps and all(r.get(k) == v for k, v in extra.items()))


with_slicing, without = find("seed-recipe", cap=None), find("model-offload-decode-all", cap=None)
for run in (with_slicing, without):
    print(f"{run['plan']:26} peak allocated {run['peak_allocated_gib']:.2f} GiB, reserved {run['peak_reserved_gib']:.2f} GiB")
assert abs(with_slicing["peak_allocated_gib"] - without["peak_allocated_gib"]) < 0.01

# %% [markdown]
# ### 2.3 El VAE temporal no tiene slicing ni tiling
#
# Los pipelines de imágenes ahorran memoria del VAE con `pipe.vae.enable_slicing()` y `enable_tiling()`. El VAE
# temporal de SVD rechaza los dos:

# %%
vae_errors = {}
for method in ("enable_slicing", "enable_tiling"):
    try:
        getattr(pipe.vae, method)()
    except NotImplementedError as error:
        vae_errors[method] = str(error)
    print(f"vae.{method}():", vae_errors.get(method, "no error"))
assert set(vae_errors) == {"enable_slicing", "enable_tiling"}

# %% [markdown]
# ### 2.4 Troceado del feed-forward: una muestra cada vez
#
# `pipe.unet.enable_forward_chunking()` activa el troceado (forward chunking) de las capas feed-forward: ejecuta
# cada una sobre una sola imagen del lote cada vez. Así, el tensor 8x más ancho de la sección 1.2 existe para
# una imagen, no para 2 x el número de fotogramas. El resultado debería ser el mismo. Comprobamos las dos cosas:
# la misma llamada, con la misma semilla, sin troceado y con troceado.

# %%
device = "cuda" if torch.cuda.is_available() else "cpu"
pipe = load()
pipe.to(device)


def one_step_frames():
    """One denoising step with a fixed seed, decoded 2 frames at a time; frames as a tensor in [0, 1]."""
    return pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, decode_chunk_size=2,
                output_type="pt", generator=torch.manual_seed(0)).frames


plain_frames = one_step_frames()
pipe.unet.enable_forward_chunking()  # the library call itself: chunk_size=1 along the batch (dim 0)
geglu = next(m for m in pipe.unet.modules() if type(m).__name__ == "GEGLU")
chunked_shapes = []
hook = geglu.proj.register_forward_hook(lambda module, args, out: chunked_shapes.append(tuple(out.shape)))
chunked_frames = one_step_frames()
hook.remove()
difference = (plain_frames - chunked_frames).abs().max().item()
print(f"GEGLU projection: {len(chunked_shapes)} calls of {chunked_shapes[0]} (without chunking: 1 call of {geglu_shapes[0]})")
print(f"largest pixel difference, with and without chunking: {difference:.5f} (pixels are 0 to 1)")
assert len(chunked_shapes) == 2 * num_frames and chunked_shapes[0][0] == 1
assert difference < 0.01  # the same frames, up to rounding (fp16 on a GPU rounds a little differently in pieces)

# %% [markdown]
# ### 2.5 `decode_chunk_size`: cuántos fotogramas decodifica el VAE a la vez
#
# Cuenta las llamadas al decodificador y los fotogramas de cada una:

# %%
decoder_batches = []
hook = pipe.vae.decoder.register_forward_pre_hook(lambda module, args: decoder_batches.append(args[0].shape[0]))
pipe(image, height=height, width=width, num_frames=num_frames, num_inference_steps=1, decode_chunk_size=2, output_type="pt")
hook.remove()
print("frames per decoder call with decode_chunk_size=2:", decoder_batches)
assert decoder_batches == [2] * (num_frames // 2)

# %% [markdown]
# **Lo que cuesta un trozo pequeño.** El decodificador del VAE de SVD es *temporal*: algunas de sus capas
# mezclan fotogramas vecinos, para que el video sea fluido. Pero cada trozo se decodifica solo. Los fotogramas
# de trozos distintos nunca se ven entre sí. La documentación de diffusers lo advierte ([guía de
# SVD](https://huggingface.co/docs/diffusers/using-diffusers/svd)). Con `decode_chunk_size=1`, "the video might
# have some flickering": el video puede tener algo de parpadeo. Y un trozo más pequeño "slightly leads to video
# quality deterioration": empeora un poco la calidad del video.

# %% [markdown]
# Lo medimos. Primero, un conjunto de latentes para los 25 fotogramas (unos pocos pasos de eliminación de
# ruido). Luego, esos mismos latentes decodificados con `decode_chunk_size` 1, 2, 8 y 25. `pipe.decode_latents`
# es el bucle de decodificación del propio pipeline. Dos números por tamaño de trozo:
# - cuánto se alejan sus fotogramas de la decodificación de todos a la vez (diferencia absoluta media por
#   píxel);
# - el cambio medio entre fotogramas vecinos, en un borde entre trozos y dentro de un trozo.
#
# Decodificar a la vez 25 fotogramas a tamaño completo necesita el tensor de 7.03 GiB de la sección 1.3: no cabe
# en una T4. Por eso la celda se salta el tamaño de trozo 25 cuando una pieza pasaría de 2 GiB. En su lugar,
# compara con el tamaño de trozo 8. Latentes y decodificación, con el modelo real:

# %%
from svd_learn import t4

decode_steps = 10 if torch.cuda.is_available() else 1  # more steps give real-looking latents; a CPU is slow
print(f"{decode_steps} steps, then 25 frames decoded 3 times and 8 once more:",
      t4.describe_estimate(unet_steps=decode_steps, decoded_frames=3 * checkpoint.num_frames + 8))

# %%
frames_in_video = checkpoint.num_frames
latents = pipe(image, height=height, width=width, num_frames=frames_in_video, num_inference_steps=decode_steps,
               output_type="latent", generator=torch.manual_seed(0)).frames
one_piece_gib = frames_in_video * real_up_channels[2] * height * width * 2 / GIB  # the largest tensor, decoding all at once
chunk_sizes = [1, 2, 8] + ([frames_in_video] if one_piece_gib < 2 else [])
if len(chunk_sizes) == 3:
    print(f"chunk size {frames_in_video} skipped: one piece would need {one_piece_gib:.2f} GiB")
decoded = {}
with torch.no_grad():
    for size in chunk_sizes:
        decoded[size] = ((pipe.decode_latents(latents, frames_in_video, size) + 1) / 2).clamp(0, 1).cpu()  # pixels 0 to 1
reference = max(chunk_sizes)
print(f"{'chunk':>5}{'diff. from chunk ' + str(reference):>22}{'change at a border':>20}{'change inside':>15}")
for size, frames in decoded.items():
    change = (frames[:, :, 1:] - frames[:, :, :-1]).abs().mean(dim=(0, 1, 3, 4))  # change[i]: frame i to frame i + 1
    border = [change[i].item() for i in range(frames_in_video - 1) if (i + 1) % size == 0]
    inside = [change[i].item() for i in range(frames_in_video - 1) if (i + 1) % size != 0]
    mean = lambda values: f"{sum(values) / len(values):.4f}" if values else "-"
    print(f"{size:5}{(frames - decoded[reference]).abs().mean().item():22.4f}{mean(border):>20}{mean(inside):>15}")
assert all((decoded[size] - decoded[reference]).abs().max() > 0 for size in chunk_sizes if size != reference)

# %% [markdown]
# Cada tamaño de trozo da píxeles distintos: el trozo no es solo un ajuste de memoria. La comprobación de abajo
# muestra por qué. Los 8 primeros fotogramas decodificados con `decode_chunk_size=8` son exactamente los 8
# primeros latentes decodificados solos. Ningún fotograma posterior influyó en ellos.

# %%
with torch.no_grad():
    first_chunk_alone = ((pipe.decode_latents(latents[:, :8], 8, 8) + 1) / 2).clamp(0, 1).cpu()
print("first chunk of 8, decoded alone, is identical:", torch.equal(first_chunk_alone, decoded[8][:, :, :8]))
assert torch.equal(first_chunk_alone, decoded[8][:, :, :8])

# %% [markdown]
# Con pesos diminutos, los fotogramas son ruido. Ahí, mira solo la estructura: los píxeles difieren, y los
# trozos son independientes. Con el modelo real, la tabla muestra lo que cuesta de verdad. Si el cambio en un
# borde es claramente mayor que el cambio dentro de un trozo, lo verías como un salto cada `decode_chunk_size`
# fotogramas.

# %% [markdown]
# **Por qué el curso decodifica 2 fotogramas a la vez en una T4.** El planificador (sección 4) midió dos planes
# con el presupuesto de memoria de una T4. Los dos mantienen el modelo entero en la GPU. `gpu-decode8` llegó a
# un pico de 13.42 GiB reservados, y `gpu-decode2`, a 12.56 GiB. Los dos decodificaron en unos 2.5 s. El trozo
# cambia el video: las capas temporales del VAE solo ven los fotogramas de un trozo. Por eso, cuando la
# velocidad es la misma, el planificador elige el trozo más grande que cabe con espacio de sobra. Un notebook
# que ya ejecutó un pipeline llega a un pico más alto que un proceso nuevo: en el ensayo de Colab del curso,
# `gpu-decode8` llegó a 14.55 GiB en la lección 5, por encima de los 14.0 que permite una T4. Por eso el
# planificador elige 8 fotogramas solo con 1.1 GiB de sobra (desde 16 GiB de memoria de GPU), y 2 en una T4.

# %%
decode8 = find("gpu-decode8", source="h100-main.json", load_kwargs={})
decode2 = find("gpu-decode2", source="h100-planner.json")
print(f"gpu-decode8: {decode8['peak_reserved_gib']:.2f} GiB, decode {decode8['decode_seconds']:.1f} s | "
      f"gpu-decode2: {decode2['peak_reserved_gib']:.2f} GiB, decode {decode2['decode_seconds']:.1f} s")
assert decode8["peak_reserved_gib"] <= memory.T4_SAFE_PEAK_GIB and decode2["peak_reserved_gib"] < decode8["peak_reserved_gib"] - 0.8
assert abs(decode8["decode_seconds"] - decode2["decode_seconds"]) < 0.1 * decode2["decode_seconds"]

# %% [markdown]
# ### 2.6 Segmentos expandibles: menos memoria desperdiciada
#
# PyTorch mantiene *reservada* (reserved) la memoria de GPU liberada, para reutilizarla. Los tensores de tamaños
# cambiantes dejan huecos en ella (fragmentación). Así, la memoria *reservada* crece más que la *asignada*
# (allocated). Y llegan errores de falta de memoria (out of memory) aunque, en teoría, haya memoria libre. Los
# segmentos expandibles (expandable segments) lo evitan: `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` deja
# que el asignador haga crecer los segmentos en lugar de dejar huecos. PyTorch lo lee **una sola vez, cuando
# CUDA arranca**: configúralo primero. La celda de preparación lo hizo con
# `memory.enable_expandable_segments()`, que se niega si CUDA ya arrancó. Todas las mediciones de abajo lo
# usaron.

# %%
import os

print(f"{memory.ALLOC_CONF_VARIABLE}={os.environ[memory.ALLOC_CONF_VARIABLE]}")
assert memory.expandable_segments_enabled()

# %% [markdown]
# ### 2.7 Leer un mensaje de falta de memoria
#
# Quedarse sin memoria de GPU es el primer error que encuentran casi todos los que aprenden SVD. El mensaje de
# PyTorch dice con números qué salió mal. Aquí tienes uno real: la receta inicial de la sección 1.3, en la H100
# limitada como una T4 (sección 3). El curso guardó sus primeros 300 caracteres. Una frase por línea:

# %%
print(seed_oom["error"].replace(". ", ".\n").replace("; ", ";\n"))
print("\nraised during:", seed_oom["error_at"])

# %% [markdown]
# Línea por línea:
# 1. **Tried to allocate 7.03 GiB** (intentó asignar 7.03 GiB): lo que pidió una operación, en una sola pieza.
#    Aquí es el tensor de decodificación de la sección 1.3: 25 fotogramas a la vez.
# 2. **total capacity ... of which ... is free** (capacidad total ... de la que ... está libre): la tarjeta
#    entera. En una T4 real, esta línea dice 14.74 GiB, y la parte libre es pequeña. Esta ejecución fue una
#    H100 con un límite, así que lee la línea 4.
# 3. **this process has 13.33 GiB memory in use** (este proceso usa 13.33 GiB): todo lo que el proceso ocupa en
#    la GPU. Es la memoria reservada de PyTorch, más el *contexto de CUDA* (la copia en la GPU del código y el
#    estado de las bibliotecas, fuera de la memoria de PyTorch).

# %% [markdown]
# 4. **14.74 GiB allowed** (14.74 GiB permitidos): el límite. Libre por debajo de él: 14.74 - 13.33 = 1.41 GiB,
#    mucho menos que 7.03.
# 5. **12.55 GiB is allocated by PyTorch** (PyTorch tiene 12.55 GiB asignados): los tensores vivos (los pesos y
#    las activaciones).
# 6. **107.71 MiB is reserved by PyTorch but unallocated** (reservados pero sin asignar): reservada pero libre,
#    los huecos de la sección 2.6. El mensaje completo sigue: "If reserved but unallocated memory is large try
#    setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation" (si esa memoria es grande,
#    prueba los segmentos expandibles para evitar la fragmentación).

# %% [markdown]
# Los mismos números, leídos con código: lo que se pidió, lo que estaba libre y adónde fue el resto.

# %%
import re


def gib(pattern):
    """The first size after `pattern` in the message, in GiB."""
    value, unit = re.search(pattern + r" ([\d.]+) (GiB|MiB)", seed_oom["error"]).groups()
    return float(value) / (1024 if unit == "MiB" else 1)


asked, in_use, allowed = gib("Tried to allocate"), gib("this process has"), float(re.search(r"([\d.]+) GiB allowed", seed_oom["error"])[1])
allocated, gaps = gib("Of the allocated memory"), gib("PyTorch, and")
print(f"asked {asked:.2f} GiB | free under the cap {allowed - in_use:.2f} GiB | reserved but unallocated {gaps:.2f} GiB "
      f"| outside PyTorch (CUDA context) {in_use - allocated - gaps:.2f} GiB")
assert asked > allowed - in_use and gaps < 0.5 and abs(asked - all_frames_gib) < 0.01

# %% [markdown]
# **Qué cambiar primero.**
# - *Lo pedido es mucho más que lo libre* (aquí, 7.03 GiB frente a 1.41): haz más pequeña esa operación. El
#   mensaje dice cuánto, y las últimas líneas de diffusers del traceback dicen dónde. En la decodificación del
#   VAE: un `decode_chunk_size` más pequeño (2 fotogramas necesitan 0.56 GiB). En la UNet: menos fotogramas, y
#   luego el troceado del feed-forward (sección 2.4).
# - *La memoria "reservada pero sin asignar" es grande* (GiB, no MiB): se pierde memoria en huecos. Activa los
#   segmentos expandibles antes de que arranque CUDA (sección 2.6).
# - *Solo después*, el offload: es lo que más libera, y lo que más tiempo cuesta (sección 3).
#
# Aquí los huecos eran 0.11 GiB, así que los segmentos expandibles no habrían salvado esta ejecución. Un trozo
# de decodificación más pequeño, sí.

# %% [markdown]
# ## 3. Medido: SVD-XT a tamaño completo con los límites de una T4
#
# `benchmarks/run_plans.py` construyó la arquitectura real de SVD-XT a partir de sus configuraciones reales, con
# pesos fp16 aleatorios (la memoria y la velocidad dependen de las formas, no de los valores). Luego ejecutó
# cada plan en su propio proceso, en una H100 limitada como una T4 (`memory.emulate_t4()`: 14.74 GiB, sin
# FlashAttention, fp16). 25 fotogramas, 576 x 1024, 25 pasos. Pico = `torch.cuda.max_memory_reserved`, `host` =
# el pico de RSS del proceso (la RAM del sistema), tiempo = la llamada al pipeline.

# %%
machine = benchmarks["machine"]
print(f"measured on {machine['gpu']}, torch {machine['torch']}, diffusers {machine['diffusers']}\n")
t4_runs = [r for r in runs if r["cap_gib"] == memory.T4_GIB and r["checkpoint"] == "svd-xt" and not r.get("warm_up")]
print(f"{'run':8}{'plan':36}{'steps':>6}{'reserved':>9}{'alloc.':>8}{'host':>6}{'call s':>8}{'s/step':>8}  result")
for r in t4_runs:
    timing = "" if r["oom"] else f"{r['seconds']:8.1f}{r['seconds_per_step']:8.2f}"
    note = " (loaded with device_map='cuda')" if r.get("load_kwargs") else ""
    print(f"{r['source'].split('-')[1].split('.')[0]:8}{r['plan']:36}{r['steps']:6}{r['peak_reserved_gib']:9.2f}"
          f"{r['peak_allocated_gib']:8.2f}{r['host_rss_gib']:6.1f}{timing:16}  {'OUT OF MEMORY' if r['oom'] else 'ok'}{note}")

# %% [markdown]
# Dos ejecuciones en dos máquinas del mismo tipo. `main` midió todos los planes. `planner` volvió a ejecutar la
# elección del planificador junto a las dos recetas. El offload secuencial se midió solo con 4 pasos: a 6 o 7 s
# por paso en una H100, una llamada completa tarda 3 minutos. Tres ejecuciones de `main` cargaron los pesos
# directamente en la GPU (`from_pretrained(..., device_map="cuda")`). Eso no ahorró RAM del sistema y costó 1.1
# GiB más en el pico de `gpu-decode8`. Por eso los planes cargan en la CPU y luego mueven el pipeline.

# %% [markdown]
# **Lee los segundos con cuidado.** El límite hace que una H100 se quede sin memoria donde se quedaría una T4.
# No la hace tan lenta como una T4: una T4 calcula muchas veces más despacio (`t4.describe_estimate` da la
# estimación del curso). Los tiempos comparan planes en la H100. En una T4 real, las proporciones pueden ser
# distintas.
#
# Ahora, las mismas ejecuciones en gráficos: el pico de memoria por plan frente a los 14.74 GiB de la T4, y el
# tiempo por llamada.

# %%
import matplotlib.pyplot as plt

latest = {}
for r in sorted(t4_runs, key=lambda r: not r.get("load_kwargs")):  # one bar per plan: its latest run, loaded on the CPU if any
    latest[r["plan"]] = r
order = sorted(latest.values(), key=lambda r: -r["peak_reserved_gib"])
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
colors = ["tab:red" if r["oom"] else "tab:blue" for r in order]
left.barh([r["plan"] for r in order], [r["peak_reserved_gib"] for r in order], color=colors)
left.axvline(memory.T4_GIB, color="black", linestyle="--", label="T4: 14.74 GiB")
left.axvline(memory.T4_SAFE_PEAK_GIB, color="gray", linestyle=":", label="safe peak: 14.0 GiB")
left.set_xlabel("peak reserved GPU memory, GiB (red: ran out)")
left.invert_yaxis()
left.legend(loc="lower right")
timed = [r for r in order if not r["oom"]]
seconds = [r["seconds"] if r["steps"] == 25 else r["prepare_seconds"] + 25 * r["seconds_per_step"] + r["decode_seconds"] for r in timed]
bars = right.barh([r["plan"] for r in timed], seconds, color="tab:green")
right.bar_label(bars, fmt="%.0f s", padding=3)
right.set_xlim(0, max(seconds) * 1.15)
right.set_xlabel("seconds per 25-step call on the H100 (sequential: from 4 steps)")
right.invert_yaxis()
fig.suptitle(f"SVD-XT, 25 frames, 576x1024, under a T4 budget on {machine['gpu']}")
fig.tight_layout()
plt.show()

# %% [markdown]
# Lo que dice la tabla, comprobado:

# %%
planner_run = [r for r in t4_runs if r["source"] == "h100-planner.json"]
docs = next(r for r in planner_run if r["plan"] == "docs-recipe")
seed = next(r for r in planner_run if r["plan"] == "seed-recipe")
chosen = next(r for r in planner_run if r.get("chosen_by_planner"))
print(f"seed recipe: out of memory {seed['error_at']}")
print(f"docs recipe: fits, {docs['peak_reserved_gib']:.1f} GiB, {docs['seconds']:.1f} s, host {docs['host_rss_gib']:.1f} GiB")
print(f"{chosen['plan']}: fits, {chosen['peak_reserved_gib']:.1f} GiB, {chosen['seconds']:.1f} s, host {chosen['host_rss_gib']:.1f} GiB: "
      f"{docs['seconds'] / chosen['seconds']:.2f}x the docs recipe's speed, in the same run")
assert seed["oom"] and "VAE decode" in seed["error_at"]
assert plans.PLANS[chosen["plan"]].placement == "gpu" and chosen["peak_reserved_gib"] <= memory.T4_SAFE_PEAK_GIB
assert chosen["host_rss_gib"] < docs["host_rss_gib"] and docs["seconds"] / chosen["seconds"] >= 1.25

# %% [markdown]
# - La receta inicial hace bien los pasos de eliminación de ruido (con offload por modelos). Luego se queda sin
#   memoria al decodificar los 25 fotogramas a la vez.
# - La receta de poca memoria de la documentación de diffusers (offload por modelos, troceado del feed-forward y
#   `decode_chunk_size=2`) cabe con margen de sobra. Pero mueve los pesos en cada llamada. Y trocea las capas
#   feed-forward, algo que en una T4 no hace falta.
# - Mantener todo en la GPU y decodificar pocos fotogramas a la vez también cabe en una T4. En la H100 limitada
#   fue 1.25x más rápido. También necesita menos RAM del sistema (Colab gratis tiene 12.7 GiB): los pesos no
#   tienen que quedarse en ella. La mayor parte de la ganancia está en la decodificación (2.6 s frente a 4.8 a
#   5.1 s) y en no mover pesos. Por paso, la ganancia es del 11 %.

# %% [markdown]
# - El offload secuencial necesita la menor memoria de GPU (4.6 GiB) y es 7x más lento por paso: solo sirve para
#   GPU pequeñas.
# - El offload por grupos de la UNet, tal como se configura aquí (un bloque por grupo, CUDA streams), asignó
#   menos memoria que el offload por modelos (6.3 GiB frente a 7.5). Pero *reservó* más (sus streams fragmentan
#   la memoria), fue más lento y usó más RAM del sistema. La memoria reservada es la que se agota, así que el
#   planificador nunca lo elige.

# %%
group = find("group-offload-chunked-decode2")
model_offload = find("docs-recipe", source="h100-main.json")
for r in (group, model_offload):
    print(f"{r['plan']:31} allocated {r['peak_allocated_gib']:.2f}  reserved {r['peak_reserved_gib']:.2f} GiB  "
          f"{r['seconds']:.1f} s  host {r['host_rss_gib']:.1f} GiB")
assert group["peak_allocated_gib"] < model_offload["peak_allocated_gib"]
assert group["peak_reserved_gib"] > model_offload["peak_reserved_gib"] and group["seconds"] > model_offload["seconds"]
assert group["host_rss_gib"] > model_offload["host_rss_gib"]

# %% [markdown]
# ## 4. El planificador: el plan más rápido que, según la predicción, cabe
#
# `planner.choose_plan` lee estas mediciones (datos del paquete, con la máquina y las versiones). Para una GPU y
# una RAM dadas, elige el plan más rápido cuyo pico previsto cabe. Deja libres 0.74 GiB para el contexto de CUDA
# (es decir, 14.0 GiB en una T4). Para otros tamaños escala las activaciones: la eliminación de ruido, con
# fotogramas x píxeles; la decodificación, con el trozo de decodificación x píxeles.

# %%
print(f"{'GPU GiB':>8}  {'plan':36}{'predicted peak GiB':>19}  fits")
for vram in (None, 8, 12, memory.T4_GIB, 16, 24, 40, 80):
    choice = planner.choose_plan(vram, 12.7)
    peak = "-" if choice.predicted_peak_gib is None else f"{choice.predicted_peak_gib:.2f}"
    print(f"{vram or 'none':>8}  {choice.plan.name:36}{peak:>19}  {choice.fits}")
t4_choice = planner.choose_plan(memory.T4_GIB, 12.7)
assert t4_choice.plan.placement == "gpu" and t4_choice.predicted_peak_gib <= memory.T4_SAFE_PEAK_GIB

# %% [markdown]
# Un plan al que otro plan supera a la vez en memoria de GPU, RAM del sistema y tiempo nunca se prueba, ni
# siquiera como alternativa de respaldo: `planner.fallback_order()` lo deja fuera.

# %%
for name in plans.PLANS:
    better = planner.dominated_by(name)
    if better and not plans.PLANS[name].baseline:
        print(f"{name} is never tried: {better} is as good or better on every count")
print("fallback order on out-of-memory:", " -> ".join(planner.fallback_order()))
assert planner.dominated_by("group-offload-chunked-decode2") == "model-offload-chunked-decode2"

# %% [markdown]
# El planificador explica su elección (el mismo texto que `svd-learn plan --vram 14.74 --host-ram 12.7`):

# %%
print(t4_choice.explain())

# %% [markdown]
# ¿Acertó el planificador? La segunda ejecución en GPU probó cada elección con su presupuesto, junto a las dos
# recetas:

# %%
checks = [r for r in runs if r.get("chosen_by_planner") and r["source"] == "h100-planner.json"]
for r in checks:
    print(f"{r['checkpoint']:7}{r['frames']:3} frames, cap {r['cap_gib']:5} GiB: {r['plan']:36} peak {r['peak_reserved_gib']:5.2f} GiB, "
          f"{'OUT OF MEMORY' if r['oom'] else 'fits'}")
    assert not r["oom"] and r["peak_reserved_gib"] <= r["cap_gib"] - planner.read_calibration()["gpu_reserve_gib"]
svd14 = next(r for r in checks if r["checkpoint"] == "svd")
predicted = planner.predict_peak_gib(svd14["plan"], svd14["frames"], svd14["height"], svd14["width"])
print(f"14-frame SVD: predicted {predicted:.2f} GiB, measured {svd14['peak_reserved_gib']:.2f} GiB")
assert svd14["peak_reserved_gib"] <= predicted

# %% [markdown]
# ## 5. La receta que usa el proyecto final, medida en vivo
#
# Esto es lo que hace `svd-learn generate` (lección 5), en cinco líneas: los segmentos expandibles antes de que
# CUDA arranque (en la celda de preparación), la elección del planificador para esta máquina, un pipeline nuevo,
# `apply_plan`, y la llamada con el `decode_chunk_size` del plan. En una GPU, `measure_run` registra el pico de
# memoria y el tiempo en tu GPU (con menos pasos: la memoria no depende de ellos). Aquí, sin GPU, el mismo
# código ejecuta el plan `cpu` con pesos diminutos. Registra la RAM del sistema, el tiempo y dónde estuvo cada
# red.

# %%
from svd_learn import t4

print("8 steps on 25 frames:", t4.describe_estimate(unet_steps=8))

# %%
import gc

from svd_learn import measure
from svd_learn.environment import probe
from svd_learn.parameters import GenerationParameters

del pipe, vae, geglu  # free the earlier pipelines before measuring
gc.collect()
env = probe()
choice = planner.choose_plan(env.vram_gib, env.host_ram_gib, "svd-xt", checkpoint.num_frames, height, width)
device = "cuda" if env.cuda_available else "cpu"
pipe = load()
plans.apply_plan(pipe, choice.plan, device)
params = GenerationParameters(num_frames=checkpoint.num_frames, height=height, width=width,
                              num_inference_steps=8 if device == "cuda" else 2,  # memory does not depend on steps
                              decode_chunk_size=choice.plan.decode_chunk_size)
measurement = measure.measure_call(pipe, image, params, device=device, output_type="pt", trace=True).measurement
print("plan:", choice.plan.name, "|", choice.reason.split(":")[0])
for stage, where in measurement.placement:
    print(f"  {stage:15}" + "  ".join(f"{name}={place}" for name, place in where.items()))
assert measurement.frames_finite and [stage for stage, _ in measurement.placement][:2] == ["image_encoder", "vae encode"]

# %% [markdown]
# Lo que midió (los valores cambian de una máquina a otra, así que esta celda imprime solo los nombres; imprime
# `numbers` para verlos). En una CPU, los campos de GPU quedan vacíos:

# %%
numbers = {k: v for k, v in measurement.to_dict().items() if k != "placement"}
print("measured:", ", ".join(k for k, v in numbers.items() if v is not None))
print("empty here:", ", ".join(k for k, v in numbers.items() if v is None) or "nothing")
assert numbers["seconds"] > 0 and numbers["host_rss_gib"] > 0
assert (numbers["peak_reserved_gib"] is not None) == (device == "cuda")

# %% [markdown]
# En una T4 con los pesos reales, la elección del planificador (la sección 4 la imprimió) mantiene el pico por
# debajo de 14 GiB. En una GPU más grande, envuelve la llamada en `with memory.emulate_t4():` para ver los
# límites de una T4.
#
# ## 6. La receta sencilla para una T4
#
# La elección del planificador para una T4, como llamadas normales de diffusers que puedes copiar en cualquier
# notebook de Colab. Sin código del curso:
#
# ```python
# import os
# os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"  # 1. antes de que arranque CUDA (sección 2.6)
#
# import torch
# from diffusers import StableVideoDiffusionPipeline
# from diffusers.utils import export_to_video, load_image
#
# pipe = StableVideoDiffusionPipeline.from_pretrained(                 # 2. archivos fp16, fp16 en memoria
#     "stabilityai/stable-video-diffusion-img2vid-xt", torch_dtype=torch.float16, variant="fp16")
# pipe.to("cuda")                                                      # 3. todo en la GPU (sección 3)
# image = load_image("my_photo.jpg").resize((1024, 576))               #    el tamaño con el que se entrenó SVD
# frames = pipe(image, decode_chunk_size=2, generator=torch.manual_seed(42)).frames[0]  # 4. 2 fotogramas por decodificación
# export_to_video(frames, "my_video.mp4", fps=7)                       # 5. el video
# ```

# %% [markdown]
# - `torch_dtype=torch.float16` funciona en todas las versiones de diffusers. diffusers 0.40 añadió el nombre
#   nuevo `dtype=`. Pero diffusers 0.39, la de Colab, ignora `dtype=` y carga en fp32 (la lección 1 muestra la
#   trampa).
# - `.resize((1024, 576))` estira una foto con otras proporciones, y una foto pequeña queda borrosa al
#   ampliarla. `prepare_image`, de la lección 2, recorta en lugar de estirar.
#
# La receta está en un solo sitio: el planificador. Esta celda comprueba que el bloque de arriba sigue siendo su
# elección para una T4. Si nuevas mediciones le hacen cambiar de opinión, la celda falla, y el bloque tiene que
# cambiar con él.

# %%
t4_plan = planner.choose_plan(memory.T4_GIB, 12.7).plan
print(f"the planner's T4 choice: {t4_plan.name} ({t4_plan.description})")
assert t4_plan.placement == "gpu" and not t4_plan.forward_chunking  # the block's pipe.to("cuda"), nothing chunked
assert t4_plan.decode_chunk_size == 2  # the block's decode_chunk_size=2

# %% [markdown]
# **En una GPU más pequeña, pregunta al planificador.** `svd-learn plan` imprime su elección para cualquier GPU,
# con el pico previsto y el tiempo medido en la GPU de calibración. Aquí está su respuesta para una tarjeta de
# 8 GiB con los 12.7 GiB de RAM de Colab (`planner.plan_command` imprime lo mismo que
# `svd-learn plan --vram 8 --host-ram 12.7`). Después, la receta de la documentación de la sección 3, cuyo pico
# pasó de 8 GiB:

# %%
exit_code = planner.plan_command(8, 12.7, "svd-xt", None, 576, 1024)
print(f"the docs' recipe ({docs['plan']}) peaked at {docs['peak_reserved_gib']:.2f} GiB reserved on the capped H100")
small = planner.choose_plan(8, 12.7)
assert exit_code == 0 and small.fits and docs["peak_reserved_gib"] > 8 > small.predicted_peak_gib

# %% [markdown]
# La lección 5 ejecuta el bloque de arriba. Luego muestra lo que `generate_video`, del curso, añade a su
# alrededor.
#
# ## Cosas para probar
# - `svd-learn plan --vram 8 --host-ram 12.7`, y luego `--frames 14`: ¿qué cambia y por qué?
# - En la sección 2.5, pon `decode_chunk_size=None` y cuenta las llamadas al decodificador.
# - En una GPU: mide `plans.apply_plan(load(), "docs-recipe", "cuda")` con `memory.emulate_t4()` y compara
#   con la sección 3.
# - Ejecuta `benchmarks/run_plans.py --jobs smoke` en una GPU grande (mira benchmarks/README.md).

# %% [markdown]
# ## Resumen
# - La memoria de SVD se va en activaciones. La UNet trabaja con 2 x (número de fotogramas) imágenes (CFG), y el
#   VAE decodifica a tamaño completo. Decodificar los 25 fotogramas a la vez necesita un tensor de 7.03 GiB.
# - `decode_chunk_size` es el control de memoria del VAE; `unet.enable_forward_chunking()` trocea las capas
#   feed-forward.
# - `enable_attention_slicing()` no cambia nada en SVD; el VAE temporal no tiene slicing ni tiling.
# - El offload (por modelos, por grupos, secuencial) cambia tiempo y RAM del sistema por memoria de GPU.
# - Un mensaje de falta de memoria dice qué se pidió y qué estaba libre: primero reduce esa operación.
# - En una T4: la elección del planificador (sección 4), con los segmentos expandibles activados. Limitada como
#   una T4, fue 1.25x más rápida que la receta de poca memoria de la documentación (sección 3).
# - Un `decode_chunk_size` pequeño cambia los píxeles: cada trozo se decodifica sin los demás fotogramas.
# - `planner.choose_plan` / `svd-learn plan` eligen el plan más rápido que cabe y dicen por qué.

# %% [markdown]
# ## Para seguir leyendo
# - [Big Model Inference](https://huggingface.co/docs/accelerate/usage_guides/big_modeling), de Accelerate (en
#   inglés): lee cómo `init_empty_weights` construye un modelo sin memoria (aquí, sección 1.1), y después qué
#   hacen `device_map="auto"` y `max_memory`. Busca los ganchos de offload (hooks): `enable_model_cpu_offload`
#   se basa en ellos (sección 2.1).
# - [Reduce memory usage](https://huggingface.co/docs/diffusers/optimization/memory), de diffusers: lee sus
#   partes sobre offload (CPU offloading, model offloading, group offloading) y sobre VAE slicing y tiling.
#   Compara cada una con esta lección: cuáles llegan a la UNet y al VAE temporal de SVD, y cuánto costó cada una
#   aquí.
