#!/bin/bash
# Chart rendering time: every kind rendered from the test fixtures by
# tools/chat_chart (the renderer chart jobs use), REPEAT times each, at
# phone-friendly 800x500 and at 1600x1000.
#   bench/charts.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
REPEAT=${1:-50}
FONT=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
F=tests/fixtures/charts
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: bench/charts.sh $REPEAT"
for size in 800x500 1600x1000; do
  tools/chat_chart line "$size" $FONT $F/line.json "items=data label=date series=close:收盘价,ma5:5日均线 y_unit=元/吨" "$OUT/l.png" "螺纹钢" "$REPEAT"
  tools/chat_chart bar_line "$size" $FONT $F/bar_line.json "items=result.list label=date bar=volume:成交量 line=close:收盘价" "$OUT/b.png" "螺纹钢" "$REPEAT"
  tools/chat_chart candle "$size" $FONT $F/candle.json "label=date" "$OUT/c.png" "黄金" "$REPEAT"
  tools/chat_chart treemap "$size" $FONT $F/treemap.json "items=data value=change weight=oi" "$OUT/t.png" "涨跌幅" "$REPEAT"
  tools/chat_chart scatter "$size" $FONT $F/scatter.json "items=data x=change y=oi_change" "$OUT/s.png" "涨跌幅与持仓" "$REPEAT"
done
