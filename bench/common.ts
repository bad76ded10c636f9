// What the bench's measurements share: the site they run against, their log, the statistics of their figures.
import { OpMap, Stack } from "@pulumi/pulumi/automation";
import { TestHost } from "../test/host/vm";
import { SiteStack } from "../test/e2e/harness";

export const log = (m: string) => console.error(`# ${new Date().toISOString().slice(11, 19)} ${m}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r2 = (x: number) => Math.round(x * 100) / 100;

/** The provisioned site that the measurements after the cold up run against. */
export interface BenchSite {
  host: TestHost;
  s: SiteStack;
  /** The system user's uid. */
  uid: number;
  /** The site's https port on this machine's 127.0.0.1, forwarded to the VM's. */
  httpsPort: number;
  url: string;
}

/** Runs one measurement: its failure is recorded, and the next measurement still runs. */
export type Section = (name: string, fn: () => Promise<void>) => Promise<void>;

export async function timedUp(stack: Stack): Promise<{ s: number; changes: OpMap }> {
  const t0 = Date.now();
  const up = await stack.up();
  return { s: (Date.now() - t0) / 1000, changes: up.summary.resourceChanges ?? {} };
}

/** An up's resource changes but the unchanged. */
export function changed(changes: OpMap): OpMap {
  return Object.fromEntries(Object.entries(changes).filter(([k]) => k !== "same"));
}
