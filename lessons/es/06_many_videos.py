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
# # Apéndice: muchos videos en muchas GPU, con Accelerate
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/svd-learn/svd-learn/blob/main/lessons/es/06_many_videos.ipynb)
#
# **Qué vas a aprender.** Cómo convertir una carpeta de imágenes (y un barrido de parámetros) en videos, en
# varias GPU a la vez, con 🤗 Accelerate. Cómo se reparte el trabajo para que cada video se haga exactamente
# una vez. Cómo lanzar un proceso por GPU. Qué pasa con una imagen rota. Cómo una nueva ejecución retoma el
# trabajo después de una interrupción. Y cuánto más rápidas son de verdad dos GPU (medido en dos H200).

# %% [markdown]
# **La idea.** Los videos no dependen unos de otros. Por eso no repartimos el *modelo* entre las GPU (SVD-XT
# cabe en una). Repartimos la *lista de videos*. Cada GPU tiene su propio proceso, con su propia copia del
# pipeline. Cada una hace su parte de la lista, un video tras otro. Nada tiene que viajar entre las GPU
# mientras trabajan. Así, N GPU hacen unas N veces más videos por minuto. Accelerate le dice a cada proceso
# quién es (`process_index`) y cuántos hay (`num_processes`). Le da a cada uno su propio dispositivo, y su
# parte de una lista (`split_between_processes`).

# %%
# Setup. On Colab this installs the course, then only what Colab lacks (Colab's torch stays); elsewhere nothing.
LANGUAGE = "es"  # the language of svd-learn's messages: "en" or "es" (the Spanish edition says "es")
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", 'install -q --no-deps "svd-learn @ git+https://github.com/svd-learn/svd-learn"')
    from svd_learn.install import install_requirements

    install_requirements()  # the libraries it needs; replaces nothing Colab ships, never its torch

from svd_learn import language, lesson_work

language.use(LANGUAGE)  # every message below, and those of the commands this notebook runs

from svd_learn.environment import check_requirements, print_header

check_requirements()
source = print_header()
print(lesson_work.describe("06_many_videos"))

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
# **En Colab.** Colab te da una sola GPU, así que allí nada de esto se ejecuta en varias GPU. Lo que sí se
# ejecuta en una T4 de Colab: todas las celdas. El lanzamiento de la sección 2 inicia un proceso en esa única
# GPU, con los pesos reales. El reparto, la imagen rota, la reanudación y el resumen funcionan igual con un
# proceso. Lo que necesita una máquina con varias GPU: ver cómo dos o más procesos se reparten la lista, y la
# aceleración. Para eso, la sección 5 muestra números medidos en dos H200. La sección 6 da los comandos para
# escribir en una máquina así. Sin GPU, con pesos diminutos (tiny), la lección inicia dos procesos de CPU, así
# que ahí también ves el reparto.

# %% [markdown]
# Con pesos diminutos (sin GPU), los fotogramas son ruido. Pero todo lo que trata esta lección es real: los
# procesos, el reparto, los archivos, los fallos y la reanudación. Sin GPU, los procesos son procesos de CPU que
# se comunican por `gloo` (el backend de PyTorch para CPU). No son procesos de GPU que se comunican por NCCL.
#
# ## 1. Una carpeta de imágenes es una lista de trabajos
#
# Creamos una carpeta con tres imágenes y con un archivo que solo finge ser un PNG (va a fallar).

# %%
import tempfile
from pathlib import Path

from diffusers.utils import load_image
from PIL import ImageOps

from svd_learn import batch, models

work = Path(tempfile.mkdtemp(prefix="many-videos-"))
images_dir = work / "images"
images_dir.mkdir()
sample = load_image(str(models.SAMPLE_IMAGE))  # diffusers' loader: upright and RGB
sample.save(images_dir / "rocket.png")
ImageOps.mirror(sample).save(images_dir / "rocket_mirrored.png")
ImageOps.grayscale(sample).save(images_dir / "rocket_grey.png")
(images_dir / "broken.png").write_bytes(b"this is not a PNG")
print(sorted(p.name for p in images_dir.iterdir()))

