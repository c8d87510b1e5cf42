package control

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/store"
)

// The Analytics page: requests and bandwidth over time from the stored
// per-minute usage, drawn as inline SVG on the server, with status
// classes, latency percentiles and blocked requests. The panel is a
// partial that the page refetches when the event stream says usage came.

// usageRange is a time window and the width of its chart bars.
type usageRange struct {
	Key   string
	Label string
	Per   string // what one bar is
	Span  time.Duration
	Step  time.Duration
}

var usageRanges = []usageRange{
	{"1h", "Last hour", "one bar a minute", time.Hour, time.Minute},
	{"6h", "Last 6 hours", "one bar every 5 minutes", 6 * time.Hour, 5 * time.Minute},
	{"24h", "Last 24 hours", "one bar every 15 minutes", 24 * time.Hour, 15 * time.Minute},
	{"7d", "Last 7 days", "one bar an hour", 7 * 24 * time.Hour, time.Hour},
}

func rangeOf(key string) usageRange {
	for _, r := range usageRanges {
		if r.Key == key {
			return r
		}
	}
	return usageRanges[0]
}

// usageBucket is one bar of the charts.
type usageBucket struct {
	Start                         time.Time
	Requests, BytesIn, BytesOut   int64
	S2xx, S3xx, S4xx, S5xx, Other int64
	Blocked                       int64
}

// usageSummary is what the panel and GET /api/v1/usage show.
type usageSummary struct {
	Endpoint string
	From, To time.Time
	Step     time.Duration
	Buckets  []usageBucket
	Total    store.UsageSample
	P50      time.Duration
	P90      time.Duration
	P99      time.Duration
}

// summarize buckets an account's usage in [to-span, to) by step.
func (u *web) summarize(ctx context.Context, acct, endpoint string, now time.Time, span, step time.Duration) (usageSummary, error) {
	to := now.UTC().Truncate(step).Add(step)
	return u.summarizeRange(ctx, acct, endpoint, to.Add(-span), to, step)
}

// summarizeRange buckets usage in [from, to) by step; from and to are
// multiples of step.
func (u *web) summarizeRange(ctx context.Context, acct, endpoint string, from, to time.Time, step time.Duration) (usageSummary, error) {
	samples, err := u.s.st.Usage(ctx, acct, endpoint, from, to)
	if err != nil {
		return usageSummary{}, err
	}
	n := int(to.Sub(from) / step)
	sum := usageSummary{Endpoint: endpoint, From: from, To: to, Step: step, Buckets: make([]usageBucket, n)}
	for i := range sum.Buckets {
		sum.Buckets[i].Start = from.Add(time.Duration(i) * step)
	}
	t := &sum.Total
	t.LatencyBuckets = make([]int64, api.NumLatencyBuckets)
	for _, s := range samples {
		i := int(s.Minute.Sub(from) / step)
		if i < 0 || i >= n {
			continue
		}
		b := &sum.Buckets[i]
		b.Requests += s.Requests
		b.BytesIn += s.BytesIn
		b.BytesOut += s.BytesOut
		b.S2xx += s.Status2xx + s.Status1xx
		b.S3xx += s.Status3xx
		b.S4xx += s.Status4xx
		b.S5xx += s.Status5xx
		b.Blocked += s.Blocked
		t.Requests += s.Requests
		t.BytesIn += s.BytesIn
		t.BytesOut += s.BytesOut
		t.Status1xx += s.Status1xx
		t.Status2xx += s.Status2xx
		t.Status3xx += s.Status3xx
		t.Status4xx += s.Status4xx
		t.Status5xx += s.Status5xx
		t.Blocked += s.Blocked
		for j, c := range s.LatencyBuckets {
			if j < len(t.LatencyBuckets) {
				t.LatencyBuckets[j] += c
			}
		}
	}
	for i := range sum.Buckets {
		b := &sum.Buckets[i]
		b.Other = max(0, b.Requests-b.S2xx-b.S3xx-b.S4xx-b.S5xx)
	}
	sum.P50 = percentile(t.LatencyBuckets, 0.50)
	sum.P90 = percentile(t.LatencyBuckets, 0.90)
	sum.P99 = percentile(t.LatencyBuckets, 0.99)
	return sum, nil
}

