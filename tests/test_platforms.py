"""platforms.py: the platform a report shows in its paths, banners and words, and where a fix applies.

The paths and banners are written for these tests in the layouts each system uses."""

import pytest

from svd_learn.platforms import Platform, platform_here, platform_of


@pytest.mark.parametrize(
    "text,system,kind",
    [
        (r'  File "C:\Users\ana\svd\venv\Lib\site-packages\torch\__init__.py", line 148', "windows", ""),
        (r"D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\x.py", "windows", ""),
        ("OSError: [WinError 126] The specified module could not be found.", "windows", ""),
        ('  File "/Users/ana/dev/.venv/lib/python3.11/site-packages/torch/cuda/__init__.py", line 3', "macos", ""),
        ("OS: macOS 14.4 (arm64)", "macos", ""),
        ("I'm on an M1 Mac and get this:", "macos", ""),
        ("Running it on my MacBook Pro", "macos", ""),
        ('  File "/content/run.py", line 3\n  File "/usr/local/lib/python3.12/dist-packages/x.py"', "linux", "colab"),
        ('  File "/kaggle/working/run.py", line 3', "linux", "kaggle"),
        ('  File "/mnt/c/Users/ana/svd/run.py", line 3\nLinux-5.15.153.1-microsoft-standard-WSL2', "linux", "wsl"),
        ('  File "/home/ana/svd/.venv/lib/python3.11/site-packages/x.py", line 3', "linux", ""),
        ("ImportError: cannot import name 'x' from 'y'", "", ""),
    ],
)
def test_platform_of_a_report(text, system, kind):
    platform = platform_of(text)
    assert (platform.system, platform.kind) == (system, kind)
    assert platform.source == ("the report" if system else "")


def test_environments_beside_the_system():
    text = r'  File "C:\Users\ana\anaconda3\envs\svd\Lib\site-packages\torch\__init__.py", line 1'
    assert platform_of(text).environments == ("conda",)
    assert platform_of(r"D:\ComfyUI_windows_portable\python_embeded\python.exe").environments == ("comfyui-portable",)


def test_signs_that_disagree_say_nothing():
    text = '  File "/Users/ana/x.py", line 1\n  File "C:\\Users\\ana\\y.py", line 2'
    assert platform_of(text).system == ""


def test_where_a_fix_applies():
    mac, windows, colab, unknown = Platform("macos"), Platform("windows"), Platform("linux", "colab"), Platform()
    assert mac.allows(("macos",)) and not windows.allows(("macos",))
    assert colab.allows(("linux",)) and colab.allows(("colab",)) and not Platform("linux").allows(("colab",))
    assert all(place.allows(()) for place in (mac, windows, colab, unknown))  # no restriction: everywhere
    # unknown: a fix for one system only needs it shown; a fix for several applies
    assert not unknown.allows(("macos",)) and not unknown.allows(("windows",))
    assert unknown.allows(("windows", "linux"))


def test_this_machine():
    here = platform_here()
    assert here.system == "linux" and here.source == "this machine"  # the course's CI machines
