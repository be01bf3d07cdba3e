package registry

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"

	sr "github.com/waybill/waybill/pkg/registry"
)

// authorize applies HTTP basic auth when users are configured: no valid
// credentials is 401, a write by a read-only user 403, each with the JSON
// error body clients decode. It reports whether the request may go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rte *route) bool {
	if len(s.cfg.Users) == 0 {
		return true
	}
	name, password, ok := r.BasicAuth()
	if !ok {
		writeError(w, sr.ErrUnauthorized.With("Unauthorized: credentials are required"))
		return false
	}
	u := s.user(name, password)
	if u == nil {
		writeError(w, sr.ErrUnauthorized.With("Unauthorized: bad credentials"))
		return false
	}
	if rte != nil && rte.write && u.Access != ReadWrite {
		writeError(w, sr.ErrForbidden.With("Forbidden: user %q may not change the registry", name))
		return false
	}
	return true
}

// user returns the user with these credentials, comparing in constant time
// (hashes first, so the lengths of the secrets do not leak either).
func (s *Server) user(name, password string) *User {
	hn, hp := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(password))
	var found *User
	for i := range s.cfg.Users {
		u := &s.cfg.Users[i]
		un, up := sha256.Sum256([]byte(u.Name)), sha256.Sum256([]byte(u.Password))
		if subtle.ConstantTimeCompare(hn[:], un[:])&subtle.ConstantTimeCompare(hp[:], up[:]) == 1 {
			found = u
		}
	}
	return found
}

// ParseUsers reads basic auth users, one a line, as `name:password:access`
// where access is `readonly` or `readwrite`. Blank lines and lines starting
// with # are skipped. The password may contain colons: the access level is
// after the last one.
func ParseUsers(r io.Reader) ([]User, error) {
	var users []User
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, rest, ok1 := strings.Cut(text, ":")
		i := strings.LastIndexByte(rest, ':')
		if !ok1 || i < 0 || name == "" {
			return nil, fmt.Errorf("registry: users line %d: want name:password:access", line)
		}
		password, access := rest[:i], rest[i+1:]
		u := User{Name: name, Password: password}
		switch strings.ToLower(access) {
		case "readonly", "read-only", "ro":
			u.Access = ReadOnly
		case "readwrite", "read-write", "rw":
			u.Access = ReadWrite
		default:
			return nil, fmt.Errorf("registry: users line %d: access %q: want readonly or readwrite", line, access)
		}
		if password == "" {
			return nil, fmt.Errorf("registry: users line %d: empty password", line)
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("registry: reading users: %w", err)
	}
	return users, nil
}
