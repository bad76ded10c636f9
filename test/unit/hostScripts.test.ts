// The host-side scripts (lib/commands/sh/) run here through a real sh, with stand-ins for the host's commands
// (podman, usermod) first on PATH and temporary files in place of the host's: what they print, what they
// change, what they leave alone.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SUBID_COUNT, allocateSubIds, preflight, releaseSubIds } from "../../lib/commands/host";
import { hostScript, hostScriptText } from "../../lib/commands/hostScript";
import { PARTIAL, configStdin } from "../../lib/commands/files";
import { parseVersions } from "../../lib/commands/deploy";
import { parseConfig } from "../../lib/config";
import { layoutOf } from "../../lib/layout";
import { q, script, writeFile } from "../../lib/shell";

function tmp() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-scripts-"));
  fs.mkdirSync(`${dir}/bin`);
  const calls = `${dir}/calls`;
  return {
    dir,
    /** A stand-in command that logs `NAME ARGS` to the calls file, then runs `body`. */
    stub: (name: string, body: string) => fs.writeFileSync(`${dir}/bin/${name}`, `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`, { mode: 0o755 }),
    calls: () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : []),
    env: { PATH: `${dir}/bin:/usr/bin:/bin`, HOME: dir },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Call a function of deploy-fns.sh with `args`, as deploy.sh does. */
