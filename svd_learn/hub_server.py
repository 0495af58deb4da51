"""The local Hub's server program (see hub.py), run by the Python of the local Hub's own environment:

    <olah-env>/bin/python -I -u hub_server.py PARENT_PID CONFIG LOG_FOLDER

It is run as a file with -I (isolated: no PYTHONPATH, no user site, not even this folder on sys.path), so
it sees only what that environment holds: olah and its own versions of huggingface_hub, fastapi, pydantic.
It imports nothing from svd_learn.

It watches its parent: if the notebook kernel or test process dies without stopping it, it exits too.
One fix to olah: offline, it cannot answer `GET /api/models/{org}/{repo}` (repo info without a revision,
which the Hub answers for the default branch and diffusers' from_pretrained asks for), so that request is
served as `.../revision/main`. The request log still shows the path as asked.
"""

import os
import re
import sys
import threading
import time

REPO_INFO = re.compile(r"/api/(models|datasets|spaces)/[^/]+/[^/]+")


class DefaultBranchInfo:
    """ASGI middleware: repo info without a revision is answered as the info of `main`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and REPO_INFO.fullmatch(scope["path"]):
            path = scope["path"] + "/revision/main"
            scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


def exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main(parent: int, config: str, log_folder: str) -> None:
    threading.Thread(target=exit_with_parent, args=(parent,), daemon=True).start()
    from olah.server import app
    from olah.server import main as olah_main

    app.add_middleware(DefaultBranchInfo)
    sys.argv = ["olah-cli", "-c", config, "--log-path", log_folder]
    olah_main()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
