// Package registry talks to any Confluent-compatible Schema Registry: the
// catalogue of its error codes, a client built on riferrei/srclient, and the
// repo-to-registry sync (plan, then apply).
package registry
