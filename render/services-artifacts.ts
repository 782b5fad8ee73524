/**
 * The sha256 of each service artifact, as the hosts will verify it. Synth is offline and
 * deterministic, so the digests come from the byte-reproducible build in dist/services/
 * (services/build.ts): reused while its manifest matches the current sources, rebuilt
 * (about 1 s) when they changed. Looked up once per process.
 */
import { ensureServiceArtifacts } from "../services/build.ts";
import type { ServiceName } from "../plan/services.ts";

export interface ServiceArtifactDigest {
  /** Path of the built file, relative to the repository root (what the user uploads). */
  readonly file: string;
  readonly sha256: string;
}

let cached: Readonly<Record<ServiceName, ServiceArtifactDigest>> | undefined;

export function serviceArtifactDigests(): Readonly<Record<ServiceName, ServiceArtifactDigest>> {
  if (!cached) {
    const { artifacts } = ensureServiceArtifacts();
    const pick = (name: ServiceName): ServiceArtifactDigest => {
      const a = artifacts[name];
      if (!a) throw new Error(`services: dist/services/manifest.json has no ${name} artifact; run npm run build:services`);
      return a;
    };
    cached = { parser: pick("parser"), "mail-api": pick("mail-api") };
  }
  return cached;
}
