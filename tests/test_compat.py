"""compat.py: every known error is recognised in its verbatim text; doctor, explain and the IPython extension.

The texts below are verbatim: captured by the lab's reproductions on this machine (paths shortened to
/venv/...), or quoted in shared/reference/versions.md, or taken from the library source that prints them.
"""

import pytest
from typer.testing import CliRunner

from svd_learn import compat, explain
from svd_learn.cli import app

SITE = "/venv/lib/python3.11/site-packages"

VERBATIM = {
    # captured: diffusers==0.28.2 + huggingface_hub==0.26.0, python -c "import diffusers"
    "cached_download": f"""Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "{SITE}/diffusers/__init__.py", line 5, in <module>
    from .utils import (
  File "{SITE}/diffusers/utils/__init__.py", line 38, in <module>
    from .dynamic_modules_utils import get_class_from_dynamic_module
  File "{SITE}/diffusers/utils/dynamic_modules_utils.py", line 28, in <module>
    from huggingface_hub import cached_download, hf_hub_download, model_info
ImportError: cannot import name 'cached_download' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)""",
    # captured: diffusers==0.24.0 + huggingface_hub==1.3.4 (its last frame)
    "hf_cache_home": f"""  File "{SITE}/diffusers/utils/constants.py", line 17, in <module>
    from huggingface_hub.constants import HUGGINGFACE_HUB_CACHE, hf_cache_home
ImportError: cannot import name 'hf_cache_home' from 'huggingface_hub.constants' ({SITE}/huggingface_hub/constants.py)""",
    # captured: diffusers==0.35.1 + transformers==5.0.0 + torch, from diffusers import StableVideoDiffusionPipeline
    "flax_weights_name": f"""    raise RuntimeError(
RuntimeError: Failed to import diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion because of the following error (look up to see its traceback):
cannot import name 'FLAX_WEIGHTS_NAME' from 'transformers.utils' ({SITE}/transformers/utils/__init__.py)""",
    # captured: transformers==4.57.1, then huggingface_hub==1.3.4
    "transformers4_hub1": """ImportError: huggingface-hub>=0.34.0,<1.0 is required for a normal functioning of this module, but found huggingface-hub==1.3.4.
Try: `pip install transformers -U` or `pip install -e '.[dev]'` if you're working with git main""",
    # captured: transformers==5.0.0, then huggingface_hub==0.25.2
    "old_hub_pin": f"""  File "{SITE}/transformers/utils/hub.py", line 29, in <module>
    from huggingface_hub import (
ImportError: cannot import name 'is_offline_mode' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)""",
    # captured: huggingface_hub==1.3.4
    "use_auth_token": "TypeError: hf_hub_download() got an unexpected keyword argument 'use_auth_token'",
    "hf_folder": f"ImportError: cannot import name 'HfFolder' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)",
    # captured: diffusers==0.39.0 + torch, no accelerate
    "accelerate_missing": "ImportError: `enable_model_cpu_offload` requires `accelerate v0.17.0` or higher.",
    # captured: diffusers==0.39.0 + accelerate==1.14.0 + torch, no GPU
    "offload_no_accelerator": "RuntimeError: `enable_model_cpu_offload` requires accelerator, but not found",
    # captured: xformers==0.0.32.post2 next to torch 2.13.0+cpu, python -c "import xformers"
    # (the lab's torch is a CPU build, so that text is diagnosed torch_cpu_build: test_a_cpu_torch_is_the_cause_not_xformers;
    # here the torch of a GPU machine stands in)
    "xformers_torch_mismatch": """WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions. xFormers was built for:
    PyTorch 2.8.0+cu128 with CUDA 1208 (you have 2.9.0+cu126)
    Python  3.9.23 (you have 3.11.7)
  Please reinstall xformers (see https://github.com/facebookresearch/xformers#installing-xformers)
  Memory-efficient attention, SwiGLU, sparse and more won't be available.
  Set XFORMERS_MORE_DETAILS=1 for more details""",
    # captured: matplotlib==3.8.0, then numpy==2.0.2 (the same NumPy check torch < 2.3 fails)
    "numpy2_abi": """
A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.2 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.
""",
    # torch's CUDA caching allocator message, with the numbers of a free Colab T4
    "cuda_oom": (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a total capacity of "
        "14.74 GiB of which 1.20 GiB is free. Process 2113 has 13.54 GiB memory in use. Of the allocated memory "
        "13.30 GiB is allocated by PyTorch, and 101.12 MiB is reserved by PyTorch but unallocated. If reserved but "
        "unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
        "fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
    ),
    # transformers/training_args.py
    "bf16_on_t4": "ValueError: Your setup doesn't support bf16/gpu. You need to assign use_cpu if you want to train the model on CPU.",
    # captured: diffusers==0.42.1, from_pretrained(torch_dtype=...)
    "torch_dtype_deprecated": f"""{SITE}/diffusers/utils/deprecation_utils.py:23: FutureWarning: `torch_dtype` is deprecated and will be removed in version 1.0.0. Please use `dtype` instead.
  deprecate("torch_dtype", "1.0.0", _TORCH_DTYPE_DEPRECATION_MESSAGE)""",
    # Colab's pip output, quoted in versions.md
    "stale_module": """WARNING: The following packages were previously imported in this runtime:
  [huggingface_hub]
You must restart the runtime in order to use newly installed versions.""",
    # captured: diffusers==0.23.1 + huggingface_hub==0.25.2, from diffusers import StableVideoDiffusionPipeline
    "diffusers_too_old_for_svd": f"""Traceback (most recent call last):
  File "<string>", line 1, in <module>
ImportError: cannot import name 'StableVideoDiffusionPipeline' from 'diffusers' ({SITE}/diffusers/__init__.py)""",
    # captured: pip download --python-version 3.7 diffusers==0.24.0 (the list of ignored releases shortened)
    "python_too_old_for_diffusers": """ERROR: Ignored the following versions that require a different python version: 0.22.0 Requires-Python >=3.8.0; 0.24.0 Requires-Python >=3.8.0; 0.42.1 Requires-Python >=3.11.0
ERROR: Could not find a version that satisfies the requirement diffusers==0.24.0 (from versions: 0.0.1, 0.20.1, 0.21.3, 0.21.4)
ERROR: No matching distribution found for diffusers==0.24.0""",
    # captured: torch 2.13.0+cpu, torch.zeros(1).cuda()
    "torch_cpu_build": f"""  File "{SITE}/torch/cuda/__init__.py", line 403, in _lazy_init
    raise AssertionError("Torch not compiled with CUDA enabled")
AssertionError: Torch not compiled with CUDA enabled""",
    # torch's message for a CPU kernel without fp16 (older torch releases), written for this test
    "half_on_cpu": """  File "/usr/local/lib/python3.10/dist-packages/torch/nn/modules/conv.py", line 456, in _conv_forward
    return F.conv2d(input, weight, bias, self.stride,
RuntimeError: "slow_conv2d_cpu" not implemented for 'Half'""",
    "no_gpu": "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx",
    "no_kernel_image": """RuntimeError: CUDA error: no kernel image is available for execution on the device
CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.""",
    # captured: transformers==5.0.0 + torch, CLIPVisionModel.from_pretrained(folder, use_auth_token=...)
    "use_auth_token_transformers5": "TypeError: CLIPVisionModel.__init__() got an unexpected keyword argument 'use_auth_token'",
    "gated_repo": """huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-6745a1b2-0c1d2e3f4a5b6c7d8e9f0a1b)

Cannot access gated repo for url https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt/resolve/main/model_index.json.
Access to model stabilityai/stable-video-diffusion-img2vid-xt is restricted. You must have access to it and be authenticated to access it. Please log in.""",
    "repo_not_found": """OSError: stabilityai/stable-video-difusion-img2vid-xt is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'
If this is a private repository, make sure to pass a token having permission to this repo either by logging in with `hf auth login` or by passing `token=<your_token>`""",
    # captured: diffusers 0.42.1, a UNet saved without a variant, from_pretrained(folder, variant="fp16")
    "variant_missing": "OSError: Error no file named diffusion_pytorch_model.fp16.bin found in directory /tmp/tmpqcxt6d08.",
    # captured: diffusers 0.42.1, a UNet saved with variant="fp16", from_pretrained(folder)
    "variant_not_requested": "OSError: Error no file named diffusion_pytorch_model.bin found in directory /tmp/tmpnr_0huq5.",
    # captured: safetensors 0.8.0 on a Git LFS pointer file
    "safetensors_header": "safetensors_rust.SafetensorError: Error while deserializing header: header too large",
    # captured: Python 3.12.1, python -c "import imp"
    "imp_removed": """Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'imp'""",
    # huggingface_hub 0.23's warning, as transformers 4.40 triggered it
    "resume_download_warning": f"""{SITE}/huggingface_hub/file_download.py:1132: FutureWarning: `resume_download` is deprecated and will be removed in version 1.0.0. Downloads always resume when possible. If you want to force a new download, use `force_download=True`.
  warnings.warn(""",
    "local_dir_use_symlinks_warning": f"""{SITE}/huggingface_hub/file_download.py:896: UserWarning: `local_dir_use_symlinks` parameter is deprecated and will be ignored. The process to download files to a local folder has been updated and do not rely on symlinks anymore. You only need to pass a destination folder as`local_dir`.""",
    "ignored_keyword_warning": "Keyword arguments {'use_auth_token': 'hf_xxx'} are not expected by StableVideoDiffusionPipeline and will be ignored.",
    # huggingface_hub 0.26's message with HF_HUB_OFFLINE=1 (as the lab runs) and no cached file
    "hub_unreachable": "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find the requested files in the disk cache and outgoing traffic has been disabled. To enable hf.co look-ups and downloads online, set 'local_files_only' to False.",
    "host_ram_exhausted": "Your session crashed after using all available RAM. If you are interested in access to high-RAM runtimes, you may want to check out Colab Pro.",
    "disk_full": "OSError: [Errno 28] No space left on device: '/root/.cache/huggingface/hub/models--stabilityai--stable-video-diffusion-img2vid-xt/blobs/abc.incomplete'",
    # captured: a script named huggingface_hub.py that imports hf_hub_download
    "shadowed_module": """Traceback (most recent call last):
  File "/tmp/tmpiptpnh7y/huggingface_hub.py", line 1, in <module>
    from huggingface_hub import hf_hub_download
  File "/tmp/tmpiptpnh7y/huggingface_hub.py", line 1, in <module>
    from huggingface_hub import hf_hub_download
ImportError: cannot import name 'hf_hub_download' from partially initialized module 'huggingface_hub' (most likely due to a circular import) (/tmp/tmpiptpnh7y/huggingface_hub.py)""",
    # captured: huggingface_hub only, python -c "import diffusers"
    "not_installed": """Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'diffusers'""",
    # captured: huggingface_hub==0.26.0, python -c "from huggingface_hub import cached_download" (your own code asks)
    "removed_name": f"""Traceback (most recent call last):
  File "<string>", line 1, in <module>
ImportError: cannot import name 'cached_download' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)""",
    # captured: accelerate==0.32.0 + huggingface_hub==0.20.3 + torch, python -c "import accelerate"
    "hub_too_old": f"""Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "{SITE}/accelerate/__init__.py", line 16, in <module>
    from .accelerator import Accelerator
  File "{SITE}/accelerate/accelerator.py", line 34, in <module>
    from huggingface_hub import split_torch_state_dict_into_shards
ImportError: cannot import name 'split_torch_state_dict_into_shards' from 'huggingface_hub' ({SITE}/huggingface_hub/__init__.py)""",
    # written for this test: a diffusers pipeline file next to a transformers older than the name it imports (Colab layout)
    "transformers_too_old": """  File "/usr/local/lib/python3.10/dist-packages/diffusers/pipelines/qwenimage/pipeline_qwenimage.py", line 19, in <module>
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer
ImportError: cannot import name 'Qwen2_5_VLForConditionalGeneration' from 'transformers' (/usr/local/lib/python3.10/dist-packages/transformers/__init__.py)""",
    # captured: diffusers==0.29.0, python -c "from diffusers import AutoencoderKLWan" (a name of a later release)
    "library_too_old": """Traceback (most recent call last):
  File "<string>", line 1, in <module>
ImportError: cannot import name 'AutoencoderKLWan' from 'diffusers' (/venv/lib/python3.11/site-packages/diffusers/__init__.py)""",
    # captured: diffusers==0.29.0, python -c "from diffusers.models.unet_2d_condition import UNet2DConditionModel"
    "moved_module": """Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'diffusers.models.unet_2d_condition'""",
    # written for this test in the layout of a Mac (Apple silicon, a venv under /Users)
    "cuda_on_mac": """  File "/Users/ana/svd/run.py", line 9, in <module>
    pipe.to("cuda")
  File "/Users/ana/svd/.venv/lib/python3.12/site-packages/torch/cuda/__init__.py", line 363, in _lazy_init
    raise AssertionError("Torch not compiled with CUDA enabled")
AssertionError: Torch not compiled with CUDA enabled""",
    # the message of torchvision built for another torch, as PyPI's torchvision prints it beside this CPU torch
    "torchvision_torch_mismatch": f"""  File "{SITE}/torchvision/_meta_registrations.py", line 163, in <module>
    @torch.library.register_fake("torchvision::nms")
RuntimeError: operator torchvision::nms does not exist""",
    # written for this test: diffusers 0.36 next to torch 2.0.1 (conda)
    "torch_too_old": """  File "/home/ana/miniconda3/envs/svd/lib/python3.10/site-packages/diffusers/utils/torch_utils.py", line 37, in <module>
    "xpu": torch.xpu.empty_cache,
AttributeError: module 'torch' has no attribute 'xpu'""",
    # torch 2.6+ beside typing_extensions 4.9.0, import torch
    "typing_extensions_old": f"""  File "{SITE}/torch/__init__.py", line 43, in <module>
    from typing_extensions import ParamSpec as _ParamSpec, TypeIs as _TypeIs
ImportError: cannot import name 'TypeIs' from 'typing_extensions' ({SITE}/typing_extensions.py)""",
    # captured: torch 2.13.0, torch.load of a Git LFS pointer file (the message's last lines)
    "checkpoint_not_a_file": """_pickle.UnpicklingError: Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the file from a trusted source.
Please file an issue with the following so that we can make `weights_only=True` compatible with your use case: WeightsUnpickler error:

Unsupported operand 118""",
    # captured: torch 2.13.0, torch.save({"step": numpy.float64(1.0)}) then torch.load (shortened)
    "weights_only_default": """_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options, do those steps only if you trust the source of the checkpoint.
	WeightsUnpickler error: Unsupported global: GLOBAL numpy._core.multiarray.scalar was not an allowed global by default.""",
    # written for this test in a Windows venv's layout
    "triton_windows": r"""  File "C:\Users\ana\svd\.venv\Lib\site-packages\torch\_inductor\runtime\hints.py", line 36, in <module>
torch._dynamo.exc.BackendCompilerFailed: backend='inductor' raised:
RuntimeError: Cannot find a working triton installation. Either the package is not installed or it is too old.""",
    "triton_missing": """  File "/home/ana/svd/.venv/lib/python3.11/site-packages/torch/_inductor/scheduler.py", line 3, in create_backend
RuntimeError: Cannot find a working triton installation. Either the package is not installed or it is too old.""",
    # xformers' warning on Windows, where triton is absent
    "triton_not_available_warning": r"""A matching Triton is not available, some optimizations will not be enabled.
Error caught was: No module named 'triton'""",
    "torch_dll_windows": r"""OSError: [WinError 126] The specified module could not be found. Error loading "C:\Users\ana\svd\.venv\Lib\site-packages\torch\lib\fbgemm.dll" or one of its dependencies.""",
    # transformers' check before device_map (written for this test in ComfyUI portable's layout)
    "accelerate_for_device_map": r"""  File "D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\transformers\modeling_utils.py", line 3370, in from_pretrained
    raise ImportError(
ImportError: Using `low_cpu_mem_usage=True` or a `device_map` requires Accelerate: `pip install 'accelerate>=0.26.0'`""",
    "device_mismatch": "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! (when checking argument for argument mat1 in method wrapper_CUDA_addmm)",
    # captured: torch 2.13.0, torch.nn.Linear (fp32) called with an fp16 input
    "dtype_mismatch": "RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float",
    # captured: diffusers 0.42.1, export_to_video([[frames]]) (a batch of one video)
    "frames_batch_export": f"""Traceback (most recent call last):
  File "<string>", line 5, in <module>
  File "{SITE}/diffusers/utils/export_utils.py", line 216, in export_to_video
    writer.append_data(frame)
  File "{SITE}/imageio/core/format.py", line 574, in append_data
    raise ValueError("append_data requires ndarray as first arg")
ValueError: append_data requires ndarray as first arg""",
    # captured: torchaudio 2.6.0 from PyPI beside torch 2.13.0+cpu (its last lines)
    "extension_abi_mismatch": f"""  File "{SITE}/torch/_ops.py", line 1518, in load_library
    raise OSError(f"Could not load this library: {{path}}") from e
OSError: libtorch_cuda.so: cannot open shared object file: No such file or directory""",
    # captured: diffusers 0.39.0, StableVideoDiffusionPipeline called with prompt=
    "svd_call_arguments": "TypeError: StableVideoDiffusionPipeline.__call__() got an unexpected keyword argument 'prompt'",
    "video_output_attribute": "AttributeError: 'StableVideoDiffusionPipelineOutput' object has no attribute 'images'",
    "size_not_divisible": "ValueError: `height` and `width` have to be divisible by 8 but are 577 and 1024.",
    # the message of transformers 4.46's requires_backends (written for this test: CLIP's image processor without Pillow)
    "missing_backend": "ImportError: \nCLIPImageProcessor requires the PIL library but it was not found in your environment. You can install it with pip:\n`pip install pillow`. Please note that you may need to restart your runtime after installation.",
    # captured: diffusers 0.39.0 without imageio (its warning)
    "video_export_backend": "It is recommended to use `export_to_video` with `imageio` and `imageio-ffmpeg` as a backend. \nThese libraries are not present in your environment. Attempting to use legacy OpenCV backend to export video.",
    # captured: diffusers 0.39.0, an unconditional DDPM pipeline called with prompt=
    "pipeline_call_argument": "TypeError: DDPMPipeline.__call__() got an unexpected keyword argument 'prompt'",
    "hub_rate_limited": "huggingface_hub.errors.HfHubHTTPError: 429 Client Error: Too Many Requests for url: https://huggingface.co/api/models/stabilityai/stable-video-diffusion-img2vid-xt/revision/main",
    "missing_components": "ValueError: Pipeline <class 'diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion.StableVideoDiffusionPipeline'> expected {'feature_extractor', 'image_encoder', 'scheduler', 'unet', 'vae'}, but only {'scheduler', 'unet', 'vae'} were passed.",
}

