package control_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsgrok/wsgrok/agent"
)

// findChromium returns the path of a Chromium (or Chrome) binary, or "".
func findChromium() string {
	if p := os.Getenv("WSGROK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is where screenshots go: $WSGROK_ARTIFACTS, or
// <repo>/artifacts/dashboard.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("WSGROK_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "artifacts", "dashboard")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := findChromium()
	if exe == "" {
		if os.Getenv("CI") == "" {
			t.Skip("no chromium binary found (apt-get install -y chromium); CI fails instead of skipping")
		}
		t.Fatal("CI is set but no chromium binary was found: install Debian's chromium package")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 860))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return ctx
}

type shooter struct {
	t   *testing.T
	ctx context.Context
	dir string
}

// shot saves a full-page PNG of what the browser shows.
func (s shooter) shot(name string) {
	s.t.Helper()
	// A page that is still loading has no size yet.
	do(s.t, s.ctx, "page ready for "+name, waitJS(`document.readyState === "complete" && document.body.offsetWidth > 0`, 10*time.Second))
	png, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS polls a JavaScript predicate in the page until it holds. It
// rides out navigations (whose evaluation errors it retries), which
// chromedp.Poll does not.
func waitJS(expr string, within time.Duration) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(within)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			ok, err := chromedp.Evaluate[bool]("!!("+expr+")")(ctx, tg)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("not within %v: %s (last error: %v)", within, expr, err)
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-tick.C:
			}
		}
	}
}

// loaded waits until the browser shows path, fully loaded.
func loaded(path string) chromedp.Action[chromedp.Void] {
	return waitJS(`location.pathname === "`+path+`" && document.readyState === "complete"`, 10*time.Second)
}

