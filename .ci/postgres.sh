#!/usr/bin/env bash
# A throw-away PostgreSQL for the durable-execution tests, on loopback only.
#   .ci/postgres.sh start DIR PORT   installs postgresql (apt) if needed, creates a cluster in
#                                    DIR, starts it on 127.0.0.1:PORT, creates the database
#                                    automix_test, and prints its URL on stdout
#   .ci/postgres.sh stop DIR         stops that cluster (idempotent)
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?cluster directory}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

case "$cmd" in
start)
  port=${3:?port}
  if [ -z "$(pg_bin)" ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  bin=$(pg_bin)
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
  as_pg() { (cd / && su postgres -s /bin/sh -c "$*"); }
  as_pg "'$bin/initdb' -D '$dir/data' -A trust -U postgres --no-sync" >/dev/null
  as_pg "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -t 60 \
    -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off\" start" >&2
  as_pg "'$bin/createdb' -h 127.0.0.1 -p $port -U postgres automix_test"
  echo "postgresql://postgres@127.0.0.1:$port/automix_test"
  ;;
stop)
  bin=$(pg_bin)
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    (cd / && su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop") >&2 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