function fn(t: ReturnType<typeof tmp>, call: string, args: string[]) {
  const r = spawnSync("sh", ["-c", `set -eu\n${hostScriptText("deploy-fns")}\n${call} "$@"`, "sh", ...args], { encoding: "utf8", env: t.env, timeout: 30000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("the command is the script file's text and its quoted arguments, wrapped for root as any other", () => {
  const cmd = releaseSubIds({ adminUser: "deploy" }, "flagun");
  assert.equal(cmd, `sudo -n sh -c ${q(`sh -c ${q(hostScriptText("subids"))} sh release flagun ${SUBID_COUNT} /etc/subuid /etc/subgid`)}`);
  assert.equal(allocateSubIds({ adminUser: "root" }, "flagun"), `sh -c ${q(`sh -c ${q(hostScriptText("subids"))} sh allocate flagun ${SUBID_COUNT} /etc/subuid /etc/subgid`)}`);
  assert.doesNotMatch(hostScriptText("deploy"), /^\s*#/m, "comments stay in the file: editing one changes no command");
});

test("arguments with quotes, newlines, $ and backslashes arrive byte for byte", () => {
  const t = tmp();
  try {
    const text = `it's "quoted" $HOME $(false) \`x\` \\n\\\n# not a comment\n\n`;
    const cmd = hostScript(["deploy-fns"], []).replace(/ sh $/, "");
    const r = spawnSync("sh", ["-c", `${cmd}'\nwrite_file "$@"' sh ${q(`${t.dir}/f`)} 0640 ${q(text)}`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(`${t.dir}/f`, "utf8"), text);
    assert.equal((fs.statSync(`${t.dir}/f`).mode & 0o777).toString(8), "640");
    assert.ok(!fs.existsSync(`${t.dir}/f.tmp`));
  } finally {
    t.cleanup();
  }
});

// The two atomic writers (deploy-fns.sh write_file, shell.writeFile for the TypeScript-built scripts): a write
// that fails (here its temp path is a directory) ends the script with the real cause, the old file kept.
const writers: [string, (t: ReturnType<typeof tmp>, file: string) => { code: number | null; out: string; err: string }][] = [
  ["write_file", (t, file) => fn(t, "write_file", [file, "0644", "new\n"])],
  ["shell.writeFile", (_t, file) => {
    const r = spawnSync("sh", ["-c", script(writeFile(file, "new\n", "0644"), "echo went on")], { encoding: "utf8" });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }],
];
for (const [name, write] of writers) {
  test(`${name}: a failed write fails the deploy (set -e alone would go on) with its cause, the old file kept`, () => {
    const t = tmp();
    try {
      fs.writeFileSync(`${t.dir}/unit`, "old\n");
      fs.mkdirSync(`${t.dir}/unit.tmp`);
      const r = write(t, `${t.dir}/unit`);
      assert.equal(r.code, 1);
      assert.doesNotMatch(r.out, /went on/);
      assert.match(r.err, /unit\.tmp: Is a directory/, "the real cause");
      assert.match(r.err, new RegExp(`could not write ${t.dir}/unit`));
      assert.equal(fs.readFileSync(`${t.dir}/unit`, "utf8"), "old\n");
    } finally {
      t.cleanup();
    }
  });
}

test("same: true only for a regular file holding exactly the text", () => {
  const t = tmp();
  try {
    fs.writeFileSync(`${t.dir}/u`, "[Socket]\nListenStream=443\n");
    assert.equal(fn(t, "same", [`${t.dir}/u`, "[Socket]\nListenStream=443\n"]).code, 0);
    assert.equal(fn(t, "same", [`${t.dir}/u`, "[Socket]\nListenStream=443"]).code, 1, "a missing final newline is a difference");
    assert.equal(fn(t, "same", [`${t.dir}/u`, "[Socket]\nListenStream=8443\n"]).code, 1);
    assert.equal(fn(t, "same", [`${t.dir}/missing`, ""]).code, 1);
  } finally {
    t.cleanup();
  }
});

test("redact: a private key block becomes one line; the lines around it stay", () => {
  const t = tmp();
  try {
    fs.writeFileSync(`${t.dir}/log`, "before\n-----BEGIN RSA PRIVATE KEY-----\nSECRET\n-----END RSA PRIVATE KEY-----\nafter\n");
    const r = spawnSync("sh", ["-c", `${hostScriptText("deploy-fns")}\nredact < ${t.dir}/log`], { encoding: "utf8" });
    assert.equal(r.stdout, "before\n(private key redacted)\nafter\n");
  } finally {
    t.cleanup();
  }
});

test("excerpt: the last 30 lines of a regular file of this user; a symlink or a second link is not shown", () => {
  const t = tmp();
  try {
    const log = `${t.dir}/error.log`;
    fs.writeFileSync(log, Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`).join(""));
    const r = fn(t, "excerpt", [log]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, Array.from({ length: 30 }, (_, i) => `line ${i + 11}\n`).join(""));
    fs.writeFileSync(`${t.dir}/key.pem`, "-----BEGIN EC PRIVATE KEY-----\nSECRET\n-----END EC PRIVATE KEY-----\n");
    for (const plant of [() => fs.symlinkSync(`${t.dir}/key.pem`, log), () => fs.linkSync(`${t.dir}/key.pem`, log)]) {
      fs.rmSync(log);
      plant();
      const out = fn(t, "excerpt", [log]).out;
      assert.match(out, new RegExp(`^\\(not shown: ${log} is not a regular file of \\S+ with one link\\)\\n$`));
    }
  } finally {
    t.cleanup();
  }
});

test("healthy: passes once flagun-health does, counting the attempts", () => {
  const t = tmp();
  try {
    // The third `podman exec` passes; `sleep` returns at once.
    t.stub("podman", `n=$(grep -c '^podman exec' ${t.dir}/calls); case "$1" in exec) [ "$n" -ge 3 ];; inspect) echo "running (exit code 0)";; esac`);
    t.stub("sleep", "exit 0");
    const r = fn(t, "healthy", ["web", "120", `${t.dir}/error.log`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^web healthy after \d+ s\n$/);
    assert.equal(t.calls().filter((c) => c === "podman exec web flagun-health").length, 3);
    assert.equal(t.calls().filter((c) => c === "sleep 1").length, 2);
  } finally {
    t.cleanup();
  }
});

test("healthy: a container that stops fails at once with its state, its redacted logs and the error log", () => {
  const t = tmp();
  try {
    t.stub("podman", `case "$1" in exec) exit 1;; inspect) echo "exited (exit code 3)";; logs) printf 'boot\\n-----BEGIN PRIVATE KEY-----\\nSECRET\\n-----END PRIVATE KEY-----\\n';; esac`);
    t.stub("sleep", "exit 0");
    fs.writeFileSync(`${t.dir}/error.log`, "ImportError: no module named app\n");
    const r = fn(t, "healthy", ["web", "120", `${t.dir}/error.log`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^web did not become healthy: state exited \(exit code 3\) after 0 s\. Its last log lines:\nboot\n\(private key redacted\)\n/);
    assert.match(r.err, new RegExp(`--- ${t.dir}/error.log \\(last lines\\):\\nImportError: no module named app\\n$`));
    assert.doesNotMatch(r.err, /SECRET/);
    assert.ok(!t.calls().includes("sleep 1"), "no wait for a container that is not running");
  } finally {
    t.cleanup();
  }
});

test("healthy: a running container that never passes fails after the given seconds; one that is gone says so", () => {
  const t = tmp();
  try {
    t.stub("podman", `case "$1" in exec) exit 1;; inspect) [ -f ${t.dir}/gone ] && exit 125; echo "running (exit code 0)";; esac`);
    const r = fn(t, "healthy", ["web", "1", `${t.dir}/error.log`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^web did not become healthy: state running \(exit code 0\) after [12] s\./);
    assert.match(r.err, /\(not shown: .*error\.log could not be opened and read within 5 s\)/);
    fs.writeFileSync(`${t.dir}/gone`, "");
    assert.match(fn(t, "healthy", ["web", "1", `${t.dir}/error.log`]).err, /^web did not become healthy: state gone after 0 s\./);
  } finally {
    t.cleanup();
  }
});

test("prune_versions: interrupted installs go, the newest versions and the mounted one stay", () => {
  const t = tmp();
  try {
    const rel = `${t.dir}/releases`;
    const names = ["aaaa", "bbbb", "cccc", "dddd", "eeee"];
    names.forEach((n, i) => {
      fs.mkdirSync(`${rel}/${n}`, { recursive: true });
      const at = new Date(Date.now() - (names.length - i) * 60000);
      fs.utimesSync(`${rel}/${n}`, at, at);
    });
    fs.mkdirSync(`${rel}/ffff.partial.x1/sub`, { recursive: true });
    fs.writeFileSync(`${t.dir}/web.container`, `[Container]\nVolume=${rel}/bbbb:/srv/app:ro,Z\n`);
    const r = fn(t, "prune_versions", [`${t.dir}/web.container`, rel, "flagun", ".partial", "2"]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(fs.readdirSync(rel).sort(), ["bbbb", "dddd", "eeee"]);
  } finally {
    t.cleanup();
  }
});

test("prune_secrets: the site's secrets the unit does not name go; the named ones and other secrets stay", () => {
  const t = tmp();
  try {
    const l = layoutOf(parseConfig({ hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }] }, "/repo", () => true));
    const secrets = ["flagun-web-secret-key", "flagun-web-secret-key-0123456789ab", "flagun-web-secret-key-ba9876543210", "flagun-web-env-API_TOKEN-00000000000a", "flagun-web-env-API_TOKEN-00000000000b", "flagun-web-secret-key-typo", "other-secret", "flagun-webx-secret-key"];
    t.stub("podman", `[ "$1 $2" = "secret ls" ] && printf '%s\n' ${secrets.map(q).join(" ")}; true`);
    fs.writeFileSync(`${t.dir}/web.container`, `[Container]\nSecret=flagun-web-secret-key-ba9876543210,type=mount,target=/run/secrets/app_secret_key\nSecret=flagun-web-env-API_TOKEN-00000000000b,type=mount,target=/run/secrets/env/API_TOKEN\n`);
    const r = fn(t, "prune_secrets", [`${t.dir}/web.container`, l.secretNamesRe]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      t.calls().filter((c) => c.startsWith("podman secret rm")),
      ["flagun-web-secret-key", "flagun-web-secret-key-0123456789ab", "flagun-web-env-API_TOKEN-00000000000a"].map((n) => `podman secret rm ${n}`),
    );
  } finally {
    t.cleanup();
  }
});

test("prune_images: the site's images beyond the newest go, never the one the unit runs", () => {
  const t = tmp();
  try {
    // Tag -> creation time: d is the newest; the unit runs a, the oldest (a rollback to it).
    const created: Record<string, number> = { a: 100, b: 200, c: 300, d: 400, e: 250 };
    t.stub(
      "podman",
      [
        'case "$1 $2" in',
        `"images --format") printf '%s\\n' ${Object.keys(created).map((k) => `localhost/flagun-web:${k}`).join(" ")} ;;`,
        `"image inspect") case "$5" in ${Object.entries(created).map(([k, v]) => `*:${k}) echo ${v} ;;`).join(" ")} esac ;;`,
        "esac",
      ].join("\n"),
    );
    fs.writeFileSync(`${t.dir}/web.container`, "[Container]\nImage=localhost/flagun-web:a\n");
    const r = fn(t, "prune_images", [`${t.dir}/web.container`, "localhost/flagun-web", "2"]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(t.calls().filter((c) => c.startsWith("podman rmi")), ["podman rmi localhost/flagun-web:e", "podman rmi localhost/flagun-web:b"]);
  } finally {
    t.cleanup();
  }
});

test("record_version: the live version first, then the earlier ones still on the host, each once, at most KEPT", () => {
  const t = tmp();
  try {
    const rel = `${t.dir}/releases`;
    const cfg = `${t.dir}/configs`;
    const history = `${t.dir}/state/versions`;
    for (const d of ["a1", "a2", "a3"]) fs.mkdirSync(`${rel}/${d}`, { recursive: true });
    for (const d of ["c1", "c2"]) fs.mkdirSync(`${cfg}/${d}`, { recursive: true });
    // Images i1 and i2 exist; i0 was pruned.
    t.stub("podman", '[ "$1 $2" = "image exists" ] && case "$3" in *:i1|*:i2) exit 0 ;; esac; exit 1');
    fs.mkdirSync(path.dirname(history), { recursive: true });
    fs.writeFileSync(history, ["2026-01-03T00:00:00Z a1 c1 img:i1", "2026-01-02T00:00:00Z a2 c1 img:i1", "2026-01-01T00:00:00Z a1 c1 img:i0", "2026-01-01T00:00:00Z a9 c1 img:i1", ""].join("\n"));
    const unit = (a: string, c: string, i: string) => fs.writeFileSync(`${t.dir}/web.container`, `[Container]\nImage=img:${i}\nVolume=${rel}/${a}:/srv/app:ro,Z\nVolume=${cfg}/${c}:/etc/flagun:ro,Z\n`);
    // A switch back to a1/c1/i1 (a rollback): it moves first, with the new time; a9 (gone) and i0 (gone) drop out.
    unit("a1", "c1", "i1");
    let r = fn(t, "record_version", [`${t.dir}/web.container`, rel, cfg, "img", history, "3"]);
    assert.equal(r.code, 0, r.err);
    let versions = parseVersions(r.out);
    assert.deepEqual(versions.map((v) => `${v.app} ${v.config} ${v.image}`), ["a1 c1 img:i1", "a2 c1 img:i1"]);
    assert.match(versions[0].since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.notEqual(versions[0].since, "2026-01-03T00:00:00Z");
    // Two more switches: KEPT (3) versions stay, in the history file too.
    unit("a3", "c2", "i2");
    fn(t, "record_version", [`${t.dir}/web.container`, rel, cfg, "img", history, "3"]);
    unit("a2", "c2", "i2");
    r = fn(t, "record_version", [`${t.dir}/web.container`, rel, cfg, "img", history, "3"]);
    versions = parseVersions(r.out);
    assert.deepEqual(versions.map((v) => `${v.app} ${v.config} ${v.image}`), ["a2 c2 img:i2", "a3 c2 img:i2", "a1 c1 img:i1"]);
    assert.equal(fs.readFileSync(history, "utf8").trim().split("\n").length, 3);
  } finally {
    t.cleanup();
  }
});

/**
 * space.sh in a temp dir: `df` says every path is on `/` (the logs on `/logs`, 500 MiB free), with 5 MiB free
 * while the old release is there and 500 MiB once it is gone; podman has the live image (200 MiB), `image` says if REF exists.
 */
function spaceWorld(image: "present" | "missing") {
  const t = tmp();
  const rel = `${t.dir}/releases`;
  for (const [d, age] of [["old", 120], ["live", 60]] as const) {
    fs.mkdirSync(`${rel}/${d}`, { recursive: true });
    const at = new Date(Date.now() - age * 1000);
    fs.utimesSync(`${rel}/${d}`, at, at);
  }
  fs.mkdirSync(`${t.dir}/configs`);
  fs.writeFileSync(`${t.dir}/web.container`, `[Container]\nImage=img:live\nVolume=${rel}/live:/srv/app:ro,Z\n`);
  t.stub("df", `case "$2" in */logs*) m=/logs ;; *) m=/ ;; esac\nif [ $m = / ] && [ -d ${rel}/old ]; then a=5120; else a=512000; fi\necho "Filesystem 1024-blocks Used Available Capacity Mounted on"\necho "dev 1000000 0 $a 0% $m"`);
  t.stub("podman", `case "$1 $2" in "image exists") [ "$3" = img:live ] || [ "$3" = base:loaded ] || [ ${image === "present" ? 1 : 0} = 1 ] ;; "image inspect") echo 209715200 ;; "images --format") echo img:live ;; esac`);
  const run = (ref: string, needs: [string, string, number][], base = "") => {
    const r = spawnSync("sh", ["-c", hostScript(["deploy-fns", "space"], [`${t.dir}/web.container`, rel, `${t.dir}/configs`, "img", PARTIAL, "flagun", ref, 512, base, 300, ...needs.flat()])], { encoding: "utf8", env: t.env, timeout: 30000 });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  };
  return { t, rel, run };
}

test("space: enough on every filesystem: nothing pruned", () => {
  const { t, rel, run } = spaceWorld("present");
  try {
    const r = run("img:new", [["release", `${rel}/new`, 3], ["logs", `${t.dir}/logs`, 16]]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "disk space: enough for this version");
    assert.deepEqual(fs.readdirSync(rel).sort(), ["live", "old"]);
  } finally {
    t.cleanup();
  }
});

test("space: short, the versions kept for rollback go first (never the live one), then it fits", () => {
  const { t, rel, run } = spaceWorld("present");
  try {
    const r = run("img:new", [["upload area", `${t.dir}/stage`, 10], ["release", `${rel}/new`, 10]]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^disk space: short \(\/: 5 MiB free, 20 MiB needed \(upload area \(.*\/stage\); release \(.*\/releases\/new\)\)\); pruning/);
    assert.match(r.out, /disk space: enough for this version$/);
    assert.deepEqual(fs.readdirSync(rel), ["live"]);
  } finally {
    t.cleanup();
  }
});

test("space: still short after pruning: refused, naming each filesystem, the space free and needed; a new image counts the live one's size", () => {
  const { t, rel, run } = spaceWorld("missing");
  try {
    const r = run("img:new", [["release", `${rel}/new`, 10], ["image store", `${t.dir}/home/.local/share/containers`, 0], ["logs", `${t.dir}/logs`, 600]]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^not enough disk space for this version \(nothing of it was uploaded or built; the running version keeps serving\):/);
    assert.match(r.err, /^ {2}\/logs: 500 MiB free, 600 MiB needed \(logs \(.*\/logs\)\)$/m);
    assert.match(r.out, /\/: 5 MiB free, 211 MiB needed/, "the new image counted at the live image's size (200 MiB)");
    assert.doesNotMatch(r.err, /^ {2}\/: /m, "/ has room once the old release is gone (10 + 201 MiB for the image)");
    assert.deepEqual(fs.readdirSync(rel), ["live"]);
  } finally {
    t.cleanup();
  }
});

test("space: a base image archive (300 MiB) counts in the upload area and the image store only while its image is not loaded", () => {
  const { t, rel, run } = spaceWorld("missing");
  try {
    fs.rmSync(`${rel}/old`, { recursive: true });
    // The new image (missing) counts at the live one's size, 201 MiB, either way.
    const needs: [string, string, number][] = [["upload area", `${t.dir}/stage`, 2], ["image store", `${t.dir}/store`, 0]];
    assert.equal(run("img:new", needs, "base:loaded").out, "disk space: enough for this version");
    const r = run("img:new", needs, "base:missing");
    assert.equal(r.code, 1);
    assert.match(r.err, /^ {2}\/: 500 MiB free, 803 MiB needed \(upload area .*; image store .*\)$/m);
  } finally {
    t.cleanup();
  }
});

/** config-version.sh (the system user's part of files.installConfigVersion), with `files` (name, text) on its stdin (files.configStdin). */
function configVersion(t: ReturnType<typeof tmp>, dest: string, files: [string, string][], stdin = configStdin(files.map(([file, text]) => ({ file, text })))) {
  const r = spawnSync("sh", ["-c", hostScript(["config-version"], [dest, PARTIAL])], { input: stdin, encoding: "utf8", env: t.env, timeout: 30000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

test("config version: built beside the others and renamed into place complete; kept as it is once there, only a drifted file put back", () => {
  const t = tmp();
  try {
    const configs = `${t.dir}/configs`;
    fs.mkdirSync(configs);
    const dest = `${configs}/fedcba987654`;
    // Any text, byte for byte: quotes, $( ), backslashes, non-ASCII, blank and comment lines, no final newline.
    const text = "{\"env\": {\"Q\": \"it's $(id) `x` \\\\ é ✓\"}}\n\n# not a comment to strip\nno newline";
    const files: [string, string][] = [["app.json", text], ["nginx.conf", "events {}\n"]];
    const r = configVersion(t, dest, files);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `configuration ${dest} installed`);
    assert.deepEqual(fs.readdirSync(configs), ["fedcba987654"], "no partial left beside it");
    assert.deepEqual(fs.readdirSync(dest).sort(), ["app.json", "nginx.conf", "tls"]);
    assert.equal(fs.readFileSync(`${dest}/app.json`, "utf8"), text, "byte for byte");
    assert.equal((fs.statSync(`${dest}/app.json`).mode & 0o777).toString(8), "640");
    assert.equal((fs.statSync(dest).mode & 0o777).toString(8), "750");
    const inode = fs.statSync(`${dest}/nginx.conf`).ino;
    assert.equal(configVersion(t, dest, files).out, `configuration ${dest} already installed`);
    assert.equal(fs.statSync(`${dest}/nginx.conf`).ino, inode, "an installed version is not rewritten");
    // An operator's edit (drift): that file alone is put back, in place (the live container's mount sees it).
    fs.writeFileSync(`${dest}/app.json`, "{}");
    assert.equal(configVersion(t, dest, files).out, `configuration ${dest} already installed; put back: app.json`);
    assert.equal(fs.readFileSync(`${dest}/app.json`, "utf8"), text);
    assert.equal(fs.statSync(`${dest}/nginx.conf`).ino, inode);
    assert.deepEqual(fs.readdirSync(configs), ["fedcba987654"]);
  } finally {
    t.cleanup();
  }
});

test("config version: the largest appEnv (100 values of 4096 characters) passes; a link in its place is replaced, never followed; a short upload leaves nothing", () => {
  const t = tmp();
  try {
    const configs = `${t.dir}/configs`;
    const elsewhere = `${t.dir}/elsewhere`;
    fs.mkdirSync(configs);
    fs.mkdirSync(elsewhere);
    const dest = `${configs}/fedcba987654`;
    fs.symlinkSync(elsewhere, dest);
    const big = JSON.stringify({ env: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`V${i}`, "\u00e9'\"$`".repeat(820)])) });
    assert.ok(Buffer.byteLength(big) > 256 * 1024, "past one argument's limit");
    const r = configVersion(t, dest, [["app.json", big]]);
    assert.equal(r.code, 0, r.err);
    assert.ok(!fs.lstatSync(dest).isSymbolicLink());
    assert.equal(fs.readFileSync(`${dest}/app.json`, "utf8"), big);
    assert.deepEqual(fs.readdirSync(elsewhere), [], "nothing written through the link");
    // An upload cut short (a dropped connection): refused, neither the version nor its partial directory stays.
    const cut = `${configs}/0123456789ab`;
    const short = configVersion(t, cut, [], "app.json 100\n{}");
    assert.notEqual(short.code, 0);
    assert.match(short.err, /app\.json arrived incomplete/);
    assert.deepEqual(fs.readdirSync(configs), ["fedcba987654"]);
    assert.throws(() => configStdin([{ file: "../x", text: "" }]), /configuration file name "\.\.\/x"/);
  } finally {
    t.cleanup();
  }
});

