#!/bin/sh
# Image build step (COPYed to /usr/local/lib/flagun-build/): installs the OS packages the image needs,
# with apt, only those that are missing, so a base that already has them (the offline test base) needs no
# network here. Then creates the unprivileged user APP_UID and the mount points.
# Usage: os-packages.sh APP_UID   (env CA_BUNDLE: combined CA bundle for apt over https, may be empty)
set -eu
APP_UID=$1

missing=""
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$missing python3-venv"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
if ! command -v logrotate >/dev/null 2>&1; then
  missing="$missing logrotate"
  # logrotate needs systemd | systemd-standalone-sysusers: take the small one unless systemd is there.
  command -v systemd-sysusers >/dev/null 2>&1 || missing="$missing systemd-standalone-sysusers"
fi
command -v tini >/dev/null 2>&1 || missing="$missing tini"
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"
command -v gzip >/dev/null 2>&1 || missing="$missing gzip"

if [ -n "$missing" ]; then
  echo "os-packages: installing$missing"
  set --
  if [ -n "${CA_BUNDLE:-}" ]; then set -- -o "Acquire::https::CAInfo=$CA_BUNDLE"; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get "$@" update -q
  # shellcheck disable=SC2086
  apt-get "$@" install -y -q --no-install-recommends $missing
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old \
    /usr/share/doc/* /usr/share/man/* /usr/share/locale/*
else
  echo "os-packages: all present"
fi

# The distribution's nginx site config and log dir are not used (the config comes from /etc/flagun).
rm -rf /etc/nginx/sites-enabled /etc/nginx/conf.d /var/log/nginx /etc/logrotate.d/nginx

# The unprivileged user everything runs as (the Quadlet unit maps it to the host's system user).
if ! getent group "$APP_UID" >/dev/null; then groupadd --gid "$APP_UID" app; fi
if ! getent passwd "$APP_UID" >/dev/null; then
  useradd --uid "$APP_UID" --gid "$APP_UID" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
fi

# Mount points (the unit mounts over them) and the writable log directory.
mkdir -p /srv/app /etc/flagun/tls /var/log/flagun/nginx /var/log/flagun/gunicorn /run/secrets
chown -R "$APP_UID:$APP_UID" /var/log/flagun
chmod 0755 /var/log/flagun /var/log/flagun/nginx /var/log/flagun/gunicorn
