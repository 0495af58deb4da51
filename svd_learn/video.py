"""Lesson 5: writing the frames SVD returns as a video that plays everywhere, without ever losing a file.

A browser plays an mp4 only if it is H.264 with 4:2:0 chroma (`yuv420p`), and 4:2:0 needs even width and
height, so frames are cropped to an even size (never resized) and handed to ffmpeg exactly as they are.

Every file is written beside its target under a temporary name, checked, and only then renamed into place
(`os.replace` is atomic on one file system): a failed or interrupted write leaves the old file, byte for byte,
or nothing at the target, never half a video, and no temporary. Checked means: the encoder's exit status
(ffmpeg finishing an mp4 on a full disk prints an error but its caller must look), and the new file read back,
its frames counted (a JSON file's text compared). Files that belong together (a video, its GIF and its report)
are replaced together (`replaced_together`): all written and checked first, then renamed one after another, and
if a rename fails the ones already renamed get their old files back, so a report never sits beside a video it
does not describe. A full disk is met in four places, each with one line that says what failed and how much
space is free: before generating (`check_output`: a disk already full); before writing, when even the smallest
file the frames can make would not fit; while writing; when the file read back is not complete. An existing
target is replaced only when the caller says so.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from svd_learn.errors import UserError
from svd_learn.language import Localized

# Constant-quality H.264 (crf 18 is visually lossless for most content); `+faststart` puts the index at the
# start of the file so a browser can start playing before it has the whole file.
FFMPEG_PARAMS = ["-crf", "18", "-movflags", "+faststart"]

# A smoother video (generate --smooth FPS, the app's option): ffmpeg's motion-compensated frame interpolation,
# minterpolate, which imageio-ffmpeg's ffmpeg has (no new dependency). mci: motion-compensated interpolation;
# aobmc: overlapped blocks, adaptive; bidir: motion searched forwards and backwards; vsbmc: variable-size blocks.
# The last frame is held (tpad clones it) so the new video lasts as long as the original, whose last frame also
# shows for 1/fps s: 25 frames at 7 fps (3.57 s) become 86 at 24 fps (3.58 s). Measured on 2 CPU cores: 12 s for
# 86 frames of 1024x576.
SMOOTH_FILTER = "tpad=stop_mode=clone:stop=3,minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
SMOOTH_MAX_FPS = 60  # above it minterpolate takes minutes a video and a browser shows no difference

# Free bytes below which a folder counts as full: less than one block of the usual file systems, so not even
# the smallest report fits. (How much a video needs is known only once its frames are there: write_mp4.)
FULL_BELOW = 4096


class OutputError(UserError, ValueError):
    """An output that cannot be written as asked (exists, wrong suffix, not writable, no space); one line to show."""


def check_output(path: str | Path, *, force: bool, suffix: str) -> Path:
    """Refuse early (before minutes of generation) an output that exists or cannot be written (a full disk too).

    Nothing is created: a missing folder is made when the file is written (`replaced_together`), so a run that
    fails leaves no new folder behind. `force` allows replacing an existing file, never a folder.
    """
    named_a_folder = str(path).endswith(("/", os.sep))  # "clips/" names a folder, even one that does not exist yet
    path = Path(path).expanduser()
    if named_a_folder or path.is_dir():
        raise OutputError(
            Localized(
                "{path} is a folder; give a file name ending with {suffix}, such as {example}.",
                path=path,
                suffix=suffix,
                example=(path / "video").with_suffix(suffix),
            )
        )
    if path.suffix.lower() != suffix:
        raise OutputError(Localized("{path} must end with {suffix}.", path=path, suffix=suffix))
    if path.exists() and not force:
        raise OutputError(
            Localized("{path} exists; pass --force to replace it (the old file is untouched).", path=path)
        )
    existing = nearest_folder(path)
    if not existing.is_dir():
        raise OutputError(
            Localized(
                "Cannot create the folder {folder}: {existing} is a file, not a folder.",
                folder=path.parent,
                existing=existing,
            )
        )
    check_writable(existing, path)
    return path


def check_output_folder(folder: str | Path) -> Path:
    """Refuse early a folder of outputs (`svd-learn batch -o`) that cannot be made or written to: a file, a file
    above it, a folder this process may not write to, a full disk. Nothing is created."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(
            Localized(
                "{folder} is a file, not a folder: give a folder for the outputs (it is made if missing).",
                folder=folder,
            )
        )
    existing = folder if folder.is_dir() else nearest_folder(folder / "video.mp4")
    if not existing.is_dir():
        raise OutputError(
            Localized(
                "Cannot create the folder {folder}: {existing} is a file, not a folder.",
                folder=folder,
                existing=existing,
            )
        )
    check_writable(existing, folder)
    return folder