/** subids.sh on temporary id files, with a stand-in usermod that logs its arguments. */
function subIds(action: "allocate" | "release", subuid: string, subgid: string, user = "flagun") {
  const t = tmp();
  try {
    fs.writeFileSync(`${t.dir}/subuid`, subuid);
    fs.writeFileSync(`${t.dir}/subgid`, subgid);
    t.stub("usermod", "exit 0");
    const r = spawnSync("sh", ["-c", hostScript(["subids"], [action, user, SUBID_COUNT, `${t.dir}/subuid`, `${t.dir}/subgid`])], { encoding: "utf8", env: t.env });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim(), calls: t.calls(), subuid: fs.readFileSync(`${t.dir}/subuid`, "utf8"), subgid: fs.readFileSync(`${t.dir}/subgid`, "utf8") };
  } finally {
    t.cleanup();
  }
}

test("subid allocation: empty files start at 100000, given to the user in both files at once", () => {
  const r = subIds("allocate", "", "");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "100000 65536");
  assert.deepEqual(r.calls, ["usermod --add-subuids 100000-165535 --add-subgids 100000-165535 flagun"]);
});

test("subid allocation: unsorted files and odd sizes never overlap (the runbook's last-line bug)", () => {
  // Last line is the lowest range: "last + 65536" would land inside alice's range.
  const r = subIds("allocate", "alice:300000:65536\nbob:100000:65536\n", "carol:165536:1000\n");
  assert.equal(r.out, "166536 65536");
  const start = 166536;
  for (const [a, b] of [[300000, 365536], [100000, 165536], [165536, 166536]]) assert.ok(start + 65536 <= a || start >= b, `overlaps [${a},${b})`);
});

