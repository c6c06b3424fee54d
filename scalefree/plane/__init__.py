"""The plane in numpy: coordinates, placing dividers, the regions they make, drawing them."""
