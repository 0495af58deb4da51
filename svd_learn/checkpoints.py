"""The three Stable Video Diffusion checkpoints (data/checkpoints.toml) and the course's data folder.

Kept apart from models.py, which imports torch and diffusers (seconds), so that what only needs the table
(checking parameters, planning memory, the command line) can answer before those are imported.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from svd_learn.language import Localized, localized

DATA = resources.files("svd_learn") / "data"
DEFAULT_CHECKPOINT = "svd-xt"


@dataclass(frozen=True)
class Checkpoint:
    """One SVD checkpoint on the Hub, as its model card describes it."""

    name: str
    repo_id: str
    num_frames: int
    height: int
    width: int
    gated: bool
    note: str


def _read_checkpoints() -> tuple[dict[str, Checkpoint], tuple[int, int], dict]:
    table = tomllib.loads((DATA / "checkpoints.toml").read_text())
    tiny, on_cpu = table.pop("tiny"), table.pop("full_size_on_cpu")
    checkpoints = {name: _checkpoint(name, spec) for name, spec in table.items()}
    return checkpoints, (tiny["height"], tiny["width"]), on_cpu


def _checkpoint(name: str, spec: dict) -> Checkpoint:
    """One table of checkpoints.toml; its note shown in the learner's language (note_es)."""
    fields = {key: value for key, value in spec.items() if key not in ("note", "note_es")}
    return Checkpoint(name=name, note=localized(spec, "note"), **fields)


# The checkpoints; the tiny weights' size; what full-size weights cost without a GPU (RAM, disk, an assumed rate).
CHECKPOINTS, TINY_SIZE, FULL_SIZE_ON_CPU = _read_checkpoints()


def get_checkpoint(name: str) -> Checkpoint:
    """The checkpoint called `name` (svd, svd-xt, svd-xt-1-1), or a clear error listing the names."""
    try:
        return CHECKPOINTS[name]
    except KeyError:
        raise ValueError(
            Localized(
                "Unknown checkpoint {name!r}. Known checkpoints: {known}.", name=name, known=", ".join(CHECKPOINTS)
            )
        ) from None


def checkpoint_for_repo(repo_id: str) -> Checkpoint | None:
    """The checkpoint whose Hub repo is `repo_id`, or None for any other repo or folder."""
    return next((c for c in CHECKPOINTS.values() if c.repo_id == repo_id), None)
