/**
 * Writes the review bundle: every file each host will hold (under hosts/<host>/, at its path
 * on the host), each host's user-data, the plan, TOPOLOGY.md, SECURITY.md (each unit's
 * sandbox profile and expected systemd-analyze exposure, from render/hardening.ts) and ROLLOUT.md
 * (the Day-2 order, gates and each file's action). Deploy-time
 * values (and so every secret) appear only as `<set at deploy: name>` placeholders. The directory
 * is emptied first so a rerun leaves no stale file and gives byte-identical output; so that `--review`
 * can never delete anything else, it is emptied only when it is new, empty, or holds the
 * REVIEW_MARKER file an earlier run wrote.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { FailureAnalysis } from "../plan/failure.ts";
import { changesPage, type BaseBundle } from "./changes-md.ts";
import { rolloutPage } from "./rollout-md.ts";
import type { Plan } from "../plan/model.ts";
import { showDeployValues } from "../render/deploy-values.ts";
import type { RenderedHost } from "../render/host.ts";
import { UserError } from "../topology/errors.ts";
import { securityMarkdown } from "./security-md.ts";
import { topologyMarkdown } from "./topology-md.ts";

export interface ReviewBundle {
  /** Paths relative to the bundle root, sorted. */
  readonly files: readonly string[];
}

/** The file that marks a directory as a review bundle, which the next synth may delete and rewrite. */
export const REVIEW_MARKER = ".bulwark-review";

const MARKER_TEXT = "This directory is a Bulwark review bundle, written by `npm run synth`: the next synth deletes and rewrites it.\n";

/**
 * Throws a UserError unless `dir` may be replaced by a review bundle: it does not exist, or it is
 * a directory (not a symlink) that is empty or holds REVIEW_MARKER as a regular file.
 */
export function checkReviewDir(dir: string): void {
  const fix =
    "pass a new or empty directory, or one an earlier `npm run synth` wrote (it holds .bulwark-review); " +
    "remove an old bundle from before that marker yourself";
  const stat = lstatOrUndefined(dir);
  if (stat === undefined) return;
  if (!stat.isDirectory()) {
    throw new UserError("--review", `is ${kindOf(stat)}, not a review directory; synth deletes the review directory and writes it anew`, dir, fix);
  }
  const entries = readdirSync(dir);
  if (entries.length === 0 || lstatOrUndefined(join(dir, REVIEW_MARKER))?.isFile()) return;
  throw new UserError(
    "--review",
    `holds ${entries.length} ${entries.length === 1 ? "entry" : "entries"} but no ${REVIEW_MARKER}, ` +
      `so it is not a review bundle, and synth would delete all of it`,
    dir,
    fix,
  );
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserError(
      "--review",
      `cannot be inspected (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      path,
      "pass a directory you can read and write",
    );
  }
}

function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return "a symbolic link";
  if (stat.isFile()) return "a file";
  return "a special file";
}

/**
 * Reads a previous review bundle as the base of CHANGES.md: it must hold REVIEW_MARKER (so a
 * typo cannot make synth read, say, a home directory), and is read whole before the new bundle
 * replaces it (the base may be the review directory itself).
 */
export function readBaseBundle(dir: string): BaseBundle {
  const fix = "pass a review directory an earlier `npm run synth` wrote (it holds .bulwark-review), e.g. one synthesized from main";
  if (!lstatOrUndefined(dir)?.isDirectory()) throw new UserError("--base", "is not a directory", dir, fix);
  if (!lstatOrUndefined(join(dir, REVIEW_MARKER))?.isFile())
    throw new UserError("--base", `holds no ${REVIEW_MARKER}, so it is not a review bundle`, dir, fix);
  const files = new Map<string, string>();
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const st = lstatSync(join(dir, rel));
      if (st.isDirectory()) walk(rel);
      else if (st.isFile()) files.set(rel, readFileSync(join(dir, rel), "utf8"));
    }
  };
  walk("");
  const planText = files.get("plan.json");
  return { dir, files, ...(planText ? { plan: JSON.parse(planText) as Pick<Plan, "hosts"> } : {}) };
}

export function writeReviewBundle(
  dir: string,
  plan: Plan,
  failures: FailureAnalysis,
  rendered: readonly RenderedHost[],
  base?: BaseBundle,
): ReviewBundle {
  checkReviewDir(dir);
  rmSync(dir, { recursive: true, force: true });
  const written: string[] = [];
  const put = (relative: string, content: string) => {
    const path = join(dir, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    written.push(relative);
  };
  put(REVIEW_MARKER, MARKER_TEXT);
  put("TOPOLOGY.md", topologyMarkdown(plan, failures));
  put("SECURITY.md", securityMarkdown(plan, rendered));
  put("ROLLOUT.md", rolloutPage(plan, rendered));
  if (base) put("CHANGES.md", changesPage(plan, rendered, base));
  put("plan.json", `${JSON.stringify(plan, null, 2)}\n`);
  for (const r of rendered) {
    put(join("hosts", r.host.name, "user-data.yaml"), showDeployValues(r.userData));
    for (const file of r.files) put(join("hosts", r.host.name, file.path), showDeployValues(file.content));
  }
  return { files: written.sort() };
}
