"""Read the structure of an error report that a person pasted (lesson 3): the exception, the frames, the versions.

Whole-message patterns do not generalise; a report's structure does. `read_report(text)` first turns the
format it was pasted in (pytest, IPython, rich, logs, ...) into CPython's (traceback_formats.py), then finds:

- the exception: its type and message (the last `SomeError: ...` line; a message may go on for lines), and each
  traceback of a chain ("During handling of the above exception ...") with its own frames;
- every frame (`File "...", line N, in f`) and the package that owns its file: the folder after
  `site-packages` or `dist-packages` (venv, conda, Colab, Windows, ComfyUI's embedded Python), or a
  ComfyUI custom node; and whether the text shows a traceback whose frames could not be read at all;
- versions pasted beside it: `pip list`, `pip freeze`, `diffusers-cli env`, `hf env`, and banners such as
  `torch 2.1.2+cpu` or `PyTorch 2.3.0+cu121 with CUDA 1201`;
- the platform its paths and banners show (platforms.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from svd_learn.platforms import Platform, platform_of
from svd_learn.traceback_formats import plain

# Distributions whose versions a diagnosis can use, by every spelling a report uses for them.
SPELLINGS = {
    "torch": "torch",
    "pytorch": "torch",
    "diffusers": "diffusers",
    "transformers": "transformers",
    "accelerate": "accelerate",
    "huggingface_hub": "huggingface_hub",
    "huggingface-hub": "huggingface_hub",
    "numpy": "numpy",
    "xformers": "xformers",
    "safetensors": "safetensors",
    "torchvision": "torchvision",
    "python": "python",
    "peft": "peft",
}
_NAME = "|".join(sorted(map(re.escape, SPELLINGS), key=len, reverse=True))
_VERSION = r"\d+(?:\.\d+)+(?:[\w.!]*)(?:\+[\w.]+)?"
VERSION_LINES = (
    re.compile(rf"^\s*(?P<name>{_NAME})\s*==\s*(?P<version>{_VERSION})\s*$", re.I | re.M),  # pip freeze
    re.compile(rf"^\s*(?P<name>{_NAME})\s+(?P<version>{_VERSION})(?:\s+\S+)?\s*$", re.I | re.M),  # pip list
    # diffusers-cli env ("- `diffusers` version: 0.27.2", "- PyTorch version (GPU?): 2.1.0+cu121 (True)"), hf env ("- Torch: 2.4.0")
    re.compile(
        rf"^\s*-\s*`?(?P<name>{_NAME})`?(?: version)?(?: \([^)]*\))?\s*:\s*(?P<version>{_VERSION})", re.I | re.M
    ),
    re.compile(rf"\b(?P<name>torch|pytorch)[ :=v]+(?P<version>{_VERSION})", re.I),  # banners: torch 2.1.2+cpu
)
# "xFormers was built for: PyTorch 2.8.0+cu128 ... (you have 2.13.0+cpu)": the installed torch is the second.
XFORMERS_BUILT_FOR = re.compile(
    rf"built for:\s*PyTorch (?P<built>{_VERSION})[^\n]*\(you have (?P<version>{_VERSION})\)", re.I
)
FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>\S+))?', re.M)
IPYTHON_FRAMES = (  # notebooks print frames their own way
    re.compile(r"^\s*File (?P<path>(?:[A-Za-z]:)?[^:\"]+\.py):(?P<line>\d+)(?:, in (?P<function>\S+))?"),  # IPython 8
    re.compile(
        r"^(?P<path>(?:[A-Za-z]:\\|/|~)\S+\.py) in (?P<function>\S+?)(?:\(.*\))?\s*$"
    ),  # IPython 7 (older Colab)
    re.compile(r"^\s*(?P<path>Cell In\[\d+\]|<ipython-input-[\w-]+>), line (?P<line>\d+)"),  # your own cell
    re.compile(r"^(?P<path><ipython-input-[\w-]+>) in (?P<function>.+?)\s*$"),  # your own cell, IPython 7
)
ARROW = re.compile(r"^\s*-*> ?(?P<line>\d+) (?P<code>.*)$")  # IPython's "---> 28 from huggingface_hub import ..."
_TYPE = r"(?P<type>[A-Z]\w*(?:Error|Exception|Warning|Exit)|KeyboardInterrupt)"
EXCEPTION = re.compile(rf"^(?:\w+\.)*{_TYPE}(?::[ \t]*(?P<message>.*))?$", re.M)
EXCEPTION_IN_LINE = re.compile(rf"(?:^|\s)(?:\w+\.)*{_TYPE}: (?P<message>\S.*)$", re.M)  # after a log prefix
CHAINED = re.compile(
    r"^(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:"
    r"|Traceback \(most recent call last\):)\s*$",
    re.M,
)
COMFY_EXECUTING = re.compile(r"^Error occurred when executing [^\n]*:\s*\n\s*\n(?P<message>[^\n]+)", re.M)
# What shows that a text holds a traceback, read or not: then frames that cannot be read are said to be unreadable.
TRACEBACK_SIGNS = re.compile(
    r"Traceback \(most recent call last\)|line \d+, in \S|\.py:\d+,? in \S|^\s*-+> ?\d+ |[│╭╰❱]|File \"", re.M
)
SITE = re.compile(r"(?:^|[\\/])(?:site|dist)-packages[\\/](?P<top>[^\\/]+)", re.I)
CUSTOM_NODE = re.compile(r"[\\/]custom_nodes[\\/](?P<node>[^\\/]+)", re.I)
PYTHON_IN_PATH = re.compile(r"[\\/]python(?P<version>3\.\d+)[\\/]", re.I)


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str
    owner: str  # the package that owns the file ("diffusers", "custom node ComfyUI-SVD"), or "" (your code)
    code: str  # the source line under the frame, when the report shows it


@dataclass
class Block:
    """One traceback of a chain ("During handling of the above exception..."): its frames and its exception."""

    frames: list[Frame]
    exception: str
    message: str
    error_line: str


@dataclass
class Report:
    exception: str  # "ImportError", or "" when the text has no exception line
    message: str
    error_line: str  # the exception line as it appears in the text
    frames: list[Frame] = field(default_factory=list)  # every frame of every block, in order
    versions: dict[str, str] = field(default_factory=dict)  # distribution -> version pasted in the text
    blocks: list[Block] = field(default_factory=list)
    platform: Platform = field(default_factory=Platform)
    unreadable: bool = False  # the text shows a traceback whose frames could not be read
    text: str = ""  # the text in CPython's format (traceback_formats.plain)

    @property
    def raised_in(self) -> str:
        """The package whose file raised the exception (the last frame with an owner), or ""."""
        owners = [frame.owner for frame in self.frames if frame.owner]
        return owners[-1] if owners else ""

    def frames_for(self, line: str) -> list[Frame]:
        """The frames of the block whose exception shows `line` (a chained traceback has several), else all."""
        for block in self.blocks:
            if line and block.frames and (line in block.error_line or line in block.message):
                return block.frames
        return self.frames


def owner_of(path: str) -> str:
    """The package that owns a file, from its path alone (the report may come from another machine)."""
    site = list(SITE.finditer(path))
    if site:
        top = site[-1].group("top")
        return re.sub(r"\.py$", "", top).lower() if not top.endswith((".dist-info", ".egg-info")) else ""
    node = CUSTOM_NODE.search(path)
    return f"custom node {node.group('node')}" if node else ""


def _frame_match(line: str) -> re.Match | None:
    for pattern in (FRAME, *IPYTHON_FRAMES):
        match = pattern.match(line)
        if match:
            return match
    return None


def _code_after(lines: list[str], index: int, ipython: bool) -> tuple[str, int]:
    """The source line a report prints under a frame (the next line, or IPython's `--->` line), and its number."""
    if not ipython:
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        return ("" if _frame_match(following) or EXCEPTION.match(following) else following), 0
    for line in lines[index + 1 : index + 12]:
        if _frame_match(line):
            break
        arrow = ARROW.match(line)
        if arrow:
            return arrow.group("code").strip(), int(arrow.group("line"))
    return "", 0


def _frames(text: str) -> list[Frame]:
    frames = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _frame_match(line)
        if not match or match.group("path").startswith("<frozen"):
            continue  # Python's own import machinery: no file to own
        groups = match.groupdict()
        code, arrow_line = _code_after(lines, index, match.re is not FRAME)
        number = int(groups["line"]) if groups.get("line") else arrow_line
        frames.append(Frame(groups["path"], number, groups.get("function") or "", owner_of(groups["path"]), code))
    return frames


def _exception(text: str) -> tuple[str, str, str]:
    """The last exception line, and its message with the lines that continue it (a wrapped RuntimeError).
    Without one at the start of a line: one after a log prefix, or the message of a ComfyUI error dialog."""
    matches = list(EXCEPTION.finditer(text)) or list(EXCEPTION_IN_LINE.finditer(text))
    if not matches:
        comfy = COMFY_EXECUTING.search(text)
        return ("", comfy["message"].strip(), comfy["message"].strip()) if comfy else ("", "", "")
    match = matches[-1]
    message = match.group("message") or ""
    for line in text[match.end() :].splitlines()[1:]:  # lines after it, until a blank line or a new section
        if not line.strip() or FRAME.match(line) or EXCEPTION.match(line) or CHAINED.match(line):
            break
        message += "\n" + line.strip()
    return match.group("type"), message.strip(), match.group(0).strip()


def _blocks(text: str) -> list[Block]:
    """The tracebacks of a chain, each with its frames and exception (one block for an unchained text)."""
    starts = [0] + [m.start() for m in CHAINED.finditer(text) if m.start() > 0]
    parts = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    blocks = [Block(_frames(part), *_exception(part)) for part in parts]
    return [block for block in blocks if block.frames or block.exception] or [Block([], "", "", "")]


def pasted_versions(text: str) -> dict[str, str]:
    """Versions of the libraries that matter, as pasted in the text (the first mention of each wins)."""
    versions: dict[str, str] = {}
    built_for = XFORMERS_BUILT_FOR.search(text)
    if built_for:
        versions["torch"] = built_for.group("version")
        text = text.replace(built_for.group(0), "")  # the torch xformers was built for is not the installed one
    for pattern in VERSION_LINES:
        for match in pattern.finditer(text):
            versions.setdefault(SPELLINGS[match.group("name").lower()], match.group("version"))
    python = PYTHON_IN_PATH.search(text)
    if python:
        versions.setdefault("python", python.group("version"))
    return versions


def read_report(text: str) -> Report:
    """The structure of a pasted report, in whatever format it was pasted (see traceback_formats.py)."""
    text = plain(text)
    exception, message, error_line = _exception(text)
    blocks = _blocks(text)
    frames = [frame for block in blocks for frame in block.frames]
    unreadable = not frames and bool(TRACEBACK_SIGNS.search(text))
    return Report(
        exception, message, error_line, frames, pasted_versions(text), blocks, platform_of(text), unreadable, text
    )
