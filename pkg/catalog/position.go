package catalog

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// position turns a byte offset into a 1-based line and column (in bytes).
func position(text []byte, off int64) (line, col int) {
	if off > int64(len(text)) {
		off = int64(len(text))
	}
	if off < 0 {
		off = 0
	}
	before := text[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// locate returns the line and column where the value at a JSON pointer
// (RFC 6901) starts in a JSON text, or 0, 0 if the text has no such value.
func locate(text []byte, ptr string) (line, col int) {
	if ptr == "" || ptr == "/" {
		ptr = ""
	}
	var segs []string
	if ptr != "" {
		if !strings.HasPrefix(ptr, "/") {
			return 0, 0
		}
		for _, s := range strings.Split(ptr[1:], "/") {
			s = strings.ReplaceAll(s, "~1", "/")
			segs = append(segs, strings.ReplaceAll(s, "~0", "~"))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	off, ok := seek(dec, text, segs)
	if !ok {
		return 0, 0
	}
	return position(text, off)
}

// seek reads from dec up to the value at segs below the value about to be
// read, and returns the offset where that value starts.
func seek(dec *json.Decoder, text []byte, segs []string) (int64, bool) {
	start := skipSeparators(text, dec.InputOffset())
	if len(segs) == 0 {
		return start, true
	}
	tok, err := dec.Token()
	if err != nil {
		return 0, false
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return 0, false
			}
			if key == segs[0] {
				return seek(dec, text, segs[1:])
			}
			if !skipValue(dec) {
				return 0, false
			}
		}
	case json.Delim('['):
		want, err := strconv.Atoi(segs[0])
		if err != nil {
			return 0, false
		}
		for i := 0; dec.More(); i++ {
			if i == want {
				return seek(dec, text, segs[1:])
			}
			if !skipValue(dec) {
				return 0, false
			}
		}
	}
	return 0, false
}

// skipValue reads one whole value.
func skipValue(dec *json.Decoder) bool {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return true
		}
	}
}

// skipSeparators skips the white space, colons and commas json.Decoder
// leaves between the end of one token and the start of the next value.
func skipSeparators(text []byte, off int64) int64 {
	for off < int64(len(text)) {
		switch text[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}
