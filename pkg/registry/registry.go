// Package registry talks to any Confluent-compatible Schema Registry
// (https://docs.confluent.io/platform/current/schema-registry/develop/api.html):
// the catalogue of its error codes, a client built on riferrei/srclient, the
// repo-to-registry sync, and the pull-request check against a live registry.
//
//   - Client (New) makes the calls srclient offers through srclient, and the
//     ones it lacks (soft-deleted versions, a subject's own level, verbose
//     compatibility, context cancellation) over net/http on the same base
//     URL. Every error a registry answers is an *Error that matches the
//     catalogue with errors.Is; a request that gets no answer is a
//     *TransportError.
//   - PlanSync and Apply sync the schemas directory to a registry the way
//     infrastructure as code does: a Plan lists, in the order they apply, the
//     compatibility levels to set (the catalog wins) and the versions to
//     register (references first), so that the repository's version N becomes
//     the registry's version N; and the drift it will not touch (registered
//     versions are immutable). Apply is idempotent and deletes nothing unless
//     the plan was made with DeleteUnknown.
//   - Check is `waybill compat check --against registry:URL`: drift, and new
//     versions checked both by compat against the registry's versions and by
//     the registry itself, as a schemacheck.Report.
//
// Versions are compared by their Parsing Canonical Form, then by the
// attributes readers use that the canonical form leaves out (defaults,
// aliases, logical types, field order, custom attributes), and by their
// references; docs may differ, as a published version's docs may change in
// the repository.
package registry
