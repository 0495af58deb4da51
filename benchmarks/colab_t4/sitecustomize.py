"""Put this folder on PYTHONPATH and set SVD_LEARN_EMULATE_T4=1: every Python process then sees a Colab T4
(t4_emulation.install_emulation, beside this file) from the moment it imports torch. Processes that never
import torch (pip, the lab's throwaway environments) are left alone. Used by benchmarks/rehearse_colab.py."""

import importlib.abc
import importlib.util
import os
import sys


class _EmulateT4AfterTorchImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)  # find torch the normal way, once
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        load_torch = spec.loader.exec_module

        def load_torch_then_emulate(module):
            load_torch(module)
            from t4_emulation import install_emulation  # this folder is on PYTHONPATH

            install_emulation()

        spec.loader.exec_module = load_torch_then_emulate
        return spec


if os.environ.get("SVD_LEARN_EMULATE_T4") == "1" and "torch" not in sys.modules:
    sys.meta_path.insert(0, _EmulateT4AfterTorchImport())
