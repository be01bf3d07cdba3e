package registry

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Passed reports whether a plan, and the results of applying it (nil if it
// was not applied), leave nothing for a person to look at: no drift, no
// action failed or skipped.
func Passed(p *Plan, results []Result) bool {
	if len(p.Drift) > 0 {
		return false
	}
	for _, r := range results {
		if r.Status != Applied {
			return false
		}
	}
	return true
}

// WriteText writes the plan for a terminal, one line per action and per
// drift, in the order they apply, then, if results is not nil, the outcome
// of each action:
//
//	Plan for http://localhost:8081 (3 subjects, 4 versions in the repository):
//	  ~ waybill.common.Address: compatibility none (registry default BACKWARD) -> FULL_TRANSITIVE
//	  + waybill.common.Address v1 (common/Address/v1.avsc)
//	  + order-events-waybill.orders.OrderCreated v2 (orders/OrderCreated/v2.avsc), references waybill.common.Address v1
//	  - order-events-waybill.orders.OrderShipped (delete subject)
//	  ! version 1 of order-events-waybill.orders.OrderCreated in the registry (ID 3) differs from orders/OrderCreated/v1.avsc: ...
//	Plan: 2 to register, 1 level to set, 1 to delete; 1 drift.
//
// "+" registers, "~" sets a level, "-" deletes, "!" is drift (never changed
// by a push).
func (p *Plan) WriteText(w io.Writer, results []Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Plan for %s (%s, %s in the repository):\n", p.URL, plural(p.Subjects, "subject"), plural(p.Versions, "version"))
	if p.Empty() {
		fmt.Fprintln(bw, "  nothing to do: the registry holds every version of the repository, at the catalog's levels")
	}
	for _, a := range p.Actions {
		fmt.Fprintf(bw, "  %s\n", line(a))
	}
	for _, d := range p.Drift {
		fmt.Fprintf(bw, "  ! %s\n", d.Message)
	}
	fmt.Fprintf(bw, "Plan: %d to register, %s to set, %d to delete; %d drift.\n",
		p.Count(Register), plural(p.Count(SetCompatibility), "level"), p.Count(DeleteVersion)+p.Count(DeleteSubject), len(p.Drift))
	if results != nil {
		writeResults(bw, results)
	}
	return bw.Flush()
}

func line(a Action) string {
	switch a.Kind {
	case SetCompatibility:
		from := string(a.From)
		if from == "" {
			from = "none (registry default " + string(a.Global) + ")"
		}
		return fmt.Sprintf("~ %s: compatibility %s -> %s", a.Subject, from, a.Level)
	case Register:
		s := fmt.Sprintf("+ %s v%d (%s)", a.Subject, a.Version, a.File)
		if len(a.References) > 0 {
			s += ", references " + describeRefs(a.References)
		}
		return s
	case DeleteVersion:
		return fmt.Sprintf("- %s v%d (delete version)", a.Subject, a.Version)
	case DeleteSubject:
		return fmt.Sprintf("- %s (delete subject)", a.Subject)
	}
	return string(a.Kind) + " " + a.Subject
}

func writeResults(w io.Writer, results []Result) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintln(w, "Apply:")
	var applied, failed, skipped int
	for _, r := range results {
		l := line(r.Action)
		switch r.Status {
		case Applied:
			applied++
			if r.ID > 0 {
				l += fmt.Sprintf(": ID %d", r.ID)
			}
			fmt.Fprintf(w, "  ok       %s\n", l)
		case Failed:
			failed++
			fmt.Fprintf(w, "  FAILED   %s: %s\n", l, oneLine(message(r.Err)))
		case Skipped:
			skipped++
			fmt.Fprintf(w, "  skipped  %s: %s\n", l, oneLine(message(r.Err)))
		}
	}
	fmt.Fprintf(w, "Applied %d of %s", applied, plural(len(results), "action"))
	if failed+skipped > 0 {
		fmt.Fprintf(w, ": %d failed, %d skipped", failed, skipped)
	}
	fmt.Fprintln(w, ".")
}

// message is an error as the user needs it: the registry's own message and
// code, without Go's wrapping.
func message(err error) string {
	var re *Error
	if errors.As(err, &re) {
		return fmt.Sprintf("%s (error code %d)", re.Message, re.Code)
	}
	return strings.TrimPrefix(err.Error(), "registry: ")
}

type jsonError struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}

type jsonAction struct {
	Action
	Status Status     `json:"status,omitempty"`
	ID     int        `json:"id,omitempty"`
	Error  *jsonError `json:"error,omitempty"`
}

// WriteJSON writes the plan, and the results of applying it if results is
// not nil, as one JSON object:
//
//	{"url": ..., "subjects": 3, "versions": 4, "applied": true, "passed": false,
//	 "actions": [{"action": "register", "subject": ..., "version": 2, "file": ...,
//	              "references": [{"name", "subject", "version"}],
//	              "status": "failed", "error": {"code": 409, "message": ...}}, ...],
//	 "drift": [{"kind": "schema", "subject": ..., "version": 1, "file": ..., "path": ..., "message": ...}]}
//
// Without results, actions have no status and "applied" is false.
func (p *Plan) WriteJSON(w io.Writer, results []Result) error {
	out := struct {
		URL      string       `json:"url"`
		Subjects int          `json:"subjects"`
		Versions int          `json:"versions"`
		Applied  bool         `json:"applied"`
		Passed   bool         `json:"passed"`
		Actions  []jsonAction `json:"actions"`
		Drift    []Drift      `json:"drift"`
	}{URL: p.URL, Subjects: p.Subjects, Versions: p.Versions, Applied: results != nil, Passed: Passed(p, results),
		Actions: []jsonAction{}, Drift: p.Drift}
	if out.Drift == nil {
		out.Drift = []Drift{}
	}
	for i, a := range p.Actions {
		ja := jsonAction{Action: a}
		if i < len(results) {
			r := results[i]
			ja.Status, ja.ID = r.Status, r.ID
			if r.Err != nil {
				ja.Error = &jsonError{Message: message(r.Err)}
				var re *Error
				if errors.As(r.Err, &re) {
					ja.Error.Code, ja.Error.Message = int(re.Code), re.Message
				}
			}
		}
		out.Actions = append(out.Actions, ja)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