test("subid allocation: a gap large enough is reused, comments and junk ignored", () => {
  assert.equal(subIds("allocate", "# comment\nx:100000:65536\ny:400000:65536\njunk\n", "z:231072:10\n").out, "165536 65536");
});

test("subid allocation: ids above 2^31 stay integers (no 4.29e+09 from awk)", () => {
  const r = subIds("allocate", "big:100000:3000000000\n", "");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "3000100000 65536");
  assert.deepEqual(r.calls, ["usermod --add-subuids 3000100000-3000165535 --add-subgids 3000100000-3000165535 flagun"]);
  const full = subIds("allocate", "big:100000:4294850000\n", "");
  assert.equal(full.code, 1);
  assert.equal(full.err, "no free subordinate id range left");
  assert.deepEqual(full.calls, []);
});

test("subid allocation: a re-run keeps the user's range; files that disagree are refused", () => {
  const again = subIds("allocate", "a:100000:65536\nflagun:200000:65536\n", "flagun:200000:65536\n");
  assert.equal(again.out, "200000 65536");
  assert.deepEqual(again.calls, [], "no usermod");
  const odd = subIds("allocate", "flagun:200000:65536\n", "");
  assert.equal(odd.code, 1);
  assert.match(odd.err, /subuid and .*subgid disagree for flagun: fix by hand$/);
});

