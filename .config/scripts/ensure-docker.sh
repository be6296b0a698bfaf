#!/usr/bin/env bash
# Make sure a Docker engine answers. Installs docker.io when missing (Debian),
# starts dockerd in the background when nothing runs it (no systemd as PID 1),
# and waits until `docker info` answers.
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

if ! command -v dockerd >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        say "Installing docker.io (Debian package)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    elif ! command -v docker >/dev/null 2>&1; then
        die "no Docker engine found: install Docker (Debian: apt-get install docker.io) and run this again"
    fi
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemctl >/dev/null; then
    say "Starting docker.service with systemctl"
    systemctl start docker.service || true
else
    [ "$(id -u)" = 0 ] || die "docker does not answer and only root can start dockerd: start it, or run as root"
    # A dockerd that died leaves its pid file behind; a stale one blocks the next start.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        say "Starting dockerd in the background (log: $LOG)"
        nohup dockerd >>"$LOG" 2>&1 </dev/null &
    fi
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        say "Docker engine answers"
        exit 0
    fi
    sleep 1
done
die "dockerd did not answer within 60 s; see $LOG (last lines below)
$(tail -n 20 "$LOG" 2>/dev/null)"
