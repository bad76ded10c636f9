// Fallback `random` provider: RandomPassword and RandomString from the OS CSPRNG, replaced on any change.
import * as crypto from "crypto";
import { Props, changedKeys, unwrap } from "./wire";

const INPUTS = ["length", "lower", "upper", "numeric", "number", "special", "minLower", "minUpper", "minNumeric", "minSpecial", "overrideSpecial", "keepers"];

function pick(set: string, n: number): string[] {
  return Array.from({ length: n }, () => set[crypto.randomInt(set.length)]);
}

export function generate(p: Props): string {
  const lower = "abcdefghijklmnopqrstuvwxyz";
  const upper = lower.toUpperCase();
  const digits = "0123456789";
  const special = p.overrideSpecial ?? "!@#$%&*()-_=+[]{}<>:?";
  const on = (k: string) => p[k] !== false;
  const sets: [boolean, string, number][] = [
    [on("lower"), lower, p.minLower ?? 0],
    [on("upper"), upper, p.minUpper ?? 0],
    [on("numeric") && on("number"), digits, p.minNumeric ?? 0],
    [on("special"), special, p.minSpecial ?? 0],
  ];
  const all = sets.filter(([enabled]) => enabled).map(([, s]) => s).join("");
  const chars = sets.flatMap(([enabled, s, min]) => (enabled ? pick(s, min) : []));
  chars.push(...pick(all, Math.max(0, p.length - chars.length)));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

export const randomProvider = {
  async check(_urn: string, _olds: Props, news: Props) {
    const n = unwrap(news.length);
    const failures = Number.isInteger(n) && n > 0 ? [] : [{ property: "length", reason: "length must be a positive integer" }];
    return { inputs: news, failures };
  },
  async diff(_id: string, _urn: string, olds: Props, news: Props) {
    const replaces = changedKeys(olds, news, INPUTS);
    return { changes: replaces.length > 0, replaces };
  },
  async create(_urn: string, inputs: Props) {
    const result = generate(unwrap(inputs));
    return { id: "none", outs: { ...inputs, result, bcryptHash: "" } };
  },
  async read(id: string, _urn: string, props: Props) {
    return { id, props };
  },
  async delete() {},
};