// percentile estimates a latency quantile from the histogram,
// interpolating linearly inside the bucket it falls in.
func percentile(buckets []int64, q float64) time.Duration {
	var total int64
	for _, c := range buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range buckets {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			if i >= len(api.LatencyBounds) {
				return api.LatencyBounds[len(api.LatencyBounds)-1]
			}
			lo := time.Duration(0)
			if i > 0 {
				lo = api.LatencyBounds[i-1]
			}
			hi := api.LatencyBounds[i]
			frac := (rank - seen) / float64(c)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += float64(c)
	}
	return api.LatencyBounds[len(api.LatencyBounds)-1]
}

type endpointTotal struct {
	Endpoint string
	Total    store.UsageSample
}

type analyticsData struct {
	Endpoints []string
	Selected  string
	Range     usageRange
	Ranges    []usageRange
	Sum       usageSummary
	PerEP     []endpointTotal
	ReqChart  template.HTML
	BWChart   template.HTML
}

func (u *web) analyticsData(r *http.Request, p *principal) (analyticsData, error) {
	q := r.URL.Query()
	d := analyticsData{Selected: strings.ToLower(q.Get("endpoint")), Range: rangeOf(q.Get("range")), Ranges: usageRanges}
	eps, _, err := u.endpointNames(r.Context(), p.acct.ID)
	if err != nil {
		return d, err
	}
	d.Endpoints = eps
	if d.Selected != "" && !validName(d.Selected) {
		d.Selected = ""
	}
	if d.Selected != "" && !slices.Contains(eps, d.Selected) {
		d.Endpoints = append(d.Endpoints, d.Selected) // a released name still has history
	}
	now := u.s.cfg.now()
	if d.Sum, err = u.summarize(r.Context(), p.acct.ID, d.Selected, now, d.Range.Span, d.Range.Step); err != nil {
		return d, err
	}
	if d.Selected == "" {
		for _, ep := range eps {
			if len(d.PerEP) == 20 {
				break
			}
			s, err := u.summarize(r.Context(), p.acct.ID, ep, now, d.Range.Span, d.Range.Step)
			if err != nil {
				return d, err
			}
			d.PerEP = append(d.PerEP, endpointTotal{ep, s.Total})
		}
	}
	d.ReqChart = requestsChart(d.Sum)
	d.BWChart = bandwidthChart(d.Sum)
	return d, nil
}

func (u *web) analyticsPage(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := u.analyticsData(r, p)
	if err != nil {
		u.failed(w, r, p, err)
		return
	}
	v := u.view(p, "Analytics", "analytics", d)
	v.Live = "analytics"
	u.render(w, r, http.StatusOK, "analytics.html", v)
}

// analyticsPanel is the page's charts and counters alone.
func (u *web) analyticsPanel(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := u.analyticsData(r, p)
	if err != nil {
		u.failed(w, r, p, err)
		return
	}
	html, err := u.fragment("analytics_panel", d)
	if err != nil {
		u.failed(w, r, p, err)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(html))
}

// Charts. The SVG is built from numbers and fixed strings; the only text
// from outside (none today) would go through template.HTMLEscapeString.

const (
	chartH           = 200.0
	padL, padR, padT = 56.0, 8.0, 10.0
	padB             = 24.0

	// Each chart is drawn twice, wide for laptops and narrow for phones
	// (CSS shows one), so that its text keeps a readable size.
	wideW, narrowW = 720.0, 360.0
)

// bothWidths draws a chart at both widths.
func bothWidths(draw func(w float64) string) template.HTML {
	return template.HTML(`<div class="chart-wide">` + draw(wideW) + `</div><div class="chart-narrow">` + draw(narrowW) + `</div>`)
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

type series struct {
	class string
	vals  []float64
}

func chartFrame(b *strings.Builder, chartW float64, sum usageSummary, ymax float64, label func(float64) string, title string) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, template.HTMLEscapeString(title))
	plotH := chartH - padT - padB
	for i := 0; i <= 4; i++ {
		y := padT + plotH*float64(i)/4
		fmt.Fprintf(b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(b, `<text class="ylab" x="%g" y="%.1f">%s</text>`, padL-6, y+4, label(ymax*float64(4-i)/4))
	}
	n := len(sum.Buckets)
	if n == 0 {
		return
	}
	format := "15:04"
	if sum.Step >= time.Hour {
		format = "Jan 2 15:04"
	}
	plotW := chartW - padL - padR
	ticks := []int{0, n / 2, n - 1}
	if chartW < wideW {
		ticks = []int{0, n - 1}
	}
	for _, i := range ticks {
		x := padL + plotW*(float64(i)+0.5)/float64(n)
		anchor := "middle"
		if i == 0 {
			anchor = "start"
			x = padL
		} else if i == n-1 {
			anchor = "end"
			x = chartW - padR
		}
		fmt.Fprintf(b, `<text class="xlab" x="%.1f" y="%g" text-anchor="%s">%s</text>`, x, chartH-6, anchor,
			sum.Buckets[i].Start.UTC().Format(format))
	}
}

