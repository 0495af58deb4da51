"""The libraries' own messages as an index (lesson 3): which library and function raise a pasted message, and in
which of their releases it exists, even when no knowledge entry explains it.

- data/messages.json, built from the real wheels by tools/build_release_history.py: the templates of the errors
  and warnings that huggingface_hub, diffusers, transformers and accelerate raise in every release since
  November 2023, and torch and numpy at the releases Colab shipped, each with the function that raises it;
- data/torch_cpp_messages.toml: torch's messages written in C++, by hand, each with the file that writes it.

`sources_of(text)` finds them in a text: each template is looked up by three whole words of its longest
literal run, then matched whole (its values, `{}`, match anything). Loading is lazy, on the first look-up.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from svd_learn.releases import unpack


@dataclass(frozen=True)
class MessageSource:
    library: str
    template: str  # the message, "{}" for what is filled in at run time
    kind: str  # "ValueError", "warning:FutureWarning", "logger.warning"
    raiser: str  # "diffusers.pipelines.pipeline_utils:DiffusionPipeline.from_pretrained", or a C++ file of torch
    held_in: tuple[str, ...]  # the covered releases that have the message
    covered: tuple[str, ...]  # every covered release of the library

    @property
    def literal(self) -> int:
        return len(self.template.replace("{}", ""))

    def where(self) -> str:
        """ "diffusers.pipelines.pipeline_utils.DiffusionPipeline.from_pretrained (ValueError)", or for torch's C++
        messages "torch's c10/cuda/CUDACachingAllocator.cpp (torch.OutOfMemoryError)" """
        module, _, function = self.raiser.partition(":")
        if not function:
            return f"{self.library}'s {module} ({self.kind})"
        return f"{module}.{function} ({self.kind})"

    def span(self) -> str:
        """ "0.24.0 - 0.42.1 (every release covered)", "1.0.0 - 1.27.0 (not in 2.0.0 and later)" """
        first, last = self.held_in[0], self.held_in[-1]
        text = first if first == last else f"{first} - {last}"
        if len(self.held_in) == len(self.covered):
            return f"{text} (every release covered, {self.covered[0]} - {self.covered[-1]})"
        after = self.covered.index(last) + 1
        return text + (f" (not in {self.covered[after]} and later)" if after < len(self.covered) else "")


def _pieces(template: str) -> list[str]:
    """A template's literal runs, braces undoubled: "a {} b" -> ["a ", " b"]."""
    return [part.replace("{{", "{").replace("}}", "}") for part in re.split(r"(?<!\{)\{\}(?!\})", template)]


def _key(template: str) -> str | None:
    """Three whole words of the template's longest literal run: a partial word at an edge next to a value is
    left out, since the value is glued to it in a real message."""
    pieces = _pieces(template)
    best = max(pieces, key=lambda piece: len(piece.split()))
    words = best.split()
    index = pieces.index(best)
    if index > 0 and not best[:1].isspace():
        words = words[1:]
    if index < len(pieces) - 1 and not best[-1:].isspace():
        words = words[:-1]
    return " ".join(words[:3]) if len(words) >= 3 else None


@cache
def _index() -> tuple[list[tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]], dict[str, list[int]]]:
    """Every message as (library, template, kind, raiser, held_in, covered), and key -> message numbers."""
    data = resources.files("svd_learn").joinpath("data")
    built = json.loads(data.joinpath("messages.json").read_text(encoding="utf-8"))
    rows = []
    for library, part in built.items():
        covered = tuple(part["releases"])
        for spans, messages in part["messages"].items():
            held = unpack(spans, covered)
            rows += [(library, template, kind, raiser, held, covered) for template, kind, raiser in messages]
    torch = tuple(built.get("torch", {}).get("releases", ()))
    for message in tomllib.loads(data.joinpath("torch_cpp_messages.toml").read_text(encoding="utf-8"))["message"]:
        held = torch if message["releases"] == "all" else unpack(message["releases"], torch)
        rows.append(("torch", message["template"], message["kind"], message["raiser"], held, torch))
    keys: dict[str, list[int]] = {}
    for number, row in enumerate(rows):
        key = _key(row[1])
        if key:
            keys.setdefault(key, []).append(number)
    return rows, keys


@cache
def _pattern(template: str) -> re.Pattern:
    pieces = [r"\s+".join(map(re.escape, piece.split())) for piece in _pieces(template)]
    return re.compile(r"[\s\S]{0,1000}?".join(piece for piece in pieces if piece))


def sources_of(text: str) -> list[MessageSource]:
    """The indexed messages found in `text`, the most specific first (the most literal text matched); one per
    library and template (the first raiser stands for the others)."""
    rows, keys = _index()
    words = text.split()
    numbers = {n for i in range(len(words) - 2) for n in keys.get(" ".join(words[i : i + 3]), ())}
    found, seen = [], set()
    for number in sorted(numbers):
        library, template, kind, raiser, held, covered = rows[number]
        if (library, template) not in seen and _pattern(template).search(text):
            seen.add((library, template))
            found.append(MessageSource(library, template, kind, raiser, held, covered))
    return sorted(found, key=lambda source: -source.literal)
