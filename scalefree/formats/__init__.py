"""Files: checkpoints, images, SVG, the web page, videos, and where outputs go. Written atomically."""