# More verbatim variants of the same errors.
VARIANTS = [
    # captured on Python 3.13.0 (3.12 and later add the suggestion). No frame shows who asks: the release
    # history answers (huggingface_hub 0.26.0 removed it; diffusers and transformers asked for it until ...)
    (
        "removed_name",
        "ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/venv/lib/python3.13/site-packages/huggingface_hub/__init__.py). Did you mean: 'hf_hub_download'?",
    ),
    (
        "flax_weights_name",
        "RuntimeError: Failed to import diffusers.pipelines.pipeline_utils because of the following error (look up to see its traceback): cannot import name 'FLAX_WEIGHTS_NAME' from 'transformers.utils'",
    ),
    (
        "old_hub_pin",
        "ImportError: huggingface-hub>=1.3.0,<2.0 is required for a normal functioning of this module, but found huggingface-hub==1.2.1.",
    ),
    (  # no frame shows transformers asking: the history says which huggingface_hub added it, and who asks
        "hub_too_old",
        "ImportError: cannot import name 'ResolvedRevision' from 'huggingface_hub' (/x/huggingface_hub/__init__.py)",
    ),
    ("accelerate_missing", "ImportError: enable_model_cpu_offload requires accelerate v0.17.0 or higher."),
    ("accelerate_missing", "ImportError: `enable_sequential_cpu_offload` requires `accelerate v0.14.0` or higher."),
    ("offload_no_accelerator", "RuntimeError: `enable_sequential_cpu_offload` requires accelerator, but not found"),
    (
        "bf16_on_t4",
        "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5.",
    ),
    ("torch_dtype_deprecated", "`torch_dtype` is deprecated! Use `dtype` instead!"),
    ("stale_module", "huggingface_hub 1.3.4 is loaded in this process but 1.27.0 is installed"),
    (
        "numpy2_abi",
        "UserWarning: Failed to initialize NumPy: _ARRAY_API not found (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)",
    ),
    # written for these tests in the layouts and forms learners meet (Windows, conda, ComfyUI, Python 3.12)
    ("numpy2_abi", "RuntimeError: Numpy is not available"),
    (  # the message alone: the history answers, naming diffusers among the packages that asked
        "removed_name",
        "ImportError: cannot import name 'hf_cache_home' from 'huggingface_hub.constants' (/usr/local/lib/python3.12/dist-packages/huggingface_hub/constants.py). Did you mean: 'HF_HUB_CACHE'?",
    ),
    (
        "torch_cpu_build",
        r"""  File "C:\Users\ana\svd\.venv\Lib\site-packages\torch\cuda\__init__.py", line 310, in _lazy_init
    raise AssertionError("Torch not compiled with CUDA enabled")
AssertionError: Torch not compiled with CUDA enabled""",
    ),
    ("half_on_cpu", "RuntimeError: \"LayerNormKernelImpl\" not implemented for 'Half'"),
    (
        "no_kernel_image",
        "UserWarning: Tesla T4 with CUDA capability sm_75 is not compatible with the current PyTorch installation.",
    ),
    ("no_gpu", "RuntimeError: No CUDA GPUs are available"),
    (
        "gated_repo",
        "OSError: You are trying to access a gated repo.\nMake sure to have access to it at https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt.\n401 Client Error. (Request ID: Root=1-x)",
    ),
    (
        "repo_not_found",
        "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: Root=1-x)\n\nRepository Not Found for url: https://huggingface.co/api/models/stabilityai/svd-xt.",
    ),
    (
        "safetensors_header",
        "safetensors_rust.SafetensorError: Error while deserializing header: MetadataIncompleteBuffer",
    ),
    (
        "safetensors_header",
        "SafetensorError: Error while deserializing header: incomplete metadata, file not fully covered",
    ),
    (
        "safetensors_header",
        "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge",
    ),  # captured, safetensors 0.5.3
    (
        "imp_removed",
        r"""  File "C:\Users\ana\AppData\Local\Programs\Python\Python312\Lib\site-packages\oldpkg\__init__.py", line 3, in <module>
    import imp
ModuleNotFoundError: No module named 'imp'""",
    ),
    (
        "use_auth_token_transformers5",
        "TypeError: CLIPVisionModelWithProjection.__init__() got an unexpected keyword argument 'use_auth_token'",
    ),
    (
        "variant_missing",
        "ValueError: You are trying to load the model files of the `variant=fp16`, but no such modeling files are available.",
    ),
    (
        "not_installed",
        r"""  File "D:\ComfyUI_windows_portable\ComfyUI\custom_nodes\svd-node\__init__.py", line 1, in <module>
    import diffusers
ModuleNotFoundError: No module named 'diffusers'""",
    ),
    ("removed_name", "AttributeError: module 'huggingface_hub' has no attribute 'cached_download'"),
    (
        "cuda_oom",
        "RuntimeError: CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some other API call",
    ),
    (
        "xformers_torch_mismatch",
        "NotImplementedError: No operator found for `memory_efficient_attention_forward` with inputs:",
    ),
    (
        "hub_unreachable",
        "OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't find it in the cached files and it looks like stabilityai/stable-video-diffusion-img2vid-xt is not the path to a directory containing a file named model_index.json.",
    ),
    ("host_ram_exhausted", "Loading pipeline components...:  60%|######    | 3/5 [00:41<00:27, 13.9s/it]\nKilled"),
]


