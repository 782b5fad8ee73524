/**
 * The MongoDB keyFile (internal authentication of members and routers): one deploy-time secret
 * from the random provider, the same on every mongod and mongos, mode 0400 owned by mongodb.
 */
import { deployMarker } from "./deploy-values.ts";
import { renderTemplate } from "./handlebars.ts";
import { hostFile, restart, type HostFile } from "./host-file.ts";

export const MONGO_KEYFILE_PATH = "/etc/bulwark/mongo-keyfile";

interface KeyFile {
  readonly keyFile: string;
}

/**
 * On mongo hosts the owner exists only after mongodb-org-server is installed: the file is
 * deferred. On routers (no package creates the user) it is written as root and chowned by the
 * router layer's runcmd once it has created the user.
 */
export function mongoKeyFile(owner: "mongodb" | "root"): HostFile {
  const content = renderTemplate("mongo/mongo-keyfile", { keyFile: deployMarker("mongoKeyFile") } satisfies KeyFile);
  return owner === "mongodb"
    ? hostFile(MONGO_KEYFILE_PATH, content, { permissions: "0400", owner: "mongodb:mongodb", defer: true, action: restart("mongod.service") })
    : hostFile(MONGO_KEYFILE_PATH, content, { permissions: "0400", action: restart("mongos.service") });
}
