// Reads while something happens (a `pulumi up`): a paced, bounded loop of authenticated manifest
// GETs, each on a fresh TLS connection that verifies the certificate, and what it saw: how many
// were answered, which failed and why, and the longest time no read was answered.
import { spawn } from "node:child_process";
import * as https from "node:https";
import * as tls from "node:tls";
import { Endpoint } from "./client";

/** What a read loop saw. */
export interface Reads {
    /** Reads answered with 200 and the expected manifest. */
    served: number;
    /** Every failed read: ms since the loop started, and why (a connection error, a status). */
    failed: { atMs: number; why: string }[];
    /**
     * The longest outage: ms from the end of the last read answered before failed reads to the
     * start of the first read answered after them (0 when none failed).
     */
    gapMs: number;
}

export interface ReadTarget {
    ep: Endpoint;
    /** The Authorization header of a user whose password the change leaves alone. */
    auth: string;
    /** e.g. /v2/avail/app/manifests/1 */
    path: string;
    /** The manifest's digest: a 200 with any other is a failure too. */
    digest: string;
    /** Names the certificate may be for (a domain change: the old and the new one). */
    names: string[];
}

export const MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/** One read on a fresh connection: undefined when answered as expected, else why not. */
export function readOnce(t: ReadTarget, timeoutMs = 10_000): Promise<string | undefined> {
    return new Promise((resolve) => {
        const req = https.request(
            {
                host: t.ep.address,
                port: t.ep.httpsPort,
                servername: t.ep.domain,
                path: t.path,
                ca: t.ep.ca,
                agent: false,
                // The chain must verify against the CA; the name may be any of those given.
                checkServerIdentity: (_host, cert) =>
                    t.names.some((n) => tls.checkServerIdentity(n, cert) === undefined)
                        ? undefined
                        : new Error(`certificate is for ${cert.subjectaltname}, not ${t.names.join(" or ")}`),
                headers: { Host: `${t.ep.domain}:${t.ep.httpsPort}`, Authorization: t.auth, Accept: MANIFEST_TYPES },
                timeout: timeoutMs,
            },
            (res) => {
                res.resume();
                res.on("end", () => {
                    if (res.statusCode !== 200) resolve(`status ${res.statusCode}`);
                    else if (res.headers["docker-content-digest"] !== t.digest) resolve(`digest ${res.headers["docker-content-digest"]}`);
                    else resolve(undefined);
                });
                res.on("error", (e) => resolve(e.message));
            },
        );
        req.on("timeout", () => req.destroy(new Error("read timed out")));
        req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
        req.end();
    });
}

export interface ReadBounds {
    /** One read started every this many ms (or as soon as the last one ends, when slower). */
    everyMs: number;
    maxReads: number;
    maxMs: number;
    /** Reads go on this long after the action ends. */
    tailMs: number;
}

export const READ_BOUNDS: ReadBounds = { everyMs: 25, maxReads: 40_000, maxMs: 900_000, tailMs: 2000 };

/**
 * Runs `action` while reading `t` at a steady pace (a failure costs as much time as a read, so
 * the count of failures measures how long reads failed). Bounded in reads and time; the loop
 * stops `tailMs` after the action ends, or fails.
 */
export async function readsDuring<T>(t: ReadTarget, action: () => Promise<T>, bounds = READ_BOUNDS): Promise<{ reads: Reads; result: T }> {
    const reads: Reads = { served: 0, failed: [], gapMs: 0 };
    const t0 = performance.now();
    const deadline = t0 + bounds.maxMs;
    let stopAt = Infinity;
    let lastServedEnd = t0;
    let failing = false;
    const loop = (async () => {
        for (let i = 0; i < bounds.maxReads && performance.now() < Math.min(deadline, stopAt); i++) {
            const start = performance.now();
            const why = await readOnce(t);
            const end = performance.now();
            if (why === undefined) {
                reads.served++;
                if (failing) reads.gapMs = Math.max(reads.gapMs, Math.round(start - lastServedEnd));
                failing = false;
                lastServedEnd = end;
            } else {
                reads.failed.push({ atMs: Math.round(start - t0), why });
                failing = true;
            }
            const pause = start + bounds.everyMs - performance.now();
            if (pause > 0) await new Promise((r) => setTimeout(r, pause));
        }
        // Still failing when the loop ends: the outage lasts at least until now.
        if (failing) reads.gapMs = Math.max(reads.gapMs, Math.round(performance.now() - lastServedEnd));
    })();
    try {
        const result = await action();
        return { reads, result };
    } finally {
        stopAt = performance.now() + bounds.tailMs;
        await loop;
    }
}

/** "3 failed (ECONNREFUSED ×2, status 502 ×1), longest gap 812 ms, 1480 served" */
export function describeReads(r: Reads): string {
    const counts = new Map<string, number>();
    for (const f of r.failed) counts.set(f.why, (counts.get(f.why) ?? 0) + 1);
    const why = [...counts].map(([w, n]) => `${w} ×${n}`).join(", ");
    return `${r.failed.length} failed${why ? ` (${why})` : ""}, longest gap ${r.gapMs} ms, ${r.served} served`;
}

/**
 * When Docker next stops `container` (its stop signal sent: the "kill" event), as
 * performance.now(); undefined if not within `maxMs`. Watches `docker events` from now on.
 */
export function dockerStops(container: string, maxMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
        const events = spawn(
            "docker",
            ["events", "--filter", `container=${container}`, "--filter", "event=kill", "--format", "{{.Action}}"],
            {
                stdio: ["ignore", "pipe", "ignore"],
            },
        );
        const done = (at: number | undefined) => {
            clearTimeout(timer);
            events.kill();
            resolve(at);
        };
        const timer = setTimeout(() => done(undefined), maxMs);
        events.stdout.once("data", () => done(performance.now()));
        events.once("error", () => done(undefined));
    });
}
