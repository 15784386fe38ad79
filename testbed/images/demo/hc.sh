#!/bin/sh
# Docker HEALTHCHECK command of the demo app: healthy while the app is younger than
# HC_FAIL_AFTER seconds (default 4), unhealthy afterwards.
started="$(cat /tmp/started 2>/dev/null)" || exit 1
[ -n "${started}" ] || exit 1
now="$(date +%s)"
age=$((now - started))
if [ "${age}" -lt "${HC_FAIL_AFTER:-4}" ]; then
  echo "healthy (age ${age}s)"
  exit 0
fi
echo "unhealthy: age ${age}s >= HC_FAIL_AFTER=${HC_FAIL_AFTER:-4}s"
exit 1
