"""Build svd_learn/data/release_history.json: the public names of huggingface_hub, diffusers, transformers and
accelerate in every release since diffusers 0.24 (November 2023, the first diffusers with SVD).

It reads the real wheels from the package registry with `ast` and installs nothing:

    python tools/build_release_history.py                 # download missing wheels to /tmp/svd-learn-wheels, rebuild
    python tools/build_release_history.py --wheels DIR    # another wheel cache
    python tools/build_release_history.py --offline       # only the wheels already in the cache

What it records, per library (each fact with the releases it holds in, see `releases.py`):
- exports:  the public names of the package and of each module one level below it (`huggingface_hub`,
            `huggingface_hub.constants`, `diffusers.utils`, ...), lazy import tables included;
- modules:  every module path (`diffusers.models.unets.unet_2d_condition`);
- imports:  the names each library imports from another of the four (`diffusers` asks `huggingface_hub`
            for `cached_download`), so a diagnosis can say which release stopped asking;
- params:   the keyword parameters of the functions learners call (PARAMETERS below), the `**kwargs` that
            the function pops by name included.

It also builds svd_learn/data/messages.json: the templates of the errors and warnings each release raises,
with the function that raises each (tools/message_templates.py, read by svd_learn/messages.py), for the four
libraries and for torch and numpy at the releases Colab shipped (COLAB_RELEASES, read from their macOS wheels:
the same Python files as the CUDA builds, in 60-80 MB instead of gigabytes). torch's messages written in C++
are not in its wheels' Python files: svd_learn/data/torch_cpp_messages.toml holds the ones learners meet.

    python tools/build_release_history.py --only messages   # just messages.json (about 15 minutes on 2 cores)

To add a new release: run the script again. It asks the registry for the versions of each library (`pip
index versions`), downloads the wheels it does not have (`pip download --no-deps --only-binary=:all:`) and
rebuilds the whole file from the cache (a few minutes). Then run `pytest -m slow tests/test_releases.py`,
which rebuilds a sample of releases and compares them with the file. To track a function's parameters or
another library, edit PARAMETERS or FIRST_RELEASE.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from message_templates import templates_in
from packaging.version import Version

# The first release of each library since diffusers 0.24.0 (2023-11-29).
FIRST_RELEASE = {"huggingface_hub": "0.19.0", "diffusers": "0.24.0", "transformers": "4.35.0", "accelerate": "0.25.0"}
# library -> function -> (file in the wheel, class or "" for a module-level function)
PARAMETERS = {
    "huggingface_hub": {
        "hf_hub_download": ("huggingface_hub/file_download.py", ""),
        "snapshot_download": ("huggingface_hub/_snapshot_download.py", ""),
        "login": ("huggingface_hub/_login.py", ""),
    },
    "diffusers": {
        "DiffusionPipeline.from_pretrained": ("diffusers/pipelines/pipeline_utils.py", "DiffusionPipeline"),
        "ModelMixin.from_pretrained": ("diffusers/models/modeling_utils.py", "ModelMixin"),
    },
    "transformers": {
        "PreTrainedModel.from_pretrained": ("transformers/modeling_utils.py", "PreTrainedModel"),
    },
    "accelerate": {},
}
LIBRARIES = tuple(FIRST_RELEASE)
LAZY_TABLES = {
    "_import_structure",
    "_SUBMOD_ATTRS",
}  # the lazy-import dictionaries of diffusers, transformers, huggingface_hub
OUTPUT = Path(__file__).resolve().parent.parent / "svd_learn" / "data" / "release_history.json"


# --- reading one wheel -----------------------------------------------------------------------------------


def _module_name(path: str) -> str:
    parts = path[:-3].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _lazy_names(tree: ast.Module) -> set[str]:
    """Names in lazy import tables: `_import_structure = {"mod": ["Name"]}`, `_import_structure["mod"] = [...]`,
    `_import_structure["mod"].extend([...])`, `+= [...]`. Dictionary keys are submodules, not names."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                base = target.value if isinstance(target, ast.Subscript) else target
                if isinstance(base, ast.Name) and base.id in LAZY_TABLES:
                    value = node.value
                    if isinstance(value, ast.Dict):
                        names |= set().union(*(_strings(v) for v in value.values)) if value.values else set()
                    else:
                        names |= _strings(value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("extend", "append")
        ):
            base = node.func.value
            base = base.value if isinstance(base, ast.Subscript) else base
            if isinstance(base, ast.Name) and base.id in LAZY_TABLES:
                names |= set().union(*(_strings(a) for a in node.args)) if node.args else set()
    return names