def check_writable(existing: Path, target: Path) -> None:
    """Refuse `target` if nothing can be written in `existing`, the nearest folder of it that exists: creating a
    file there fails, or its disk is full."""
    try:  # the only reliable test (as root, os.access says yes to everything): create a file there
        with tempfile.NamedTemporaryFile(dir=existing, prefix=f".{target.name}.", suffix=".check"):
            pass
    except OSError as error:
        raise OutputError(
            Localized(
                "Cannot write to the folder {folder}: creating a file there failed ({reason}). Choose another folder "
                "for the output.",
                folder=existing,
                reason=error.strerror or error,
            )
        ) from None
    free = free_bytes(existing)
    if free is not None and free < FULL_BELOW:  # said now, not after minutes of generation
        raise OutputError(
            Localized(
                "Cannot write {target}: the disk is full ({free} free in {folder}). Free some space or choose another "
                "folder for the output.",
                target=target,
                free=readable_size(free),
                folder=existing,
            )
        )


def nearest_folder(path: Path) -> Path:
    """The nearest folder above `path` that exists (the missing ones would be made inside it)."""
    missing = missing_folders(path)
    return missing[-1].parent if missing else path.parent


# ----------------------------------------------------------------------------------------------------
# Free space, and failures that say how much there was.


def free_bytes(folder: Path) -> int | None:
    """Bytes this process may still write in the file system of `folder` (root may use the blocks kept for it);
    None where the file system does not say (it reports no size at all, as FUSE file systems without statfs do)."""
    if not hasattr(os, "statvfs"):
        return shutil.disk_usage(folder).free
    stats = os.statvfs(folder)
    if stats.f_blocks == 0:
        return None
    return (stats.f_bfree if os.geteuid() == 0 else stats.f_bavail) * stats.f_frsize


def readable_size(count: int | None) -> str:
    if count is None:
        return Localized("unknown space")
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return Localized("{count} bytes", count=count)


def write_failed(path: Path, cause: str, targets: list[Path] | None = None) -> OutputError:
    """One line: what failed, the free space where it was written, and what is at the targets now (`targets`:
    every file replaced together with `path`; the old ones are untouched)."""
    folder = nearest_folder(path)
    kept = [target for target in targets or [path] if target.exists()]
    if not kept:
        state = Localized("nothing was written")
    else:
        state = Localized("the old file is untouched") if len(kept) == 1 else Localized("the old files are untouched")
    return OutputError(
        Localized(
            "Could not write {path}: {cause}; {free} free in {folder}, {state}. Free some space or write elsewhere.",
            path=path,
            cause=cause,
            free=readable_size(free_bytes(folder)),
            folder=folder,
            state=state,
        )
    )


class IncompleteFile(Exception):
    """Raised by a writer whose new file is not complete: the encoder failed, or what was read back differs from
    what was written. The message is the cause, for `write_failed`."""


# ----------------------------------------------------------------------------------------------------
# Replacing files: written beside their targets, checked, then renamed together.


