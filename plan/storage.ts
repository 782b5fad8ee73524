/**
 * The storage plan: the GlusterFS volume, its bricks in replica-set order (the arbiter last in
 * each set), the volume options with the reason for each value, the clients allowed to mount,
 * the volfile servers, and the one node that bootstraps the pool. Pure and deterministic; the
 * render layers, the bootstrap script, the client volume file and the lab read this and
 * recompute nothing.
 */
import type { Topology } from "../topology/model.ts";
import { PRIVATE_SERVICES } from "./catalog.ts";
import type { PlannedHost } from "./model.ts";

/** Every replica set has 3 bricks: 3 data, or 2 data + 1 arbiter (topology rule storage-sets). */
const BRICKS_PER_SET = 3;

/** The volume's name; also the prefix of its translators' names in the volume file. */
const STORAGE_VOLUME = "shared";
/** Where the Hetzner volume is mounted on a storage host. */
const BRICK_MOUNT_POINT = "/srv/gluster/brick";
/**
 * The brick is a directory inside the mounted volume, never the mount point itself: when the
 * volume is not mounted the directory is missing, so the brick process fails to start instead
 * of filling the root disk.
 */
const BRICK_DIR = `${BRICK_MOUNT_POINT}/data`;
/** Where the app and parser hosts mount the volume. */
export const CLIENT_MOUNT_POINT = "/srv/shared";
/** The volume file kept on every client (the seed's "volume file"). */
const CLIENT_VOLFILE = `/etc/glusterfs/${STORAGE_VOLUME}.vol`;

/**
 * network.ping-timeout in seconds. Gluster's default is 42 s; a hard server loss stalls client I/O
 * for up to about twice this value (measured: 18 s at 10, 8.1 s at 5; docs/facts.md#glusterfs), and
 * the storage lab's budget is 10 s. 5 s keeps the measured stall under it. Lower buys little and
 * costs more: the timer fires only when a brick answers no RPC at all (pings or I/O replies) for
 * the whole interval, and a brick that busy or a link that lossy for 5 s is not serving interactive
 * I/O either; a false disconnect costs a reconnect and a heal of what was written meanwhile, never
 * data (client quorum keeps writes on the two other bricks). The lab counts disconnects while
 * all servers are healthy under write load, to show the margin.
 */
export const PING_TIMEOUT_S = 5;

/**
 * client.tcp-user-timeout in seconds (TCP_USER_TIMEOUT on the clients' sockets; glusterfs sets it
 * before connect, so it bounds the SYN phase too). The client starts serving only when every
 * brick of a set has answered, or after AFR's fixed 10 s wait (afr-common.c
 * __afr_launch_notify_timer): with a server unreachable (no refusal), its TCP connect would
 * otherwise hang past those 10 s, so a mount took 10.1 s in the lab. With 3 s the connect fails
 * at 3 s and the mount completes then. On an open connection it drops a peer whose kernel has
 * acknowledged nothing for 3 s: a busy brick process does not cause that (its kernel still
 * acknowledges), only a dead host or path, which the ping-timeout would drop anyway.
 */
export const TCP_USER_TIMEOUT_S = 3;

interface StorageBrick {
  readonly host: string;
  readonly address: string;
  /** `address:path`, as `gluster volume create` takes it. */
  readonly spec: string;
  /** Index in the volume (0-based); names the client translator `<volume>-client-<index>`. */
  readonly index: number;
  /** Replica set (0-based). */
  readonly set: number;
  /** True for the metadata-only third brick of a replica 2 + arbiter set. */
  readonly arbiter: boolean;
}

interface StorageOption {
  readonly key: string;
  readonly value: string;
  readonly why: string;
}

