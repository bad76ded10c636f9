#!/bin/sh
# A login to the host, run on this machine with OpenSSH's client (connection.ts):
# `ssh-run.sh TARGET ADDRESS PORT USER HOST_KEY REMOTE ATTEMPTS DELAY_S [SEND_DIR SEND_REMOTE]`, the private
# key on stdin (empty: use ssh-agent). TARGET names the host in messages (user@address:port), HOST_KEY is the
# pinned "TYPE BASE64" key, REMOTE a command for the admin user's shell. The pinned host key is the only one
# trusted (known_hosts of one line under a fixed alias, so no port or address form matters), nothing from the
# operator's ~/.ssh/config applies. With SEND_DIR: when REMOTE's last output line is `send`, a second login
# runs SEND_REMOTE with a tar stream of SEND_DIR on its stdin (REMOTE decides whether anything travels).
# On success the output of what ran on the host, then the "connected" line; on failure the cause: one line
# for the connection, everything the host's command said on stderr when it failed there.
# Transient connection failures are retried ATTEMPTS times, DELAY_S apart; what retrying cannot fix never is.
set -eu
target=$1 address=$2 port=$3 user=$4 host_key=$5 remote=$6 attempts=$7 delay=$8
send_dir=${9:-} send_remote=${10:-}
key_type=${host_key%% *}
fail() { echo "ssh $target: $*" >&2; exit 1; }
key=$(mktemp) && known=$(mktemp) && err=$(mktemp) && archive=$(mktemp) || exit 1
trap 'rm -f "$key" "$known" "$err" "$archive"' EXIT
cat > "$key"
# OpenSSH refuses a key file whose last line has no newline.
[ ! -s "$key" ] || [ -z "$(tail -c 1 "$key")" ] || echo >> "$key"
printf '%s\n' "flagun-target $host_key" > "$known"
set -- -F /dev/null -p "$port" -l "$user" -o BatchMode=yes -o StrictHostKeyChecking=yes -o HostKeyAlias=flagun-target \
  -o UserKnownHostsFile="$known" -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms="$key_type" -o CheckHostIP=no \
  -o PreferredAuthentications=publickey -o ConnectTimeout=15 -o ConnectionAttempts=1
if [ -s "$key" ]; then set -- "$@" -o IdentitiesOnly=yes -o IdentityAgent=none -i "$key"; how="the key in sshPrivateKey"; else how="ssh-agent (sshPrivateKey is not set)"; fi
pinned=$(ssh-keygen -lf "$known" | awk '{print $2}')

# run SSH_OPTION...: ssh ADDRESS "$remote" with stdin from "$input", retried while the connection fails; its
# output in $out.
run() {
  i=0
  while :; do
    i=$((i+1))
    rc=0
    out=$(ssh "$@" -- "$address" "$remote" 2>"$err" <"$input") || rc=$?
    [ $rc != 0 ] || return 0
    # ssh ends its error lines with CR LF.
    text=$(tr -d '\r' < "$err")
    case "$text" in
      *"Permission denied"*) fail "unable to authenticate as $user: publickey refused, tried $how (not retried)";;
      *"IDENTIFICATION HAS CHANGED"*|*"Host key verification failed"*|*"no matching host key type"*)
        got=$(printf '%s\n' "$text" | grep -o 'SHA256:[A-Za-z0-9+/=]*' | head -n 1)
        fail "host key mismatch: pinned $pinned, got ${got:-no $key_type key} (not retried)";;
      *"Connection refused"*|*"timed out"*|*"No route to host"*|*"Network is unreachable"*|*"Connection reset"*|*"Connection closed"*|*"kex_exchange_identification"*)
        [ "$i" -lt "$attempts" ] || fail "$(printf '%s' "$text" | tail -n 1) (after $i attempts, $delay s apart)"
        sleep "$delay";;
      # 255 is ssh's own failure: its last line says why. Any other status is the host's command failing.
      *) if [ $rc = 255 ] || [ -z "$text" ]; then fail "$(printf '%s' "${text:-ssh exited with status $rc}" | tail -n 1)"; fi
         fail "$text";;
    esac
  done
}

input=/dev/null
run "$@"
said=$out
if [ -n "$send_dir" ] && [ "$(printf '%s\n' "$out" | tail -n 1)" = send ]; then
  said=$(printf '%s\n' "$out" | sed '$d')
  # The whole archive first: a file tar cannot read fails here, before the host unpacks a tree without it.
  # COPYFILE_DISABLE: macOS's tar would add AppleDouble (._*) files.
  COPYFILE_DISABLE=1 tar -C "$send_dir" -cf "$archive" . 2>"$err" || fail "could not read $send_dir: $(head -n 1 "$err")"
  remote=$send_remote input=$archive
  run "$@"
  said=$(printf '%s\n%s' "$said" "$out" | sed '/^$/d')
fi
[ -z "$said" ] || printf '%s\n' "$said"
echo "ssh $target: connected (host key $pinned)"
