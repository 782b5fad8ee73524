/**
 * The storage layer of the GlusterFS servers: the brick mount (the Hetzner volume, XFS, by its
 * by-id path with nofail), glusterd after it, and on the designated server the bootstrap that
 * builds the trusted pool and the volume once. Each file is a typed object built from the plan's
 * storage section and rendered by one template.
 */
import type { PlannedHost } from "../plan/model.ts";
import type { StoragePlan } from "../plan/storage.ts";
import { deployMarker } from "./deploy-values.ts";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, METADATA_ADDRESS, unitSandbox } from "./hardening.ts";
import { hostFile, none, restart, run, type HostFile } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";

/** Paths on the storage hosts, named once. */
export const STORAGE_SERVER_PATHS = {
  prepareScript: "/usr/local/sbin/bulwark-brick-prepare",
  brickUnit: "bulwark-brick.service",
  brickService: "/etc/systemd/system/bulwark-brick.service",
  glusterdDropin: "/etc/systemd/system/glusterd.service.d/bulwark.conf",
  glusterdVol: "/etc/glusterfs/glusterd.vol",
  identityScript: "/usr/local/sbin/bulwark-glusterd-identity",
  poolFile: "/etc/bulwark/glusterd-pool",
  glusterdDir: "/var/lib/glusterd",
  bootstrapScript: "/usr/local/sbin/bulwark-gluster-bootstrap",
  bootstrapUnit: "bulwark-gluster-bootstrap.service",
  bootstrapService: "/etc/systemd/system/bulwark-gluster-bootstrap.service",
  watchdogScript: "/usr/local/sbin/bulwark-brick-watchdog",
  watchdogUnit: "bulwark-brick-watchdog.service",
  watchdogService: "/etc/systemd/system/bulwark-brick-watchdog.service",
  watchdogTimerUnit: "bulwark-brick-watchdog.timer",
  watchdogTimer: "/etc/systemd/system/bulwark-brick-watchdog.timer",
} as const;

/**
 * The brick watchdog's bounds: a check every 15 s (a brick left offline is back within about
 * 15 s + 5 s to confirm + the restart); each gluster call at most 30 s; a stale brick process
 * gets 10 s after TERM; the first run 60 s after boot, when glusterd has had its own go.
 */
export const BRICK_WATCHDOG = { intervalS: 15, confirmS: 5, callTimeoutS: 30, killWaitS: 10, bootDelayS: 60, timeoutStartS: 400 } as const;

/** Hetzner's device name of an attached volume, before its id (docs/facts.md#hetzner-cloud; constructs/brick-volume.ts). */
export const HETZNER_VOLUME_DEVICE_PREFIX = "/dev/disk/by-id/scsi-0HC_Volume_";

/**
 * The brick's fstab options. `nofail`: a missing volume does not stop the boot (glusterd still
 * runs, so the pool keeps its server quorum); `x-systemd.device-timeout`: how long systemd waits
 * for it; `noatime`: no metadata write per read.
 */
const BRICK_FSTAB_OPTIONS = "noatime,nofail,x-systemd.device-timeout=2min";
/** Hetzner attaches a volume within seconds of the server's creation; 2 min is generous. */
const BRICK_DEVICE_WAIT_S = 120;

/**
 * One bootstrap run waits at most 10 min in all (on Hetzner every storage host installs its
 * packages at first boot: a few minutes), polling every 2 s; systemd retries a run that gave up
 * 30 s later, at most 5 starts in an hour.
 */
const STORAGE_BOOTSTRAP_BUDGET = { waitS: 600, intervalS: 2, restartSec: "30s", startLimitInterval: "1h", startLimitBurst: 5 } as const;

interface BootstrapScript {
  readonly volume: string;
  readonly self: string;
  readonly brickDir: string;
  /** The other servers' addresses (the ones this node probes). */
  readonly peers: readonly string[];
  /** How many peers every host of the pool has (all servers but itself): what each must see connected. */
  readonly peerCount: number;
  readonly createArgs: readonly string[];
  readonly bricks: readonly string[];
  readonly options: readonly { readonly key: string; readonly value: string }[];
  readonly waitS: number;
  readonly intervalS: number;
}

function bootstrapScript(storage: StoragePlan): BootstrapScript {
  const peers = storage.peers.filter((p) => p.host !== storage.bootstrap.host).map((p) => p.address);
  return {
    volume: storage.volume,
    self: storage.bootstrap.address,
    brickDir: storage.brickDir,
    peers,
    peerCount: peers.length,
    createArgs: storage.createArgs,
    bricks: storage.bricks.map((b) => b.spec),
    options: storage.options.map((o) => ({ key: o.key, value: o.value })),
    waitS: STORAGE_BOOTSTRAP_BUDGET.waitS,
    intervalS: STORAGE_BOOTSTRAP_BUDGET.intervalS,
  };
}

const GLUSTERD = "glusterd.service";

