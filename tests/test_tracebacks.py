"""tracebacks.py: the structure of a pasted report (exception, frames and their owners, pasted versions).

The paths and version lines are written for these tests in the layouts of Colab, venv, conda, Windows and
ComfyUI's portable build; the tool outputs follow the formats of pip, diffusers-cli env and hf env.
"""

import pytest

from svd_learn.tracebacks import owner_of, pasted_versions, read_report


@pytest.mark.parametrize(
    "path,owner",
    [
        ("/usr/local/lib/python3.12/dist-packages/diffusers/utils/dynamic_modules_utils.py", "diffusers"),  # Colab
        (
            "/home/ana/svd/.venv/lib/python3.11/site-packages/huggingface_hub/file_download.py",
            "huggingface_hub",
        ),  # venv
        ("/opt/conda/envs/svd/lib/python3.10/site-packages/transformers/utils/hub.py", "transformers"),  # conda
        (
            r"C:\Users\Ana\AppData\Local\Programs\Python\Python310\lib\site-packages\accelerate\utils\memory.py",
            "accelerate",
        ),
        (r"D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\xformers\__init__.py", "xformers"),  # ComfyUI
        (
            r"D:\ComfyUI_windows_portable\ComfyUI\custom_nodes\ComfyUI-VideoHelper\nodes.py",
            "custom node ComfyUI-VideoHelper",
        ),
        ("/home/ana/ComfyUI/custom_nodes/svd-node/__init__.py", "custom node svd-node"),
        ("/usr/local/lib/python3.12/dist-packages/typing_extensions.py", "typing_extensions"),  # a single-file module
        ("/content/my_notebook_helpers.py", ""),  # the user's own code
        ("/tmp/ipykernel_1234/2716418.py", ""),
    ],
)
def test_owner_of_a_frame(path, owner):
    assert owner_of(path) == owner


def test_read_a_windows_traceback():
    text = r"""Traceback (most recent call last):
  File "D:\ComfyUI_windows_portable\ComfyUI\nodes.py", line 2006, in load_custom_node
    module_spec.loader.exec_module(module)
  File "<frozen importlib._bootstrap_external>", line 995, in exec_module
  File "D:\ComfyUI_windows_portable\ComfyUI\custom_nodes\ComfyUI-VideoHelper\__init__.py", line 3, in <module>
    from huggingface_hub import cached_download
ImportError: cannot import name 'cached_download' from 'huggingface_hub' (D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\huggingface_hub\__init__.py)
"""
    report = read_report(text)
    assert report.exception == "ImportError"
    assert report.message.startswith("cannot import name 'cached_download'")
    assert [frame.owner for frame in report.frames] == [
        "",
        "custom node ComfyUI-VideoHelper",
    ]  # <frozen ...> is skipped
    assert report.frames[-1].code == "from huggingface_hub import cached_download"
    assert report.raised_in == "custom node ComfyUI-VideoHelper"


def test_a_wrapped_message_keeps_its_second_line():
    text = """RuntimeError: Failed to import diffusers.pipelines.stable_video_diffusion because of the following error (look up to see its traceback):
cannot import name 'FLAX_WEIGHTS_NAME' from 'transformers.utils' (/venv/lib/python3.11/site-packages/transformers/utils/__init__.py)"""
    report = read_report(text)
    assert report.exception == "RuntimeError" and "FLAX_WEIGHTS_NAME" in report.message


def test_a_dotted_exception_type():
    report = read_report("huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-abc)")
    assert report.exception == "GatedRepoError"


def test_no_exception_line():
    report = read_report("Loading pipeline components...: 100%|##########| 5/5")
    assert report.exception == "" and report.frames == [] and report.raised_in == ""


@pytest.mark.parametrize(
    "text,versions",
    [
        (
            "diffusers==0.27.2\nhuggingface-hub==0.26.1\ntorch==2.1.2+cpu\n",
            {"diffusers": "0.27.2", "huggingface_hub": "0.26.1", "torch": "2.1.2+cpu"},
        ),
        (
            "Package         Version\n--------------- -----------\ndiffusers       0.28.2\nhuggingface-hub 0.26.0\ntorch           2.5.1+cu121\n",
            {"diffusers": "0.28.2", "huggingface_hub": "0.26.0", "torch": "2.5.1+cu121"},
        ),
        (
            "- `diffusers` version: 0.27.2\n- Platform: Windows-10-10.0.22631-SP0\n- Python version: 3.10.11\n"
            "- PyTorch version (GPU?): 2.2.1+cpu (False)\n- Huggingface_hub version: 0.22.2\n- Transformers version: 4.39.3\n"
            "- Accelerate version: 0.28.0\n- xFormers version: not installed\n",
            {
                "diffusers": "0.27.2",
                "python": "3.10.11",
                "torch": "2.2.1+cpu",
                "huggingface_hub": "0.22.2",
                "transformers": "4.39.3",
                "accelerate": "0.28.0",
            },
        ),
        (
            "- huggingface_hub version: 0.24.6\n- Platform: Linux-6.1.85+-x86_64-with-glibc2.35\n- Python version: 3.10.12\n- Torch: 2.4.0+cu121\n",
            {"huggingface_hub": "0.24.6", "python": "3.10.12", "torch": "2.4.0+cu121"},
        ),
        ("I installed torch 2.1.2+cpu yesterday", {"torch": "2.1.2+cpu"}),
        (
            "WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions. xFormers was built for:\n"
            "    PyTorch 2.3.0+cu121 with CUDA 1201 (you have 2.3.0+cpu)",
            {"torch": "2.3.0+cpu"},
        ),
        ('  File "/usr/local/lib/python3.12/dist-packages/diffusers/__init__.py", line 5', {"python": "3.12"}),
    ],
)
def test_pasted_versions(text, versions):
    assert pasted_versions(text) == versions


def test_ipython_7_frames_as_older_colab_prints_them():
    text = """/usr/local/lib/python3.10/dist-packages/diffusers/utils/dynamic_modules_utils.py in <module>
     26 from urllib import request
     27 
---> 28 from huggingface_hub import cached_download, hf_hub_download, model_info
     29 from packaging import version

ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/usr/local/lib/python3.10/dist-packages/huggingface_hub/__init__.py)"""
    report = read_report(text)
    (frame,) = report.frames
    assert (
        frame.owner == "diffusers"
        and frame.line == 28
        and frame.code.startswith("from huggingface_hub import cached_download")
    )


def test_ipython_8_frames():
    text = """Cell In[3], line 1
----> 1 from diffusers import StableVideoDiffusionPipeline

File /usr/local/lib/python3.12/dist-packages/diffusers/__init__.py:5
      3 from typing import TYPE_CHECKING
----> 5 from .utils import (
      6     DIFFUSERS_SLOW_IMPORT,

ImportError: cannot import name 'cached_download' from 'huggingface_hub'"""
    report = read_report(text)
    assert [(f.owner, f.line) for f in report.frames] == [("", 1), ("diffusers", 5)]
    assert report.frames[0].path == "Cell In[3]"


def test_string_and_stdin_frames_are_your_code():
    report = read_report('  File "<string>", line 1, in <module>\nImportError: x')
    assert [(f.path, f.owner) for f in report.frames] == [("<string>", "")]
