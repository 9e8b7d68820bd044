#!/usr/bin/env bash
# A throw-away Redis for the shared-cache tests, on loopback only.
#   .ci/redis.sh start DIR PORT   installs redis-server (apt) if needed, starts it on
#                                 127.0.0.1:PORT with its files in DIR (no persistence),
#                                 waits until it answers, and prints its URL on stdout
#   .ci/redis.sh stop DIR         stops that server (idempotent)
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?server directory}

case "$cmd" in
start)
  port=${3:?port}
  if ! command -v redis-server >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/log" \
    --save "" --appendonly no >&2
  for _ in $(seq 1 100); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
      echo "redis://127.0.0.1:$port/0"
      exit 0
    fi
    sleep 0.1
  done
  echo "redis-server did not answer on 127.0.0.1:$port" >&2
  cat "$dir/log" >&2 || true
  exit 1
  ;;
stop)
  if [ -f "$dir/redis.pid" ]; then
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
