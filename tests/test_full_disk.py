"""A full disk, for real: a real encoder (ffmpeg) and real writes, failing because the kernel says no more.

Two ways to run out of space, each enforced by the kernel:
- a small tmpfs, filled until `ROOM` bytes are left (needs root, and a kernel that lets this process mount:
  CI and the course's machines run as root; elsewhere these cases run with the file size limit instead);
- RLIMIT_FSIZE, a per-process limit on the size of any file it writes (anyone, anywhere). SIGXFSZ is ignored,
  so that Python's writes fail with EFBIG instead of killing the process; ffmpeg, started with the default
  signal handling restored, is stopped by the signal: another real way for an encoder to die.

Every case checks the promise: a failure is one line (no traceback, no ffmpeg noise), the exit status is not 0,
an old file is byte for byte as it was, a new target is absent, and no temporary (`.partial`) is left behind.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from svd_learn import generate, models, video

ROOM = 8192  # bytes a new file may take: more than the writers' "at least" estimates, less than what they write
# ffmpeg 9 (imageio-ffmpeg 0.6 and later) exits 1 when a tmpfs fills under it; ffmpeg 4.2.2 (imageio-ffmpeg 0.5.0, CI's
# oldest-supported stage) exits 0 with a broken file. The writer catches both: by the encoder's exit status, or by
# reading the new file back. A file size limit (SIGXFSZ) stops either ffmpeg.
FFMPEG_REPORTS_A_FULL_DISK = not imageio_ffmpeg.get_ffmpeg_version().startswith("4.")


def how_a_full_disk_is_caught(kind: str) -> str:
    """The words of the one-line error that say how the writer knew the new file was incomplete."""
    if kind == "tmpfs" and not FFMPEG_REPORTS_A_FULL_DISK:
        return "the file written cannot be read back"
    return "the encoder failed (ffmpeg"


FAST = ["--frames", "3", "--steps", "1"]  # tiny weights: a 13 KB mp4 (the JPEG bound of its first frame: 3 KB)
# Runs a command with the file size limit (argv[1] bytes) and SIGXFSZ ignored; both survive exec.
LIMITED = (
    "import os, resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2); os.execv(sys.argv[2], sys.argv[2:])"
)


def tmpfs_mounts(folder: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True)
    return mounted.returncode == 0


class FullPlace:
    """A folder where a new file gets `ROOM` bytes and no more: a tmpfs filled up to that, or a file size limit.
    Put the old files there first, then `fill()`; run in-process writes under `limit()`, commands via `command`."""

    def __init__(self, kind: str, folder: Path):
        self.kind, self.folder = kind, folder

    def fill(self, room: int = ROOM) -> None:
        if self.kind == "tmpfs":
            (self.folder / "filler").write_bytes(b"\0" * (video.free_bytes(self.folder) - room))
            assert video.free_bytes(self.folder) == room

    def limit(self):
        return file_size_limit(ROOM) if self.kind == "rlimit" else nullcontext()

    def command(self, *arguments, room: int = ROOM) -> list[str]:
        """The CLI with these arguments; under a file size limit of `room` where the place is a limit, not a disk."""
        command = [sys.executable, "-m", "svd_learn.cli", *map(str, arguments)]
        return [sys.executable, "-c", LIMITED, str(room), *command] if self.kind == "rlimit" else command

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.folder.rglob("*") if ".partial" in p.name or p.name.endswith(".check"))


@contextmanager
def file_size_limit(size: int):
    """This process (and the processes it starts) may write no file beyond `size` bytes, until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


