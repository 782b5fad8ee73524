/**
 * Where MongoDB comes from: MongoDB's official apt repository, its signing key pinned by full
 * fingerprint, and the version held by an apt preferences file. One place for the version.
 *
 * - Version: 8.0, MongoDB's current major release (supported to 2029-10-31, docker-library/mongo
 *   versions.json); 8.2 is a minor release with a short support window. Patch 8.0.16 is the
 *   newest this project has seen published; raise MONGODB_VERSION to take a newer patch.
 * - Debian 13: MongoDB documents 8.0 for Debian 12 only and publishes no 8.0 server packages
 *   for trixie, so Debian 13 hosts use the bookworm suite (amd64 only; see docs/database.md).
 * - Key: "MongoDB 8.0 Release Signing Key" (server-8.0.asc), kept in the repository
 *   (render/keys/mongodb-server-8.0.asc, which says where the copy came from) and handed to
 *   cloud-init in user_data (`key:`), so first boot asks no keyserver. Loading it checks its v4
 *   fingerprint (computed from the key packet, render/openpgp.ts) against the pin below.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Image } from "../topology/model.ts";
import { renderTemplate } from "./handlebars.ts";
import { hostFile, none, type HostFile } from "./host-file.ts";
import type { AptSourceWithKey } from "./layer.ts";
import { armouredBlock, primaryKeyFingerprint } from "./openpgp.ts";

const MONGODB_SERIES = "8.0";
export const MONGODB_VERSION = "8.0.16";
/** mongosh is versioned apart from the server; any 2.x speaks to 8.0 (the bootstrap uses only runCommand). */
const MONGOSH_VERSION = "2.*";
export const MONGODB_KEY_FINGERPRINT = "4B0752C1BCA238C0B4EE14DC41DE058A4E7DCA05";
/** The armoured signing key of MONGODB_SERIES, kept in the repository. */
export const MONGODB_KEY_FILE = join(dirname(fileURLToPath(import.meta.url)), "keys", `mongodb-server-${MONGODB_SERIES}.asc`);

let mongoKey: string | undefined;

/** The armoured key block cloud-init gets; throws unless its fingerprint is MONGODB_KEY_FINGERPRINT. */
export function mongodbSigningKey(): string {
  if (mongoKey === undefined) {
    const block = armouredBlock(readFileSync(MONGODB_KEY_FILE, "utf8"));
    const fingerprint = primaryKeyFingerprint(block);
    if (fingerprint !== MONGODB_KEY_FINGERPRINT) {
      throw new Error(
        `render/mongo-apt: ${MONGODB_KEY_FILE} holds the key ${fingerprint}, not MongoDB's ${MONGODB_SERIES} signing ` +
          `key ${MONGODB_KEY_FINGERPRINT}; put MongoDB's published key there (or change the pin with the series)`,
      );
    }
    mongoKey = block;
  }
  return mongoKey;
}
/** The packages the preferences file holds at MONGODB_VERSION. */
const MONGODB_SERVER_PACKAGES = ["mongodb-org-server", "mongodb-org-mongos"] as const;
/** cloud-init's apt source name (the file /etc/apt/sources.list.d/mongodb-org.list). */
const MONGODB_APT_SOURCE_NAME = "mongodb-org";

interface RepoSuite {
  readonly distro: "debian" | "ubuntu";
  readonly suite: string;
  readonly component: string;
  readonly arch: string;
}

/** The repository suite per image. */
const MONGODB_SUITES: Readonly<Record<Image, RepoSuite>> = {
  "debian-12": { distro: "debian", suite: "bookworm", component: "main", arch: "amd64" },
  // No 8.0 server packages for trixie: the bookworm build, which MongoDB supports on Debian 12.
  "debian-13": { distro: "debian", suite: "bookworm", component: "main", arch: "amd64" },
  "ubuntu-24.04": { distro: "ubuntu", suite: "noble", component: "multiverse", arch: "amd64,arm64" },
};

export function mongoAptSource(image: Image): Record<string, AptSourceWithKey> {
  const s = MONGODB_SUITES[image];
  return {
    [MONGODB_APT_SOURCE_NAME]: {
      source:
        `deb [arch=${s.arch} signed-by=$KEY_FILE] ` +
        `https://repo.mongodb.org/apt/${s.distro} ${s.suite}/mongodb-org/${MONGODB_SERIES} ${s.component}`,
      key: mongodbSigningKey(),
    },
  };
}

interface AptPreferences {
  readonly serverPackages: string;
  readonly serverVersion: string;
  readonly shellVersion: string;
}

/** /etc/apt/preferences.d/mongodb-org: written before packages are installed, so it also picks the version installed. */
export function mongoAptPreferences(): HostFile {
  const prefs: AptPreferences = { serverPackages: MONGODB_SERVER_PACKAGES.join(" "), serverVersion: MONGODB_VERSION, shellVersion: MONGOSH_VERSION };
  return hostFile("/etc/apt/preferences.d/mongodb-org", renderTemplate("mongo/mongodb-org.pref", prefs), {
    action: none("read by apt at the next install or upgrade"),
  });
}
