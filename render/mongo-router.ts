/**
 * The layer of every app and parser host: a mongos on 127.0.0.1 (the services' only way to
 * MongoDB), its unit, the keyFile, /etc/bulwark/mongo.env for the services, and on the
 * designated router the cluster bootstrap. Layers carry no package list, so the mongos package
 * is installed by runcmd (after cloud-init's apt-get update, which already sees MongoDB's repo).
 */
import { configSetOf, MONGO_APP_DB, MONGO_APP_USER, MONGOS_PORT } from "../plan/mongo.ts";
import { deployMarker } from "./deploy-values.ts";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, unitSandbox, type UnitSandbox } from "./hardening.ts";
import { hostFile, restart, type HostFile } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";
import { mongoAptPreferences, mongoAptSource } from "./mongo-apt.ts";
import { bootstrapFiles, clusterBootstrapConfig, START_BOOTSTRAP } from "./mongo-bootstrap.ts";
import { MONGO_KEYFILE_PATH, mongoKeyFile } from "./mongo-keyfile.ts";
import { checkedMongoConfig } from "./mongo-schema.ts";

const MONGOS_CONFIG_PATH = "/etc/mongos.conf";
const MONGOS_UNIT_PATH = "/etc/systemd/system/mongos.service";
export const MONGO_ENV_PATH = "/etc/bulwark/mongo.env";

/** The mongos options Bulwark sets (mongo-schema/mongos.schema.json checks the rendered file). */
interface MongosConfig {
  readonly host: string;
  readonly port: number;
  /** Localhost only: nothing outside the host talks to this router. */
  readonly bindIp: string;
  /** `cfg/ip:27019,...`: the config server replica set. */
  readonly configDB: string;
  readonly keyFile: string;
}

interface MongosUnit {
  readonly host: string;
  readonly bindIp: string;
  readonly port: number;
  readonly configPath: string;
  readonly sandbox: UnitSandbox;
}

interface ServiceEnv {
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly options: string;
}

function mongosConfig(ctx: RenderContext): MongosConfig {
  return { host: ctx.host.name, port: MONGOS_PORT, bindIp: "127.0.0.1", configDB: configSetOf(ctx.plan.mongo).seedList, keyFile: MONGO_KEYFILE_PATH };
}

/** The system user mongos runs as; the mongos package (unlike the server package) creates none. */
const CREATE_MONGODB_USER = [
  "useradd",
  "--system",
  "--user-group",
  "--no-create-home",
  "--home-dir",
  "/nonexistent",
  "--shell",
  "/usr/sbin/nologin",
  "mongodb",
];

/** The project service on this router host (mail API or parser), which reads mongo.env when it starts. */
function serviceUnitOf(ctx: RenderContext): string {
  const service = ctx.plan.services.hosts[ctx.host.name]?.service;
  if (!service) throw new Error(`render/mongo-router: ${ctx.host.name} runs no service; mongos runs on app and parser hosts only`);
  return ctx.plan.services.artifacts[service].unit;
}

export function mongoRouterLayer(ctx: RenderContext): Layer {
  const mongo = ctx.plan.mongo;
  const conf = mongosConfig(ctx);
  const designated = mongo.clusterBootstrapHost === ctx.host.name;
  const unit: MongosUnit = {
    host: conf.host,
    bindIp: conf.bindIp,
    port: conf.port,
    configPath: MONGOS_CONFIG_PATH,
    sandbox: unitSandbox(HARDENING.mongoDaemon, ctx.plan.network.subnet),
  };
  const env: ServiceEnv = {
    user: MONGO_APP_USER,
    password: deployMarker("mongoAppPassword"),
    host: mongo.serviceUrl.host,
    port: mongo.serviceUrl.port,
    database: MONGO_APP_DB,
    options: mongo.serviceUrl.options,
  };
  const files: HostFile[] = [
    mongoAptPreferences(),
    hostFile(MONGOS_CONFIG_PATH, checkedMongoConfig("mongos", conf.host, renderTemplate("mongo/mongos.conf", conf)), {
      action: restart("mongos.service"),
    }),
    hostFile(MONGOS_UNIT_PATH, renderTemplate("mongo/mongos.service", unit), { action: restart("mongos.service") }),
    mongoKeyFile("root"),
    // The host's service reads BULWARK_MONGO_URL at start.
    hostFile(MONGO_ENV_PATH, renderTemplate("mongo/mongo.env", env), { permissions: "0600", action: restart(serviceUnitOf(ctx)) }),
    ...(designated ? bootstrapFiles(ctx.host.name, clusterBootstrapConfig(mongo)) : []),
  ];
  const packages = ["mongodb-org-mongos", ...(designated ? ["mongodb-mongosh"] : [])];
  return {
    files,
    runcmd: [
      ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "--yes", "--no-install-recommends", ...packages],
      CREATE_MONGODB_USER,
      ["chown", "mongodb:mongodb", MONGO_KEYFILE_PATH],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "mongos.service"],
      ...(designated ? [START_BOOTSTRAP] : []),
    ],
    aptSources: mongoAptSource(ctx.host.image),
  };
}
