import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServices, type BuiltService } from "../../services/build.ts";
import { TRIGGER_HEADER } from "../../measure/poison-triggers.ts";
import { buildWorkers, tempDir } from "./helpers.ts";

const run = promisify(execFile);

describe("build-services: deterministic artifacts free of test triggers", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let first: BuiltService[];
  let second: BuiltService[];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("build"));
    first = await buildServices(join(dir, "a"));
    second = await buildServices(join(dir, "b"));
  });
  afterAll(async () => cleanup?.());

  it("GIVEN the same sources WHEN built twice into different dirs THEN each artifact has the same sha256", () => {
    expect(first.map((s) => s.name)).toEqual(["parser", "mail-api", "ingress"]);
    expect(second.map((s) => s.sha256)).toEqual(first.map((s) => s.sha256));
    for (const s of first) expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("GIVEN a built artifact WHEN its .sha256 file and bytes are checked THEN they agree (sha256sum -c passes)", async () => {
    for (const s of first) {
      const line = await readFile(`${s.file}.sha256`, "utf8");
      expect(line).toBe(`${s.sha256}  ${s.name}.tar.gz\n`);
      const { stdout } = await run("sha256sum", ["-c", `${s.name}.tar.gz.sha256`], { cwd: join(dir, "a") });
      expect(stdout.trim()).toBe(`${s.name}.tar.gz: OK`);
    }
  });

  it("GIVEN the parser tarball WHEN listed THEN it holds the entry, the parse worker and piscina's bootstrap with zeroed metadata", async () => {
    const { stdout } = await run("tar", ["tzvf", first[0]!.file]);
    const rows = stdout.trim().split("\n");
    expect(rows.map((r) => r.split(/\s+/).pop())).toEqual([
      "parser/",
      "parser/main.mjs",
      "parser/package.json",
      "parser/parse-worker.mjs",
      "parser/worker.js",
    ]);
    for (const r of rows) expect(r).toMatch(/ 0\/0 .* 1970-01-01 00:00 /);
  });

  it(
    "GIVEN the production bundles WHEN grepped for the test trigger " + "marker THEN it is absent, while the test worker bundle does contain it",
    async () => {
      await run("tar", ["xzf", first[0]!.file, "-C", dir]);
      await run("tar", ["xzf", first[1]!.file, "-C", dir]);
      for (const f of ["parser/main.mjs", "parser/parse-worker.mjs", "parser/worker.js", "mail-api/main.mjs"]) {
        const text = await readFile(join(dir, f), "utf8");
        expect(text.length).toBeGreaterThan(1000);
        expect(text.includes(TRIGGER_HEADER)).toBe(false);
        expect(text.includes("trigger-worker")).toBe(false);
      }
      const { triggerWorker } = await buildWorkers(join(dir, "tw"));
      expect((await readFile(triggerWorker, "utf8")).includes(TRIGGER_HEADER)).toBe(true);
    },
  );
});