def test_every_known_error_has_a_verbatim_text():
    assert set(VERBATIM) == {entry.id for entry in compat.KNOWN_ERRORS}


@pytest.mark.parametrize("error_id", sorted(VERBATIM))
def test_diagnose_recognises_the_verbatim_text(error_id):
    diagnoses = compat.diagnose(VERBATIM[error_id])
    assert [d.id for d in diagnoses] == [error_id]
    diagnosis = diagnoses[0]
    assert diagnosis.fix and diagnosis.explanation and diagnosis.sources
    assert diagnosis.evidence in VERBATIM[error_id]


@pytest.mark.parametrize("error_id,text", VARIANTS)
def test_diagnose_recognises_variants(error_id, text):
    assert [d.id for d in compat.diagnose(text)] == [error_id]


def test_diagnose_reads_versions_from_the_text():
    (diagnosis,) = compat.diagnose(VERBATIM["transformers4_hub1"])
    assert diagnosis.seen == {"huggingface_hub": "1.3.4"}
    assert diagnosis.versions == {"transformers": "<5", "huggingface_hub": ">=1.0"}
    (diagnosis,) = compat.diagnose(VERBATIM["xformers_torch_mismatch"].replace("2.13.0+cpu", "2.9.0+cu126"))
    assert diagnosis.seen == {"xformers_torch": "2.8.0+cu128", "torch": "2.9.0+cu126"}


