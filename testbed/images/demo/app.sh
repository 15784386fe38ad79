#!/bin/sh
# The rollgate demo app (busybox sh + busybox httpd), listening on $PORT (default 8080).
#   GET /        -> "demo <DEMO_VERSION>"
#   GET /health  -> 200 "ok" when healthy (404 in mode "unhealthy", and in "degrades" later)
#   GET /info    -> version, mode, hostname, start time
# DEMO_MODE:
#   healthy       serve normally
#   unhealthy     serve /, but /health is 404
#   crash         print an error to stderr and exit 1 right away
#   slow          serve nothing for SLOW_START seconds (default 8), then healthy
#   dies          healthy for DIE_AFTER seconds (default 4), then exit 1
#   hc-unhealthy  healthy over HTTP; the image's HEALTHCHECK fails after HC_FAIL_AFTER seconds
#   degrades      healthy for DEGRADE_AFTER seconds (default 6), then /health is 404 for ever
#                 while GET / keeps answering 200: a problem the health check sees before users
# SIGTERM/SIGINT stop it at once with exit code 0, so `docker stop` is fast.
version="${DEMO_VERSION:-unknown}"
mode="${DEMO_MODE:-healthy}"
port="${PORT:-8080}"
www=/tmp/www
child=""

log() { echo "demo ${version} [${mode}]: $*" >&2; }

stop() {
  log "stopping on signal"
  [ -n "${child}" ] && kill "${child}" 2>/dev/null
  exit 0
}
trap stop TERM INT

# Sleep without blocking signal handling (a trapped signal interrupts `wait`).
pause() {
  sleep "$1" &
  child=$!
  wait "${child}"
  child=""
}

date +%s >/tmp/started
mkdir -p "${www}"
echo "demo ${version}" >"${www}/index.html"
{
  echo "version=${version}"
  echo "mode=${mode}"
  echo "hostname=$(hostname)"
  echo "started=$(cat /tmp/started)"
} >"${www}/info"

case "${mode}" in
  healthy | hc-unhealthy | slow | dies | degrades) echo "ok" >"${www}/health" ;;
  unhealthy) ;;  # no health file: GET /health answers 404
  crash)
    log "simulated crash: refusing to start (exit 1)"
    exit 1
    ;;
  *)
    log "unknown DEMO_MODE '${mode}' (exit 2)"
    exit 2
    ;;
esac

if [ "${mode}" = "slow" ]; then
  log "slow start: serving nothing for ${SLOW_START:-8}s"
  pause "${SLOW_START:-8}"
fi

httpd -f -p "${port}" -h "${www}" &
httpd_pid=$!
child="${httpd_pid}"
log "listening on :${port}"

if [ "${mode}" = "dies" ]; then
  sleep "${DIE_AFTER:-4}" &
  sleeper=$!
  # Wait for the sleeper; signals run `stop`, which kills httpd (child).
  wait "${sleeper}"
  log "dying after ${DIE_AFTER:-4}s (exit 1)"
  kill "${httpd_pid}" 2>/dev/null
  exit 1
fi

if [ "${mode}" = "degrades" ]; then
  sleep "${DEGRADE_AFTER:-6}" &
  sleeper=$!
  # As in "dies": signals interrupt this wait and run `stop`.
  wait "${sleeper}"
  rm -f "${www}/health"
  log "degraded after ${DEGRADE_AFTER:-6}s: /health now answers 404, / still serves"
fi

wait "${httpd_pid}"
status=$?
log "httpd exited with status ${status}"
exit 1
