"""The kinds of first-layer unit: lines and circles (dividers), and dense ReLU units (the baseline).

Adding a shape adds one module here and one Keras layer in scalefree.nn. `mixed`
is no kind of its own: lines and circles in one model, as placement chooses.
"""

from .base import Dividers, Units
from .circles import Circles
from .dense import DenseUnits
from .lines import Lines
from .mixed import Mixed

KINDS = (Lines, Circles, Mixed, DenseUnits)
TYPES = tuple(k.type for k in KINDS)


def kind_of(word):
    """The unit kind a word names: its type ("linear") or an alias ("lines"); ValueError if none."""
    for kind in KINDS:
        if word == kind.type or word in kind.aliases:
            return kind
    raise ValueError(f"unknown type {word!r}: choose one of {', '.join(TYPES)}")


__all__ = ["Circles", "DenseUnits", "Dividers", "KINDS", "Lines", "Mixed", "TYPES", "Units", "kind_of"]
