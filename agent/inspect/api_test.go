package inspect_test

// JSON API tests through a real edge, agent and local service.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent/inspect"
)

func TestAPIListAndDetail(t *testing.T) {
	w := newWorld(t, inspect.Config{})
	resp, _ := w.do("POST", "/hook?src=stripe", "application/json", `{"type":"invoice.paid","amount":4200}`, "Stripe-Signature", "t=1,v1=abc")
	if resp.StatusCode != 200 {
		t.Fatalf("through the tunnel: %s", resp.Status)
	}
	w.receive()
	id := w.lastID()
	w.waitDone(id)

	var list inspect.List
	if code, body := w.apiGet("/api/requests", &list); code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	if len(list.Requests) != 1 || list.MaxRequests != inspect.DefaultMaxRequests || !list.CanReplay {
		t.Fatalf("list: %+v", list)
	}
	en := list.Requests[0]
	if en.Method != "POST" || en.Path != "/hook?src=stripe" || en.Status != 200 || en.State != "done" || en.ReqSize != 37 || en.Tunnel != "demo" {
		t.Errorf("entry: %+v", en)
	}
	var d inspect.Detail
	if code, body := w.apiGet(fmt.Sprintf("/api/requests/%d", id), &d); code != 200 {
		t.Fatalf("detail: %d %s", code, body)
	}
	if d.Request.Body.Kind != "json" || !strings.Contains(d.Request.Body.Text, `"amount": 4200`) {
		t.Errorf("request body: %+v", d.Request.Body)
	}
	if d.Response.Body.Kind != "json" || !strings.Contains(d.Response.Body.Text, `"method": "POST"`) {
		t.Errorf("response body: %+v", d.Response.Body)
	}
	hdr := map[string]string{}
	for _, kv := range d.Request.Header {
		hdr[kv[0]] = kv[1]
	}
	if hdr["Stripe-Signature"] != "t=1,v1=abc" || hdr["X-Forwarded-Proto"] != "http" {
		t.Errorf("request header: %v", d.Request.Header)
	}
	tm := d.Timing
	if !tm.EdgeKnown || tm.TotalMS <= 0 || tm.LocalMS <= 0 || tm.EdgeMS+tm.TunnelMS+tm.LocalMS+tm.TransferMS > tm.TotalMS+0.01 {
		t.Errorf("timing: %+v", tm)
	}

	if code, _ := w.apiGet("/api/requests/999999", nil); code != 404 {
		t.Errorf("unknown id: %d", code)
	}
	if code, _ := w.apiGet("/api/requests/abc", nil); code != 400 {
		t.Errorf("bad id: %d", code)
	}
	code, curl := w.apiGet(fmt.Sprintf("/api/requests/%d/curl", id), nil)
	if code != 200 || !strings.HasPrefix(curl, "curl -X POST '"+w.pub+"/hook?src=stripe'") || !strings.Contains(curl, "Stripe-Signature: t=1,v1=abc") {
		t.Errorf("curl: %d\n%s", code, curl)
	}
	var har struct {
		Log struct{ Entries []json.RawMessage }
	}
	if code, body := w.apiGet("/api/har", &har); code != 200 || len(har.Log.Entries) != 1 {
		t.Errorf("HAR: %d %s", code, body)
	}
}

func TestAPIReplay(t *testing.T) {
	w := newWorld(t, inspect.Config{})
	w.do("POST", "/orders", "application/json", `{"sku":"A1"}`, "X-Trace", "one")
	orig := w.receive()
	id := w.lastID()
	w.waitDone(id)

	// As it was.
	var out inspect.ReplayOutcome
	code, body := w.apiPost(fmt.Sprintf("/api/requests/%d/replay", id), "", &out)
	if code != 200 || out.ID == 0 || out.ReplayOf != id || out.Status != 200 {
		t.Fatalf("replay: %d %s", code, body)
	}
	again := w.receive()
	if again.Method != orig.Method || again.Path != orig.Path || again.Body != orig.Body || again.Header.Get("X-Trace") != "one" || again.Host != orig.Host {
		t.Errorf("replayed %+v, first %+v", again, orig)
	}
	d, _ := w.ins.Detail(out.ID)
	if !d.Replay || d.ReplayOf != id || d.Status != 200 || d.State != "done" {
		t.Errorf("replay entry: %+v", d.Entry)
	}

	// Edited.
	edit := `{"method":"PUT","path":"/orders/7?dry=1","header":{"Content-Type":["application/json"],"X-Trace":["two"]},"body":"{\"sku\":\"B2\"}"}`
	code, body = w.apiPost(fmt.Sprintf("/api/requests/%d/replay", id), edit, &out)
	if code != 200 || out.ReplayOf != id {
		t.Fatalf("edited replay: %d %s", code, body)
	}
	got := w.receive()
	if got.Method != "PUT" || got.Path != "/orders/7?dry=1" || got.Body != `{"sku":"B2"}` || got.Header.Get("X-Trace") != "two" {
		t.Errorf("the local service received %+v", got)
	}
	es := w.ins.Entries()
	if len(es) != 3 || es[0].ID != out.ID || es[0].Method != "PUT" || !es[0].Replay {
		t.Errorf("list after replays: %+v", es)
	}

	// Refused edits say why.
	for _, bad := range []string{`{"method":"GE T"}`, `{"path":"no-slash"}`, `{"header":{"X":["a\nb"]}}`, `{"nope":1}`, `[1]`} {
		code, body := w.apiPost(fmt.Sprintf("/api/requests/%d/replay", id), bad, nil)
		if code != 400 || !strings.Contains(body, "error") {
			t.Errorf("edit %s: %d %s", bad, code, body)
		}
	}
	if code, _ := w.apiPost("/api/requests/424242/replay", "", nil); code != 404 {
		t.Errorf("replay of an unknown id: %d", code)
	}
}

