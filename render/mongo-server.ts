/**
 * The layer of every mongo host (config server or shard member): mongod.conf, its systemd unit,
 * the keyFile, MongoDB's apt source and version pin, and on the set's designated member the
 * bootstrap. Set, port, role and members come from the plan (`ctx.plan.mongo`, plan/mongo.ts).
 * The mongodb-org-server package itself is in plan/catalog.ts PACKAGES.
 */
import { replicaSetOf } from "../plan/mongo.ts";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, unitSandbox, type UnitSandbox } from "./hardening.ts";
import { deployMarker } from "./deploy-values.ts";
import { hostFile, none, restart, type HostFile } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";
import { mongoAptPreferences, mongoAptSource } from "./mongo-apt.ts";
import { bootstrapFiles, replicaSetBootstrapConfig, START_BOOTSTRAP } from "./mongo-bootstrap.ts";
import { MONGO_KEYFILE_PATH, mongoKeyFile } from "./mongo-keyfile.ts";
import { checkedMongoConfig } from "./mongo-schema.ts";

const MONGOD_CONFIG_PATH = "/etc/mongod.conf";
/** The admin password the host agent steps a PRIMARY down with (render/agent.ts); root-only. */
export const MONGO_AGENT_ENV_PATH = "/etc/bulwark/mongo-agent.env";
const MONGOD_UNIT_PATH = "/etc/systemd/system/mongod.service";
/** The data and log directories the mongodb-org-server package creates, owned by mongodb. */
const MONGOD_DB_PATH = "/var/lib/mongodb";
const MONGOD_LOG_PATH = "/var/log/mongodb/mongod.log";
const WAIT_PRIVATE_IP = "/usr/local/sbin/bulwark-wait-private-ip";

/** The mongod options Bulwark sets (mongo-schema/mongod.schema.json checks the rendered file). */
interface MongodConfig {
  readonly host: string;
  readonly logPath: string;
  readonly dbPath: string;
  readonly port: number;
  /** Localhost (the localhost exception, the bootstrap) and the private address (members, routers). */
  readonly bindIp: string;
  readonly replSetName: string;
  readonly clusterRole: "configsvr" | "shardsvr";
  readonly keyFile: string;
}

interface MongodUnit {
  readonly host: string;
  readonly replSetName: string;
  readonly clusterRole: string;
  readonly waitPrivateIp: string;
  readonly configPath: string;
  readonly sandbox: UnitSandbox;
}

function mongodConfig(ctx: RenderContext): MongodConfig {
  const set = replicaSetOf(ctx.plan.mongo, ctx.host.name);
  return {
    host: ctx.host.name,
    logPath: MONGOD_LOG_PATH,
    dbPath: MONGOD_DB_PATH,
    port: set.port,
    bindIp: `127.0.0.1,${ctx.host.privateIp}`,
    replSetName: set.name,
    clusterRole: set.clusterRole,
    keyFile: MONGO_KEYFILE_PATH,
  };
}

export function mongoServerLayer(ctx: RenderContext): Layer {
  const set = replicaSetOf(ctx.plan.mongo, ctx.host.name);
  const conf = mongodConfig(ctx);
  const unit: MongodUnit = {
    host: conf.host,
    replSetName: conf.replSetName,
    clusterRole: conf.clusterRole,
    waitPrivateIp: WAIT_PRIVATE_IP,
    configPath: MONGOD_CONFIG_PATH,
    sandbox: unitSandbox(HARDENING.mongoDaemon, ctx.plan.network.subnet),
  };
  const designated = set.bootstrapHost === ctx.host.name;
  const files: HostFile[] = [
    mongoAptPreferences(),
    hostFile(MONGOD_UNIT_PATH, renderTemplate("mongo/mongod.service", unit), { action: restart("mongod.service") }),
    // Deferred: written after the package has installed its own /etc/mongod.conf and created mongodb.
    hostFile(MONGOD_CONFIG_PATH, checkedMongoConfig("mongod", conf.host, renderTemplate("mongo/mongod.conf", conf)), {
      defer: true,
      action: restart("mongod.service"),
    }),
    mongoKeyFile("mongodb"),
    hostFile(MONGO_AGENT_ENV_PATH, `BULWARK_MONGO_ADMIN_PASSWORD=${deployMarker("mongoAdminPassword")}\n`, {
      permissions: "0400",
      action: none("read by the host agent when it steps this member down"),
    }),
    ...(designated ? bootstrapFiles(ctx.host.name, replicaSetBootstrapConfig(set)) : []),
  ];
  return {
    files,
    // restart, not start: should the package have started mongod with its own config, this applies ours.
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "mongod.service"],
      ["systemctl", "restart", "mongod.service"],
      ...(designated ? [START_BOOTSTRAP] : []),
    ],
    aptSources: mongoAptSource(ctx.host.image),
  };
}