def test_a_whole_pasted_traceback_with_warnings_around_it():
    text = (
        "Loading pipeline components...: 100%|##########| 5/5 [00:02<00:00,  2.01it/s]\n"
        "/usr/local/lib/python3.12/dist-packages/torch/cuda/__init__.py:61: UserWarning: something unrelated\n"
        + VERBATIM["torch_dtype_deprecated"]
        + "\n---------------------------------------------------------------------------\n"
        + VERBATIM["cached_download"]
        + "\n\nNOTE: If your import is failing due to a missing package, you can\nmanually install it.\n"
    )
    assert [d.id for d in compat.diagnose(text)] == ["torch_dtype_deprecated", "cached_download"]


def test_unknown_and_near_miss_texts_are_not_recognised():
    assert compat.diagnose("ValueError: the image must be 1024x576") == []
    assert compat.diagnose("ImportError: cannot import name 'hf_hub_download' from 'huggingface_hub'") == []
    # torch without numpy prints "Failed to initialize NumPy" too; that is not the NumPy 2 ABI error
    assert compat.diagnose("UserWarning: Failed to initialize NumPy: No module named 'numpy'") == []


def test_oom_advice_is_svd_specific_and_never_attention_slicing():
    fix = compat.known_error("cuda_oom").fix
    for advice in ("decode_chunk_size", "expandable_segments", "enable_model_cpu_offload"):
        assert advice in fix
    assert "enable_attention_slicing" not in fix
    assert "does nothing for SVD" in fix


