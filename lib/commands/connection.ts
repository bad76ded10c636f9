// The one SSH connection check a host gets before anything else dials it. It runs on this machine with
// OpenSSH's client, once per attempt, and never retries what retrying cannot fix: the command plugin's
// dialer retries every error (authentication and host-key failures too), so a wrong key used to cost
// the server one failed login per attempt per resource, which OpenSSH >= 9.8 (`PerSourcePenalties`)
// answers by refusing this machine's address for a while.
import { HostConfig } from "../config";
import { q, script } from "../shell";

/** Transient failures (host rebooting, sshd restarting, a penalty box) are retried this often, this far apart. */
export const CHECK_ATTEMPTS = 8;
export const CHECK_RETRY_DELAY_S = 5;

/** `user@address:port`, the way every message names the target. */
export function sshTarget(h: HostConfig): string {
  return `${h.user}@${h.address}:${h.port}`;
}

/**
 * Script for `sh`: the private key arrives on stdin (empty: use ssh-agent), the pinned host key is the
 * only one trusted (known_hosts of one line under a fixed alias, so no port or address form matters),
 * nothing from the operator's ~/.ssh/config applies. Prints one line; on failure that line is the cause.
 */
export function connectionCheck(h: HostConfig): string {
  return sshRun(h, "true");
}

/**
 * `connectionCheck`'s login, running `remote` (a command for the admin user's shell) instead of `true`:
 * on success its output, then the "connected" line; on failure one line naming the cause, as the check.
 */
export function sshRun(h: HostConfig, remote: string): string {
  const target = sshTarget(h);
  const keyType = h.hostKey.split(" ")[0];
  const fail = (msg: string) => `echo ${q(`ssh ${target}: `)}"${msg}" >&2; exit 1`;
  return script(
    'key=$(mktemp) && known=$(mktemp) && err=$(mktemp) || exit 1',
    'trap \'rm -f "$key" "$known" "$err"\' EXIT',
    'cat > "$key"',
    // OpenSSH refuses a key file whose last line has no newline.
    '[ ! -s "$key" ] || [ -z "$(tail -c 1 "$key")" ] || echo >> "$key"',
    `printf '%s\\n' ${q(`flagun-target ${h.hostKey}`)} > "$known"`,
    `set -- -F /dev/null -p ${h.port} -l ${q(h.user)} -o BatchMode=yes -o StrictHostKeyChecking=yes -o HostKeyAlias=flagun-target \\`,
    `  -o UserKnownHostsFile="$known" -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms=${q(keyType)} -o CheckHostIP=no \\`,
    "  -o PreferredAuthentications=publickey -o ConnectTimeout=15 -o ConnectionAttempts=1",
    'if [ -s "$key" ]; then set -- "$@" -o IdentitiesOnly=yes -o IdentityAgent=none -i "$key"; how="the key in sshPrivateKey"; else how="ssh-agent (sshPrivateKey is not set)"; fi',
    `pinned=$(ssh-keygen -lf "$known" | awk '{print $2}')`,
    "i=0",
    "while :; do",
    "  i=$((i+1))",
    `  rc=0; out=$(ssh "$@" -- ${q(h.address)} ${q(remote)} 2>"$err" </dev/null) || rc=$?`,
    `  [ $rc != 0 ] || { [ -z "$out" ] || printf '%s\\n' "$out"; echo ${q(`ssh ${target}: connected`)}" (host key $pinned)"; exit 0; }`,
    // ssh ends its error lines with CR LF.
    "  out=$(tr -d '\\r' < \"$err\")",
    '  case "$out" in',
    `    *"Permission denied"*) ${fail(`unable to authenticate as ${h.user}: publickey refused, tried $how (not retried)`)};;`,
    '    *"IDENTIFICATION HAS CHANGED"*|*"Host key verification failed"*|*"no matching host key type"*)',
    "      got=$(printf '%s\\n' \"$out\" | grep -o 'SHA256:[A-Za-z0-9+/=]*' | head -n 1)",
    `      ${fail(`host key mismatch: pinned $pinned, got \${got:-no ${keyType} key} (not retried)`)};;`,
    '    *"Connection refused"*|*"timed out"*|*"No route to host"*|*"Network is unreachable"*|*"Connection reset"*|*"Connection closed"*|*"kex_exchange_identification"*)',
    `      [ $i -lt ${CHECK_ATTEMPTS} ] || { ${fail(`$(printf '%s' "$out" | tail -n 1) (after $i attempts, ${CHECK_RETRY_DELAY_S} s apart)`)}; }`,
    `      sleep ${CHECK_RETRY_DELAY_S};;`,
    `    *) ${fail(`$(printf '%s' "\${out:-ssh exited with status $rc}" | tail -n 1)`)};;`,
    "  esac",
    "done",
  );
}