def _lazy_modules(tree: ast.Module) -> set[str]:
    """The submodules a lazy import table serves (its keys), relative to the package: "models.clip"."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in LAZY_TABLES and isinstance(node.value, ast.Dict):
                    keys |= {
                        k.value for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
                    }
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in LAZY_TABLES
                    and isinstance(target.slice, ast.Constant)
                    and isinstance(target.slice.value, str)
                ):
                    keys.add(target.slice.value)
    return keys


def _top_level_names(tree: ast.Module, library: str, package: bool) -> set[str]:
    """Names a module defines or imports at its top level (inside if/try blocks too, not inside functions).

    A package's __init__ exports what it imports; a plain module only what it imports from its own library
    (`transformers.modeling_utils` imports torch, but `from transformers.modeling_utils import torch` is not an API)."""
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            own = isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").split(".")[0] == library)
            if package or own:
                names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
                if isinstance(target, ast.Name) and target.id == "__all__" and node.value is not None:
                    names |= _strings(node.value)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            todo += node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", [])
            todo += [n for handler in getattr(node, "handlers", []) for n in handler.body]
    return names


_ALL = re.compile(r"^__all__\s*=\s*(\[[^\]]*\])", re.MULTILINE)


def _all_names(source: str) -> set[str]:
    """`__all__` read without parsing the whole file (transformers 5 exports its models this way)."""
    match = _ALL.search(source)
    try:
        return set(ast.literal_eval(match.group(1))) if match else set()
    except (ValueError, SyntaxError):
        return set()


def _exporting(path: str, library: str) -> bool:
    """The package and the modules one level below it (`diffusers.utils`, `huggingface_hub.constants`)."""
    parts = _module_name(path).split(".")
    return parts[0] == library and len(parts) <= 2


def _imports_from(tree: ast.Module, library: str) -> set[str]:
    """`module:name` for each name this file imports from another tracked library (anywhere in the file)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in LIBRARIES and top != library:
                found |= {f"{node.module}:{a.name}" for a in node.names if a.name != "*"}
        elif isinstance(node, ast.Import):
            found |= {
                f"{a.name}:"
                for a in node.names
                if a.name.split(".")[0] in LIBRARIES and a.name.split(".")[0] != library
            }
    return found


def _parameters(tree: ast.Module, function: str, class_name: str) -> set[str] | None:
    """The keyword parameters of a function, and the **kwargs it pops by name (`kwargs.pop("use_auth_token")`)."""
    body = tree.body
    if class_name:
        classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name]
        if not classes:
            return None
        body = classes[0].body
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            args = node.args
            names = {a.arg for a in args.args + args.kwonlyargs + args.posonlyargs} - {"self", "cls"}
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("pop", "get")
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == (args.kwarg.arg if args.kwarg else "")
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                ):
                    names.add(call.args[0].value)
            return names
    return None


