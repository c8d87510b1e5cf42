package store

import (
	"reflect"
	"testing"
	"time"
)

func buckets(pairs ...int64) []int64 {
	b := make([]int64, NumLatencyBuckets)
	for i := 0; i < len(pairs); i += 2 {
		b[pairs[i]] = pairs[i+1]
	}
	return b
}

func TestAddUsageMergesDeltas(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	minute := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

	// Two edges report the same minute of the same endpoint, one of them
	// in two pushes and with a time inside the minute and another zone.
	edge1 := UsageSample{AccountID: "acct", Endpoint: "shop", Minute: minute.Add(17 * time.Second),
		Requests: 10, BytesIn: 1000, BytesOut: 5000, Status2xx: 9, Status5xx: 1,
		LatencyBuckets: []int64{2, 3, 5}}
	edge2 := UsageSample{AccountID: "acct", Endpoint: "Shop", Minute: minute.In(time.FixedZone("X", 3600)),
		Requests: 4, BytesIn: 40, BytesOut: 400, Status1xx: 1, Status3xx: 1, Status4xx: 2, Blocked: 2,
		LatencyBuckets: buckets(2, 1, 13, 3)}
	if err := s.AddUsage(ctx, edge1); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUsage(ctx, edge2, edge1); err != nil {
		t.Fatal(err)
	}

	want := UsageSample{AccountID: "acct", Endpoint: "shop", Minute: minute,
		Requests: 24, BytesIn: 2040, BytesOut: 10400,
		Status1xx: 1, Status2xx: 18, Status3xx: 1, Status4xx: 2, Status5xx: 2, Blocked: 2,
		LatencyBuckets: buckets(0, 4, 1, 6, 2, 11, 13, 3)}
	got := must[[]UsageSample](t)(s.Usage(ctx, "acct", "shop", minute, minute.Add(time.Minute)))
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("Usage = %+v\nwant %+v", got, want)
	}

	// Add does what the store does.
	var sum UsageSample
	for _, u := range []UsageSample{edge1, edge2, edge1} {
		sum.Add(u)
	}
	sum.AccountID, sum.Endpoint, sum.Minute = want.AccountID, want.Endpoint, want.Minute
	if !reflect.DeepEqual(sum, want) {
		t.Fatalf("Add = %+v\nwant %+v", sum, want)
	}
}

func TestUsageQueries(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	sample := func(acct, ep string, m int, req int64) UsageSample {
		return UsageSample{AccountID: acct, Endpoint: ep, Minute: t0.Add(time.Duration(m) * time.Minute),
			Requests: req, Status2xx: req, LatencyBuckets: buckets(3, req)}
	}
	err := s.AddUsage(ctx,
		sample("a", "one", 0, 1), sample("a", "two", 0, 2),
		sample("a", "one", 1, 4),
		sample("a", "two", 3, 8),
		sample("a", "one", 5, 16), // outside [t0, t0+5m)
		sample("b", "one", 1, 32), // another account
	)
	if err != nil {
		t.Fatal(err)
	}

	got := must[[]UsageSample](t)(s.Usage(ctx, "a", "one", t0, t0.Add(5*time.Minute)))
	if want := []UsageSample{sample("a", "one", 0, 1), sample("a", "one", 1, 4)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Usage(a, one) = %+v\nwant %+v", got, want)
	}
	got = must[[]UsageSample](t)(s.Usage(ctx, "a", "", t0, t0.Add(5*time.Minute)))
	want := []UsageSample{sample("a", "", 0, 3), sample("a", "", 1, 4), sample("a", "", 3, 8)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Usage(a, all) = %+v\nwant %+v", got, want)
	}
	if got := must[[]UsageSample](t)(s.Usage(ctx, "c", "", t0, t0.Add(time.Hour))); len(got) != 0 {
		t.Fatalf("usage of an account without any: %+v", got)
	}

	// Pruning removes whole minutes before the cut, of every account.
	n, err := s.PruneUsage(ctx, t0.Add(time.Minute+time.Second))
	if err != nil || n != 4 {
		t.Fatalf("PruneUsage = %d, %v; want 4", n, err)
	}
	got = must[[]UsageSample](t)(s.Usage(ctx, "a", "", t0, t0.Add(time.Hour)))
	want = []UsageSample{sample("a", "", 3, 8), sample("a", "", 5, 16)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after pruning %+v\nwant %+v", got, want)
	}
}

