/**
 * The systemd sandbox of every unit Bulwark ships, as typed data: one profile per unit kind, each
 * directive with the reason it is there, and the stronger settings left out with the reason they
 * are. The renderers pass `unitSandbox(profile, plan)` to the unit templates, which place a
 * `# Sandbox profile: <kind>` line and the directives; review/SECURITY.md (bundle/security-md.ts)
 * lists each host's units with the exposure below, and the validate tier
 * (test/validate/unit-security.test.ts) runs the real `systemd-analyze security --offline=true`
 * on every rendered unit and checks that it reports that exposure (within 0.1) and meets the goal.
 *
 * Goals (the README's "Sandboxed units"): at most 2.0 for the services (the parser, the
 * mail API; an SMTP receiver later takes SERVICE_SANDBOX with the `internet` IP policy and
 * AmbientCapabilities=CAP_NET_BIND_SERVICE for port 25), at most 4.5 for every root helper.
 * mongod, mongos and the GlusterFS mount unit get the metadata block only: MongoDB cannot run
 * here, and the FUSE client mounts in the host's namespace; a sandbox for them would be
 * unverified guesswork (their `noGoal` says so in the review).
 *
 * The metadata service (169.254.169.254) serves user_data, which holds every secret of the host.
 * The host firewall lets only root reach it; no Bulwark unit needs it, so every unit denies it
 * with `IPAddressDeny=` (an eBPF filter on the unit's cgroup, which root inside the unit cannot
 * lift), most of them by denying all IP but their peers.
 */

/** One directive of a profile: key, value, and why (shown in review/SECURITY.md, not in the unit: user_data is short of room). */
export interface Directive {
  readonly key: string;
  readonly value: string;
  readonly why: string;
}

/**
 * Which IP traffic a unit's processes may send or receive (systemd's IPAddressDeny=/IPAddressAllow=).
 * - `none`: no IP at all (netlink and Unix sockets still work).
 * - `loopback`: 127.0.0.0/8 and ::1 only.
 * - `private`: loopback and the unit's peers on the private network (the plan's subnet, or the
 *   exact addresses where the unit knows them).
 * - `internet`: anything but the metadata service, for units whose peers are not known in advance
 *   (the Hetzner API, the artifact server) or that cannot be exercised here (mongod, the FUSE client).
 */
export type IpPolicy = "none" | "loopback" | "private" | "internet";

export interface HardeningProfile {
  /** Name in the unit's `# Sandbox profile:` line and in review/SECURITY.md. */
  readonly kind: string;
  /** What the unit runs, for the review. */
  readonly runs: string;
  readonly ip: IpPolicy;
  readonly directives: readonly Directive[];
  /** Stronger settings left out on purpose, and why. */
  readonly notSet: readonly { readonly key: string; readonly why: string }[];
  /** Highest exposure allowed (systemd-analyze security), or null where none is set (`noGoal` says why). */
  readonly goal: number | null;
  readonly noGoal?: string;
  /**
   * What `systemd-analyze security --offline=true` (systemd 252, Debian 12) reports for the
   * rendered unit; the validate tier checks it within 0.1. Change it only to a measured figure.
   */
  readonly exposure: number;
  /** The exposure of the unit before this profile (same tool), for the review. */
  readonly exposureBefore: number;
}

/** The systemd major version whose `systemd-analyze security` gave the `exposure` figures (Debian 12). */
export const EXPOSURE_SYSTEMD_VERSION = 252;

/** The metadata service Hetzner (like most clouds) serves user_data from. */
export const METADATA_ADDRESS = "169.254.169.254";

const d = (key: string, value: string, why: string): Directive => ({ key, value, why });
const no = (key: string, why: string) => ({ key, why });

/** Kernel-enforced limits that need no mount namespace: fit for every unit, root or not. */
const BASE: readonly Directive[] = [
  d("NoNewPrivileges", "yes", "no setuid binary or file capability can raise the privileges of what the unit runs"),
  d("LockPersonality", "yes", "no personality(2) change: old ABI emulations are attack surface nothing here needs"),
  d("RestrictRealtime", "yes", "no realtime scheduling: a runaway process cannot starve the host"),
  d("RestrictSUIDSGID", "yes", "cannot create setuid or setgid files"),
  d("RestrictNamespaces", "yes", "cannot create namespaces (user namespaces are a common kernel exploit path)"),
  d("SystemCallArchitectures", "native", "no 32-bit or x32 system calls"),
  d("RemoveIPC", "yes", "SysV IPC objects and POSIX message queues of the unit's user go when it stops"),
];