def _transformers_aliases(archive: zipfile.ZipFile, facts: dict[str, set[str]]) -> None:
    """transformers 5 serves some old names at run time, which no file defines; add them as facts.

    - `XTokenizerFast` and `XImageProcessorFast` fall back to `XTokenizer` / `XImageProcessor`
      (utils/import_utils.py, `_LazyModule.__getattr__`);
    - old module paths are served by `_LegacyModuleAliasFinder`: the keys of `_LEGACY_MODULE_ALIASES` and
      `models/x/image_processing_y_fast` for `models/x/image_processing_y` (transformers/__init__.py), or
      (5.0) by `_create_tokenization_alias(f"{__name__}.tokenization_utils_fast", ...)`.
    """
    names = archive.namelist()
    utils = archive.read("transformers/utils/import_utils.py") if "transformers/utils/import_utils.py" in names else b""
    for suffix in (b"TokenizerFast", b"ImageProcessorFast"):
        if b'endswith("' + suffix + b'")' in utils:
            short = suffix.decode()[:-4]
            facts["exports"] |= {
                f"{fact}Fast" for fact in facts["exports"] if fact.startswith("transformers:") and fact.endswith(short)
            }
    init = archive.read("transformers/__init__.py").decode("utf-8", errors="replace")
    for node in ast.walk(ast.parse(init)):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "_LEGACY_MODULE_ALIASES"
            and isinstance(node.value, ast.Dict)
        ):
            facts["modules"] |= {
                f"transformers.{key.value}" for key in node.value.keys if isinstance(key, ast.Constant)
            }
    facts["modules"] |= {
        f"transformers.{m}" for m in re.findall(r'_create_\w*alias\(\s*f"\{__name__\}\.([\w.]+)"', init)
    }
    if "_LEGACY_FAST_IMAGE_PROCESSOR_MODULE" in init:
        facts["modules"] |= {
            f"{m}_fast"
            for m in facts["modules"]
            if m.startswith("transformers.models.") and ".image_processing_" in m and ".image_processing_pil_" not in m
        }


# A quick test before parsing a file: does it import another tracked library?
_ASKS = {
    library: re.compile(rb"(?:from|import) +(?:" + b"|".join(o.encode() for o in LIBRARIES if o != library) + rb")\b")
    for library in LIBRARIES
}


def read_wheel(wheel: Path, library: str) -> dict[str, set[str]]:
    """The facts of one release: {"exports": {"module:Name"}, "modules": {...}, "imports": {...}, "params": {...}}."""
    facts = {"exports": set(), "modules": set(), "imports": set(), "params": set()}
    wanted = {path: (name.split(".")[-1], cls) for name, (path, cls) in PARAMETERS[library].items()}
    with zipfile.ZipFile(wheel) as archive:
        for path in archive.namelist():
            if not path.endswith(".py") or path.split("/")[0] != library:
                continue
            module = _module_name(path)
            facts["modules"].add(module)
            raw = archive.read(path)
            exporting, asks = _exporting(path, library), bool(_ASKS[library].search(raw))
            source = raw.decode("utf-8", errors="replace")
            if not (exporting or asks or path in wanted):
                if library == "transformers" and module.startswith("transformers.models.") and b"__all__" in raw:
                    facts["exports"] |= {
                        f"transformers:{name}" for name in _all_names(source)
                    }  # `from .models import *`
                continue
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            if exporting:
                names = _top_level_names(tree, library, path.endswith("__init__.py")) | _lazy_names(tree)
                facts["modules"] |= {f"{module}.{key}" for key in _lazy_modules(tree)}
                facts["exports"] |= {f"{module}:{name}" for name in names if not name.startswith("_")}
            if asks:
                facts["imports"] |= _imports_from(tree, library)
            if path in wanted:
                for qualified, (file, cls) in PARAMETERS[library].items():
                    if file == path:
                        params = _parameters(tree, qualified.split(".")[-1], cls)
                        facts["params"] |= {f"{qualified}:{p}" for p in params or ()}
        if library == "transformers":
            _transformers_aliases(archive, facts)
    return facts


# --- the registry and the cache ------------------------------------------------------------------------------


def registry_versions(library: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", library], capture_output=True, text=True, check=True
    )
    listed = done.stdout.split("Available versions:")[1].splitlines()[0]
    versions = [Version(v.strip()) for v in listed.split(",")]
    return [str(v) for v in sorted(versions) if v >= Version(FIRST_RELEASE[library]) and not v.is_prerelease]


def cached_wheel(cache: Path, library: str, version: str) -> Path | None:
    matches = sorted((cache / library).glob(f"{library}-{version}-*.whl"))
    return matches[0] if matches else None