export interface StoragePlan {
  readonly replica: 2 | 3;
  readonly arbiter: boolean;
  /** Storage host names, in brick order. */
  readonly servers: readonly string[];
  /** Host names that mount the volume (app, parser). */
  readonly clients: readonly string[];
  readonly volume: string;
  /** Bricks in the order `gluster volume create` takes them: each replica set's 3 together. */
  readonly bricks: readonly StorageBrick[];
  readonly replicaSets: number;
  /** Bricks per replica set given to `volume create` (`replica 3`, or `replica 3 arbiter 1`). */
  readonly createArgs: readonly string[];
  readonly brickMountPoint: string;
  readonly brickDir: string;
  /** The storage host that probes the pool and creates the volume; the others only run glusterd. */
  readonly bootstrap: { readonly host: string; readonly address: string };
  /** Every storage server, by name and private address (the trusted pool). */
  readonly peers: readonly { readonly host: string; readonly address: string }[];
  /** Options set on the volume, in order. */
  readonly options: readonly StorageOption[];
  readonly pingTimeoutS: number;
  readonly tcpUserTimeoutS: number;
  /** Private addresses allowed to mount (`auth.allow`): the app and parser hosts. */
  readonly allowedClients: readonly string[];
  /** Servers a client may fetch the volume file from (unused by the kept volume file; listed for tools). */
  readonly volfileServers: readonly string[];
  readonly client: { readonly mountPoint: string; readonly volfile: string };
  /**
   * The port range glusterd gives brick processes: the host firewall's gluster-bricks range.
   * glusterd's default is 49152-60999 with random picks (measured on glusterfs 11), which the
   * firewall would block.
   */
  readonly brickPorts: { readonly first: number; readonly last: number };
  /** glusterd's management port: the first of the catalog's glusterd range (24008 is its RDMA port). */
  readonly glusterdPort: number;
}

/** A port range of a plan/catalog.ts service (`first-last`). */
function portRange(service: string): { first: number; last: number } {
  const [first, last] = PRIVATE_SERVICES.find((s) => s.id === service)!
    .ports!.split("-")
    .map(Number) as [number, number];
  return { first, last };
}

export function planStorage(t: Topology, hosts: readonly PlannedHost[]): StoragePlan {
  const servers = hosts.filter((h) => h.role === "storage");
  const clients = hosts.filter((h) => h.role === "app" || h.role === "parser");
  const { replica, arbiter } = t.roles.storage;
  const bricks: StorageBrick[] = servers.map((h, index) => ({
    host: h.name,
    address: h.privateIp,
    spec: `${h.privateIp}:${BRICK_DIR}`,
    index,
    set: Math.floor(index / BRICKS_PER_SET),
    arbiter: arbiter && index % BRICKS_PER_SET === BRICKS_PER_SET - 1,
  }));
  const allowedClients = clients.map((h) => h.privateIp);
  const first = servers[0]!;
  return {
    replica,
    arbiter,
    servers: servers.map((h) => h.name),
    clients: clients.map((h) => h.name),
    volume: STORAGE_VOLUME,
    bricks,
    replicaSets: Math.ceil(bricks.length / BRICKS_PER_SET),
    // Gluster counts the arbiter in `replica`: replica 2 + arbiter is written `replica 3 arbiter 1`.
    createArgs: arbiter ? ["replica", "3", "arbiter", "1"] : ["replica", "3"],
    brickMountPoint: BRICK_MOUNT_POINT,
    brickDir: BRICK_DIR,
    // The first server: fixed, so a rerun or a replaced node never makes a second pool.
    bootstrap: { host: first.name, address: first.privateIp },
    peers: servers.map((h) => ({ host: h.name, address: h.privateIp })),
    options: [
      {
        key: "cluster.quorum-type",
        value: "auto",
        why: "client quorum: a write needs a majority of each replica set (the arbiter counts), so two sides of a partition cannot both write",
      },
      {
        key: "cluster.server-quorum-type",
        value: "none",
        why:
          "no server quorum: client quorum already keeps writes off a minority (replica 3), and a glusterd that stops " +
          "its brick on a cut restarts it on a new port, where glusterfs 11.1 clients kept retrying the old port and " +
          "never came back (the stack lab caught it; gluster issue 4274); volume changes need every peer connected anyway",
      },
      { key: "network.ping-timeout", value: String(PING_TIMEOUT_S), why: "a dead server is given up after 5 s instead of 42 s (see PING_TIMEOUT_S)" },
      {
        key: "client.tcp-user-timeout",
        value: String(TCP_USER_TIMEOUT_S),
        why: "a client gives up connecting to an unreachable server after 3 s, so a mount does not wait AFR's 10 s for it (see TCP_USER_TIMEOUT_S)",
      },
      {
        key: "auth.allow",
        value: allowedClients.join(","),
        why: "only the app and parser hosts may mount; the servers' own daemons authenticate by the volume's internal login",
      },
    ],
    pingTimeoutS: PING_TIMEOUT_S,
    tcpUserTimeoutS: TCP_USER_TIMEOUT_S,
    allowedClients,
    volfileServers: servers.map((h) => h.privateIp),
    client: { mountPoint: CLIENT_MOUNT_POINT, volfile: CLIENT_VOLFILE },
    brickPorts: portRange("gluster-bricks"),
    glusterdPort: portRange("glusterd").first,
  };
}
