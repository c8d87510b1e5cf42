package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"
)

// NumLatencyBuckets is the number of latency buckets of a [UsageSample]:
// one per bound in [LatencyBounds], and one for everything slower.
const NumLatencyBuckets = 14

// LatencyBounds are the inclusive upper bounds of the latency buckets but
// the last. They are part of the stored data's meaning: changing them
// needs a migration, not an edit.
var LatencyBounds = [NumLatencyBuckets - 1]time.Duration{
	1 * time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	1 * time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// LatencyBucket returns the index in LatencyBuckets that counts a request
// that took d.
func LatencyBucket(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return NumLatencyBuckets - 1
}

// Percentile estimates the latency under which a fraction p (0 to 1; 0.99
// for the 99th percentile) of the sample's requests completed, from its
// latency buckets: it interpolates linearly inside the bucket where the
// percentile falls, taking the first bucket as starting at 0. A percentile
// in the last, unbounded, bucket is reported as the highest bound: the
// histogram knows no more. It returns 0 for a sample without latencies.
func (u UsageSample) Percentile(p float64) time.Duration {
	buckets := u.LatencyBuckets[:min(len(u.LatencyBuckets), NumLatencyBuckets)]
	var total int64
	for _, c := range buckets {
		total += max(c, 0)
	}
	if total <= 0 || math.IsNaN(p) {
		return 0
	}
	p = min(max(p, 0), 1)
	rank := p * float64(total)
	var cum float64
	last := NumLatencyBuckets - 1
	for i, c := range buckets {
		if c <= 0 {
			continue
		}
		n := float64(c)
		if cum+n >= rank {
			if i == last {
				return LatencyBounds[last-1]
			}
			var lo time.Duration
			if i > 0 {
				lo = LatencyBounds[i-1]
			}
			hi := LatencyBounds[i]
			return lo + time.Duration(math.Round((rank-cum)/n*float64(hi-lo)))
		}
		cum += n
	}
	return LatencyBounds[last-1] // not reached but for rounding
}

// Add adds the counters of o to u, as the store merges deltas (o's
// account, endpoint and minute are not checked).
func (u *UsageSample) Add(o UsageSample) {
	u.LatencyBuckets = extend(u.LatencyBuckets)
	o.LatencyBuckets = extend(o.LatencyBuckets)
	dst, src := u.counters(), o.counters()
	for i := range dst {
		*dst[i] += *src[i]
	}
}

// extend returns b with NumLatencyBuckets entries (a copy if it grew).
func extend(b []int64) []int64 {
	if len(b) >= NumLatencyBuckets {
		return b
	}
	return append(append(make([]int64, 0, NumLatencyBuckets), b...), make([]int64, NumLatencyBuckets-len(b))...)
}

// usageCounters are the counter columns of the usage table, in the order
// of UsageSample.counters.
var usageCounters = func() []string {
	cols := []string{"requests", "bytes_in", "bytes_out",
		"status_1xx", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "blocked"}
	for i := range NumLatencyBuckets {
		cols = append(cols, fmt.Sprintf("lat_%02d", i))
	}
	return cols
}()

// counters points at u's counters in the order of usageCounters; u's
// LatencyBuckets must have NumLatencyBuckets entries.
func (u *UsageSample) counters() []*int64 {
	c := []*int64{&u.Requests, &u.BytesIn, &u.BytesOut,
		&u.Status1xx, &u.Status2xx, &u.Status3xx, &u.Status4xx, &u.Status5xx, &u.Blocked}
	for i := range u.LatencyBuckets[:NumLatencyBuckets] {
		c = append(c, &u.LatencyBuckets[i])
	}
	return c
}

// The usage statements. They are assembled from the constant column
// names; every value is a placeholder.
var (
	// addUsageSQL adds a delta to a row, creating it if needed, in one
	// statement: no read-modify-write, so concurrent pushes cannot lose
	// counts.
	addUsageSQL = func() string {
		var set []string
		for _, c := range usageCounters {
			set = append(set, fmt.Sprintf("%s = %s + excluded.%s", c, c, c))
		}
		return `INSERT INTO usage (account_id, endpoint, minute, ` + strings.Join(usageCounters, ", ") + `)
			VALUES (?, ?, ?` + strings.Repeat(", ?", len(usageCounters)) + `)
			ON CONFLICT (account_id, endpoint, minute) DO UPDATE SET ` + strings.Join(set, ", ")
	}()
	endpointUsageSQL = `SELECT endpoint, minute, ` + strings.Join(usageCounters, ", ") + ` FROM usage
		WHERE account_id = ? AND endpoint = ? AND minute >= ? AND minute < ? ORDER BY minute`
	accountUsageSQL = func() string {
		var sum []string
		for _, c := range usageCounters {
			sum = append(sum, "SUM("+c+")")
		}
		return `SELECT '', minute, ` + strings.Join(sum, ", ") + ` FROM usage
			WHERE account_id = ? AND minute >= ? AND minute < ? GROUP BY minute ORDER BY minute`
	}()
)

// AddUsage implements [Store]. Each sample's Minute is truncated to the
// minute; counters must not be negative.
func (s *SQLite) AddUsage(ctx context.Context, samples ...UsageSample) error {
	if len(samples) == 0 {
		return nil
	}
	// Validate all before writing any: the batch is all or nothing.
	args := make([][]any, len(samples))
	for i, u := range samples {
		if u.AccountID == "" || u.Endpoint == "" || u.Minute.IsZero() || len(u.LatencyBuckets) > NumLatencyBuckets {
			return fmt.Errorf("%w: usage sample %d: needs an account, an endpoint, a minute and at most %d latency buckets",
				ErrInvalid, i, NumLatencyBuckets)
		}
		u.LatencyBuckets = extend(u.LatencyBuckets)
		a := []any{u.AccountID, normName(u.Endpoint), toDB(u.Minute.UTC().Truncate(time.Minute))}
		for _, c := range u.counters() {
			if *c < 0 {
				return fmt.Errorf("%w: usage sample %d: negative counter", ErrInvalid, i)
			}
			a = append(a, *c)
		}
		args[i] = a
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, addUsageSQL)
		if err != nil {
			return dbErr("add usage", err)
		}
		defer stmt.Close()
		for _, a := range args {
			if _, err := stmt.ExecContext(ctx, a...); err != nil {
				return dbErr("add usage", err)
			}
		}
		return nil
	})
}

