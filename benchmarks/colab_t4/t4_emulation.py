"""A Colab T4 on a bigger NVIDIA GPU, for the rehearsal (benchmarks/rehearse_colab.py): no part of the course.

`install_emulation` makes a bigger GPU look like a T4 to the code under test, so that a lesson run on it makes
the choices it would make on Colab. Put `benchmarks/colab_t4` on PYTHONPATH with SVD_LEARN_EMULATE_T4=1 and every
Python process started there (notebook kernels, `accelerate launch` workers) sees a T4 (sitecustomize.py installs
it when the process imports torch):

- `torch.cuda.get_device_properties` (and so `get_device_name`, `get_device_capability`) says "Tesla T4",
  14.74 GiB, compute capability 7.5; `mem_get_info` counts against 14.74 GiB;
- PyTorch's memory pool is capped at 14.74 GiB when CUDA starts (not at import: code that sets
  PYTORCH_CUDA_ALLOC_CONF before its first CUDA call must still get its way);
  `set_per_process_memory_fraction` is read as a fraction of the T4's memory;
- FlashAttention and cuDNN attention are off: a T4 has only the memory-efficient and math kernels.

What it cannot change: the speed (an H200 is about 30 times faster) and the kernels chosen for the bigger chip's
architecture. It also records, at exit, the full-size work each process asked for (the T4 seconds of it, from
svd_learn.t4's time model), its CUDA peak and its host peak (`_report`, to $SVD_LEARN_REHEARSAL_LOG).
"""

from __future__ import annotations

import atexit
import json
import os

from svd_learn.environment import GIB
from svd_learn.memory import host_peak_rss_gib
from svd_learn.t4 import TimeModel, estimate_seconds, time_model

EMULATION_VARIABLE = "SVD_LEARN_EMULATE_T4"  # "1": install_emulation() at start-up (sitecustomize.py)
# "1": keep the real compute capability. torch.compile's Triton builds kernels for the capability it reads, and a
# T4's sm_75 kernels cannot run on the bigger GPU: the rehearsal's compiled run sets this (a T4's own compile stays
# unmeasured).
REAL_CAPABILITY_VARIABLE = "SVD_LEARN_EMULATE_T4_REAL_CAPABILITY"
REPORT_VARIABLE = "SVD_LEARN_REHEARSAL_LOG"  # a file: each process appends one JSON line at exit


class _T4Properties:
    """The real device's properties, with a T4's name, memory and compute capability."""

    def __init__(self, real, model: TimeModel):
        self._real = real
        self.name = model.name
        self.total_memory = int(model.memory_gib * GIB)
        keep = os.environ.get(REAL_CAPABILITY_VARIABLE) == "1"
        self.major, self.minor = (real.major, real.minor) if keep else model.compute_capability

    def __getattr__(self, attribute):
        return getattr(self._real, attribute)

    def __repr__(self):
        return f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, total_memory={self.total_memory // 2**20}MB)"


def patch_cuda(cuda, model: TimeModel | None = None) -> None:
    """Make the module `cuda` (torch.cuda) report a T4. Separate from install_emulation so it can be tested
    on a stand-in module, on machines without a GPU."""
    model = model or time_model()
    t4_bytes = int(model.memory_gib * GIB)
    real_properties = cuda.get_device_properties
    real_fraction = cuda.set_per_process_memory_fraction
    real_mem_get_info = cuda.mem_get_info

    def get_device_properties(device=None):
        return _T4Properties(real_properties(device), model)

    def set_per_process_memory_fraction(fraction, device=None):
        real_total = real_properties(device).total_memory
        real_fraction(min(1.0, float(fraction) * t4_bytes / real_total), device)

    def mem_get_info(device=None):
        free, _ = real_mem_get_info(device)
        return min(free, max(0, t4_bytes - cuda.memory_reserved(device))), t4_bytes

    def cap_when_cuda_starts():
        real_fraction(min(1.0, t4_bytes / real_properties(0).total_memory), 0)

    for module in (cuda, getattr(cuda, "memory", None)):
        if module is None:
            continue
        for name, function in (
            ("get_device_properties", get_device_properties),
            ("mem_get_info", mem_get_info),
            ("set_per_process_memory_fraction", set_per_process_memory_fraction),
        ):
            if hasattr(module, name):
                setattr(module, name, function)
    cuda._lazy_call(cap_when_cuda_starts)


def install_emulation() -> None:
    """Emulate a T4 in this process (see the module docstring), and record what it ran (see `_report`)."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("T4 emulation needs a CUDA GPU to cap; this machine has none.")
    patch_cuda(torch.cuda)
    torch.backends.cuda.enable_flash_sdp(False)  # flags only: CUDA does not start here
    torch.backends.cuda.enable_cudnn_sdp(False)
    torch.nn.modules.module.register_module_forward_pre_hook(_count_full_size_work)
    _keep_peak_across_resets(torch.cuda)
    atexit.register(_report)


_WORK = {"full_size_unet_steps": 0, "estimated_t4_seconds": 0.0}  # what this process asked of the full-size model
_PEAK_BEFORE_RESETS = {"reserved": 0}  # code under test resets the peak statistics to measure one call


def _keep_peak_across_resets(cuda) -> None:
    """Remember the peak reserved memory each time code resets the statistics, so the process's peak survives."""
    real_reset = cuda.reset_peak_memory_stats

    def reset_peak_memory_stats(device=None):
        if cuda.is_initialized():
            _PEAK_BEFORE_RESETS["reserved"] = max(_PEAK_BEFORE_RESETS["reserved"], cuda.max_memory_reserved(device))
        real_reset(device)

    for module in (cuda, getattr(cuda, "memory", None)):
        if module is not None and hasattr(module, "reset_peak_memory_stats"):
            module.reset_peak_memory_stats = reset_peak_memory_stats


def _count_full_size_work(module, args):
    """A forward pre-hook on every module: count the full-size UNet's steps, and the T4 seconds (estimated from
    FLOPs) of every full-size UNet step and VAE decode, at the shapes the call really had."""
    kind = type(module).__name__
    if kind == "UNetSpatioTemporalConditionModel" and module.config.block_out_channels[-1] >= 1280 and args:
        batch, frames, _, height, width = args[0].shape
        _WORK["full_size_unet_steps"] += 1
        _WORK["estimated_t4_seconds"] += estimate_seconds(1, frames, 0, 8 * height, 8 * width, guidance=batch == 2)
    elif kind == "TemporalDecoder" and module.conv_in.out_channels >= 512 and args:
        frames, _, height, width = args[0].shape
        _WORK["estimated_t4_seconds"] += estimate_seconds(0, frames, frames, 8 * height, 8 * width)


def _report() -> None:
    """At exit: append this process's full-size work, CUDA peak and host peak to $SVD_LEARN_REHEARSAL_LOG."""
    path = os.environ.get(REPORT_VARIABLE)
    if not path:
        return
    import torch

    record = {
        "pid": os.getpid(),
        **_WORK,
        "cuda_peak_reserved_gib": round(max(_PEAK_BEFORE_RESETS["reserved"], torch.cuda.max_memory_reserved()) / GIB, 2)
        if torch.cuda.is_initialized()
        else 0.0,
        "host_peak_gib": round(host_peak_rss_gib(), 2),
    }
    with open(path, "a") as log:
        log.write(json.dumps(record) + "\n")
