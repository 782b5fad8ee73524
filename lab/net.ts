/**
 * Network namespaces, bridges and veth links for a lab run. Bridges live in a "switch"
 * namespace of the run, so nothing is added to the machine's own network namespace.
 */
import type { LabRun } from "./run.ts";

export interface Link {
  /** The interface inside the host's namespace. */
  readonly inside: string;
  /** Its peer, a port of the bridge in the switch namespace (set down to cut the link). */
  readonly port: string;
}

export class LabNetwork {
  readonly switchNs: string;
  private bridges = new Set<string>();
  private portCount = 0;

  private constructor(private readonly run: LabRun) {
    this.switchNs = `${run.prefix}-sw`;
  }

  static async create(run: LabRun): Promise<LabNetwork> {
    const net = new LabNetwork(run);
    await net.addNamespace(net.switchNs);
    return net;
  }

  /** Creates a namespace with loopback up; removed at cleanup. */
  async addNamespace(ns: string): Promise<string> {
    await this.run.exec("ip", ["netns", "add", ns]);
    this.run.defer(`namespace ${ns}`, () => this.run.exec("ip", ["netns", "del", ns], { allowFail: true }).then(() => undefined));
    await this.ip(ns, ["link", "set", "lo", "up"]);
    return ns;
  }

  /** `ip -n ns ...` */
  ip(ns: string, args: readonly string[]): Promise<string> {
    return this.run.exec("ip", ["-n", ns, ...args]);
  }

  /** A command inside a namespace. */
  inNs(ns: string, cmd: string, args: readonly string[], options: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<string> {
    return this.run.exec("ip", ["netns", "exec", ns, cmd, ...args], options);
  }

  async bridge(name: string): Promise<string> {
    if (!this.bridges.has(name)) {
      await this.ip(this.switchNs, ["link", "add", name, "type", "bridge"]);
      await this.ip(this.switchNs, ["link", "set", name, "up"]);
      this.bridges.add(name);
    }
    return name;
  }

  /** Connects `ns` to `bridge` through a veth pair; `inside` gets `cidr` (if given). */
  async connect(ns: string, bridge: string, inside: string, cidr?: string): Promise<Link> {
    await this.bridge(bridge);
    const port = `p${this.portCount++}${this.run.prefix.slice(-6)}`.slice(0, 15);
    const tmp = `t${this.portCount}${this.run.prefix.slice(-6)}`.slice(0, 15);
    await this.ip(this.switchNs, ["link", "add", port, "type", "veth", "peer", "name", tmp]);
    await this.ip(this.switchNs, ["link", "set", tmp, "netns", ns]);
    await this.ip(ns, ["link", "set", tmp, "name", inside]);
    await this.ip(this.switchNs, ["link", "set", port, "master", bridge, "up"]);
    if (cidr) await this.ip(ns, ["addr", "add", cidr, "dev", inside]);
    await this.ip(ns, ["link", "set", inside, "up"]);
    return { inside, port };
  }

  /** Cuts (or restores) a link at the switch, with no goodbye to either side. */
  async setLink(link: Link, up: boolean): Promise<void> {
    await this.ip(this.switchNs, ["link", "set", link.port, up ? "up" : "down"]);
  }
}
