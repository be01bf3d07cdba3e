package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/internal/testenv"
)

// browser drives a headless Chromium: each page is one run of the browser
// that loads a URL, writes a screenshot and prints the DOM as rendered.
// State lives in URLs (the UI's forms are sent with GET), so following a
// link or sending a form is loading the URL the browser would load.
type browser struct {
	t       *testing.T
	bin     string
	profile string // a fresh --user-data-dir
	shots   string // where screenshots go
	n       int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := ""
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		testenv.Missing(t, "chromium is not installed (Debian: apt-get install chromium); the end-to-end test drives it headless")
	}
	dir := t.TempDir()
	b := &browser{t: t, bin: bin, profile: filepath.Join(dir, "profile"), shots: filepath.Join(dir, "screenshots")}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// open loads u in the browser, at a laptop's window size, saves a
// screenshot named after the step, and returns the rendered DOM.
func (b *browser) open(step, u string) string {
	b.t.Helper()
	b.n++
	shot := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, step))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+b.profile, "--window-size=1366,900", "--hide-scrollbars",
		"--screenshot="+shot, "--dump-dom", u)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("%s: chromium: %v\n%s", step, err, tail(stderr.String(), 2000))
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("%s: no screenshot of the page (%d bytes, %v)", step, len(png), err)
	}
	b.t.Logf("%s: %s (%s)", step, u, shot)
	return stdout.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// link returns the href of the link whose text is text, resolved against
// the page's URL, as clicking it would.
func link(t *testing.T, page, dom, text string) string {
	t.Helper()
	re := regexp.MustCompile(`<a [^>]*href="([^"]*)"[^>]*>\s*` + regexp.QuoteMeta(html.EscapeString(text)) + `\s*</a>`)
	m := re.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no link %q on %s:\n%s", text, page, dom)
	}
	base, _ := url.Parse(page)
	ref, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return base.ResolveReference(ref).String()
}

// form returns what sending a GET form does: the URL of its action with its
// fields, after fill sets some of them. fields are the form's own, as the
// DOM has them (inputs and selects by their selected option, textareas by
// their text).
func form(t *testing.T, page, dom, selector string, fill map[string]string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<form [^>]*` + regexp.QuoteMeta(selector) + `[^>]*>.*?</form>`)
	f := re.FindString(dom)
	if f == "" {
		t.Fatalf("no form %s on %s", selector, page)
	}
	open, _, _ := strings.Cut(f, ">")
	if m := regexp.MustCompile(`method="([^"]*)"`).FindStringSubmatch(open); m == nil || !strings.EqualFold(m[1], "get") {
		t.Fatalf("form %s is not sent with GET: %s", selector, open)
	}
	action := regexp.MustCompile(`action="([^"]*)"`).FindStringSubmatch(open)
	if action == nil {
		t.Fatalf("form %s has no action", selector)
	}
	values := url.Values{}
	for _, m := range regexp.MustCompile(`<input [^>]*name="([^"]*)"[^>]*?(?:value="([^"]*)")?[^>]*>`).FindAllStringSubmatch(f, -1) {
		values.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range regexp.MustCompile(`(?s)<select [^>]*name="([^"]*)"[^>]*>(.*?)</select>`).FindAllStringSubmatch(f, -1) {
		if sel := regexp.MustCompile(`<option value="([^"]*)" selected`).FindStringSubmatch(m[2]); sel != nil {
			values.Set(m[1], html.UnescapeString(sel[1]))
		}
	}
	for _, m := range regexp.MustCompile(`(?s)<textarea [^>]*name="([^"]*)"[^>]*>(.*?)</textarea>`).FindAllStringSubmatch(f, -1) {
		values.Set(m[1], html.UnescapeString(m[2]))
	}
	for k, v := range fill {
		if !values.Has(k) {
			t.Fatalf("form %s has no field %q (it has %v)", selector, k, values)
		}
		values.Set(k, v)
	}
	base, _ := url.Parse(page)
	ref, _ := url.Parse(html.UnescapeString(action[1]))
	u := base.ResolveReference(ref)
	u.RawQuery = values.Encode()
	return u.String()
}

// shows fails unless the rendered page says each of want.
func shows(t *testing.T, step, dom string, want ...string) {
	t.Helper()
	txt := text(dom)
	for _, w := range want {
		if !strings.Contains(txt, w) {
			t.Errorf("%s: the page does not show %q:\n%s", step, w, txt)
		}
	}
}