def test_the_data_file_is_complete():
    for entry in compat.KNOWN_ERRORS:
        assert (entry.patterns or entry.history) and entry.title and entry.sources, entry.id
        if entry.flag_when_installed:  # doctor can only flag what the data describes
            assert entry.versions or entry.conflicts_of or entry.pasted, entry.id
        for superseding in entry.superseded_by:
            compat.known_error(superseding)


def test_sources_are_public():
    # learners do not have the course's private notes: every source is a public page or a reproduction they can run
    for entry in compat.KNOWN_ERRORS:
        for source in entry.sources:
            assert "shared/reference" not in source and ".md" not in source.split("http")[0], (entry.id, source)
        assert any(
            source.startswith(("http", "reproduced", "captured")) or "https://" in source for source in entry.sources
        ), entry.id


def test_in_ranges():
    assert compat.in_ranges("0.28.2", ("<0.29",))
    assert not compat.in_ranges("0.29.0", ("<0.29",))
    assert compat.in_ranges(None, ("not installed", "<0.17"))
    assert compat.in_ranges("0.16.0", ("not installed", "<0.17"))
    assert not compat.in_ranges(None, ("<0.17",))
    assert compat.in_ranges("2.13.0+cpu", (">=2.3",))


def test_check_environment_finds_the_old_pins():
    colab_with_old_pin = {
        "diffusers": "0.28.2",
        "huggingface_hub": "1.3.4",
        "transformers": "5.0.0",
        "torch": "2.9.0",
        "numpy": "2.0.2",
        "accelerate": "1.12.0",
    }
    assert {f.id for f in compat.check_environment(colab_with_old_pin)} == {"cached_download", "flax_weights_name"}
    wrong_fix = {**colab_with_old_pin, "huggingface_hub": "0.25.2"}
    assert {f.id for f in compat.check_environment(wrong_fix)} == {"flax_weights_name", "old_hub_pin"}
    course = {
        "diffusers": "0.42.1",
        "huggingface_hub": "2.4.0",
        "transformers": "5.24.0",
        "torch": "2.13.0",
        "numpy": "2.4.6",
        "accelerate": "1.15.0",
    }
    assert compat.check_environment(course) == []
    assert {f.id for f in compat.check_environment({**course, "accelerate": None})} == {"accelerate_missing"}
    assert {f.id for f in compat.check_environment({**course, "torch": "2.2.2"})} == {"numpy2_abi"}


def test_check_environment_on_this_machine_is_clean():
    assert compat.check_environment() == []


def test_a_module_loaded_at_another_version_is_reported(monkeypatch):
    import numpy

    monkeypatch.setattr(numpy, "__version__", "1.26.4")  # what the process would hold after `pip install -U numpy`
    findings = compat.check_environment()
    assert [f.id for f in findings] == ["stale_module"]
    assert "numpy 1.26.4 is loaded in this process" in findings[0].detail


def test_doctor_command():
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "svd-learn doctor" in result.output and "huggingface_hub" in result.output
    assert "No known-bad combination installed" in result.output


def test_doctor_exits_1_on_a_bad_combination(monkeypatch):
    real = compat.installed_version
    monkeypatch.setattr(compat, "installed_version", lambda name: "0.28.2" if name == "diffusers" else real(name))
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "cached_download" in result.output and "diffusers 0.28.2" in result.output


def test_explain_a_file(tmp_path):
    path = tmp_path / "error.txt"
    path.write_text(VERBATIM["cached_download"])
    result = CliRunner().invoke(app, ["explain", str(path)])
    assert result.exit_code == 0
    assert "[cached_download]" in result.output and "diffusers <0.29" in result.output and "fix:" in result.output


def test_explain_stdin():
    result = CliRunner().invoke(app, ["explain", "-"], input=VERBATIM["hf_folder"])
    assert result.exit_code == 0 and "get_token()" in result.output
    result = CliRunner().invoke(app, ["explain"], input=VERBATIM["use_auth_token"])
    assert result.exit_code == 0 and "token=" in result.output


def test_explain_says_honestly_when_it_does_not_know():
    result = CliRunner().invoke(app, ["explain", "-"], input="KeyError: 'frames'\n")
    assert result.exit_code == 1
    assert "Not recognised" in result.output


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "The input is empty"),
        (b"  \n\t\n", "The input is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"\xff\xfe\xfa", "not UTF-8"),
    ],
)
def test_explain_refuses_empty_or_binary_input(data, message):
    result = CliRunner().invoke(app, ["explain", "-"], input=data)
    assert result.exit_code == 1
    assert message in result.output


def test_explain_missing_file():
    result = CliRunner().invoke(app, ["explain", "/no/such/error.txt"])
    assert result.exit_code == 1 and "Cannot read /no/such/error.txt" in result.output


def test_explain_list():
    result = CliRunner().invoke(app, ["explain", "--list"])
    assert result.exit_code == 0
    assert all(entry.id in result.output for entry in compat.KNOWN_ERRORS)


def test_ipython_extension_prints_the_diagnosis_under_the_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext svd_learn")
        shell.run_cell("raise ImportError(\"cannot import name 'HfFolder' from 'huggingface_hub' (/x/__init__.py)\")")
        output = capsys.readouterr().out
        assert (
            output.index("ImportError") < output.index("svd-learn recognises this error") < output.index("[hf_folder]")
        )
        shell.run_cell("raise ValueError('nothing known')")  # an unknown error: the traceback only
        assert "svd-learn recognises" not in capsys.readouterr().out
        shell.run_cell("%unload_ext svd_learn")
        shell.run_cell("raise ImportError(\"cannot import name 'HfFolder' from 'huggingface_hub'\")")
        assert "[hf_folder]" not in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()


def test_ipython_extension_warns_after_pip_install_when_a_restart_is_needed(capsys, monkeypatch):
    import numpy
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext svd_learn")
        capsys.readouterr()
        shell.run_cell("x = 1  # pip install numpy==2.4.6 (a comment: nothing is installed)")
        assert "loaded in this process" not in capsys.readouterr().out  # nothing stale yet
        monkeypatch.setattr(numpy, "__version__", "2.0.2")  # the process still holds the old module
        shell.run_cell("x = 1  # pip install numpy==2.4.6")
        assert "numpy 2.0.2 is loaded in this process" in capsys.readouterr().out
    finally:
        shell.run_cell("%unload_ext svd_learn")
        InteractiveShell.clear_instance()


