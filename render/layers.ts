/**
 * Which layers each component gets, in order. The base layer comes first on every host.
 * A new role concern adds its builder here and nowhere else.
 */
import type { Component } from "../topology/hosts.ts";
import { baseLayer } from "./base.ts";
import type { LayerBuilder } from "./layer.ts";

export const LAYERS: Readonly<Record<Component, readonly LayerBuilder[]>> = {
  lb: [baseLayer],
  app: [baseLayer],
  parser: [baseLayer],
  storage: [baseLayer],
  "mongo-config": [baseLayer],
  "mongo-shard": [baseLayer],
};
