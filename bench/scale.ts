// `npm run bench`, how the cost grows (issue 25 §3), on the live bed, in one run:
//   (a) small-layer push through ours with today's config (one user, access by user) and with
//       50 users and 200 repository rules (settings/repositories.ts): the per-request check
//       stays in nginx's memory. Runs interleaved (a `pulumi up` between them, which changes
//       the rules only), medians.
//   (b) the read-only window that GC and retention hold, from USR1 to "writes resumed", at
//       BENCH_WINDOW_MANIFESTS manifests on the data volume and BENCH_WINDOW_S3_MANIFESTS on the
//       S3 test server (test/live/s3server.ts): tiny images in 50 repositories, a tag each.
//       First with nothing to delete (today's config), then with half the tags to go and
//       gcDeleteUntagged: on the data volume, retention rules that keep each repository's newer
//       half; on S3, where retention is refused, half the tags untagged through the API. Split
//       by the supervisor's log into stopping the writer, retention, collection (mark and
//       sweep) and starting a writer again. Mark is a dry-run GC (`--dry-run`, deletes
//       nothing) of the storage the collection then gets, timed just before its window; sweep
//       the rest of collection. So on the data volume retention runs in a window of its own
//       first (see below), and the window reported is the sum.
// Writes scale.{json,md} beside bench.ts's results (or BENCH_OUT).
import { randomBytes, createHash } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { REGISTRY_CONFIG_PATH, REGISTRY_DATA_DIR, S3_CA_DIR, S3_CA_PATH, S3_KEYS_PATH } from "../configs/registry";
import { Bed, BED_SLOTS } from "../test/live/bed";
import { Endpoint } from "../test/live/client";
import { Engine } from "../test/live/engine";
import { containerLog, LogLine, showLog, supervisorReady } from "../test/live/gc";
import { docker, run } from "../test/live/proc";
import { S3Server } from "../test/live/s3server";
import { makeOciImage } from "./oci";
import { median, push, round, Target } from "./skopeo";
import { benchSession, writeResults } from "./session";

const MiB = 1024 * 1024;
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const list = (k: string, d: number[]) => (process.env[k] ? process.env[k]!.split(",").map(Number) : d);
const SIZES = {
    smallCount: env("BENCH_SMALL_COUNT", 20),
    smallMiB: env("BENCH_SMALL_MB", 10),
    runs: env("BENCH_RUNS", 3),
    users: env("BENCH_ACCESS_USERS", 50),
    rulesPerUser: 4,
    windowManifests: list("BENCH_WINDOW_MANIFESTS", [1000, 10000]),
    windowS3Manifests: list("BENCH_WINDOW_S3_MANIFESTS", [1000]),
    repositories: 50,
};
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const seconds = (ms: number) => round(ms / 1000, 2);