/** The system call allow list of a unit that needs no privileged call; `extra` adds groups (e.g. @mount). */
function syscalls(extra: readonly string[] = []): Directive[] {
  return [
    d(
      "SystemCallFilter",
      ["@system-service", ...extra].join(" "),
      `the calls a system service makes${extra.length > 0 ? `, and ${extra.join(" ")}` : ""}; anything else is denied`,
    ),
    d(
      "SystemCallFilter",
      "~@privileged @resources",
      "then no privileged call (chown, setuid, capset, clock, modules, swap, reboot) and no change of resource limits or scheduling",
    ),
    d(
      "SystemCallErrorNumber",
      "EPERM",
      "a denied call fails with EPERM rather than killing the process, so tools fall back where they can (libuv without io_uring, tar without chown)",
    ),
  ];
}

/** Settings that give the unit a mount namespace of its own: not for units that must mount in the host's. */
const KERNEL_AND_FS: readonly Directive[] = [
  d("ProtectSystem", "strict", "the whole file system is read-only but /dev, /proc, /sys and the unit's ReadWritePaths= / RuntimeDirectory="),
  d("ProtectHome", "yes", "/home, /root and /run/user are empty"),
  d("PrivateTmp", "yes", "a /tmp and /var/tmp of its own"),
  d("PrivateDevices", "yes", "a /dev with the pseudo devices only (null, zero, urandom, ...)"),
  d("ProtectKernelTunables", "yes", "/proc/sys and /sys are read-only"),
  d("ProtectKernelModules", "yes", "cannot load kernel modules"),
  d("ProtectKernelLogs", "yes", "cannot read or write the kernel log"),
  d("ProtectControlGroups", "yes", "the cgroup tree is read-only"),
  d("ProtectClock", "yes", "cannot set the clock"),
  d("ProtectHostname", "yes", "cannot change the host name"),
  d("ProtectProc", "invisible", "/proc shows only processes of the unit's own user"),
];

/** BASE and a mount namespace of its own: what every unit but the brick and the packaged daemons takes. */
const SANDBOXED: readonly Directive[] = [...BASE, ...KERNEL_AND_FS, d("PrivateMounts", "yes", "mounts made inside stay inside")];

const PROC_SUBSET = d("ProcSubset", "pid", "/proc holds process directories only (no /proc/sys, /proc/net, /proc/cpuinfo, ...)");
const MDWE = d("MemoryDenyWriteExecute", "yes", "no memory both writable and executable (sh, curl, jq, python, C tools need none)");
const PRIVATE_USERS = d(
  "PrivateUsers",
  "yes",
  "a user namespace that maps root and the unit's user only: no capability held inside counts outside it",
);
const NO_CAPS = d(
  "CapabilityBoundingSet",
  "",
  "no capability at all: root here is an ordinary user that happens to own the root-owned files it writes",
);
const UMASK_PRIVATE = d("UMask", "0077", "what it creates is its own user's only");
const umaskShared = (reader: string) => d("UMask", "0022", `what it creates is world-readable: ${reader}`);
const NO_MDWE_NODE = no("MemoryDenyWriteExecute", "node's JIT (V8) writes the machine code it then runs");
const NO_PRIVATE_NETWORK_TCP = no("PrivateNetwork", "it talks TCP on the host's addresses (the IP policy limits to whom)");
const NO_ROOT_DIRECTORY = no("RootDirectory/RootImage", "runs the host's binaries (Debian's, or the unpacked artifact)");

/**
 * The sandbox of the project's services (non-root users; the `+` ExecStartPre lines that check
 * the mount and make directories run outside it). The SMTP receiver takes the same set.
 */
const SERVICE_SANDBOX: readonly Directive[] = [
  ...SANDBOXED,
  PROC_SUBSET,
  PRIVATE_USERS,
  d("CapabilityBoundingSet", "", "no capability at all"),
  d(
    "RestrictAddressFamilies",
    "AF_UNIX AF_INET AF_INET6",
    "TCP to mongos and for its HTTP port; AF_UNIX for name service lookups; no netlink, no packet sockets",
  ),
  ...syscalls(),
];

const SERVICE_NOT_SET = [NO_MDWE_NODE, NO_PRIVATE_NETWORK_TCP, NO_ROOT_DIRECTORY];

/** The parser: claims spool entries, writes the store, answers /healthz on 127.0.0.1. */
export const PARSER_HARDENING: HardeningProfile = {
  kind: "parser",
  runs: "the parser (node; user bulwark-parser)",
  ip: "loopback",
  directives: [...SERVICE_SANDBOX, umaskShared("the mail API, another user, serves the attachments the parser writes")],
  notSet: SERVICE_NOT_SET,
  goal: 2.0,
  exposure: 0.9,
  exposureBefore: 5.2,
};

