package inspect_test

// Unit tests: the inspector as an agent.Observer, fed directly the way the
// agent's proxy feeds it.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/inspect"
	"github.com/wsgrok/wsgrok/wire"
)

var testTunnel = &agent.Tunnel{Kind: wire.KindHTTP, Upstream: "http://127.0.0.1:3000", Subdomain: "demo"}

// feed records one exchange and returns its id.
func feed(t *testing.T, ins *inspect.Inspector, method, path string, h http.Header, reqBody []byte, status int, rh http.Header, respBody ...[]byte) uint64 {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	now := time.Now()
	cp := ins.Begin(testTunnel, &agent.ObservedRequest{Method: method, Path: path, Host: "demo.example.com", Proto: "HTTP/1.1",
		Header: h, ClientAddr: "203.0.113.7:5000", EdgeStart: now.Add(-3 * time.Millisecond), Start: now})
	if cp == nil {
		t.Fatal("Begin returned no capture")
	}
	if len(reqBody) > 0 {
		// In pieces, as a stream delivers it.
		for len(reqBody) > 0 {
			n := min(len(reqBody), 7)
			cp.RequestBody(reqBody[:n])
			reqBody = reqBody[n:]
		}
	}
	if rh == nil {
		rh = http.Header{}
	}
	cp.Response(status, rh, 2*time.Millisecond)
	for _, b := range respBody {
		cp.ResponseBody(b)
	}
	cp.Done(nil)
	return ins.Entries()[0].ID
}