// axisNum labels a request count axis; quarter steps of a small maximum
// are not whole.
func axisNum(v float64) string {
	if v < 100 && v != math.Trunc(v) {
		return fmt.Sprintf("%.1f", v)
	}
	return fmtNum(int64(v))
}

// requestsChart draws requests per bucket as bars stacked by status class.
func requestsChart(sum usageSummary) template.HTML {
	return bothWidths(func(w float64) string { return requestsSVG(sum, w) })
}

func requestsSVG(sum usageSummary, chartW float64) string {
	var ymax float64
	for _, bk := range sum.Buckets {
		ymax = max(ymax, float64(bk.Requests))
	}
	ymax = niceMax(ymax)
	var b strings.Builder
	chartFrame(&b, chartW, sum, ymax, axisNum, "Requests over time")
	n := float64(len(sum.Buckets))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	bw := plotW / n
	gap := math.Min(2, bw*0.2)
	for i, bk := range sum.Buckets {
		if bk.Requests == 0 {
			continue
		}
		x := padL + bw*float64(i)
		y := padT + plotH
		fmt.Fprintf(&b, `<g><title>%s · %d requests (%d 2xx, %d 3xx, %d 4xx, %d 5xx, %d blocked)</title>`,
			bk.Start.UTC().Format("Jan 2 15:04 UTC"), bk.Requests, bk.S2xx, bk.S3xx, bk.S4xx, bk.S5xx, bk.Blocked)
		for _, part := range []struct {
			class string
			v     int64
		}{{"c2", bk.S2xx + bk.Other}, {"c3", bk.S3xx}, {"c4", bk.S4xx}, {"c5", bk.S5xx}} {
			if part.v == 0 {
				continue
			}
			h := plotH * float64(part.v) / ymax
			y -= h
			fmt.Fprintf(&b, `<rect class="%s" x="%.2f" y="%.2f" width="%.2f" height="%.2f"/>`, part.class, x+gap/2, y, bw-gap, h)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// bandwidthChart draws bytes in and out per bucket as two areas.
func bandwidthChart(sum usageSummary) template.HTML {
	return bothWidths(func(w float64) string { return bandwidthSVG(sum, w) })
}

func bandwidthSVG(sum usageSummary, chartW float64) string {
	in := series{"bin", make([]float64, len(sum.Buckets))}
	out := series{"bout", make([]float64, len(sum.Buckets))}
	var ymax float64
	for i, bk := range sum.Buckets {
		in.vals[i], out.vals[i] = float64(bk.BytesIn), float64(bk.BytesOut)
		ymax = max(ymax, in.vals[i], out.vals[i])
	}
	ymax = niceMax(ymax)
	var b strings.Builder
	chartFrame(&b, chartW, sum, ymax, func(v float64) string { return fmtBytes(int64(v)) }, "Bandwidth over time")
	n := float64(len(sum.Buckets))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	base := padT + plotH
	for _, s := range []series{out, in} {
		var line strings.Builder
		for i, v := range s.vals {
			x := padL + plotW*(float64(i)+0.5)/n
			y := base - plotH*v/ymax
			if i == 0 {
				fmt.Fprintf(&line, "M%.1f %.1f", x, y)
			} else {
				fmt.Fprintf(&line, " L%.1f %.1f", x, y)
			}
		}
		if line.Len() == 0 {
			continue
		}
		x0, x1 := padL+plotW*0.5/n, padL+plotW*(n-0.5)/n
		fmt.Fprintf(&b, `<path class="%s-area" d="%s L%.1f %.1f L%.1f %.1f Z"/>`, s.class, line.String(), x1, base, x0, base)
		fmt.Fprintf(&b, `<path class="%s-line" d="%s"/>`, s.class, line.String())
	}
	for i, bk := range sum.Buckets {
		if bk.BytesIn == 0 && bk.BytesOut == 0 {
			continue
		}
		x := padL + plotW*float64(i)/n
		fmt.Fprintf(&b, `<rect class="hit" x="%.2f" y="%g" width="%.2f" height="%g"><title>%s · in %s, out %s</title></rect>`,
			x, padT, plotW/n, plotH, bk.Start.UTC().Format("Jan 2 15:04 UTC"), fmtBytes(bk.BytesIn), fmtBytes(bk.BytesOut))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
