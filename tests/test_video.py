"""Writing videos: browser-playable mp4 (H.264, yuv420p, even size), GIF, atomic writes, output checks."""

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svd_learn import video


def frames(count=5, height=72, width=128):
    """Distinct frames (a moving bar), so the encoder cannot merge them."""
    result = []
    for i in range(count):
        array = np.zeros((height, width, 3), dtype=np.uint8)
        array[:, (i * 7) % width : (i * 7) % width + 8] = (255, 120, 0)
        result.append(Image.fromarray(array))
    return result


def test_mp4_plays_in_a_browser_with_the_requested_fps_and_frames(tmp_path):
    path = video.write_mp4(frames(9), tmp_path / "clip.mp4", fps=7)
    info = video.read_video_info(path)
    assert info == {"codec": "h264", "pix_fmt": "yuv420p", "width": 128, "height": 72, "fps": 7.0, "frames": 9}
    assert path.stat().st_mode & 0o777 == 0o666 & ~video._umask()  # the usual permissions, not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary left behind
    decoded = video.read_frames(path)
    assert len(decoded) == 9 and decoded[0].shape == (72, 128, 3)
    assert np.abs(decoded[3].astype(int) - np.asarray(frames(9)[3]).astype(int)).mean() < 8  # H.264 is lossy, not wrong


def test_odd_sizes_are_cropped_to_even_not_resized(tmp_path):
    odd = [np.full((33, 65, 3), 200, dtype=np.uint8)] * 3
    info = video.read_video_info(video.write_mp4(odd, tmp_path / "odd.mp4", fps=12))
    assert (info["width"], info["height"], info["fps"], info["frames"]) == (64, 32, 12.0, 3)


def test_float_frames_in_0_1_are_accepted(tmp_path):
    floats = [np.random.default_rng(i).random((32, 32, 3)) for i in range(4)]
    assert video.read_video_info(video.write_mp4(floats, tmp_path / "f.mp4", fps=5))["frames"] == 4


def test_gif_has_every_frame_and_the_frame_duration(tmp_path):
    path = video.write_gif(frames(6), tmp_path / "clip.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 6 and gif.info["duration"] == 100 and gif.info["loop"] == 0


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"old video")
    with pytest.raises(KeyboardInterrupt):
        with video.atomic_path(target, force=True) as temporary:
            temporary.write_bytes(b"half a vid")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old video"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_files_replaced_together_get_their_old_ones_back_when_a_rename_fails(tmp_path, monkeypatch):
    clip, report = tmp_path / "clip.mp4", tmp_path / "clip.json"
    clip.write_bytes(b"old video")  # the report is new: after the failure it must not exist
    real_replace = os.replace

    def replace(source, target):
        if Path(target) == report and ".partial" in Path(source).name:
            raise OSError(errno.EIO, "Input/output error")  # the second rename into place fails
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(video.OutputError) as raised:
        with video.replaced_together(force=True) as files:
            video.save_mp4(files, frames(2), clip, fps=7)
            video.save_json(files, {"frames": 2}, report)
    assert f"Could not write {report}: replacing it failed (Input/output error)" in str(raised.value)
    assert "the old file is untouched" in str(raised.value)
    assert clip.read_bytes() == b"old video" and not report.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary, no copy of the old file


def test_an_interrupt_between_files_replaced_together_replaces_none(tmp_path):
    clip = tmp_path / "new" / "clip.mp4"
    with pytest.raises(KeyboardInterrupt):
        with video.replaced_together(force=False) as files:
            video.save_mp4(files, frames(2), clip, fps=7)
            raise KeyboardInterrupt  # before the report was written
    assert list(tmp_path.iterdir()) == []  # not even the folder made for them


def test_an_output_named_as_a_folder_is_called_a_folder(tmp_path):
    for named in (f"{tmp_path / 'clips'}/", tmp_path):  # "clips/" names a folder even before it exists
        with pytest.raises(
            video.OutputError, match=r"is a folder; give a file name ending with \.mp4, such as .*video\.mp4"
        ):
            video.check_output(named, force=False, suffix=".mp4")


def test_existing_output_is_refused_without_force_and_kept(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"old video")
    with pytest.raises(video.OutputError, match="exists; pass --force"):
        video.check_output(target, force=False, suffix=".mp4")
    with pytest.raises(video.OutputError, match="pass --force"):
        video.write_mp4(frames(2), target, fps=7, force=False)
    assert target.read_bytes() == b"old video"
    video.write_mp4(frames(2), target, fps=7, force=True)
    assert video.read_video_info(target)["frames"] == 2


