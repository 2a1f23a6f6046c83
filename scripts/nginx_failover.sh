#!/usr/bin/env bash
# Loopback failover check for deploy/nginx.conf (docs/DEPLOY.md; not part of CI): two
# `autolm serve` replicas behind Debian's nginx (installed here when missing), 200 streaming
# requests through nginx, one replica killed (SIGKILL) mid-run. Passes when every failed
# request was in flight on the killed replica at the kill, and all others completed with [DONE].
#
#   scripts/nginx_failover.sh [build-dir] [model-dir]     (defaults: build, models/chat-tiny)
#
# Environment: REQUESTS (200), CONCURRENCY (16), MAX_TOKENS (64), PORT_BASE (18080).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
MODEL="${2:-$ROOT/models/chat-tiny}"
AUTOLM="$BUILD/autolm"
PORT_BASE="${PORT_BASE:-18080}"
P0=$PORT_BASE; P1=$((PORT_BASE + 1)); P2=$((PORT_BASE + 2))
[ -x "$AUTOLM" ] || { echo "no $AUTOLM: build first (cmake --build $BUILD --target autolm_cli)" >&2; exit 2; }
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nginx-light
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
WORK="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  sleep 0.5  # nginx removes its pid file on the way out
  rm -rf "$WORK"
}
trap cleanup EXIT

# deploy/nginx.conf with this run's ports and paths.
sed -e "s#127.0.0.1:8081#127.0.0.1:$P1#; s#127.0.0.1:8082#127.0.0.1:$P2#; s#listen 8080#listen 127.0.0.1:$P0#" \
    -e "s#pid /tmp/autolm-nginx.pid;#pid $WORK/nginx.pid;#" -e "s#error_log stderr warn;#error_log $WORK/nginx.log warn;#" \
    -e "s#^http {#http {\n  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy; fastcgi_temp_path $WORK/fcgi; uwsgi_temp_path $WORK/uwsgi; scgi_temp_path $WORK/scgi;#" \
    "$ROOT/deploy/nginx.conf" > "$WORK/nginx.conf"

for port in $P1 $P2; do
  "$AUTOLM" serve "$MODEL" --port "$port" --parallel 2 --max-queue 256 --quiet > "$WORK/replica-$port.out" 2>&1 &
  pids+=($!)
done
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -g "daemon on;" 2>"$WORK/nginx.log"
for port in $P1 $P2 $P0; do
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)" = 200 ] && break
    sleep 0.1
  done
done
echo "replicas on :$P1 (pid ${pids[0]}) and :$P2 (pid ${pids[1]}), nginx on :$P0"

python3 - "$P0" "$P1" "${pids[0]}" "${REQUESTS:-200}" "${CONCURRENCY:-16}" "${MAX_TOKENS:-64}" <<'PY'
import http.client, json, os, signal, sys, threading, time
port, victim_port, victim_pid, n, conc, max_tokens = (int(a) for a in sys.argv[1:])
results = [None] * n
lock = threading.Lock()
started = 0
killed_at = None

def one(i):
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": max_tokens, "min_new_tokens": max_tokens,
                       "temperature": 0, "stream": True})
    t0 = time.time()
    upstream, done, err = "?", False, None
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        upstream = r.getheader("X-Upstream", "?")
        data = b""
        while True:
            piece = r.read1(65536) if hasattr(r, "read1") else r.read(65536)
            if not piece:
                break
            data += piece
        done = r.status == 200 and data.endswith(b"data: [DONE]\n\n")
        if not done:
            err = "status %d, %d bytes, ends %r" % (r.status, len(data), data[-40:])
    except Exception as e:  # the replica died mid-stream
        err = repr(e)
    results[i] = dict(upstream=upstream, done=done, err=err, t0=t0, t1=time.time())

def worker(ids):
    for i in ids:
        one(i)

threads = [threading.Thread(target=worker, args=(range(k, n, conc),)) for k in range(conc)]
for t in threads: t.start()
# Kill one replica once about a third of the requests finished.
while sum(r is not None for r in results) < n // 3:
    time.sleep(0.01)
killed_at = time.time()
os.kill(victim_pid, signal.SIGKILL)
for t in threads: t.join()

victim = "127.0.0.1:%d" % victim_port
failed = [r for r in results if not r["done"]]
in_flight_on_victim = [r for r in results if r["upstream"].endswith(victim) and r["t0"] <= killed_at <= r["t1"]]
bad = [r for r in failed if not (r["upstream"].endswith(victim) and r["t0"] <= killed_at)]
print("requests: %d, completed with [DONE]: %d, failed: %d" % (n, n - len(failed), len(failed)))
print("in flight on the killed replica (%s) at the kill: %d" % (victim, len(in_flight_on_victim)))
by = {}
for r in results:
    by.setdefault(r["upstream"].split(",")[-1].strip(), [0, 0])[0 if r["done"] else 1] += 1
for u, (ok, ko) in sorted(by.items()):
    print("  upstream %-22s completed %3d  failed %3d" % (u, ok, ko))
for r in failed[:5]:
    print("  failed:", r["upstream"], r["err"])
if bad:
    print("FAIL: %d failures were not in flight on the killed replica" % len(bad))
    for r in bad[:5]: print("   ", r)
    sys.exit(1)
print("OK: only requests in flight on the killed replica failed; every other request completed")
PY
