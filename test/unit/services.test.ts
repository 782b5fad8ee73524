import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildPlan } from "../../plan/plan.ts";
import { PARSER_THREADS_BY_SERVER_TYPE } from "../../plan/services.ts";
import { renderHost } from "../../render/host.ts";
import { LAYERS } from "../../render/layers.ts";
import { servicesLayer } from "../../render/services.ts";
import { CURRENT_SERVER_TYPES } from "../../topology/model.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);
const hostFiles = (patch: Record<string, unknown>, name: string) => {
  const plan = planOf(patch);
  const r = renderHost(plan, plan.hosts.find((h) => h.name === name)!);
  return { plan, r, file: (path: string) => r.files.find((f) => f.path === path)?.content ?? "" };
};
const lines = (text: string, key: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

describe("services plan", () => {
  it("GIVEN Hetzner's current server types WHEN the thread table is read THEN every type has its vCPU count", () => {
    expect(Object.keys(PARSER_THREADS_BY_SERVER_TYPE).sort()).toEqual([...CURRENT_SERVER_TYPES].sort());
    expect(PARSER_THREADS_BY_SERVER_TYPE).toEqual({
      cx23: 2,
      cx33: 4,
      cx43: 8,
      cx53: 16,
      cpx22: 2,
      cpx32: 4,
      cpx42: 8,
      cpx52: 12,
      cpx62: 16,
      cax11: 2,
      cax21: 4,
      cax31: 8,
      cax41: 16,
      ccx13: 2,
      ccx23: 4,
      ccx33: 8,
      ccx43: 16,
      ccx53: 32,
      ccx63: 48,
    });
  });

  it("GIVEN parser hosts of type cpx52 WHEN planned THEN each runs 12 parse threads and the unit sets PARSER_THREADS=12", () => {
    const { plan, file } = hostFiles({ roles: { parser: { serverType: "cpx52" } } }, "parser-2");
    expect(plan.services.hosts["parser-1"]).toMatchObject({ service: "parser", threads: 12 });
    expect(file("/etc/systemd/system/bulwark-parser.service")).toMatch(/^Environment=.* PARSER_THREADS=12 PARSER_HOST_ID=parser-2 /m);
  });

  it("GIVEN the seed WHEN planned THEN each app host's mail API listens where haproxy sends traffic", () => {
    const plan = planOf();
    for (const b of plan.lb.backends)
      expect(plan.services.hosts[b.name]).toMatchObject({ service: "mail-api", listenHost: b.address, listenPort: b.port });
    expect(Object.keys(plan.services.hosts)).toEqual(["app-1", "app-2", "parser-1", "parser-2"]);
  });

  it("GIVEN the artifacts' sha256 as plan input WHEN planned THEN each artifact carries its own, and a malformed one is refused", () => {
    const plan = planOf();
    expect(plan.services.artifacts.parser).toMatchObject({ file: "parser.tar.gz", sha256: "a".repeat(64) });
    expect(plan.services.artifacts["mail-api"]).toMatchObject({ file: "mail-api.tar.gz", sha256: "b".repeat(64) });
    const topology = validateTopology(withInput({}));
    const artifacts = { ...TEST_PLAN_INPUTS.artifacts, parser: { sha256: "A".repeat(64) } };
    expect(() => buildPlan(topology, { artifacts })).toThrow(
      /^plan\/services: the parser artifact's sha256 must be 64 lowercase hex digits, got "A{64}"/,
    );
  });
});

describe("services layer", () => {
  it("GIVEN the components WHEN layers are listed THEN only app and parser hosts get the services layer", () => {
    for (const [component, layers] of Object.entries(LAYERS))
      expect(layers.includes(servicesLayer), component).toBe(component === "app" || component === "parser");
  });

  it(
    "GIVEN a parser host WHEN rendered THEN its unit restarts always, runs " +
      "as its own user, is hardened and may write only the spool and the store",
    () => {
      const { file } = hostFiles({}, "parser-1");
      const unit = file("/etc/systemd/system/bulwark-parser.service");
      expect(lines(unit, "Restart")).toEqual(["always"]);
      expect(lines(unit, "StartLimitIntervalSec")).toEqual(["0"]);
      expect(lines(unit, "User")).toEqual(["bulwark-parser"]);
      expect(lines(unit, "NoNewPrivileges")).toEqual(["yes"]);
      expect(lines(unit, "ProtectSystem")).toEqual(["strict"]);
      expect(lines(unit, "ReadWritePaths")).toEqual(["-/srv/shared/spool -/srv/shared/store"]);
      expect(lines(unit, "CapabilityBoundingSet")).toEqual([""]);
      expect(lines(unit, "EnvironmentFile")).toEqual(["/etc/bulwark/mongo.env"]);
      expect(lines(unit, "Requires")).toEqual(["bulwark-parser-install.service"]);
      expect(lines(unit, "After")).toEqual(["bulwark-parser-install.service srv-shared.mount mongos.service"]);
      expect(lines(unit, "ExecStartPre")[0]).toBe("+/usr/bin/mountpoint -q /srv/shared");
      expect(file("/etc/sysusers.d/bulwark-parser.conf")).toContain('u bulwark-parser 2101:2101 "Bulwark parser" /nonexistent /usr/sbin/nologin\n');
    },
  );

  it("GIVEN an app host WHEN rendered THEN the mail API has no writable path, waits for its private address and reads Mongo from mongo.env", () => {
    const { file } = hostFiles({}, "app-2");
    const unit = file("/etc/systemd/system/bulwark-mail-api.service");
    expect(lines(unit, "ReadWritePaths")).toEqual([]);
    expect(lines(unit, "ProtectSystem")).toEqual(["strict"]);
    expect(lines(unit, "ExecStartPre")).toContain("+/usr/local/sbin/bulwark-wait-private-ip");
    expect(lines(unit, "Environment")[0]).toContain(
      "MAILAPI_STORE_KIND=mongo MAILAPI_STORE_DIR=/srv/shared/store MAILAPI_STATIC_DIR=/srv/shared/static " +
        "MAILAPI_LISTEN_HOST=10.0.1.101 MAILAPI_LISTEN_PORT=8080 MAILAPI_HOST_NAME=app-2",
    );
    expect(lines(unit, "EnvironmentFile")).toEqual(["/etc/bulwark/mongo.env"]);
  });

  it(
    "GIVEN an app host WHEN rendered THEN the API token is a root-only " + "file holding only the deploy-time marker, handed over by LoadCredential",
    () => {
      const { r, file } = hostFiles({}, "app-1");
      const unit = file("/etc/systemd/system/bulwark-mail-api.service");
      expect(lines(unit, "LoadCredential")).toEqual(["api-token:/etc/bulwark/mail-api-token"]);
      const token = r.files.find((f) => f.path === "/etc/bulwark/mail-api-token")!;
      expect(token).toEqual({
        path: "/etc/bulwark/mail-api-token",
        content: "@@deploy:mail_api_token@@\n",
        permissions: "0600",
        owner: "root:root",
        action: { kind: "restart", unit: "bulwark-mail-api.service" },
      });
      const parser = hostFiles({}, "parser-1");
      expect(lines(parser.file("/etc/systemd/system/bulwark-parser.service"), "LoadCredential")).toEqual([]);
      expect(parser.r.files.some((f) => f.content.includes("mail_api_token"))).toBe(false);
    },
  );

  it(
    "GIVEN a topology's artifact URL WHEN rendered THEN the install script " + "fetches <url><name>.tar.gz and checks the sha256 the plan carries",
    () => {
      const { file } = hostFiles({ services: { artifactBaseUrl: "https://dl.example.com/bulwark/" } }, "parser-1");
      const sha256 = TEST_PLAN_INPUTS.artifacts.parser.sha256;
      const script = file("/usr/local/sbin/bulwark-install-parser");
      expect(script.startsWith("#!/bin/sh\n")).toBe(true);
      expect(script).toContain('url="https://dl.example.com/bulwark/parser.tar.gz"\n');
      expect(script).toContain(`sha="${sha256}"\n`);
      expect(script).toContain(`dest="/opt/bulwark/parser/${sha256.slice(0, 16)}"\n`);
      expect(lines(file("/etc/systemd/system/bulwark-parser.service"), "ExecStart")).toEqual([
        `/usr/bin/node /opt/bulwark/parser/${sha256.slice(0, 16)}/parser/main.mjs`,
      ]);
    },
  );

  it("GIVEN the install unit WHEN rendered THEN it is a oneshot running the install script, with a time limit covering every attempt", () => {
    const unit = hostFiles({}, "app-1").file("/etc/systemd/system/bulwark-mail-api-install.service");
    expect(lines(unit, "Type")).toEqual(["oneshot"]);
    expect(lines(unit, "RemainAfterExit")).toEqual(["yes"]);
    expect(lines(unit, "ExecStart")).toEqual(["/usr/local/sbin/bulwark-install-mail-api"]);
    // 5 x (10 s connect + 300 s transfer) + 2+4+8+16 s of backoff + 60 s.
    expect(lines(unit, "TimeoutStartSec")).toEqual(["1640"]);
  });

  it("GIVEN a parser host WHEN rendered THEN runcmd creates the user, reloads systemd and starts the service without blocking cloud-init", () => {
    const { r } = hostFiles({}, "parser-1");
    const doc = parse(r.userData) as { runcmd: string[][]; packages: string[] };
    const at = doc.runcmd.findIndex((c) => c[0] === "systemd-sysusers");
    expect(doc.runcmd.slice(at, at + 3)).toEqual([
      ["systemd-sysusers", "/etc/sysusers.d/bulwark-parser.conf"],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "--no-block", "bulwark-parser.service"],
    ]);
    expect(doc.packages).toEqual(expect.arrayContaining(["nodejs", "curl"]));
  });
});

describe("render stage purity", () => {
  it("GIVEN render/ WHEN its imports are read THEN nothing there builds, spawns or writes (the artifacts' sha256 come in through the plan)", () => {
    const dir = join(import.meta.dirname, "..", "..", "render");
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(join(dir, name), "utf8");
      expect(source, name).not.toMatch(/from "(node:)?child_process"|from "esbuild"|services\/build\.ts|services-artifacts/);
      expect(source, name).not.toMatch(/\b(writeFileSync|writeFile|mkdirSync|rmSync|renameSync|appendFileSync)\b/);
    }
  });
});