def test_a_library_built_for_another_version_is_found_from_its_own_requirements(monkeypatch):
    # xformers pins the exact torch it was compiled for; the same check read on an installed library here:
    assert compat._unmet_requirements("transformers") == []
    real = compat.installed_version
    monkeypatch.setattr(compat, "installed_version", lambda name: "0.25.2" if name == "huggingface-hub" else real(name))
    (unmet,) = compat._unmet_requirements("transformers")
    assert unmet.startswith("transformers requires huggingface-hub") and unmet.endswith(
        "but huggingface-hub 0.25.2 is installed"
    )


@pytest.mark.slow  # starts a real kernel
def test_ipython_extension_in_a_real_kernel():
    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext svd_learn"),
        nbformat.v4.new_code_cell(
            "raise ImportError(\"cannot import name 'cached_download' from 'huggingface_hub' (/x/__init__.py)\")"
        ),
    ]
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    outputs = notebook.cells[1].outputs
    assert outputs[0].output_type == "error" and outputs[0].ename == "ImportError"
    printed = "".join(output.get("text", "") for output in outputs[1:])  # under the traceback, in the same cell
    # the cell itself raised it: the frame is the user's code, so the diagnosis says so (not "diffusers < 0.29")
    assert "your code asks for cached_download" in printed and "removed in 0.26.0" in printed
    assert (
        "matched: ImportError: cannot import name 'cached_download'" in printed
    )  # the error line, not the source line


# Colab's preinstalled stacks (versions.md, from Colab's published pip freeze): each worked as shipped.
COLAB_STACKS = {
    "2024-11": {
        "torch": "2.5.0",
        "numpy": "1.26.4",
        "huggingface_hub": "0.26.2",
        "transformers": "4.46.2",
        "diffusers": "0.31.0",
        "accelerate": "1.1.1",
    },
    "2025-03": {
        "torch": "2.6.0",
        "numpy": "2.0.2",
        "huggingface_hub": "0.28.1",
        "transformers": "4.48.3",
        "diffusers": "0.32.2",
        "accelerate": "1.3.0",
    },
    "2026-01": {
        "torch": "2.9.0",
        "numpy": "2.0.2",
        "huggingface_hub": "1.3.4",
        "transformers": "5.0.0",
        "diffusers": "0.36.0",
        "accelerate": "1.12.0",
    },
    "2026-08": {
        "torch": "2.11.0+cu128",
        "numpy": "2.1.3",
        "huggingface_hub": "1.27.0",
        "transformers": "5.15.0",
        "diffusers": "0.39.0",
        "accelerate": "1.14.0",
    },
}


@pytest.mark.parametrize("date", sorted(COLAB_STACKS))
def test_colab_stacks_as_shipped_are_not_flagged(date):
    assert compat.check_environment(COLAB_STACKS[date]) == []


def test_an_old_svd_notebook_pin_on_each_colab_stack():
    # diffusers 0.24.0 (the first with SVD) on the 2024-11 stack: hub 0.26 removed cached_download
    assert {f.id for f in compat.check_environment({**COLAB_STACKS["2024-11"], "diffusers": "0.24.0"})} == {
        "cached_download"
    }
    # the same pin on the 2026-01 stack: hub 1.x and transformers 5 break it three ways
    found = {f.id for f in compat.check_environment({**COLAB_STACKS["2026-01"], "diffusers": "0.24.0"})}
    assert found == {"cached_download", "hf_cache_home", "flax_weights_name"}


# --- Never confidently wrong: the report's own evidence wins over an entry ---------------------------------
# Realistic variants written for these tests (Windows, ComfyUI, conda, Colab layouts), not users' posts.

COMFY_NODE_CACHED_DOWNLOAD = r"""Traceback (most recent call last):
  File "D:\ComfyUI_windows_portable\ComfyUI\nodes.py", line 2006, in load_custom_node
    module_spec.loader.exec_module(module)
  File "<frozen importlib._bootstrap_external>", line 995, in exec_module
  File "D:\ComfyUI_windows_portable\ComfyUI\custom_nodes\ComfyUI-VideoHelper\__init__.py", line 3, in <module>
    from huggingface_hub import cached_download
ImportError: cannot import name 'cached_download' from 'huggingface_hub' (D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\huggingface_hub\__init__.py)
"""


def test_cached_download_asked_by_a_custom_node_is_not_blamed_on_diffusers():
    (diagnosis,) = compat.diagnose(COMFY_NODE_CACHED_DOWNLOAD)
    assert diagnosis.id == "removed_name"
    assert "custom node ComfyUI-VideoHelper" in diagnosis.title and "0.26.0" in diagnosis.title
    assert "huggingface_hub<0.26.0" in diagnosis.fix and "diffusers" not in diagnosis.fix
    assert any(note.startswith("asked by: custom node ComfyUI-VideoHelper") for note in diagnosis.notes)
    assert any("removed in 0.26.0" in note for note in diagnosis.notes)


def test_cached_download_asked_by_another_library_says_upgrade_it():
    text = """  File "/opt/conda/envs/svd/lib/python3.10/site-packages/gfpgan/utils.py", line 9, in <module>
    from huggingface_hub import cached_download
ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/opt/conda/envs/svd/lib/python3.10/site-packages/huggingface_hub/__init__.py)"""
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "removed_name" and diagnosis.fix.startswith("Upgrade gfpgan")


def test_cached_download_in_your_own_code_says_change_it():
    text = """  File "/content/download_weights.py", line 2, in <module>
    from huggingface_hub import cached_download
ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/usr/local/lib/python3.12/dist-packages/huggingface_hub/__init__.py). Did you mean: 'hf_hub_download'?"""
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "removed_name" and diagnosis.fix.startswith("Change your code")
    assert "Python suggests hf_hub_download" in diagnosis.fix  # from Python 3.12's "Did you mean" suffix


def test_cached_download_in_diffusers_keeps_the_entry_and_adds_the_history():
    text = (
        VERBATIM["cached_download"].replace(SITE, "/usr/local/lib/python3.12/dist-packages")
        + ". Did you mean: 'hf_hub_download'?"
    )
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "cached_download"
    assert any("removed in 0.26.0" in note for note in diagnosis.notes)
    assert any("0.29.0 no longer does" in note for note in diagnosis.notes)  # diffusers' own history of the import


def test_a_pasted_version_that_still_has_the_name_is_not_explained_by_the_version():
    text = "huggingface_hub==0.25.2\ndiffusers==0.28.2\nImportError: cannot import name 'cached_download' from 'huggingface_hub'"
    assert compat.diagnose(text) == []
    result = CliRunner().invoke(app, ["explain", "-"], input=text)
    assert result.exit_code == 1
    assert "Not recognised" in result.output and "huggingface_hub 0.25.2" in result.output


