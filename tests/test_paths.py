"""Output names: what they hold, and that they sort and differ where they must."""

import os

from scalefree.config import Config
from scalefree.formats import paths


def test_a_run_is_named_by_image_training_size_type_and_shape():
    c = Config(type="circular", n_dividers=64, n_hidden=20)
    assert paths.run_name("/photos/cat.jpeg", c, (240, 320)) == "cat_320x240_circular_64d_20h"
    assert paths.run_name("", c, (1, 1)).startswith("image_")  # a name with no stem still names something
    # The same photo trained at another size is another model, not one to replace.
    assert paths.run_name("cat.jpg", c, (120, 160)) != paths.run_name("cat.jpg", c, (240, 320))
    assert paths.checkpoint_path("out", "cat.jpg", c, (240, 320)) == os.path.join(
        "out", "cat_320x240_circular_64d_20h.pkl"
    )


def test_frames_sort_in_cycle_order_by_name_alone():
    names = [os.path.basename(paths.frame_path("f", "run", cycle)) for cycle in (1, 9, 10, 100, 12345)]
    assert names == sorted(names)
    assert paths.frames_metadata_path("f") == os.path.join("f", paths.FRAMES_METADATA)


def test_renders_say_their_zoom_and_border():
    assert paths.render_path("out", "run", 4.0, 0.5) == os.path.join("out", "run_x4_b0.5.png")
