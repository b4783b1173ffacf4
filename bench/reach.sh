#!/usr/bin/env bash
# Reachability benchmark: the same live watched over each path a viewer may
# be forced onto (direct UDP, ICE-TCP, TURN relay over UDP and over TCP),
# every viewer decrypting, SFU and load generator on loopback.
#   bench/reach.sh                       # 50 viewers, 1.5 Mbit/s, 20 s per path
#   VIEWERS=20 PATHS="udp tcp" bench/reach.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=${VIEWERS:-50}
DURATION=${DURATION:-20s}
BITRATE=${BITRATE:-1500k}
PATHS=${PATHS:-"udp tcp relay-udp relay-tcp"}
PORT=${PORT:-17880}
UDP=${UDP:-17882}
TCP=${TCP:-17881}
TURN=${TURN:-13478}
tmp=$(mktemp -d)
trap 'kill "$sfu_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/sfu" ./cmd/sfu
go build -o "$tmp/loadgen" ./cmd/loadgen
"$tmp/sfu" --http-addr "127.0.0.1:$PORT" --udp-port "$UDP" --tcp-port "$TCP" \
  --turn-udp-port "$TURN" --turn-tcp-port "$TURN" --data-dir "$tmp/data" ${SFU_FLAGS:-} >"$tmp/sfu.log" 2>&1 &
sfu_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

printf '%-10s %-10s %-10s %-12s %-14s %-10s %-10s %-10s %-10s\n' path connected loss delivered_pps sfu_us_per_pkt lat_p50 lat_p99 jitter_p99 join_p99
for path in $PATHS; do
  case $path in
    udp) force=() ;;
    tcp) force=(--force-tcp) ;;
    relay-udp) force=(--force-relay) ;;
    relay-tcp) force=(--force-relay --force-tcp) ;;
    *) echo "unknown path $path"; exit 2 ;;
  esac
  "$tmp/loadgen" live --url "http://127.0.0.1:$PORT" --room "reach-$path" --viewers "$VIEWERS" \
    --full-viewers "$VIEWERS" "${force[@]}" --duration "$DURATION" --bitrate "$BITRATE" --json \
    >"$tmp/out.json" 2>"$tmp/err.log" || true
  python3 - "$path" "$tmp/out.json" <<'PY'
import json, sys
path, out = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(out))
except Exception as e:
    print(f"{path:<10} run failed: {e}"); sys.exit(0)
lat, join, jit = d.get("latency_ms") or {}, d.get("join_ms") or {}, d.get("jitter_ms") or {}
cpu = d.get("sfu_cpu_us_per_packet") or 0
print(f"{path:<10} {d['viewers_connected']:<10} {d['loss_ratio']:<10.5f} {d['delivered_pps']:<12.0f} "
      f"{cpu:<14.2f} {lat.get('p50', 0):<10.1f} {lat.get('p99', 0):<10.1f} {jit.get('p99', 0):<10.1f} {join.get('p99', 0):<10.1f}")
PY
done
