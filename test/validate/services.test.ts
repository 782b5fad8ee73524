/**
 * The services layer against the real tools.
 *
 * Install script: the rendered script runs for real, fetching from an HTTP server this test
 * starts on 127.0.0.1 (the plan's artifactBaseUrl is overridden the way the lab overrides
 * lb.apiEndpoint; nothing else of the script changes). It runs in a private mount namespace
 * (`unshare -m`) with a temp dir bound over /opt, so it writes its production path
 * /opt/bulwark/<name>/<sha> and the host's /opt is untouched.
 *
 * Units: `systemd-analyze verify` on the rendered units of an app and a parser host, in a mount
 * namespace with the host's rendered /usr/local/sbin bound over the real one (verify checks
 * that every ExecStart binary exists) and SYSTEMD_UNIT_PATH pointing at the host's units (so
 * Requires=/After= resolve). verify exits 0 on unknown keys and bad values (it only warns), so
 * its output must also be empty; a broken unit shows that the check can fail.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../plan/model.ts";
import { buildPlan } from "../../plan/plan.ts";
import { renderHost } from "../../render/host.ts";
import { validateTopology } from "../../topology/load.ts";
import { REPO_ROOT, serviceArtifacts } from "../../services/build.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";
import { haveTool, needRoot } from "../support/tools.ts";

interface Run {
  code: number;
  stderr: string;
}

/** Runs `script` with a temp dir bound over /opt in a private mount namespace (bounded to 60 s). */
function runInstall(script: string, opt: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "unshare",
      ["-m", "sh", "-c", 'mount --bind "$1" /opt && exec "$2"', "sh", opt, script],
      { timeout: 60_000, encoding: "utf8" },
      (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr });
      },
    );
  });
}

const planWithUrl = (plan: Plan, artifactBaseUrl: string): Plan => ({ ...plan, services: { ...plan.services, artifactBaseUrl } });

const canRun =
  haveTool("unshare", "util-linux") &&
  haveTool("curl", "curl") &&
  haveTool("sha256sum", "coreutils") &&
  needRoot("the install script in a mount namespace (unshare -m)");

describe.runIf(canRun)("install script against a local artifact server", () => {
  const tmp = mkdtempSync(join(tmpdir(), "bulwark-install-"));
  const digests = serviceArtifacts();
  const good = readFileSync(join(REPO_ROOT, digests.parser.file));
  /** What the server answers per path: a queue of [status, body], the last one repeating. */
  const answers = new Map<string, [number, Buffer][]>();
  const requests: string[] = [];
  let server: Server;
  let base = "";

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? "");
      const queue = answers.get(req.url ?? "") ?? [[404, Buffer.from("not found\n")]];
      const [status, body] = queue.length > 1 ? queue.shift()! : queue[0]!;
      res.writeHead(status, { "Content-Length": body.byteLength }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The parser-1 install script as rendered for a plan fetching from the test server. */
  function renderedScript(name: string): string {
    const plan = planWithUrl(buildPlan(validateTopology(withInput({})), { artifacts: digests }), base);
    const file = renderHost(plan, plan.hosts.find((h) => h.name === "parser-1")!).files.find(
      (f) => f.path === "/usr/local/sbin/bulwark-install-parser",
    )!;
    const path = join(tmp, name, "bulwark-install-parser");
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content);
    chmodSync(path, 0o755);
    return path;
  }

  const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);

  it(
    "GIVEN the server serves an artifact whose sha256 differs WHEN the " + "install script runs THEN it exits 1, installs nothing and says why",
    async () => {
      const wrong = Buffer.from(good);
      wrong[wrong.length - 100] ^= 0xff;
      answers.set("/parser.tar.gz", [[200, wrong]]);
      const opt = join(tmp, "mismatch-opt");
      mkdirSync(opt);
      const r = await runInstall(renderedScript("mismatch"), opt);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`refusing to install: sha256 mismatch for ${base}parser.tar.gz: expected ${digests.parser.sha256}, got `);
      // Nothing under /opt/bulwark but the (empty) parent directory: no version dir, no temp dir.
      expect(entries(opt)).toEqual(["bulwark", "bulwark/parser"]);
    },
  );

  it(
    "GIVEN the server fails once, then serves the built artifact WHEN the install " +
      "script runs THEN it retries and unpacks it into the versioned directory",
    async () => {
      answers.set("/parser.tar.gz", [
        [503, Buffer.from("busy\n")],
        [200, good],
      ]);
      const before = requests.length;
      const opt = join(tmp, "good-opt");
      mkdirSync(opt);
      const r = await runInstall(renderedScript("good"), opt);
      expect(r.stderr).toMatch(/returned error: 503/);
      expect(r.code).toBe(0);
      expect(requests.length - before).toBe(2);
      const version = digests.parser.sha256.slice(0, 16);
      expect(entries(opt)).toEqual([
        "bulwark",
        "bulwark/parser",
        `bulwark/parser/${version}`,
        ...["parser", "parser/main.mjs", "parser/package.json", "parser/parse-worker.mjs", "parser/worker.js"].map(
          (f) => `bulwark/parser/${version}/${f}`,
        ),
      ]);
      expect(r.stderr).toContain(`installed ${base}parser.tar.gz into /opt/bulwark/parser/${version}`);

      // WHEN it runs again (a reboot) THEN it does not fetch again.
      const again = await runInstall(renderedScript("good"), opt);
      expect(again.code).toBe(0);
      expect(requests.length - before).toBe(2);
    },
  );
});

