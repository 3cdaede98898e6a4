"""Charts (issue 7): every kind rendered by the real renderer (tools/chat_chart,
the code a chart job runs) from the fixtures in tests/fixtures/charts; the PNG
decodes, has the configured size, and matches the reference in docs/charts/
within a pixel tolerance. The references were looked at by a person; after a
deliberate change to the renderer, regenerate them with
CHAT_UPDATE_CHART_REFERENCES=1 and look at them again."""
import json
import os
import subprocess

import pytest
from PIL import Image, ImageChops

from harness import BUILD, ROOT

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FIXTURES = ROOT / "tests" / "fixtures" / "charts"
REFERENCES = ROOT / "docs" / "charts"
TOOL = BUILD / "tools" / "chat_chart"

CHARTS = {
    "line": ("line.json", "items=data label=date series=close:收盘价,ma5:5日均线 y_unit=元/吨",
             "螺纹钢 rb 收盘价与5日均线"),
    "bar_line": ("bar_line.json",
                 "items=result.list label=date bar=volume:成交量 line=close:收盘价 y_unit=手 "
                 "y2_unit=元/吨", "螺纹钢 成交量与收盘价"),
    "candle": ("candle.json", "label=date y_unit=元/克", "黄金 au 日K线"),
    "treemap": ("treemap.json", "items=data label=name value=change weight=oi",
                "商品期货涨跌幅（面积为持仓量）"),
    "scatter": ("scatter.json", "items=data label=name x=change y=oi_change x_unit=涨跌幅%  "
                "y_unit=持仓变化%", "涨跌幅与持仓变化"),
}


def render(kind, out, size="800x500", mapping=None, data=None, repeat=None):
    fixture, default_mapping, title = CHARTS.get(kind, CHARTS["line"])
    args = [str(TOOL), kind, size, FONT, str(data or FIXTURES / fixture),
            mapping if mapping is not None else default_mapping, str(out), title]
    if repeat:
        args.append(str(repeat))
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def differing_fraction(a, b, threshold=48):
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L")
    hist = diff.histogram()
    return sum(hist[threshold:]) / float(a.width * a.height)


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_chart_matches_reference(kind, tmp_path):
    out = tmp_path / f"{kind}.png"
    r = render(kind, out)
    assert r.returncode == 0, r.stderr
    img = Image.open(out)
    img.load()
    assert img.format == "PNG" and img.size == (800, 500)
    ref = REFERENCES / f"{kind}.png"
    if os.environ.get("CHAT_UPDATE_CHART_REFERENCES"):
        img.save(ref)
    reference = Image.open(ref)
    assert reference.size == img.size
    # identical on the same libgd/FreeType/font; a little antialiasing drift allowed
    assert differing_fraction(img, reference) < 0.005, f"{kind} differs from {ref}"


def test_chart_size_is_configurable(tmp_path):
    out = tmp_path / "phone.png"
    assert render("candle", out, size="390x300").returncode == 0
    assert Image.open(out).size == (390, 300)


def test_chart_changes_when_the_data_changes(tmp_path):
    """The comparison can fail: other data gives another picture."""
    data = tmp_path / "other.json"
    data.write_text((FIXTURES / "candle.json").read_text().replace('"close": 6', '"close": 5'))
    out = tmp_path / "other.png"
    assert render("candle", out, data=data).returncode == 0
    assert differing_fraction(Image.open(out), Image.open(REFERENCES / "candle.png")) > 0.005


@pytest.mark.parametrize("mapping, message", [
    ("items=nowhere", "no array at 'nowhere'"),
    ("items=data label=date series=volume", "no number in field 'volume'"),
    ("items=data series", "is not field=value"),
])
def test_chart_data_errors_are_clear(mapping, message, tmp_path):
    r = render("line", tmp_path / "x.png", mapping=mapping)
    assert r.returncode == 1 and message in r.stderr, r.stderr


def test_chart_bad_size_and_font(tmp_path):
    r = render("line", tmp_path / "x.png", size="100x100")
    assert r.returncode == 1 and "chart size" in r.stderr
    r = subprocess.run([str(TOOL), "line", "800x500", "/nonexistent.ttf",
                        str(FIXTURES / "line.json"), CHARTS["line"][1], str(tmp_path / "x.png")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "font" in r.stderr


@pytest.mark.parametrize("kind", ["line", "bar_line", "scatter"])
def test_nearly_flat_data_renders(kind, tmp_path):
    """Values one rounding step apart once made the tick loop spin forever."""
    data = tmp_path / "flat.json"
    rows = [{"name": "a", "v": 0.3, "w": 1e17, "x": 0.3, "y": 1e17},
            {"name": "b", "v": 0.30000000000000004, "w": 1e17 + 16, "x": 0.3, "y": 1e17 + 16}]
    data.write_text(json.dumps(rows))
    mapping = {"line": "series=v", "bar_line": "bar=w line=v", "scatter": "x=x y=y"}[kind]
    r = render(kind, tmp_path / "flat.png", mapping=mapping, data=data)
    assert r.returncode == 0, r.stderr


def test_non_numbers_are_refused(tmp_path):
    data = tmp_path / "nan.json"
    data.write_text(json.dumps([{"name": "a", "v": "nan"}, {"name": "b", "v": "inf"}]))
    r = render("line", tmp_path / "x.png", mapping="series=v", data=data)
    assert r.returncode == 1 and "no number in field 'v'" in r.stderr
