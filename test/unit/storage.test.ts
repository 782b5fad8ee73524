/** The storage plan and layers: the GlusterFS servers, the bootstrap and the clients' mount. */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { PING_TIMEOUT_S, TCP_USER_TIMEOUT_S } from "../../plan/storage.ts";
import { renderHost } from "../../render/host.ts";
import { clientVolfile, mountUnitName, STORAGE_CLIENT_PATHS } from "../../render/storage-client.ts";
import { STORAGE_SERVER_PATHS } from "../../render/storage-server.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const ARBITER = { roles: { storage: { replica: 2, arbiter: true } } };
const SIX = { roles: { storage: { count: 6 } } };

function setup(patch: Record<string, unknown> = {}) {
  const plan = buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);
  const host = (name: string) => {
    const r = renderHost(plan, plan.hosts.find((h) => h.name === name)!);
    return { r, content: (path: string) => r.files.find((f) => f.path === path)?.content, paths: r.files.map((f) => f.path) };
  };
  return { plan, storage: plan.storage, host };
}

describe("storage plan", () => {
  it("GIVEN the seed WHEN planned THEN the volume has 3 bricks in server order on the brick directory, bootstrapped from storage-1", () => {
    const { storage } = setup();
    expect(storage.volume).toBe("shared");
    expect(storage.bricks.map((b) => b.spec)).toEqual([
      "10.0.1.20:/srv/gluster/brick/data",
      "10.0.1.21:/srv/gluster/brick/data",
      "10.0.1.22:/srv/gluster/brick/data",
    ]);
    expect(storage.bricks.map((b) => b.arbiter)).toEqual([false, false, false]);
    expect(storage.createArgs).toEqual(["replica", "3"]);
    expect(storage.bootstrap).toEqual({ host: "storage-1", address: "10.0.1.20" });
    expect(storage.volfileServers).toEqual(["10.0.1.20", "10.0.1.21", "10.0.1.22"]);
    expect(storage.brickDir.startsWith(`${storage.brickMountPoint}/`)).toBe(true);
  });

  it("GIVEN replica 2 + arbiter WHEN planned THEN the third brick of the set is the arbiter and create says `replica 3 arbiter 1`", () => {
    const { storage } = setup(ARBITER);
    expect(storage.bricks.map((b) => b.arbiter)).toEqual([false, false, true]);
    expect(storage.createArgs).toEqual(["replica", "3", "arbiter", "1"]);
  });

  it("GIVEN 6 servers WHEN planned THEN the bricks form 2 replica sets of 3 in host order", () => {
    const { storage } = setup(SIX);
    expect(storage.replicaSets).toBe(2);
    expect(storage.bricks.map((b) => `${b.host}:${b.set}`)).toEqual([
      "storage-1:0",
      "storage-2:0",
      "storage-3:0",
      "storage-4:1",
      "storage-5:1",
      "storage-6:1",
    ]);
  });

  it(
    "GIVEN the seed WHEN planned THEN the options are client and server " +
      "quorum, a 5 s ping-timeout and auth.allow of the app and parser hosts only",
    () => {
      const { storage, plan } = setup();
      const options = Object.fromEntries(storage.options.map((o) => [o.key, o.value]));
      const clientIps = plan.hosts.filter((h) => h.role === "app" || h.role === "parser").map((h) => h.privateIp);
      expect(options).toEqual({
        "cluster.quorum-type": "auto",
        "cluster.server-quorum-type": "none",
        "network.ping-timeout": "5",
        "client.tcp-user-timeout": "3",
        "auth.allow": clientIps.join(","),
      });
      expect(storage.allowedClients).toEqual(["10.0.1.100", "10.0.1.101", "10.0.1.175", "10.0.1.176"]);
      for (const o of storage.options) expect(o.why.length).toBeGreaterThan(20);
    },
  );

  it("GIVEN the ping-timeout WHEN compared with the budget THEN twice it (the measured worst stall) stays under the 10 s host-loss budget", () => {
    expect(PING_TIMEOUT_S * 2).toBeLessThanOrEqual(10);
    expect(PING_TIMEOUT_S).toBeLessThan(42);
  });

  it(
    "GIVEN the TCP user timeout WHEN compared THEN an unreachable server is given " +
      "up inside the 5 s mount budget, before the ping-timeout and AFR's 10 s wait",
    () => {
      expect(TCP_USER_TIMEOUT_S).toBeLessThan(5);
      expect(TCP_USER_TIMEOUT_S).toBeLessThan(PING_TIMEOUT_S);
    },
  );
});

