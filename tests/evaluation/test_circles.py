"""The appendix circles experiment: dataset generators (fast) and the tiny end-to-end run (slow)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from keras_hdl.errors import InputError
from keras_hdl.evaluation import circles, circles_data, circles_report
from keras_hdl.metrics import mse

LEVELS = np.asarray(circles_data.CIRCLE_LEVELS)
SIZE = 128  # large circles (radius ≥ 9.6 px) make pixel areas and centroids precise
QUADRANT = SIZE // 2


def circle_pixels(images: np.ndarray) -> np.ndarray:
    """Pixels of exactly circle i's grey level: (N, H, W) → bool (N, 4, H, W).

    The noisy background never equals a level exactly, so this finds flat circles from pixels alone.
    """
    return images[:, None] == LEVELS[None, :, None, None].astype(np.float32)


def centroids(masks: np.ndarray) -> np.ndarray:
    """Centre (row, column) of each mask: (..., H, W) → (..., 2) px."""
    rows, columns = np.indices(masks.shape[-2:])
    count = masks.sum(axis=(-2, -1))
    return np.stack([(masks * rows).sum(axis=(-2, -1)) / count, (masks * columns).sum(axis=(-2, -1)) / count], -1)


# Dataset generators (default run).


@pytest.mark.parametrize("radius", [10.0, 13.7, 20.0])
def test_painted_circle_area_is_pi_r_squared_within_2_percent(radius):
    circles_px = np.array([[[20.3, 21.6, radius], [20.0, 90.0, 5.0], [90.0, 20.0, 5.0], [90.0, 90.0, 5.0]]])
    image = circles_data.paint_circles(np.full((1, SIZE, SIZE), circles_data.BACKGROUND_LEVEL), circles_px)
    area = np.count_nonzero(image[0] == np.float32(LEVELS[0]))
    assert abs(area - np.pi * radius**2) <= 0.02 * np.pi * radius**2


def test_shape_changing_target_is_the_circle_grown_1_5x_and_shifted():
    pairs = circles_data.make_pairs("shape_changing", 6, SIZE, seed=3)
    before, after = circle_pixels(pairs.inputs), circle_pixels(pairs.targets)
    area_before, area_after = before.sum(axis=(-2, -1)), after.sum(axis=(-2, -1))
    # Radius measured from the pixels against the drawn radius, then the rule: radius × 1.5, centre + 8 px.
    np.testing.assert_allclose(np.sqrt(area_before / np.pi), pairs.input_circles[..., 2], atol=0.3)
    np.testing.assert_allclose(area_after / area_before, 1.5**2, rtol=0.05)
    shift = 0.125 * QUADRANT  # 8 px down and right
    np.testing.assert_allclose(centroids(after) - centroids(before), shift, atol=0.2)
    np.testing.assert_allclose(pairs.target_circles[..., :2] - pairs.input_circles[..., :2], shift)
    # Circle i stays inside quadrant i (rows / columns of the upper-left quadrant are < 64).
    rows, columns = np.indices((SIZE, SIZE))
    quadrant_of_pixel = 2 * (rows >= QUADRANT) + (columns >= QUADRANT)
    for masks in (before, after):
        for i in range(4):
            assert np.all(quadrant_of_pixel[masks[:, i].any(axis=0)] == i)
    # Away from both circles the target is the input: the same noisy background.
    untouched = ~(before.any(axis=1) | after.any(axis=1))
    np.testing.assert_array_equal(pairs.targets[untouched], pairs.inputs[untouched])
    background = pairs.inputs[untouched]
    assert abs(background.mean() - circles_data.BACKGROUND_LEVEL) < 0.005
    assert abs(background.std() - circles_data.BACKGROUND_NOISE) < 0.005


def test_texture_painting_keeps_the_circles_and_paints_noise_of_the_stated_std():
    pairs = circles_data.make_pairs("texture_painting", 6, SIZE, seed=4)
    flat = circle_pixels(pairs.inputs)  # (N, 4, H, W): the input circles are flat
    drawn = circles_data.circle_masks(pairs.input_circles, SIZE)
    np.testing.assert_array_equal(flat, drawn)
    np.testing.assert_array_equal(pairs.target_circles, pairs.input_circles)
    for i, level in enumerate(LEVELS):
        texture = pairs.targets[drawn[:, i]] - level
        assert abs(texture.mean()) < 0.01
        assert abs(texture.std() - circles_data.TEXTURE_NOISE) < 0.01
    # Outside the circles: fresh noise of the input background's statistics, uncorrelated with it.
    outside = ~drawn.any(axis=1)
    for images in (pairs.inputs, pairs.targets):
        assert abs(images[outside].mean() - circles_data.BACKGROUND_LEVEL) < 0.005
        assert abs(images[outside].std() - circles_data.BACKGROUND_NOISE) < 0.005
    assert abs(np.corrcoef(pairs.inputs[outside], pairs.targets[outside])[0, 1]) < 0.02


@pytest.mark.parametrize("task", circles_data.TASKS)
def test_pairs_are_reproducible_for_a_seed_and_differ_between_seeds_and_splits(task):
    first = circles_data.make_pairs(task, 3, 32, seed=7)
    again = circles_data.make_pairs(task, 3, 32, seed=7)
    other_seed = circles_data.make_pairs(task, 3, 32, seed=8)
    test_split = circles_data.make_pairs(task, 3, 32, seed=7, split="test")
    np.testing.assert_array_equal(first.inputs, again.inputs)
    np.testing.assert_array_equal(first.targets, again.targets)
    for different in (other_seed, test_split):
        assert not np.array_equal(first.inputs, different.inputs)
        assert not np.array_equal(first.targets, different.targets)
    assert first.inputs.dtype == np.float32 and first.inputs.shape == (3, 32, 32)
    assert first.targets.min() >= -1.0 and first.targets.max() <= 1.0


def test_textures_are_zero_when_flat_and_the_amplitude_of_a_checkerboard():
    circles_px = np.array([[[16.0, 16.0, 10.0], [16.0, 48.0, 10.0], [48.0, 16.0, 10.0], [48.0, 48.0, 10.0]]])
    flat_background = np.full((1, 64, 64), circles_data.BACKGROUND_LEVEL)
    flat = circles_data.paint_circles(flat_background, circles_px)
    np.testing.assert_allclose(circles_data.circle_texture(flat, circles_px), [0.0], atol=1e-7)
    np.testing.assert_allclose(circles_data.background_texture(flat, circles_px), [0.0], atol=1e-7)
    rows, columns = np.indices((64, 64))
    checkerboard = 0.1 * np.where((rows + columns) % 2 == 0, 1.0, -1.0)[None]
    # ±0.1 about each region's mean (within 0.1 / pixel count of 0): a std of 0.1.
    painted = circles_data.paint_circles(flat_background, circles_px, fill=checkerboard)
    np.testing.assert_allclose(circles_data.circle_texture(painted, circles_px), [0.1], rtol=1e-3)
    np.testing.assert_allclose(circles_data.background_texture(painted, circles_px), [0.0], atol=1e-7)
    noisy_background = circles_data.paint_circles(flat_background + checkerboard, circles_px)
    np.testing.assert_allclose(circles_data.circle_texture(noisy_background, circles_px), [0.0], atol=1e-7)
    np.testing.assert_allclose(circles_data.background_texture(noisy_background, circles_px), [0.1], rtol=1e-3)


def test_bad_arguments_are_input_errors_naming_the_choices(tmp_path):
    with pytest.raises(InputError, match=r"unknown preset 'huge'.*\['cpu', 'tiny'\]"):
        circles.run_circles_experiment(tmp_path, "huge")
    with pytest.raises(InputError, match="seed must be a non-negative integer"):
        circles.run_circles_experiment(tmp_path, "tiny", seed=-1)
    with pytest.raises(InputError, match="unknown task 'squares'"):
        circles_data.make_pairs("squares", 2, 32, seed=0)
    with pytest.raises(InputError, match="unknown split"):
        circles_data.make_pairs("shape_changing", 2, 32, seed=0, split="validation")
    file_path = tmp_path / "a_file"
    file_path.write_text("")
    with pytest.raises(InputError, match="is a file"):
        circles.run_circles_experiment(file_path, "tiny")


# The tiny experiment end to end (slow: trains four networks).

SEED = 5


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("circles_tiny")
    returned = circles.run_circles_experiment(out_dir, "tiny", seed=SEED)
    return out_dir, returned


def table_rows(report: str, task: str) -> dict[str, list[str]]:
    """The cells of one task's table in report.md: {row label: [cell, ...]}."""
    section = report.split(f"## {circles_report.TASK_TITLES[task]}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and not line.startswith("|---") and cells[0] != "method":
            rows[cells[0]] = cells[1:]
    return rows


def parse_cell(cell: str) -> tuple[float, ...]:
    return tuple(float(number) for number in re.findall(r"[-+0-9.e]+", cell))


@pytest.mark.slow
def test_tiny_run_writes_every_file_and_the_tables_hold_the_json_numbers(tiny_run):
    out_dir, returned = tiny_run
    expected = {"report.md", "results.json"} | {
        f"{t}_{kind}.png" for t in circles_data.TASKS for kind in ("samples", "tsne")
    }
    assert expected <= {path.name for path in out_dir.iterdir()}
    for name in expected - {"report.md", "results.json"}:
        assert (out_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((out_dir / "results.json").read_text())
    assert results == returned
    report = (out_dir / "report.md").read_text()
    columns = [key for key, _ in circles_report.TABLE_COLUMNS]
    test_images = circles_data.settings_for("tiny").test_images
    for task in circles_data.TASKS:
        task_results = results["tasks"][task]
        rows = table_rows(report, task)
        assert set(rows) == {"ground truth", *circles_report.METHOD_TITLES.values()}
        for method, title in circles_report.METHOD_TITLES.items():
            entry = task_results["methods"][method]
            for key, cell in zip(columns, rows[title], strict=True):
                if key not in entry:
                    assert cell == "–"
                    continue
                value = entry[key]
                numbers = (value["mean"], value["std"]) if isinstance(value, dict) else (value,)
                np.testing.assert_allclose(parse_cell(cell), numbers, rtol=5e-4)  # 4 significant digits
                if isinstance(value, dict):
                    assert len(value["per_image"]) == test_images
                    assert value["mean"] == pytest.approx(np.mean(value["per_image"]))
        for figure in task_results["figures"].values():
            assert f"({figure})" in report


@pytest.mark.slow
def test_tiny_unet_learns_shape_changing_beyond_identity_and_untrained_baselines(tiny_run):
    _, results = tiny_run
    settings = circles_data.settings_for("tiny")
    test = circles_data.make_pairs("shape_changing", settings.test_images, settings.image_size, SEED, "test")
    identity_mse = mse(test.inputs, test.targets).mean()
    from keras_hdl.training.tasks.circles import build_generator

    untrained = build_generator(settings, name="untrained")
    untrained_mse = mse(untrained(test.inputs[..., None], training=False).numpy()[..., 0], test.targets).mean()
    unet_mse = results["tasks"]["shape_changing"]["methods"]["unet"]["mse"]["mean"]
    assert results["tasks"]["shape_changing"]["methods"]["identity"]["mse"]["mean"] == pytest.approx(identity_mse)
    assert unet_mse < 0.5 * min(identity_mse, untrained_mse)
    # The reading follows the numbers.
    for task in circles_data.TASKS:
        methods, reading = results["tasks"][task]["methods"], results["tasks"][task]["reading"]
        lower_mse = "unet" if methods["unet"]["mse"]["mean"] < methods["gan"]["mse"]["mean"] else "gan"
        assert reading["closer_per_image_mse"] == lower_mse


@pytest.mark.slow
def test_same_seed_gives_the_same_results_json(tiny_run, tmp_path):
    out_dir, _ = tiny_run
    circles.run_circles_experiment(tmp_path, "tiny", seed=SEED)
    assert (tmp_path / "results.json").read_bytes() == (out_dir / "results.json").read_bytes()


def test_presets_come_from_the_yaml_beside_the_model_presets():
    presets = circles_data.circles_presets()
    assert set(presets) == {"tiny", "cpu"}
    for settings in presets.values():
        assert settings.image_size % 16 == 0 and isinstance(settings.widths, tuple)
        assert 2 ** (len(settings.widths) - 1) <= settings.image_size
    with pytest.raises(InputError, match="unknown preset 'paper'"):
        circles_data.settings_for("paper")
