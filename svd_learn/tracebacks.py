"""Read the structure of an error report that a person pasted (lesson 3): the exception, the frames, the versions.

Whole-message patterns do not generalise; a report's structure does. `read_report(text)` finds:

- the exception: its type and message (the last `SomeError: ...` line; a message may go on for lines);
- every frame (`File "...", line N, in f`) and the package that owns its file: the folder after
  `site-packages` or `dist-packages` (venv, conda, Colab, Windows, ComfyUI's embedded Python), or a
  ComfyUI custom node;
- versions pasted beside it: `pip list`, `pip freeze`, `diffusers-cli env`, `hf env`, and banners such as
  `torch 2.1.2+cpu` or `PyTorch 2.3.0+cu121 with CUDA 1201`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    re.compile(r"^(?P<path>(?:[A-Za-z]:\\|/)\S+\.py) in (?P<function>\S+?)(?:\(.*\))?\s*$"),  # IPython 7 (older Colab)
    re.compile(r"^\s*(?P<path>Cell In\[\d+\]|<ipython-input-[\w-]+>), line (?P<line>\d+)"),  # your own cell
)
ARROW = re.compile(r"^\s*-*> ?(?P<line>\d+) (?P<code>.*)$")  # IPython's "---> 28 from huggingface_hub import ..."
EXCEPTION = re.compile(
    r"^(?:\w+\.)*(?P<type>[A-Z]\w*(?:Error|Exception|Warning|Exit)|KeyboardInterrupt)(?:: (?P<message>.*))?$", re.M
)
SITE = re.compile(r"[\\/](?:site|dist)-packages[\\/](?P<top>[^\\/]+)", re.I)
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
class Report:
    exception: str  # "ImportError", or "" when the text has no exception line
    message: str
    error_line: str  # the exception line as it appears in the text
    frames: list[Frame] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # distribution -> version pasted in the text

    @property
    def raised_in(self) -> str:
        """The package whose file raised the exception (the last frame with an owner), or ""."""
        owners = [frame.owner for frame in self.frames if frame.owner]
        return owners[-1] if owners else ""


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
    """The last exception line, and its message with the lines that continue it (a wrapped RuntimeError)."""
    matches = list(EXCEPTION.finditer(text))
    if not matches:
        return "", "", ""
    match = matches[-1]
    message = match.group("message") or ""
    for line in text[match.end() :].splitlines()[1:]:  # lines after it, until a blank line or a new section
        if not line.strip() or FRAME.match(line) or EXCEPTION.match(line) or line.startswith("Traceback"):
            break
        message += "\n" + line.strip()
    return match.group("type"), message.strip(), match.group(0).strip()


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
    exception, message, error_line = _exception(text)
    return Report(exception, message, error_line, _frames(text), pasted_versions(text))
