package harness

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets, in the style of
// HdrHistogram: every power-of-two range of nanoseconds [2^k, 2^(k+1)) above
// 2^(subBits+1) is split into 2^subBits equal buckets, and smaller values are
// kept exactly. A bucket is therefore at most 1/128 of its values wide (under
// 0.8%), and a quantile reported as the bucket's midpoint is within 0.4% of
// the recorded value. Values above maxTrackable (100 s) land in the last
// bucket; Max stays exact.
//
// Record is lock-free (atomic adds), so one Histogram can be shared by every
// worker of a run and read while the run goes on (the progress line).
// Reading while recording gives a slightly torn but usable picture.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Int64
	min    atomic.Int64 // 0 means unset; recorded values are ≥ 1 ns
}

const (
	subBits      = 7
	subCount     = 1 << subBits
	maxTrackable = int64(100 * time.Second)
)

// numBuckets is bucketIndex(maxTrackable)+1 (checked by a test): 29 shifts
// of 128 buckets for 100 s ≈ 2^36.5 ns, 31 KB of counters.
const numBuckets = 3899

// bucketIndex maps v ≥ 0 (ns) to its bucket. With shift = how many low bits
// are dropped, index = shift*subCount + v>>shift is continuous across the
// power-of-two boundaries and monotonic in v.
func bucketIndex(v int64) int {
	shift := max(bits.Len64(uint64(v))-1-subBits, 0)
	return shift*subCount + int(v>>shift)
}

// bucketRange returns the smallest value in bucket i and the bucket's width.
func bucketRange(i int) (low, width int64) {
	if i < 2*subCount {
		return int64(i), 1
	}
	shift := i/subCount - 1
	return int64(i-shift*subCount) << shift, 1 << shift
}

// Record adds one sample. Negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 1) // 1 ns floor keeps min's "0 = unset" unambiguous
	h.counts[bucketIndex(min(v, maxTrackable))].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	for m := h.max.Load(); v > m && !h.max.CompareAndSwap(m, v); m = h.max.Load() {
	}
	for m := h.min.Load(); (m == 0 || v < m) && !h.min.CompareAndSwap(m, v); m = h.min.Load() {
	}
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max and Min are exact.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }
func (h *Histogram) Min() time.Duration { return time.Duration(h.min.Load()) }

// Mean is exact.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value below or at which a fraction q of the samples
// lie (q in [0, 1]), as the midpoint of its bucket, clamped to [Min, Max].
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	// The rank of the sample wanted, 1-based: the smallest r with r/n ≥ q.
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	if rank >= n {
		return h.Max() // exact, even above maxTrackable
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			low, w := bucketRange(i)
			v := low + (w-1)/2
			return time.Duration(min(max(v, h.min.Load()), h.max.Load()))
		}
	}
	return h.Max() // torn read while recording: the counts lag total
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
	if m := o.min.Load(); m != 0 && (h.min.Load() == 0 || m < h.min.Load()) {
		h.min.Store(m)
	}
}

// Since returns the samples recorded in h but not in prev, an earlier
// snapshot of h (for the progress line's "last second" figures). Min and Max
// of the difference are only known to bucket precision.
func (h *Histogram) Since(prev *Histogram) *Histogram {
	d := new(Histogram)
	lo, hi := -1, -1
	for i := range h.counts {
		c := h.counts[i].Load() - prev.counts[i].Load()
		if c == 0 {
			continue
		}
		d.counts[i].Store(c)
		d.total.Add(c)
		if lo < 0 {
			lo = i
		}
		hi = i
	}
	d.sum.Store(h.sum.Load() - prev.sum.Load())
	if lo >= 0 {
		l, _ := bucketRange(lo)
		hl, w := bucketRange(hi)
		d.min.Store(max(l, 1))
		d.max.Store(hl + w - 1)
	}
	return d
}

// Snapshot returns a copy of h.
func (h *Histogram) Snapshot() *Histogram {
	c := new(Histogram)
	c.Merge(h)
	return c
}