# %% [markdown]
# Un *trabajo* (job) es un par (imagen, parámetros). Con un barrido (aquí, dos valores del *motion bucket*),
# cada imagen da un trabajo por valor. Todos los procesos deben construir **la misma lista en el mismo orden**.
# Si no, sus partes se solaparían o dejarían huecos. Por eso las imágenes se ordenan por nombre. El nombre de
# salida de cada trabajo se forma con el nombre de la imagen y los valores del barrido. Nada aleatorio, nada que
# dependa del proceso.

# %%
sweep = batch.parse_sweep(["motion_bucket_id=60,180"])
jobs = batch.make_jobs(batch.list_images(images_dir), sweep)
for job in jobs:
    print(f"{job.name:36} <- {Path(job.image).name}")
assert len(jobs) == 4 * 2
assert jobs == batch.make_jobs(batch.list_images(images_dir), sweep)  # the same list every time

# %% [markdown]
# ## 2. Un proceso por GPU, cada uno con su parte
#
# `accelerate launch` inicia los procesos (uno por GPU). Le dice a cada uno quién es mediante variables de
# entorno, y `PartialState()` las lee. Luego todos los procesos ejecutan el mismo código:
#
# ```python
# state = PartialState()                                   # process_index, num_processes, device
# with state.split_between_processes(jobs) as my_jobs:     # una parte contigua de la misma lista
#     for job in my_jobs:
#         ...                                              # hacer el video
# results = gather_object(my_results)                      # los resultados de todos, en cada proceso
# if state.is_main_process:
#     ...                                                  # imprimir y escribir el resumen, una vez
# ```
#
# En este notebook hay un solo proceso, así que su parte es la lista entera:

# %%
from accelerate import PartialState

state = PartialState()
with state.split_between_processes(jobs) as my_jobs:
    print(f"process {state.process_index} of {state.num_processes} on {state.device}: {len(my_jobs)} jobs")
assert state.num_processes == 1 and list(my_jobs) == jobs

# %% [markdown]
# Con más procesos, cada uno recibe su parte. Aquí está el bucle de arriba como un programa completo: ocho
# trabajos, repartidos con `split_between_processes`, y los resultados reunidos con `gather_object`.
# `accelerate launch` lo inicia como un proceso por GPU (aquí, dos procesos de CPU; en Colab, uno en su única
# GPU). Cópialo para probar Accelerate con tu propia lista.

# %%
import subprocess

import torch

script = work / "split_jobs.py"
script.write_text("""
import torch
from accelerate import PartialState
from accelerate.utils import gather_object

state = PartialState(cpu=not torch.cuda.is_available())  # without a GPU, cpu=True makes the processes one group
jobs = [f"job {number}" for number in range(8)]
with state.split_between_processes(jobs) as my_jobs:
    mine = [(state.process_index, job) for job in my_jobs]
everyone = gather_object(mine)  # every process's list, joined in process order
if state.is_main_process:
    for process, job in everyone:
        print(f"process {process} ran {job}")
state.wait_for_everyone()  # nobody leaves before the main process has printed
state.destroy_process_group()  # then close the group cleanly
""")
processes = torch.cuda.device_count() or 2  # one per GPU; two CPU processes without a GPU
launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes), "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no"] + (["--multi_gpu"] if processes > 1 else [])
split = subprocess.run([*launch, str(script)], capture_output=True, text=True, timeout=300)
print(split.stdout)
ran = [line.split(" ran ")[1] for line in split.stdout.splitlines()]
assert split.returncode == 0 and sorted(ran) == sorted(f"job {number}" for number in range(8)), split.stderr[-2000:]

# %% [markdown]
# Cada trabajo se ejecutó exactamente una vez, y las partes son contiguas (con dos procesos, el proceso 0 toma
# la primera mitad). Ahora, un trabajo en sí, con diffusers sin más: la imagen del trabajo, su valor del
# barrido, una semilla fija, una llamada, un archivo. (Pocos fotogramas y un solo paso, para que la lección se
# ejecute en segundos.)

