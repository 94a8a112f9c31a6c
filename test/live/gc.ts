// The garbage-collection scenario, run against whichever storage the stack uses (the data
// volume, or an S3 bucket): a deleted image's blobs are reclaimed, writes get 503 with
// Retry-After while GC runs, reads go on, an upload in flight when GC starts finishes and
// completes afterwards, other repositories still pull, and the deleted image re-pushes at once.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { docker, run } from "./proc";
import { basic, DockerClient, Endpoint, httpsRequest, slowPatch } from "./client";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `promise`, or a rejection naming what was awaited once `ms` have passed. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Something that will happen once: `fire` it, await `happened`. */
export function oneEvent(): { happened: Promise<void>; fire: () => void } {
    let fire!: () => void;
    const happened = new Promise<void>((resolve) => (fire = resolve));
    return { happened, fire };
}

/** A line of a container's log, with the time Docker received it (ms since the epoch, to the microsecond). */
export interface LogLine {
    at: number;
    text: string;
}

/** A container's log since `since` (an ISO time): stdout and stderr, in the order Docker received the lines. */
export async function containerLog(container: string, since: string): Promise<LogLine[]> {
    const r = await run("docker", ["logs", "--timestamps", "--since", since, container]);
    if (r.code !== 0) throw new Error(`docker logs ${container}: ${r.stderr}`);
    const lines: LogLine[] = [];
    for (const raw of `${r.stdout}\n${r.stderr}`.split("\n")) {
        // RFC 3339 with up to nine digits of the second (Docker drops trailing zeros).
        const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z (.*)$/.exec(raw);
        if (m) lines.push({ at: Date.parse(`${m[1]}Z`) + Number(`0.${(m[2] ?? "0").padEnd(9, "0")}`) * 1000, text: m[3] });
    }
    return lines.sort((a, b) => a.at - b.at);
}

/** The whole log, for a failure's message. */
export const showLog = (log: LogLine[]) => log.map((l) => `${new Date(l.at).toISOString()} ${l.text}`).join("\n");

/** Waits (at most `timeoutMs`) until the container's log since `since` has a line matching `pattern`; returns it and the log. */
export async function logShows(
    container: string,
    since: string,
    pattern: RegExp,
    timeoutMs = 60_000,
): Promise<{ line: LogLine; log: LogLine[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const log = await containerLog(container, since);
        const line = log.find((l) => pattern.test(l.text));
        if (line) return { line, log };
        if (Date.now() > deadline)
            throw new Error(`${container} logged nothing matching ${pattern} within ${timeoutMs} ms:\n${showLog(log)}`);
        await sleep(100);
    }
}

/**
 * The registry's supervisor (configs/templates/registry-supervisor.sh.mustache) as seen from
 * inside its container: whether PID 1, the supervisor, catches USR1 (its trap is set; until
 * then USR1 would end it), and the PIDs of the `sleep 2` that ends each turn of its loop, a
 * child of PID 1 begun after that turn's checks (GC requested, GC due).
 */
const SUPERVISOR_PROBE = [
    "awk '/^SigCgt:/ { print \"caught\", $2 }' /proc/1/status",
    "for d in /proc/[0-9]*; do",
    "  [ \"$(tr '\\0' ' ' < \"$d/cmdline\" 2>/dev/null)\" = 'sleep 2 ' ] || continue",
    '  read -r pid _ _ ppid _ < "$d/stat" 2>/dev/null && [ "$ppid" = 1 ] && echo "turn $pid"',
    "done",
    "true",
].join("\n");
const SIGUSR1 = 10n;

async function supervisorState(registry: string): Promise<{ catchesUsr1: boolean; turns: string[] }> {
    const out = await docker(["exec", registry, "sh", "-c", SUPERVISOR_PROBE]);
    let catchesUsr1 = false;
    const turns: string[] = [];
    for (const [kind, value] of out.split("\n").map((l) => l.split(" "))) {
        if (kind === "caught") catchesUsr1 = ((BigInt(`0x${value}`) >> (SIGUSR1 - 1n)) & 1n) === 1n;
        if (kind === "turn") turns.push(value);
    }
    return { catchesUsr1, turns };
}

/**
 * Waits (at most `timeoutMs`) until the registry's supervisor has ended a turn of its loop:
 * its traps are set (USR1 asks for a GC) and it has checked once whether a GC is due or asked for.
 */
export async function supervisorReady(registry: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const state = await supervisorState(registry);
        if (state.turns.length > 0) {
            assert.ok(state.catchesUsr1, `${registry}'s supervisor runs its loop without a USR1 trap`);
            return;
        }
        if (Date.now() > deadline) throw new Error(`${registry}'s supervisor ended no turn of its loop within ${timeoutMs} ms`);
        await sleep(200);
    }
}

/**
 * Waits (at most `timeoutMs`) until the registry's supervisor has begun and ended `turns`
 * turns of its loop after this call, so that it has checked that often since, whether a GC
 * is due or asked for. A turn's sleep first seen after the call may end a turn whose checks
 * came before it: the turns counted are those after it.
 */
