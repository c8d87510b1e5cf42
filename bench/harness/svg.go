package harness

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Chart is an SVG report: a header, then one row per panel with the latency
// percentile curves of its contenders on the left and their throughput as
// bars on the right, then footer lines.
type Chart struct {
	Title    string
	Subtitle []string
	Panels   []Panel
	Footer   []string
}

// Panel is one scenario.
type Panel struct {
	Title  string
	Unit   string // of the bars: "req/s", "MiB/s"
	Bars   []Bar
	Curves []Series
}

// Bar is one contender's throughput; Note is printed after the value.
type Bar struct {
	Name  string
	Value float64
	Note  string
}

// Series is one contender's percentile curve.
type Series struct {
	Name   string
	Points []CurvePoint
}

// Layout, in SVG user units.
const (
	svgWidth   = 1000
	svgRowH    = 250
	svgLineH   = 16
	plotLeft   = 70  // curve plot area
	plotRight  = 560 //
	barsLeft   = 720 // bar area; names go left of it
	barsRight  = 900
	plotTopPad = 34
	plotBotPad = 46
)

var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

// WriteSVG renders c. The SVG is plain markup with no scripts, fonts or
// other dependencies, so any browser or GitHub shows it.
func WriteSVG(w io.Writer, c Chart) error {
	colors := map[string]string{}
	color := func(name string) string {
		if col, ok := colors[name]; ok {
			return col
		}
		col := palette[len(colors)%len(palette)]
		colors[name] = col
		return col
	}
	headH := 40 + svgLineH*len(c.Subtitle)
	height := headH + svgRowH*len(c.Panels) + svgLineH*len(c.Footer) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	text(&b, 20, 26, "start", "font-size=\"18\" font-weight=\"bold\"", c.Title)
	for i, s := range c.Subtitle {
		text(&b, 20, 26+svgLineH*(i+1), "start", `fill="#555"`, s)
	}
	for i, p := range c.Panels {
		panel(&b, headH+i*svgRowH, p, color)
	}
	y := headH + svgRowH*len(c.Panels) + 4
	for i, s := range c.Footer {
		text(&b, 20, y+svgLineH*i, "start", "", s)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func panel(b *strings.Builder, top int, p Panel, color func(string) string) {
	fmt.Fprintf(b, `<line x1="10" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", top, svgWidth-10, top)
	text(b, 20, top+20, "start", `font-size="14" font-weight="bold"`, p.Title)
	y0, y1 := top+plotTopPad, top+svgRowH-plotBotPad // plot area, top to bottom
	curves(b, y0, y1, p.Curves, color)
	bars(b, y0, p, color)
}

// curves plots latency (log scale) against percentile (log10(1/(1-p))).
func curves(b *strings.Builder, y0, y1 int, series []Series, color func(string) string) {
	xmax, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, pt := range s.Points {
			xmax = math.Max(xmax, pctX(pt.Percentile))
			if pt.Ms > 0 {
				lo, hi = math.Min(lo, pt.Ms), math.Max(hi, pt.Ms)
			}
		}
	}
	if math.IsInf(lo, 0) {
		text(b, (plotLeft+plotRight)/2, (y0+y1)/2, "middle", `fill="#999"`, "no latency samples")
		return
	}
	xmax = math.Ceil(math.Max(xmax, 1))
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	px := func(x float64) float64 { return plotLeft + x/xmax*(plotRight-plotLeft) }
	py := func(v float64) float64 {
		return float64(y1) - (math.Log10(v)-dlo)/(dhi-dlo)*float64(y1-y0)
	}
	// Grid: decades labelled, 2 and 5 faint.
	for d := dlo; d <= dhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if d == dhi && m > 1 {
				break
			}
			y := py(v)
			stroke := "#eee"
			if m == 1 {
				stroke = "#ccc"
				text(b, plotLeft-6, int(y)+4, "end", "", fmtAxisMs(v))
			}
			fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotLeft, y, plotRight, y, stroke)
		}
	}
	for x := 0.0; x <= xmax; x++ {
		X := px(x)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc"/>`+"\n", X, y0, X, y1)
		text(b, int(X), y1+14, "middle", "", pctLabel(x))
	}
	text(b, (plotLeft+plotRight)/2, y1+30, "middle", `fill="#555"`, "percentile (latency, log scale)")
	// The legend goes bottom right, where percentile curves (which only
	// rise) rarely are, on a backdrop in case they do.
	legendW, legendH := 130, 6+14*len(series)
	lx, ly := plotRight-legendW-6, y1-legendH-6
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" fill-opacity="0.85" stroke="#ddd"/>`+"\n", lx, ly, legendW, legendH)
	for i, s := range series {
		col := color(s.Name)
		var pts []string
		for _, pt := range s.Points {
			if pt.Ms > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(pctX(pt.Percentile)), py(pt.Ms)))
			}
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
		if len(pts) <= 5 { // a few samples (downloads): show each point
			for _, p := range pts {
				x, y, _ := strings.Cut(p, ",")
				fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", x, y, col)
			}
		}
		y := ly + 14 + i*14
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx+6, y-4, lx+22, y-4, col)
		text(b, lx+26, y, "start", "", s.Name)
	}
}

// pctX is the percentile axis: 0% → 0, 90% → 1, 99% → 2, ...
func pctX(p float64) float64 {
	if p >= 100 {
		return 6
	}
	return math.Log10(100 / (100 - p))
}

func pctLabel(x float64) string {
	if x == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.*f%%", max(int(x)-2, 0), 100-100*math.Pow(10, -x))
}

func fmtAxisMs(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%gs", v/1000)
	case v >= 1:
		return fmt.Sprintf("%gms", v)
	}
	return fmt.Sprintf("%gµs", math.Round(v*1000))
}

// bars draws one horizontal bar per contender, scaled to the largest.
func bars(b *strings.Builder, y0 int, p Panel, color func(string) string) {
	top := 0.0
	for _, bar := range p.Bars {
		top = math.Max(top, bar.Value)
	}
	text(b, barsLeft, y0-8, "start", `fill="#555"`, "throughput, "+p.Unit)
	for i, bar := range p.Bars {
		y := y0 + 6 + i*30
		w := 0.0
		if top > 0 {
			w = bar.Value / top * (barsRight - barsLeft)
		}
		text(b, barsLeft-6, y+14, "end", "", bar.Name)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="20" fill="%s"/>`+"\n", barsLeft, y, w, color(bar.Name))
		label := formatValue(bar.Value)
		if bar.Note != "" {
			label += " " + bar.Note
		}
		text(b, barsLeft+int(w)+4, y+14, "start", "", label)
	}
}

func formatValue(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func text(b *strings.Builder, x, y int, anchor, attrs, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, attrs, xmlEscaper.Replace(s))
}