test("subid release: exactly the user's lines go, a user whose name starts the same keeps its own", () => {
  const r = subIds("release", "flagun:100000:65536\nflagun2:165536:65536\n", "x:1:2\nflagun:100000:65536\n");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.subuid, "flagun2:165536:65536\n");
  assert.equal(r.subgid, "x:1:2\n");
});

/** The host preflight with stand-ins for every command it looks for (those in `missing` left out) and `podman --version` printing `version`. */
function preflightWith(admin: string, version: string, opts: { missing?: string[]; sudo?: boolean } = {}) {
  const t = tmp();
  try {
    for (const c of ["systemctl", "loginctl", "useradd", "usermod", "userdel", "runuser", "flock", "curl", "newuidmap", "newgidmap"]) {
      if (!opts.missing?.includes(c)) t.stub(c, "exit 0");
    }
    if (!opts.missing?.includes("podman")) t.stub("podman", `echo "podman version ${version}"`);
    t.stub("sudo", `exit ${opts.sudo === false ? 1 : 0}`);
    for (const c of ["sh", "id", "awk", "cat", "stat", "find"]) fs.symlinkSync(spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).stdout.trim(), `${t.dir}/bin/${c}`);
    const r = spawnSync(`${t.dir}/bin/sh`, ["-c", preflight({ adminUser: admin }, `${t.dir}/stage/web`)], { encoding: "utf8", env: { PATH: `${t.dir}/bin` } });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  } finally {
    t.cleanup();
  }
}

test("preflight: an admin without passwordless sudo, a missing command and an old podman each fail with their one line", () => {
  const user = spawnSync("id", ["-un"], { encoding: "utf8" }).stdout.trim();
  assert.deepEqual(preflightWith("deploy", "5.4.2", { sudo: false }), { code: 1, out: "", err: `preflight: user ${user} needs passwordless sudo (or connect as root)` });
  assert.deepEqual(preflightWith("deploy", "5.4.2", { missing: ["newgidmap"] }), { code: 1, out: "", err: "preflight: newgidmap not found: the host needs podman >= 4.4, uidmap, systemd and curl" });
  assert.deepEqual(preflightWith("deploy", "4.3.1"), { code: 1, out: "", err: "preflight: podman 4.3.1 is too old: need >= 4.4 (Quadlet)" });
  const ok = preflightWith("deploy", "4.4.0");
  if (fs.existsSync("/run/systemd/system")) assert.deepEqual(ok, { code: 0, out: "podman 4.4.0", err: "" });
  else assert.deepEqual(ok, { code: 1, out: "", err: "preflight: systemd is not the init system" });
});
