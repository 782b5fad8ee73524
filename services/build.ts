/**
 * The services' build: bundles each service with esbuild (platform node, target node20, ESM,
 * not minified) into one byte-deterministic .tar.gz per service plus a `<artifact>.sha256` file.
 * Used by synth (synth/pipeline.ts `prepare`, before planning), the bench, the labs and the tests; the command
 * line is scripts/build-services.ts:
 *
 *   npx tsx scripts/build-services.ts [outDir]      (default dist/services/)
 *
 * parser.tar.gz:   parser/main.mjs, parser/parse-worker.mjs, parser/worker.js (piscina's
 *                  worker bootstrap, which piscina loads from its own directory) and
 *                  parser/package.json ({"type":"commonjs"} so worker.js is CommonJS).
 * mail-api.tar.gz: mail-api/main.mjs.
 * ingress.tar.gz:  ingress/main.mjs (the SMTP receiver).
 * Determinism: fixed absWorkingDir for esbuild, and
 * `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=...` | `gzip -n`.
 *
 * Besides the tarballs, `manifest.json` records the sha256 of the inputs (SOURCE_INPUTS) and of
 * each artifact. Synth reads it (`serviceArtifacts` → `ensureServiceArtifacts`) before it plans:
 * when the inputs are unchanged it reuses the built files (a few ms), otherwise it rebuilds them
 * first (about 1 s), and passes the sha256 into the plan, so the sha256 a host verifies is always
 * that of the file in dist/services/ that the user uploads.
 */
import { build, buildSync, type BuildOptions } from "esbuild";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (this file lives in <root>/services). */
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

/** Bundles one TypeScript entry into a single ESM file, synchronously (synth is synchronous). */
function bundleEsmSync(entry: string, outfile: string): void {
  buildSync({ ...baseOptions(), entryPoints: [resolve(REPO_ROOT, entry)], outfile, format: "esm", banner: { js: ESM_BANNER } });
}

/** Bundles piscina's worker bootstrap as CommonJS (it is loaded by path, not imported). */
function bundlePiscinaBootstrapSync(outfile: string): void {
  buildSync({ ...baseOptions(), entryPoints: [join(REPO_ROOT, "node_modules/piscina/dist/worker.js")], outfile, format: "cjs" });
}

