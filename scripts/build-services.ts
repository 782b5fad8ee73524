/**
 * Bundles each service with esbuild (platform node, target node20, ESM, not minified)
 * into one byte-deterministic .tar.gz per service plus a `<artifact>.sha256` file.
 *
 *   npx tsx scripts/build-services.ts [outDir]      (default dist/services/)
 *
 * parser.tar.gz:   parser/main.mjs, parser/parse-worker.mjs, parser/worker.js (piscina's
 *                  worker bootstrap, which piscina loads from its own directory) and
 *                  parser/package.json ({"type":"commonjs"} so worker.js is CommonJS).
 * mail-api.tar.gz: mail-api/main.mjs.
 * Determinism: fixed absWorkingDir for esbuild, and
 * `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=...` | `gzip -n`.
 */
import { build, type BuildOptions } from "esbuild";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Repository root (this file lives in <root>/scripts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Optional native/cloud add-ons of mongodb and piscina; loaded in try/catch at run time. */
const OPTIONAL_EXTERNALS = [
  "kerberos",
  "@mongodb-js/zstd",
  "snappy",
  "mongodb-client-encryption",
  "@aws-sdk/credential-providers",
  "gcp-metadata",
  "socks",
  "aws4",
  "@napi-rs/nice",
];

/**
 * ESM bundles of CommonJS dependencies need `require`, `__dirname` and `__filename`;
 * piscina resolves its worker bootstrap as `<__dirname>/worker.js`.
 */
const ESM_BANNER = [
  'import { createRequire as __bulwarkCreateRequire } from "node:module";',
  'import { fileURLToPath as __bulwarkFileURLToPath } from "node:url";',
  'import { dirname as __bulwarkDirname } from "node:path";',
  "const require = __bulwarkCreateRequire(import.meta.url);",
  "const __filename = __bulwarkFileURLToPath(import.meta.url);",
  "const __dirname = __bulwarkDirname(__filename);",
].join("\n");

function baseOptions(): BuildOptions {
  return {
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: "node",
    target: "node20",
    minify: false,
    sourcemap: false,
    legalComments: "inline",
    logLevel: "silent",
    external: OPTIONAL_EXTERNALS,
  };
}

/** Bundles one TypeScript entry into a single ESM file. */
export async function bundleEsm(entry: string, outfile: string): Promise<void> {
  await build({ ...baseOptions(), entryPoints: [resolve(REPO_ROOT, entry)], outfile, format: "esm", banner: { js: ESM_BANNER } });
}

/** Bundles piscina's worker bootstrap as CommonJS (it is loaded by path, not imported). */
async function bundlePiscinaBootstrap(outfile: string): Promise<void> {
  await build({ ...baseOptions(), entryPoints: [join(REPO_ROOT, "node_modules/piscina/dist/worker.js")], outfile, format: "cjs" });
}

/** Files of one service, staged into `<stage>/<name>/`. */
export async function stageService(name: "parser" | "mail-api", stage: string): Promise<string> {
  const dir = join(stage, name);
  await mkdir(dir, { recursive: true });
  if (name === "parser") {
    await bundleEsm("services/parser/main.ts", join(dir, "main.mjs"));
    await bundleEsm("services/parser/worker.ts", join(dir, "parse-worker.mjs"));
    await bundlePiscinaBootstrap(join(dir, "worker.js"));
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "commonjs", private: true }) + "\n");
  } else {
    await bundleEsm("services/mail-api/main.ts", join(dir, "main.mjs"));
  }
  return dir;
}

/** One built artifact. */
export interface BuiltService {
  name: string;
  file: string;
  sha256: string;
}

/** Service names in build order. */
export const SERVICE_NAMES = ["parser", "mail-api"] as const;

/** Builds every service into `outDir` as <name>.tar.gz + <name>.tar.gz.sha256. */
export async function buildServices(outDir = join(REPO_ROOT, "dist/services")): Promise<BuiltService[]> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const stage = await mkdtemp(join(tmpdir(), "bulwark-build-"));
  try {
    const results: BuiltService[] = [];
    for (const name of SERVICE_NAMES) {
      await stageService(name, stage);
      const tarFile = join(stage, `${name}.tar`);
      await run("tar", [
        "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
        "--mode=u=rwX,go=rX", "--format=gnu", "-cf", tarFile, "-C", stage, name,
      ]);
      await run("gzip", ["-n", "-9", "-f", tarFile]);
      const gz = await readFile(`${tarFile}.gz`);
      const sha256 = createHash("sha256").update(gz).digest("hex");
      const file = join(out, `${name}.tar.gz`);
      await writeFile(file, gz);
      await writeFile(`${file}.sha256`, `${sha256}  ${name}.tar.gz\n`);
      results.push({ name, file, sha256 });
    }
    return results;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  buildServices(process.argv[2]).then(
    (r) => {
      for (const s of r) process.stdout.write(`${s.sha256}  ${s.file}\n`);
    },
    (err) => {
      process.stderr.write(`build-services failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
