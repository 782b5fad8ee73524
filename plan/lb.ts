/**
 * The load-balancer pair's plan: VRRP peers and priorities, the backends haproxy balances, the
 * health-check and failover timings, and the Hetzner API the failover hook calls. Every number
 * here is a decision; the comment next to it says why.
 */
import type { Topology } from "../topology/model.ts";
import type { LbFailover } from "../topology/model.ts";
import { APP_PORT } from "./catalog.ts";
import type { PlannedHost } from "./model.ts";

export interface LbPlan {
  readonly failover: LbFailover;
  /** The two lb hosts, in order; the first is the Floating IP's initial holder. */
  readonly hosts: readonly string[];
  readonly appPort: number;
  /** Per lb host: its VRRP priority, own private IP and its peer's. */
  readonly vrrp: readonly { readonly host: string; readonly priority: number; readonly sourceIp: string; readonly peerIp: string }[];
  /** VRRP virtual router id (1-255), the same on both. */
  readonly virtualRouterId: number;
  /** VRRPv3 advert interval in seconds. */
  readonly advertIntervalS: number;
  /** `vrrp-vip` mode: the VIP and its interface. */
  readonly vip?: { readonly address: string; readonly interface: string };
  /** The app hosts haproxy balances, by name and address. */
  readonly backends: readonly { readonly name: string; readonly address: string; readonly port: number }[];
  readonly healthCheck: {
    readonly path: string;
    readonly interMs: number;
    readonly fastInterMs: number;
    readonly downInterMs: number;
    readonly fall: number;
    readonly rise: number;
    readonly timeoutMs: number;
  };
  /** haproxy's connect timeout to a backend, and so its pause before retrying elsewhere. */
  readonly connectTimeoutMs: number;
  /** HTTPS on 443 with the certificate from the `tls_certificate_pem` variable. */
  readonly tls: boolean;
  /** The Hetzner API the failover hook calls (the lab points it at its emulator). */
  readonly apiEndpoint: string;
  /** How often the MASTER checks that the Floating IP is still routed to it. */
  readonly reconcileIntervalS: number;
  /**
   * Floating-ip mode: a MASTER moves the Floating IP to itself only when it reaches `need` of
   * these private addresses (a TCP connect to `port` within `connectTimeoutS`). In a partition
   * both lbs are MASTER; only the side with the storage majority, where writes work, claims.
   */
  readonly witness: {
    readonly addresses: readonly string[];
    readonly port: number;
    readonly need: number;
    readonly connectTimeoutS: number;
  };
  /** Bounds of the failover hook's API calls. */
  readonly hook: {
    readonly attempts: number;
    readonly backoffMs: number;
    readonly requestTimeoutS: number;
    readonly actionPollS: number;
    /** systemd stops a takeover that runs longer than this. */
    readonly unitTimeoutS: number;
  };
}

/** Hetzner's public API; the provider's default too (docs/facts.md#hetzner-cloud). */
const HETZNER_API = "https://api.hetzner.cloud/v1";

export function planLb(t: Topology, hosts: readonly PlannedHost[]): LbPlan {
  const lbs = hosts.filter((h) => h.role === "lb");
  const [first, second] = lbs as [PlannedHost, PlannedHost];
  return {
    failover: t.roles.lb.failover,
    hosts: lbs.map((h) => h.name),
    appPort: APP_PORT,
    // Distinct priorities make the election deterministic; with nopreempt on both, a recovered
    // lb-1 does not take the entry back from a healthy lb-2 (no second blip).
    vrrp: [
      { host: first.name, priority: 150, sourceIp: first.privateIp, peerIp: second.privateIp },
      { host: second.name, priority: 100, sourceIp: second.privateIp, peerIp: first.privateIp },
    ],
    virtualRouterId: 51,
    // VRRPv3 allows centisecond adverts. 0.1 s gives a master-down interval of
    // 3 x 0.1 + skew (at most 0.1) = 0.3 to 0.4 s, so a lost host is noticed well inside the
    // 1.5 s budget; 10 adverts/s of ~40 bytes each is nothing on the private network.
    advertIntervalS: 0.1,
    ...(t.roles.lb.vip ? { vip: t.roles.lb.vip } : {}),
    backends: hosts.filter((h) => h.role === "app").map((h) => ({ name: h.name, address: h.privateIp, port: APP_PORT })),
    // haproxy's defaults (inter 2 s, fall 3) take about 6 s to mark a dead server down. Here a
    // check runs every 250 ms; after a first failure haproxy re-checks after 100 ms (fastinter),
    // so a dead backend is down after at most ~0.35 s plus the check time. A check must answer
    // within 500 ms: a backend that misses that twice in a row (a GC pause or a stall of over
    // half a second, twice) is not serving interactive traffic either, so the false-down risk is
    // a server that is effectively down. A down server is checked as often (downinter 250 ms):
    // rise 3 brings it back 0.75 s after it recovers, and keeps a flapping one out. This matters
    // on the BACKUP too: after a network blip it must be ready to serve within a second. Requests
    // caught on a dying server are retried elsewhere (retries + redispatch), so the detection
    // time costs no failed idempotent request. Cost: 4 checks/s per backend per lb.
    healthCheck: { path: "/healthz", interMs: 250, fastInterMs: 100, downInterMs: 250, fall: 2, rise: 3, timeoutMs: 500 },
    // The lab found a GET failing on a killed backend: haproxy waits min(timeout connect, 1 s)
    // before a retry. On the private network 250 ms is ample for a connect and short enough
    // that the retry on the other backend lands well inside a client's patience.
    connectTimeoutMs: 250,
    tls: t.roles.lb.tls,
    apiEndpoint: HETZNER_API,
    // After a partition heals, the surviving MASTER may not be the last one that moved the IP.
    // It re-checks every 10 s: 360 GETs/h, a tenth of Hetzner's 3600 requests/h per project.
    reconcileIntervalS: 10,
    witness: planWitness(hosts),
    // 5 attempts, exponential backoff from 200 ms with jitter (6.2 s of sleeps in all), 5 s per
    // request, an action polled every 0.2 s for up to 5 s; systemd ends a takeover after 120 s
    // and the reconcile timer tries again.
    hook: { attempts: 5, backoffMs: 200, requestTimeoutS: 5, actionPollS: 0.2, unitTimeoutS: 120 },
  };
}

/**
 * The Floating IP's witnesses: the storage servers. In a partition both lbs become MASTER and
 * each would take the address back every reconcile interval; the volume accepts writes only on
 * the side with a majority of its servers (client quorum), so that side alone may claim it. The
 * probe is a TCP connect to sshd, which every host runs and the ssh-bastion rule already lets the
 * lb pair reach (plan/catalog.ts): no new port opens. 1 s per probe: on the private network a
 * connect takes well under a millisecond, and a minority side pays at most 1 s per unreachable
 * server every reconcile interval. A claim is only checked when the address is elsewhere: the
 * holder keeps it whatever it reaches.
 */
function planWitness(hosts: readonly PlannedHost[]): LbPlan["witness"] {
  return witnessOf(
    hosts.filter((h) => h.role === "storage").map((h) => h.privateIp),
    22,
  );
}

/** Witnesses at `addresses` on `port`: a claim needs a strict majority of them. */
export function witnessOf(addresses: readonly string[], port: number): LbPlan["witness"] {
  return { addresses, port, need: Math.floor(addresses.length / 2) + 1, connectTimeoutS: 1 };
}
