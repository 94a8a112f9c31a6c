// A wrong-password flood and, beside it, honest traffic (the live auth test and the benchmark's
// "under attack" section): bounded in requests per address and in time.
import { createHash, randomBytes } from "node:crypto";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { AUTH_FAILURE_LIMIT } from "../../configs/auth";
import { basic, Endpoint, httpsRequest, Reply } from "./client";
import { docker } from "./proc";

export interface FloodBounds {
    /** Requests each flooding address sends at most. */
    perSource: number;
    /** Requests in flight per flooding address. */
    concurrency: number;
    /**
     * When everything stops (Date.now() based), once each address has sent enough to pass the
     * failure limit with its whole concurrency in flight, so a slow machine reaches it too.
     */
    deadline: number;
}

export interface FloodResult {
    /** The replies each address got (connections refused or reset under load are counted in `errors`). */
    replies: Map<string, Reply[]>;
    errors: number;
    seconds: number;
}

/** Status → count, for a report. */
export function statusCounts(replies: Pick<Reply, "status">[]): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1;
    return counts;
}

/**
 * GET /v2/ as `user` with a fresh wrong password each time, from every address in `sources`, on
 * fresh TLS connections. It runs on a thread of its own (test/live/floodWorker.ts), so the
 * caller's own requests are not queued behind the flood's in one event loop.
 */
export function wrongPasswordFlood(ep: Endpoint, user: string, sources: string[], bounds: FloodBounds): Promise<FloodResult> {
    return new Promise((resolve, reject) => {
        // A worker thread does not inherit the parent's TypeScript loader: it registers tsx's own.
        const script = `require("tsx/cjs"); require(${JSON.stringify(path.join(__dirname, "floodWorker.ts"))});`;
        const worker = new Worker(script, { eval: true, workerData: { ep, user, sources, bounds } });
        worker.once("message", resolve);
        worker.once("error", reject);
        worker.once("exit", (code) => reject(new Error(`the flood's thread exited with ${code} before reporting`)));
    });
}

/** The flood itself, on the calling thread. */
export async function floodFromHere(ep: Endpoint, user: string, sources: string[], bounds: FloodBounds): Promise<FloodResult> {
    const started = Date.now();
    const replies = new Map<string, Reply[]>(sources.map((s) => [s, []]));
    let errors = 0;
    const enough = Math.min(bounds.perSource, AUTH_FAILURE_LIMIT + 2 * bounds.concurrency);
    await Promise.all(
        sources.map(async (from) => {
            let sent = 0;
            const worker = async () => {
                while (sent < bounds.perSource && (sent < enough || Date.now() < bounds.deadline)) {
                    sent++;
                    try {
                        const reply = await httpsRequest(ep, "/v2/", {
                            auth: basic(user, `guess-${randomBytes(6).toString("hex")}`),
                            localAddress: from,
                            timeoutMs: 30_000,
                        });
                        replies.get(from)!.push(reply);
                    } catch {
                        errors++;
                    }
                }
            };
            await Promise.all(Array.from({ length: bounds.concurrency }, worker));
        }),
    );
    return { replies, errors, seconds: (Date.now() - started) / 1000 };
}

/** Sends one request; a wrapper may time it. */
type Send = (request: () => Promise<Reply>) => Promise<Reply>;

/** A monolithic blob upload (POST, then PUT with the digest) from `source`: the reply of each step. */
export async function uploadBlob(
    ep: Endpoint,
    source: string,
    auth: string,
    repo: string,
    body: Buffer,
    send: Send = (request) => request(),
): Promise<Reply[]> {
    const opts = { auth, localAddress: source, timeoutMs: 30_000 };
    const post = await send(() => httpsRequest(ep, `/v2/${repo}/blobs/uploads/`, { ...opts, method: "POST" }));
    if (post.status !== 202) return [post];
    const location = new URL(String(post.headers.location), "https://registry");
    const digest = `digest=sha256:${createHash("sha256").update(body).digest("hex")}`;
    const query = `${location.search ? `${location.search}&` : "?"}${digest}`;
    const put = await send(() => httpsRequest(ep, `${location.pathname}${query}`, { ...opts, method: "PUT", body }));
    return [post, put];
}

export interface HonestResult {
    /** "202>201>200" for each upload, then the read of what was uploaded. */
    outcomes: string[];
    /** Each request's time (ms), uploads' two steps and reads alike. */
    latenciesMs: number[];
}

/** Uploads of `bytes` and reads of them (HEAD), one after the other, from `source` until `deadline` or `maxRounds`. */
export async function honestTraffic(
    ep: Endpoint,
    source: string,
    auth: string,
    repo: string,
    opts: { bytes: number; maxRounds: number; deadline: number },
): Promise<HonestResult> {
    const result: HonestResult = { outcomes: [], latenciesMs: [] };
    const timed: Send = async (f) => {
        const t0 = performance.now();
        try {
            return await f();
        } finally {
            result.latenciesMs.push(performance.now() - t0);
        }
    };
    for (let i = 0; i < opts.maxRounds && Date.now() < opts.deadline; i++) {
        const body = randomBytes(opts.bytes);
        const steps = await uploadBlob(ep, source, auth, repo, body, timed);
        const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
        const read = await timed(() =>
            httpsRequest(ep, `/v2/${repo}/blobs/${digest}`, { auth, method: "HEAD", localAddress: source, timeoutMs: 30_000 }),
        );
        result.outcomes.push([...steps, read].map((r) => r.status).join(">"));
    }
    return result;
}

/** CPU seconds (user + system) the container's processes named `comm` have used so far. */
export async function cpuSeconds(container: string, comm: string): Promise<number> {
    // Fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    const stats = await docker(["exec", container, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null"]);
    let ticks = 0;
    for (const line of stats.split("\n")) {
        const close = line.lastIndexOf(")");
        if (close < 0 || line.slice(line.indexOf("(") + 1, close) !== comm) continue;
        const fields = line.slice(close + 2).split(" ");
        ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks / 100;
}

/** The q-quantile (0–1) of a list of numbers, nearest rank. */
export function quantile(values: number[], q: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
