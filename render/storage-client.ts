/**
 * The storage layer of the GlusterFS clients (app and parser hosts): the volume file kept on the
 * host, the systemd mount unit that mounts from it, and the service that starts the mount after
 * network-online and retries it. Each file is a typed object rendered by one template.
 *
 * Why a kept volume file: a mount that fetches its volume file from a server must first reach
 * that server; with the first volfile server unreachable (not refusing) the fetch waits for a TCP
 * timeout (55 s with backup-volfile-servers: docs/facts.md#glusterfs). The kept file names every brick, so the
 * client connects to the bricks directly and mounts as soon as a quorum of each set answers.
 */
import type { StoragePlan } from "../plan/storage.ts";
import { dirname } from "node:path/posix";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, unitSandbox } from "./hardening.ts";
import { hostFile, none } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";

/** The retry service and its script. */
export const STORAGE_CLIENT_PATHS = {
  mountScript: "/usr/local/sbin/bulwark-storage-mount",
  mountServiceUnit: "bulwark-storage-mount.service",
  mountService: "/etc/systemd/system/bulwark-storage-mount.service",
} as const;

/**
 * Mount retries: 30 attempts 10 s apart (5 min) per run, and systemd runs it again 30 s after a
 * run gave up, at most 10 times an hour: a client that boots before the servers mounts as soon
 * as the volume is started.
 */
const CLIENT_MOUNT_RETRY = {
  attempts: 30,
  intervalS: 10,
  restartSec: "30s",
  startLimitInterval: "1h",
  startLimitBurst: 10,
  mountTimeoutS: 60,
} as const;
/**
 * glusterfs is a network filesystem: `_netdev` orders it after the network. `nosuid,nodev`: a
 * setuid binary or a device node on the shared volume (which every app and parser host writes)
 * means nothing on this host (mount.glusterfs passes both to the FUSE mount).
 */
const CLIENT_MOUNT_OPTIONS = "_netdev,nosuid,nodev";

/**
 * systemd's unit name for a mount point (`systemd-escape --path --suffix=mount`): the path
 * without its outer slashes, `/` → `-`, and every byte outside [A-Za-z0-9:_.] (and a leading
 * `.`) as `\xNN`. The validate tier checks it against systemd-escape.
 */
export function mountUnitName(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "").replace(/\/+/g, "/");
  if (trimmed === "") return "-.mount";
  const bytes = [...Buffer.from(trimmed, "utf8")];
  const escaped = bytes
    .map((b, i) => {
      const c = String.fromCharCode(b);
      if (c === "/") return "-";
      if ((i === 0 && c === ".") || !/[A-Za-z0-9:_.]/.test(c)) return `\\x${b.toString(16).padStart(2, "0")}`;
      return c;
    })
    .join("");
  return `${escaped}.mount`;
}

interface ClientVolfile {
  readonly volume: string;
  readonly clients: readonly {
    readonly name: string;
    readonly remoteHost: string;
    readonly remoteSubvolume: string;
    readonly pingTimeoutS: number;
    readonly tcpUserTimeoutS: number;
  }[];
  readonly replicaSets: readonly {
    readonly name: string;
    readonly options: readonly string[];
    readonly pendingXattr: string;
    readonly subvolumes: string;
  }[];
  readonly dhtSubvolumes: string;
}

/**
 * The client graph glusterd generates for this volume, from the plan: one protocol/client per
 * brick named `<volume>-client-<index>` (AFR's pending xattrs are named after them, so the names
 * must be glusterd's), one cluster/replicate per set, distribute over the sets, and the default
 * performance translators.
 */
export function clientVolfile(storage: StoragePlan): ClientVolfile {
  const clientName = (index: number) => `${storage.volume}-client-${index}`;
  const sets = Array.from({ length: storage.replicaSets }, (_, set) => storage.bricks.filter((b) => b.set === set));
  const quorum = storage.options.find((o) => o.key === "cluster.quorum-type")!.value;
  return {
    volume: storage.volume,
    clients: storage.bricks.map((b) => ({
      name: clientName(b.index),
      remoteHost: b.address,
      remoteSubvolume: storage.brickDir,
      pingTimeoutS: storage.pingTimeoutS,
      tcpUserTimeoutS: storage.tcpUserTimeoutS,
    })),
    replicaSets: sets.map((bricks, set) => {
      const names = bricks.map((b) => clientName(b.index));
      return {
        name: `${storage.volume}-replicate-${set}`,
        options: [...(storage.arbiter ? ["arbiter-count 1"] : []), `quorum-type ${quorum}`],
        pendingXattr: names.join(","),
        subvolumes: names.join(" "),
      };
    }),
    dhtSubvolumes: sets.map((_, set) => `${storage.volume}-replicate-${set}`).join(" "),
  };
}

/** Remounting the volume under running services would fail their I/O: client files apply at the next mount. */
const NEXT_MOUNT = none("applies at the next mount (boot or remount); remounting under the running services would fail their I/O");

export function storageClientLayer({ plan }: RenderContext): Layer {
  const subnet = plan.network.subnet;
  const storage = plan.storage;
  const P = STORAGE_CLIENT_PATHS;
  const R = CLIENT_MOUNT_RETRY;
  const mountUnit = mountUnitName(storage.client.mountPoint);
  return {
    files: [
      hostFile(storage.client.volfile, renderTemplate("storage/client.vol", clientVolfile(storage)), { action: NEXT_MOUNT }),
      hostFile(
        `/etc/systemd/system/${mountUnit}`,
        renderTemplate("storage/client.mount", {
          volume: storage.volume,
          mountPoint: storage.client.mountPoint,
          volfile: storage.client.volfile,
          retryUnit: P.mountServiceUnit,
          options: CLIENT_MOUNT_OPTIONS,
          timeoutS: R.mountTimeoutS,
          sandbox: unitSandbox(HARDENING.glusterMount, subnet),
        }),
        { action: NEXT_MOUNT },
      ),
      hostFile(
        P.mountScript,
        renderTemplate("storage/client-mount.sh", { mountPoint: storage.client.mountPoint, mountUnit, attempts: R.attempts, intervalS: R.intervalS }),
        {
          permissions: "0755",
          action: NEXT_MOUNT,
        },
      ),
      hostFile(
        P.mountService,
        renderTemplate("storage/client-mount.service", {
          mountPoint: storage.client.mountPoint,
          script: P.mountScript,
          timeoutStartS: R.attempts * (R.intervalS + R.mountTimeoutS),
          restartSec: R.restartSec,
          startLimitInterval: R.startLimitInterval,
          startLimitBurst: R.startLimitBurst,
          // The script makes the mount point (in its parent) if it is missing; `-`: a missing parent is skipped.
          readWritePaths: [`-${dirname(storage.client.mountPoint)}`],
          sandbox: unitSandbox(HARDENING.storageMount, subnet),
        }),
        { action: NEXT_MOUNT },
      ),
    ],
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", P.mountServiceUnit],
      // --no-block: the servers may not be up yet; the service retries on its own.
      ["systemctl", "start", "--no-block", P.mountServiceUnit],
    ],
  };
}
