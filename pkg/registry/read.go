package registry

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// wireVersion is a schema as the registry's version, ID and listing
// endpoints answer it.
type wireVersion struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType"`
	Schema     string      `json:"schema"`
	References []Reference `json:"references"`
}

func (w *wireVersion) schemaVersion() *SchemaVersion {
	return &SchemaVersion{Subject: w.Subject, Version: w.Version, ID: w.ID, SchemaType: w.SchemaType, Schema: w.Schema, References: w.References}
}

// Schemas returns every version of every subject (GET /schemas): the live
// ones, or with deleted also the soft-deleted ones; one request instead of
// one a subject. Registries before Confluent 7.x have no such endpoint and
// answer ErrNotFound (or ErrMethodNotAllowed).
func (c *Client) Schemas(ctx context.Context, deleted bool) ([]SchemaVersion, error) {
	var resp []wireVersion
	if err := c.do(ctx, "GET", "/schemas?deleted="+strconv.FormatBool(deleted), nil, &resp); err != nil {
		return nil, err
	}
	out := make([]SchemaVersion, len(resp))
	for i := range resp {
		out[i] = *resp[i].schemaVersion()
	}
	return out, nil
}

// LatestVersion returns the latest live version of subject (GET
// /subjects/{s}/versions/latest).
func (c *Client) LatestVersion(ctx context.Context, subject string) (*SchemaVersion, error) {
	var resp wireVersion
	if err := c.do(ctx, "GET", subjectPath(subject)+"/versions/latest", nil, &resp); err != nil {
		return nil, err
	}
	out := resp.schemaVersion()
	if out.Subject == "" {
		out.Subject = subject
	}
	return out, nil
}

// SubjectVersionsByIDIncludingDeleted returns the subject versions whose
// schema has the given ID, soft-deleted ones included (GET
// /schemas/ids/{id}/versions?deleted=true), sorted by subject and version.
func (c *Client) SubjectVersionsByIDIncludingDeleted(ctx context.Context, id int) ([]SubjectVersion, error) {
	return c.subjectVersionsByID(ctx, id, "?deleted=true")
}

// GlobalMode returns the registry's mode: READWRITE, READONLY or IMPORT
// (GET /mode).
func (c *Client) GlobalMode(ctx context.Context) (string, error) {
	return c.mode(ctx, "/mode")
}

// Mode returns subject's mode, the global one when it has none of its own
// (GET /mode/{s}?defaultToGlobal=true). Registries without the mode API
// answer an *Error with a 4xx status.
func (c *Client) Mode(ctx context.Context, subject string) (string, error) {
	return c.mode(ctx, "/mode/"+url.PathEscape(subject)+"?defaultToGlobal=true")
}

func (c *Client) mode(ctx context.Context, path string) (string, error) {
	var resp struct {
		Mode string `json:"mode"`
	}
	if err := c.do(ctx, "GET", path, nil, &resp); err != nil {
		return "", err
	}
	return resp.Mode, nil
}

func (c *Client) subjectVersionsByID(ctx context.Context, id int, query string) ([]SubjectVersion, error) {
	var out []SubjectVersion
	if err := c.do(ctx, "GET", "/schemas/ids/"+strconv.Itoa(id)+"/versions"+query, nil, &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b SubjectVersion) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}
