package composecheck_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// promQuery is what the tests need to know of a PromQL expression
// (https://prometheus.io/docs/prometheus/latest/querying/basics/).
type promQuery struct {
	metrics []string        // metric names selected
	labels  []string        // label names in matchers and in by/without/on/ignoring/group_* clauses
	jobs    []string        // values of job="..." matchers
	rated   map[string]bool // metrics selected inside rate, irate or increase
	outerBy []string        // the result's labels, when an aggregation decides them (nil: the series')
}

// promKeywords are the words of PromQL that are not metric names.
var promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"}

var promAggregations = []string{"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}

// promToken is an identifier, a string, a number or one punctuation
// character.
type promToken struct {
	kind byte // 'i' identifier, 's' string, 'n' number or duration, 'p' punctuation
	text string
}

func lexPromQL(expr string) ([]promToken, error) {
	var toks []promToken
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"' || r == '\'' || r == '`':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				if rs[j] == '\\' && r != '`' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string in %q", expr)
			}
			s, err := strconv.Unquote(`"` + strings.ReplaceAll(string(rs[i+1:j]), `"`, `\"`) + `"`)
			if err != nil {
				s = string(rs[i+1 : j])
			}
			toks = append(toks, promToken{'s', s})
			i = j + 1
		case r == '_' || r == ':' || unicode.IsLetter(r):
			j := i
			for j < len(rs) && (rs[j] == '_' || rs[j] == ':' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			toks = append(toks, promToken{'i', string(rs[i:j])})
			i = j
		case unicode.IsDigit(r) || r == '.':
			j := i
			for j < len(rs) && (unicode.IsDigit(rs[j]) || unicode.IsLetter(rs[j]) || rs[j] == '.') {
				j++
			}
			toks = append(toks, promToken{'n', string(rs[i:j])})
			i = j
		case r == '$':
			// A Grafana variable ($__rate_interval, ${service}): a value.
			j := i + 1
			for j < len(rs) && (rs[j] == '_' || rs[j] == '{' || rs[j] == '}' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			toks = append(toks, promToken{'n', string(rs[i:j])})
			i = j
		default:
			toks = append(toks, promToken{'p', string(r)})
			i++
		}
	}
	return toks, nil
}

func parsePromQL(expr string) (promQuery, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return promQuery{}, err
	}
	q := promQuery{rated: map[string]bool{}}
	var stack []string // the function each open parenthesis belongs to
	aggregated := false
	next := func(i int) promToken {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return promToken{}
	}
	// labelList reads "( a, b )" from i, the "(", and returns the labels
	// and the index of the ")".
	labelList := func(i int) ([]string, int, error) {
		if i >= len(toks) || toks[i].text != "(" {
			return nil, i, fmt.Errorf("want ( after a grouping keyword in %q", expr)
		}
		var labels []string
		for i++; i < len(toks) && toks[i].text != ")"; i++ {
			switch {
			case toks[i].kind == 'i':
				labels = append(labels, toks[i].text)
			case toks[i].text != ",":
				return nil, i, fmt.Errorf("unexpected %q in a label list of %q", toks[i].text, expr)
			}
		}
		if i >= len(toks) {
			return nil, i, fmt.Errorf("unclosed label list in %q", expr)
		}
		return labels, i, nil
	}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case tok.kind == 'i' && slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, tok.text):
			if tok.text == "group_left" || tok.text == "group_right" {
				if next(i).text != "(" {
					continue // group_left without labels
				}
			}
			labels, end, err := labelList(i + 1)
			if err != nil {
				return q, err
			}
			q.labels = append(q.labels, labels...)
			if tok.text == "by" && q.outerBy == nil && aggregated {
				q.outerBy = slices.DeleteFunc(slices.Clone(labels), func(l string) bool {
					return l == "le" && slices.Contains(stack, "histogram_quantile")
				})
				if q.outerBy == nil {
					q.outerBy = []string{}
				}
			}
			i = end
		case tok.kind == 'i' && next(i).text == "(":
			if slices.Contains(promAggregations, tok.text) && !aggregated {
				aggregated = true
				// "sum by (x) (...)" decides the labels above; a later
				// by belongs to it. Without a by the result has none.
				if nt := next(i); nt.text == "(" && !hasByAfter(toks, i) {
					q.outerBy = []string{}
				}
			}
			stack = append(stack, tok.text)
			i++
		case tok.kind == 'i' && slices.Contains(promAggregations, tok.text) && (next(i).text == "by" || next(i).text == "without"):
			aggregated = true // sum by (x) (...): the by clause comes next
		case tok.kind == 'i' && slices.Contains(promKeywords, strings.ToLower(tok.text)):
		case tok.kind == 'i':
			q.metrics = append(q.metrics, tok.text)
			for _, f := range stack {
				if f == "rate" || f == "irate" || f == "increase" {
					q.rated[tok.text] = true
				}
			}
		case tok.text == "(":
			stack = append(stack, "")
		case tok.text == ")":
			if len(stack) == 0 {
				return q, fmt.Errorf("unbalanced ) in %q", expr)
			}
			stack = stack[:len(stack)-1]
		case tok.text == "{":
			// Label matchers: name op "value" [, ...] }
			for i++; i < len(toks) && toks[i].text != "}"; i++ {
				if toks[i].text == "," {
					continue
				}
				if toks[i].kind != 'i' {
					return q, fmt.Errorf("unexpected %q in the matchers of %q", toks[i].text, expr)
				}
				name := toks[i].text
				op := ""
				for i++; i < len(toks) && slices.Contains([]string{"=", "!", "~"}, toks[i].text); i++ {
					op += toks[i].text
				}
				if i >= len(toks) || toks[i].kind != 's' || !slices.Contains([]string{"=", "!=", "=~", "!~"}, op) {
					return q, fmt.Errorf("bad matcher of %s in %q", name, expr)
				}
				q.labels = append(q.labels, name)
				if name == "job" && op == "=" {
					q.jobs = append(q.jobs, toks[i].text)
				}
			}
		case tok.text == "[":
			for i < len(toks) && toks[i].text != "]" {
				i++
			}
		}
	}
	if len(stack) != 0 {
		return q, fmt.Errorf("unclosed ( in %q", expr)
	}
	return q, nil
}