/** Files of one service, staged into `<stage>/<name>/`. */
function stageServiceSync(name: ServiceName, stage: string): string {
  const dir = join(stage, name);
  mkdirSync(dir, { recursive: true });
  if (name === "parser") {
    bundleEsmSync("services/parser/main.ts", join(dir, "main.mjs"));
    bundleEsmSync("services/parser/worker.ts", join(dir, "parse-worker.mjs"));
    bundlePiscinaBootstrapSync(join(dir, "worker.js"));
    writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: "commonjs", private: true })}\n`);
  } else {
    bundleEsmSync(`services/${name}/main.ts`, join(dir, "main.mjs"));
  }
  return dir;
}

/** Files of one service, staged into `<stage>/<name>/` (async form, for the bench). */
export async function stageService(name: ServiceName, stage: string): Promise<string> {
  await mkdir(stage, { recursive: true });
  return stageServiceSync(name, stage);
}

/** One built artifact. */
export interface BuiltService {
  name: string;
  file: string;
  sha256: string;
}

/** Service names in build order. */
/** The services this build makes, one artifact each (the plan names them by these). */
const SERVICE_NAMES = ["parser", "mail-api", "ingress"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Builds every service into `outDir` as <name>.tar.gz + <name>.tar.gz.sha256 (+ manifest.json). */
export async function buildServices(outDir = DIST_SERVICES): Promise<BuiltService[]> {
  return buildServicesSync(outDir);
}

/** Where synth and `npm run build:services` put the artifacts. */
export const DIST_SERVICES = join(REPO_ROOT, "dist/services");

/**
 * What the bundles are made of, besides node_modules (pinned by package-lock.json): the
 * services' sources (this build file among them), the TypeScript settings esbuild reads.
 */
const SOURCE_INPUTS = ["services", "package-lock.json", "tsconfig.json"];

function filesBelow(path: string): string[] {
  const abs = join(REPO_ROOT, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs)
    .sort()
    .flatMap((n) => filesBelow(join(path, n)));
}

/** sha256 over the names and bytes of every input file (plus esbuild's version). */
export function serviceSourceHash(): string {
  const h = createHash("sha256");
  h.update(`esbuild ${esbuildVersion()}\0`);
  for (const f of SOURCE_INPUTS.flatMap(filesBelow).filter((f) => !/(^|\/)README\.md$/.test(f))) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(REPO_ROOT, f)));
    h.update("\0");
  }
  return h.digest("hex");
}

function esbuildVersion(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules/esbuild/package.json"), "utf8")) as { version: string }).version;
}

/** dist/services/manifest.json. */
export interface ServicesManifest {
  readonly generator: string;
  readonly sourceHash: string;
  readonly artifacts: Readonly<Record<string, { readonly file: string; readonly sha256: string; readonly bytes: number }>>;
}

const MANIFEST = "manifest.json";

/**
 * Builds every service synchronously. Each file is written under a temp name and renamed into
 * place, the manifest last, so a concurrent reader (parallel test workers) sees whole files;
 * two concurrent builds write identical bytes.
 */
function buildServicesSync(outDir = DIST_SERVICES): BuiltService[] {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const sourceHash = serviceSourceHash();
  const stage = mkdtempSync(join(tmpdir(), "bulwark-build-"));
  const put = (file: string, data: Uint8Array | string) => {
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  };
  try {
    const results: BuiltService[] = [];
    const artifacts: Record<string, { file: string; sha256: string; bytes: number }> = {};
    for (const name of SERVICE_NAMES) {
      stageServiceSync(name, stage);
      const tarFile = join(stage, `${name}.tar`);
      execFileSync("tar", [
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--mode=u=rwX,go=rX",
        "--format=gnu",
        "-cf",
        tarFile,
        "-C",
        stage,
        name,
      ]);
      execFileSync("gzip", ["-n", "-9", "-f", tarFile]);
      const gz = readFileSync(`${tarFile}.gz`);
      const sha256 = createHash("sha256").update(gz).digest("hex");
      const file = join(out, `${name}.tar.gz`);
      put(file, gz);
      put(`${file}.sha256`, `${sha256}  ${name}.tar.gz\n`);
      results.push({ name, file, sha256 });
      artifacts[name] = { file: `${name}.tar.gz`, sha256, bytes: gz.byteLength };
    }
    const manifest: ServicesManifest = {
      generator: "services/build.ts (npm run build:services; synth rebuilds when the sources change)",
      sourceHash,
      artifacts,
    };
    put(join(out, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return results;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * The artifacts for the current sources: reused from `outDir` when its manifest was built from
 * the same inputs and every file still has its recorded sha256, otherwise rebuilt first.
 * Offline and deterministic (the build is byte-reproducible).
 */
export function ensureServiceArtifacts(outDir = DIST_SERVICES): {
  readonly built: boolean;
  readonly artifacts: Readonly<Record<string, { readonly file: string; readonly sha256: string }>>;
} {
  const out = resolve(outDir);
  const sourceHash = serviceSourceHash();
  const cached = readManifest(out);
  if (cached && cached.sourceHash === sourceHash && SERVICE_NAMES.every((n) => fileMatches(join(out, `${n}.tar.gz`), cached.artifacts[n]?.sha256))) {
    return { built: false, artifacts: withPaths(out, cached) };
  }
  buildServicesSync(out);
  const fresh = readManifest(out);
  if (!fresh) throw new Error(`build-services: ${join(out, MANIFEST)} missing right after a build; check that ${out} is writable`);
  return { built: true, artifacts: withPaths(out, fresh) };
}

/** One artifact as synth passes it to the plan (plan/services.ts ServiceArtifactDigests). */
export interface ServiceArtifact {
  /** Path of the built file, relative to the repository root (what the user uploads). */
  readonly file: string;
  readonly sha256: string;
}

/** Every service's artifact for the current sources (`ensureServiceArtifacts`), by service name. */
export function serviceArtifacts(outDir = DIST_SERVICES): Readonly<Record<ServiceName, ServiceArtifact>> {
  const { artifacts } = ensureServiceArtifacts(outDir);
  const pick = (name: ServiceName): ServiceArtifact => {
    const a = artifacts[name];
    if (!a) throw new Error(`services: ${join(resolve(outDir), MANIFEST)} has no ${name} artifact; run npm run build:services`);
    return a;
  };
  return { parser: pick("parser"), "mail-api": pick("mail-api"), ingress: pick("ingress") };
}

function withPaths(out: string, m: ServicesManifest): Record<string, { file: string; sha256: string }> {
  return Object.fromEntries(
    Object.entries(m.artifacts).map(([name, a]) => [name, { file: relative(REPO_ROOT, join(out, a.file)), sha256: a.sha256 }]),
  );
}

function readManifest(out: string): ServicesManifest | null {
  try {
    return JSON.parse(readFileSync(join(out, MANIFEST), "utf8")) as ServicesManifest;
  } catch {
    return null;
  }
}

function fileMatches(file: string, sha256: string | undefined): boolean {
  try {
    return sha256 !== undefined && createHash("sha256").update(readFileSync(file)).digest("hex") === sha256;
  } catch {
    return false;
  }
}
