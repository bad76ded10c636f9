// The README's configuration table and Pulumi.yaml's `config:` block, generated from the schema in
// config.ts (`npm run docs:config` writes them; test/unit/readme.test.ts fails when they differ).
import { KEYS, KeyDoc, keyDocs } from "./config";

export const TABLE_START = "<!-- config-table:start -->";
export const TABLE_END = "<!-- config-table:end -->";
export const PULUMI_START = "# config-keys:start";
export const PULUMI_END = "# config-keys:end";

const entries = Object.entries(KEYS).map(([key, schema]) => {
  const doc = keyDocs.get(schema) as KeyDoc;
  const unset = schema.safeParse(undefined);
  return { key, doc, required: !unset.success && !doc.derive, def: unset.success ? unset.data : undefined };
});

function shownDefault(e: (typeof entries)[number]): string {
  if (e.doc.shownDefault) return e.doc.shownDefault;
  if (e.def === undefined) return "—";
  return `\`${typeof e.def === "string" ? e.def : JSON.stringify(e.def)}\``;
}

/** The README table, markers included. */
export function configTable(): string {
  const rows = entries.map((e) => {
    const marks = [e.required ? " (required)" : "", e.doc.secret ? " (secret)" : ""].join("");
    return `| \`${e.key}\`${marks} | ${e.doc.rule} | ${shownDefault(e)} | ${e.doc.effect} |`;
  });
  return [TABLE_START, "| key | type and rule | default | what changing it does (resources; image rebuild; downtime) |", "|---|---|---|---|", ...rows, TABLE_END].join("\n");
}

/**
 * Pulumi.yaml's declarations, so `pulumi config` and the Pulumi Cloud console show each key. Only keys
 * with a fixed scalar default, shown as it is: the CLI requires every declared key that has no default, a
 * derived default (homeDir from systemUser, …) cannot be one, and appDir's is relative to the project. No `type`: the CLI would refuse a bad value with
 * its own message before the program names the key and the expected form; no `secret`: the CLI then
 * requires the key.
 */
export function pulumiConfigBlock(project: string): string {
  const lines = [`  ${PULUMI_START}`];
  for (const e of entries.filter((e) => !e.doc.derive && !e.doc.secret && !e.doc.shownDefault && ["string", "number", "boolean"].includes(typeof e.def))) {
    const description = `${e.doc.rule} (README "Configuration reference")`.replace(/`/g, "").replace(/\\\|/g, "|");
    lines.push(`  ${project}:${e.key}:`, `    description: ${JSON.stringify(description)}`, `    default: ${JSON.stringify(e.def)}`);
  }
  lines.push(`  ${PULUMI_END}`);
  return lines.join("\n");
}

/** `text` with the lines from the start marker's to the end marker (included) replaced by `block`. */
export function replaceBetween(text: string, start: string, end: string, block: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`markers ${start} ... ${end} not found`);
  const lineStart = text.lastIndexOf("\n", from) + 1;
  return text.slice(0, lineStart) + block + text.slice(to + end.length);
}
