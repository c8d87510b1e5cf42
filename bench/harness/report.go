package harness

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is a Result in plain numbers, for JSON and tables. Latencies are
// in milliseconds.
type Summary struct {
	Label        string       `json:"label"`
	Requests     int64        `json:"requests"`
	Errors       int64        `json:"errors"`
	ErrorSamples []string     `json:"error_samples,omitempty"`
	Dropped      int64        `json:"dropped,omitempty"`
	Late         int64        `json:"late,omitempty"`
	Seconds      float64      `json:"seconds"`
	Bytes        int64        `json:"bytes"`
	RPS          float64      `json:"rps"`
	MiBps        float64      `json:"mib_per_s"`
	MeanMs       float64      `json:"mean_ms"`
	P50Ms        float64      `json:"p50_ms"`
	P90Ms        float64      `json:"p90_ms"`
	P99Ms        float64      `json:"p99_ms"`
	P999Ms       float64      `json:"p99_9_ms"`
	MaxMs        float64      `json:"max_ms"`
	Curve        []CurvePoint `json:"curve,omitempty"`
}

// CurvePoint is one point of a latency percentile curve.
type CurvePoint struct {
	Percentile float64 `json:"p"`
	Ms         float64 `json:"ms"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Summary reduces r to numbers; withCurve adds the percentile curve.
func (r *Result) Summary(withCurve bool) Summary {
	h := r.Latency
	s := Summary{
		Label: r.Label, Requests: r.Requests, Errors: r.Errors, ErrorSamples: r.ErrorSamples,
		Dropped: r.Dropped, Late: r.Late, Seconds: r.Elapsed.Seconds(), Bytes: r.Bytes,
		RPS: r.RPS(), MiBps: r.MiBps(),
		MeanMs: ms(h.Mean()), P50Ms: ms(h.Quantile(0.5)), P90Ms: ms(h.Quantile(0.9)),
		P99Ms: ms(h.Quantile(0.99)), P999Ms: ms(h.Quantile(0.999)), MaxMs: ms(h.Max()),
	}
	if withCurve {
		s.Curve = Curve(h)
	}
	return s
}

// Curve samples h's percentiles evenly on the axis HdrHistogram plots use,
// x = log10(1/(1-p)): 0%, 90%, 99%, 99.9%… are equally spaced. It goes as far
// as the sample count supports (one sample in 10^x), at most 99.999%.
func Curve(h *Histogram) []CurvePoint {
	n := h.Count()
	if n == 0 {
		return nil
	}
	xmax := min(math.Log10(float64(n)), 5)
	var out []CurvePoint
	for i := 0; ; i++ {
		x := min(float64(i)*0.1, xmax)
		q := 1 - math.Pow(10, -x)
		out = append(out, CurvePoint{Percentile: round(100*q, 5), Ms: round(ms(h.Quantile(q)), 4)})
		if x >= xmax {
			return out
		}
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// WriteText writes one row per result, then error samples and open-loop
// counts below the table.
func WriteText(w io.Writer, results []Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\terrors\treq/s\tMiB/s\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, s := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", s.Label, s.Requests, s.Errors,
			s.RPS, s.MiBps, fmtMs(s.P50Ms), fmtMs(s.P90Ms), fmtMs(s.P99Ms), fmtMs(s.P999Ms), fmtMs(s.MaxMs))
	}
	tw.Flush()
	for _, s := range results {
		if s.Dropped > 0 || s.Late > 0 {
			fmt.Fprintf(w, "%s: open loop: %d late (started over %v after due), %d dropped (backlog full)\n",
				s.Label, s.Late, lateAfter, s.Dropped)
		}
		for _, e := range s.ErrorSamples {
			fmt.Fprintf(w, "%s: error: %s\n", s.Label, e)
		}
	}
}

// fmtMs prints a latency in milliseconds as FormatDuration does.
func fmtMs(v float64) string { return FormatDuration(time.Duration(v * 1e6)) }

// mdEscape keeps a table cell in one Markdown cell.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