/** The mail API: serves haproxy on the lbs over the private subnet; writes nothing. */
const MAIL_API_HARDENING: HardeningProfile = {
  kind: "mail-api",
  runs: "the mail API (node; user bulwark-mail-api)",
  ip: "private",
  directives: [...SERVICE_SANDBOX, UMASK_PRIVATE],
  notSet: SERVICE_NOT_SET,
  goal: 2.0,
  exposure: 1.0,
  exposureBefore: 5.2,
};

/**
 * The SMTP receiver: the mail API's sandbox (it answers haproxy on the lbs over the private
 * subnet too); its unit makes the spool writable (one mount, so the rename from tmp/ into new/
 * stays on one file system) with the parser's cur/ and quarantine/ read-only below it.
 */
const INGRESS_HARDENING: HardeningProfile = {
  ...MAIL_API_HARDENING,
  kind: "ingress",
  runs: "the SMTP receiver (node; user bulwark-parser, the spool's owner)",
};

/** The profiles of the other units Bulwark ships, by unit. */
export const HARDENING = {
  /** bulwark-fip-takeover: curl to the Hetzner API with the token from its credential; writes /run/bulwark. */
  fipTakeover: {
    kind: "fip-takeover",
    runs: "the Floating IP takeover (sh, curl, jq; root)",
    ip: "internet",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      PRIVATE_USERS,
      NO_CAPS,
      d(
        "RuntimeDirectory",
        "bulwark",
        "/run/bulwark (the VRRP state it reads, the server-id cache it writes) is writable and exists even before keepalived's first notify",
      ),
      d("RuntimeDirectoryPreserve", "yes", "and stays when the unit stops: keepalived's notify script and haproxy's state script write there too"),
      d("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6", "HTTPS to the API; AF_UNIX for name service lookups"),
      ...syscalls(),
      MDWE,
      UMASK_PRIVATE,
    ],
    notSet: [
      no("PrivateNetwork", "it calls the Hetzner API"),
      no("IPAddressAllow", "the API's addresses are not known in advance: only the metadata service is denied"),
    ],
    goal: 4.5,
    exposure: 1.4,
    exposureBefore: 9.6,
  },
  /** bulwark-floating-ip: `ip addr replace` of the Floating IP on the public interface, at boot. */
  floatingIp: {
    kind: "floating-ip",
    runs: "the Floating IP address at boot (sh, ip; root)",
    ip: "none",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      d("CapabilityBoundingSet", "CAP_NET_ADMIN", "only what configuring an address on the host's interface takes"),
      d("RestrictAddressFamilies", "AF_NETLINK AF_UNIX", "ip talks netlink"),
      ...syscalls(),
      MDWE,
      UMASK_PRIVATE,
    ],
    notSet: [
      no("PrivateUsers", "CAP_NET_ADMIN must count in the host's network namespace"),
      no("PrivateNetwork", "it configures the host's own interface"),
    ],
    goal: 4.5,
    exposure: 1.4,
    exposureBefore: 9.6,
  },
  /** bulwark-haproxy-watch: a pidfd on haproxy's master process; writes /run/bulwark/haproxy-down. */
  haproxyWatch: {
    kind: "haproxy-watch",
    runs: "the haproxy death watcher (python; root)",
    ip: "none",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      PRIVATE_USERS,
      NO_CAPS,
      d("PrivateNetwork", "yes", "no network: it reads a pid file, holds a pidfd (haproxy's master runs as root, the same user) and writes a file"),
      d("RuntimeDirectory", "bulwark", "/run/bulwark (keepalived's track file) is writable and exists from the first start"),
      d("RuntimeDirectoryPreserve", "yes", "and stays: keepalived reads the track file, and other units write beside it"),
      d("RestrictAddressFamilies", "none", "no socket of any family"),
      ...syscalls(),
      MDWE,
      UMASK_PRIVATE,
    ],
    notSet: [],
    goal: 4.5,
    exposure: 0.5,
    exposureBefore: 9.6,
  },
  /** bulwark-<service>-install: curl the artifact, check its sha256, untar into the install root. */
  install: {
    kind: "install",
    runs: "the service artifact install (sh, node -e, curl, tar; root)",
    ip: "internet",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      PRIVATE_USERS,
      NO_CAPS,
      d("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6", "HTTPS to the artifact server; AF_UNIX for name service lookups"),
      ...syscalls(),
      umaskShared("the service's own user runs what it unpacks"),
    ],
    notSet: [
      NO_MDWE_NODE,
      no("PrivateNetwork", "it downloads the artifact"),
      no("IPAddressAllow", "the artifact server is the topology's choice: only the metadata service is denied"),
    ],
    goal: 4.5,
    exposure: 1.5,
    exposureBefore: 9.6,
  },
  /** bulwark-storage-mount: mkdir of the mount point and `systemctl start` of the mount unit (systemd mounts). */
  storageMount: {
    kind: "storage-mount",
    runs: "the shared-volume mount retry (sh, systemctl; root)",
    ip: "none",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      PRIVATE_USERS,
      NO_CAPS,
      d(
        "PrivateNetwork",
        "yes",
        "no network: systemd itself mounts the volume (the mount unit); systemctl reaches it over a Unix socket in the file system",
      ),
      d("RestrictAddressFamilies", "AF_UNIX", "systemctl's socket to systemd"),
      ...syscalls(),
      MDWE,
      umaskShared("the mount point it may create is traversed by every service user"),
    ],
    notSet: [],
    goal: 4.5,
    exposure: 0.5,
    exposureBefore: 9.6,
  },
  /** bulwark-brick: blkid, mkfs.xfs, /etc/fstab and `mount` of the brick, in the host's mount namespace. */
  brick: {
    kind: "brick",
    runs: "the brick volume (sh, blkid, mkfs.xfs, mount; root)",
    ip: "none",
    directives: [
      ...BASE,
      d("CapabilityBoundingSet", "CAP_SYS_ADMIN", "mount(2) needs it; the rest it touches (the device, /etc/fstab, /srv) is root-owned"),
      d("ProtectClock", "yes", "cannot set the clock (a system call filter and a device rule: no mount namespace)"),
      d(
        "DevicePolicy",
        "closed",
        "the pseudo devices (null, zero, urandom, ...) and the DeviceAllow= below only: a device cgroup rule, no mount namespace",
      ),
      d("DeviceAllow", "block-sd rw", "Hetzner volumes are SCSI disks (sd): mkfs.xfs, blkid and mount open the brick's"),
      d("RestrictAddressFamilies", "AF_UNIX", "no network sockets"),
      ...syscalls(["@mount"]),
      MDWE,
      umaskShared("the brick directory's mode becomes the volume root's, which every client's services traverse"),
    ],
    notSet: [
      no(
        "ProtectSystem, PrivateTmp, PrivateDevices, ProtectKernel*, ProtectControlGroups, ProtectProc, ProtectHostname, PrivateNetwork",
        "each gives the unit a mount namespace of its own, where the brick mount would stay: glusterd must see it",
      ),
      no("PrivateUsers", "mount(2) needs CAP_SYS_ADMIN in the host's user namespace"),
    ],
    goal: 4.5,
    exposure: 3.4,
    exposureBefore: 9.6,
  },
  /** bulwark-gluster-bootstrap: the gluster CLI to the local glusterd (Unix socket) and the peers' (TCP). */
  glusterBootstrap: {
    kind: "gluster-bootstrap",
    runs: "the GlusterFS pool and volume bootstrap (sh, gluster CLI; root)",
    ip: "private",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      d(
        "CapabilityBoundingSet",
        "CAP_NET_BIND_SERVICE",
        "the gluster CLI binds a source port below 1024 for --remote-host when it can: a glusterd with rpc-auth-allow-insecure " +
          "off takes privileged ports only (glusterd 11.1 here took the CLI without it; 10.x on Debian 12 was not tried)",
      ),
      d("ReadWritePaths", "-/var/log/glusterfs", "the CLI's log (cli.log)"),
      d("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6", "glusterd's socket here, TCP to the peers"),
      ...syscalls(),
      MDWE,
      UMASK_PRIVATE,
    ],
    notSet: [
      no("PrivateUsers", "the privileged-port bind needs CAP_NET_BIND_SERVICE in the host's user namespace"),
      no("PrivateNetwork", "it talks to the peers' glusterd"),
    ],
    goal: 4.5,
    exposure: 1.6,
    exposureBefore: 9.6,
  },
  /** bulwark-mongo-bootstrap: mongosh (node) as a dynamic user, to the local mongod/mongos and the members. */
  mongoBootstrap: {
    kind: "mongo-bootstrap",
    runs: "the MongoDB bootstrap (mongosh; dynamic user)",
    ip: "private",
    directives: [
      ...SANDBOXED,
      PROC_SUBSET,
      PRIVATE_USERS,
      d("CapabilityBoundingSet", "", "no capability at all"),
      d("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6", "TCP to the members and routers; AF_UNIX for name service lookups"),
      ...syscalls(),
      UMASK_PRIVATE,
    ],
    notSet: [NO_MDWE_NODE, no("PrivateNetwork", "it talks to the members")],
    goal: 4.5,
    exposure: 1.0,
    exposureBefore: 8.4,
  },
  /** mongod and mongos (MongoDB's binaries, as user mongodb): the metadata block only. */
  mongoDaemon: {
    kind: "mongo-daemon",
    runs: "mongod / mongos (MongoDB's binaries; user mongodb)",
    ip: "internet",
    directives: [],
    notSet: [no("the rest", "MongoDB cannot run where Bulwark is tested: no sandbox of it could be checked")],
    goal: null,
    noGoal: "MongoDB's own daemon with MongoDB's unit settings; not exercised here",
    exposure: 9.2,
    exposureBefore: 9.2,
  },
  /** The shared volume's mount unit: glusterfs's FUSE client stays in its cgroup. */
  glusterMount: {
    kind: "gluster-mount",
    runs: "the GlusterFS FUSE client (mount unit; root)",
    ip: "internet",
    directives: [],
    notSet: [
      no(
        "the rest",
        "a mount unit mounts in the host's mount namespace (no file system sandbox applies) and " +
          "its FUSE client needs CAP_SYS_ADMIN; only the storage lab could show what else it needs",
      ),
    ],
    goal: null,
    noGoal: "a mount unit: the FUSE client mounts in the host's namespace as root",
    exposure: 9.8,
    exposureBefore: 9.8,
  },
} as const satisfies Record<string, HardeningProfile>;