export async function supervisorTurns(registry: string, turns: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const before = new Set((await supervisorState(registry)).turns);
    const seen = new Set<string>();
    while (seen.size < turns + 1) {
        if (Date.now() > deadline) throw new Error(`${registry}'s supervisor ended ${seen.size} turns within ${timeoutMs} ms`);
        await sleep(200);
        for (const pid of (await supervisorState(registry)).turns) if (!before.has(pid)) seen.add(pid);
    }
}

export interface GcScenario {
    client: DockerClient;
    ep: Endpoint;
    /** host:port images are tagged with. */
    host: string;
    /** A push user. */
    user: { name: string; password: string };
    /** Container name prefix of the stack. */
    prefix: string;
    /** Repository namespace the scenario uses, e.g. "gc". */
    namespace: string;
    /** KiB the registry's blobs take in its storage right now. */
    storedKiB: () => Promise<number>;
}

const MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/** Runs the scenario; returns the local image references it created (for cleanup). */
export async function garbageCollection(c: GcScenario): Promise<string[]> {
    const auth = basic(c.user.name, c.user.password);
    const ns = c.namespace;
    const keep = `${c.host}/${ns}/keep:1`;
    const drop = `${c.host}/${ns}/drop:1`;
    const created = [keep, drop];
    await c.client.makeImage(keep, 512 * 1024);
    await c.client.must(["push", keep]);
    await c.client.makeImage(drop, 4 * 1024 * 1024);
    await c.client.must(["push", drop]);
    const manifest = await httpsRequest(c.ep, `/v2/${ns}/drop/manifests/1`, { auth, method: "HEAD", accept: MANIFEST_TYPES });
    const digest = String(manifest.headers["docker-content-digest"]);
    assert.match(digest, /^sha256:/);
    assert.equal((await httpsRequest(c.ep, `/v2/${ns}/drop/manifests/${digest}`, { auth, method: "DELETE" })).status, 202);
    const before = await c.storedKiB();
    const registry = `${c.prefix}-registry`;
    const since = new Date(Date.now() - 1000).toISOString();

    // An upload in flight when GC starts: it must finish, not be cut. The signal goes once the
    // supervisor's USR1 trap is set, and once nginx has passed the upload on to the registry.
    await supervisorReady(registry);
    const started = await httpsRequest(c.ep, `/v2/${ns}/slow/blobs/uploads/`, { auth, method: "POST" });
    assert.equal(started.status, 202);
    const chunks = 12;
    const chunkBytes = 64 * 1024;
    const passedOn = oneEvent();
    const inFlight = slowPatch(c.ep, String(started.headers.location), auth, chunks, chunkBytes, 250, passedOn.fire);
    inFlight.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    await within(passedOn.happened, 30_000, "nginx passing the upload on to the registry (100 Continue)");
    await docker(["kill", "--signal", "USR1", registry]);
    const flagged = async () =>
        (await run("docker", ["exec", `${c.prefix}-nginx`, "test", "-f", "/etc/nginx/registry-control/gc-in-progress"])).code === 0;
    for (let i = 0; i < 50 && !(await flagged()); i++) await sleep(100);
    assert.ok(await flagged(), "GC flagged");
    const refused = await httpsRequest(c.ep, `/v2/${ns}/other/blobs/uploads/`, { auth, method: "POST" });
    assert.equal(refused.status, 503, "a new write during GC is refused");
    assert.equal(refused.headers["retry-after"], "30");
    assert.equal((await httpsRequest(c.ep, `/v2/${ns}/keep/tags/list`, { auth })).status, 200, "reads go on during GC");
    const patched = await inFlight;
    assert.equal(patched.status, 202, `the in-flight upload finished: ${patched.body}`);
    for (let i = 0; i < 300 && (await flagged()); i++) await sleep(100);
    assert.equal(await flagged(), false, "GC ended");
    const log = await containerLog(registry, since);
    assert.ok(
        log.some((l) => /registry-gc: garbage-collect finished/.test(l.text)),
        showLog(log),
    );

    const after = await c.storedKiB();
    assert.ok(before - after >= 4000, `GC reclaimed the deleted image's 4 MiB layer (${before} KiB -> ${after} KiB)`);
    await c.client.must(["image", "rm", keep]);
    await c.client.must(["pull", keep]);
    // A re-push of the deleted image works at once.
    await c.client.must(["push", drop]);
    await c.client.must(["image", "rm", drop]);
    await c.client.must(["pull", drop]);
    // And writes work again: the upload started before GC completes.
    const body = Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.alloc(chunkBytes, i)));
    const location = new URL(String(patched.headers.location), "https://registry");
    const digestParam = `digest=sha256:${createHash("sha256").update(body).digest("hex")}`;
    const put = await httpsRequest(c.ep, `${location.pathname}${location.search ? `${location.search}&` : "?"}${digestParam}`, {
        auth,
        method: "PUT",
    });
    assert.equal(put.status, 201, put.body);
    return created;
}
