/**
 * How the labs read the gluster CLI (glusterfs 11, `--mode=script`): one parser per output, so
 * that the storage, rollout and stack labs count bricks, heal entries and split-brain entries the
 * same way. Each function takes the command's text and never throws; output it does not recognise
 * counts as nothing (0 bricks online, no brick reported), which the callers treat as not ready.
 * The hosts' own gate (templates/base/bulwark-host.py.hbs) reads the same outputs in Python.
 */

/** Sums every `<label>: N` line (one per brick) of the text. */
function sumPerBrick(text: string, label: string): { total: number; bricks: number } {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const values = [...text.matchAll(new RegExp(`^${escaped}:[ \\t]*(\\d+)[ \\t]*$`, "gm"))].map((m) => Number(m[1]));
  return { total: values.reduce((a, b) => a + b, 0), bricks: values.length };
}

/** `gluster volume status <vol> detail`: how many bricks say `Online : Y`. */
export function bricksOnline(statusDetail: string): number {
  return (statusDetail.match(/^Online[ \t]*:[ \t]*Y[ \t]*$/gm) ?? []).length;
}

/** `gluster volume heal <vol> info summary`: heal pending and split-brain entries, and how many bricks reported. */
export function healSummary(summary: string): { pending: number; splitBrain: number; bricks: number } {
  const pending = sumPerBrick(summary, "Number of entries in heal pending");
  return { pending: pending.total, splitBrain: sumPerBrick(summary, "Number of entries in split-brain").total, bricks: pending.bricks };
}

/** `gluster volume heal <vol> info split-brain`: the split-brain entries of every brick. */
export function splitBrainEntries(info: string): number {
  return sumPerBrick(info, "Number of entries in split-brain").total;
}

/** `gluster volume heal <vol> info`: entries still to heal, and how many bricks answered `Status: Connected`. */
export function healEntries(info: string): { entries: number; bricks: number; connected: number } {
  const entries = sumPerBrick(info, "Number of entries");
  return { entries: entries.total, bricks: entries.bricks, connected: (info.match(/^Status: Connected[ \t]*$/gm) ?? []).length };
}

/** `gluster peer status`: how many peers are `Peer in Cluster (Connected)`. */
export function peersConnected(peerStatus: string): number {
  return (peerStatus.match(/^State: Peer in Cluster \(Connected\)[ \t]*$/gm) ?? []).length;
}