class FileGroup:
    """Files written under temporary names beside their targets, then renamed into place together (see
    `replaced_together`, which makes one and commits it)."""

    def __init__(self, force: bool):
        self.force = force
        self.staged: list[tuple[Path, Path]] = []  # (temporary, target), in the order they were written
        self.made: set[Path] = set()  # the folders made for them

    @contextmanager
    def new(self, path: str | Path, at_least: int = 0, what: str = "") -> Iterator[Path]:
        """Yield a temporary path beside `path` for the block to write and check (raising IncompleteFile if the
        file is not complete). A file that cannot fit (`at_least` bytes, a lower bound of its size, more than
        is free) is refused before it is written. Any failure ends the whole group: every temporary deleted,
        every target as it was, and one OutputError that says what failed and how much space is free. The
        temporary name keeps the suffix, so writers that choose the format by extension still work."""
        path = Path(path)
        free = free_bytes(nearest_folder(path))
        if free is not None and free < at_least:
            targets = self.targets(path)
            self.discard()
            room = Localized("no room for {what} (at least {size})", what=what, size=readable_size(at_least))
            raise write_failed(path, room, targets)
        try:
            self.made.update(missing_folders(path))
            path.parent.mkdir(parents=True, exist_ok=True)  # made now, when there is something to write
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{path.suffix}")
            os.close(handle)
            temporary = Path(name)
            self.staged.append((temporary, path))
            temporary.chmod(0o666 & ~_umask())  # mkstemp makes owner-only files; a video should get the usual ones
            yield temporary
            with open(temporary, "rb+") as written:  # on the disk before it replaces anything
                os.fsync(written.fileno())  # (after a crash, the target holds the old file or the new one)
        except (OSError, IncompleteFile) as error:
            targets = self.targets(path)
            self.discard()  # first, so that the free space said is what the user has
            cause = (
                error.args[0]
                if isinstance(error, IncompleteFile)
                else Localized("writing failed ({reason})", reason=error.strerror or error)
            )
            raise write_failed(path, cause, targets) from None

    def targets(self, *more: Path) -> list[Path]:
        return list(dict.fromkeys([target for _, target in self.staged] + list(more)))

    def commit(self) -> None:
        """Rename every temporary to its target, in the order they were written. If one rename fails, the
        targets already replaced get their old files back (or are removed, where there was none)."""
        for _, target in self.staged:
            if target.exists() and not self.force:  # appeared while we worked: still never overwrite without --force
                raise OutputError(
                    Localized("{target} appeared while generating; pass --force to replace it.", target=target)
                )
        replaced: list[tuple[Path, Path | None]] = []  # (target, where its old file waits), to put back
        target = None
        try:
            for temporary, target in self.staged:
                replaced.append((target, set_aside(target)))
                os.replace(temporary, target)
        except BaseException as error:  # an interrupt too: all or nothing
            put_back(replaced)
            if isinstance(error, OSError):
                failed = Localized("replacing it failed ({reason})", reason=error.strerror or error)
                raise write_failed(target, failed, self.targets()) from None
            raise
        for _, old in replaced:
            if old is not None:
                old.unlink(missing_ok=True)
        self.staged, self.made = [], set()  # committed: nothing to clean up

    def discard(self) -> None:
        """Delete the temporaries, then the folders made for them that are still empty (deepest first)."""
        for temporary, _ in self.staged:
            temporary.unlink(missing_ok=True)
        remove_empty_folders(self.made)
        self.staged, self.made = [], set()


@contextmanager
def replaced_together(*, force: bool) -> Iterator[FileGroup]:
    """A FileGroup: write each file in a `group.new(target)` block; when this block ends without an error, every
    file is renamed into place (`FileGroup.commit`); on any failure or interrupt, nothing is: no temporary, no
    new folder, every target as it was. `force`: a target that exists may be replaced."""
    group = FileGroup(force)
    try:
        yield group
        group.commit()
    finally:
        group.discard()


@contextmanager
def atomic_path(path: str | Path, *, force: bool) -> Iterator[Path]:
    """One file replaced on its own: `replaced_together` with one `new(path)`."""
    with replaced_together(force=force) as group, group.new(path) as temporary:
        yield temporary


