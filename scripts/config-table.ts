// `npm run docs:config`: rewrites README.md's configuration table and Pulumi.yaml's declared keys from
// the schema in lib/config.ts.
import * as fs from "node:fs";
import * as path from "node:path";
import { PULUMI_END, PULUMI_START, TABLE_END, TABLE_START, configTable, pulumiConfigBlock, replaceBetween } from "../lib/configDocs";
import { projectRoot } from "../lib/repo";

const root = projectRoot(__dirname);
const rewrite = (file: string, edit: (text: string) => string) => {
  const p = path.join(root, file);
  fs.writeFileSync(p, edit(fs.readFileSync(p, "utf8")));
};
rewrite("README.md", (t) => replaceBetween(t, TABLE_START, TABLE_END, configTable()));
rewrite("Pulumi.yaml", (t) => replaceBetween(t, PULUMI_START, PULUMI_END, pulumiConfigBlock("flagun-rosupod")));