# %%
import gc

from diffusers import StableVideoDiffusionPipeline
from diffusers.utils import export_to_video

from svd_learn import t4

print("one video of 4 frames and 1 step:", t4.describe_estimate(unet_steps=1, num_frames=4))
device = "cuda" if torch.cuda.is_available() else "cpu"
height, width = models.TINY_SIZE if source.name == "tiny" else (576, 1024)
pipe = StableVideoDiffusionPipeline.from_pretrained(models.pipeline_location(source.name, "svd-xt"), variant="fp16",
                                                    torch_dtype=torch.float16 if device == "cuda" else torch.float32)
pipe.to(device)
job = next(job for job in jobs if Path(job.image).name != "broken.png")  # the first job with a real image
frames = pipe(ImageOps.fit(load_image(str(job.image)), (width, height)), height=height, width=width, num_frames=4,
              num_inference_steps=1, decode_chunk_size=2, generator=torch.manual_seed(0), **dict(job.sweep)).frames[0]
print(f"{job.name}: {len(frames)} frames, {dict(job.sweep)} ->", Path(export_to_video(frames, str(work / "one_job.mp4"), fps=7)).name)
del pipe  # free the GPU for the processes launched below
gc.collect()
if torch.cuda.is_available():
    torch.cuda.empty_cache()
assert len(frames) == 4

# %% [markdown]
# `svd-learn batch` es ese bucle, más lo que necesita un procesamiento por lotes (batch) real:
# - cada proceso carga el pipeline **una vez** (no una vez por video) y planifica su memoria como en el proyecto
#   final;
# - cada video y su informe se escriben de forma atómica;
# - un trabajo que falla queda registrado, y se ejecuta el siguiente;
# - las salidas que ya están completas se saltan.
#
# Ahora lo lanzamos de verdad: un proceso por GPU, o aquí dos procesos de CPU. Desde la línea de comandos es
#
# ```bash
# accelerate launch --num_processes 2 -m svd_learn.cli batch images -o videos --sweep motion_bucket_id=60,180
# ```
#
# (`-m svd_learn.cli` ejecuta el comando `svd-learn` como módulo, que es lo que necesita `accelerate launch`.)
# Aquí usamos pocos fotogramas y pasos, para que la lección se ejecute en segundos.

# %%
print("each video of 4 frames and 1 step:", t4.describe_estimate(unet_steps=1, num_frames=4))
gpus = torch.cuda.device_count()
processes = gpus if gpus else 2  # one per GPU; two CPU processes without a GPU
out_dir = work / "videos"
command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
if processes > 1:
    command += ["--multi_gpu"]  # starts the processes with torch.distributed (on a CPU machine too)
command += ["-m", "svd_learn.cli", "batch", str(images_dir), "-o", str(out_dir), "--sweep", "motion_bucket_id=60,180",
            "--source", source.name, "--frames", "4", "--steps", "1"]
launched = subprocess.run(command, capture_output=True, text=True, timeout=600)
print("exit status:", launched.returncode, "(1: some jobs failed, as the summary says)")
assert launched.returncode == 1, launched.stdout[-3000:] + launched.stderr[-3000:]

# %% [markdown]
# El código de salida es 1 porque un trabajo falló (el archivo roto): así los scripts lo pueden saber. El
# proceso principal escribió `batch_summary.json` en la carpeta de salida. Lo hizo después de reunir los
# resultados de todos los procesos:

# %%
import json

summary = json.loads((out_dir / batch.SUMMARY_NAME).read_text())
print(f"{summary['num_processes']} processes ({summary['distributed_type']}): {len(summary['done'])} done, "
      f"{len(summary['skipped'])} skipped, {len(summary['failed'])} failed")
for entry in summary["done"] + summary["failed"]:
    print(f"  process {entry['process']}  {entry['status']:7} {entry['name']:36} {entry['error'] or ''}")