@contextmanager
def full_place(tmp_path: Path, kind: str):
    """A FullPlace of this kind; a tmpfs only where one can be mounted (as root), else a file size limit."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = kind == "tmpfs" and tmpfs_mounts(folder)
    try:
        yield FullPlace("tmpfs" if mounted else "rlimit", folder)
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture(params=["tmpfs", "rlimit"])
def place(request, tmp_path):
    """Each case twice: on a full tmpfs (where one can be mounted) and under a file size limit."""
    with full_place(tmp_path, request.param) as place:
        if place.kind != request.param:
            pytest.skip("mounting a tmpfs needs root: the rlimit case covers this")
        yield place


@pytest.fixture
def tmpfs_or_rlimit(tmp_path):
    with full_place(tmp_path, "tmpfs") as place:
        yield place


@pytest.fixture
def full_tmpfs(tmp_path):
    """Only a full file system shows in its free space (a file size limit does not)."""
    with full_place(tmp_path, "tmpfs") as place:
        if place.kind != "tmpfs":
            pytest.skip("mounting a tmpfs needs root")
        yield place


def noise(count=4, size=64):
    """Frames an encoder cannot shrink much: 4 of them make a 14 KB mp4."""
    rng = np.random.default_rng(0)
    return [(rng.random((size, size, 3)) * 255).astype(np.uint8) for _ in range(count)]


def good_video(path: Path) -> bytes:
    video.write_mp4(noise(2, 32), path, fps=7)
    return path.read_bytes()


def assert_one_line_failure(error: video.OutputError, *phrases):
    message = str(error)
    assert "\n" not in message and "free in" in message, message  # what failed, and how much space was free
    for phrase in phrases:
        assert phrase in message, message


# ----------------------------------------------------------------------------------------------------
# The writers, in this process: the encoder and the writes really fail; the old file stays.


def test_a_video_that_does_not_fit_leaves_the_old_one(place):
    target = place.folder / "clip.mp4"
    old = good_video(target)
    place.fill()
    with place.limit(), pytest.raises(video.OutputError) as raised:
        video.write_mp4(noise(), target, fps=7, force=True)
    caught = how_a_full_disk_is_caught(place.kind)
    said = {"tmpfs": "No space left on device", "rlimit": "SIGXFSZ"}[place.kind]  # ffmpeg's reason, when it gives one
    expected = [caught, said] if caught.startswith("the encoder failed") else [caught]
    assert_one_line_failure(raised.value, *expected, "the old file is untouched")
    assert target.read_bytes() == old
    assert place.leftovers() == []


def report(**changes) -> generate.RunReport:
    """A run report like `svd-learn generate`'s; `changes` replace its fields."""
    fields = dict(
        output="clip.mp4",
        image="rocket.jpg",
        model="tiny",
        source="tiny",
        source_reason="the test's",
        checkpoint="svd-xt",
        random_weights=True,
        parameters={"num_frames": 3, "num_inference_steps": 1, "seed": 0},
        warnings=[],
        device="cpu",
        plan="cpu",
        plan_reason="no GPU",
        predicted_peak_gib=None,
        budget_gib=None,
        emulate_t4=False,
        environment={"torch": "2.13.0"},
    )
    return generate.RunReport(**{**fields, **changes})


def test_a_gif_and_a_report_that_do_not_fit_leave_the_old_ones(place):
    gif, saved = place.folder / "clip.gif", place.folder / "clip.json"
    video.write_gif(noise(1), gif, fps=7)
    report().save(saved)
    old_gif, old_report = gif.read_bytes(), saved.read_bytes()
    place.fill()
    long = report(warnings=[f"warning {n}: a long run has many things to say" for n in range(300)])  # 15 KB
    with place.limit():
        with pytest.raises(video.OutputError) as raised:
            video.write_gif(noise(6), gif, fps=7, force=True)
        assert_one_line_failure(raised.value, "writing failed", "the old file is untouched")
        with pytest.raises(video.OutputError) as raised:
            long.save(saved)
        assert_one_line_failure(raised.value, "writing failed", "the old file is untouched")
    assert gif.read_bytes() == old_gif and saved.read_bytes() == old_report
    assert place.leftovers() == []


def test_no_room_at_all_is_refused_before_encoding(full_tmpfs, monkeypatch):
    place = full_tmpfs
    place.fill(room=0)
    monkeypatch.setattr(video, "encode_h264", lambda *a: pytest.fail("encoded although nothing could fit"))
    with pytest.raises(video.OutputError) as raised:
        video.write_mp4(noise(), place.folder / "new.mp4", fps=7)
    assert_one_line_failure(raised.value, "no room for a video of 4 frames", "0 bytes free", "nothing was written")
    assert place.leftovers() == [] and not (place.folder / "new.mp4").exists()


def test_a_full_disk_is_refused_before_generating(full_tmpfs):
    place = full_tmpfs
    place.fill(room=0)
    with pytest.raises(video.OutputError, match=r"the disk is full \(0 bytes free in .*disk\)\. Free some space"):
        video.check_output(place.folder / "new" / "v.mp4", force=False, suffix=".mp4")
    assert place.leftovers() == []


def test_a_file_system_that_reports_no_size_is_not_called_full():
    # /proc reports 0 blocks in all, as FUSE file systems without statfs do (0 free, too): unknown, not full.
    assert video.free_bytes(Path("/proc")) is None
    assert video.readable_size(None) == "unknown space"


# ----------------------------------------------------------------------------------------------------
# The commands, as a user runs them: the real CLI in a process of its own, on tiny weights (conftest sets
# SVD_LEARN_SOURCE=tiny; the process gets this one's environment).


