package compat

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Locate returns the line and column (1-based, in characters) where the value
// that the JSON pointer ptr (RFC 6901) names starts in the JSON text. When ptr
// names nothing in text, it locates the deepest value on the way that exists;
// when text is not JSON, it returns what it found before the error (0, 0 if
// nothing).
func Locate(text []byte, ptr string) (line, col int) {
	var want []string
	if ptr != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			want = append(want, strings.NewReplacer("~1", "/", "~0", "~").Replace(tok))
		}
	}
	l := locator{text: text, want: want, best: -1}
	l.value(0, true)
	if l.best < 0 {
		return 0, 0
	}
	return Position(text, l.best)
}

// Position returns the 1-based line and column (in characters) of the byte at
// offset off in text; an offset at the end of text is just after its last
// character.
func Position(text []byte, off int) (line, col int) {
	off = max(0, min(off, len(text)))
	line = 1 + strings.Count(string(text[:off]), "\n")
	start := strings.LastIndexByte(string(text[:off]), '\n') + 1
	return line, 1 + utf8.RuneCount(text[start:off])
}

// locator is a small JSON scanner that records where the values along a
// pointer start. It stops at the first syntax error (l.failed).
type locator struct {
	text   []byte
	i      int
	want   []string
	best   int
	failed bool
}

func (l *locator) space() {
	for l.i < len(l.text) {
		switch l.text[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		default:
			return
		}
	}
}

// value scans one value. onPath says whether its path is want[:depth].
func (l *locator) value(depth int, onPath bool) {
	l.space()
	if l.i >= len(l.text) {
		l.failed = true
		return
	}
	if onPath {
		l.best = l.i
	}
	follow := func(tok string) bool { return onPath && depth < len(l.want) && l.want[depth] == tok }
	switch l.text[l.i] {
	case '{':
		l.i++
		l.space()
		if l.peek('}') {
			return
		}
		for !l.failed {
			l.space()
			key, ok := l.str()
			if !ok {
				l.failed = true
				return
			}
			l.space()
			if !l.peek(':') {
				l.failed = true
				return
			}
			l.value(depth+1, follow(key))
			l.space()
			if l.peek('}') {
				return
			}
			if !l.peek(',') {
				l.failed = true
			}
		}
	case '[':
		l.i++
		l.space()
		if l.peek(']') {
			return
		}
		for n := 0; !l.failed; n++ {
			l.value(depth+1, follow(strconv.Itoa(n)))
			l.space()
			if l.peek(']') {
				return
			}
			if !l.peek(',') {
				l.failed = true
			}
		}
	case '"':
		if _, ok := l.str(); !ok {
			l.failed = true
		}
	default: // number, true, false, null
		start := l.i
		for l.i < len(l.text) && !strings.ContainsRune(" \t\r\n,]}:", rune(l.text[l.i])) {
			l.i++
		}
		if l.i == start {
			l.failed = true
		}
	}
}

// peek consumes c if it is next.
func (l *locator) peek(c byte) bool {
	if l.i < len(l.text) && l.text[l.i] == c {
		l.i++
		return true
	}
	return false
}

// str scans a string and returns its value.
func (l *locator) str() (string, bool) {
	if !l.peek('"') {
		return "", false
	}
	start := l.i
	for l.i < len(l.text) {
		switch l.text[l.i] {
		case '\\':
			l.i += 2
		case '"':
			raw := string(l.text[start:l.i])
			l.i++
			if !strings.Contains(raw, "\\") {
				return raw, true
			}
			s, err := strconv.Unquote(`"` + raw + `"`)
			if err != nil {
				return raw, true
			}
			return s, true
		default:
			l.i++
		}
	}
	return "", false
}
