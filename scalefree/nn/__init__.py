"""The TensorFlow part: the only package that imports it. A Keras network built from a Model, trained, read back."""
