"""Lesson 5: writing the frames SVD returns as a video that plays everywhere, without ever losing a file.

A browser plays an mp4 only if it is H.264 with 4:2:0 chroma (`yuv420p`), and 4:2:0 needs even width and
height. imageio's ffmpeg writer would otherwise round the size up to a multiple of 16 by resizing (with a
warning): SVD's 1024x576 is fine, other sizes are not, so this module asks for exactly the size it gets.

Every file is written beside its target under a temporary name and renamed into place at the end
(`os.replace` is atomic on one file system): an interrupted run leaves the old file, or nothing, at the
target, never half a video. An existing target is replaced only when the caller says so.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from svd_learn.errors import UserError

# Constant-quality H.264 (crf 18 is visually lossless for most content); `+faststart` puts the index at the
# start of the file so a browser can start playing before it has the whole file.
FFMPEG_PARAMS = ["-crf", "18", "-movflags", "+faststart"]


class OutputError(UserError, ValueError):
    """An output path that cannot be written as asked (exists, wrong suffix, not writable)."""


def check_output(path: str | Path, *, force: bool, suffix: str) -> Path:
    """Refuse early (before minutes of generation) an output that exists or cannot be written.

    Nothing is created: a missing folder is made when the file is written (`atomic_path`), so a run that
    fails leaves no new folder behind. `force` allows replacing an existing file, never a folder.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() != suffix:
        raise OutputError(f"{path} must end with {suffix}.")
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name ending with {suffix}.")
    if path.exists() and not force:
        raise OutputError(f"{path} exists; pass --force to replace it (the old file is untouched).")
    existing = path.parent
    while not existing.exists():  # the nearest folder that exists: the missing ones will be made inside it
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"Cannot create the folder {path.parent}: {existing} is a file, not a folder.")
    try:  # the only reliable test (as root, os.access says yes to everything): create a file there
        with tempfile.NamedTemporaryFile(dir=existing, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as error:
        raise OutputError(
            f"Cannot write to the folder {existing}: creating a file there failed ({error.strerror or error}). "
            "Choose another folder for the output."
        ) from None
    return path


@contextmanager
def atomic_path(path: str | Path, *, force: bool):
    """Yield a temporary path beside `path`; on success rename it to `path`, on any failure delete it.

    The temporary name keeps the suffix, so writers that choose the format by extension still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # made now, when there is something to write
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{path.suffix}")
    os.close(handle)
    temporary = Path(temporary)
    temporary.chmod(0o666 & ~_umask())  # mkstemp makes owner-only files; a video should get the usual permissions
    try:
        yield temporary
        if path.exists() and not force:  # appeared while we worked: still never overwrite without --force
            raise OutputError(f"{path} appeared while generating; pass --force to replace it.")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # after a successful rename there is nothing left to delete


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def write_mp4(frames, path: str | Path, fps: float, *, force: bool = False) -> Path:
    """Write frames as an H.264 yuv420p mp4 at `fps` frames a second, atomically."""
    import imageio

    path = Path(path)
    arrays = [even_size(a) for a in to_uint8_frames(frames)]
    with atomic_path(path, force=force) as temporary:
        writer = imageio.get_writer(
            temporary,
            format="FFMPEG",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,  # we made the size even ourselves: no resizing by imageio
            ffmpeg_params=FFMPEG_PARAMS,
            ffmpeg_log_level="error",
        )
        try:
            for array in arrays:
                writer.append_data(array)
        except OSError as error:  # ffmpeg died: disk full, or the folder vanished
            raise OutputError(f"Could not write {path}: {error}.") from None
        finally:
            writer.close()
    return path


def write_gif(frames, path: str | Path, fps: float, *, force: bool = False) -> Path:
    """Write frames as a looping GIF (256 colours a frame: for sharing, not for quality), atomically."""
    path = Path(path)
    images = [Image.fromarray(a) for a in to_uint8_frames(frames)]
    with atomic_path(path, force=force) as temporary:
        images[0].save(
            temporary, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
        )
    return path


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