assert summary["num_processes"] == processes

# %% [markdown]
# ## 3. Cada trabajo exactamente una vez, una imagen rota registrada
#
# El reparto es contiguo: con 8 trabajos y 2 procesos, el proceso 0 tomó los cuatro primeros y el proceso 1 los
# cuatro últimos. Cada imagen buena dio exactamente un video por valor del motion bucket, cada uno con su
# informe. Leemos de nuevo cada video y contamos sus fotogramas. El archivo roto falló dos veces (una por valor)
# sin detener nada.

# %%
from svd_learn.video import read_video_info

ran_by = {entry["name"]: entry["process"] for entry in summary["done"] + summary["failed"]}
base, extra = divmod(len(jobs), processes)  # the first `extra` processes take one job more
expected = [process for process in range(processes) for _ in range(base + (process < extra))]
assert [ran_by[job.name] for job in jobs] == expected
good = [job for job in jobs if not job.name.startswith("broken")]
assert sorted(p.name for p in out_dir.glob("*.mp4")) == sorted(job.video(out_dir).name for job in good)
for job in good:
    report = json.loads(job.report(out_dir).read_text())
    frames = read_video_info(job.video(out_dir))["frames"]
    assert frames == report["frames"] == 4 and report["parameters"]["motion_bucket_id"] == dict(job.sweep)["motion_bucket_id"]
print("videos:", len(good), "each with 4 frames and its report")
assert [entry["name"] for entry in summary["failed"]] == ["broken__motion_bucket_id-60", "broken__motion_bucket_id-180"]
print("failed:", summary["failed"][0]["error"])

# %% [markdown]
# diffusers vuelve a leer cualquiera de estos videos con `load_video`. Aquí están los fotogramas del primero
# (ruido con pesos diminutos; en Colab, tu video):

# %%
from diffusers.utils import load_video, make_image_grid
from IPython.display import display

first = load_video(str(good[0].video(out_dir)))
display(make_image_grid(first, rows=1, cols=len(first)))
print(f"{good[0].video(out_dir).name}: {len(first)} frames of {first[0].size[0]}x{first[0].size[1]}")
assert len(first) == 4

# %% [markdown]
# Las semillas también son fijas. Todos los trabajos usan la misma semilla (`--seed`, 0 por defecto), salvo que
# hagas un barrido de ella (`--sweep seed=0,1,2`). Así, un trabajo hace el mismo video sin importar qué proceso
# o qué GPU lo ejecuta.
#
# ## 4. Retomar después de una interrupción
#
# Un trabajo está completo cuando su informe existe y su video tiene el tamaño que el informe registra (el video
# se escribe primero y el informe al final, ambos de forma atómica). Supón que la máquina se detuvo después de
# escribir un video, pero antes de su informe: borramos un informe. Luego ejecutamos el lote otra vez, en este
# notebook (un proceso). Los trabajos completos se saltan. El interrumpido se hace de nuevo. El roto se intenta
# otra vez, y vuelve a fallar.

# %%
interrupted = good[0]
interrupted.report(out_dir).unlink()
from svd_learn.parameters import GenerationParameters
from svd_learn.run import RunSpec

again = batch.run_batch(images_dir, out_dir, GenerationParameters(num_frames=4, num_inference_steps=1),
                        RunSpec(source=source.name), sweep=sweep, say=lambda message: None)
print(f"done: {[e['name'] for e in again.done]}\nskipped: {len(again.skipped)}\nfailed: {len(again.failed)}")
assert [e["name"] for e in again.done] == [interrupted.name]
assert len(again.skipped) == len(good) - 1 and len(again.failed) == 2

# %% [markdown]
# ¿Y si cambias un ajuste y ejecutas en la misma carpeta? Un video completo hecho con otros ajustes nunca se
# reemplaza sin avisar. El trabajo falla con un mensaje que dice qué cambió, y `--force` lo vuelve a hacer.

