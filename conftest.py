"""Test settings shared by the unit tests (tests/) and the lesson notebooks (lessons/, run by nbval).

Set before anything imports huggingface_hub (it reads HF_* at import) and before nbval starts a kernel
(kernels inherit this process's environment)."""

import os
import tempfile

from svd_learn.environment import lesson_test_environment

_home = tempfile.mkdtemp(prefix="svd-learn-tests-")
os.environ.update(lesson_test_environment(_home))
