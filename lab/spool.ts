/**
 * The shared spool and the document store as a lab sees them: through one client host's FUSE
 * mount (/proc/<container init>/root), so deliveries and audits go through gluster like the
 * services' own I/O. Deliveries are Maildir-style (write into tmp/, then rename into new/); the
 * audit looks each message up by its content key (sha256), as the parser stores it.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { round } from "../measure/stats.ts";
import type { Plan } from "../plan/model.ts";
import type { LabHost } from "./nspawn.ts";

export interface BatchAudit {
  readonly messages: number;
  readonly stored: number;
  readonly lost: number;
  readonly quarantined: number;
  /** Stored documents that match no input, or a message both stored and quarantined. */
  readonly duplicates: number;
  readonly drain_s: number;
}

export interface SpoolAccess {
  /** A spool subdirectory (tmp, new, cur, quarantine) as this machine reaches it. */
  spool(dir: string): string;
  /** The document of content key `key` as this machine reaches it. */
  docPath(key: string): string;
  /** Delivers `messages` named `<tag>-<n>`; returns the names. */
  deliver(tag: string, messages: readonly Buffer[]): string[];
  /** Delivers one message named `name`. */
  deliverOne(name: string, message: Buffer): void;
  spoolEmpty(): boolean;
  storedCount(messages: readonly Buffer[]): number;
  audit(names: readonly string[], messages: readonly Buffer[], drainS: number): BatchAudit;
}

export const contentKey = (m: Buffer) => createHash("sha256").update(m).digest("hex");

export function spoolAccess(plan: Plan, via: LabHost): SpoolAccess {
  const svc = plan.services;
  const fs = (path: string) => `/proc/${via.leader}/root${path}`;
  const spool = (d: string) => fs(`${svc.spoolDir}/${d}`);
  const docPath = (key: string) => fs(`${svc.storeDir}/messages/${key.slice(0, 2)}/${key}.json`);
  const deliverOne = (name: string, m: Buffer) => {
    writeFileSync(join(spool("tmp"), name), m);
    renameSync(join(spool("tmp"), name), join(spool("new"), name));
  };
  return {
    spool,
    docPath,
    deliverOne,
    deliver(tag, messages) {
      const names = messages.map((_, i) => `${tag}-${String(i).padStart(4, "0")}`);
      for (const [i, m] of messages.entries()) writeFileSync(join(spool("tmp"), names[i]!), m);
      for (const n of names) renameSync(join(spool("tmp"), n), join(spool("new"), n));
      return names;
    },
    spoolEmpty: () => ["new", "cur"].every((d) => readdirSync(spool(d)).filter((n) => !n.startsWith(".")).length === 0),
    storedCount: (messages) => messages.filter((m) => existsSync(docPath(contentKey(m)))).length,
    audit(names, messages, drainS) {
      const quarantine = new Set(readdirSync(spool("quarantine")));
      let stored = 0;
      let lost = 0;
      let quarantined = 0;
      let duplicates = 0;
      messages.forEach((m, i) => {
        const key = contentKey(m);
        const path = docPath(key);
        const isStored = existsSync(path) && (JSON.parse(readFileSync(path, "utf8")) as { key?: string }).key === key;
        const isQuarantined = quarantine.has(names[i]!);
        if (isStored) stored++;
        if (isQuarantined) quarantined++;
        if (isStored && isQuarantined) duplicates++;
        if (!isStored && !isQuarantined) lost++;
      });
      return { messages: messages.length, stored, lost, quarantined, duplicates, drain_s: round(drainS) };
    },
  };
}
