/**
 * The lab's host image: a Debian 13 root filesystem made by debootstrap with systemd,
 * cloud-init and every package the plan's roles install, so a host boots its rendered user-data
 * without network access. Built once per package list and cached; booted read-only with
 * `--volatile=overlay`, so many hosts share it.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BASE_PACKAGES as EVERY_HOST, PACKAGES } from "../plan/catalog.ts";
import type { LabRun } from "./run.ts";

/** What the image needs beyond the roles' packages: an init, cloud-init and its tools. */
const BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "iproute2", "procps", "python3-cffi-backend", "cloud-init", "ca-certificates"];
/** Debian 13, the seed's image. */
const SUITE = "trixie";
const MIRROR = "http://deb.debian.org/debian";
const CACHE = process.env["BULWARK_LAB_CACHE"] ?? "/var/cache/bulwark-lab";

/** The packages of the roles a lab boots (only those Debian carries; see `skip`). */
export function imagePackages(components: readonly (keyof typeof PACKAGES)[], skip: readonly string[] = []): string[] {
  return [...new Set([...BASE_PACKAGES, ...EVERY_HOST, ...components.flatMap((c) => PACKAGES[c])])].filter((p) => !skip.includes(p)).sort();
}

/** Returns the path of a rootfs with `packages`, building it (about 1.5 to 3 min) if needed. */
export async function ensureRootfs(run: LabRun, packages: readonly string[]): Promise<string> {
  const key = createHash("sha256")
    .update(`${SUITE}\n${packages.join("\n")}`)
    .digest("hex")
    .slice(0, 12);
  const root = join(CACHE, `rootfs-${SUITE}-${key}`);
  if (existsSync(join(root, ".bulwark-complete"))) {
    run.log(`image: cached ${root}`);
    return root;
  }
  mkdirSync(CACHE, { recursive: true });
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  run.log(`image: debootstrap ${SUITE} with ${packages.length} packages into ${root} (one-time, a few minutes)`);
  const started = Date.now();
  try {
    await run.exec("debootstrap", ["--variant=minbase", `--include=${packages.join(",")}`, SUITE, building, MIRROR], { timeoutMs: 20 * 60_000 });
    // The lab's hosts read a NoCloud seed and get their addresses from the lab (which sets up
    // their namespace before boot): cloud-init must not probe other datasources or rewrite
    // the network configuration.
    writeFileSync(join(building, "etc/cloud/cloud.cfg.d/90-bulwark-lab.cfg"), "datasource_list: [ NoCloud, None ]\nnetwork: {config: disabled}\n");
    writeFileSync(join(building, ".bulwark-complete"), `${packages.join("\n")}\n`);
    try {
      renameSync(building, root);
    } catch (err) {
      // Another run built the same image meanwhile: use it.
      if (!existsSync(join(root, ".bulwark-complete"))) throw err;
      rmSync(building, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
  run.log(`image: built in ${Math.round((Date.now() - started) / 1000)} s`);
  return root;
}
