/**
 * Which layers each component gets, in order. The base layer comes first on every host.
 * A new role concern adds its builder here and nowhere else.
 */
import type { Component } from "../topology/hosts.ts";
import { baseLayer } from "./base.ts";
import type { LayerBuilder } from "./layer.ts";
import { lbLayer } from "./lb.ts";
import { mongoRouterLayer } from "./mongo-router.ts";
import { mongoServerLayer } from "./mongo-server.ts";
import { servicesLayer } from "./services.ts";
import { storageClientLayer } from "./storage-client.ts";
import { storageServerLayer } from "./storage-server.ts";

export const LAYERS: Readonly<Record<Component, readonly LayerBuilder[]>> = {
  lb: [baseLayer, lbLayer],
  // servicesLayer before mongoRouterLayer: the router's bootstrap start stays the last runcmd;
  // the service units order themselves after mongos (After=), whatever the runcmd order.
  app: [baseLayer, storageClientLayer, servicesLayer, mongoRouterLayer],
  parser: [baseLayer, storageClientLayer, servicesLayer, mongoRouterLayer],
  storage: [baseLayer, storageServerLayer],
  "mongo-config": [baseLayer, mongoServerLayer],
  "mongo-shard": [baseLayer, mongoServerLayer],
};
