"""RunOptions and Run: every option has one home, and a run resolves names and sizes from them."""

import pytest
from conftest import half_planes_image
from PIL import Image

from scalefree.cli.parser import build_parser
from scalefree.config import ConfigError, field_names
from scalefree.run.options import RunOptions
from scalefree.run.run import Run


def test_every_option_is_either_a_run_knob_or_a_config_field():
    dests = {a.dest for a in build_parser()._actions if a.dest not in ("help", "version")}
    knobs = {f for f in RunOptions.__dataclass_fields__}
    config = set(field_names())
    assert not knobs & config
    assert dests - knobs - config == {"verbose"}  # read by the command line itself, before TensorFlow loads
    options, typed = RunOptions.split({"svg": "a.svg", "n_dividers": 8, "verbose": True})
    assert options.svg == "a.svg" and typed == {"n_dividers": 8}


@pytest.mark.parametrize(
    "options, words",
    [
        (RunOptions(svg="a.svg"), "use it with --just_image"),
        (RunOptions(just_image=True, html="a.htm"), "should end in .html"),
    ],
)
def test_impossible_exports_are_refused(options, words):
    with pytest.raises(ConfigError, match=words):
        options.exports()


def test_exports_come_in_a_fixed_order():
    options = RunOptions(just_image=True, html="p.html", svg="p.svg")
    assert options.exports() == [("svg", "p.svg"), ("html", "p.html")]


def test_a_run_names_its_checkpoint_and_a_resumed_run_keeps_its_file(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    run = Run.open(RunOptions(input_image=str(image), output_dir=str(tmp_path)), {"n_dividers": 4, "n_hidden": 3})
    assert run.checkpoint_path == str(tmp_path / "planes_32x32_linear_4d_3h.pkl")
    assert run.size == run.photo_size == (32, 32) and run.name == "planes_32x32_linear_4d_3h"
    assert isinstance(run.options, RunOptions)
    with pytest.raises(AttributeError):
        run.checkpoint_path = "elsewhere.pkl"  # built once, not changed from outside


def test_a_photo_above_the_budget_trains_smaller_and_names_its_training_size(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(64)).save(image)
    run = Run.open(RunOptions(input_image=str(image), output_dir=str(tmp_path)), {"pixel_budget": 1024})
    assert run.photo_size == (64, 64) and run.size == (32, 32) and run.factor == 2.0
    assert run.name.startswith("planes_32x32_")
