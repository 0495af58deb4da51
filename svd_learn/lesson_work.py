"""What each lesson asks of a free Colab T4 with the real weights: what it downloads, and the full-size work of
its GPU cells (data/lesson_work.toml).

Every lesson's setup cell prints `describe(lesson)`, so a learner knows before running anything how much the
lesson downloads and about how long its GPU cells take on a T4 (svd_learn.t4's estimate, one line per group of
cells). The declaration is data, checked two ways by tests/test_lesson_work.py: its UNet steps against the
steps the Colab rehearsal counted (benchmarks/results/colab-rehearsal.json), and its total against the rule
that no lesson asks a T4 for more than 10 minutes of generation.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from svd_learn import t4
from svd_learn.language import Localized, joined, localized

SESSION_MINUTES = 10  # no lesson asks a T4 for more generation than this (issue 21: a learner's session)


@dataclass(frozen=True)
class Run:
    """A group of cells that run the full-size model: `steps` UNet calls on `frames` frames, then `decoded_frames`
    frames decoded (in all), at height x width; guidance off halves the UNet's batch."""

    cells: str  # where, in the lesson's own words ("section 7: three videos of 10 steps")
    steps: int
    frames: int
    decoded_frames: int
    height: int = 576
    width: int = 1024
    guidance: bool = True

    def seconds(self) -> float:
        """The T4 estimate of svd_learn.t4 for this work."""
        return t4.estimate_seconds(self.steps, self.frames, self.decoded_frames, self.height, self.width, self.guidance)

    def describe(self) -> Localized:
        return joined([self.cells, t4.describe_seconds(self.seconds())], ": ")


@dataclass(frozen=True)
class LessonWork:
    lesson: str  # the lesson's file name without .py, e.g. "02_svd_parameters"
    download_gib: float  # weights downloaded from the Hub on Colab (0: none)
    download: str  # what they are
    runs: tuple[Run, ...]

    @property
    def unet_steps(self) -> int:
        """Full-size UNet calls, as the Colab rehearsal counts them (full_size_unet_steps)."""
        return sum(run.steps for run in self.runs)

    def seconds(self) -> float:
        return sum(run.seconds() for run in self.runs)


def read() -> dict[str, LessonWork]:
    """Every lesson's declared work, by lesson name."""
    text = resources.files("svd_learn").joinpath("data/lesson_work.toml").read_text(encoding="utf-8")
    return {
        name: LessonWork(
            lesson=name,
            download_gib=entry.get("download_gib", 0.0),
            download=localized(entry, "download", ""),
            runs=tuple(_run(run) for run in entry.get("runs", [])),
        )
        for name, entry in tomllib.loads(text)["lessons"].items()
    }


def _run(entry: dict) -> Run:
    """One run of lesson_work.toml; its cells named in the learner's language (cells_es)."""
    return Run(
        **{key: value for key, value in entry.items() if key != "cells_es"} | {"cells": localized(entry, "cells")}
    )


def get(lesson: str) -> LessonWork:
    """The declared work of `lesson` (its file name without .py), or a ValueError naming the known lessons."""
    work = read()
    if lesson not in work:
        raise ValueError(
            Localized(
                "No lesson {lesson!r} in data/lesson_work.toml. Lessons: {lessons}.",
                lesson=lesson,
                lessons=", ".join(work),
            )
        )
    return work[lesson]


def describe(lesson: str) -> str:
    """The lines a lesson's setup cell prints: its download, each group of GPU cells with its T4 time, the total."""
    work = get(lesson)
    if work.download_gib:
        lines = [
            Localized(
                "On a Colab T4 this lesson downloads {weights} ({gib:g} GiB), unless the Hub cache already has them "
                "(the Drive cell below keeps them between sessions).",
                weights=work.download,
                gib=work.download_gib,
            )
        ]
    else:
        lines = [Localized("This lesson downloads no model weights from the Hub.")]
    if not work.runs:
        return "\n".join(map(str, [*lines, Localized("It runs no full-size model: it needs no GPU.")]))
    lines.append(
        Localized(
            "Its GPU cells, with the real weights, on a T4 (a model checked against public T4 runs, not a measurement):"
        )
    )
    lines += [f"- {run.describe()}" for run in work.runs]
    if len(work.runs) > 1:
        lines.append(Localized("In all: {time} of generation.", time=t4.describe_seconds(work.seconds())))
    return "\n".join(map(str, lines))
