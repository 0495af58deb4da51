"""A pytest plugin for CI's oldest-supported stage (`python3 tasks.py oldest` loads it with -p).

That stage runs strict nbval on the oldest supported versions against outputs stored with the newest ones.
One difference is not text that lessons/sanitize.cfg can rewrite but the presence of a whole stream:
diffusers >= 0.40 draws its denoising progress bar even with TQDM_DISABLE=1 (it passes `disable=` itself),
older diffusers hides it. So a stderr stream that holds nothing but progress bars is left out of the
comparison, on both sides. Everything else is compared as strictly as before.
"""

import re

import nbval.plugin

# One drawing of a tqdm bar: "Loading: 40%|████      | 2/5 [00:01<00:02,  1.5it/s]" (as lessons/sanitize.cfg).
PROGRESS_BAR = re.compile(r"\d+%\|[^\n\r]*\| *\d+/\d+ \[[^\n\r]*\]")


def only_progress_bars(text: str) -> bool:
    pieces = [piece for piece in re.split(r"[\r\n]+", text) if piece.strip()]
    return bool(pieces) and all(PROGRESS_BAR.search(piece) for piece in pieces)


def _is_progress_stream(output) -> bool:
    return (
        output.get("output_type") == "stream"
        and output.get("name") == "stderr"
        and only_progress_bars(output.get("text", ""))
    )


_compare_streams = nbval.plugin.transform_streams_for_comparison


def transform_streams_without_progress_bars(outputs):
    return _compare_streams([output for output in outputs if not _is_progress_stream(output)])


nbval.plugin.transform_streams_for_comparison = transform_streams_without_progress_bars