describe("storage server layer", () => {
  it(
    "GIVEN the seed WHEN storage-1 and storage-2 are rendered THEN only " +
      "storage-1 gets the bootstrap, both the brick mount and the glusterd drop-in",
    () => {
      const { host } = setup();
      const one = host("storage-1");
      const two = host("storage-2");
      for (const h of [one, two]) {
        expect(h.paths).toEqual(
          expect.arrayContaining([STORAGE_SERVER_PATHS.prepareScript, STORAGE_SERVER_PATHS.brickService, STORAGE_SERVER_PATHS.glusterdDropin]),
        );
      }
      expect(one.paths).toContain(STORAGE_SERVER_PATHS.bootstrapScript);
      expect(two.paths).not.toContain(STORAGE_SERVER_PATHS.bootstrapScript);
      expect(one.r.cloudConfig.runcmd.slice(-2)).toEqual([
        ["systemctl", "enable", "bulwark-gluster-bootstrap.service"],
        ["systemctl", "start", "--no-block", "bulwark-gluster-bootstrap.service"],
      ]);
      expect(two.r.cloudConfig.runcmd).toContainEqual(["systemctl", "enable", "--now", "bulwark-brick.service"]);
      expect(two.r.cloudConfig.runcmd).toContainEqual(["systemctl", "restart", "glusterd.service"]);
    },
  );

  it(
    "GIVEN the seed WHEN the brick script is rendered THEN it finds the Hetzner " +
      "volume by id, mounts it with nofail and formats only a blank device, without -f",
    () => {
      const script = setup().host("storage-2").content(STORAGE_SERVER_PATHS.prepareScript)!;
      expect(script).toContain('device_prefix="/dev/disk/by-id/scsi-0HC_Volume_"');
      expect(script).toContain('fstab_options="noatime,nofail,x-systemd.device-timeout=2min"');
      expect(script).toMatch(/ {4}2\)\n.*\n\s+mkfs\.xfs -q -i size=512 "\$\{device\}"\n/);
      expect(script).not.toMatch(/mkfs\.xfs[^\n]* -f/);
      expect(script.indexOf('if ! mountpoint -q "${mount_point}"; then')).toBeLessThan(script.indexOf('mkdir -p "${brick_dir}"'));
    },
  );

  it(
    "GIVEN the seed WHEN the bootstrap is rendered THEN it waits until every host sees " +
      "every peer in 'Peer in Cluster' before it creates the volume, from the planned bricks",
    () => {
      const script = setup().host("storage-1").content(STORAGE_SERVER_PATHS.bootstrapScript)!;
      const wait = script.indexOf("wait_until \"every host to see every peer in 'Peer in Cluster (Connected)'\" all_peers_in_cluster");
      expect(script).toContain(
        'n=$(g --remote-host="$1" peer status | grep -c \'^State: Peer in Cluster (Connected)$\') || return 1\n  [ "${n}" -eq 2 ]\n',
      );
      const create = script.indexOf('g volume create "${volume}" "$@"');
      expect(wait).toBeGreaterThan(0);
      expect(create).toBeGreaterThan(wait);
      expect(script).toContain("  for peer in 10.0.1.21 10.0.1.22 ; do\n");
      expect(script).toContain(
        "set -- replica 3 10.0.1.20:/srv/gluster/brick/data 10.0.1.21:/srv/gluster/brick/data 10.0.1.22:/srv/gluster/brick/data \n",
      );
      expect(script).toContain('ensure_option "network.ping-timeout" "5"\n');
      expect(script).toContain('ensure_option "auth.allow" "10.0.1.100,10.0.1.101,10.0.1.175,10.0.1.176"\n');
      expect(script).toContain("wait_s=600\ninterval_s=2\n");
      expect(script.trimEnd().endsWith('echo "changed=${changed}"')).toBe(true);
    },
  );

  it("GIVEN replica 2 + arbiter WHEN the bootstrap is rendered THEN create says replica 3 arbiter 1", () => {
    const script = setup(ARBITER).host("storage-1").content(STORAGE_SERVER_PATHS.bootstrapScript)!;
    expect(script).toContain("set -- replica 3 arbiter 1 10.0.1.20:");
  });

  it("GIVEN the seed WHEN the bootstrap unit is rendered THEN it needs glusterd, is retried with bounds and does not retry exit 3", () => {
    const unit = setup().host("storage-1").content(STORAGE_SERVER_PATHS.bootstrapService)!;
    expect(unit).toContain("After=network-online.target glusterd.service\nRequires=glusterd.service\nStartLimitIntervalSec=1h\nStartLimitBurst=5\n");
    expect(unit).toContain("Restart=on-failure\nRestartSec=30s\nRestartPreventExitStatus=3\n");
    expect(unit).toContain("TimeoutStartSec=720\n");
  });
});

