package inspect_test

// The inspector's page in a real headless Chromium (Debian's chromium),
// driven with chromedp: live list, detail, edited replay. Screenshots go
// to $WSGROK_ARTIFACTS, or else <repo>/artifacts/inspector/.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsgrok/wsgrok/agent/inspect"
)

// chromium finds a Chromium binary. Without one the test is skipped on a
// developer's machine and fails in CI, which installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium binary found, and CI is set: install Debian's chromium package")
	}
	t.Skip("no chromium binary found (apt-get install -y chromium)")
	return ""
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WSGROK_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "artifacts")
	}
	dir = filepath.Join(dir, "inspector")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBrowserInspector(t *testing.T) {
	bin := chromium(t)
	w := newWorld(t, inspect.Config{MaxBody: 4096})
	shots := artifactsDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // containers run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 900),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first run starts the browser and must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	eval := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](expr)(ctx, tg)
			return err
		})
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// The page opens, connects its event stream and shows the empty list.
	run("open the page",
		chromedp.Navigate(w.api),
		chromedp.WaitVisible(css(`#live[data-state="live"]`)),
		chromedp.WaitVisible(css(`#empty`)),
		eval(`window.__sameLoad = "yes"`),
		shot("1-empty"),
	)

	// A request through the tunnel appears without a reload.
	w.do("POST", "/webhooks/stripe?attempt=1", "application/json",
		`{"id":"evt_1PXyZ","type":"invoice.paid","data":{"amount_paid":4200,"currency":"eur","customer":"cus_9s6XKzkNRiz8i3"}}`,
		"Stripe-Signature", "t=1719400000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd", "User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	w.receive()
	w.do("GET", "/api/users/42", "", "", "Accept", "application/json")
	w.receive()
	w.do("GET", "/binary", "", "")
	w.receive()
	run("see the requests in the list",
		chromedp.WaitVisible(css(`#rows tr[data-id] td.path[title="/webhooks/stripe?attempt=1"]`)),
		chromedp.WaitVisible(css(`#rows tr[data-id] td.path[title="/binary"]`)),
	)
	sameLoad, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__sameLoad`))
	if err != nil || sameLoad != "yes" {
		t.Fatalf("the page reloaded to show the request (%q, %v)", sameLoad, err)
	}
	if rows := text(`#rows`); !strings.Contains(rows, "POST") || !strings.Contains(rows, "/webhooks/stripe") {
		t.Errorf("list text: %q", rows)
	}

	// The detail view shows the body, pretty-printed.
	run("open the detail",
		chromedp.Click(css(`#rows tr[data-id] td.path[title="/webhooks/stripe?attempt=1"]`)),
		chromedp.WaitVisible(css(`#detail[data-path="/webhooks/stripe?attempt=1"] #req-body[data-kind="json"]`)),
		chromedp.WaitVisible(css(`#timing`)),
		shot("2-detail-request"),
	)
	if body := text(`#req-body`); !strings.Contains(body, `"amount_paid": 4200`) {
		t.Errorf("request body shown as %q", body)
	}
	run("the response tab",
		chromedp.Click(css(`#tab-response`)),
		chromedp.WaitVisible(css(`#resp-body`)),
		shot("3-detail-response"),
	)
	if body := text(`#resp-body`); !strings.Contains(body, `"method": "POST"`) {
		t.Errorf("response body shown as %q", body)
	}
	run("back to the request tab",
		chromedp.Click(css(`#tab-request`)),
		chromedp.WaitVisible(css(`#req-body`)),
	)

	// An edited replay reaches the local service with the edit.
	edited := `{"id":"evt_1PXyZ","type":"invoice.payment_failed","edited":true}`
	run("edit and replay",
		chromedp.Click(css(`#btn-edit`)),
		chromedp.WaitVisible(css(`#edit[open] #edit-path`)),
		chromedp.SetValue(css(`#edit-method`), "PUT"),
		chromedp.SetValue(css(`#edit-path`), "/webhooks/stripe?attempt=2"),
		eval(`document.getElementById("edit-headers").value += "\nX-Replayed-By: inspector"`),
		chromedp.SetValue(css(`#edit-body`), edited),
		shot("4-edit-dialog"),
		chromedp.Click(css(`#edit-send`)),
	)
	got := w.receive()
	if got.Method != "PUT" || got.Path != "/webhooks/stripe?attempt=2" || got.Body != edited ||
		got.Header.Get("X-Replayed-By") != "inspector" || !strings.HasPrefix(got.Header.Get("Stripe-Signature"), "t=1719400000,") {
		t.Errorf("the local service received %s %s %q %v", got.Method, got.Path, got.Body, got.Header)
	}
	run("the replay is listed and marked",
		chromedp.WaitNotPresent(css(`#edit[open]`)),
		chromedp.WaitVisible(css(`#rows tr[data-id] .tag.replay`)),
		chromedp.WaitVisible(css(`#d-status.s2`)),
		shot("5-replayed"),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rows .tag.replay").length`))
	if err != nil || n != 1 {
		t.Errorf("%d rows marked replay, want 1 (%v)", n, err)
	}

	// A binary body is shown as size and hex; curl is offered.
	run("binary body",
		chromedp.Click(css(`#rows tr[data-id] td.path[title="/binary"]`)),
		chromedp.WaitVisible(css(`#detail[data-path="/binary"] #d-status.s2`)),
		chromedp.Click(css(`#tab-response`)),
		chromedp.WaitVisible(css(`#resp-body[data-kind="binary"]`)),
		shot("6-binary"),
	)
	if hex := text(`#resp-body`); !strings.Contains(hex, "00 01 02 03 ff fe 77 73") {
		t.Errorf("binary shown as %q", hex)
	}
	run("copy as curl",
		chromedp.Click(css(`#rows tr[data-id] td.path[title="/webhooks/stripe?attempt=1"]`)),
		chromedp.WaitVisible(css(`#detail[data-path="/webhooks/stripe?attempt=1"] #btn-curl`)),
		chromedp.Click(css(`#detail[data-path="/webhooks/stripe?attempt=1"] #btn-curl`)),
		chromedp.WaitVisible(css(`#curl[open] #curl-text`)),
		shot("7-curl"),
	)
	if curl := text(`#curl-text`); !strings.HasPrefix(curl, "curl -X POST") || !strings.Contains(curl, "Stripe-Signature") {
		t.Errorf("curl shown as %q", curl)
	}

	// A body past the capture limit says so.
	w.do("GET", "/big", "", "")
	w.receive()
	run("truncated body",
		chromedp.Click(css(`#curl form button[type="submit"]`)),
		chromedp.WaitNotPresent(css(`#curl[open]`)),
		chromedp.WaitVisible(css(`#rows tr[data-id] td.path[title="/big"] .tag.cut`)),
		chromedp.Click(css(`#rows tr[data-id] td.path[title="/big"]`)),
		chromedp.WaitVisible(css(`#detail[data-path="/big"] #d-status.s2`)),
		chromedp.Click(css(`#tab-response`)),
		chromedp.WaitVisible(css(`#resp-body-truncated`)),
		shot("8-truncated"),
	)
	if note := text(`#resp-body-truncated`); !strings.Contains(note, "4.0 KB of 9.8 KB") {
		t.Errorf("truncation shown as %q", note)
	}
}
