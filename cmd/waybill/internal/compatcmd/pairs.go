package compatcmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
)

func newPairs(env *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pairs < in.jsonl",
		Short: "Check a batch of reader/writer pairs, one JSON line each",
		Long: `Pairs reads JSON lines from standard input, each {"reader": R, "writer": W} where
R and W are schemas (as JSON, or as a JSON string holding the schema's text), and
writes exactly one JSON line per input line, in order:

  {"compatible": true|false, "messages": ["TYPE_MISMATCH at /fields/0/type: ...", ...]}

or {"error": "..."} for a line it cannot check (not JSON, a missing or invalid
schema). Messages are the incompatibilities, each with a JSON pointer into the
reader schema. Output is always JSON lines (--format json).

Exit code: 0 when every pair is compatible, 1 when any is not or any line could not
be checked, 2 when standard input cannot be read.`,
		Args:        cli.NoArgs,
		Annotations: map[string]string{"defaultFormat": "json"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env.Format != "json" {
				return cli.Usagef("compat pairs: --format %s: pairs writes JSON lines only", env.Format)
			}
			return runPairs(env.Stdin, env.Stdout)
		},
	}
	return cmd
}

type pairLine struct {
	Reader json.RawMessage `json:"reader"`
	Writer json.RawMessage `json:"writer"`
}

type pairResult struct {
	Compatible bool     `json:"compatible"`
	Messages   []string `json:"messages"`
}

type pairError struct {
	Error string `json:"error"`
}

func runPairs(stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReaderSize(stdin, 64<<10)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	allCompatible := true
	for {
		line, err := in.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			_ = out.Flush()
			return fmt.Errorf("compat pairs: reading standard input: %w", err)
		}
		res, ok := checkLine(bytes.TrimRight(line, "\r\n"))
		allCompatible = allCompatible && ok
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("compat pairs: %w", err)
		}
		// One answer per question, at once: a caller may be waiting for it
		// before it writes the next line.
		if err := out.Flush(); err != nil {
			return fmt.Errorf("compat pairs: writing: %w", err)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if !allCompatible {
		return cli.ErrFindings
	}
	return nil
}

// checkLine answers one input line; ok is false unless the pair is compatible.
func checkLine(line []byte) (res any, ok bool) {
	var p pairLine
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&p); err != nil {
		return pairError{Error: "not a JSON object: " + err.Error()}, false
	}
	if dec.More() {
		return pairError{Error: "more than one JSON value on the line"}, false
	}
	reader, err := lineSchema("reader", p.Reader)
	if err != nil {
		return pairError{Error: err.Error()}, false
	}
	writer, err := lineSchema("writer", p.Writer)
	if err != nil {
		return pairError{Error: err.Error()}, false
	}
	result := compat.Check(reader, writer)
	msgs := make([]string, 0, len(result.Incompatibilities))
	for _, f := range result.Incompatibilities {
		msgs = append(msgs, f.String())
	}
	return pairResult{Compatible: result.Compatible(), Messages: msgs}, result.Compatible()
}

// lineSchema parses a schema given as JSON, or as a JSON string holding its
// text. A JSON string that does not hold a JSON object, array or string is a
// type's name ("int", "null", "com.example.Name"), as in a schema.
func lineSchema(role string, raw json.RawMessage) (*compat.Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%s: missing", role)
	}
	text := []byte(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t := strings.TrimSpace(s); t != "" && strings.ContainsRune("{[\"", rune(t[0])) {
			text = []byte(s)
		}
	}
	schema, err := compat.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	return schema, nil
}