def test_a_cpu_torch_is_the_cause_not_xformers():
    captured = VERBATIM["xformers_torch_mismatch"].replace("2.9.0+cu126", "2.13.0+cpu")  # what the lab captured
    (diagnosis,) = compat.diagnose(captured)
    assert diagnosis.id == "torch_cpu_build"
    assert "uninstall" not in diagnosis.fix.lower()
    assert [d.id for d in compat.diagnose(VERBATIM["xformers_torch_mismatch"])] == ["xformers_torch_mismatch"]


def test_a_pasted_cpu_torch_next_to_a_gpu_error():
    text = (
        "Package  Version\n-------- -----------\ntorch    2.3.0+cpu\nxformers 0.0.26.post1\n\n"
        "WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions.\n"
    )
    assert [d.id for d in compat.diagnose(text)] == ["torch_cpu_build"]
    # the same torch next to an error that has nothing to do with the GPU: not mentioned, even in diffusers-cli env
    assert compat.diagnose("torch 2.3.0+cpu\nValueError: the image must be 1024x576") == []
    env = "- PyTorch version (GPU?): 2.3.0+cpu (False)\nnvidia-cuda-runtime-cu12 12.1.105\n"
    assert [d.id for d in compat.diagnose(env + VERBATIM["cached_download"])] == ["cached_download"]
    assert [d.id for d in compat.diagnose(env + "RuntimeError: CUDA error: device-side assert triggered")] == [
        "torch_cpu_build"
    ]


def test_an_unknown_error_says_what_the_report_shows():
    text = """Traceback (most recent call last):
  File "/content/run.py", line 12, in <module>
    frames = pipe(image, num_frames=25).frames[0]
  File "/usr/local/lib/python3.12/dist-packages/diffusers/pipelines/stable_video_diffusion/pipeline_stable_video_diffusion.py", line 512, in __call__
    raise ValueError(f"something new: {x}")
ValueError: something new: 3"""
    assert compat.diagnose(text) == []
    result = CliRunner().invoke(app, ["explain", "-"], input=text)
    assert result.exit_code == 1
    assert "the error: ValueError: something new: 3" in result.output
    assert "raised in: diffusers" in result.output and "cause is not in svd-learn's knowledge" in result.output


def test_a_harmless_warning_exits_0_and_says_so():
    result = CliRunner().invoke(app, ["explain", "-"], input=VERBATIM["resume_download_warning"])
    assert result.exit_code == 0
    assert "Harmless warning" in result.output and "Nothing to fix" in result.output


def test_every_diagnosis_prints_its_evidence():
    text = VERBATIM["flax_weights_name"]
    (diagnosis,) = compat.diagnose(text)
    printed = explain.format_diagnosis(diagnosis)
    assert "matched: cannot import name 'FLAX_WEIGHTS_NAME'" in printed
    assert "history: FLAX_WEIGHTS_NAME (from transformers.utils) is in transformers" in printed


# --- doctor uses the same knowledge ------------------------------------------------------------------------


def test_doctor_finds_a_huggingface_hub_older_than_the_libraries_declare(monkeypatch):
    real = compat.installed_version
    monkeypatch.setattr(
        compat,
        "installed_version",
        lambda name: "0.22.2" if compat.canonical(name) == "huggingface-hub" else real(name),
    )
    findings = [f for f in compat.check_environment() if f.id == "hub_too_old"]
    assert findings and all("{" not in f.title and "huggingface_hub" in f.fix for f in findings)
    assert any(f.title == "huggingface_hub is older than transformers declares" for f in findings)


def test_doctor_finds_a_cpu_torch_on_a_machine_with_an_nvidia_driver(monkeypatch):
    real = compat.installed_version
    monkeypatch.setattr(compat, "installed_version", lambda name: "2.5.1+cpu" if name == "torch" else real(name))
    monkeypatch.setattr(compat, "nvidia_driver_present", lambda: False)
    assert "torch_cpu_build" not in [f.id for f in compat.check_environment()]  # no GPU: a CPU torch is a choice
    monkeypatch.setattr(compat, "nvidia_driver_present", lambda: True)
    (finding,) = [f for f in compat.check_environment() if f.id == "torch_cpu_build"]
    assert "torch 2.5.1+cpu" in finding.detail and "pytorch.org" in finding.fix


# --- name errors answered from the release history ---------------------------------------------------------


def test_a_keyword_removed_from_a_function_names_the_release_and_the_asker():
    text = r"""  File "D:\ComfyUI_windows_portable\ComfyUI\custom_nodes\svd-loader\download.py", line 12, in fetch
    snapshot_download(repo_id, local_dir=folder, local_dir_use_symlinks=False)
  File "D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\huggingface_hub\utils\_validators.py", line 89, in _inner_fn
    return fn(*args, **kwargs)
TypeError: snapshot_download() got an unexpected keyword argument 'local_dir_use_symlinks'"""
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "removed_name"
    assert diagnosis.title == (
        "custom node svd-loader asks for the keyword local_dir_use_symlinks= of snapshot_download(), "
        "which huggingface_hub 1.0.0 removed"
    )


def test_a_module_that_appeared_later_says_upgrade():
    text = """  File "/home/ana/svd/run.py", line 2, in <module>
    from diffusers.models.unets.unet_spatio_temporal_condition import UNetSpatioTemporalConditionModel
ModuleNotFoundError: No module named 'diffusers.models.unets'"""
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "library_too_old" and "diffusers>=0.26.0" in diagnosis.fix


def test_a_moved_module_asked_by_another_package_says_upgrade_it():
    text = """  File "/opt/conda/envs/svd/lib/python3.10/site-packages/oldsvdtools/loader.py", line 4, in <module>
    from diffusers.models.unet_2d_condition import UNet2DConditionModel
ModuleNotFoundError: No module named 'diffusers.models.unet_2d_condition'"""
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "moved_module" and diagnosis.fix.startswith("Upgrade oldsvdtools")
    assert "diffusers<0.29.0" in diagnosis.fix


def test_a_tracked_asker_gets_the_first_release_that_stops_asking():
    text = VERBATIM["hf_cache_home"].replace(
        "    from huggingface_hub.constants",
        """  File "/usr/local/lib/python3.12/dist-packages/diffusers/utils/constants.py", line 17, in <module>
    from huggingface_hub.constants""",
    )
    (diagnosis,) = compat.diagnose(text)
    assert diagnosis.id == "hf_cache_home"  # the entry, with the history as evidence
    assert any(note.startswith("history: diffusers asks for it in 0.24.0") for note in diagnosis.notes)