# %%
changed = batch.run_batch(images_dir, out_dir, GenerationParameters(num_frames=4, num_inference_steps=2),
                          RunSpec(source=source.name), sweep=sweep, say=lambda message: None)
refused = [entry for entry in changed.failed if not entry["name"].startswith("broken")]
print(str(refused[0]["error"]).replace(str(out_dir), "videos"))  # str(): the message in the lesson's language
assert len(refused) == len(good) and not changed.done
assert "num_inference_steps 1 there, 2 now" in refused[0]["error"]  # as recorded: English, like batch_summary.json

# %% [markdown]
# ## 5. La velocidad: dos GPU contra una, medida
#
# `benchmarks/batch_throughput.py` ejecutó el mismo lote dos veces en una misma sesión, en una máquina con dos
# H200. Primero con 1 proceso (GPU 0), luego con 2 (GPU 0 y 1). El modelo: SVD-XT a tamaño completo, con pesos
# fp16 aleatorios (la memoria y la velocidad del modelo real, sin descarga). 25 fotogramas de 576x1024, 10 pasos
# de eliminación de ruido (denoising). Son menos que los 25 del uso real, para ahorrar tiempo de GPU: un paso
# cuesta lo mismo en un caso y en el otro. Se midió en diciembre de 2026, con el código de lotes que ejecuta
# esta lección. Una H200 es mucho más rápida que una T4: fíjate en la proporción, no en los minutos.

# %% [markdown]
# El lote mide dos rendimientos:
# - mientras trabaja: desde que todos los procesos cargaron el pipeline hasta su último video (lo que las GPU
#   sostienen);
# - del lanzamiento a la salida: desde `accelerate launch` hasta que termina (lo que se nota en un lote pequeño,
#   con el arranque y la carga incluidos).

# %%
measured = batch.measured_throughput()
settings = measured["settings"]
print(f"{measured['machine']['gpus'][0]} x {len(measured['machine']['gpus'])}; {settings['videos']} videos of "
      f"{settings['num_frames']} frames {settings['width']}x{settings['height']}, {settings['num_inference_steps']} steps")
print(f"{'':12}{'videos/min (GPUs busy)':>24}{'videos/min (launch to exit)':>30}{'load s':>8}{'launch s':>10}")
for key, label in (("one_process", "1 GPU"), ("two_processes", "2 GPUs")):
    run = measured[key]
    load = max(p["load_s"] for p in run["per_process"])
    print(f"{label:12}{run['videos_per_minute']:>24.2f}{run['end_to_end_videos_per_minute']:>30.2f}{load:>8.1f}{run['launch_wall_s']:>10.1f}")
speedup = measured["speedup"]
print(f"speed-up of 2 GPUs: {speedup['videos_per_minute']:.2f}x while working, {speedup['end_to_end_videos_per_minute']:.2f}x launch to exit")
assert measured["one_process"]["videos_done"] == measured["two_processes"]["videos_done"] == settings["videos"]
assert speedup["videos_per_minute"] >= 1.8

# %% [markdown]
# ¿Un poco menos de 2x mientras trabaja? Mira el tiempo de cada video. El primer video que hace un proceso es
# más lento: los kernels de CUDA se eligen y se guardan en caché la primera vez que se usan. Después, un video
# tarda lo mismo en cualquiera de las GPU. Con 1 GPU, uno de los cuatro videos paga ese calentamiento. Con 2 GPU,
# cada GPU lo paga en uno de sus dos videos, en paralelo: el calentamiento pesa más en una ejecución más corta,
# así que la proporción queda justo por debajo de 2. Para planificar, usa el tiempo estable por video. (La
# columna del plan dice `gpu-decode8`: una H200 tiene memoria para ese plan. Una T4 usa `gpu-decode2`, lección 4.
# Cada GPU trabaja sola, así que lo que vale para otras GPU es la proporción.)