func TestCaptureJSONFormTextBinary(t *testing.T) {
	ins := inspect.New(inspect.Config{})
	jid := feed(t, ins, "POST", "/hook?x=1", http.Header{"Content-Type": {"application/json"}}, []byte(`{"event":"paid","amount":42}`),
		200, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte("ok\n"))
	d, ok := ins.Detail(jid)
	if !ok {
		t.Fatal("no detail")
	}
	if d.Request.Body.Kind != "json" || !strings.Contains(d.Request.Body.Text, "\n  \"amount\": 42") {
		t.Errorf("JSON body not pretty-printed: %+v", d.Request.Body)
	}
	if d.Response.Body.Kind != "text" || d.Response.Body.Text != "ok\n" {
		t.Errorf("text response: %+v", d.Response.Body)
	}
	if d.Status != 200 || d.State != "done" || d.ReqSize != 28 || d.RespSize != 3 {
		t.Errorf("entry: %+v", d.Entry)
	}
	if !d.Timing.EdgeKnown || d.Timing.EdgeMS < 2.9 || d.Timing.LocalMS != 2 {
		t.Errorf("timing: %+v", d.Timing)
	}

	fid := feed(t, ins, "POST", "/form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte("a=1&b=two+words&a=3"), 204, nil)
	d, _ = ins.Detail(fid)
	want := [][2]string{{"a", "1"}, {"a", "3"}, {"b", "two words"}}
	if d.Request.Body.Kind != "form" || len(d.Request.Body.Form) != 3 {
		t.Fatalf("form: %+v", d.Request.Body)
	}
	for k, kv := range want {
		if d.Request.Body.Form[k] != kv {
			t.Errorf("form field %d = %v, want %v", k, d.Request.Body.Form[k], kv)
		}
	}

	bin := []byte{0x89, 'P', 'N', 'G', 0, 0, 0, 0x0d, 0xff}
	bid := feed(t, ins, "GET", "/logo.png", nil, nil, 200, http.Header{"Content-Type": {"image/png"}}, bin)
	d, _ = ins.Detail(bid)
	if d.Response.Body.Kind != "binary" || !strings.Contains(d.Response.Body.Hex, "89 50 4e 47 00") || d.Response.Body.Size != 9 {
		t.Errorf("binary: %+v", d.Response.Body)
	}
	if raw, _ := base64.StdEncoding.DecodeString(d.Response.Body.Base64); string(raw) != string(bin) {
		t.Errorf("binary base64 = %q", raw)
	}
	if d.Request.Body.Kind != "empty" {
		t.Errorf("GET body kind %q", d.Request.Body.Kind)
	}
}

func TestTruncationShown(t *testing.T) {
	ins := inspect.New(inspect.Config{MaxBody: 16})
	body := strings.Repeat("é", 20) // 40 bytes; 16 is a character boundary, 15 would not be
	id := feed(t, ins, "PUT", "/up", http.Header{"Content-Type": {"text/plain"}}, []byte(body), 200,
		http.Header{"Content-Type": {"application/json"}}, []byte(`{"a":`), []byte(`"0123456789abcdef"}`))
	d, _ := ins.Detail(id)
	rb := d.Request.Body
	if !rb.Truncated || rb.Size != 40 || rb.Captured != 16 || rb.Text != strings.Repeat("é", 8) {
		t.Errorf("request body: %+v", rb)
	}
	sb := d.Response.Body
	if !sb.Truncated || sb.Size != 24 || sb.Captured != 16 || sb.Kind != "json" || sb.Text != `{"a":"0123456789` {
		t.Errorf("response body: %+v", sb)
	}
	if !d.Truncated {
		t.Error("entry not marked truncated")
	}
	// A cut inside a character is not shown as a broken one.
	ins = inspect.New(inspect.Config{MaxBody: 15})
	id = feed(t, ins, "PUT", "/up", http.Header{"Content-Type": {"text/plain"}}, []byte(body), 200, nil)
	d, _ = ins.Detail(id)
	if d.Request.Body.Kind != "text" || d.Request.Body.Text != strings.Repeat("é", 7) {
		t.Errorf("cut mid-character: %+v", d.Request.Body)
	}
	// A negative MaxBody keeps sizes only.
	ins = inspect.New(inspect.Config{MaxBody: -1})
	id = feed(t, ins, "PUT", "/up", nil, []byte(body), 200, nil)
	d, _ = ins.Detail(id)
	if d.Request.Body.Captured != 0 || d.Request.Body.Size != 40 || !d.Request.Body.Truncated {
		t.Errorf("sizes only: %+v", d.Request.Body)
	}
}

func TestRedaction(t *testing.T) {
	ins := inspect.New(inspect.Config{Redact: true})
	h := http.Header{"Authorization": {"Bearer sk_live_123"}, "Cookie": {"session=abc; theme=dark"}, "X-Other": {"kept"}}
	rh := http.Header{"Set-Cookie": {"session=xyz; Path=/; HttpOnly"}}
	id := feed(t, ins, "GET", "/", h, nil, 200, rh)
	d, _ := ins.Detail(id)
	got := map[string]string{}
	for _, kv := range append(d.Request.Header, d.Response.Header...) {
		got[kv[0]] = kv[1]
	}
	want := map[string]string{"Authorization": "Bearer [redacted]", "Cookie": "session=[redacted]; theme=[redacted]",
		"X-Other": "kept", "Set-Cookie": "session=[redacted]; Path=/; HttpOnly"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if h.Get("Authorization") != "Bearer sk_live_123" {
		t.Error("the agent's header was changed: the inspector must redact a copy")
	}
	if rh.Get("Set-Cookie") != "session=xyz; Path=/; HttpOnly" {
		t.Error("the local service's response header was changed: the inspector must redact a copy")
	}
	curl, _ := ins.Curl(id)
	har, _ := json.Marshal(ins.HAR())
	for _, s := range []string{curl, string(har)} {
		if strings.Contains(s, "sk_live_123") || strings.Contains(s, "abc") || strings.Contains(s, "xyz") {
			t.Errorf("a secret leaked into an export: %s", s)
		}
	}
	// Without redaction, values are kept.
	ins = inspect.New(inspect.Config{})
	id = feed(t, ins, "GET", "/", http.Header{"Authorization": {"Bearer sk_live_123"}}, nil, 200, nil)
	if d, _ := ins.Detail(id); d.Request.Header[0][1] != "Bearer sk_live_123" {
		t.Errorf("unredacted: %v", d.Request.Header)
	}
}

func TestRingEviction(t *testing.T) {
	ins := inspect.New(inspect.Config{MaxRequests: 3})
	var ids []uint64
	for n := range 7 {
		ids = append(ids, feed(t, ins, "GET", "/"+string(rune('a'+n)), nil, nil, 200, nil))
	}
	es := ins.Entries()
	if len(es) != 3 {
		t.Fatalf("kept %d, want 3", len(es))
	}
	for k, want := range []string{"/g", "/f", "/e"} {
		if es[k].Path != want {
			t.Errorf("entry %d = %s, want %s (newest first)", k, es[k].Path, want)
		}
	}
	if _, ok := ins.Detail(ids[3]); ok {
		t.Error("an evicted exchange is still served")
	}
	if _, ok := ins.Detail(ids[6]); !ok {
		t.Error("the newest exchange is missing")
	}
	ins.Clear()
	if n := len(ins.Entries()); n != 0 {
		t.Errorf("%d entries after Clear", n)
	}
	feed(t, ins, "GET", "/after", nil, nil, 200, nil)
	if es := ins.Entries(); len(es) != 1 || es[0].Path != "/after" {
		t.Errorf("after Clear: %+v", es)
	}
}

func TestErrorAndPendingStates(t *testing.T) {
	ins := inspect.New(inspect.Config{})
	cp := ins.Begin(testTunnel, &agent.ObservedRequest{Method: "GET", Path: "/slow", Header: http.Header{}, Start: time.Now()})
	if es := ins.Entries(); es[0].State != "pending" || es[0].Status != 0 {
		t.Errorf("pending: %+v", es[0])
	}
	cp.Done(errors.New("dial tcp 127.0.0.1:3000: connect: connection refused"))
	cp.Done(nil) // a second Done changes nothing
	es := ins.Entries()
	if es[0].State != "error" || !strings.Contains(es[0].Error, "connection refused") {
		t.Errorf("error state: %+v", es[0])
	}
}

func TestCurlExport(t *testing.T) {
	ins := inspect.New(inspect.Config{})
	h := http.Header{"Content-Type": {"application/json"}, "X-Note": {"it's"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.7"}}
	id := feed(t, ins, "POST", "/hook?a=1&b=2", h, []byte(`{"q":"it's"}`), 200, nil)
	curl, ok := ins.Curl(id)
	if !ok {
		t.Fatal("no curl")
	}
	for _, want := range []string{"curl -X POST 'https://demo.example.com/hook?a=1&b=2'", `-H 'X-Note: it'\''s'`, `--data-binary '{"q":"it'\''s"}'`} {
		if !strings.Contains(curl, want) {
			t.Errorf("curl lacks %q:\n%s", want, curl)
		}
	}
	if strings.Contains(curl, "X-Forwarded") {
		t.Errorf("curl carries the edge's forwarding headers:\n%s", curl)
	}
	bid := feed(t, ins, "POST", "/bin", nil, []byte{0, 0xff, 'x'}, 200, nil)
	curl, _ = ins.Curl(bid)
	if !strings.Contains(curl, "printf %s AP94 | base64 -d | curl") || !strings.Contains(curl, "--data-binary @-") {
		t.Errorf("binary curl:\n%s", curl)
	}
	// The command is valid shell: sh parses it without running it.
	if sh, err := exec.LookPath("sh"); err == nil {
		for _, c := range []uint64{id, bid} {
			s, _ := ins.Curl(c)
			if out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput(); err != nil {
				t.Errorf("sh -n: %v: %s\n%s", err, out, s)
			}
		}
	}
	small := inspect.New(inspect.Config{MaxBody: 4})
	curl, _ = small.Curl(feed(t, small, "POST", "/", nil, []byte("0123456789"), 200, nil))
	if !strings.HasPrefix(curl, "# The body was truncated: 4 of 10 bytes") {
		t.Errorf("truncated curl says nothing:\n%s", curl)
	}
}

func TestHARExport(t *testing.T) {
	ins := inspect.New(inspect.Config{MaxBody: 8})
	feed(t, ins, "POST", "/first?x=1", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Cookie": {"a=b"}},
		[]byte("k=v"), 201, http.Header{"Content-Type": {"text/plain"}}, []byte("created"))
	feed(t, ins, "GET", "/second", nil, nil, 200, http.Header{"Content-Type": {"application/octet-stream"}}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	b, err := json.Marshal(ins.HAR())
	if err != nil {
		t.Fatal(err)
	}
	var har struct {
		Log struct {
			Version string
			Entries []struct {
				StartedDateTime string
				Time            float64
				Comment         string
				Request         struct {
					Method, URL string
					QueryString []struct{ Name, Value string }
					Cookies     []struct{ Name, Value string }
					PostData    *struct {
						MimeType, Text string
						Params         []struct{ Name, Value string }
					}
					BodySize int64
				}
				Response struct {
					Status  int
					Content struct {
						Size           int64
						Text, Encoding string
					}
				}
				Timings struct{ Blocked, Send, Wait, Receive float64 }
			}
		}
	}
	if err := json.Unmarshal(b, &har); err != nil {
		t.Fatal(err)
	}
	if har.Log.Version != "1.2" || len(har.Log.Entries) != 2 {
		t.Fatalf("HAR: %s", b)
	}
	first, second := har.Log.Entries[0], har.Log.Entries[1]
	if first.Request.Method != "POST" || first.Request.URL != "https://demo.example.com/first?x=1" {
		t.Errorf("oldest first: %+v", first.Request)
	}
	if len(first.Request.QueryString) != 1 || first.Request.QueryString[0].Name != "x" || len(first.Request.Cookies) != 1 {
		t.Errorf("query and cookies: %+v", first.Request)
	}
	if pd := first.Request.PostData; pd == nil || pd.Text != "k=v" || len(pd.Params) != 1 || pd.Params[0].Value != "v" {
		t.Errorf("postData: %+v", first.Request.PostData)
	}
	if first.Response.Status != 201 || first.Response.Content.Text != "created" || first.Timings.Wait != 2 {
		t.Errorf("response: %+v %+v", first.Response, first.Timings)
	}
	if _, err := time.Parse(time.RFC3339, first.StartedDateTime); err != nil {
		t.Errorf("startedDateTime %q: %v", first.StartedDateTime, err)
	}
	c := second.Response.Content
	if c.Encoding != "base64" || c.Size != 10 || !strings.Contains(second.Comment, "response body truncated: 8 of 10 bytes") {
		t.Errorf("binary, truncated: %+v %q", c, second.Comment)
	}
}

// TestTotalBodyBudget: however many requests are kept, their bodies
// together stay within MaxTotalBody; the oldest lose theirs first (shown
// as truncated, sizes kept), the newest keep theirs.
func TestTotalBodyBudget(t *testing.T) {
	const each, budget = 1000, 10_000
	ins := inspect.New(inspect.Config{MaxRequests: 100, MaxBody: each, MaxTotalBody: budget})
	var ids []uint64
	for range 50 {
		ids = append(ids, feed(t, ins, "POST", "/hook", nil, []byte(strings.Repeat("a", each)), 200, nil, []byte(strings.Repeat("b", each))))
	}
	var kept int
	for _, id := range ids {
		d, ok := ins.Detail(id)
		if !ok {
			t.Fatalf("request %d evicted: the budget drops bodies, not requests", id)
		}
		kept += d.Request.Body.Captured + d.Response.Body.Captured
		if d.Request.Body.Size != each || d.Response.Body.Size != each {
			t.Errorf("request %d lost its sizes: %+v", id, d.Request.Body)
		}
	}
	if kept > budget {
		t.Errorf("%d body bytes kept, budget %d", kept, budget)
	}
	first, _ := ins.Detail(ids[0])
	last, _ := ins.Detail(ids[len(ids)-1])
	if first.Request.Body.Captured != 0 || !first.Request.Body.Truncated || !first.Truncated {
		t.Errorf("oldest body kept: %+v", first.Request.Body)
	}
	if last.Request.Body.Captured != each || last.Response.Body.Captured != each {
		t.Errorf("newest body dropped: %+v", last.Request.Body)
	}
}

// BenchmarkCapture1MiB is what the inspector costs an agent per 1 MiB
// response, fed in 32 KiB pieces as the proxy does, with the total budget
// recycling bodies.
func BenchmarkCapture1MiB(b *testing.B) {
	ins := inspect.New(inspect.Config{})
	chunk := make([]byte, 32<<10)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		cp := ins.Begin(testTunnel, &agent.ObservedRequest{Method: "GET", Path: "/bytes", Host: "demo.example.com", Header: http.Header{}, Start: time.Now()})
		cp.Response(200, http.Header{}, time.Millisecond)
		for range 32 {
			cp.ResponseBody(chunk)
		}
		cp.Done(nil)
	}
}
