"""SimCLR augmentations in plain torch: known values, shapes, ranges, determinism."""

import doctest

import pytest
import torch

from ssl_engine.ssl import augment
from ssl_engine.ssl.augment import (
    SimCLRAugment,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    color_jitter,
    gaussian_blur,
    horizontal_flip,
    hsv_to_rgb,
    random_grayscale,
    random_resized_crop,
    rgb_to_grayscale,
    rgb_to_hsv,
)

torch.set_num_threads(1)

SHAPES = [(1, 3, 8, 8), (4, 3, 32, 32), (3, 3, 17, 24)]


def images(shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_crop_of_the_whole_image_is_the_identity():
    x = images((2, 3, 9, 12))
    y = random_resized_crop(x, gen(), scale=(1.0, 1.0), ratio=(12 / 9, 12 / 9))
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_crop_resizes_and_keeps_values_in_range():
    x = images((4, 3, 32, 32))
    y = random_resized_crop(x, gen(), size=(16, 20))
    assert y.shape == (4, 3, 16, 20)
    assert y.min() >= x.min() - 1e-6 and y.max() <= x.max() + 1e-6  # bilinear never overshoots


def test_crop_of_a_constant_quarter_image():
    # Left half 0, right half 1: a crop narrower than half the image is one colour or straddles the edge.
    x = torch.zeros(64, 1, 16, 16)
    x[..., 8:] = 1.0
    y = random_resized_crop(x, gen(), scale=(0.05, 0.05), ratio=(1.0, 1.0))
    means = y.mean(dim=(1, 2, 3))
    assert ((means < 0.01) | (means > 0.99)).sum() > 32  # most small crops land inside one half


def test_flip_with_p_one_and_zero():
    x = images((3, 3, 5, 7))
    torch.testing.assert_close(horizontal_flip(x, gen(), p=1.0), x.flip(-1))
    torch.testing.assert_close(horizontal_flip(x, gen(), p=0.0), x)


def test_grayscale_known_pixel():
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    assert rgb_to_grayscale(x).item() == pytest.approx(0.299 + 0.587 * 0.5)
    y = random_grayscale(x, gen(), p=1.0)
    torch.testing.assert_close(y, torch.full((1, 3, 1, 1), 0.299 + 0.587 * 0.5))


def test_brightness_contrast_saturation_known_values():
    x = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
    doubled = torch.tensor([0.4, 0.8, 1.0]).view(1, 3, 1, 1)  # 0.6 * 2 clamps to 1
    torch.testing.assert_close(adjust_brightness(x, torch.tensor([2.0])), doubled)
    torch.testing.assert_close(adjust_saturation(x, torch.tensor([0.0])), rgb_to_grayscale(x).expand(1, 3, 1, 1))
    torch.testing.assert_close(adjust_saturation(x, torch.tensor([1.0])), x)
    # Contrast 0 gives the mean gray level of the image everywhere.
    two = torch.tensor([[0.0, 1.0]]).expand(3, 2).reshape(1, 3, 1, 2)
    torch.testing.assert_close(adjust_contrast(two, torch.tensor([0.0])), torch.full((1, 3, 1, 2), 0.5))


def test_hsv_round_trip_and_known_hue_shifts():
    x = images((2, 3, 6, 6))
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5, rtol=0)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(rgb_to_hsv(red).flatten(), torch.tensor([0.0, 1.0, 1.0]))
    torch.testing.assert_close(adjust_hue(red, torch.tensor([1 / 3])), torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(adjust_hue(red, torch.tensor([-1 / 3])), torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1),
                               atol=1e-6, rtol=0)
    gray = torch.full((1, 3, 2, 2), 0.3)
    torch.testing.assert_close(adjust_hue(gray, torch.tensor([0.25])), gray)  # gray has no hue


def test_jitter_with_p_zero_is_identity_and_with_zero_strength_too():
    x = images((4, 3, 8, 8))
    torch.testing.assert_close(color_jitter(x, gen(), p=0.0), x)
    same = color_jitter(x, gen(), p=1.0, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    torch.testing.assert_close(same, x)


def test_blur_keeps_constants_and_smooths_noise():
    flat = torch.full((2, 3, 10, 10), 0.7)
    torch.testing.assert_close(gaussian_blur(flat, gen(), p=1.0), flat)
    x = images((2, 3, 16, 16))
    y = gaussian_blur(x, gen(), p=1.0, sigma=(1.5, 1.5), kernel_size=5)
    assert y.std() < x.std()
    torch.testing.assert_close(gaussian_blur(x, gen(), p=0.0), x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("blur_p", [0.0, 0.5])
def test_pipeline_shapes_range_and_determinism(shape, blur_p):
    x = images(shape)
    pipeline = SimCLRAugment(blur_p=blur_p)
    a, b = pipeline(x, gen(7)), pipeline(x, gen(7))
    assert a.shape == shape and a.dtype == torch.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    torch.testing.assert_close(a, b)  # same generator state, same views
    g = gen(7)
    v1, v2 = pipeline(x, g), pipeline(x, g)
    assert not torch.equal(v1, v2)  # the generator moves on: two different views


def test_pipeline_output_size():
    assert SimCLRAugment(size=12)(images((2, 3, 20, 20)), gen()).shape == (2, 3, 12, 12)


def test_config_validation_and_tuples_from_json_lists():
    assert SimCLRAugment(crop_scale=[0.2, 1.0]) == SimCLRAugment(crop_scale=(0.2, 1.0))
    with pytest.raises(ValueError, match="probability"):
        SimCLRAugment(flip_p=1.5)
    with pytest.raises(ValueError, match="low, high"):
        SimCLRAugment(crop_scale=(1.0, 0.5))
    with pytest.raises(ValueError, match="3 channels"):
        color_jitter(torch.rand(1, 1, 4, 4), gen())


def test_docstring_example():
    assert doctest.testmod(augment).failed == 0