def test_names_the_history_cannot_date_are_admitted():
    assert compat.diagnose("ImportError: cannot import name 'no_such_name' from 'huggingface_hub'") == []
    # a module deeper than the history records names for: no claim
    assert compat.diagnose("ImportError: cannot import name 'x' from 'diffusers.models.unets.unet_2d_condition'") == []
    # a private name: the history does not record those, so it claims nothing
    assert compat.diagnose("ImportError: cannot import name '_CACHED_NO_EXIST' from 'huggingface_hub'") == []
    # a submodule can always be imported by name: it is not "in no release"
    assert compat.diagnose("ImportError: cannot import name 'constants' from 'huggingface_hub'") == []
    # a name in every covered release: the version is not the cause
    assert compat.diagnose("ImportError: cannot import name 'UNet2DConditionModel' from 'diffusers'") == []
    result = CliRunner().invoke(
        app, ["explain", "-"], input="ImportError: cannot import name 'UNet2DConditionModel' from 'diffusers'"
    )
    assert result.exit_code == 1 and "every release since 0.24.0" in result.output


def test_transformers_5_serves_the_old_fast_tokenizer_names():
    # transformers 5 resolves BertTokenizerFast at run time; the history must not call it removed
    assert compat.diagnose("ImportError: cannot import name 'BertTokenizerFast' from 'transformers'") == []


# --- the platform, the setup and frames that cannot be read (written for these tests, not users' posts) ------------

NO_CUDA = "AssertionError: Torch not compiled with CUDA enabled"


@pytest.mark.parametrize(
    "where,expected",
    [
        (
            '  File "/Users/ana/svd/.venv/lib/python3.11/site-packages/torch/cuda/__init__.py", line 363, in _lazy_init\n',
            "cuda_on_mac",
        ),
        (
            '  File "C:\\Users\\ana\\svd\\.venv\\Lib\\site-packages\\torch\\cuda\\__init__.py", line 310, in _lazy_init\n',
            "torch_cpu_build",
        ),
        (
            "",
            "torch_cpu_build",
        ),  # no platform shown: the entry whose fix covers Windows and Linux (and says what a Mac needs)
    ],
)
def test_the_platform_decides_which_fix_applies(where, expected):
    assert [d.id for d in compat.diagnose(where + NO_CUDA)] == [expected]


def test_a_fix_for_another_platform_gives_way(capsys):
    windows = '  File "C:\\svd\\venv\\Lib\\site-packages\\torch\\_inductor\\scheduler.py", line 3, in f\n'
    linux = '  File "/home/ana/svd/.venv/lib/python3.11/site-packages/torch/_inductor/scheduler.py", line 3, in f\n'
    error = (
        "RuntimeError: Cannot find a working triton installation. Either the package is not installed or it is too old."
    )
    assert [d.id for d in compat.diagnose(windows + error)] == ["triton_windows"]
    assert [d.id for d in compat.diagnose(linux + error)] == ["triton_missing"]
    compat.explain(windows + error)
    assert "platform: windows, from the report" in capsys.readouterr().out


def test_another_setup_in_the_text_keeps_an_entry_from_answering(capsys):
    text = "Torch backend: Intel IPEX 2.0.110+xpu\n" + NO_CUDA  # an Intel GPU: a CUDA build is not the fix
    assert compat.explain(text) == []
    assert "not torch_cpu_build: the text shows another setup (IPEX)" in capsys.readouterr().out


def test_the_machine_counts_for_an_error_raised_here():
    # no platform in the text, but the frame's file is on this (Linux) machine: the Mac's entry cannot answer
    text = f'  File "{compat.__file__}", line 1, in <module>\n' + NO_CUDA
    assert [d.id for d in compat.diagnose(text)] == ["torch_cpu_build"]
    assert compat._platform(compat.read_report(text), here=False).source == "this machine"


def test_unreadable_frames_leave_only_what_the_message_supports(capsys):
    text = (
        "Traceback (most recent call last):\n  <the frames were lost in the copy>\n"
        + VERBATIM["cached_download"].splitlines()[-1]
    )
    (diagnosis,) = compat.explain(text)
    assert diagnosis.id == "removed_name"  # not cached_download: nothing shows that diffusers asks
    out = capsys.readouterr().out
    assert "frames could not be read" in out and "history: diffusers asks for it in 0.24.0 - 0.28.2" in out


def test_a_message_alone_names_the_libraries_that_asked():
    (diagnosis,) = compat.diagnose("ImportError: cannot import name 'cached_download' from 'huggingface_hub'")
    assert diagnosis.id == "removed_name" and "huggingface_hub<0.26.0" in diagnosis.fix
    assert 'if it is diffusers, pip install -U "diffusers>=0.29.0"' in diagnosis.fix


def test_a_harmless_warning_beside_an_unknown_error_is_not_the_answer(capsys):
    text = (
        "A matching Triton is not available, some optimizations will not be enabled.\n"
        "Error caught was: No module named 'triton'\nOSError: No such device (os error 19)"
    )
    assert compat.explain(text) == []
    out = capsys.readouterr().out
    assert "Harmless warning" in out and "Not recognised" in out and "os error 19" in out


def test_the_message_index_says_who_raises_an_unknown_error(capsys):
    text = "ValueError: `editing_prompt_embeddings` and `negative_prompt_embeds` must have the same shape when passed directly, but got: `editing_prompt_embeddings` (1,) != `negative_prompt_embeds` (2,)."
    assert compat.explain(text) == []
    out = capsys.readouterr().out
    assert "raised by: diffusers.pipelines.ledits_pp" in out and "diffusers has this message in" in out


# --- what explain reads: the message itself, a file, or standard input ----------------------------------------------


def test_explain_takes_the_message_as_its_argument():
    result = CliRunner().invoke(app, ["explain", "ImportError: cannot import name 'HfFolder' from 'huggingface_hub'"])
    assert result.exit_code == 0 and "[hf_folder]" in result.output
    # typed without quotes: the shell splits it into words, and takes the quotes away
    words = "ImportError: cannot import name HfFolder from huggingface_hub".split()
    result = CliRunner().invoke(app, ["explain", *words])
    assert result.exit_code == 0 and "huggingface_hub 1.0.0 removed" in result.output


def test_a_missing_file_says_how_to_pass_a_message():
    result = CliRunner().invoke(app, ["explain", "error.txt"])
    assert result.exit_code == 1
    assert (
        "Cannot read error.txt: there is no such file" in result.output
        and 'svd-learn explain "ImportError' in result.output
    )


@pytest.mark.slow  # starts the command three times
def test_explain_answers_within_a_second():
    import subprocess
    import sys
    import time
    from pathlib import Path

    command = Path(sys.executable).with_name("svd-learn")
    text = VERBATIM["accelerate_for_device_map"]  # looks up the message index and the release history too
    times = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run([str(command), "explain", "-"], input=text, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    assert min(times) < 1.0, times
