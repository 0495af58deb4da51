"""Lesson 4: GPU and host memory themselves: the CUDA allocator's setting, a T4's cap on a bigger GPU, freeing
what a failed call held, and the host memory a process used.

Where the networks sit is a memory plan (plans.py); which plan fits a GPU is the planner's choice (planner.py);
one call's memory and time are measured by measure.py.

`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` cuts fragmentation (reserved minus allocated), and the
planner's calibration was measured with it; PyTorch reads it once, when CUDA starts. So the `svd-learn` program
calls `enable_expandable_segments()` before anything else, and this module imports torch only inside the
functions that use the GPU: importing it starts nothing and costs nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import sys

from svd_learn.environment import GIB

T4_GIB = 14.74  # what torch reports for a Colab T4 (total_memory)
T4_SAFE_PEAK_GIB = 14.0  # the most a plan may reserve on a T4: the CUDA context and cuDNN need the rest
ALLOC_CONF_VARIABLE = "PYTORCH_CUDA_ALLOC_CONF"
ALLOC_CONF_VARIABLES = (ALLOC_CONF_VARIABLE, "PYTORCH_ALLOC_CONF")  # PyTorch reads both (the second is its newer name)
EXPANDABLE_SEGMENTS = "expandable_segments:True"


# ----------------------------------------------------------------------------------------------------
# The CUDA allocator: expandable segments, before CUDA starts


def expandable_segments_enabled() -> bool:
    return any(EXPANDABLE_SEGMENTS in os.environ.get(name, "") for name in ALLOC_CONF_VARIABLES)


def cuda_started() -> bool:
    """Whether CUDA has started in this process (without importing torch: if it is not imported, it has not)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_initialized()


def enable_expandable_segments() -> None:
    """Ask PyTorch's CUDA allocator for expandable segments (less fragmentation: reserved stays near allocated).

    The allocator reads PYTORCH_CUDA_ALLOC_CONF once, when CUDA initialises. Call this before anything
    touches the GPU (first cell of a notebook, or `export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`).
    A setting of expandable_segments you made yourself (True or False) is kept; other settings are kept too.
    """
    if any("expandable_segments" in os.environ.get(name, "") for name in ALLOC_CONF_VARIABLES):
        return
    if cuda_started():
        raise RuntimeError(
            f"CUDA is already initialised, so {ALLOC_CONF_VARIABLE} is read and fixed for this process. "
            "Restart the runtime and call enable_expandable_segments() before anything uses the GPU."
        )
    current = os.environ.get(ALLOC_CONF_VARIABLE, "")
    os.environ[ALLOC_CONF_VARIABLE] = f"{current},{EXPANDABLE_SEGMENTS}" if current else EXPANDABLE_SEGMENTS


# ----------------------------------------------------------------------------------------------------
# A T4 on a bigger GPU, and freeing GPU memory


@contextlib.contextmanager
def emulate_t4(cap_gib: float = T4_GIB, device: int = 0, t4_kernels: bool = True):
    """Behave like a Colab T4 on a bigger GPU: cap PyTorch's memory at `cap_gib` and allow only the attention
    kernels a T4 has (memory-efficient and math; no FlashAttention). Use fp16 weights, as on a T4.
    With `t4_kernels=False` only the cap applies (`svd-learn generate --vram-budget`)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if not torch.cuda.is_available():
        raise RuntimeError("emulate_t4() caps a CUDA GPU's memory; this machine has no CUDA GPU.")
    total = torch.cuda.get_device_properties(device).total_memory
    if cap_gib * GIB > total:
        raise ValueError(f"This GPU has {total / GIB:.2f} GiB; it cannot emulate a {cap_gib} GiB budget.")
    torch.cuda.set_per_process_memory_fraction(cap_gib * GIB / total, device)
    kernels = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH] if t4_kernels else list(SDPBackend)
    try:
        with sdpa_kernel(kernels):
            yield
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)


def free_memory(device: str) -> None:
    """Give back what a failed attempt held: Python objects first, then the CUDA cache."""
    import torch

    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------------
# Host memory


def host_peak_rss_gib() -> float:
    """The most host memory this process has held so far (peak RSS, loading included).

    On Linux this is VmHWM. Not getrusage's ru_maxrss: Linux carries that over exec from the forked parent,
    so a child of a big process would report its parent's peak.
    """
    if sys.platform.startswith("linux"):
        return host_memory_gib()["VmHWM"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / GIB if sys.platform == "darwin" else peak * 1024 / GIB


def host_memory_gib() -> dict[str, float]:
    """This process's host memory now (Linux): peak RSS (VmHWM), RSS, and its anonymous and file-backed parts.
    File-backed pages (memory-mapped weight files) can be dropped by the kernel; anonymous pages cannot."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024 / GIB
    return fields
