"""Test settings shared by the unit tests (tests/) and the lesson notebooks (lessons/, run by nbval).

Set before anything imports huggingface_hub (it reads HF_* at import) and before nbval starts a kernel
(kernels inherit this process's environment)."""

import os
import tempfile

from svd_learn.environment import lesson_test_environment

_home = tempfile.mkdtemp(prefix="svd-learn-tests-")
os.environ.update(lesson_test_environment(_home))


def pytest_collection_modifyitems(items):
    """Every lesson notebook cell (strict nbval) runs in a real kernel: slow (tests marked slow are the rest).
    The default command runs two pytest-xdist workers with `--dist loadfile`: a notebook's cells stay together,
    in order, in one worker, because they share that notebook's kernel."""
    import pytest

    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session):
    """Tests on the CPU use the threads other processes leave free, as `generate_video` does (environment.cpu_threads):
    torch's one thread per core is several times slower on a busy machine."""
    import torch

    from svd_learn.environment import cpu_threads

    torch.set_num_threads(cpu_threads()[0])


def pytest_runtest_setup(item):
    """Each lesson notebook gets its own Hub cache, as a fresh Colab runtime has: Lesson 3 counts the requests a
    download makes, so a cache that another notebook filled (its Spanish twin, say) would change its answers.
    Set before nbval starts the notebook's kernel, at its first cell."""
    if item.path.suffix == ".ipynb":
        os.environ["HF_HOME"] = os.path.join(
            _home, "hf-home", item.path.relative_to(item.config.rootpath).as_posix().replace("/", "-")
        )