# %%
for key in ("one_process", "two_processes"):
    for job in measured[key]["jobs"]:
        print(f"{key:14} {job['name']}  {job['device']:7} {job['seconds']:5.1f} s  (call {job['call_s']:.1f} s, "
              f"write {job['write_s']:.1f} s, peak {job['peak_reserved_gib']:.1f} GiB, plan {job['plan']})")
first, later = [], []
for key in ("one_process", "two_processes"):
    seen = set()
    for job in measured[key]["jobs"]:  # in the order each process made them
        (later if job["device"] in seen else first).append(job["seconds"])
        seen.add(job["device"])
print(f"a process's first video: {min(first):.1f} to {max(first):.1f} s; every later one: {min(later):.1f} to {max(later):.1f} s")
assert min(first) > max(later)  # the warm-up is real
assert max(later) < 1.05 * min(later)  # after it, the same speed on either GPU, alone or side by side

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
labels = ["1 GPU", "2 GPUs"]
busy = [measured[k]["videos_per_minute"] for k in ("one_process", "two_processes")]
whole = [measured[k]["end_to_end_videos_per_minute"] for k in ("one_process", "two_processes")]
ax.bar([0, 1], busy, width=0.38, label="while the GPUs work")
ax.bar([0.4, 1.4], whole, width=0.38, label="launch to exit (start-up and loading included)")
ax.set_xticks([0.2, 1.2], labels)
ax.set_ylabel("videos a minute")
ax.set_title(f"svd-learn batch, SVD-XT {settings['num_frames']}x{settings['height']}x{settings['width']}, "
             f"{settings['num_inference_steps']} steps, {measured['machine']['gpus'][0].split(',')[0]}")
ax.set_ylim(0, max(busy) * 1.35)  # room for the legend above the bars
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# ¿Por qué "del lanzamiento a la salida" queda más lejos de 2x? Porque cada lanzamiento paga un costo fijo, una
# vez por proceso, en paralelo: arrancar Python e importar torch, y cargar el pipeline de 4.2 GiB en su GPU.
# Con 4 videos, ese costo fijo es una parte grande. Con las 400 imágenes de una clase, se vuelve despreciable.
# Un modelo simple de un lanzamiento en G GPU es `fixed + ceil(N / G) x seconds_per_video`. Con los números
# medidos, predice:

# %%
import math

one = measured["one_process"]
seconds_per_video = one["work_s"] / one["videos_done"]
fixed = one["launch_wall_s"] - one["work_s"]
def predicted_minutes(videos: int, gpus: int) -> float:
    return (fixed + math.ceil(videos / gpus) * seconds_per_video) / 60
print(f"fixed cost of a launch: {fixed:.0f} s (start-up and loading); then {seconds_per_video:.1f} s a video per GPU")
for videos in (4, 40, 400):
    print(f"{videos:4} videos: 1 GPU {predicted_minutes(videos, 1):6.1f} min, 2 GPUs {predicted_minutes(videos, 2):6.1f} min, "
          f"speed-up {predicted_minutes(videos, 1) / predicted_minutes(videos, 2):.2f}x")
# The model must reproduce the measured 2-GPU launch within 15% before we trust its predictions.
assert abs(predicted_minutes(one["videos_done"], 2) * 60 - measured["two_processes"]["launch_wall_s"]) < 0.15 * measured["two_processes"]["launch_wall_s"]
assert predicted_minutes(400, 1) / predicted_minutes(400, 2) > 1.9

# %% [markdown]
# Así que espera unas **N veces más videos por minuto con N GPU**, cada GPU a la velocidad de una sola. El lote
# debe ser lo bastante largo para esconder el arranque (aquí, menos de medio minuto). Hay dos condiciones:
# - los procesos no deben compartir una GPU: dos copias de SVD-XT en una GPU compiten por el mismo cálculo y la
#   misma memoria;
# - la máquina debe tener RAM para cargar a la vez un pipeline por proceso.

