// Package gittree reads a directory of a Git commit as an fs.FS, so code that
// loads files from disk (catalog.Load) can load the same files as they were on
// another branch, without a checkout and without touching the work tree.
//
// It shells out to the git binary: `git rev-parse` resolves the revision,
// `git ls-tree` lists the directory and one `git cat-file --batch` process
// reads every blob. The whole tree is read into memory when it is opened, which
// suits what it is for (a directory of schema files, a few megabytes at most).
package gittree

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrUnknownRevision is returned (wrapped) when the revision names no commit.
var ErrUnknownRevision = errors.New("gittree: unknown revision")

// Open returns the directory dir of the commit that rev names, in the Git
// repository that contains repoDir. dir is relative to the repository's root
// ("schemas"); "" or "." is the whole tree. If the commit exists but has no
// such directory, Open returns an empty FS and an error wrapping
// fs.ErrNotExist, so callers can treat "the base branch had no schemas yet"
// differently from "the revision does not exist".
func Open(ctx context.Context, repoDir, rev, dir string) (fs.FS, error) {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, "\x00\n") {
		return nil, fmt.Errorf("%w %q", ErrUnknownRevision, rev)
	}
	dir = strings.Trim(path.Clean("/"+strings.ReplaceAll(dir, "\\", "/")), "/")

	commit, err := git(ctx, repoDir, nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		// With --quiet, git says nothing when only the revision is unknown.
		var gerr *gitError
		if errors.As(err, &gerr) && gerr.stderr == "" {
			return nil, fmt.Errorf("%w %q", ErrUnknownRevision, rev)
		}
		return nil, err
	}
	commitID := strings.TrimSpace(string(commit))

	treeish := commitID + "^{tree}"
	if dir != "" {
		kind, err := git(ctx, repoDir, nil, "cat-file", "-t", commitID+":"+dir)
		if err != nil || strings.TrimSpace(string(kind)) != "tree" {
			return newFS(nil), fmt.Errorf("gittree: %s has no directory %q: %w", rev, dir, fs.ErrNotExist)
		}
		treeish = commitID + ":" + dir
	}

	listing, err := git(ctx, repoDir, nil, "ls-tree", "-r", "-z", "--full-tree", treeish)
	if err != nil {
		return nil, err
	}
	var names, ids []string
	for _, rec := range bytes.Split(listing, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		// "<mode> SP <type> SP <object> TAB <file>"
		meta, name, ok := bytes.Cut(rec, []byte{'\t'})
		fields := strings.Fields(string(meta))
		if !ok || len(fields) != 3 {
			return nil, fmt.Errorf("gittree: unexpected ls-tree output %q", rec)
		}
		if fields[1] != "blob" || fields[0] == "120000" { // skip submodules and symlinks
			continue
		}
		names = append(names, string(name))
		ids = append(ids, fields[2])
	}

	blobs, err := readBlobs(ctx, repoDir, ids)
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(names))
	for i, name := range names {
		files[name] = blobs[i]
	}
	return newFS(files), nil
}

// OpenDir returns the directory dir of a Git work tree as it is in the commit
// that rev names: OpenDir(ctx, "schemas", "origin/main") is the schemas
// directory of the base branch. Errors are as Open's.
func OpenDir(ctx context.Context, dir, rev string) (fs.FS, error) {
	prefix, err := git(ctx, dir, nil, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	return Open(ctx, dir, rev, strings.TrimSpace(string(prefix)))
}

// readBlobs reads the blobs ids with a single `git cat-file --batch`.
func readBlobs(ctx context.Context, repoDir string, ids []string) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in := strings.Join(ids, "\n") + "\n"
	out, err := git(ctx, repoDir, strings.NewReader(in), "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(out))
	blobs := make([][]byte, len(ids))
	for i, id := range ids {
		header, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("gittree: reading blob %s: %w", id, err)
		}
		// "<object> SP <type> SP <size> LF <contents> LF"
		fields := strings.Fields(header)
		if len(fields) != 3 || fields[1] != "blob" {
			return nil, fmt.Errorf("gittree: reading blob %s: unexpected header %q", id, strings.TrimSpace(header))
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, fmt.Errorf("gittree: reading blob %s: bad size %q", id, fields[2])
		}
		blob := make([]byte, size+1)
		if _, err := io.ReadFull(r, blob); err != nil {
			return nil, fmt.Errorf("gittree: reading blob %s: %w", id, err)
		}
		blobs[i] = blob[:size]
	}
	return blobs, nil
}

// git runs git in dir and returns its standard output. A failure carries the
// first line git wrote to standard error.
func git(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, &gitError{args: args, stderr: strings.TrimPrefix(msg, "fatal: "), err: err}
	}
	return stdout.Bytes(), nil
}

// gitError is a failed git command: its first line of standard error, if any.
type gitError struct {
	args   []string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := e.stderr
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("gittree: git %s: %s", e.args[0], msg)
}

func (e *gitError) Unwrap() error { return e.err }

// memFS is a read-only in-memory file system. Directories are implied by the
// files' paths, as in a Git tree (which has no empty directories).
type memFS struct {
	files map[string][]byte
	dirs  map[string][]fs.DirEntry // sorted by name; "." is the root
}

func newFS(files map[string][]byte) *memFS {
	m := &memFS{files: files, dirs: map[string][]fs.DirEntry{".": nil}}
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	seen := map[string]bool{}
	for name, data := range m.files {
		child, size, isDir := name, int64(len(data)), false
		for {
			parent := path.Dir(child)
			if seen[child] {
				break
			}
			seen[child] = true
			m.dirs[parent] = append(m.dirs[parent], &info{name: path.Base(child), size: size, dir: isDir})
			if parent == "." {
				break
			}
			child, size, isDir = parent, 0, true
		}
	}
	for _, entries := range m.dirs {
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	}
	return m
}

// Open implements fs.FS.
func (m *memFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := m.files[name]; ok {
		return &file{info: info{name: path.Base(name), size: int64(len(data))}, r: bytes.NewReader(data)}, nil
	}
	if entries, ok := m.dirs[name]; ok {
		return &dir{info: info{name: path.Base(name), dir: true}, entries: entries}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ReadFile implements fs.ReadFileFS.
func (m *memFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	data, ok := m.files[name]
	if !ok {
		if _, isDir := m.dirs[name]; isDir {
			return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
		}
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(data), nil
}

// ReadDir implements fs.ReadDirFS.
func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	entries, ok := m.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return append([]fs.DirEntry(nil), entries...), nil
}

// info is both the fs.FileInfo and the fs.DirEntry of a file or directory.
type info struct {
	name string
	size int64
	dir  bool
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return time.Time{} }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }
func (i *info) Type() fs.FileMode  { return i.Mode().Type() }
func (i *info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i *info) Info() (fs.FileInfo, error) { return i, nil }

type file struct {
	info info
	r    *bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return &f.info, nil }
func (f *file) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *file) Close() error               { return nil }

type dir struct {
	info    info
	entries []fs.DirEntry
	off     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return &d.info, nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return append([]fs.DirEntry(nil), rest...), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return append([]fs.DirEntry(nil), rest[:n]...), nil
}
