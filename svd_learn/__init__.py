"""svd-learn: run Stable Video Diffusion with diffusers on a small GPU, and diagnose what goes wrong."""


def load_ipython_extension(ip):
    """`%load_ext svd_learn`: print the diagnosis of a known error under its traceback (see compat.py)."""
    from svd_learn.compat import load_ipython_extension as load

    load(ip)


def unload_ipython_extension(ip):
    from svd_learn.compat import unload_ipython_extension as unload

    unload(ip)
