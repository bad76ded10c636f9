// The pure parts of the bench: wrk's output, the cold up's phases by resource name, a failed up's summary,
// the stack's resources per host.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { phaseOf } from "../../bench/cold";
import { resourcesPerHost } from "../../bench/converge";
import { failureSummary } from "../../bench/deploys";
import { StateResource } from "../../bench/floor";
import { medianRun, parseWrk, roundRatios } from "../../bench/serving";

const WRK_OUT = `Running 10s test @ https://127.0.0.1:8443/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    75.21ms   30.02ms 412.50ms   80.10%
    Req/Sec   106.40     20.11   151.00     70.00%
  Latency Distribution
     50%   66.12ms
     75%   85.00ms
     90%  110.31ms
     99%    1.65s
  1064 requests in 10.02s, 512.33KB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:    106.19
Transfer/sec:     51.13KB
`;

test("parseWrk: rate, percentiles in ms whatever wrk's unit, counts, errors", () => {
  assert.deepEqual(parseWrk(WRK_OUT), {
    requestsPerS: 106.19,
    p50Ms: 66.12,
    p99Ms: 1650,
    requests: 1064,
    non2xx: 2,
    socketErrors: "connect 0, read 3, write 0, timeout 1",
  });
});

test("parseWrk: a clean run has no non-2xx and no socket errors; microseconds convert", () => {
  const clean = WRK_OUT.replace(/ {2}Socket errors.*\n {2}Non-2xx.*\n/, "").replace("66.12ms", "812.00us");
  const w = parseWrk(clean);
  assert.equal(w.non2xx, 0);
  assert.equal(w.socketErrors, "none");
  assert.equal(w.p50Ms, 0.812);
});

test("phaseOf: every resource of the site in its phase", () => {
  const cases: Record<string, string> = {
    "vm-ssh-check": "user & ids",
    "vm-preflight": "user & ids",
    "vm-ownership": "user & ids",
    "vm-user": "user & ids",
    "vm-subids": "user & ids",
    "vm-linger": "user & ids",
    "vm-dirs": "files",
    "vm-space": "files",
    "vm-app-install": "files",
    "vm-config-version": "files",
    "vm-tls-key": "files",
    "vm-tls-cert-file": "files",
    "vm-app-secret": "files",
    "vm-env-secret-API_TOKEN": "files",
    "app-secret-key": "files",
    "vm-base-stage": "image",
    "vm-base-copy-base-tar": "image",
    "vm-base-image": "image",
    "vm-build-copy-Containerfile": "image",
    "vm-image": "image",
    "vm-release": "check & start",
    "vm-reload": "check & start",
    "vm-unit": "check & start",
    "vm-health": "check & start",
    "vm-something-new": "other",
  };
  for (const [name, phase] of Object.entries(cases)) assert.equal(phaseOf(name), phase, name);
});

test("failureSummary: exit code, Pulumi's first error line, the switch's refusal", () => {
  const text = [
    "code: 255",
    " stdout: Updating (bench):",
    "  ~  command:remote:Command vm-unit updating failed 1 error",
    "Diagnostics:",
    "  command:remote:Command (vm-unit):",
    '    error: Process exited with status 1: running "…":',
    "    check: starting flagun-web-standby (the new version) on the site's sockets beside the running one",
    "    [ERROR] Exception in worker process",
    "    deploy refused: the new version did not pass its health check; the running version keeps serving, untouched",
    "",
    " stderr: ",
  ].join("\n");
  assert.deepEqual(failureSummary(text), {
    exit: 255,
    firstError: 'error: Process exited with status 1: running "…":',
    refusal: "deploy refused: the new version did not pass its health check; the running version keeps serving, untouched",
  });
  assert.deepEqual(failureSummary("something else"), { exit: NaN, firstError: undefined, refusal: undefined });
});

test("medianRun: the run with the median request rate, whatever the order", () => {
  const run = (requestsPerS: number, p50Ms: number) => ({ requestsPerS, p50Ms, p99Ms: 0, requests: 0, non2xx: 0, socketErrors: "none" });
  assert.deepEqual(medianRun([run(150, 1), run(90, 2), run(120, 3)]), run(120, 3));
  assert.deepEqual(medianRun([run(5, 9)]), run(5, 9));
});

test("roundRatios: each round's rate over its base round's, and their median", () => {
  const run = (requestsPerS: number) => ({ requestsPerS, p50Ms: 1, p99Ms: 2, requests: 1, non2xx: 0, socketErrors: "none" });
  // The second round ran on a slow spell: both of its runs are slow, its ratio is not.
  assert.deepEqual(roundRatios([run(150), run(60), run(140)], [run(200), run(100), run(200)]), { median: 0.7, rounds: [0.75, 0.6, 0.7] });
  assert.deepEqual(roundRatios([run(3)], [run(4)]), { median: 0.75, rounds: [0.75] });
  // An even count: the mean of the two middle rounds, as every other median of the bench.
  assert.deepEqual(roundRatios([run(55), run(78), run(50), run(72), run(79), run(74)], Array(6).fill(run(100))), { median: 0.73, rounds: [0.55, 0.78, 0.5, 0.72, 0.79, 0.74] });
});

test("resourcesPerHost: each host's Site and everything under it; the stack, providers and fleet-wide resources are no host's", () => {
  const urn = (type: string, name: string) => `urn:pulumi:s::p::${type}::${name}`;
  const stack = urn("pulumi:pulumi:Stack", "p-s");
  const site = (host: string) => urn("flagun:site:Site", host);
  const files = urn("flagun:site:Site$flagun:site:SiteFiles", "web2-files");
  const state: StateResource[] = [
    { urn: stack, type: "pulumi:pulumi:Stack", custom: false },
    { urn: urn("pulumi:providers:command", "default_1_2_1"), type: "pulumi:providers:command", custom: true },
    { urn: urn("random:index/randomPassword:RandomPassword", "app-secret-key"), type: "random:index/randomPassword:RandomPassword", custom: true, parent: stack },
    { urn: site("web1"), type: "flagun:site:Site", custom: false, parent: stack },
    { urn: urn("command:remote:Command", "web1-user"), type: "command:remote:Command", custom: true, parent: site("web1") },
    { urn: site("web2"), type: "flagun:site:Site", custom: false, parent: stack },
    { urn: files, type: "flagun:site:SiteFiles", custom: false, parent: site("web2") },
    { urn: urn("command:remote:Command", "web2-dirs"), type: "command:remote:Command", custom: true, parent: files },
    { urn: urn("command:remote:Command", "web2-user"), type: "command:remote:Command", custom: true, parent: site("web2") },
  ];
  assert.deepEqual(resourcesPerHost(state), { web1: 2, web2: 4 });
});
