#!/usr/bin/env bash
# Throughput of GET /schemas/ids/{id} on Waybill's registry, compared in the
# same run with a bare net/http handler returning the same body (the issue's
# goal: at least 0.7x of it). Loopback only; needs wrk (apt-get install wrk).
# Usage: scripts/bench-registry.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
command -v wrk >/dev/null || { echo "bench-registry: wrk not installed (apt-get install wrk)" >&2; exit 2; }

bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/waybill" ./cmd/waybill
go build -o "$bin/fixedbody" ./internal/fixedbody

reg=127.0.0.1:18081
base=127.0.0.1:18090
"$bin/waybill" registry serve --storage memory --addr "$reg" >"$bin/registry.log" 2>&1 &
for _ in $(seq 50); do curl -fs "http://$reg/" >/dev/null && break; sleep 0.1; done

schema='{"type":"record","name":"Shipment","namespace":"bench","fields":[{"name":"shipment_id","type":"string"},{"name":"order_id","type":"string"},{"name":"carrier","type":"string"},{"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}'
payload=$(printf '%s' "$schema" | python3 -c 'import json,sys; print(json.dumps({"schema": sys.stdin.read()}))')
id=$(curl -fs -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
	--data "$payload" "http://$reg/subjects/bench-value/versions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
body=$(curl -fs "http://$reg/schemas/ids/$id")
"$bin/fixedbody" -addr "$base" -body "$body" &
for _ in $(seq 50); do curl -fs "http://$base/" >/dev/null && break; sleep 0.1; done

rate() { wrk -t2 -c32 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
echo "round  registry req/s  net/http req/s  ratio"
ratios=()
for r in $(seq "$rounds"); do
	a=$(rate "http://$reg/schemas/ids/$id")
	b=$(rate "http://$base/schemas/ids/$id")
	ratio=$(python3 -c "print(f'{$a/$b:.2f}')")
	ratios+=("$ratio")
	printf '%5d  %14s  %14s  %5s\n' "$r" "$a" "$b" "$ratio"
done
printf 'median ratio: %s\n' "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