/** Requests over a few kept connections, as a client that pushes many manifests would. */
class Api {
    private readonly agent: https.Agent;
    constructor(
        private readonly ep: Endpoint,
        private readonly auth: string,
    ) {
        this.agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: ep.ca, servername: ep.domain });
    }
    request(
        method: string,
        urlPath: string,
        body?: Buffer,
        contentType?: string,
    ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
        return new Promise((resolve, reject) => {
            const req = https.request(
                {
                    host: this.ep.address,
                    port: this.ep.httpsPort,
                    path: urlPath,
                    method,
                    agent: this.agent,
                    headers: {
                        Host: `${this.ep.domain}:${this.ep.httpsPort}`,
                        Authorization: this.auth,
                        ...(body
                            ? { "Content-Type": contentType ?? "application/octet-stream", "Content-Length": String(body.length) }
                            : {}),
                    },
                    timeout: 60_000,
                },
                (res) => {
                    let text = "";
                    res.on("data", (d) => (text += d));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
            req.on("error", reject);
            req.end(body);
        });
    }
    async must(method: string, urlPath: string, want: number, body?: Buffer, contentType?: string) {
        const r = await this.request(method, urlPath, body, contentType);
        if (r.status !== want) throw new Error(`${method} ${urlPath}: ${r.status} (expected ${want}): ${r.body.slice(0, 300)}`);
        return r;
    }
    close(): void {
        this.agent.destroy();
    }
}

/** Runs `jobs` with at most `width` at once. */
async function pool(jobs: (() => Promise<unknown>)[], width: number): Promise<void> {
    let next = 0;
    await Promise.all(
        Array.from({ length: Math.min(width, jobs.length) }, async () => {
            while (next < jobs.length) await jobs[next++]();
        }),
    );
}

/** The repositories of a population of `manifests` tiny images under `ns`, and their tags (t000000, ...). */
function layout(ns: string, manifests: number): { repos: string[]; perRepo: number } {
    const count = Math.min(SIZES.repositories, manifests);
    return {
        repos: Array.from({ length: count }, (_, i) => `${ns}/r${String(i).padStart(2, "0")}`),
        perRepo: Math.ceil(manifests / count),
    };
}
const tag = (i: number) => `t${String(i).padStart(6, "0")}`;

/** Pushes `perRepo` distinct manifests (a shared 1 KiB layer and config, an annotation each) to each repository, one tag each. */
async function populate(api: Api, ns: string, manifests: number): Promise<void> {
    const { repos, perRepo } = layout(ns, manifests);
    const blob = async (repo: string, body: Buffer) => {
        const started = await api.must("POST", `/v2/${repo}/blobs/uploads/`, 202);
        const location = new URL(String(started.headers.location), "https://registry");
        const sep = location.search ? "&" : "?";
        await api.must("PUT", `${location.pathname}${location.search}${sep}digest=${sha256(body)}`, 201, body);
        return { digest: sha256(body), size: body.length };
    };
    const jobs: (() => Promise<unknown>)[] = [];
    await pool(
        repos.map((repo) => async () => {
            const layer = await blob(repo, randomBytes(1024));
            const config = await blob(repo, Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" })));
            for (let i = 0; i < perRepo; i++) {
                const manifest = Buffer.from(
                    JSON.stringify({
                        schemaVersion: 2,
                        mediaType: OCI_MANIFEST,
                        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
                        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
                        annotations: { "bench.n": `${repo}-${i}` },
                    }),
                );
                jobs.push(() => api.must("PUT", `/v2/${repo}/manifests/${tag(i)}`, 201, manifest, OCI_MANIFEST));
            }
        }),
        8,
    );
    await pool(jobs, 16);
}

/** The window's phases, in seconds, from the supervisor's log (configs/templates/registry-supervisor.sh.mustache). */
interface Window {
    manifests: number;
    deleted: number;
    totalS: number;
    readOnlyS: number;
    retentionS: number;
    collectS: number;
    markS: number;
    sweepS: number;
    resumeS: number;
}

/** `registry garbage-collect --dry-run` in the registry container, with the supervisor's S3 keys and CA when it has them; its seconds. */
async function dryRunMark(registry: string, s3: boolean, untagged: boolean): Promise<number> {
    const keys = s3
        ? `{ IFS= read -r REGISTRY_STORAGE_S3_ACCESSKEY; IFS= read -r REGISTRY_STORAGE_S3_SECRETKEY; } < ${S3_KEYS_PATH}; export REGISTRY_STORAGE_S3_ACCESSKEY REGISTRY_STORAGE_S3_SECRETKEY; mkdir -p ${S3_CA_DIR}; cp ${S3_CA_PATH} ${S3_CA_DIR}/ca.crt; export SSL_CERT_DIR=${S3_CA_DIR}:/etc/ssl/certs; `
        : "";
    const script = `${keys}s=$(date +%s%N); registry garbage-collect --dry-run ${untagged ? "--delete-untagged " : ""}${REGISTRY_CONFIG_PATH} > /dev/null 2>&1 || exit 1; echo $(( $(date +%s%N) - s ))`;
    const r = await run("docker", ["exec", registry, "sh", "-c", script], { timeoutMs: 1_800_000 });
    if (r.code !== 0) throw new Error(`dry-run GC failed in ${registry}: ${r.stderr}`);
    return Number(r.stdout.trim()) / 1e9;
}

/** Sends USR1 and reads the window off the supervisor's log. */
async function window(registry: string, manifests: number, deleted: number, markS: number): Promise<Window> {
    await supervisorReady(registry);
    const since = new Date(Date.now() - 1000).toISOString();
    const sent = Date.now();
    await docker(["kill", "--signal", "USR1", registry]);
    let log: LogLine[] = [];
    const at = (pattern: RegExp) => log.find((l) => l.at >= sent - 5 && pattern.test(l.text))?.at;
    for (const deadline = Date.now() + 3_600_000; at(/registry-gc: ended: writes resumed/) === undefined;) {
        if (Date.now() > deadline) throw new Error(`no end of the GC window within an hour:\n${showLog(log)}`);
        await new Promise((r) => setTimeout(r, 250));
        log = await containerLog(registry, since);
    }
    const need = (pattern: RegExp) => {
        const t = at(pattern);
        if (t === undefined) throw new Error(`no ${pattern} in ${registry}'s log:\n${showLog(log)}`);
        return t;
    };
    const stopped = need(/registry-gc: writer stopped/);
    const retained = at(/registry-gc: retention \(/) ?? stopped;
    const collected = need(/registry-gc: garbage-collect (finished|FAILED)/);
    const ended = need(/registry-gc: ended: writes resumed/);
    const collectS = (collected - retained) / 1000;
    return {
        manifests,
        deleted,
        totalS: seconds(ended - sent),
        readOnlyS: seconds(stopped - sent),
        retentionS: seconds(retained - stopped),
        collectS: round(collectS, 2),
        markS: round(markS, 2),
        sweepS: round(Math.max(0, collectS - markS), 2),
        resumeS: seconds(ended - collected),
    };
}

async function main(): Promise<void> {
    const label = `scale-${randomBytes(3).toString("hex")}`;
    const engine = new Engine();
    const bed = new Bed(label, engine, BED_SLOTS.scale);
    const s3 = new S3Server();
    const { work, log, cleanup } = benchSession("scale", async () => {
        await bed.cleanup();
        await engine.close();
        await s3.stop();
    });
    const results: Record<string, unknown> = { sizes: SIZES, when: new Date().toISOString(), cores: os.cpus().length };
    const registry = `${bed.prefix}-registry`;
    const user = { name: "bench", password: `bench-${randomBytes(12).toString("hex")}` };
    const auth = `Basic ${Buffer.from(`${user.name}:${user.password}`).toString("base64")}`;
    try {
        // (a) Today's config against 50 users with 4 repository rules each (the bench user's
        // last one grants its repositories).
        const today = { users: { [user.name]: { access: "push", password: user.password } } };
        const others = Object.fromEntries(
            Array.from({ length: SIZES.users - 1 }, (_, i) => [
                `user${i}`,
                {
                    access: "none",
                    password: `user${i}-${randomBytes(9).toString("hex")}`,
                    repositories: {
                        [`team-${i}/*`]: "push",
                        [`team-${i}/ci/**`]: "push",
                        [`shared/team-${i}-*`]: "pull",
                        [`tools/${i}/**`]: "pull",
                    },
                },
            ]),
        );
        const withRules = {
            users: {
                ...others,
                [user.name]: {
                    access: "none",
                    password: user.password,
                    repositories: { "team-x/*": "push", "shared/team-x-*": "pull", "tools/x/**": "pull", "bench/**": "push" },
                },
            },
        };
        const configs = { today: bed.config(today), rules: bed.config(withRules) };
        const deployed = await bed.up(configs.today);
        const ca = deployed.outputs.caRoot.value as string;
        const ip = await docker(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", `${bed.prefix}-nginx`]);
        const target: Target = { host: ip, tlsVerify: false };
        const authfile = path.join(work, "auth.json");
        fs.writeFileSync(authfile, JSON.stringify({ auths: { [ip]: { auth: auth.slice(6) } } }), { mode: 0o600 });
        const bytes = SIZES.smallCount * SIZES.smallMiB * MiB;
        const rates: Record<"today" | "rules", number[]> = { today: [], rules: [] };
        for (let r = 0; r < SIZES.runs; r++) {
            for (const which of r % 2 ? (["rules", "today"] as const) : (["today", "rules"] as const)) {
                await bed.up(configs[which]);
                const dir = path.join(work, `push-${which}-${r}`);
                await makeOciImage(
                    dir,
                    "1",
                    Array.from({ length: SIZES.smallCount }, () => SIZES.smallMiB * MiB),
                );
                const t = await push(target, dir, "1", `bench/${which}-${r}`, authfile);
                fs.rmSync(dir, { recursive: true, force: true });
                rates[which].push(bytes / 1e6 / t.seconds);
                log(`push ${SIZES.smallCount} × ${SIZES.smallMiB} MiB, ${which}, run ${r + 1}: ${round(bytes / 1e6 / t.seconds)} MB/s`);
            }
        }
        const push50 = { todayMBps: round(median(rates.today)), rulesMBps: round(median(rates.rules)), samples: rates };
        results.accessRules = {
            ...push50,
            users: SIZES.users,
            rules: SIZES.users * SIZES.rulesPerUser,
            ratio: round(push50.rulesMBps / push50.todayMBps, 3),
        };

        // (b) The window, on the data volume: today's config (nothing to delete), then rules that
        // keep each repository's newer half, with gcDeleteUntagged.
        const ep: Endpoint = await bed.endpoint(ca);
        const windows: Record<string, { nothing: Window; half: Window }> = {};
        for (const [n, manifests] of SIZES.windowManifests.entries()) {
            const ns = `fs${n}`;
            const { perRepo, repos } = layout(ns, manifests);
            await bed.up(configs.today);
            const api = new Api(ep, auth);
            const t0 = performance.now();
            await populate(api, ns, manifests);
            api.close();
            const total = repos.length * perRepo;
            log(`filesystem: ${total} manifests pushed in ${seconds(performance.now() - t0)} s`);
            const nothing = await window(registry, total, 0, await dryRunMark(registry, false, false));
            log(`filesystem ${total}, nothing to delete: ${JSON.stringify(nothing)}`);
            // Retention in a window of its own (gcDeleteUntagged off: its collection sweeps
            // nothing), then the next window collects what it left untagged, with the mark
            // timed by a dry run between them, on that very storage. One GC with both does
            // the same in a row: its window is the second one plus retention.
            const deleted = repos.length * (perRepo - Math.floor(perRepo / 2));
            await bed.up(
                bed.config({
                    ...today,
                    retention: [{ repositories: `${ns}/**`, keepLast: Math.floor(perRepo / 2) }],
                    retentionDryRun: false,
                }),
            );
            const retained = await window(registry, total, deleted, 0);
            await bed.up(bed.config({ ...today, gcDeleteUntagged: true }));
            const collected = await window(registry, total, deleted, await dryRunMark(registry, false, true));
            const half = { ...collected, retentionS: retained.retentionS, totalS: round(collected.totalS + retained.retentionS, 2) };
            log(`filesystem ${total}, half the tags to delete: ${JSON.stringify(half)}`);
            windows[`filesystem ${total}`] = { nothing, half };
            // The next size starts from an empty data volume: the registry stopped meanwhile.
            await docker(["stop", registry]);
            await docker([
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "sh",
                "--volume",
                `${bed.prefix}-data:${REGISTRY_DATA_DIR}`,
                bed.images.REGISTRY_IMAGE,
                "-c",
                `rm -rf ${REGISTRY_DATA_DIR}/docker`,
            ]);
            await docker(["start", registry]);
        }

        // On the S3 test server: the same, half the tags untagged through the API (retention is
        // refused with S3 storage).
        await s3.start();
        s3.createBucket("bench");
        for (const [n, manifests] of SIZES.windowS3Manifests.entries()) {
            const ns = `s3${n}`;
            const { perRepo, repos } = layout(ns, manifests);
            const s3Config = {
                ...today,
                storage: {
                    driver: "s3",
                    bucket: "bench",
                    endpoint: s3.endpoint,
                    rootDirectory: `run${n}`,
                    accessKey: s3.accessKey,
                    secretKey: s3.secretKey,
                    redirect: false,
                    caCertificate: s3.caPem,
                },
            };
            await bed.up(bed.config(s3Config));
            const api = new Api(ep, auth);
            let t0 = performance.now();
            await populate(api, ns, manifests);
            const total = repos.length * perRepo;
            log(`S3: ${total} manifests pushed in ${seconds(performance.now() - t0)} s`);
            const nothing = await window(registry, total, 0, await dryRunMark(registry, true, false));
            log(`S3 ${total}, nothing to delete: ${JSON.stringify(nothing)}`);
            t0 = performance.now();
            const untag: (() => Promise<unknown>)[] = [];
            for (const repo of repos)
                for (let i = 0; i < perRepo - Math.floor(perRepo / 2); i++)
                    untag.push(() => api.must("DELETE", `/v2/${repo}/manifests/${tag(i)}`, 202));
            await pool(untag, 16);
            api.close();
            log(`S3: ${untag.length} tags untagged through the API in ${seconds(performance.now() - t0)} s`);
            await bed.up(bed.config({ ...s3Config, gcDeleteUntagged: true }));
            const half = await window(registry, total, untag.length, await dryRunMark(registry, true, true));
            log(`S3 ${total}, half the tags untagged: ${JSON.stringify(half)}`);
            windows[`S3 ${total}`] = { nothing, half };
        }
        results.windows = windows;
    } finally {
        await cleanup();
    }
    writeResults("scale", results, markdown);
}

function markdown(r: Record<string, any>): string {
    const a = r.accessRules;
    const rows = Object.entries(r.windows as Record<string, { nothing: Window; half: Window }>).flatMap(([name, w]) =>
        (["nothing", "half"] as const).map((k) => {
            const x = w[k];
            const what =
                k === "nothing"
                    ? "nothing to delete"
                    : `${x.deleted} tags deleted${name.startsWith("S3") ? " (by the API, before)" : " (by retention)"}`;
            return `| ${name}, ${what} | ${x.totalS} | ${x.readOnlyS} | ${x.retentionS} | ${x.markS} | ${x.sweepS} | ${x.resumeS} |`;
        }),
    );
    return [
        `How the cost grows, ${r.when} on ${r.cores} cores.`,
        "",
        `Small-layer push (${r.sizes.smallCount} × ${r.sizes.smallMiB} MiB, skopeo, through ours), medians of ${r.sizes.runs} interleaved runs:`,
        "",
        "| config | push MB/s | ratio |",
        "| --- | ---: | ---: |",
        `| today's (one user, access by user) | ${a.todayMBps} | 1 |`,
        `| ${a.users} users, ${a.rules} repository rules | ${a.rulesMBps} | ${a.ratio} |`,
        "",
        `The read-only window (USR1 to "writes resumed"), seconds; tiny images in ${r.sizes.repositories} repositories, a tag each; nothing to delete: today's config (gcDeleteUntagged off); half the tags deleted: gcDeleteUntagged on. Mark: a dry-run GC of the storage the collection gets, just before its window; sweep: the rest of collection. On the data volume, retention ran in a window of its own just before (same storage), and the window is the sum of retention and the collecting window.`,
        "",
        "| storage, manifests | window | stop the writer | retention | mark | sweep | start a writer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ...rows,
        "",
    ].join("\n");
}

main().catch((e) => {
    process.stderr.write(`bench scale failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
});
