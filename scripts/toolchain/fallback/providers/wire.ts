// Property values as the engine sends them to a provider that accepts secrets: secrets, assets and
// archives are objects tagged with Pulumi's signature key. Providers unwrap them to act, and return
// inputs still wrapped so the engine keeps them secret in state.
export const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const ASSET = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE = "0def7320c3a5731c473e5ecbe6d01bc7";

export type Props = Record<string, any>;

export function isSecret(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Props)[SIG] === SECRET;
}

/** Plain values: secrets replaced by what they hold, everything else as sent. */
export function unwrap<T = any>(v: unknown): T {
  if (isSecret(v)) return unwrap((v as Props).value);
  if (Array.isArray(v)) return v.map(unwrap) as T;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)])) as T;
  }
  return v as T;
}

export function secret(value: unknown): Props {
  return { [SIG]: SECRET, value };
}

export function isAsset(v: unknown): v is Props {
  return typeof v === "object" && v !== null && (v as Props)[SIG] === ASSET;
}

export function isArchive(v: unknown): v is Props {
  return typeof v === "object" && v !== null && (v as Props)[SIG] === ARCHIVE;
}

/** Keys whose (unwrapped) values differ; assets compare by content hash when both sides have one. */
export function changedKeys(olds: Props, news: Props, keys: string[]): string[] {
  const norm = (v: unknown) => {
    const u = unwrap(v);
    return JSON.stringify(typeof u === "object" && u !== null && u.hash ? { hash: u.hash } : u ?? null);
  };
  return keys.filter((k) => norm(olds[k]) !== norm(news[k]));
}
