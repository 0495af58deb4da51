"""The libraries' own messages as an index (lesson 3): which library and function raise a pasted message, and in
which of their releases it exists, even when no knowledge entry explains it.

- data/messages.json, built from the real wheels by tools/build_release_history.py: the templates of the errors
  and warnings that huggingface_hub, diffusers, transformers and accelerate raise in every release since
  November 2023, and torch and numpy at the releases Colab shipped, each with the function that raises it;
- data/torch_cpp_messages.toml: torch's messages written in C++, by hand, each with the file that writes it.

`sources_of(text)` finds them in a text: each template is looked up by three whole words of its longest
literal run, then matched (its values, `{}`, match anything): whole, or by its first eight words when the paste
cuts it short. Loading is lazy, on the first look-up.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from svd_learn.language import Localized
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
            return Localized("{library}'s {module} ({kind})", library=self.library, module=module, kind=self.kind)
        return f"{module}.{function} ({self.kind})"

    def span(self) -> str:
        """ "0.24.0 - 0.42.1 (every release covered)", "1.0.0 - 1.27.0 (not in 2.0.0 and later)" """
        first, last = self.held_in[0], self.held_in[-1]
        text = first if first == last else f"{first} - {last}"
        if len(self.held_in) == len(self.covered):
            return Localized(
                "{span} (every release covered, {first} - {last})",
                span=text,
                first=self.covered[0],
                last=self.covered[-1],
            )
        after = self.covered.index(last) + 1
        if after < len(self.covered):
            return Localized("{span} (not in {release} and later)", span=text, release=self.covered[after])
        return text


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


HOLE = r"[\s\S]{0,1000}?"  # a value filled in at run time
MIN_WORDS = 8  # a message cut short (a paste of its first lines) is still recognised by this many of its words


@cache
def _tokens(template: str) -> tuple[str, ...]:
    """The template as regular-expression tokens: each literal word, and HOLE for each value."""
    tokens = []
    for index, piece in enumerate(_pieces(template)):
        tokens += ([HOLE] if index else []) + [re.escape(word) for word in piece.split()]
    while tokens and tokens[0] == HOLE:
        tokens.pop(0)
    return tuple(tokens)


@cache
def _pattern(template: str, length: int) -> re.Pattern:
    """The first `length` tokens of the template as one pattern (words apart by any white space)."""
    parts, previous = [], None
    for token in _tokens(template)[:length]:
        if parts and previous != HOLE and token != HOLE:
            parts.append(r"\s+")
        parts.append(token)
        previous = token
    return re.compile("".join(parts))


def _match(template: str, text: str) -> int:
    """2 when the whole template is in the text, 1 when at least MIN_WORDS words of its start are (a message
    cut short), else 0."""
    tokens = _tokens(template)
    if _pattern(template, len(tokens)).search(text):
        return 2
    words = [index for index, token in enumerate(tokens) if token != HOLE]
    return int(len(words) > MIN_WORDS and bool(_pattern(template, words[MIN_WORDS - 1] + 1).search(text)))


def sources_of(text: str) -> list[MessageSource]:
    """The indexed messages found in `text`, the most specific first (whole matches, then the most literal
    text); one per library and template (the first raiser stands for the others)."""
    rows, keys = _index()
    words = text.split()
    numbers = {n for i in range(len(words) - 2) for n in keys.get(" ".join(words[i : i + 3]), ())}
    found, seen = [], set()
    for number in sorted(numbers):
        library, template, kind, raiser, held, covered = rows[number]
        match = _match(template, text) if (library, template) not in seen else 0
        if match:
            seen.add((library, template))
            found.append((match, MessageSource(library, template, kind, raiser, held, covered)))
    return [source for _, source in sorted(found, key=lambda pair: (-pair[0], -pair[1].literal))]
