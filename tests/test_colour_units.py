"""-n auto: the colour units chosen from the first model's regions, said, and stored as a number."""

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

import scalefree
from scalefree.config import AUTO, Config, ConfigError
from scalefree.formats import checkpoint
from scalefree.plane.colouring import AUTO_HEADROOM, choose_colour_units, fit_colour_layers, table_psnr
from scalefree.plane.regions import RegionTable


def table_of(means, counts, signs, within=0.0):
    means, counts = np.asarray(means, float), np.asarray(counts, float)
    return RegionTable(np.asarray(signs, np.float32), counts, means, within, np.zeros(int(counts.sum()), int))


def test_regions_a_few_units_paint_take_a_few_times_the_fewest_and_many_regions_of_any_colour_the_most():
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=(400, 12))
    # Colours that are one shift per divider side: the fit's start paints them, 8 units are plenty.
    shifts = rng.normal(0, 0.15, (12, 3))
    simple = table_of(1 / (1 + np.exp(-(signs @ shifts))), np.full(400, 10), signs, within=0.5)
    m, layers, line = choose_colour_units(simple, (8, 16, 32, 64), lambda: np.random.default_rng(1), headroom=4)
    assert m == 32 and layers[0].shape == (12, 32)
    assert line.startswith("-n auto: 32 colour units for 400 regions; fitted to them, 8: ")
    assert "; 8 come within 0.2 dB of each region painted its own colour" in line
    assert line.endswith("; 4 times that for the regions training cuts")
    # The layers are those a run given -n 32 starts from.
    np.testing.assert_array_equal(layers[0], fit_colour_layers(simple, 32, np.random.default_rng(1))[0])
    # Headroom beyond the most choice takes the most; no headroom, the fewest.
    assert choose_colour_units(simple, (8, 16, 32, 64), lambda: np.random.default_rng(1), headroom=16)[0] == 64
    assert choose_colour_units(simple, (8, 16, 32, 64), lambda: np.random.default_rng(1), headroom=1)[0] == 8
    # 400 regions of unrelated colours: no fit comes near each region's own colour, so the most, and
    # fewer are not tried (they would miss by more).
    scattered = table_of(rng.random((400, 3)), np.full(400, 10), signs, within=0.5)
    m, layers, line = choose_colour_units(scattered, (8, 16, 32, 64), lambda: np.random.default_rng(1))
    assert m == 64 and layers[0].shape == (12, 64) and line.endswith(": the most")
    assert "fitted to them, 64: " in line and " 32: " not in line
    assert table_psnr(scattered, layers) < scattered.best_psnr() - 0.2


def test_auto_is_an_option_value_checked_like_the_others():
    assert Config(n_hidden=AUTO).validate().n_hidden == AUTO
    with pytest.raises(ConfigError, match="-t relu has none"):
        Config(type="relu", n_hidden=AUTO).validate()
    with pytest.raises(ConfigError, match="--max_bytes chooses -n itself"):
        Config(n_hidden=AUTO, max_bytes=2000).validate()
    # A resumed model keeps the colour units it chose.
    assert Config(n_hidden=16).merged({"n_hidden": AUTO, "cycles": 3}).n_hidden == 16


def test_the_command_line_says_what_it_chose_and_stores_the_number(tmp_path):
    command = [sys.executable, str(ROOT / "image_learn.py"), "-t", "circular", "-d", "32", "-n", "auto"]
    command += ["-c", "1", "--seed", "1", "--no_display", "--output_dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # 32 circles on the bundled photo cut some 80 regions that 8 units paint (see plane.colouring).
    said = r"^-n auto: (\d+) colour units for (\d+) regions; fitted to them, .*; 8 come within "
    found = re.search(said, result.stdout, re.M)
    chosen = min(8 * AUTO_HEADROOM, 64)
    assert found and found[1] == str(chosen), result.stdout
    assert f"fitted {chosen} colour units to their {found[2]} regions" in result.stdout
    saved = tmp_path / "astronaut_256x256_circular_32d_autoh.pkl"
    model = checkpoint.read(saved)
    assert model.n_colour_units == chosen and model.training.config.n_hidden == chosen
    assert (tmp_path / "astronaut_256x256_circular_32d_autoh_sketch.png").exists()
    # The same command again finds the file; resumed with -m, "auto" keeps the number.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "exists already: resume it with -m" in again.stderr
    resumed = subprocess.run(
        [*command[:2], "-m", str(saved), "-n", "auto", "-c", "1", "--no_display"],
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert resumed.returncode == 0 and "resuming at cycle 1" in resumed.stdout, resumed.stderr


def test_fit_chooses_from_python_as_from_the_command_line():
    model = scalefree.fit(str(ROOT / "scalefree" / "data" / "astronaut.png"), dividers=128, colours="auto", cycles=1)
    # 128 lines cut thousands of regions: no number of units paints them within 0.2 dB, so the most.
    assert model.n_colour_units == 64 and model.training.config.n_hidden == 64
