"""Lines and circles in one model (-t mixed): placement's choice, training, moving, files and the command line."""

import numpy as np
import pytest
from conftest import discs_image, half_planes_image, run_main

import scalefree
from scalefree.config import Config, ConfigError
from scalefree.formats import checkpoint
from scalefree.model import ColourLayers, Model, TrainingState
from scalefree.nn import surgery
from scalefree.nn.trainer import Trainer
from scalefree.plane.coords import pixel_coords
from scalefree.plane.placement import mixed_dividers
from scalefree.shapes import Circles, Lines

SPOTS = [((-0.5, -0.5), 0.12), ((0.5, 0.5), 0.1), ((0.45, -0.5), 0.12)]


def lines_and_spots(size=64):
    """Three half-planes (three straight edges) with three small white discs on them: a picture of both kinds."""
    image = half_planes_image(size).reshape(-1, 3).copy()
    xy = pixel_coords(size, size)
    for (cx, cy), r in SPOTS:
        image[np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) < r] = (250, 250, 250)
    return image.reshape(size, size, 3).astype(np.uint8)


def kinds(groups):
    return [(type(g), len(g)) for g in groups]


@pytest.mark.parametrize(
    "image, expected",
    [
        (half_planes_image, [(Lines, 3)]),
        (discs_image, [(Circles, 3)]),
        (lines_and_spots, [(Lines, 3), (Circles, 3)]),
    ],
)
def test_placement_takes_lines_for_straight_edges_circles_for_round_ones_and_both_for_both(image, expected):
    n = sum(k for _, k in expected)
    groups, share = mixed_dividers(image(), n, 8, np.random.default_rng(0))
    assert kinds(groups) == expected
    assert share == sum(k for kind, k in expected if kind is Lines) / n


def mixed_model(image, lines=3, circles=3, m=8, seed=0):
    rng = np.random.default_rng(seed)
    groups = (
        Lines(rng.uniform(-0.5, 0.5, (lines, 2)), rng.uniform(0, 2 * np.pi, lines)),
        Circles(rng.uniform(-0.5, 0.5, (circles, 2)), np.log(rng.uniform(0.1, 0.4, circles))),
    )
    n = lines + circles
    tail = (rng.normal(0, 0.5, (n, m)), np.full(m, 0.5), rng.normal(0, 0.5, (m, 3)), np.zeros(3))
    return Model(groups, ColourLayers(*(a.astype(np.float32) for a in tail)), image.shape[:2])


def test_a_mixed_network_trains_both_kinds_and_moves_only_its_circles_unless_told(tmp_path):
    image = lines_and_spots()
    config = Config(type="mixed", n_dividers=6, n_hidden=8, seed=0).validate()
    start = mixed_model(image)
    trainer = Trainer(config, image, model=start)
    before = trainer.evaluate()
    for _ in range(3):
        trainer.train_epoch()
    assert trainer.evaluate() < before
    trained = trainer.to_model()
    assert kinds(trained.dividers) == [(Lines, 3), (Circles, 3)] and trained.type == "mixed"
    assert all(not np.array_equal(a, b) for a, b in zip(trained.dividers[0].arrays, start.dividers[0].arrays))
    # Every divider worthless (zero colour weights): by default only circles move (dividers 3 to 5) ...
    layers = trained.colour_layers
    useless = trained.replace(colour_layers=ColourLayers(np.zeros_like(layers.w1), *layers.arrays[1:]))
    trainer.set_model(useless)
    moved = surgery.move_weakest(trainer, 6)
    assert len(moved) and set(moved) <= {3, 4, 5}
    assert trainer.to_model().dividers[0] == useless.dividers[0]
    # ... and with --replace_every given, lines as well, each to a place of its own shape.
    told = Trainer(Config(type="mixed", n_dividers=6, n_hidden=8, seed=0, replace_every=5).validate(), image, useless)
    moved = surgery.move_weakest(told, 6)
    assert set(moved) & {0, 1, 2}
    assert kinds(told.to_model().dividers) == [(Lines, 3), (Circles, 3)]


