"""The two command lines, image_learn and make_movie, over the package."""