def set_aside(target: Path) -> Path | None:
    """Keep the old file of `target` under a hidden name beside it, to put back if the group fails (None: there
    is none). A hard link keeps the target in place meanwhile; where the file system has none (FAT, some network
    and FUSE file systems), the old file is renamed."""
    if not target.exists():
        return None
    old = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.old{target.suffix}")
    try:
        os.link(target, old)
    except OSError:
        os.replace(target, old)
    return old


def put_back(replaced: list[tuple[Path, Path | None]]) -> None:
    """Undo renames into place, last first: each target gets its old file back, or is removed if it had none."""
    for target, old in reversed(replaced):
        if old is not None:
            os.replace(old, target)
        else:
            target.unlink(missing_ok=True)


def remove_empty_folders(folders) -> None:
    """Remove the folders (made for files that are not there after all) that are still empty, deepest first."""
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:  # never made (mkdir failed below it), or something else was written there meanwhile
            continue


def missing_folders(path: Path) -> list[Path]:
    """The folders above `path` that do not exist yet, deepest first."""
    missing, folder = [], path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------------------------------
# The writers: each `save_*` writes one file into a group and checks it; each `write_*` is one file on its own.


def to_uint8_frames(frames) -> list[np.ndarray]:
    """Frames as (height, width, 3) uint8 arrays, from PIL images or float arrays in [0, 1]."""
    arrays = []
    for frame in frames:
        if isinstance(frame, Image.Image):
            array = np.asarray(frame.convert("RGB"))
        else:
            array = np.asarray(frame)
            if array.dtype != np.uint8:
                array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
        arrays.append(array)
    if not arrays:
        raise ValueError("There are no frames to write.")
    return arrays


def even_size(array: np.ndarray) -> np.ndarray:
    """Crop a frame to even height and width (yuv420p stores colour at half resolution in both directions)."""
    height, width = array.shape[:2]
    return array[: height - height % 2, : width - width % 2]


def save_mp4(group: FileGroup, frames, path: str | Path, fps: float) -> Path:
    """Write frames into the group as an H.264 yuv420p mp4 at `fps` frames a second, checked: ffmpeg exited with 0
    and the file read back has every frame. Returns the temporary (its size is the video's)."""
    arrays = [even_size(a) for a in to_uint8_frames(frames)]
    lower_bound = encoded_size(arrays[0], "JPEG")
    with group.new(path, lower_bound, Localized("a video of {frames} frames", frames=len(arrays))) as temporary:
        encode_h264(arrays, temporary, fps)
        check_frame_count(temporary, len(arrays), count_mp4_frames)
    return temporary


def write_mp4(frames, path: str | Path, fps: float, *, force: bool = False) -> Path:
    """`save_mp4` on its own: `path` is replaced only by a checked file."""
    with replaced_together(force=force) as group:
        save_mp4(group, frames, path, fps)
    return Path(path)


def check_smooth(smooth_fps: float, fps: float) -> None:
    """Refuse a smoothing that cannot add frames: `smooth_fps` must be above the video's fps, at most SMOOTH_MAX_FPS."""
    if not (math.isfinite(smooth_fps) and fps < smooth_fps <= SMOOTH_MAX_FPS):
        raise OutputError(
            Localized(
                "--smooth {smooth:g}: give a frame rate above the video's {fps:g} fps (frames are added between its "
                "frames) and at most {most}, e.g. --smooth 24.",
                smooth=smooth_fps,
                fps=fps,
                most=SMOOTH_MAX_FPS,
            )
        )


def smooth_frame_count(frames: int, fps: float, smooth_fps: float) -> int:
    """Frames of a video of `frames` frames at `fps` made smoother at `smooth_fps`, lasting as long (25 at 7 -> 86 at 24)."""
    return round(frames * smooth_fps / fps)