def test_a_mixed_checkpoint_round_trips_and_a_wrong_one_is_refused(tmp_path):
    image = lines_and_spots()
    config = Config(type="mixed", n_dividers=6, n_hidden=8).validate()
    model = mixed_model(image).replace(training=TrainingState(config, image, "spots.png"))
    path = tmp_path / "mixed.pkl"
    model.save(path)
    loaded = scalefree.load(path)
    assert loaded.dividers == model.dividers and loaded.type == "mixed"
    np.testing.assert_array_equal(loaded.render(), model.render())
    # The groups must add up to its N, and a model of lines and circles is no linear model.
    payload = {**checkpoint.to_payload(model), "version": checkpoint.VERSION}
    for change, pattern in [
        ({"config": {**payload["config"], "n_dividers": 7}}, "do not fit"),
        ({"config": {**payload["config"], "type": "linear"}}, "its dividers hold circles"),
        ({"dividers": payload["dividers"] + payload["dividers"][:1]}, "do not fit"),
        (
            # An empty group of lines beside the circles: the counts add up, but a group holds one divider at least.
            {
                "config": {**payload["config"], "n_dividers": 3},
                "dividers": [{"type": "linear", "arrays": [np.zeros((0, 2), np.float32), np.zeros(0, np.float32)]}]
                + payload["dividers"][1:],
                "colour_layers": [a[3:] if i == 0 else a for i, a in enumerate(payload["colour_layers"])],
            },
            "do not fit",
        ),
        ({"dividers": [{**payload["dividers"][0], "type": "mixed"}, payload["dividers"][1]]}, "unknown type 'mixed'"),
    ]:
        with pytest.raises(checkpoint.CheckpointError, match=pattern):
            checkpoint.from_payload({**payload, **change})


def test_init_does_not_apply_to_mixed():
    with pytest.raises(ConfigError, match="--init does not apply to -t mixed"):
        Config(type="mixed", init="edges").validate()


def test_the_command_line_trains_resumes_and_draws_a_mixed_model(tmp_path, capsys):
    from PIL import Image

    photo = tmp_path / "spots.png"
    Image.fromarray(lines_and_spots()).save(photo)
    argv = ["-i", str(photo), "-t", "mixed", "-d", "6", "-n", "8", "-c", "2", "-e", "2", "--seed", "0"]
    code, out, err = run_main(capsys, *argv, "--output_dir", str(tmp_path), "--no_display")
    assert code == 0, err
    assert "placed 3 lines and 3 circles" in out
    saved = tmp_path / "spots_64x64_mixed_6d_8h.pkl"
    code, out, err = run_main(capsys, "-m", str(saved), "-c", "1", "-e", "1", "--no_display")
    assert code == 0, err
    model = scalefree.load(saved)
    assert model.training.cycle == 3 and kinds(model.dividers) == [(Lines, 3), (Circles, 3)]
    # Every export draws both kinds: the SVG and the data file hold what the render shows.
    out_svg, out_data = tmp_path / "spots.svg", tmp_path / "spots.sfm"
    code, _, err = run_main(capsys, "-j", "-m", str(saved), "--svg", str(out_svg), "--model_data", str(out_data))
    assert code == 0, err
    assert "<path" in out_svg.read_text()
    held = scalefree.load(out_data)
    assert kinds(held.dividers) == kinds(model.dividers)
    assert held.psnr(model.render()) > 25


def test_fit_takes_shape_mixed_as_a_notebook_calls_it(tmp_path):
    model = scalefree.fit(lines_and_spots(), 6, "mixed", 8, cycles=1, seed=0, progress=False)
    assert kinds(model.dividers) == [(Lines, 3), (Circles, 3)]
    assert "lines" in repr(model) and "circles" in repr(model)
    path = tmp_path / "m.sfm"
    model.to_data(path)
    assert kinds(scalefree.load(path).dividers) == kinds(model.dividers)
    assert "<path" in model.to_svg()
