package schemacheck

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format is an output format of a report.
type Format string

// The formats.
const (
	// Text is for a terminal: one "file:line:col: severity RULE ..." line per
	// finding, as compilers write them, then a summary line.
	Text Format = "text"
	// JSON is one JSON object: passed, errors, warnings, subject, findings.
	JSON Format = "json"
	// GitHub is GitHub Actions workflow commands (::error file=...::...), which
	// GitHub shows as annotations on the pull request's diff
	// (https://docs.github.com/actions/reference/workflow-commands-for-github-actions).
	GitHub Format = "github"
	// Markdown is a summary table fit for a pull request comment or
	// $GITHUB_STEP_SUMMARY.
	Markdown Format = "markdown"
)

// Formats returns the formats, in the order the help text lists them.
func Formats() []Format { return []Format{Text, JSON, GitHub, Markdown} }

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == strings.ToLower(strings.TrimSpace(s)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("schemacheck: unknown format %q (want text, json, github or markdown)", s)
}

// Write writes the report in format f.
func (r *Report) Write(w io.Writer, f Format) error {
	bw := bufio.NewWriter(w)
	switch f {
	case JSON:
		r.writeJSON(bw)
	case GitHub:
		r.writeGitHub(bw)
	case Markdown:
		r.writeMarkdown(bw)
	default:
		r.writeText(bw)
	}
	return bw.Flush()
}

// summary is the one-line outcome, e.g. "2 errors, 1 warning (5 event types,
// 9 versions)".
func (r *Report) summary() string {
	var s string
	switch errs, warns := r.Errors(), r.Warnings(); {
	case errs == 0 && warns == 0:
		s = "passed: no findings"
	case errs == 0:
		s = "passed with " + plural(warns, "warning")
	default:
		s = "failed: " + plural(errs, "error") + ", " + plural(warns, "warning")
	}
	if r.Subject != "" {
		s += " (" + r.Subject + ")"
	}
	return s
}

func location(f Finding) string {
	loc := f.File
	if loc == "" {
		loc = "-"
	}
	if f.Line > 0 {
		loc += fmt.Sprintf(":%d", f.Line)
		if f.Column > 0 {
			loc += fmt.Sprintf(":%d", f.Column)
		}
	}
	return loc
}

func (r *Report) writeText(w io.Writer) {
	for _, f := range r.Findings {
		at := ""
		if f.Path != "" {
			at = " at " + f.Path
		}
		fmt.Fprintf(w, "%s: %s %s%s: %s\n", location(f), f.Severity, f.Rule, at, oneLine(f.Message))
		if f.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", oneLine(f.Hint))
		}
	}
	if len(r.Checked) > 0 {
		if len(r.Findings) > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.Checked {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Event, c.Level, c.versions(), c.outcome())
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(w, r.summary())
}

func (r *Report) writeJSON(w io.Writer) {
	findings := r.Findings
	if findings == nil {
		findings = []Finding{}
	}
	out := struct {
		Passed   bool      `json:"passed"`
		Errors   int       `json:"errors"`
		Warnings int       `json:"warnings"`
		Subject  string    `json:"subject,omitempty"`
		Findings []Finding `json:"findings"`
	}{r.Passed(), r.Errors(), r.Warnings(), r.Subject, findings}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out) // cannot fail: plain data; write errors surface at Flush
}

func (r *Report) writeGitHub(w io.Writer) {
	for _, f := range r.Findings {
		cmd := "error"
		if f.Severity == Warning {
			cmd = "warning"
		}
		props := []string{}
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
				if f.Column > 0 {
					props = append(props, fmt.Sprintf("col=%d", f.Column))
				}
			}
		}
		title := f.Rule
		if f.Path != "" {
			title += " at " + f.Path
		}
		props = append(props, "title="+escapeProperty(title))
		msg := f.Message
		if f.Hint != "" {
			msg += "\nHint: " + f.Hint
		}
		fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(msg))
	}
	fmt.Fprintln(w, "waybill: "+r.summary())
}

// escapeData and escapeProperty escape as the GitHub Actions runner expects
// (actions/toolkit, packages/core/src/command.ts).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func (r *Report) writeMarkdown(w io.Writer) {
	fmt.Fprintln(w, "### Waybill schema check")
	fmt.Fprintln(w)
	icon := "✅"
	if !r.Passed() {
		icon = "❌"
	} else if r.Warnings() > 0 {
		icon = "⚠️"
	}
	fmt.Fprintf(w, "%s %s\n", icon, mdText(r.summary()))
	if len(r.Findings) > 0 {
		r.writeMarkdownFindings(w)
	}
	if len(r.Checked) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "<details><summary>Event types checked</summary>")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| Event type | Level | Versions | |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, c := range r.Checked {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdCode(c.Event), mdCode(string(c.Level)), mdText(c.versions()), mdText(c.outcome()))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "</details>")
	}
}

func (r *Report) writeMarkdownFindings(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | File | Path | Rule | Message | Hint |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, f := range r.Findings {
		sev := "❌ error"
		if f.Severity == Warning {
			sev = "⚠️ warning"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n",
			sev, mdCode(location(f)), mdCode(f.Path), mdCode(f.Rule), mdText(f.Message), mdText(f.Hint))
	}
}

func (c Checked) versions() string {
	s := plural(c.Versions, "version")
	switch {
	case len(c.New) == 0:
		s += ", none new"
	case len(c.New) == c.Versions:
		s += ", all checked"
	default:
		parts := make([]string, len(c.New))
		for i, n := range c.New {
			parts[i] = fmt.Sprintf("v%d", n)
		}
		s += ", new: " + strings.Join(parts, ", ")
	}
	return s
}

func (c Checked) outcome() string {
	if c.Findings == 0 {
		return "ok"
	}
	return plural(c.Findings, "finding")
}

// mdText makes s safe in a table cell.
func mdText(s string) string {
	return strings.NewReplacer("|", "\\|", "\r", "", "\n", "<br>", "<", "&lt;", ">", "&gt;").Replace(s)
}

// mdCode sets s in a code span inside a table cell.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	fence := "`"
	if strings.Contains(s, "`") {
		fence = "`` "
		return fence + mdText(s) + " ``"
	}
	return fence + strings.ReplaceAll(oneLine(s), "|", "\\|") + fence
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
