#!/usr/bin/env bash
# System benchmark: starts the SFU on loopback and drives it with the load
# generator at several audience sizes, printing one row per run.
#   bench/system.sh                 # 100 500 1000 viewers, 1.5 Mbit/s, 20 s each
#   VIEWERS="200" DURATION=15s bench/system.sh
#   SFU_FLAGS="--udp-gso=false" bench/system.sh   # compare without GSO
#   LOADGEN_FLAGS="--viewer-gro=false" bench/system.sh   # receivers without UDP GRO
#   SFU_BIN=/tmp/sfu-old bench/system.sh           # a baseline build, same load generator
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=${VIEWERS:-"100 500 1000"}
DURATION=${DURATION:-20s}
BITRATE=${BITRATE:-1500k}
PORT=${PORT:-17880}
UDP=${UDP:-17882}
tmp=$(mktemp -d)
trap 'kill "$sfu_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

if [ -n "${SFU_BIN:-}" ]; then cp "$SFU_BIN" "$tmp/sfu"; else go build -o "$tmp/sfu" ./cmd/sfu; fi
go build -o "$tmp/loadgen" ./cmd/loadgen
"$tmp/sfu" --http-addr "127.0.0.1:$PORT" --udp-port "$UDP" --data-dir "$tmp/data" ${SFU_FLAGS:-} >"$tmp/sfu.log" 2>&1 &
sfu_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

printf '%-8s %-10s %-10s %-12s %-14s %-10s %-10s %-10s\n' viewers connected loss delivered_pps sfu_us_per_pkt lat_p50 lat_p99 join_p99
for n in $VIEWERS; do
  "$tmp/loadgen" live --url "http://127.0.0.1:$PORT" --room "bench-$n" --viewers "$n" \
    --duration "$DURATION" --bitrate "$BITRATE" ${LOADGEN_FLAGS:-} --json >"$tmp/out.json" 2>"$tmp/err.log" || true
  python3 - "$n" "$tmp/out.json" <<'PY'
import json, sys
n, path = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except Exception as e:
    print(f"{n:<8} run failed: {e}"); sys.exit(0)
lat, join = d.get("latency_ms") or {}, d.get("join_ms") or {}
print(f"{n:<8} {d['viewers_connected']:<10} {d['loss_ratio']:<10.5f} {d['delivered_pps']:<12.0f} "
      f"{d['sfu_cpu_us_per_packet']:<14.2f} {lat.get('p50', 0):<10.1f} {lat.get('p99', 0):<10.1f} {join.get('p99', 0):<10.1f}")
PY
done
