/**
 * The storage layer's real-tool checks: the brick script run against loop devices (a blank one,
 * the same one again, one holding ext4, none) in a private mount namespace, and the mount unit's
 * name against systemd-escape. The script is the rendered one; the test changes only its device
 * prefix (a directory of symlinks to the loop devices, as udev makes /dev/disk/by-id on Hetzner)
 * and, for the missing-device case, its wait.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { renderHost } from "../../render/host.ts";
import { mountUnitName } from "../../render/storage-client.ts";
import { HETZNER_VOLUME_DEVICE_PREFIX, STORAGE_SERVER_PATHS } from "../../render/storage-server.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";
import { haveTool, needRoot } from "../support/tools.ts";

const plan = buildPlan(validateTopology(withInput({})), TEST_PLAN_INPUTS);
const storage2 = renderHost(plan, plan.hosts.find((h) => h.name === "storage-2")!);
const prepareScript = storage2.files.find((f) => f.path === STORAGE_SERVER_PATHS.prepareScript)!.content;

function run(command: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe.runIf(haveTool("systemd-escape", "systemd"))("mount unit name", () => {
  it.each([plan.storage.client.mountPoint, "/srv/my-share", "/mnt/a.b/.c/", "/.hidden/x", "/srv/ü x"])(
    "GIVEN %s WHEN named THEN it is what systemd-escape --path says",
    (path) => {
      expect(mountUnitName(path)).toBe(run("systemd-escape", ["--path", "--suffix=mount", path]).output.trim());
    },
  );
});

/**
 * The rendered bootstrap against a scripted `gluster` (first on PATH): this host sees both peers
 * connected at once, but storage-2's glusterd sees storage-3 only from its third answer on, as
 * the lab once caught it. The create must wait for that; every call is recorded.
 */
