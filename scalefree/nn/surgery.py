"""Changes to a network between epochs that gradient steps cannot make, each a named step.

Both read the model out of the trainer (a numpy Model), decide in numpy,
write the changed model back, and start the optimizer's state afresh where
the weights it belonged to were replaced.
"""

import numpy as np

from ..plane.placement import residual_dividers


def revive_dead_units(trainer, sample=1 << 12):
    """Restart colour units that no pixel of a sample turns on; return their indices.

    A ReLU unit below zero everywhere has no gradient and never comes back.
    With hundreds of dividers one step moves a unit's input by hundreds of
    small weight changes at once, and the first epoch could turn every
    colour unit off: the picture froze at one colour (seen with 512
    circles). A dead unit gets fresh random weights from the dividers, a bias
    that turns it on for at least half the sample, no weight to the output
    (the picture does not jump) and fresh optimizer moments.
    """
    rng = np.random.default_rng([trainer.seed, trainer.epoch, 1])
    # Drawn with repeats: no permutation of every pixel after each epoch.
    pick = rng.integers(0, trainer.pixels, min(sample, trainer.pixels))
    model = trainer.to_model()
    first = model.first_layer(trainer.coords_at(pick))
    layers = model.colour_layers
    dead = np.flatnonzero((layers.hidden(first) <= 0).all(axis=0))
    if not len(dead):
        return dead
    w1, b1, w2 = layers.w1.copy(), layers.b1.copy(), layers.w2.copy()
    limit = np.sqrt(6.0 / (w1.shape[0] + w1.shape[1]))  # Glorot, as Keras starts them
    w1[:, dead] = rng.uniform(-limit, limit, (w1.shape[0], len(dead)))
    # On for at least half the sample (the median pixel included, when many pixels share it).
    b1[dead] = 0.01 - np.median(first @ w1[:, dead], axis=0)
    w2[dead] = 0.0
    trainer.set_model(model.replace(colour_layers=type(layers)(w1, b1, w2, layers.b2)))
    network = trainer.network
    trainer.restart_moments(
        [
            (network.colour_units.kernel, (slice(None), dead)),
            (network.colour_units.bias, dead),
            (network.rgb.kernel, dead),
        ]
    )
    return dead


def move_weakest(trainer, count, sample=1 << 12):
    """Move up to `count` dividers that matter least to where the error is largest; return the moved indices.

    A divider's worth is how much the loss rises when it is held to the
    side most pixels are on (measured on a sample of pixels). New places come
    from residual placement on the current picture, each with the drop in
    error it promises; the weakest divider moves to the best new place only
    if that drop exceeds its worth, and so on down. A moved divider's colour
    weights move into the bias as if it were held to its majority side, so
    the picture is the one its worth was measured on until training gives
    the divider a use. A divider moves to a place of its own shape; in a
    mixed model only the kinds that move by default do (circles), unless
    --replace_every was given.
    """
    model = trainer.to_model()
    groups = model.dividers
    starts = np.cumsum([0] + [len(g) for g in groups])
    # A mixed model (-t mixed) moves only its kinds that move by default, unless told to move all.
    every = trainer.config.replace_every is not None or len(trainer.config.kind.members()) == 1
    movable = [j for g, a, b in zip(groups, starts, starts[1:]) if every or g.replace_every for j in range(a, b)]
    if not movable:
        return np.zeros(0, np.int64)
    rng = np.random.default_rng([trainer.seed, trainer.epoch])
    x, y = trainer.sample(rng, sample)
    signs = model.sides(x)
    layers = model.colour_layers
    hidden = layers.hidden(signs)

    def loss(h):
        return np.square(layers.colours(h) - y).mean()

    base = loss(hidden)
    majority = np.where(signs.mean(0) >= 0, 1.0, -1.0)
    w1 = np.asarray(layers.w1, np.float64)
    worth = np.full(len(w1), np.inf)
    worth[movable] = [loss(hidden + np.outer(majority[j] - signs[:, j], w1[j])) - base for j in movable]
    weakest = np.asarray(movable)[np.argsort(worth[movable])[:count]]
    target = trainer.target()
    picture = model.render(hard=False, size=target.shape[:2])
    moved, new_groups = [], list(groups)
    for g, (group, a, b) in enumerate(zip(groups, starts, starts[1:])):
        mine = weakest[(weakest >= a) & (weakest < b)]
        if not len(mine):
            continue
        gains = []
        found = residual_dividers(target, len(mine), type(group), rng, gains=gains, picture=picture)
        worthwhile = np.asarray(gains) > worth[mine]
        if worthwhile.any():
            new_groups[g] = group.replaced(mine[worthwhile] - a, found.take(np.flatnonzero(worthwhile)))
            moved.append(mine[worthwhile])
    weakest = np.sort(np.concatenate(moved)) if moved else np.zeros(0, np.int64)
    if not len(weakest):
        return weakest
    # Held to its majority side, a divider is a constant: folded into the bias.
    w1, b1 = layers.w1.copy(), layers.b1.copy()
    b1 = b1 + majority[weakest] @ w1[weakest]
    w1[weakest] = 0.0
    colour = type(layers)(w1, b1, layers.w2, layers.b2)
    trainer.set_model(model.replace(dividers=tuple(new_groups), colour_layers=colour))
    # The optimizer's moments for those rows belong to the old place: an old,
    # small second moment would turn the new place's larger gradients into
    # huge steps. They start afresh.
    network = trainer.network
    rows = []
    for variable, axis, first, size in network.unit_slices():
        mine = weakest[(weakest >= first) & (weakest < first + size)]
        if len(mine):
            rows.append((variable, _along(axis, mine - first)))
    trainer.restart_moments(rows + [(network.colour_units.kernel, weakest)])
    return weakest


def _along(axis, index):
    return index if axis == 0 else (slice(None),) * axis + (index,)