function serverFiles(storage: StoragePlan, subnet: string, self: string): HostFile[] {
  const P = STORAGE_SERVER_PATHS;
  const identity = "read by the next glusterd start (ExecStartPre): a running pool keeps its UUIDs";
  return [
    // Every server's planned glusterd UUID: a replaced server comes back as the same peer (docs/storage.md).
    hostFile(P.poolFile, `${deployMarker("glusterdPoolUuids")}\n`, { action: none(identity) }),
    hostFile(
      P.identityScript,
      renderTemplate("storage/glusterd-identity.sh", { self, poolFile: P.poolFile, glusterdDir: P.glusterdDir, brickDir: storage.brickDir }),
      { permissions: "0755", action: none(identity) },
    ),
    hostFile(
      P.prepareScript,
      renderTemplate("storage/brick-prepare.sh", {
        mountPoint: storage.brickMountPoint,
        brickDir: storage.brickDir,
        devicePrefix: HETZNER_VOLUME_DEVICE_PREFIX,
        fstabOptions: BRICK_FSTAB_OPTIONS,
        deviceWaitS: BRICK_DEVICE_WAIT_S,
      }),
      { permissions: "0755", action: none("run at the next boot: the brick is mounted while glusterd serves it") },
    ),
    hostFile(
      P.brickService,
      renderTemplate("storage/brick.service", {
        prepareScript: P.prepareScript,
        timeoutStartS: BRICK_DEVICE_WAIT_S + 60,
        sandbox: unitSandbox(HARDENING.brick, subnet),
      }),
      {
        action: none("applies at the next boot: the brick is mounted while glusterd serves it"),
      },
    ),
    hostFile(
      P.glusterdDropin,
      renderTemplate("storage/glusterd-dropin.conf", { brickUnit: P.brickUnit, metadataAddress: METADATA_ADDRESS, identityScript: P.identityScript }),
      { action: restart(GLUSTERD) },
    ),
    // Deferred: it replaces the file the glusterfs-server package installs.
    hostFile(
      P.glusterdVol,
      renderTemplate("storage/glusterd.vol", {
        listenPort: storage.glusterdPort,
        basePort: storage.brickPorts.first,
        maxPort: storage.brickPorts.last,
      }),
      {
        defer: true,
        action: restart(GLUSTERD),
      },
    ),
  ];
}

/** glusterd's pidfile of the brick at `address`:`brickDir` (its name: the brick path's slashes as dashes). */
export function brickPidFile(storage: StoragePlan, address: string): string {
  return `/var/run/gluster/vols/${storage.volume}/${address}-${storage.brickDir.replace(/^\//, "").replaceAll("/", "-")}.pid`;
}

function watchdogFiles(storage: StoragePlan, subnet: string, self: string): HostFile[] {
  const P = STORAGE_SERVER_PATHS;
  const W = BRICK_WATCHDOG;
  const enable = run("systemctl", "enable", "--now", P.watchdogTimerUnit);
  return [
    hostFile(
      P.watchdogScript,
      renderTemplate("storage/brick-watchdog.sh", {
        volume: storage.volume,
        brick: `${self}:${storage.brickDir}`,
        servers: storage.peers.length,
        pidFile: brickPidFile(storage, self),
        intervalS: W.intervalS,
        confirmS: W.confirmS,
        callTimeoutS: W.callTimeoutS,
        killWaitS: W.killWaitS,
        stateDir: "/run/gluster",
      }),
      { permissions: "0755", action: none("read by the next watchdog run") },
    ),
    hostFile(
      P.watchdogService,
      renderTemplate("storage/brick-watchdog.service", {
        volume: storage.volume,
        script: P.watchdogScript,
        timeoutStartS: W.timeoutStartS,
        sandbox: unitSandbox(HARDENING.glusterBootstrap, subnet),
      }),
      { action: none("read by the next watchdog run") },
    ),
    hostFile(P.watchdogTimer, renderTemplate("storage/brick-watchdog.timer", { intervalS: W.intervalS, bootDelayS: W.bootDelayS }), {
      action: enable,
    }),
  ];
}

function bootstrapFiles(storage: StoragePlan, subnet: string): HostFile[] {
  const P = STORAGE_SERVER_PATHS;
  const B = STORAGE_BOOTSTRAP_BUDGET;
  return [
    // The bootstrap is idempotent: rerun, it sets the volume options the plan now has.
    hostFile(P.bootstrapScript, renderTemplate("storage/gluster-bootstrap.sh", bootstrapScript(storage)), {
      permissions: "0755",
      action: restart(P.bootstrapUnit),
    }),
    hostFile(
      P.bootstrapService,
      renderTemplate("storage/gluster-bootstrap.service", {
        volume: storage.volume,
        host: storage.bootstrap.host,
        script: P.bootstrapScript,
        waitS: B.waitS,
        timeoutStartS: B.waitS + 120,
        restartSec: B.restartSec,
        startLimitInterval: B.startLimitInterval,
        startLimitBurst: B.startLimitBurst,
        sandbox: unitSandbox(HARDENING.glusterBootstrap, subnet),
      }),
      { action: restart(P.bootstrapUnit) },
    ),
  ];
}

/** True when `host` is the storage server that runs the bootstrap. */
function isStorageBootstrapHost(storage: StoragePlan, host: PlannedHost): boolean {
  return storage.bootstrap.host === host.name;
}

export function storageServerLayer({ plan, host }: RenderContext): Layer {
  const storage = plan.storage;
  const designated = isStorageBootstrapHost(storage, host);
  return {
    files: [
      ...serverFiles(storage, plan.network.subnet, host.privateIp),
      ...watchdogFiles(storage, plan.network.subnet, host.privateIp),
      ...(designated ? bootstrapFiles(storage, plan.network.subnet) : []),
    ],
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", STORAGE_SERVER_PATHS.brickUnit],
      ["systemctl", "enable", "glusterd.service"],
      ["systemctl", "restart", "glusterd.service"],
      ["systemctl", "enable", "--now", STORAGE_SERVER_PATHS.watchdogTimerUnit],
      // --no-block: the bootstrap waits for the other servers, which may boot minutes later.
      ...(designated
        ? [
            ["systemctl", "enable", STORAGE_SERVER_PATHS.bootstrapUnit],
            ["systemctl", "start", "--no-block", STORAGE_SERVER_PATHS.bootstrapUnit],
          ]
        : []),
    ],
  };
}
