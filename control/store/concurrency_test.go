package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentWriters: many goroutines writing at once (as the dashboard
// and every edge's usage pushes do) all succeed, none waits into
// SQLITE_BUSY, and no delta is lost.
func TestConcurrentWriters(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	minute := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mustReserve(t, s, a.ID, "hot")

	const workers, rounds = 20, 6
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*8)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				// Every worker adds to the same row, and to its own.
				err := s.AddUsage(ctx,
					UsageSample{AccountID: a.ID, Endpoint: "hot", Minute: minute, Requests: 1, Status2xx: 1,
						LatencyBuckets: buckets(int64(r%NumLatencyBuckets), 1)},
					UsageSample{AccountID: a.ID, Endpoint: fmt.Sprintf("w%d", w), Minute: minute, Requests: 2})
				if err != nil {
					errs <- err
				}
				tok, err := s.CreateAuthtoken(ctx, Authtoken{AccountID: a.ID, Name: fmt.Sprintf("w%d-%d", w, r)})
				if err != nil {
					errs <- err
					continue
				}
				if r%2 == 0 {
					if err := s.RevokeAuthtoken(ctx, a.ID, tok.ID); err != nil {
						errs <- err
					}
				}
				if _, err := s.PutPolicy(ctx, a.ID, Policy{Endpoint: "hot", RateLimit: w*100 + r}); err != nil {
					errs <- err
				}
				if _, err := s.ReserveName(ctx, a.ID, fmt.Sprintf("n-%d-%d", w, r), time.Hour); err != nil {
					errs <- err
				}
				// Reads run beside the writes.
				if _, err := s.Usage(ctx, a.ID, "", minute, minute.Add(time.Minute)); err != nil {
					errs <- err
				}
				if _, err := s.RevokedTokenIDs(ctx, 0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	hot := must[[]UsageSample](t)(s.Usage(ctx, a.ID, "hot", minute, minute.Add(time.Minute)))
	if len(hot) != 1 || hot[0].Requests != workers*rounds || hot[0].Status2xx != workers*rounds {
		t.Fatalf("hot endpoint: %+v; want %d requests", hot, workers*rounds)
	}
	var lat int64
	for _, c := range hot[0].LatencyBuckets {
		lat += c
	}
	if lat != workers*rounds {
		t.Errorf("%d latencies; want %d", lat, workers*rounds)
	}
	all := must[[]UsageSample](t)(s.Usage(ctx, a.ID, "", minute, minute.Add(time.Minute)))
	if len(all) != 1 || all[0].Requests != 3*workers*rounds {
		t.Fatalf("all endpoints: %+v; want %d requests", all, 3*workers*rounds)
	}
	if toks := must[[]Authtoken](t)(s.ListAuthtokens(ctx, a.ID)); len(toks) != workers*rounds {
		t.Errorf("%d tokens; want %d", len(toks), workers*rounds)
	}
	revs := must[[]Revocation](t)(s.RevokedTokenIDs(ctx, 0))
	if len(revs) != workers*rounds/2 {
		t.Errorf("%d revocations; want %d", len(revs), workers*rounds/2)
	}
	// One sequence: revisions of revocations and policies are distinct.
	seen := map[int64]bool{}
	for i, r := range revs {
		if seen[r.Revision] || (i > 0 && r.Revision <= revs[i-1].Revision) {
			t.Fatalf("revision %d repeated or out of order", r.Revision)
		}
		seen[r.Revision] = true
	}
	p := must[Policy](t)(s.Policy(ctx, a.ID, "hot"))
	if seen[p.Revision] {
		t.Errorf("policy revision %d is also a revocation's", p.Revision)
	}
	if names := must[[]ReservedName](t)(s.ReservedNames(ctx, a.ID)); len(names) != workers*rounds+1 {
		t.Errorf("%d names; want %d", len(names), workers*rounds+1)
	}
}
