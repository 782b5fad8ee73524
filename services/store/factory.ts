import { connectMongoDocumentStore } from "./mongo-store.ts";
import { FsAttachmentStore, FsDocumentStore } from "./fs-store.ts";
import type { MessageStore } from "./types.ts";

/** Which document backend to use. Attachments always go to the filesystem. */
export type StoreKind = "fs" | "mongo";

/** Store settings as read from the environment. */
export interface StoreConfig {
  kind: StoreKind;
  /** Root for attachments, and for documents when kind is "fs". */
  dir: string;
  /** MongoDB URL, used when kind is "mongo". */
  mongoUrl: string;
}

/** Opens the configured store. */
export async function openStore(cfg: StoreConfig): Promise<MessageStore> {
  const attachments = new FsAttachmentStore(cfg.dir);
  const documents = cfg.kind === "mongo" ? await connectMongoDocumentStore(cfg.mongoUrl) : new FsDocumentStore(cfg.dir);
  return { documents, attachments, close: () => documents.close() };
}

/** Parses a store kind from configuration, naming the bad value and the fix. */
export function parseStoreKind(value: string, envName: string): StoreKind {
  if (value === "fs" || value === "mongo") return value;
  throw new Error(`${envName}=${JSON.stringify(value)} is not a store kind: set it to "fs" or "mongo"`);
}
