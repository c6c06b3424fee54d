"""Lines and circles in one model: `-t mixed` leaves the shape of every divider to placement.

Not a kind of unit with arrays of its own: a mixed model is a Model with a
group of lines and a group of circles (either may be missing), and each
group is what it is everywhere else. Placement tries a few shares of lines
(plane.placement.mixed_dividers) and keeps the one whose first picture is
best. Where the two kinds' defaults differ, the kind of most of the model's
dividers decides (`settled`); weak dividers are moved as their own kind's
defaults say (circles are, lines are not), each to a new place of its shape.
"""

from .circles import Circles
from .lines import Lines


class Mixed:
    type = "mixed"
    unit = "divider"
    name = "lines or circles"
    aliases = ("lines+circles", "both")
    partitions = True
    placement = "mixed"
    # Moving the weakest runs as often as for circles: only the circles of a model move unless
    # --replace_every is given.
    replace_every = Circles.replace_every
    gradient_sharpness = 20.0
    trains_from_fit = None  # as the kind of most of the model's dividers (settled)

    @classmethod
    def members(cls):
        return (Lines, Circles)

    @classmethod
    def array_shapes(cls, n):
        raise ValueError("a mixed model's arrays depend on how many of its dividers are lines: ask its groups")

    @classmethod
    def settled(cls, groups):
        """The kind whose defaults a model of these groups trains by: its only kind, or that of most dividers."""
        counts = {}
        for group in groups:
            counts[type(group)] = counts.get(type(group), 0) + len(group)
        return max(counts, key=lambda kind: (counts[kind], kind is Lines))
