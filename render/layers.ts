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

export const LAYERS: Readonly<Record<Component, readonly LayerBuilder[]>> = {
  lb: [baseLayer, lbLayer],
  app: [baseLayer, mongoRouterLayer],
  parser: [baseLayer, mongoRouterLayer],
  storage: [baseLayer],
  "mongo-config": [baseLayer, mongoServerLayer],
  "mongo-shard": [baseLayer, mongoServerLayer],
};
