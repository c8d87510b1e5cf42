package harness

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	if got := bucketIndex(maxTrackable) + 1; got != numBuckets {
		t.Fatalf("numBuckets = %d, want bucketIndex(maxTrackable)+1 = %d", numBuckets, got)
	}
	// Every value falls inside its bucket's range, indexes never go back,
	// and no bucket is wider than 1/128 of its values.
	prev := -1
	check := func(v int64) {
		i := bucketIndex(v)
		low, w := bucketRange(i)
		if v < low || v >= low+w {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, low, low+w)
		}
		if i < prev {
			t.Fatalf("bucketIndex(%d) = %d < previous %d", v, i, prev)
		}
		if w > 1 && float64(w)/float64(low) > 1.0/128 {
			t.Fatalf("bucket %d [%d, +%d) is %.2f%% wide", i, low, w, 100*float64(w)/float64(low))
		}
		prev = i
	}
	for v := int64(0); v < 5000; v++ {
		check(v)
	}
	for v := int64(5000); v <= maxTrackable; v += v/97 + 1 {
		check(v - 1)
		check(v)
	}
}

// TestQuantileAccuracy compares the histogram with exact quantiles of the
// same samples for distributions shaped like real latencies.
func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"uniform 1µs-100ms": func() time.Duration { return time.Microsecond + time.Duration(r.Int64N(int64(100*time.Millisecond))) },
		"exponential mean 2ms": func() time.Duration {
			return time.Microsecond + time.Duration(r.ExpFloat64()*float64(2*time.Millisecond))
		},
		"lognormal median 300µs": func() time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*1.2) * float64(300*time.Microsecond))
		},
		"bimodal 50µs and 40ms": func() time.Duration {
			if r.IntN(100) < 3 {
				return 40*time.Millisecond + time.Duration(r.Int64N(int64(5*time.Millisecond)))
			}
			return 50*time.Microsecond + time.Duration(r.Int64N(int64(20*time.Microsecond)))
		},
		"seconds": func() time.Duration { return time.Duration(1+r.Float64()*60) * time.Second },
	}
	for name, next := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 200_000)
			for i := range samples {
				samples[i] = next()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
				rank := max(int(math.Ceil(q*float64(len(samples)))), 1)
				want := samples[rank-1]
				got := h.Quantile(q)
				if err := math.Abs(float64(got-want)) / float64(want); err > 0.01 {
					t.Errorf("q%v = %v, exact %v: %.2f%% off", q, got, want, 100*err)
				}
			}
			if h.Max() != samples[len(samples)-1] || h.Min() != samples[0] {
				t.Errorf("min/max = %v/%v, want %v/%v", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
			}
			var sum time.Duration
			for _, s := range samples {
				sum += s
			}
			if want := sum / time.Duration(len(samples)); h.Mean() != want {
				t.Errorf("mean = %v, want %v", h.Mean(), want)
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-5)
	h.Record(3 * time.Minute) // above maxTrackable: last bucket, exact max
	if h.Min() != 1 || h.Max() != 3*time.Minute || h.Quantile(1) != 3*time.Minute {
		t.Fatalf("min %v max %v q1 %v", h.Min(), h.Max(), h.Quantile(1))
	}
	if h.Quantile(0.5) != 1 {
		t.Fatalf("median of {1ns, 3min} = %v, want 1ns", h.Quantile(0.5))
	}
}

func TestMergeAndSince(t *testing.T) {
	var a, b Histogram
	for i := range 1000 {
		a.Record(time.Duration(i+1) * time.Microsecond)
	}
	snap := a.Snapshot()
	for i := range 1000 {
		a.Record(time.Duration(i+1) * time.Millisecond)
		b.Record(time.Duration(i+1) * time.Millisecond)
	}
	d := a.Since(snap)
	if d.Count() != 1000 {
		t.Fatalf("Since: count %d, want 1000", d.Count())
	}
	for _, q := range []float64{0.01, 0.5, 0.99} {
		if got, want := d.Quantile(q), b.Quantile(q); got != want {
			t.Errorf("Since q%v = %v, want %v", q, got, want)
		}
	}
	var m Histogram
	m.Merge(snap)
	m.Merge(&b)
	if m.Count() != a.Count() || m.Quantile(0.5) != a.Quantile(0.5) || m.Max() != a.Max() || m.Min() != a.Min() {
		t.Errorf("merge differs: count %d/%d p50 %v/%v", m.Count(), a.Count(), m.Quantile(0.5), a.Quantile(0.5))
	}
}

func TestCurve(t *testing.T) {
	var h Histogram
	for i := range 10_000 {
		h.Record(time.Duration(i+1) * time.Microsecond)
	}
	c := Curve(&h)
	if c[0].Percentile != 0 || c[len(c)-1].Percentile != 99.99 {
		t.Fatalf("curve from %v%% to %v%%, want 0 to 99.99", c[0].Percentile, c[len(c)-1].Percentile)
	}
	for i := 1; i < len(c); i++ {
		if c[i].Ms < c[i-1].Ms || c[i].Percentile <= c[i-1].Percentile {
			t.Fatalf("curve not increasing at %d: %v after %v", i, c[i], c[i-1])
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(1234567)
		for pb.Next() {
			h.Record(d)
			d += 997
		}
	})
}