/** Every profile, for the review and the validate tier. */
export const ALL_PROFILES: readonly HardeningProfile[] = [PARSER_HARDENING, MAIL_API_HARDENING, INGRESS_HARDENING, ...Object.values(HARDENING)];

/** The profile of a project service on a host. The parser's /healthz is on 127.0.0.1 in every plan. */
export function serviceHardening(service: "parser" | "mail-api" | "ingress", listenHost: string): HardeningProfile {
  if (service === "mail-api") return MAIL_API_HARDENING;
  if (service === "ingress") return INGRESS_HARDENING;
  if (listenHost !== "127.0.0.1")
    throw new Error(
      `render/hardening: the parser listens on ${listenHost}, but its profile allows loopback ` +
        `only; add a profile (and its measured exposure) for a parser reached over the network`,
    );
  return PARSER_HARDENING;
}

/** The IP lines of a policy; `peers` (space-separated) is what `private` allows besides loopback. */
function ipLines(policy: IpPolicy, peers: string): string[] {
  switch (policy) {
    case "none":
      return ["IPAddressDeny=any"];
    case "loopback":
      return ["IPAddressDeny=any", "IPAddressAllow=localhost"];
    case "private":
      return ["IPAddressDeny=any", `IPAddressAllow=localhost ${peers}`];
    case "internet":
      return [`IPAddressDeny=${METADATA_ADDRESS}`];
  }
}