// TestBrowser drives a real headless Chromium through the UI in front of a
// registry seeded from schemas/ through the sync: search, subject, version,
// diff, and the would-this-be-accepted form with an incompatible and a
// compatible candidate. Screenshots are in the test's temp dir (-v logs
// where).
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	reg, cat := seeded(t)
	u := newUI(t, reg.URL, cat)

	home := u.URL + "/"
	dom := b.open("subjects", home)
	shows(t, "subjects", dom, "9 of 9 subjects", createdSubject, "orders-team", "BACKWARD_TRANSITIVE")

	search := form(t, home, dom, `role="search"`, map[string]string{"q": "OrderCreated", "by": "subject"})
	dom = b.open("search", search)
	shows(t, "search", dom, "Subjects matching “OrderCreated”", "1 of 9 subjects", createdSubject+" BACKWARD_TRANSITIVE 2")

	subject := link(t, search, dom, createdSubject)
	dom = b.open("subject", subject)
	shows(t, "subject", dom, "Version history", "Key field order_id", "Owner orders-team",
		"Consumed by warehouse-service, shipment-service, notification-service", "Mode READWRITE", "unknown")

	version := link(t, subject, dom, "version 2")
	dom = b.open("version", version)
	shows(t, "version", dom, createdSubject+" version 2 latest", "shipping_address null | waybill.common.Address null",
		"References waybill.common.Address : waybill.common.Address version 1")

	diff := link(t, version, dom, "Diff with version 1")
	dom = b.open("diff", diff)
	shows(t, "diff", dom, "version 1 → version 2", "Compatible at BACKWARD_TRANSITIVE",
		"safe allowed FIELD_ADDED shipping_address", "safe allowed FIELD_ADDED total")

	// The diff at another level, through its own form.
	full := form(t, diff, dom, `class="inline"`, map[string]string{"level": "FORWARD"})
	dom = b.open("diff-forward", full)
	shows(t, "diff-forward", dom, "Compatible at FORWARD", "FIELD_ADDED shipping_address")

	check := link(t, full, dom, "Would this be accepted?")
	dom = b.open("check-form", check)
	shows(t, "check-form", dom, "Would this be accepted by "+createdSubject+"?", "Candidate schema (Avro JSON)")

	// The form starts from the latest version: add a field without a
	// default, which old data lacks.
	latest := regexp.MustCompile(`(?s)<textarea [^>]*name="schema"[^>]*>(.*?)</textarea>`).FindStringSubmatch(dom)
	if latest == nil {
		t.Fatal("no schema in the form")
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(html.UnescapeString(latest[1])), &schema); err != nil {
		t.Fatalf("the form's schema is not the latest version's JSON: %v", err)
	}
	fields := schema["fields"].([]any)
	schema["fields"] = append(fields, map[string]any{"name": "coupon_code", "type": "string"})
	bad, _ := json.MarshalIndent(schema, "", "  ")
	refused := form(t, check, dom, `class="candidate"`, map[string]string{"schema": string(bad)})
	dom = b.open("check-refused", refused)
	shows(t, "check-refused", dom, "Refused", "READER_FIELD_MISSING_DEFAULT_VALUE", `reader field "coupon_code"`,
		"The registry finds it incompatible", "give the new field a default")
	if strings.Contains(text(dom), "disagree") {
		t.Error("compat and the registry disagree")
	}

	// Now with a default: accepted by both.
	schema["fields"] = append(fields, map[string]any{"name": "coupon_code", "type": []any{"null", "string"}, "default": nil})
	good, _ := json.MarshalIndent(schema, "", "  ")
	accepted := form(t, refused, dom, `class="candidate"`, map[string]string{"schema": string(good)})
	dom = b.open("check-accepted", accepted)
	shows(t, "check-accepted", dom, "Accepted", "No finding", "The registry finds it compatible.")

	// A registry error is a page too.
	dom = b.open("error", u.URL+subjectPath("no-such-subject"))
	shows(t, "error", dom, "Not found in the registry", "Registry error code 40401")

	if dir := os.Getenv("WAYBILL_SCREENSHOTS"); dir != "" {
		copyDir(t, b.shots, dir)
	}
}

// copyDir keeps the screenshots after the test (WAYBILL_SCREENSHOTS=dir),
// to look at them.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
