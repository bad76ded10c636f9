// Robustness row 3's hostile values, packed into as few `preview`s as keep every refusal whole: each value
// costs a whole preview under emulation, and one preview reports every problem at once. Which values may share
// a preview is decided with the program's own validation (lib/config.ts), in-process: a value joins a preview
// only if that preview, run alone with it, still reports every problem each of its values reports on its own
// (a rule across keys is checked only once the keys it reads are valid, so some values must go alone). The
// real previews then prove it: each must fail showing all those problems, with no SSH session.
import * as fs from "node:fs";
import * as path from "node:path";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { ConfigError, parseConfig } from "../../lib/config";
import { rawConfig } from "../../lib/stackConfig";

/** One hostile value: `key` set to `value` (with `others` set too), refused naming `named` (default: `key`). */
export interface HostileCase {
  key: string;
  value: string;
  named?: string;
  others?: ConfigMap;
}

/** A preview's worth of cases and the problem lines it must show (each case's own, as it reports them alone). */
export interface HostileRound {
  cases: HostileCase[];
  expect: string[];
}

/** The config of the stack with `cases` applied. */
export function withCases(base: ConfigMap, cases: HostileCase[]): ConfigMap {
  const config: ConfigMap = { ...base };
  for (const c of cases) Object.assign(config, c.others ?? {}, { [c.key]: { value: c.value } });
  return config;
}

/** What the program's validation reports for `config` (as `preview` would, run from `projectDir`): its problem lines. */
export function problemsOf(config: ConfigMap, projectDir: string): string[] {
  const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value]));
  const raw = rawConfig(values, (k) => config[k]?.secret === true);
  try {
    parseConfig(raw, projectDir, (p) => fs.existsSync(path.resolve(projectDir, p)), { tlsPrivateKeyPem: config.tlsPrivateKeyPem?.value });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

/**
 * `cases` packed into rounds (in order, each case into the first round it fits): a case fits when it sets no
 * key the round sets, and the round's config with it reports every line its cases report alone. Throws when a
 * case alone is not refused naming its key.
 */
export function packRounds(base: ConfigMap, cases: HostileCase[], problems: (config: ConfigMap) => string[]): HostileRound[] {
  const keysOf = (c: HostileCase) => [c.key, ...Object.keys(c.others ?? {})];
  const rounds: HostileRound[] = [];
  for (const c of cases) {
    const alone = problems(withCases(base, [c]));
    const named = c.named ?? c.key;
    // A list of keys ("a, b: expected both...") is the whole line's start; one key is followed by ": ".
    const names = (l: string) => (named.includes(",") ? l.includes(named) : l.startsWith(`${named}: `));
    if (!alone.some(names)) throw new Error(`${c.key}=${JSON.stringify(c.value)} alone is not refused naming ${named}: ${JSON.stringify(alone)}`);
    const fits = (r: HostileRound) => {
      if (r.cases.some((o) => keysOf(o).some((k) => keysOf(c).includes(k)))) return false;
      const shown = new Set(problems(withCases(base, [...r.cases, c])));
      return [...r.expect, ...alone].every((l) => shown.has(l));
    };
    const round = rounds.find(fits);
    if (round) {
      round.cases.push(c);
      round.expect.push(...alone.filter((l) => !round.expect.includes(l)));
    } else rounds.push({ cases: [c], expect: [...alone] });
  }
  return rounds;
}