// TestPruneUsageBatches prunes more rows than one batch holds, and exactly
// a number of whole batches.
func TestPruneUsageBatches(t *testing.T) {
	defer func(n int) { pruneBatch = n }(pruneBatch)
	pruneBatch = 7
	s, _ := openTest(t)
	ctx := t.Context()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var samples []UsageSample
	for i := range 5*pruneBatch + 3 {
		samples = append(samples, UsageSample{AccountID: "a", Endpoint: "e", Minute: at(i), Requests: 1})
	}
	if err := s.AddUsage(ctx, samples...); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{2*pruneBatch + 3, 4 * pruneBatch} {
		before := len(must[[]UsageSample](t)(s.Usage(ctx, "a", "e", t0, at(len(samples)))))
		n, err := s.PruneUsage(ctx, at(cut))
		after := must[[]UsageSample](t)(s.Usage(ctx, "a", "e", t0, at(len(samples))))
		if err != nil || n != int64(before-len(after)) || len(after) != len(samples)-cut || !after[0].Minute.Equal(at(cut)) {
			t.Fatalf("PruneUsage(minute %d) = %d, %v; %d rows left of %d", cut, n, err, len(after), before)
		}
	}
}

func TestAddUsageInvalid(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	ok := UsageSample{AccountID: "a", Endpoint: "e", Minute: time.Now(), Requests: 1}
	for name, u := range map[string]UsageSample{
		"no account":   {Endpoint: "e", Minute: time.Now()},
		"no endpoint":  {AccountID: "a", Minute: time.Now()},
		"no minute":    {AccountID: "a", Endpoint: "e"},
		"negative":     {AccountID: "a", Endpoint: "e", Minute: time.Now(), BytesIn: -1},
		"buckets":      {AccountID: "a", Endpoint: "e", Minute: time.Now(), LatencyBuckets: make([]int64, NumLatencyBuckets+1)},
		"neg. latency": {AccountID: "a", Endpoint: "e", Minute: time.Now(), LatencyBuckets: []int64{-1}},
	} {
		// The valid sample first: the batch is all or nothing.
		if err := s.AddUsage(ctx, ok, u); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantErr(t, err, ErrInvalid)
		}
	}
	if got := must[[]UsageSample](t)(s.Usage(ctx, "a", "", time.Time{}, time.Now().Add(time.Hour))); len(got) != 0 {
		t.Fatalf("part of a refused batch stored: %+v", got)
	}
	if err := s.AddUsage(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLatencyBucket(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Millisecond, 0}, {time.Millisecond + 1, 1}, {3 * time.Millisecond, 2},
		{time.Second, 9}, {10 * time.Second, 12}, {10*time.Second + 1, 13}, {time.Hour, 13},
	} {
		if got := LatencyBucket(c.d); got != c.want {
			t.Errorf("LatencyBucket(%v) = %d; want %d", c.d, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name    string
		buckets []int64
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"zeros", buckets(), 0.99, 0},
		// 100 requests in (5ms, 10ms]: linear inside the bucket.
		{"p50 one bucket", buckets(3, 100), 0.5, 7500 * time.Microsecond},
		{"p0 one bucket", buckets(3, 100), 0, 5 * ms},
		{"p100 one bucket", buckets(3, 100), 1, 10 * ms},
		// The first bucket starts at 0.
		{"first bucket", buckets(0, 10), 0.5, 500 * time.Microsecond},
		// 50 fast (≤1ms) and 50 in (500ms, 1s].
		{"p50 split", buckets(0, 50, 9, 50), 0.5, 1 * ms},
		{"p90 split", buckets(0, 50, 9, 50), 0.9, 900 * ms},
		{"p99 split", buckets(0, 50, 9, 50), 0.99, 990 * ms},
		// Beyond the last bound: the last bound.
		{"overflow", buckets(0, 1, 13, 99), 0.99, 10 * time.Second},
		{"clamped high", buckets(3, 100), 7, 10 * ms},
		{"clamped low", buckets(3, 100), -1, 5 * ms},
		{"short slice", []int64{0, 0, 4}, 0.25, 2750 * time.Microsecond},
	} {
		u := UsageSample{LatencyBuckets: c.buckets}
		if got := u.Percentile(c.p); got != c.want {
			t.Errorf("%s: Percentile(%v) = %v; want %v", c.name, c.p, got, c.want)
		}
	}
}

// TestUsageColumns checks that the usage table (from the migrations) and
// the counters the code reads and writes agree.
func TestUsageColumns(t *testing.T) {
	s, _ := openTest(t)
	rows, err := s.r.QueryContext(t.Context(), `SELECT name FROM pragma_table_info('usage') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	cols := must[[]string](t)(collect(rows, "columns", func(r scanner) (string, error) {
		var n string
		return n, r.Scan(&n)
	}))
	want := append([]string{"account_id", "endpoint", "minute"}, usageCounters...)
	if !reflect.DeepEqual(cols, want) {
		t.Fatalf("usage columns %v\nwant %v", cols, want)
	}
	var u UsageSample
	u.LatencyBuckets = extend(nil)
	if len(u.counters()) != len(usageCounters) {
		t.Fatalf("%d counters for %d columns", len(u.counters()), len(usageCounters))
	}
}
