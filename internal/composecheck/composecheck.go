// Package composecheck has no code, only tests: they validate the production
// stack's files (docker-compose.yml, deploy/Dockerfile, deploy/prometheus,
// deploy/grafana) in `make test`, on a machine without a Docker engine.
//
// What they check, against the repository rather than against themselves:
//
//   - docker-compose.yml: the services and their images, published ports,
//     start-up order (depends_on conditions that a healthcheck or a one-shot
//     exit can satisfy), healthchecks, volumes; Kafka's KRaft quorum,
//     listeners and replication settings; that every WAYBILL_* variable set
//     is one the Go code reads, and that the WAYBILL_KAFKA_* ones are
//     properties librdkafka accepts; that the waybill CLI commands it runs
//     exist with those flags; that every service the catalog names runs.
//     With Debian's docker-compose installed, `docker-compose config -q` too.
//   - deploy/Dockerfile: each binary the compose file builds (build arg
//     PACKAGE) is a package main of this module that `go build` builds with
//     cgo, as the image does, and every command under services/*/cmd is built
//     by some service; the Go image is not older than go.mod's go line and
//     shares its Debian release with the runtime image; the image runs as a
//     non-root user and has no HEALTHCHECK of its own.
//   - deploy/prometheus/prometheus.yml scrapes every service's /metrics.
//   - deploy/grafana: the provisioning files parse and agree with the compose
//     file; every metric and label a dashboard query names is one the runtime
//     registers (collected from pkg/kafka/producer's and consumer's
//     registration, not from a list kept here).
package composecheck