def download(cache: Path, library: str, version: str) -> Path | None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--quiet",
            "--dest",
            str(cache / library),
            f"{library}=={version}",
        ],
        check=False,
    )
    return cached_wheel(cache, library, version)


# --- the messages: templates of the errors and warnings of each release -------------------------------------

# torch and numpy at the releases Colab shipped (Colab's published pip freezes, 2023-11 to 2026-08).
COLAB_RELEASES = {
    "torch": ("2.1.0", "2.5.0", "2.6.0", "2.9.0", "2.10.0", "2.11.0"),
    "numpy": ("1.23.5", "1.26.4", "2.0.2", "2.1.3"),
}
# Of torch, the files whose messages learners meet: CUDA and devices, dtypes, loading checkpoints, compile.
TORCH_PARTS = (
    "cuda/",
    "backends/",
    "mps/",
    "xpu/",
    "amp/",
    "nn/modules/module.py",
    "nn/functional.py",
    "__init__.py",
    "serialization.py",
    "_weights_only_unpickler.py",
    "_tensor.py",
    "_utils.py",
    "storage.py",
    "library.py",
    "hub.py",
    "random.py",
    "functional.py",
    "utils/_triton.py",
    "_dynamo/exc.py",
    "_inductor/exc.py",
)
MESSAGES_OUTPUT = OUTPUT.parent / "messages.json"
RAISERS_KEPT = 3  # a check copied into many pipelines: the first three raisers (by name) stand for the others


def reads_messages_of(library: str, path: str) -> bool:
    """The files of a wheel whose messages the index keeps: no tests; of transformers, not the model folders
    (hundreds of copies of the same checks) except CLIP (SVD's image encoder) and auto; of torch, TORCH_PARTS."""
    parts = path.split("/")
    if not path.endswith(".py") or parts[0] != library or "tests" in parts or "testing" in path:
        return False
    if library == "transformers" and len(parts) > 3 and parts[1] == "models":
        return parts[2] in ("clip", "auto")
    if library == "torch":
        return path.removeprefix("torch/").startswith(TORCH_PARTS)
    if library == "numpy":
        return parts[1] not in ("f2py", "distutils", "typing", "_pyinstaller", "array_api", "testing")
    return True


