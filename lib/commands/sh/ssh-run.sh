#!/bin/sh
# The login of the connection check (connection.ts), run on this machine with OpenSSH's client:
# `ssh-run.sh TARGET ADDRESS PORT USER HOST_KEY REMOTE ATTEMPTS DELAY_S`, the private key on stdin (empty: use
# ssh-agent). TARGET names the host in messages (user@address:port), HOST_KEY is the pinned "TYPE BASE64" key,
# REMOTE a command for the admin user's shell. The pinned host key is the only one trusted (known_hosts of one
# line under a fixed alias, so no port or address form matters), nothing from the operator's ~/.ssh/config
# applies. On success REMOTE's output, then the "connected" line; on failure one line naming the cause.
# Transient failures are retried ATTEMPTS times, DELAY_S apart; what retrying cannot fix never is.
set -eu
target=$1 address=$2 port=$3 user=$4 host_key=$5 remote=$6 attempts=$7 delay=$8
key_type=${host_key%% *}
fail() { echo "ssh $target: $*" >&2; exit 1; }
key=$(mktemp) && known=$(mktemp) && err=$(mktemp) || exit 1
trap 'rm -f "$key" "$known" "$err"' EXIT
cat > "$key"
# OpenSSH refuses a key file whose last line has no newline.
[ ! -s "$key" ] || [ -z "$(tail -c 1 "$key")" ] || echo >> "$key"
printf '%s\n' "flagun-target $host_key" > "$known"
set -- -F /dev/null -p "$port" -l "$user" -o BatchMode=yes -o StrictHostKeyChecking=yes -o HostKeyAlias=flagun-target \
  -o UserKnownHostsFile="$known" -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms="$key_type" -o CheckHostIP=no \
  -o PreferredAuthentications=publickey -o ConnectTimeout=15 -o ConnectionAttempts=1
if [ -s "$key" ]; then set -- "$@" -o IdentitiesOnly=yes -o IdentityAgent=none -i "$key"; how="the key in sshPrivateKey"; else how="ssh-agent (sshPrivateKey is not set)"; fi
pinned=$(ssh-keygen -lf "$known" | awk '{print $2}')
i=0
while :; do
  i=$((i+1))
  rc=0; out=$(ssh "$@" -- "$address" "$remote" 2>"$err" </dev/null) || rc=$?
  [ $rc != 0 ] || { [ -z "$out" ] || printf '%s\n' "$out"; echo "ssh $target: connected (host key $pinned)"; exit 0; }
  # ssh ends its error lines with CR LF.
  out=$(tr -d '\r' < "$err")
  case "$out" in
    *"Permission denied"*) fail "unable to authenticate as $user: publickey refused, tried $how (not retried)";;
    *"IDENTIFICATION HAS CHANGED"*|*"Host key verification failed"*|*"no matching host key type"*)
      got=$(printf '%s\n' "$out" | grep -o 'SHA256:[A-Za-z0-9+/=]*' | head -n 1)
      fail "host key mismatch: pinned $pinned, got ${got:-no $key_type key} (not retried)";;
    *"Connection refused"*|*"timed out"*|*"No route to host"*|*"Network is unreachable"*|*"Connection reset"*|*"Connection closed"*|*"kex_exchange_identification"*)
      [ "$i" -lt "$attempts" ] || fail "$(printf '%s' "$out" | tail -n 1) (after $i attempts, $delay s apart)"
      sleep "$delay";;
    *) fail "$(printf '%s' "${out:-ssh exited with status $rc}" | tail -n 1)";;
  esac
done