# %% [markdown]
# **Un lote largo es también donde compilar compensa.** `svd-learn batch --compile` compila la UNet una vez por
# proceso con `torch.compile` (el mismo video, pasos más rápidos). El compilador trabaja en la CPU antes del
# primer video, varios minutos con los dos núcleos de Colab. El modelo de la T4 del curso dice a partir de cuántos
# videos compensa:

# %%
from svd_learn import t4

payback = t4.compile_payback()
print(payback.describe())
assert payback.videos_to_break_even > 1  # one video never pays for the compiler: leave --compile off for it

# %% [markdown]
# ## 6. Lanzar en una máquina con varias GPU
#
# Esto es para una máquina con varias GPU (una máquina virtual en la nube, un servidor de tu universidad o de tu
# empresa). Colab tiene una sola GPU: ahí te basta con `svd-learn batch`, sin más.
#
# ```bash
# pip install "svd-learn @ git+https://github.com/svd-learn/svd-learn"
# accelerate launch --num_processes 4 -m svd_learn.cli batch images/ -o videos/        # 4 GPU, un proceso en cada una
# accelerate launch --num_processes 2 --gpu_ids 2,3 -m svd_learn.cli batch images/ -o videos/   # solo las GPU 2 y 3
# accelerate launch --num_processes 4 -m svd_learn.cli batch images/ -o videos/ --sweep seed=0,1,2  # 3 variaciones de cada imagen
# ```
#
# ¿Se interrumpió? Ejecuta el mismo comando otra vez: los videos completos se saltan. Sin GPU, `--multi_gpu
# --num_processes 2` inicia dos procesos de CPU, como hizo esta lección. `accelerate config` guarda tus opciones
# habituales. Así, `accelerate launch -m svd_learn.cli batch ...` no necesita más opciones.

# %% [markdown]
# ## Cosas para probar
# - Añade `--sweep seed=0,1,2` al lanzamiento de arriba y comprueba que cada imagen ahora tiene seis videos.
# - Interrumpe un lanzamiento con Ctrl-C a mitad de camino (en la línea de comandos) y lánzalo otra vez: cuenta
#   lo que se salta.
# - Lanza con 3 procesos: 8 trabajos se reparten 3 + 3 + 2. ¿Qué proceso recibe el trabajo de más?
# - Abre un informe (`videos/rocket__motion_bucket_id-60.json`): ¿qué proceso, qué dispositivo y qué plan lo
#   hicieron?
# - Cambia `split_jobs.py` (sección 2) a 9 trabajos y lánzalo otra vez: ¿quién recibe el noveno?

# %% [markdown]
# ## Resumen
# - Muchos videos en muchas GPU es paralelismo de datos: reparte la lista de trabajos, no el modelo.
# - `accelerate launch --num_processes N` inicia un proceso por GPU. `PartialState()` le dice a cada uno quién
#   es y qué dispositivo es el suyo. `split_between_processes` le da a cada uno una parte contigua de la misma
#   lista. `gather_object` reúne los resultados. El proceso principal informa una sola vez.
# - La misma lista en cada proceso, nombres y semillas deterministas: cada trabajo se ejecuta exactamente una
#   vez. Una nueva ejecución salta lo que está completo. Un trabajo que falla queda registrado; los demás
#   siguen.
# - Medido en dos H200: mientras trabajaban, 2 GPU hicieron videos unas dos veces más rápido que una. El
#   arranque y la carga se pagan una vez por lanzamiento, así que los lotes largos obtienen toda la aceleración.

# %% [markdown]
# ## Para seguir leyendo
# La guía [Distributed inference](https://huggingface.co/docs/accelerate/usage_guides/distributed_inference) de
# Accelerate (en inglés). Su primera parte, la que envía trozos de un lote a cada copia del modelo ("Sending
# chunks of a batch automatically to each loaded model"), es el patrón de esta lección: una copia completa del
# modelo por GPU, y `split_between_processes`. Busca `apply_padding` (iguala las partes) y cómo vuelven los
# resultados. Sus partes siguientes reparten un solo modelo entre varias GPU: SVD-XT cabe en una GPU, así que
# aquí no las necesitas.