def read_messages(wheel: Path, library: str) -> set[str]:
    """The messages of one release: "template\tkind\tmodule:function" (see tools/message_templates.py)."""
    found: dict[tuple[str, str], list[str]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for path in sorted(archive.namelist()):
            if reads_messages_of(library, path):
                source = archive.read(path).decode("utf-8", errors="replace")
                for text, kind, raiser in templates_in(source, _module_name(path)):
                    found.setdefault((text, kind), []).append(raiser)
    return {
        f"{text}\t{kind}\t{raiser}"
        for (text, kind), raisers in found.items()
        for raiser in sorted(raisers)[:RAISERS_KEPT]
    }


def download_from_any_platform(cache: Path, library: str, version: str) -> Path | None:
    """torch and numpy: the macOS (arm64) wheel, the smallest that holds the Python files."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "macosx_11_0_arm64",
            "--python-version",
            "3.11",
            "--quiet",
            "--dest",
            str(cache / library),
            f"{library}=={version}",
        ],
        check=False,
    )
    return cached_wheel(cache, library, version)


def compact_messages(per_release: dict[str, set[str]]) -> dict:
    """{version: messages} -> {"releases": [...], "messages": {spans: [[template, kind, raiser], ...]}}."""
    releases = sorted(per_release, key=Version)
    holding: dict[str, list[int]] = {}
    for index, version in enumerate(releases):
        for fact in per_release[version]:
            holding.setdefault(fact, []).append(index)
    grouped: dict[str, list[list[str]]] = {}
    for fact, indices in sorted(holding.items()):
        grouped.setdefault(spans(indices, releases), []).append(fact.split("\t"))
    return {"releases": releases, "messages": grouped}


def read_releases(cache: Path, library: str, versions: list[str], fetch, offline: bool, read):
    """(version, `read(wheel, library)`) for each release whose wheel is cached or, online, fetched, as each is read;
    the others are skipped, and said."""
    for version in versions:
        wheel = cached_wheel(cache, library, version) or (None if offline else fetch(cache, library, version))
        if wheel is None:
            print(f"no wheel for {library} {version}: skipped", file=sys.stderr)
            continue
        yield version, read(wheel, library)


def build_messages(cache: Path, offline: bool) -> dict:
    index = {}
    for library in LIBRARIES + tuple(COLAB_RELEASES):
        if library in COLAB_RELEASES:
            versions, fetch = list(COLAB_RELEASES[library]), download_from_any_platform
        else:
            versions = registry_versions(library) if not offline else _cached_versions(cache, library)
            fetch = download
        per_release = {}
        for version, messages in read_releases(cache, library, versions, fetch, offline, read_messages):
            per_release[version] = messages
            print(f"{library} {version}: {len(messages)} messages", file=sys.stderr)
        index[library] = compact_messages(per_release)
    return index


# --- the compact file: each fact with the releases it holds in ------------------------------------------------


def spans(indices: list[int], releases: list[str]) -> str:
    """Release indices -> "0.19.0..0.25.2,0.27.0": runs of consecutive releases, first..last."""
    runs, start = [], indices[0]
    for previous, current in zip(indices, indices[1:] + [None]):
        if current != previous + 1:
            runs.append(releases[start] if start == previous else f"{releases[start]}..{releases[previous]}")
            start = current
    return ",".join(runs)


def _split(kind: str, fact: str) -> tuple[str, str]:
    """A fact -> (group, member): "huggingface_hub:cached_download" -> ("huggingface_hub", "cached_download");
    a module path -> its parent and its last part."""
    return (
        tuple(fact.rsplit(".", 1))
        if kind == "modules" and "." in fact
        else tuple(fact.split(":", 1))
        if kind != "modules"
        else (fact, "")
    )


def compact(per_release: dict[str, dict[str, set[str]]]) -> dict:
    """{version: facts} of one library -> {"releases": [...], kind: {group: {spans: [members]}}}.

    Most facts hold in the same releases, so members are listed under their spans once (the file stays small)."""
    releases = sorted(per_release, key=Version)
    library = {"releases": releases}
    for kind in ("exports", "modules", "imports", "params"):
        holding: dict[str, list[int]] = {}
        for index, version in enumerate(releases):
            for fact in per_release[version][kind]:
                holding.setdefault(fact, []).append(index)
        grouped: dict[str, dict[str, list[str]]] = {}
        for fact, indices in sorted(holding.items()):
            group, member = _split(kind, fact)
            grouped.setdefault(group, {}).setdefault(spans(indices, releases), []).append(member)
        library[kind] = grouped
    return library


def _cached_versions(cache: Path, library: str) -> list[str]:
    return sorted((p.name.split("-")[1] for p in (cache / library).glob("*.whl")), key=Version)


def build(cache: Path, offline: bool) -> dict:
    history = {}
    for library in LIBRARIES:
        versions = registry_versions(library) if not offline else _cached_versions(cache, library)
        per_release = {}
        for version, facts in read_releases(cache, library, versions, download, offline, read_wheel):
            per_release[version] = facts
            print(f"{library} {version}: {sum(map(len, facts.values()))} facts", file=sys.stderr)
        history[library] = compact(per_release)
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wheels", type=Path, default=Path("/tmp/svd-learn-wheels"), help="the wheel cache (one folder per library)"
    )
    parser.add_argument("--offline", action="store_true", help="use only the wheels already in the cache")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where release_history.json goes")
    parser.add_argument("--messages-output", type=Path, default=MESSAGES_OUTPUT, help="where messages.json goes")
    parser.add_argument("--only", choices=("history", "messages"), help="build one of the two files")
    args = parser.parse_args()
    builds = {"history": (build, args.output), "messages": (build_messages, args.messages_output)}
    for name, (builder, output) in builds.items():
        if args.only in (None, name):
            built = builder(args.wheels, args.offline)
            output.write_text(json.dumps(built, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
