"""TensorFlow's own log lines stay off the user's terminal; its errors do not."""

import subprocess
import sys

from conftest import ROOT

from scalefree.nn._tensorflow import native_lines_to_show

NATIVE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795666646.151473    2599 port.cc:153] oneDNN custom operations are on.\n"
    "I0000 00:00:1795666646.151847    2599 cudart_stub.cc:31] Could not find cuda drivers\n"
    "I0000 00:00:1795666646.948523    2666 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
    "To enable the following instructions: AVX2 FMA, rebuild TensorFlow.\n"
    "W0000 00:00:1795666647.000001    2599 some.cc:1] a warning\n"
    "E0000 00:00:1795666647.000002    2599 other.cc:2] a real error\n"
    "/x/keras/src/y.py:12: UserWarning: from Python\n"
    "  warnings.warn(\n"
    "F0000 00:00:1795666647.000003    2599 fatal.cc:3] it died\n"
)


def test_default_level_keeps_errors_and_python_warnings_only():
    shown = "".join(native_lines_to_show(NATIVE, 3))
    assert shown == (
        "E0000 00:00:1795666647.000002    2599 other.cc:2] a real error\n"
        "/x/keras/src/y.py:12: UserWarning: from Python\n"
        "  warnings.warn(\n"
        "F0000 00:00:1795666647.000003    2599 fatal.cc:3] it died\n"
    )


def test_level_one_keeps_warnings_and_zero_keeps_everything():
    assert "a warning" in "".join(native_lines_to_show(NATIVE, 1))
    assert "oneDNN" not in "".join(native_lines_to_show(NATIVE, 1))
    assert "".join(native_lines_to_show(NATIVE, 0)) == NATIVE


def test_importing_tensorflow_prints_nothing(tmp_path):
    code = "import scalefree.nn._tensorflow as t; t.tf.constant(1.0) + 1; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n"
    assert result.stderr == "", result.stderr