// hasByAfter reports whether the aggregation at toks[i] (followed by its
// parenthesised argument) is followed by a by or without clause: sum(x) by (l).
func hasByAfter(toks []promToken, i int) bool {
	depth := 0
	for j := i + 1; j < len(toks); j++ {
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j+1 < len(toks) && (toks[j+1].text == "by" || toks[j+1].text == "without")
			}
		}
	}
	return false
}

func TestParsePromQL(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		metrics []string
		labels  []string
		jobs    []string
		rated   []string
		outerBy []string
	}{
		{
			expr:    `sum by (service, topic) (rate(waybill_events_produced_total{service=~"$service"}[$__rate_interval]))`,
			metrics: []string{"waybill_events_produced_total"}, labels: []string{"service", "topic", "service"},
			rated: []string{"waybill_events_produced_total"}, outerBy: []string{"service", "topic"},
		},
		{
			expr:    `histogram_quantile(0.99, sum by (service, le) (rate(waybill_handler_duration_seconds_bucket{service=~"$service"}[5m])))`,
			metrics: []string{"waybill_handler_duration_seconds_bucket"}, labels: []string{"service", "le", "service"},
			rated: []string{"waybill_handler_duration_seconds_bucket"}, outerBy: []string{"service"},
		},
		{
			expr:    `up{job="waybill-services", service=~"$service"}`,
			metrics: []string{"up"}, labels: []string{"job", "service"}, jobs: []string{"waybill-services"},
		},
		{
			expr:    `sum(increase(a_total[$__range])) / on (x) group_left b offset 5m`,
			metrics: []string{"a_total", "b"}, labels: []string{"x"}, rated: []string{"a_total"}, outerBy: []string{},
		},
		{
			expr:    `sum(rate(a_total[1m])) by (topic)`,
			metrics: []string{"a_total"}, labels: []string{"topic"}, rated: []string{"a_total"}, outerBy: []string{"topic"},
		},
	} {
		q, err := parsePromQL(tc.expr)
		if err != nil {
			t.Errorf("parsePromQL(%q): %v", tc.expr, err)
			continue
		}
		var rated []string
		for m := range q.rated {
			rated = append(rated, m)
		}
		slices.Sort(rated)
		if !slices.Equal(q.metrics, tc.metrics) || !slices.Equal(q.labels, tc.labels) || !slices.Equal(q.jobs, tc.jobs) ||
			!slices.Equal(rated, tc.rated) || !slices.Equal(q.outerBy, tc.outerBy) || (q.outerBy == nil) != (tc.outerBy == nil) {
			t.Errorf("parsePromQL(%q) =\n  metrics %q labels %q jobs %q rated %q outerBy %#v\nwant\n  metrics %q labels %q jobs %q rated %q outerBy %#v",
				tc.expr, q.metrics, q.labels, q.jobs, rated, q.outerBy, tc.metrics, tc.labels, tc.jobs, tc.rated, tc.outerBy)
		}
	}
	for _, bad := range []string{`sum(rate(x[1m])`, `x{a=}`, `sum by (a`, `x{a="b}`} {
		if _, err := parsePromQL(bad); err == nil {
			t.Errorf("parsePromQL(%q): no error", bad)
		}
	}
}
