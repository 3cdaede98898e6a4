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
    # the desk's daily charts (issue 14); cross_section.json sends numbers as strings
    "pie": ("cross_section.json", "items=result.rows label=name value=change",
            "商品期货涨跌分布 2026-11-20"),
    "cross_section": ("cross_section.json", "items=result.rows label=name price=last "
                      "settle=pre_settle y_unit=涨跌幅%", "各品种涨跌幅（相对昨结算价）"),
    "scatter_color": ("scatter.json", "items=data label=name x=change y=oi_change color=oi "
                      "color_unit=持仓量 x_unit=涨跌幅% y_unit=持仓变化%",
                      "涨跌幅与持仓变化（颜色为持仓量）"),
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


@pytest.mark.parametrize("change, colour", [
    (3, (185, 28, 28)),      # an edge belongs to the bucket above it: >=3%, the deepest red
    (2.99, (219, 97, 97)),   # 1~3%
    (0, (252, 165, 165)),    # unchanged counts with 0~1%
    (-0.01, (134, 239, 172)),  # -1~0%
    (-3.5, (21, 128, 61)),   # <-3%, the deepest green
])
def test_pie_bucket_edges(change, colour, tmp_path):
    """Every product in one bucket: the whole ring has that bucket's colour."""
    data = tmp_path / "one.json"
    data.write_text(json.dumps([{"name": f"p{i}", "change": change} for i in range(4)]))
    out = tmp_path / "pie.png"
    r = render("pie", out, mapping="value=change", data=data)
    assert r.returncode == 0, r.stderr
    img = Image.open(out).convert("RGB")
    # ring of radius 160 around (184, 272) at 800x500 with a title
    assert img.getpixel((190, 150)) == colour and img.getpixel((184, 400)) == colour


def test_pie_custom_buckets(tmp_path):
    data = tmp_path / "one.json"
    data.write_text(json.dumps([{"name": "a", "change": 0.5}]))
    out = tmp_path / "pie.png"
    # one edge, two buckets: 0.5 is the deepest (only) gain bucket
    assert render("pie", out, mapping="value=change buckets=0", data=data).returncode == 0
    assert Image.open(out).convert("RGB").getpixel((190, 150)) == (185, 28, 28)


@pytest.mark.parametrize("mapping, message", [
    ("value=change buckets=1,0", "ascending"),
    ("value=change buckets=a", "ascending"),
    ("value=change buckets=1,2,3,4,5,6,7,8,9,10", "1 to 9"),
])
def test_pie_bad_buckets_are_refused(mapping, message, tmp_path):
    r = render("pie", tmp_path / "x.png", mapping=mapping,
               data=FIXTURES / "scatter.json")
    assert r.returncode == 1 and message in r.stderr, r.stderr


def test_cross_section_sorts_and_marks_the_ends(tmp_path):
    """Change against settlement: (price - settle) / settle; the largest gain is
    the first bar (deep red), the largest loss the last (deep green)."""
    data = tmp_path / "cross.json"
    rows = [{"name": f"p{i}", "px": 100 + d, "settle": 100} for i, d in
            enumerate([1, -4, 6, 0.5, -2, 3, -1, 2])]
    data.write_text(json.dumps(rows))
    out = tmp_path / "cross.png"
    r = render("cross_section", out, mapping="price=px settle=settle", data=data)
    assert r.returncode == 0, r.stderr
    img = Image.open(out).convert("RGB")
    # bars are centred on their slots between x0=70 and x1=776; sample just
    # beside the zero line, inside the first and last bars
    slot = (776 - 70) / 8
    first, last = int(70 + slot / 2), int(70 + 7.5 * slot)
    column = [img.getpixel((first, y)) for y in range(70, 460)]
    assert (185, 28, 28) in column  # deep red: a top-three bar
    column = [img.getpixel((last, y)) for y in range(70, 460)]
    assert (21, 128, 61) in column  # deep green: a bottom-three bar
    middle = [img.getpixel((int(70 + 3.5 * slot), y)) for y in range(70, 460)]
    assert (185, 28, 28) not in middle and (21, 128, 61) not in middle
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "px": 1, "settle": 0}]))
    r = render("cross_section", tmp_path / "x.png", mapping="price=px settle=settle", data=bad)
    assert r.returncode == 1 and "no positive settlement in field 'settle'" in r.stderr


def test_scatter_color_needs_its_field(tmp_path):
    r = render("scatter_color", tmp_path / "x.png", mapping="color=nowhere",
               data=FIXTURES / "scatter.json")
    assert r.returncode == 1 and "no number in field 'nowhere'" in r.stderr