describe("bootstrap against a scripted gluster", () => {
  const storage1 = renderHost(plan, plan.hosts.find((h) => h.name === "storage-1")!);
  const script = storage1.files.find((f) => f.path === STORAGE_SERVER_PATHS.bootstrapScript)!.content;
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bootstrap-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fake = `#!/bin/sh
echo "$*" >> "${dir}/calls"
shift
remote=""
case "$1" in --remote-host=*) remote=\${1#--remote-host=}; shift ;; esac
connected() { echo "Hostname: $1"; echo "State: Peer in Cluster (Connected)"; }
case "$1 $2" in
  "pool list"|"peer probe"|"volume set"|"volume start") exit 0 ;;
  "volume create") touch "${dir}/created"; exit 0 ;;
  "volume info") [ -f "${dir}/created" ] || exit 1; echo "Status: Started"; exit 0 ;;
  "peer status")
    echo "Number of Peers: 2"
    if [ "$remote" = 10.0.1.21 ]; then
      n=$(cat "${dir}/views" 2>/dev/null || echo 0); echo $((n + 1)) > "${dir}/views"
      connected 10.0.1.20
      if [ "$n" -lt 2 ]; then echo "Hostname: 10.0.1.22"; echo "State: Peer in Cluster (Disconnected)"; else connected 10.0.1.22; fi
    elif [ -n "$remote" ]; then connected 10.0.1.20; connected 10.0.1.21
    else connected 10.0.1.21; connected 10.0.1.22
    fi
    exit 0 ;;
esac
echo "scripted gluster: unexpected call: $*" >&2
exit 9
`;
  it("GIVEN a peer that does not yet see another peer WHEN the bootstrap runs THEN it creates the volume only after that peer sees both", () => {
    writeFileSync(join(dir, "gluster"), fake, { mode: 0o755 });
    writeFileSync(join(dir, "bootstrap"), script, { mode: 0o755 });
    const r = spawnSync("sh", [join(dir, "bootstrap")], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe("changed=1");
    const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
    const create = calls.findIndex((c) => c.includes("volume create shared"));
    const views = calls
      .map((c, i) => [c, i] as const)
      .filter(([c]) => c === "--mode=script --remote-host=10.0.1.21 peer status")
      .map(([, i]) => i);
    expect(views.length).toBe(3);
    expect(create).toBeGreaterThan(views[2]!);
    expect(calls).toContain("--mode=script --remote-host=10.0.1.22 peer status");
  }, 60_000);
});

const tools =
  haveTool("losetup", "mount") &&
  haveTool("mkfs.xfs", "xfsprogs") &&
  haveTool("mkfs.ext4", "e2fsprogs") &&
  haveTool("unshare", "util-linux") &&
  haveTool("blkid", "util-linux");
describe.runIf(tools && needRoot("the brick script against loop devices"))("brick script against loop devices", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-brick-"));
  const loops: string[] = [];
  afterAll(() => {
    for (const l of loops) spawnSync("losetup", ["-d", l]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A 320 MB sparse image on a loop device (XFS needs 300 MB), with `mkfs` run on it if given. */
  function loopDevice(name: string, mkfs?: string[]): string {
    const image = join(dir, `${name}.img`);
    writeFileSync(image, "");
    spawnSync("truncate", ["-s", "320M", image]);
    const dev = run("losetup", ["-f", "--show", image]).output.trim();
    expect(dev).toMatch(/^\/dev\/loop\d+$/);
    loops.push(dev);
    if (mkfs) expect(run(mkfs[0]!, [...mkfs.slice(1), dev]).status).toBe(0);
    return dev;
  }

  /** The rendered script, in a private mount namespace with /srv and /etc/fstab of its own. */
  function prepare(byId: string, fstab: string, after = "", waitS?: number): { status: number | null; output: string } {
    let script = prepareScript.replace(`device_prefix="${HETZNER_VOLUME_DEVICE_PREFIX}"`, `device_prefix="${byId}/scsi-0HC_Volume_"`);
    if (waitS !== undefined) script = script.replace(/^wait_s=\d+$/m, `wait_s=${waitS}`);
    expect(script).not.toBe(prepareScript);
    const path = join(dir, `prepare-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(path, script);
    return run("unshare", [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      `set -e; mount -t tmpfs tmpfs /srv; mount --bind '${fstab}' /etc/fstab; rc=0; sh '${path}' || rc=$?; ${after} exit $rc`,
    ]);
  }

  function byIdDir(name: string, dev?: string): string {
    const d = join(dir, name);
    mkdirSync(d);
    if (dev) symlinkSync(dev, join(d, "scsi-0HC_Volume_4242"));
    return d;
  }

  it(
    "GIVEN a blank volume WHEN the brick script runs twice THEN the first run makes XFS " +
      "and mounts it by id with nofail, and the second keeps the filesystem and its data",
    () => {
      const dev = loopDevice("blank");
      const byId = byIdDir("by-id-blank", dev);
      const fstab = join(dir, "fstab-blank");
      writeFileSync(fstab, "# test fstab\n");
      const first = prepare(
        byId,
        fstab,
        "test -d /srv/gluster/brick/data && echo marker > /srv/gluster/brick/data/marker && findmnt -n -o FSTYPE /srv/gluster/brick;",
      );
      expect(first.output).toContain("is blank: making an xfs filesystem");
      expect(first.output).toMatch(/^xfs$/m);
      expect(first.status).toBe(0);
      const uuid = run("blkid", ["-p", "-o", "value", "-s", "UUID", dev]).output.trim();
      expect(readFileSync(fstab, "utf8")).toBe(
        `# test fstab\n${byId}/scsi-0HC_Volume_4242 /srv/gluster/brick xfs noatime,nofail,x-systemd.device-timeout=2min 0 2\n`,
      );

      const second = prepare(byId, fstab, "cat /srv/gluster/brick/data/marker;");
      expect(second.output).toContain("holds an xfs filesystem: kept as it is");
      expect(second.output).toMatch(/^marker$/m);
      expect(second.status).toBe(0);
      expect(run("blkid", ["-p", "-o", "value", "-s", "UUID", dev]).output.trim()).toBe(uuid);
      expect(readFileSync(fstab, "utf8").match(/\/srv\/gluster\/brick/g)).toHaveLength(1);
    },
  );

  it("GIVEN a volume holding ext4 WHEN the brick script runs THEN it refuses with exit 3 and the ext4 filesystem is untouched", () => {
    const dev = loopDevice("ext4", ["mkfs.ext4", "-q", "-F"]);
    const fstab = join(dir, "fstab-ext4");
    writeFileSync(fstab, "");
    const r = prepare(byIdDir("by-id-ext4", dev), fstab);
    expect(r.output).toContain("holds 'ext4', not xfs; Bulwark never reformats a volume");
    expect(r.status).toBe(3);
    expect(run("blkid", ["-p", "-o", "value", "-s", "TYPE", dev]).output.trim()).toBe("ext4");
    expect(readFileSync(fstab, "utf8")).toBe("");
  });

  it(
    "GIVEN no volume attached WHEN the brick script runs THEN it gives up " +
      "after its wait with exit 1 and makes no brick directory on the root disk",
    () => {
      const fstab = join(dir, "fstab-none");
      writeFileSync(fstab, "");
      const r = prepare(byIdDir("by-id-none"), fstab, "test ! -e /srv/gluster/brick/data && echo no-brick-dir;", 2);
      expect(r.output).toContain("after 2 s: is the brick volume attached?");
      expect(r.output).toMatch(/^no-brick-dir$/m);
      expect(r.status).toBe(1);
    },
  );
});