def save_smooth_mp4(group: FileGroup, frames, path: str | Path, fps: float, smooth_fps: float) -> dict:
    """Write the frames (a video at `fps`) into the group as a smoother H.264 mp4 at `smooth_fps`, the frames between
    them made by ffmpeg's motion interpolation (SMOOTH_FILTER), checked: ffmpeg exited with 0 and the file read back
    has every frame. Returns what the run report says of it."""
    check_smooth(smooth_fps, fps)
    arrays = [even_size(a) for a in to_uint8_frames(frames)]
    expected = smooth_frame_count(len(arrays), fps, smooth_fps)
    video_filter = SMOOTH_FILTER.format(fps=f"{smooth_fps:g}")
    with group.new(
        path, encoded_size(arrays[0], "JPEG"), Localized("a video of {frames} frames", frames=expected)
    ) as temporary:
        encode_h264(arrays, temporary, fps, video_filter=video_filter, frames=expected)
        check_frame_count(temporary, expected, count_mp4_frames)
    kept = sum(1 for index in range(expected) if Fraction(index * fps, smooth_fps).denominator == 1)
    return {
        "video": str(path),
        "fps": smooth_fps,
        "frames": expected,
        "interpolated": Localized(
            "{frames} frames at {smooth:g} fps from the model's {model_frames} at {fps:g} fps, lasting as long: "
            "{interpolated} interpolated by ffmpeg (motion-compensated: estimates between the model's frames, not made "
            "by SVD), {kept} the model's own; the original video is kept",
            frames=expected,
            smooth=smooth_fps,
            model_frames=len(arrays),
            fps=fps,
            interpolated=expected - kept,
            kept=kept,
        ),
        "ffmpeg_filter": video_filter,
    }


def write_smooth_mp4(frames, path: str | Path, fps: float, smooth_fps: float, *, force: bool = False) -> dict:
    """`save_smooth_mp4` on its own: `path` is replaced only by a checked file."""
    with replaced_together(force=force) as group:
        return save_smooth_mp4(group, frames, path, fps, smooth_fps)


