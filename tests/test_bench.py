import subprocess
import sys

from conftest import ROOT


def test_quick_benchmark_prints_every_table_and_column(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--save", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for column in [
        "s/epoch",
        "Mpx·epoch/s",
        "GFLOP/s",
        "CPU (of all cores)",
        "full-batch s/epoch",
        "epoch / full-batch",
        "PSNR@",
        "speed-up",
        "peak RSS GB",
        "image_learn.py --help",
        "launch to first cycle line",
    ]:
        assert column in out, column
    for config in ["linear 128/32", "circular 64/20", "relu 128/32"]:
        assert config in out
    assert "failed" not in out and "nan" not in out
    saved = list(tmp_path.glob("*.md"))
    assert len(saved) == 1
    assert saved[0].read_text().strip() == out.strip()


def test_quick_quality_table_has_every_photo_type_and_n(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quality", "--quick", "--save", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    rows = [line for line in out.splitlines() if line.startswith("| astronaut") or line.startswith("| chelsea")]
    # Two photos (quick mode), two types, two N each.
    assert len(rows) == 8
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] in ("linear", "circular") and cells[2] in ("2/16", "4/16")
        assert all(5 < float(v) < 60 for v in cells[3:]), row
    assert "| linear |" in out and "| circular |" in out
    assert (tmp_path / next(p.name for p in tmp_path.glob("*-quality.md"))).read_text().strip() == out.strip()
