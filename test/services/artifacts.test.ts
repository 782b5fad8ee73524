/**
 * How synth gets the artifacts' sha256 (services/build.ts ensureServiceArtifacts): the
 * build in the output dir is reused while its manifest matches the sources and every file still
 * has its recorded sha256; anything else rebuilds, and the rebuild gives the same bytes.
 * `prepare` gets them before planning (or takes them from its caller) and the plan carries them.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureServiceArtifacts, serviceArtifacts, serviceSourceHash, type ServicesManifest } from "../../services/build.ts";
import { prepare } from "../../synth/pipeline.ts";
import { TEST_PLAN_INPUTS } from "../support/fixtures.ts";
import { tempDir } from "./helpers.ts";

const sha = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

describe("service artifacts for synth", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await tempDir("artifacts")));
  afterAll(async () => cleanup?.());

  it(
    "GIVEN an empty output dir WHEN artifacts are needed twice THEN the " + "first call builds, the second reuses, with the sha256 of the files",
    async () => {
      const first = ensureServiceArtifacts(dir);
      const second = ensureServiceArtifacts(dir);
      expect([first.built, second.built]).toEqual([true, false]);
      expect(second.artifacts).toEqual(first.artifacts);
      expect(first.artifacts["parser"]!.sha256).toBe(await sha(join(dir, "parser.tar.gz")));
      expect(first.artifacts["mail-api"]!.sha256).toBe(await sha(join(dir, "mail-api.tar.gz")));
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ServicesManifest;
      expect(manifest.sourceHash).toBe(serviceSourceHash());
    },
  );

  it("GIVEN a tampered artifact WHEN artifacts are needed THEN it is rebuilt to the recorded bytes", async () => {
    const before = ensureServiceArtifacts(dir).artifacts;
    await writeFile(join(dir, "parser.tar.gz"), "not the artifact\n");
    const after = ensureServiceArtifacts(dir);
    expect(after.built).toBe(true);
    expect(after.artifacts).toEqual(before);
    expect(await sha(join(dir, "parser.tar.gz"))).toBe(before["parser"]!.sha256);
  });

  it(
    "GIVEN a manifest built from other sources WHEN artifacts are needed " + "THEN they are rebuilt and the manifest records the current sources",
    async () => {
      const path = join(dir, "manifest.json");
      const manifest = JSON.parse(await readFile(path, "utf8")) as ServicesManifest;
      await writeFile(path, JSON.stringify({ ...manifest, sourceHash: "0".repeat(64) }));
      expect(ensureServiceArtifacts(dir).built).toBe(true);
      expect((JSON.parse(await readFile(path, "utf8")) as ServicesManifest).sourceHash).toBe(serviceSourceHash());
    },
  );
});

describe("artifacts into the plan", () => {
  const installScript = (p: ReturnType<typeof prepare>) =>
    p.rendered.find((r) => r.host.name === "parser-1")!.files.find((f) => f.path === "/usr/local/sbin/bulwark-install-parser")!.content;

  it("GIVEN no artifacts WHEN prepared THEN the plan carries the sha256 of the build in dist/services/ and the install scripts check it", () => {
    const p = prepare({ kind: "seed" });
    const built = serviceArtifacts();
    expect(p.plan.services.artifacts.parser.sha256).toBe(built.parser.sha256);
    expect(p.plan.services.artifacts["mail-api"].sha256).toBe(built["mail-api"].sha256);
    expect(installScript(p)).toContain(`sha="${built.parser.sha256}"\n`);
  });

  it("GIVEN fixed artifacts WHEN prepared THEN the plan and the rendered hosts carry exactly those", () => {
    const p = prepare({ kind: "seed" }, { artifacts: TEST_PLAN_INPUTS.artifacts });
    expect(p.plan.services.artifacts.parser.sha256).toBe("a".repeat(64));
    expect(p.plan.services.artifacts["mail-api"].sha256).toBe("b".repeat(64));
    expect(installScript(p)).toContain(`sha="${"a".repeat(64)}"\n`);
  });
});
