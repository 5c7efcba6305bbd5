#!/usr/bin/env bash
# A stock Postfix relay on loopback: the reference point of the throughput benchmark
# (bench/throughput.ts), which calls it as
#   bash bench/postfix-relay.sh start LISTEN_PORT UPSTREAM_PORT   # relay 127/8 to [127.0.0.1]:UPSTREAM_PORT
#   bash bench/postfix-relay.sh drained                           # exit 0 once the queue is empty
#   bash bench/postfix-relay.sh stop
# Everything it writes lives under $POSTFIX_RELAY_DIR (default /var/tmp/postfix-relay): its own
# config directory (postfix -c), queue and log, so the machine's /etc/postfix stays untouched.
# Needs Debian's postfix package (which also brings smtp-source and smtp-sink); as root it
# installs it when missing, with debconf told not to configure a system mail server.
set -eu

cmd=${1:-start}
listen=${2:-12525}
upstream=${3:-12526}
dir=${POSTFIX_RELAY_DIR:-/var/tmp/postfix-relay}
conf=$dir/etc

install_postfix() {
  command -v postfix >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "postfix is not installed (apt-get install postfix, as root)" >&2
    return 1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
}

listening() {
  ss -ltn "sport = :$listen" | grep -q "127.0.0.1:$listen"
}

running() {
  [ -f "$dir/queue/pid/master.pid" ] && kill -0 "$(tr -d ' ' <"$dir/queue/pid/master.pid")" 2>/dev/null
}

case "$cmd" in
start)
  install_postfix
  if running; then postfix -c "$conf" stop >/dev/null 2>&1 || true; fi
  mkdir -p "$conf" "$dir/queue" "$dir/data"
  chown postfix "$dir/data"
  # The stock service table, with smtpd moved to the loopback port and no service chrooted: a
  # chroot would need copies of /etc files inside a queue directory that is not Debian's.
  awk -v listen="127.0.0.1:$listen" '
    $1 == "smtp" && $2 == "inet" { $1 = listen; $5 = "n"; print; next }
    /^[^#[:space:]]/ && NF >= 8 && $5 == "y" { $5 = "n" }
    { print }' /usr/share/postfix/master.cf.dist >"$conf/master.cf"
  cat >"$conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix-relay.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$upstream
smtpd_relay_restrictions = permit_mynetworks, reject
default_process_limit = 100
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
local_transport = error:no local delivery
CF
  postfix -c "$conf" check
  # a measurement starts from an empty queue: drop what an earlier run left deferred
  postsuper -c "$conf" -d ALL >/dev/null 2>&1 || true
  postfix -c "$conf" start >/dev/null 2>&1
  for _ in $(seq 100); do
    listening && exit 0
    sleep 0.1
  done
  echo "postfix did not listen on 127.0.0.1:$listen (log: $dir/maillog)" >&2
  exit 1
  ;;
stop)
  # a no-op when it is not running; otherwise wait for the master to go, so the port is free
  running || exit 0
  postfix -c "$conf" stop >/dev/null 2>&1 || true
  for _ in $(seq 100); do
    running || exit 0
    sleep 0.1
  done
  echo "postfix under $dir did not stop" >&2
  exit 1
  ;;
drained)
  [ -z "$(find "$dir/queue/incoming" "$dir/queue/active" "$dir/queue/deferred" -type f 2>/dev/null | head -1)" ]
  ;;
*)
  echo "usage: $0 start|stop|drained [LISTEN_PORT] [UPSTREAM_PORT]" >&2
  exit 2
  ;;
esac
