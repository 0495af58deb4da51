"""Test settings shared by the unit tests (tests/) and the lesson notebooks (lessons/, run by nbval).

Set before anything imports huggingface_hub (it reads HF_* at import) and before nbval starts a kernel
(kernels inherit this process's environment)."""

import os
import tempfile

from svd_learn.environment import lesson_test_environment

_home = tempfile.mkdtemp(prefix="svd-learn-tests-")
os.environ.update(lesson_test_environment(_home))


def pytest_collection_modifyitems(items):
    """Every lesson notebook cell (strict nbval) runs in a real kernel: slow (tests marked slow are the rest)."""
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
