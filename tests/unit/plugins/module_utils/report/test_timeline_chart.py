"""report/timeline_chart.py: the PNG timeline every report draws (drawn for real with Agg)."""

import struct

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.report import timeline_chart


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    return struct.unpack(">II", head[16:24])


def test_lane():
    assert timeline_chart.lane("drain n1", 3.0, 30.0, "#dd8452", note="3 pods") == {
        "label": "drain n1", "start": 3.0, "seconds": 30.0, "colour": "#dd8452", "note": "3 pods"}


def test_bars_and_tick_lanes(tmp_path):
    path = str(tmp_path / "t.png")
    bars = [timeline_chart.lane("control plane", 0, 60, "#4c72b0"),
            timeline_chart.lane("drain n1", 61, 0.0, timeline_chart.FAILED, note="failed")]  # zero width stays visible
    assert timeline_chart.render(path, "upgrade", bars, "seconds", tick_lanes=[("probe web (2 failed)", [62, 63])],
                                 markers=[(61, "drain")], dpi=50) == path
    width, height = png_size(path)
    assert width == 11 * 50 and height > 0


def test_taller_with_more_lanes(tmp_path):
    few, many = str(tmp_path / "few.png"), str(tmp_path / "many.png")
    timeline_chart.render(few, "t", [timeline_chart.lane("a", 0, 1, "#000000")], "s", dpi=40)
    timeline_chart.render(many, "t", [timeline_chart.lane(str(i), i, 1, "#000000") for i in range(30)], "s", dpi=40)
    assert png_size(many)[1] > png_size(few)[1]


def test_availability_panel_limits_and_zero_line(tmp_path):
    path = str(tmp_path / "drill.png")
    timeline_chart.render(path, "drill", [timeline_chart.lane("fault", 0, 5, "#8172b3")], "seconds since the fault",
                          availability=("web", [-10, 0, 12, 40], [1, 0, 1, 1]), xlim=(-10, 40), zero_line=True, dpi=40)
    assert png_size(path) == (11 * 40, int(5.5 * 40))
    timeline_chart.render(path, "drill", [], "s", availability=("web", [], []), dpi=40)  # no samples: an empty panel


def test_without_matplotlib_the_error_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(timeline_chart, "HAS_MATPLOTLIB", False)
    monkeypatch.setattr(timeline_chart, "MATPLOTLIB_IMPORT_ERROR", ImportError("No module named 'matplotlib'"))
    with pytest.raises(timeline_chart.RunbookError, match="matplotlib is needed to draw .*t.png: No module named"):
        timeline_chart.render(str(tmp_path / "t.png"), "t", [], "s")