func TestDashboardInChromium(t *testing.T) {
	ctx := browser(t)
	p := newPlane(t)
	s := shooter{t, ctx, artifactsDir(t)}
	const name = "e2e-demo"

	// Sign up.
	do(t, ctx, "sign-up page", chromedp.Navigate(p.url+"/signup"), chromedp.WaitVisible(`input[name=email]`))
	s.shot("01-signup")
	do(t, ctx, "sign up",
		chromedp.SendKeys(`input[name=name]`, "Erin Example"),
		chromedp.SendKeys(`input[name=email]`, "erin@example.com"),
		chromedp.SendKeys(`input[name=password]`, "a long enough passphrase"),
		chromedp.Click(`button[type=submit]`),
		loaded("/tokens"), chromedp.WaitVisible(`#token-form input[name=name]`))

	// Create an authtoken in the page; it is shown once.
	do(t, ctx, "create a token",
		chromedp.SendKeys(`#token-form input[name=name]`, "laptop"),
		chromedp.Click(`#token-form button[type=submit]`),
		waitJS(`document.readyState === "complete" && document.getElementById("new-token-value") !== null`, 10*time.Second),
		chromedp.WaitVisible(`#new-token-value`))
	token, err := chromedp.Run(ctx, chromedp.Text(`#new-token-value`))
	if err != nil || len(strings.TrimSpace(token)) < 20 {
		t.Fatalf("token on the page: %q, %v", token, err)
	}
	token = strings.TrimSpace(token)
	s.shot("02-tokens-created")

	// The tunnel appears on the Tunnels page without a reload.
	do(t, ctx, "tunnels page", chromedp.Navigate(p.url+"/tunnels"), chromedp.WaitVisible(`.empty`),
		waitJS(`document.getElementById("live-state").dataset.state === "open"`, 10*time.Second))
	s.shot("03-tunnels-empty")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, agentDone := p.agent(t, token, name)
	do(t, ctx, "tunnel appears live", waitJS(`document.querySelector('[data-tunnel="`+name+`"] .agents tbody td.mono') !== null`, 10*time.Second))
	t.Logf("tunnel shown %v after the agent started", time.Since(start).Round(time.Millisecond))
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameDocument === true`)); err != nil || !same {
		t.Fatalf("the page reloaded to show the tunnel (%v)", err)
	}
	s.shot("04-tunnels-live")

	// Traffic: a request through the edge shows up as it passes.
	do(t, ctx, "traffic page", chromedp.Navigate(p.url+"/traffic"),
		waitJS(`document.getElementById("live-state").dataset.state === "open"`, 10*time.Second))
	for _, path := range []string{"/hello", "/api/items?id=7", "/missing"} {
		p.get(t, name, path)
	}
	do(t, ctx, "requests appear", waitJS(`document.querySelectorAll("#traffic-rows tr").length >= 3`, 10*time.Second))
	s.shot("05-traffic")

	// Security: deny 127.0.0.1 and watch requests get 403.
	do(t, ctx, "security page", chromedp.Navigate(p.url+"/security?endpoint="+name), chromedp.WaitVisible(`#policy-form`),
		chromedp.SendKeys(`#policy-form textarea[name=deny]`, "127.0.0.1"),
		chromedp.SendKeys(`#policy-form textarea[name=paths]`, "/admin"),
		chromedp.SendKeys(`#policy-form input[name=rate_limit]`, "600"))
	saved := time.Now()
	do(t, ctx, "save rules", chromedp.Click(`#policy-form button[type=submit]`),
		loaded("/security"), chromedp.WaitVisible(`.notice.ok`))
	eventually(t, 5*time.Second, "deny rule in force", func() bool { return p.get(t, name, "/hello") == 403 })
	t.Logf("403 at the edge %v after clicking Save", time.Since(saved).Round(time.Millisecond))
	s.shot("06-security")

	// Analytics: the counters and the chart move by themselves.
	do(t, ctx, "analytics page", chromedp.Navigate(p.url+"/analytics?endpoint="+name),
		chromedp.WaitVisible(`#stat-requests`))
	before, err := chromedp.Run(ctx, chromedp.Text(`#stat-requests`))
	if err != nil {
		t.Fatal(err)
	}
	n0, _ := strconv.Atoi(strings.TrimSpace(before))
	for range 5 {
		p.get(t, name, "/hello") // 403: blocked at the edge
	}
	do(t, ctx, "counters move", waitJS(`Number(document.getElementById("stat-requests").textContent) >= `+strconv.Itoa(n0+5)+
		` && Number(document.getElementById("stat-blocked").textContent) >= 5`+
		` && document.querySelectorAll("#chart-requests rect").length > 0`, 10*time.Second))
	s.shot("07-analytics")

	// Names and account pages, for the screenshots.
	do(t, ctx, "names page", chromedp.Navigate(p.url+"/names"), chromedp.WaitVisible(`#names`))
	s.shot("08-names")
	do(t, ctx, "account page", chromedp.Navigate(p.url+"/account"), chromedp.WaitVisible(`#totp`))
	s.shot("09-account")

	// On a phone.
	do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(p.url+"/tunnels"),
		chromedp.WaitVisible(`[data-tunnel="`+name+`"]`))
	s.shot("10-phone-tunnels")
	do(t, ctx, "phone analytics", chromedp.Navigate(p.url+"/analytics?endpoint="+name), chromedp.WaitVisible(`#stat-requests`))
	s.shot("11-phone-analytics")
	do(t, ctx, "desktop viewport", chromedp.EmulateViewport(1280, 860))

	// Revoke the token in the page: the agent is disconnected.
	do(t, ctx, "tokens page", chromedp.Navigate(p.url+"/tokens"), chromedp.WaitVisible(`#tokens form[data-confirm] button`),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	revoked := time.Now()
	do(t, ctx, "revoke", chromedp.Click(`#tokens form[data-confirm] button`),
		loaded("/tokens"), chromedp.WaitVisible(`#tokens tr.revoked`))
	select {
	case err := <-agentDone:
		t.Logf("agent disconnected %v after Revoke", time.Since(revoked).Round(time.Millisecond))
		if !errors.Is(err, agent.ErrAuth) || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("agent ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent was still connected 5s after its token was revoked")
	}
	s.shot("12-tokens-revoked")
	// The edge keeps the name for a grace period: the tunnel shows offline
	// with no agent, or is gone.
	do(t, ctx, "tunnel offline", chromedp.Navigate(p.url+"/tunnels"),
		waitJS(`document.querySelector('[data-tunnel="`+name+`"] td.mono') === null`, 10*time.Second))
	s.shot("13-tunnels-offline")

	// Log out: the login page.
	do(t, ctx, "log out", chromedp.Click(`.who button`), loaded("/login"),
		chromedp.WaitVisible(`input[name=email]`))
	s.shot("00-login")
}
