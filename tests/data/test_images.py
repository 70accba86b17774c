"""Image decoding to RGB uint8, and one clear error for each unusable file or array."""

import cv2
import numpy as np
import pytest

from posekit.core.errors import InputError
from posekit.data.images import as_rgb_image, read_image, write_image

RED_RGB = (255, 0, 0)


def red_image(h=12, w=20):
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = RED_RGB
    return image


@pytest.mark.parametrize("suffix,tolerance", [(".png", 0), (".jpg", 3)])
def test_read_image_gives_rgb(tmp_path, suffix, tolerance):
    path = tmp_path / f"red{suffix}"
    assert cv2.imwrite(str(path), cv2.cvtColor(red_image(), cv2.COLOR_RGB2BGR))  # files hold BGR order
    image = read_image(path)
    assert image.shape == (12, 20, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - RED_RGB).max() <= tolerance
    assert image[..., 0].min() > 250 and image[..., 2].max() < 5  # red is channel 0, not 2


def test_write_then_read_is_exact_for_png(tmp_path, rng):
    image = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    write_image(tmp_path / "out.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_grey_file_is_read_as_three_channels(tmp_path):
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((5, 6), 77, np.uint8))
    image = read_image(path)
    assert image.shape == (5, 6, 3) and (image == 77).all()


def test_missing_empty_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nope.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_image(empty)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(InputError, match="corrupt or not an image"):
        read_image(corrupt)
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path)  # a directory


def test_as_rgb_image_accepts_paths_grey_and_rgba(tmp_path):
    path = tmp_path / "red.png"
    write_image(path, red_image())
    np.testing.assert_array_equal(as_rgb_image(path), red_image())
    np.testing.assert_array_equal(as_rgb_image(str(path)), red_image())
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = as_rgb_image(grey)
    assert rgb.shape == (3, 4, 3) and all((rgb[..., c] == grey).all() for c in range(3))
    rgba = np.dstack([red_image(), np.full((12, 20), 9, np.uint8)])
    out = as_rgb_image(rgba)
    np.testing.assert_array_equal(out, red_image())
    assert out.flags["C_CONTIGUOUS"]
    same = red_image()
    np.testing.assert_array_equal(as_rgb_image(same), same)


@pytest.mark.parametrize("array,message", [
    (np.zeros((4, 4, 3), np.float32), "dtype float32"),
    (np.zeros((4, 4, 3), np.int64), "dtype int64"),
    (np.zeros((4, 4, 2), np.uint8), r"shape \(4, 4, 2\)"),
    (np.zeros((0, 4, 3), np.uint8), r"shape \(0, 4, 3\)"),
    (np.zeros((2, 4, 4, 3), np.uint8), r"shape \(2, 4, 4, 3\)"),
])
def test_as_rgb_image_rejects_what_it_cannot_use(array, message):
    with pytest.raises(InputError, match=message):
        as_rgb_image(array)