def test_output_checks(tmp_path):
    checked = video.check_output(tmp_path / "new" / "deeper" / "a.mp4", force=False, suffix=".mp4")
    assert not (tmp_path / "new").exists()  # checked, not created: a run that fails later leaves no folder
    video.write_mp4(frames(2), checked, fps=7, force=False)  # the folders are made when there is a file to write
    assert video.read_video_info(checked)["frames"] == 2
    with pytest.raises(video.OutputError, match="must end with .mp4"):
        video.check_output(tmp_path / "a.avi", force=False, suffix=".mp4")
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(video.OutputError, match="is a folder"):
        video.check_output(tmp_path / "folder.mp4", force=True, suffix=".mp4")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(video.OutputError, match="Cannot create the folder"):
        video.check_output(tmp_path / "file.txt" / "a.mp4", force=False, suffix=".mp4")


def test_frame_grid_lays_out_every_nth_frame():
    grid = video.frame_grid(frames(10, 8, 16), columns=3, every=2)  # frames 0, 2, 4, 6, 8: two rows of three
    assert grid.size == (3 * 16, 2 * 8)


def test_an_unwritable_existing_folder_says_what_failed():
    # /proc exists, but no file can be created in it: the message must not say the folder is missing.
    with pytest.raises(video.OutputError) as raised:
        video.check_output("/proc/x.mp4", force=False, suffix=".mp4")
    assert "Cannot write to the folder /proc: creating a file there failed" in str(raised.value)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_a_truncated_file_does_not_read_back_complete(tmp_path, suffix):
    write, count = (
        (video.write_mp4, video.count_mp4_frames) if suffix == ".mp4" else (video.write_gif, video.count_gif_frames)
    )
    path = write(frames(9), tmp_path / f"clip{suffix}", fps=7)
    video.check_frame_count(path, 9, count)  # complete
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(video.IncompleteFile, match="cannot be read back|has [0-8] of its 9 frames"):
        video.check_frame_count(path, 9, count)


def test_a_failing_encoder_says_why_in_a_few_words():
    stderr = b"[out#0/mp4 @ 0x5620bd904100] Error writing trailer: No space left on device\n"
    stderr += b"[out#0/mp4 @ 0x5620bd904100] Error closing file: No space left on device\n"
    assert video.encoder_failure(228, stderr) == "ffmpeg: Error closing file: No space left on device"
    assert video.encoder_failure(-25, b"") == "ffmpeg was stopped by SIGXFSZ"
    assert video.encoder_failure(1, b"") == "ffmpeg: exit status 1"


# ----------------------------------------------------------------------------------------------------
# A smoother copy (generate --smooth FPS): ffmpeg's motion interpolation, written like every other file.


def test_smooth_turns_25_frames_at_7_fps_into_86_at_24_lasting_as_long(tmp_path):
    said = video.write_smooth_mp4(frames(25), tmp_path / "clip-24fps.mp4", fps=7, smooth_fps=24)
    info = video.read_video_info(tmp_path / "clip-24fps.mp4")
    assert (info["fps"], info["frames"]) == (24.0, 86) and abs(86 / 24 - 25 / 7) < 1 / 24  # the same 3.6 s
    assert said["frames"] == 86 and said["fps"] == 24 and "minterpolate" in said["ffmpeg_filter"]
    assert "82 interpolated by ffmpeg" in said["interpolated"] and "4 the model's own" in said["interpolated"]
    decoded = np.stack(video.read_frames(tmp_path / "clip-24fps.mp4")).astype(int)
    changes = np.abs(np.diff(decoded[:80], axis=0)).mean(axis=(1, 2, 3))
    assert (changes > 0.5).all()  # every frame is a new one: interpolated, not each frame repeated 3-4 times
    assert [p.name for p in tmp_path.iterdir()] == ["clip-24fps.mp4"]  # no temporary left behind


@pytest.mark.parametrize("smooth_fps", [7, 5, 61, float("nan")])
def test_a_smoothing_that_adds_no_frames_is_refused(tmp_path, smooth_fps):
    with pytest.raises(video.OutputError, match="give a frame rate above the video's 7 fps"):
        video.write_smooth_mp4(frames(3), tmp_path / "clip.mp4", fps=7, smooth_fps=smooth_fps)
    assert list(tmp_path.iterdir()) == []
