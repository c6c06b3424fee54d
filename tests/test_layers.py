import numpy as np
import pytest
import tensorflow as tf

from scalefree.nn.layers import CircleLayer, LineLayer, sharp_sign

SHARP, GRAD_SHARP = 1000.0, 5.0


def line_excitation(xy, centers, angles):
    d = xy[:, None, :] - centers[None]
    normal = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return (d * normal[None]).sum(-1) / np.linalg.norm(d, axis=-1)


def circle_excitation(xy, centers, log_radii):
    r = np.exp(log_radii)
    return (np.linalg.norm(xy[:, None, :] - centers[None], axis=-1) - r) / r


def false_slope(e):
    return GRAD_SHARP * (1 - np.tanh(GRAD_SHARP * e) ** 2)


def line_grads(xy, centers, angles, upstream):
    """dL/dC and dL/dtheta for L = sum(upstream * A), through the false slope."""
    d = xy[:, None, :] - centers[None]
    dist = np.linalg.norm(d, axis=-1)
    c, s = np.cos(angles), np.sin(angles)
    u = d[..., 0] * c + d[..., 1] * s
    e = u / dist
    g = upstream * false_slope(e)
    de_dtheta = (-d[..., 0] * s + d[..., 1] * c) / dist
    de_dcx = -c / dist + u * d[..., 0] / dist**3
    de_dcy = -s / dist + u * d[..., 1] / dist**3
    return np.stack([(g * de_dcx).sum(0), (g * de_dcy).sum(0)], axis=1), (g * de_dtheta).sum(0)


def circle_grads(xy, centers, log_radii, upstream):
    d = xy[:, None, :] - centers[None]
    dist = np.linalg.norm(d, axis=-1)
    r = np.exp(log_radii)
    g = upstream * false_slope((dist - r) / r)
    de_dc = -d / (dist * r)[..., None]
    return (g[..., None] * de_dc).sum(0), (g * -dist / r).sum(0)


@pytest.fixture
def points():
    return np.random.default_rng(1).uniform(-1, 1, (300, 2)).astype(np.float32)


def built(layer, weights):
    layer.build((None, 2))
    layer.set_weights(weights)
    return layer


def test_sharp_sign_forward_is_tanh_and_backward_is_false_slope():
    e = tf.constant(np.linspace(-0.5, 0.5, 41), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(e)
        y = sharp_sign(e, SHARP, GRAD_SHARP)
    np.testing.assert_allclose(y.numpy(), np.tanh(SHARP * e.numpy()), atol=1e-6)
    np.testing.assert_allclose(tape.gradient(y, e).numpy(), false_slope(e.numpy()), rtol=1e-5, atol=1e-6)


def test_line_layer_forward_matches_formula(points):
    rng = np.random.default_rng(2)
    centers = rng.uniform(-1, 1, (7, 2)).astype(np.float32)
    angles = rng.uniform(0, 2 * np.pi, 7).astype(np.float32)
    layer = built(LineLayer(7, SHARP, GRAD_SHARP), [centers, angles])
    e = line_excitation(points, centers, angles)
    np.testing.assert_allclose(layer.excitation(points).numpy(), e, atol=1e-5)
    np.testing.assert_allclose(layer(points).numpy(), np.tanh(SHARP * e), atol=2e-3)


def test_circle_layer_forward_matches_formula(points):
    rng = np.random.default_rng(3)
    centers = rng.uniform(-1, 1, (5, 2)).astype(np.float32)
    log_radii = np.log(rng.uniform(0.1, 0.8, 5)).astype(np.float32)
    layer = built(CircleLayer(5, SHARP, GRAD_SHARP), [centers, log_radii])
    e = circle_excitation(points, centers, log_radii)
    np.testing.assert_allclose(layer.excitation(points).numpy(), e, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer(points).numpy(), np.tanh(SHARP * e), atol=2e-3)


@pytest.mark.parametrize("kind", ["line", "circle"])
def test_gradients_follow_the_false_gradient(points, kind):
    rng = np.random.default_rng(4)
    centers = rng.uniform(-1, 1, (6, 2)).astype(np.float32)
    if kind == "line":
        second = rng.uniform(0, 2 * np.pi, 6).astype(np.float32)
        layer, reference = built(LineLayer(6, SHARP, GRAD_SHARP), [centers, second]), line_grads
    else:
        second = np.log(rng.uniform(0.1, 0.8, 6)).astype(np.float32)
        layer, reference = built(CircleLayer(6, SHARP, GRAD_SHARP), [centers, second]), circle_grads
    upstream = rng.normal(size=(len(points), 6)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(points) * upstream)
    got_c, got_second = (g.numpy() for g in tape.gradient(loss, layer.trainable_weights))
    want_c, want_second = reference(points.astype(np.float64), centers, second, upstream)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(got_second, want_second, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("cls", [LineLayer, CircleLayer])
def test_no_nan_at_a_centre(cls):
    layer = cls(2, SHARP, GRAD_SHARP)
    layer.build((None, 2))
    at_centre = tf.constant(layer.centers.numpy())
    with tf.GradientTape() as tape:
        out = layer(at_centre)
        loss = tf.reduce_sum(out)
    assert np.isfinite(out.numpy()).all()
    assert all(np.isfinite(g.numpy()).all() for g in tape.gradient(loss, layer.trainable_weights))


@pytest.mark.parametrize("cls", [LineLayer, CircleLayer])
def test_config_round_trip_keeps_every_argument(cls):
    layer = cls(9, sharpness=123.0, gradient_sharpness=2.5, name="d")
    again = cls.from_config(layer.get_config())
    assert (again.units, again.sharpness, again.gradient_sharpness, again.name) == (9, 123.0, 2.5, "d")


def test_keras_save_and_load_predicts_the_same(tmp_path, points):
    import keras

    from scalefree.config import Config
    from scalefree.nn.network import Network

    for kind in ("linear", "circular"):
        model = Network.of(Config(type=kind, n_dividers=5, n_hidden=4)).keras
        path = tmp_path / f"{kind}.keras"
        model.save(path)
        again = keras.saving.load_model(path)
        np.testing.assert_array_equal(model.predict(points, verbose=0), again.predict(points, verbose=0))