@pytest.fixture
def tiny_weights():
    """Built before the limit: a process that may write no file beyond ROOM bytes could not build them."""
    return models.tiny_pipeline_folder()


def run(place: FullPlace, *arguments, room: int = ROOM) -> subprocess.CompletedProcess:
    return subprocess.run(place.command(*arguments, room=room), capture_output=True, text=True, timeout=300)


def the_error_line(done: subprocess.CompletedProcess) -> str:
    """Exit status 1, no traceback, no ffmpeg noise, and exactly one line that says what failed."""
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "[out#" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


@pytest.mark.slow  # launches the CLI
def test_generate_force_over_a_good_video_on_a_full_disk_keeps_it_and_its_report(tmpfs_or_rlimit, tiny_weights):
    place = tmpfs_or_rlimit
    target, saved = place.folder / "v.mp4", place.folder / "v.json"
    old_video = good_video(target)
    old_report = report().save(saved).read_bytes()
    place.fill()
    line = the_error_line(run(place, "generate", models.SAMPLE_IMAGE, "-o", target, *FAST, "--force"))
    assert how_a_full_disk_is_caught(place.kind) in line and "free in" in line and "the old file is untouched" in line
    assert target.read_bytes() == old_video and saved.read_bytes() == old_report
    assert place.leftovers() == []


@pytest.mark.slow  # launches the CLI
def test_generate_on_a_full_disk_leaves_nothing_at_the_target(tmp_path, tiny_weights):
    with full_place(tmp_path, "rlimit") as place:  # the other kind: the force case runs on a tmpfs where it can
        target = place.folder / "new folder" / "v.mp4"
        line = the_error_line(run(place, "generate", models.SAMPLE_IMAGE, "-o", target, *FAST))
    assert "the encoder failed (ffmpeg was stopped by SIGXFSZ" in line and "nothing was written" in line
    assert list(place.folder.iterdir()) == []  # no video, no report, no temporary, not even the folder made for them


@pytest.mark.slow  # launches the CLI
def test_batch_on_a_full_disk_fails_each_job_in_one_line_and_leaves_no_video(tmpfs_or_rlimit, tiny_weights, tmp_path):
    place = tmpfs_or_rlimit
    images = tmp_path / "in"
    images.mkdir()
    for name in ("a", "b"):
        (images / f"{name}.jpg").write_bytes(models.SAMPLE_IMAGE.read_bytes())
    out = place.folder / "out"
    place.fill()
    done = run(place, "batch", images, "-o", out, *FAST)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output and "[out#" not in output, output
    for name in ("a", "b"):
        failed = f"{name}: FAILED: Could not write {out / name}.mp4: {how_a_full_disk_is_caught(place.kind)}"
        assert output.count(failed) == 1, output
    summary = json.loads((out / "batch_summary.json").read_text())  # small enough to fit
    assert [job["name"] for job in summary["failed"]] == ["a", "b"] and summary["done"] == []
    assert "free in" in summary["failed"][0]["error"]
    assert sorted(p.name for p in out.iterdir()) == ["batch_summary.json"]  # no video, report or temporary


VIDEO_BUT_NOT_GIF = (
    5 * 4096
)  # bytes (whole pages: a tmpfs counts pages): the tiny FAST video (13 KB) fits, its GIF (36 KB) not


@pytest.mark.slow  # launches the CLI
def test_generate_force_gif_replaces_the_video_gif_and_report_together_or_not_at_all(place, tiny_weights):
    """Room for the new video but not its GIF: before, the new video landed beside the old GIF and the old report
    (which described another video). Now all three are written and read back first, then replaced together."""
    target = place.folder / "v.mp4"
    gif, saved = target.with_suffix(".gif"), target.with_suffix(".json")
    old = {target: good_video(target), gif: video.write_gif(noise(1, 32), gif, fps=7).read_bytes()}
    old[saved] = report().save(saved).read_bytes()
    place.fill(room=VIDEO_BUT_NOT_GIF)
    command = ("generate", models.SAMPLE_IMAGE, "-o", target, *FAST, "--force", "--gif")
    line = the_error_line(run(place, *command, room=VIDEO_BUT_NOT_GIF))
    assert {path: path.read_bytes() for path in old} == old, "a file was replaced without the others"
    assert f"Could not write {gif}" in line and "the old files are untouched" in line, line
    assert sorted(p.name for p in place.folder.iterdir() if p.name != "filler") == ["v.gif", "v.json", "v.mp4"]
