// Host-side scripts are real sh files (lib/commands/sh/), checked by shellcheck (scripts/lint-sh) and run by the
// unit tests. A builder sends a script's text as it is and its values as quoted arguments: nothing is spliced
// into a script's body.
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../repo";
import { q } from "../shell";

/** The source file of host script NAME (the code runs from dist/: the .sh files stay in the source tree). */
export function hostScriptPath(name: string): string {
  return path.join(projectRoot(__dirname), "lib", "commands", "sh", `${name}.sh`);
}

const texts = new Map<string, string>();

/**
 * The text of host script NAME as it travels: without its comment lines (a line whose first non-blank
 * character is `#`) and blank lines, so a comment edit changes no command and redeploys nothing. Hence no
 * line inside a multi-line string of these files may be blank or start with `#`.
 */
export function hostScriptText(name: string): string {
  let text = texts.get(name);
  if (text === undefined) {
    text = fs
      .readFileSync(hostScriptPath(name), "utf8")
      .split("\n")
      .filter((line) => !/^\s*(#|$)/.test(line))
      .join("\n");
    texts.set(name, text);
  }
  return text;
}

/**
 * `sh -c SCRIPT sh ARG...`: the scripts `names` joined into one (libraries of functions first, the script that
 * runs last), every argument quoted. Deterministic: the same arguments give the same command.
 */
export function hostScript(names: string[], args: (string | number)[]): string {
  return `sh -c ${q(names.map(hostScriptText).join("\n"))} sh ${args.map(q).join(" ")}`;
}