const canVerify =
  haveTool("systemd-analyze", "systemd") && haveTool("unshare", "util-linux") && needRoot("systemd-analyze verify in a mount namespace");

describe.runIf(canVerify)("systemd-analyze verify", () => {
  const tmp = mkdtempSync(join(tmpdir(), "bulwark-units-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const plan = buildPlan(validateTopology(withInput({})), TEST_PLAN_INPUTS);

  /** Writes the host's units and /usr/local/sbin; returns their dirs. */
  function hostTree(name: string): { units: string; sbin: string } {
    const r = renderHost(plan, plan.hosts.find((h) => h.name === name)!);
    const units = join(tmp, name, "units");
    const sbin = join(tmp, name, "sbin");
    mkdirSync(units, { recursive: true });
    mkdirSync(sbin, { recursive: true });
    for (const f of r.files) {
      if (f.path.startsWith("/etc/systemd/system/") && !f.path.slice(20).includes("/")) writeFileSync(join(units, f.path.slice(20)), f.content);
      if (f.path.startsWith("/usr/local/sbin/")) {
        writeFileSync(join(sbin, f.path.slice(16)), f.content);
        chmodSync(join(sbin, f.path.slice(16)), 0o755);
      }
    }
    return { units, sbin };
  }

  function verify(tree: { units: string; sbin: string }, unitFiles: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
      execFile(
        "unshare",
        [
          "-m",
          "sh",
          "-c",
          'mount --bind "$1" /usr/local/sbin && shift && exec systemd-analyze verify --man=no "$@"',
          "sh",
          tree.sbin,
          ...unitFiles.map((u) => join(tree.units, u)),
        ],
        { timeout: 60_000, encoding: "utf8", env: { ...process.env, SYSTEMD_UNIT_PATH: `${tree.units}:`, SYSTEMD_LOG_COLOR: "0" } },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, output: `${stdout}${stderr}` }),
      );
    });
  }

  it.each([
    ["app-1", "bulwark-mail-api"],
    ["parser-1", "bulwark-parser"],
  ])("GIVEN %s WHEN its service units are verified THEN systemd finds nothing", async (host, unit) => {
    const r = await verify(hostTree(host), [`${unit}.service`, `${unit}-install.service`]);
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });

  it("GIVEN a unit with a misspelt key and a bad Restart= value WHEN verified THEN systemd reports both", async () => {
    const tree = hostTree("parser-1");
    const path = join(tree.units, "bulwark-parser.service");
    writeFileSync(
      path,
      readFileSync(path, "utf8").replace("NoNewPrivileges=yes", "NoNewPrivilege=yes").replace("Restart=always", "Restart=sometimes"),
    );
    const r = await verify(tree, ["bulwark-parser.service"]);
    expect(r.output).toContain("Unknown key 'NoNewPrivilege'");
    expect(r.output).toContain("restart specifier, ignoring: sometimes");
  });
});