describe("storage client layer", () => {
  it("GIVEN the seed WHEN app-1 and parser-1 are rendered THEN both keep the volume file and mount it from it after network-online", () => {
    const { host } = setup();
    for (const name of ["app-1", "parser-1"]) {
      const { content, r } = host(name);
      const mount = content("/etc/systemd/system/srv-shared.mount")!;
      expect(mount).toContain("Wants=network-online.target\nAfter=network-online.target\n");
      expect(mount).toContain("What=/etc/glusterfs/shared.vol\nWhere=/srv/shared\nType=glusterfs\nOptions=_netdev,nosuid,nodev\n");
      expect(mount).toContain("IPAddressDeny=169.254.169.254\n");
      expect(content("/etc/glusterfs/shared.vol")).toContain("volume shared-client-0\n");
      expect(content(STORAGE_CLIENT_PATHS.mountService)).toContain("Restart=on-failure\nRestartSec=30s\n");
      expect(r.cloudConfig.runcmd).toContainEqual(["systemctl", "start", "--no-block", "bulwark-storage-mount.service"]);
    }
  });

  it(
    "GIVEN the seed WHEN the volume file is rendered THEN every brick is a " +
      "client with the plan's ping-timeout, and the replica set uses quorum auto",
    () => {
      const vol = setup().host("app-1").content("/etc/glusterfs/shared.vol")!;
      for (const [i, ip] of ["10.0.1.20", "10.0.1.21", "10.0.1.22"].entries()) {
        expect(vol).toMatch(
          new RegExp(
            `volume shared-client-${i}\\n {4}type protocol/client\\n(.*\\n)*? {4}option remote-subvolume ` +
              `/srv/gluster/brick/data\\n {4}option remote-host ${ip.replace(/\./g, "\\.")}\\n {4}option ping-timeout 5\\nend-volume`,
          ),
        );
      }
      expect(vol.match(/^ {4}option transport\.tcp-user-timeout 3$/gm)).toHaveLength(3);
      expect(vol).toContain(
        "    option quorum-type auto\n    option afr-pending-xattr shared-client-0,shared-client-1,shared-client-2\n    " +
          "subvolumes shared-client-0 shared-client-1 shared-client-2\n",
      );
      expect(vol).not.toContain("arbiter-count");
      expect(vol.match(/^volume /gm)).toHaveLength(11);
    },
  );

  it("GIVEN replica 2 + arbiter WHEN the volume file is rendered THEN the replica set has arbiter-count 1", () => {
    expect(setup(ARBITER).host("app-1").content("/etc/glusterfs/shared.vol")).toContain("    option arbiter-count 1\n    option quorum-type auto\n");
  });

  it("GIVEN 6 servers WHEN the volume file is built THEN distribute spans two replica sets named as glusterd names them", () => {
    const vol = clientVolfile(setup(SIX).storage);
    expect(vol.replicaSets.map((s) => s.pendingXattr)).toEqual([
      "shared-client-0,shared-client-1,shared-client-2",
      "shared-client-3,shared-client-4,shared-client-5",
    ]);
    expect(vol.dhtSubvolumes).toBe("shared-replicate-0 shared-replicate-1");
  });

  it("GIVEN the mount retry script WHEN rendered THEN it is bounded: 30 attempts 10 s apart", () => {
    const script = setup().host("app-1").content(STORAGE_CLIENT_PATHS.mountScript)!;
    expect(script).toContain("attempts=30\n");
    expect(script).toContain('while [ "${attempt}" -le "${attempts}" ]; do');
    expect(script).toContain("  attempt=$((attempt + 1))\n  sleep 10\n");
  });

  it.each([
    ["/srv/shared", "srv-shared.mount"],
    ["/srv/my-share", "srv-my\\x2dshare.mount"],
    ["/mnt/a.b/.c/", "mnt-a.b-.c.mount"],
    ["/.hidden/x", "\\x2ehidden-x.mount"],
    ["/", "-.mount"],
  ])("GIVEN the mount point %s WHEN named THEN the unit is %s", (path, unit) => {
    expect(mountUnitName(path)).toBe(unit);
  });
});

describe("storage rendering is deterministic", () => {
  it("GIVEN the same topology WHEN rendered twice THEN every storage file is byte-identical", () => {
    const a = setup(ARBITER).host("storage-1").r;
    const b = setup(ARBITER).host("storage-1").r;
    expect(a.userData).toBe(b.userData);
    expect(setup().host("app-1").content("/etc/glusterfs/shared.vol")).toBe(setup().host("app-1").content("/etc/glusterfs/shared.vol"));
  });
});

describe("glusterd configuration", () => {
  it(
    "GIVEN the seed WHEN glusterd.vol is rendered THEN brick ports stay inside " +
      "the range the host firewall opens, and it is written after the package",
    () => {
      const { host, plan } = setup();
      const f = host("storage-3").r.files.find((x) => x.path === STORAGE_SERVER_PATHS.glusterdVol)!;
      expect(f.defer).toBe(true);
      expect(f.content).toContain("    option transport.socket.listen-port 24007\n");
      expect(f.content).toContain("    option base-port 49152\n    option max-port 49251\n");
      const rule = plan.firewall.hosts["storage-3"]!.find((r) => r.service === "gluster-bricks")!;
      expect(rule.ports).toBe(`${plan.storage.brickPorts.first}-${plan.storage.brickPorts.last}`);
      expect(rule.sourceHosts).toEqual(expect.arrayContaining(["app-1", "parser-1", "storage-1"]));
    },
  );
});