func TestAPIGuards(t *testing.T) {
	w := newWorld(t, inspect.Config{})
	// DNS rebinding: a foreign name pointing at 127.0.0.1.
	req, _ := http.NewRequest("GET", w.api+"/api/requests", nil)
	req.Host = "attacker.example:4040"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %s", resp.Status)
	}
	for _, host := range []string{"localhost:4040", "127.0.0.1", "[::1]:4040", "inspect.localhost"} {
		req, _ := http.NewRequest("GET", w.api+"/api/requests", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("Host %s: %s", host, resp.Status)
		}
	}
	// Another site's page cannot clear or replay.
	req, _ = http.NewRequest("DELETE", w.api+"/api/requests", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin DELETE: %s", resp.Status)
	}
	req, _ = http.NewRequest("DELETE", w.api+"/api/requests", nil)
	req.Header.Set("Origin", w.api)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("same-origin DELETE: %s", resp.Status)
	}
	if _, err := inspect.Listen("0.0.0.0:0", false); err == nil {
		t.Error("Listen on 0.0.0.0 without allowRemote succeeded")
	}
}

func TestAPIEventsLive(t *testing.T) {
	w := newWorld(t, inspect.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", w.api+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan [2]string, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{name, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	next := func() [2]string {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("event stream ended")
			}
			return ev
		case <-ctx.Done():
			t.Fatal("no event in time")
		}
		return [2]string{}
	}
	if ev := next(); ev[0] != "hello" || !strings.Contains(ev[1], `"can_replay":true`) {
		t.Fatalf("first event %v", ev)
	}
	w.do("GET", "/live/1", "", "")
	var en inspect.Entry
	for en.State != "done" {
		ev := next()
		if ev[0] != "request" {
			t.Fatalf("event %v", ev)
		}
		if err := json.Unmarshal([]byte(ev[1]), &en); err != nil {
			t.Fatal(err)
		}
		if en.Path != "/live/1" {
			t.Fatalf("event for %s", en.Path)
		}
	}
	if en.Status != 200 {
		t.Errorf("final event: %+v", en)
	}
	w.ins.Clear()
	// An update for /live/1 queued before Clear may still come first (an
	// exchange is announced at each step, and the steps coalesce); then
	// the clear must follow.
	for {
		ev := next()
		if ev[0] == "clear" {
			break
		}
		if ev[0] != "request" || !strings.Contains(ev[1], `"path":"/live/1"`) {
			t.Fatalf("after Clear: %v", ev)
		}
	}
}

func TestAPIRedactedTruncatedThroughTunnel(t *testing.T) {
	w := newWorld(t, inspect.Config{Redact: true, MaxBody: 1000})
	w.do("GET", "/big", "", "", "Authorization", "Bearer tok_secret", "Cookie", "sid=topsecret")
	got := w.receive()
	if got.Header.Get("Authorization") != "Bearer tok_secret" {
		t.Errorf("redaction changed what the local service got: %v", got.Header)
	}
	id := w.lastID()
	d := w.waitDone(id)
	if !d.Response.Body.Truncated || d.Response.Body.Size != 10000 || d.Response.Body.Captured != 1000 || d.RespSize != 10000 {
		t.Errorf("response body: size %d captured %d truncated %v", d.Response.Body.Size, d.Response.Body.Captured, d.Response.Body.Truncated)
	}
	_, raw := w.apiGet(fmt.Sprintf("/api/requests/%d", id), nil)
	if strings.Contains(raw, "tok_secret") || strings.Contains(raw, "topsecret") || !strings.Contains(raw, "Bearer [redacted]") {
		t.Errorf("detail: %s", raw)
	}
}
