/**
 * Account and group names `admin.user` may not take. cloud-init gives the admin user
 * passwordless sudo and the admins' SSH keys: on a system or service account that would hand a
 * daemon's identity both (or, where the account is locked or has no shell, lock the admins out),
 * and on an existing group name `useradd` fails, leaving the host with no admin user at all.
 *
 * Bulwark's own service accounts all start with `bulwark-` (services `bulwark-parser`,
 * `bulwark-mail-api`; the DynamicUser of `bulwark-mongo-bootstrap.service`); the default admin
 * user `bulwark` itself is not reserved. test/unit/reserved-users.test.ts renders hosts and
 * checks that every user and group their files and units name is reserved here.
 */

/** Accounts and groups of a Debian or Ubuntu base system and of the packages Bulwark installs. */
const RESERVED_USER_NAMES: ReadonlySet<string> = new Set([
  // Debian base-passwd users and groups
  "root",
  "daemon",
  "bin",
  "sys",
  "sync",
  "games",
  "man",
  "lp",
  "mail",
  "news",
  "uucp",
  "proxy",
  "www-data",
  "backup",
  "list",
  "irc",
  "gnats",
  "nobody",
  "nogroup",
  "adm",
  "tty",
  "disk",
  "kmem",
  "dialout",
  "fax",
  "voice",
  "cdrom",
  "floppy",
  "tape",
  "sudo",
  "audio",
  "dip",
  "operator",
  "src",
  "shadow",
  "utmp",
  "video",
  "sasl",
  "plugdev",
  "staff",
  "users",
  "input",
  "sgx",
  "kvm",
  "render",
  "netdev",
  "crontab",
  "admin",
  "wheel",
  "lxd",
  "ssl-cert",
  // accounts that daemons of a cloud image create (Debian and Ubuntu)
  "messagebus",
  "polkitd",
  "sshd",
  "tss",
  "uuidd",
  "tcpdump",
  "dnsmasq",
  "chrony",
  "ntp",
  "ntpsec",
  "syslog",
  "landscape",
  "pollinate",
  "usbmux",
  "dhcpcd",
  "fwupd-refresh",
  "statd",
  "rpc",
  // the packages Bulwark installs: haproxy, keepalived, glusterfs, MongoDB
  "haproxy",
  "keepalived",
  "gluster",
  "glusterfs",
  "mongodb",
  "mongod",
]);

/** Prefixes of account families: systemd's own users, and Bulwark's service users. */
const RESERVED_USER_PREFIXES: readonly string[] = ["systemd-", "bulwark-"];

/** Why `name` may not be the admin user, or undefined when it may. */
export function reservedUserReason(name: string): string | undefined {
  if (RESERVED_USER_NAMES.has(name)) return "is a system or service account or group name";
  const prefix = RESERVED_USER_PREFIXES.find((p) => name.startsWith(p));
  if (prefix === "bulwark-") return "starts with bulwark-, which names Bulwark's own service accounts";
  if (prefix !== undefined) return `starts with ${prefix}, which names systemd's own accounts`;
  return undefined;
}