def encoded_size(array: np.ndarray, format: str) -> int:
    """Bytes of one frame alone in `format`: a lower bound of a file that holds it (an mp4 at crf 18 measured
    at least twice its first frame as a JPEG at quality 75, whatever the content). Milliseconds, no disk."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format, quality=75)
    return buffer.tell()


def encode_h264(
    arrays: list[np.ndarray], path: Path, fps: float, *, video_filter: str | None = None, frames: int | None = None
) -> None:
    """Encode same-size RGB frames to `path` with ffmpeg (imageio-ffmpeg's binary), reading them from its
    standard input; through `video_filter` (ffmpeg's -vf) and stopping after `frames`, if given. Raises
    IncompleteFile when ffmpeg fails, with its own last words."""
    from imageio_ffmpeg import get_ffmpeg_exe

    height, width = arrays[0].shape[:2]
    if any(array.shape != arrays[0].shape for array in arrays):
        raise ValueError("Every frame must have the same size.")
    command = [
        *(get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error"),
        *("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"),
        *(("-vf", video_filter) if video_filter else ()),
        *(("-frames:v", str(frames)) if frames else ()),
        *("-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", *FFMPEG_PARAMS, str(path)),
    ]
    done = subprocess.run(command, input=b"".join(array.tobytes() for array in arrays), capture_output=True)
    if done.returncode != 0:
        raise IncompleteFile(
            Localized("the encoder failed ({reason})", reason=encoder_failure(done.returncode, done.stderr))
        )


def encoder_failure(returncode: int, stderr: bytes) -> str:
    """ffmpeg's reason in a few words: its last error line without the `[out#0/mp4 @ 0x...]` prefix, or the
    signal that stopped it (SIGXFSZ: a file size limit)."""
    lines = [re.sub(r"^\[[^]]*\]\s*", "", line).strip() for line in stderr.decode(errors="replace").splitlines()]
    said = [line for line in lines if line][-1:]
    if returncode < 0:
        return ": ".join([f"ffmpeg was stopped by {signal.Signals(-returncode).name}", *said])
    return "ffmpeg: " + (said[0] if said else f"exit status {returncode}")


def count_mp4_frames(path: Path) -> int:
    from imageio_ffmpeg import count_frames_and_secs

    return count_frames_and_secs(path)[0]


def count_gif_frames(path: Path) -> int:
    with Image.open(path) as gif:
        return gif.n_frames


def check_frame_count(path: Path, expected: int, count) -> None:
    """Read the new file back: it is complete only if it has every frame (`count(path)` decodes it)."""
    try:
        found = count(path)
    except Exception as error:  # noqa: BLE001 -- any reader's failure means the same: not a complete file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise IncompleteFile(Localized("the file written cannot be read back ({reason})", reason=reason)) from None
    if found != expected:
        raise IncompleteFile(
            Localized("the file written has {found} of its {expected} frames", found=found, expected=expected)
        )


def save_gif(group: FileGroup, frames, path: str | Path, fps: float) -> Path:
    """Write frames into the group as a looping GIF (256 colours a frame: for sharing, not for quality), read back
    with every frame. Returns the temporary."""
    arrays = to_uint8_frames(frames)
    images = [Image.fromarray(a) for a in arrays]
    lower_bound = encoded_size(arrays[0], "GIF")
    with group.new(path, lower_bound, Localized("a GIF of {frames} frames", frames=len(images))) as temporary:
        images[0].save(
            temporary, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
        )
        check_frame_count(temporary, len(images), count_gif_frames)
    return temporary


def write_gif(frames, path: str | Path, fps: float, *, force: bool = False) -> Path:
    """`save_gif` on its own: `path` is replaced only by a file read back with every frame."""
    with replaced_together(force=force) as group:
        save_gif(group, frames, path, fps)
    return Path(path)


def save_json(group: FileGroup, data: dict, path: str | Path) -> Path:
    """Write `data` into the group as indented JSON that reads back as exactly that text (which parses: it is
    json.dumps'). No space check first: trying costs no more than checking. Returns the temporary."""
    text = json.dumps(data, indent=2) + "\n"
    with group.new(path) as temporary:
        temporary.write_text(text)
        if temporary.read_text() != text:
            raise IncompleteFile("the file written does not read back as what was written")
    return temporary


def write_json(data: dict, path: str | Path, *, force: bool = True) -> Path:
    """`save_json` on its own: `path` is replaced only by a complete file."""
    with replaced_together(force=force) as group:
        save_json(group, data, path)
    return Path(path)


def read_video_info(path: str | Path) -> dict:
    """What a player will see in an mp4: codec, pixel format, size, fps and the number of frames (counted)."""
    import imageio

    reader = imageio.get_reader(Path(path), format="FFMPEG")
    try:
        meta = reader.get_meta_data()
        width, height = meta["size"]
        return {
            "codec": meta["codec"],
            "pix_fmt": meta["pix_fmt"].split("(")[0],  # "yuv420p(progressive)" -> "yuv420p"
            "width": width,
            "height": height,
            "fps": meta["fps"],
            "frames": reader.count_frames(),
        }
    finally:
        reader.close()


def read_frames(path: str | Path) -> list[np.ndarray]:
    """Every frame of a video file, decoded, as (height, width, 3) uint8 arrays."""
    import imageio

    reader = imageio.get_reader(Path(path), format="FFMPEG")
    try:
        return [np.asarray(frame) for frame in reader]
    finally:
        reader.close()


def frame_grid(frames, columns: int = 5, every: int = 1) -> Image.Image:
    """Every `every`-th frame, side by side in rows of `columns`: one picture of a whole video."""
    arrays = to_uint8_frames(frames)[::every]
    height, width = arrays[0].shape[:2]
    rows = -(-len(arrays) // columns)
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, array in enumerate(arrays):
        grid.paste(Image.fromarray(array), ((index % columns) * width, (index // columns) * height))
    return grid