// Usage implements [Store].
func (s *SQLite) Usage(ctx context.Context, accountID, endpoint string, from, to time.Time) ([]UsageSample, error) {
	var rows *sql.Rows
	var err error
	if endpoint == "" {
		rows, err = s.r.QueryContext(ctx, accountUsageSQL, accountID, toDB(from), toDB(to))
	} else {
		rows, err = s.r.QueryContext(ctx, endpointUsageSQL, accountID, normName(endpoint), toDB(from), toDB(to))
	}
	what := "usage of " + accountID
	if err != nil {
		return nil, dbErr(what, err)
	}
	return collect(rows, what, func(row scanner) (UsageSample, error) {
		u := UsageSample{AccountID: accountID, LatencyBuckets: make([]int64, NumLatencyBuckets)}
		var minute int64
		dest := []any{&u.Endpoint, &minute}
		for _, c := range u.counters() {
			dest = append(dest, c)
		}
		err := row.Scan(dest...)
		u.Minute = fromDB(minute)
		return u, err
	})
}

// pruneBatch bounds how many rows one pruning transaction deletes, so that
// pruning a long backlog does not hold the write lock (and every edge's
// usage push) for long. A variable for tests.
var pruneBatch = 5000

// PruneUsage implements [Store].
func (s *SQLite) PruneUsage(ctx context.Context, olderThan time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM usage WHERE (account_id, endpoint, minute) IN
				(SELECT account_id, endpoint, minute FROM usage WHERE minute < ? LIMIT ?)`, toDB(olderThan), pruneBatch)
			if err != nil {
				return dbErr("prune usage", err)
			}
			n, err = res.RowsAffected()
			return dbErr("prune usage", err)
		})
		total += n
		if err != nil || n < int64(pruneBatch) {
			return total, err
		}
	}
}
