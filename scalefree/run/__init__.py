"""A run: an image, a model, its options, and what happens after each cycle (checkpoint, frames, window)."""