/** Each IP policy in words, for the review. */
export const IP_POLICY_WORDS: Readonly<Record<IpPolicy, string>> = {
  none: "no IP at all",
  loopback: "loopback only",
  private: "loopback and its peers on the private network",
  internet: `anything but the metadata service ${METADATA_ADDRESS}`,
};

/** The line that names a unit's profile (the review and the validate tier find units by it). */
const SANDBOX_MARKER = "# Sandbox profile: ";

/** What a unit template takes: the marker line and the directive lines, IP policy last. */
export interface UnitSandbox {
  readonly marker: string;
  readonly lines: readonly string[];
}

/**
 * The sandbox of a unit with `profile`; `peers` makes a `private` IP policy concrete: the plan's
 * private subnet, or the exact addresses the unit talks to (space-separated).
 */
export function unitSandbox(profile: HardeningProfile, peers: string): UnitSandbox {
  return {
    marker: `${SANDBOX_MARKER}${profile.kind} (render/hardening.ts)`,
    lines: [...profile.directives.map((x) => `${x.key}=${x.value}`), ...ipLines(profile.ip, peers)],
  };
}

/** The profile a rendered unit names, or undefined when it names none. */
export function profileOfUnit(content: string): HardeningProfile | undefined {
  const m = content.match(/^# Sandbox profile: (\S+)/m);
  return m ? ALL_PROFILES.find((p) => p.kind === m[1]) : undefined;
}
