// `npm run bench`: what users feel, measured on the live test bed in one run.
//   - layer throughput, push and pull with skopeo, through (a) our nginx + TLS, (b) straight
//     to a second instance of the registry image, over plain HTTP (the limit here; ours listens
//     on no TCP port), (c) nginx with the seed tutorial's HTTPS server block, exactly, in the
//     image's stock nginx.conf, to that second registry as `registry:5000` (same image,
//     certificate and users' file); runs interleaved, medians;
//   - cold deploy, with a breakdown per step; program evaluation (mocked preview);
//   - renewal under load; concurrent pushes and pulls;
//   - under attack: a wrong-password flood from several addresses, and meanwhile another
//     address's uploads and reads (their p50/p99), what the flood got, nginx's CPU.
// Sizes come from the environment (BENCH_*), so a smoke run can use tiny ones.
// Prints a table and writes bench/results/latest.{json,md} (or BENCH_OUT).
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runProgram } from "../test/harness/program";
import { Recorder } from "../test/harness/recorder";
import { docker } from "../test/live/proc";
import { Bed, BED_SLOTS } from "../test/live/bed";
import { CERT_NAME, LETSENCRYPT_DIR } from "../configs/certificates";
import { NGINX_AUTH_DIR } from "../configs/nginx";
import { Engine } from "../test/live/engine";
import { bedHostAddress } from "../test/live/hostAddress";
import { canConnect, Endpoint } from "../test/live/client";
import { cpuSeconds, honestTraffic, HonestResult, quantile, statusCounts, wrongPasswordFlood } from "../test/live/flood";
import { forceRenewal, requestsDuring } from "../test/live/load";
import { sourceAddresses } from "../test/live/sourceAddresses";
import { measureEngine } from "./engineSpeed";
import { makeOciImage } from "./oci";
import { median, pull, push, round, Target as BaseTarget, Timing } from "./skopeo";
import { OUT } from "./session";

const MiB = 1024 * 1024;
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SIZES = {
    layerMiB: env("BENCH_LAYER_MB", 1024),
    smallCount: env("BENCH_SMALL_COUNT", 20),
    smallMiB: env("BENCH_SMALL_MB", 10),
    runs: env("BENCH_RUNS", 3),
    concurrency: env("BENCH_CONCURRENCY", 20),
    concurrentMiB: env("BENCH_CONCURRENT_MB", 5),
    engineRuns: env("BENCH_ENGINE_RUNS", 5),
    floodSeconds: env("BENCH_FLOOD_SECONDS", 20),
    floodSources: env("BENCH_FLOOD_SOURCES", 4),
    floodConcurrency: env("BENCH_FLOOD_CONCURRENCY", 16),
};

// The "seed": the tutorial's HTTPS server block, exactly (HTTP/2, its ciphers and session
// cache, auth_basic for the whole server, the registry by name with no upstream block,
// buffering left on), as /etc/nginx/conf.d/registry.conf beside the image's stock nginx.conf.
// Only the paths are the bed's: the certificate ours serves and the users' file ours reads.
const seedServer = (domain: string, htpasswd: string) => `server {
    listen 443 ssl http2;
    server_name ${domain};

    ssl_certificate /etc/letsencrypt/live/${CERT_NAME}/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/${CERT_NAME}/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 10m;

    client_max_body_size 0;
    chunked_transfer_encoding on;

    auth_basic "Docker Registry";
    auth_basic_user_file ${htpasswd};

    location /v2/ {
        proxy_pass http://${SEED_REGISTRY};
        proxy_set_header Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 900;
    }
}
`;
/** Where the seed finds its registry: the benchmark's direct instance, under the name the tutorial uses. */
const SEED_REGISTRY = "registry:5000";

/** The three paths a layer takes, and how the tables name them. */
const PATHS = { a_ours: "(a) ours", b_direct: "(b) direct", c_seed: "(c) seed" } as const;
type PathName = keyof typeof PATHS;
const PATH_NAMES = Object.keys(PATHS) as PathName[];
type Target = BaseTarget & { name: PathName };
/** Per path, a list of push samples and one of pull samples. */
const samplesByPath = <T>() =>
    Object.fromEntries(PATH_NAMES.map((p) => [p, { push: [] as T[], pull: [] as T[] }])) as Record<PathName, { push: T[]; pull: T[] }>;
/** Who works when a layer moves: the client (skopeo), the TLS proxy (nginx) and the registry. */
const WORKERS = ["client", "proxy", "registry"] as const;
type Worker = (typeof WORKERS)[number];
/** A server process: its container (after the bed's prefix) and process name. */
type ServerProcess = { container: string; comm: string };
/** On each path, its proxy and registry processes. */
const SERVERS: Record<PathName, Partial<Record<Exclude<Worker, "client">, ServerProcess>>> = {
    a_ours: { proxy: { container: "nginx", comm: "nginx" }, registry: { container: "registry", comm: "registry" } },
    b_direct: { registry: { container: "direct", comm: "registry" } },
    c_seed: { proxy: { container: "seed", comm: "nginx" }, registry: { container: "direct", comm: "registry" } },
};

async function main(): Promise<void> {
    const label = `bench-${randomBytes(3).toString("hex")}`;
    const engine = new Engine();
    const bed = new Bed(label, engine, BED_SLOTS.bench);
    // The seed nginx is published next to ours.
    const DOMAIN = bed.domain;
    const SEED_PORT = bed.ports.https + 1;
    const user = { name: "bench", password: `bench-${randomBytes(12).toString("hex")}` };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-"));
    const results: Record<string, unknown> = { sizes: SIZES, when: new Date().toISOString(), versions: versions(bed) };
    const log = (line: string) => process.stdout.write(`bench: ${line}\n`);
    // Interrupted (Ctrl-C, a timeout): still remove what the bench created.
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
            log(`${signal}: cleaning up`);
            bed.cleanup()
                .then(() => engine.close())
                .finally(() => process.exit(130));
        });
    }
    try {
        // Program evaluation: the whole program under mocks, as a preview (unknown outputs).
        const evals: number[] = [];
        for (let i = 0; i < 5; i++) {
            const t0 = performance.now();
            await runProgram({ config: bed.config(), mocks: new Recorder(true), preview: true });
            evals.push(performance.now() - t0);
        }
        results.programEvaluationMs = { first: round(evals[0]), median: round(median(evals.slice(1))) };
        log(`mocked preview: first ${round(evals[0])} ms, then median ${round(median(evals.slice(1)))} ms`);

        // The engine: previews and ups as ratios to an empty program's preview. Its cold up
        // (empty engine, images present) is the deployment the rest of the benchmark uses, at
        // the product's defaults (bcrypt cost among them).
        const devConfig = bed.config({ users: { [user.name]: { access: "push", password: user.password } } });
        const { speed, deployed } = await measureEngine(engine, bed, devConfig, SIZES.engineRuns, log);
        results.engine = speed;
        const deployS = speed.coldUpS;
        const host = deployed.outputs.host.value as string;
        const ca = deployed.outputs.caRoot.value as string;
        await bed.addHostsEntry();
        bed.trustRoot(host, ca);
        bed.trustRoot(`${DOMAIN}:${SEED_PORT}`, ca);
        const auth = Buffer.from(`${user.name}:${user.password}`).toString("base64");
        const authfile = path.join(work, "auth.json");
        fs.writeFileSync(authfile, JSON.stringify({ auths: { [host]: { auth }, [`${DOMAIN}:${SEED_PORT}`]: { auth } } }), { mode: 0o600 });

        const first = path.join(work, "first");
        await makeOciImage(first, "1", [256 * 1024]);
        const firstPushS = (await push({ host, tlsVerify: true }, first, "1", "bench/first", authfile)).seconds;
        const sum = (...names: string[]) =>
            round(bed.steps.filter((s) => names.includes(s.name)).reduce((acc, s) => acc + (s.ms ?? 0), 0) / 1000, 2);
        results.coldDeploy = {
            totalToFirstPushS: round(deployS + firstPushS, 2),
            upS: round(deployS, 2),
            firstPushS: round(firstPushS, 2),
            steps: {
                containers: sum("registry-registry", "registry-nginx", "registry-pebble-container", "registry-certbot"),
                httpConfig: sum("registry-tls-http-config"),
                certonly: sum("registry-tls-certonly"),
                httpsConfig: sum("registry-tls-https-config"),
                htpasswd: sum("registry-htpasswd-install"),
            },
        };
        log(`cold deploy: up ${round(deployS, 2)} s + first push ${round(firstPushS, 2)} s`);

        const prefix = bed.prefix;
        // Throughput goes to the containers' own addresses: published loopback ports pass
        // through docker-proxy, a userland copy that real clients (arriving from outside,
        // DNAT'd by the kernel) never see. TLS stays on for (a) and (c); only the name check
        // is off, since the certificate names the domain, not the address.
        // The registry itself listens on no TCP port (only nginx reaches it): its direct speed is
        // measured on a second instance of the same image, on the network, with its own storage.
        await docker([
            "run",
            "--detach",
            "--name",
            `${prefix}-direct`,
            "--label",
            `registry-bed=${label}`,
            "--network",
            `${prefix}-net`,
            "--network-alias",
            SEED_REGISTRY.split(":")[0],
            "--env",
            "REGISTRY_LOG_LEVEL=info",
            bed.images.REGISTRY_IMAGE,
        ]);
        // The seed tutorial's nginx, beside ours: same image, certificate and users' file (the
        // one ours reads, named by its content); the image's own entrypoint, command and nginx.conf.
        const seed = await docker([
            "create",
            "--name",
            `${prefix}-seed`,
            "--label",
            `registry-bed=${label}`,
            "--network",
            `${prefix}-net`,
            "--publish",
            `${await bedHostAddress()}:${SEED_PORT}:443`,
            "--volume",
            `${prefix}-certs:${LETSENCRYPT_DIR}:ro`,
            "--volume",
            `${prefix}-auth:${NGINX_AUTH_DIR}:ro`,
            bed.images.NGINX_IMAGE,
        ]);
        const htpasswd = await docker(["exec", `${prefix}-nginx`, "sh", "-c", `ls ${NGINX_AUTH_DIR}/htpasswd-*`]);
        fs.writeFileSync(path.join(work, "registry.conf"), seedServer(DOMAIN, htpasswd));
        await docker(["cp", path.join(work, "registry.conf"), `${seed}:/etc/nginx/conf.d/registry.conf`]);
        await docker(["start", seed]);
        const ip = (name: string) => docker(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name]);
        const targets: Target[] = [
            { name: "a_ours", host: await ip(`${prefix}-nginx`), tlsVerify: false },
            { name: "b_direct", host: `${await ip(`${prefix}-direct`)}:5000`, tlsVerify: false },
            { name: "c_seed", host: await ip(`${prefix}-seed`), tlsVerify: false },
        ];
        for (let i = 0; i < 100 && !(await canConnect(targets[1].host.split(":")[0], 5000)); i++)
            await new Promise((r) => setTimeout(r, 100));
        fs.writeFileSync(
            authfile,
            JSON.stringify({ auths: { [host]: { auth }, [targets[0].host]: { auth }, [targets[2].host]: { auth } } }),
            { mode: 0o600 },
        );

        // Layer throughput, interleaved: every run pushes a fresh random image through each path.
        const throughput: Record<string, Record<PathName, { push: number[]; pull: number[] }>> = {};
        // And the CPU each process on the path spent on it, per GB moved.
        type CpuSample = Record<Worker, number>;
        const cpu: Record<string, Record<PathName, { push: CpuSample[]; pull: CpuSample[] }>> = {};
        const cpuPerGB = async (name: PathName, bytes: number, transfer: () => Promise<Timing>) => {
            const servers = Object.entries(SERVERS[name]) as [Exclude<Worker, "client">, ServerProcess][];
            const serverCpu = () => Promise.all(servers.map(([, s]) => cpuSeconds(`${prefix}-${s.container}`, s.comm)));
            const before = await serverCpu();
            const timing = await transfer();
            const after = await serverCpu();
            const perGB = (s: number) => round(s / (bytes / 1e9), 2);
            const sample: CpuSample = { client: perGB(timing.clientCpuS), proxy: 0, registry: 0 };
            servers.forEach(([worker], i) => (sample[worker] = perGB(after[i] - before[i])));
            return { seconds: timing.seconds, cpu: sample };
        };
        for (const [kind, layers] of [
            ["large", [SIZES.layerMiB * MiB]],
            ["small", Array.from({ length: SIZES.smallCount }, () => SIZES.smallMiB * MiB)],
        ] as const) {
            const bytes = layers.reduce((a, b) => a + b, 0);
            throughput[kind] = samplesByPath<number>();
            cpu[kind] = samplesByPath<CpuSample>();
            for (let r = 0; r < SIZES.runs; r++) {
                for (const target of targets) {
                    const layout = path.join(work, `${kind}-${r}-${target.name}`);
                    await makeOciImage(layout, "1", [...layers]);
                    const repo = `bench/${kind}-${target.name}-${r}`;
                    const pushed = await cpuPerGB(target.name, bytes, () => push(target, layout, "1", repo, authfile));
                    fs.rmSync(layout, { recursive: true, force: true });
                    const pulled = await cpuPerGB(target.name, bytes, () => pull(target, "1", repo, authfile));
                    const [pushS, pullS] = [pushed.seconds, pulled.seconds];
                    cpu[kind][target.name].push.push(pushed.cpu);
                    cpu[kind][target.name].pull.push(pulled.cpu);
                    throughput[kind][target.name].push.push(bytes / 1e6 / pushS);
                    throughput[kind][target.name].pull.push(bytes / 1e6 / pullS);
                    log(
                        `${kind} ${target.name} run ${r + 1}: push ${round(bytes / 1e6 / pushS)} MB/s, pull ${round(bytes / 1e6 / pullS)} MB/s`,
                    );
                }
            }
        }
        const summary: Record<string, unknown> = {};
        for (const [kind, byPath] of Object.entries(throughput)) {
            const m = (p: PathName, op: "push" | "pull") => round(median(byPath[p][op]));
            summary[kind] = {
                pushMBps: { a: m("a_ours", "push"), b: m("b_direct", "push"), c: m("c_seed", "push") },
                pullMBps: { a: m("a_ours", "pull"), b: m("b_direct", "pull"), c: m("c_seed", "pull") },
                // Medians, per worker, of the CPU seconds each GB took.
                cpuSecondsPerGB: Object.fromEntries(
                    PATH_NAMES.map((p) => [
                        p,
                        Object.fromEntries(
                            (["push", "pull"] as const).map((op) => [
                                op,
                                Object.fromEntries(WORKERS.map((w) => [w, round(median(cpu[kind][p][op].map((c) => c[w])), 2)])),
                            ]),
                        ),
                    ]),
                ),
                ratios: {
                    pushAoverB: round(m("a_ours", "push") / m("b_direct", "push"), 2),
                    pullAoverB: round(m("a_ours", "pull") / m("b_direct", "pull"), 2),
                    pushAoverC: round(m("a_ours", "push") / m("c_seed", "push"), 2),
                    pullAoverC: round(m("a_ours", "pull") / m("c_seed", "pull"), 2),
                },
                samples: byPath,
            };
        }
        results.throughput = summary;

        // Concurrency: distinct images pushed at once through our path, then pulled at once.
        const layouts = await Promise.all(
            Array.from({ length: SIZES.concurrency }, async (_, i) => {
                const dir = path.join(work, `concurrent-${i}`);
                await makeOciImage(dir, "1", [SIZES.concurrentMiB * MiB]);
                return dir;
            }),
        );
        // What users feel: through the published port, by name, with the certificate verified.
        const ours: Target = { name: "a_ours", host, tlsVerify: true };
        const settle = async (jobs: Promise<unknown>[]) => {
            const t = performance.now();
            const outcomes = await Promise.allSettled(jobs);
            return {
                seconds: round((performance.now() - t) / 1000, 2),
                errors: outcomes
                    .filter((o) => o.status === "rejected")
                    .map((o) => String((o as PromiseRejectedResult).reason).slice(0, 200)),
            };
        };
        const pushes = await settle(layouts.map((dir, i) => push(ours, dir, "1", `bench/concurrent-${i}`, authfile)));
        const pulls = await settle(layouts.map((_, i) => pull(ours, "1", `bench/concurrent-${i}`, authfile)));
        results.concurrency = { images: SIZES.concurrency, mibEach: SIZES.concurrentMiB, push: pushes, pull: pulls };
        log(
            `concurrency: ${SIZES.concurrency} pushes in ${pushes.seconds} s (${pushes.errors.length} errors), pulls in ${pulls.seconds} s (${pulls.errors.length} errors)`,
        );

        // Renewal under load: a forced renewal while requests run.
        const ep: Endpoint = await bed.endpoint(ca);
        const { load, result: renewal } = await requestsDuring(ep, user, () => forceRenewal(prefix, ep));
        results.renewalUnderLoad = {
            renewed: renewal.code === 0,
            served: load.served,
            failed: load.failed.length,
            certificatesSeen: load.serials.length,
        };
        log(`renewal under load: ${load.served} served, ${load.failed.length} failed`);

        // Under attack: wrong passwords for the real user from several addresses of their own,
        // and meanwhile another address's uploads (64 KiB) and reads, as before it.
        const [honest, ...flooders] = await sourceAddresses(40, SIZES.floodSources + 1);
        const basicAuth = `Basic ${auth}`;
        const calm = await honestTraffic(ep, honest, basicAuth, "bench/calm", {
            bytes: 64 * 1024,
            maxRounds: 1000,
            deadline: Date.now() + Math.min(5, SIZES.floodSeconds) * 1000,
        });
        const cpuBefore = await cpuSeconds(`${prefix}-nginx`, "nginx");
        const deadline = Date.now() + SIZES.floodSeconds * 1000;
        const [flooded, attacked] = await Promise.all([
            wrongPasswordFlood(ep, user.name, flooders, { perSource: 100_000, concurrency: SIZES.floodConcurrency, deadline }),
            honestTraffic(ep, honest, basicAuth, "bench/attacked", { bytes: 64 * 1024, maxRounds: 100_000, deadline }),
        ]);
        const nginxCpuS = (await cpuSeconds(`${prefix}-nginx`, "nginx")) - cpuBefore;
        const floodReplies = [...flooded.replies.values()].flat();
        const floodStatuses = statusCounts(floodReplies);
        const latency = (h: HonestResult) => ({
            requests: h.latenciesMs.length,
            failed: h.outcomes.filter((o) => o !== "202>201>200").length,
            p50Ms: round(quantile(h.latenciesMs, 0.5)),
            p99Ms: round(quantile(h.latenciesMs, 0.99)),
        });
        results.underAttack = {
            seconds: round(flooded.seconds),
            flooders: flooders.length,
            flood: {
                requests: floodReplies.length,
                perSecond: round(floodReplies.length / flooded.seconds),
                answered401: floodStatuses[401] ?? 0,
                refused429: floodStatuses[429] ?? 0,
                other: floodReplies.length - (floodStatuses[401] ?? 0) - (floodStatuses[429] ?? 0),
                connectionErrors: flooded.errors,
            },
            calm: latency(calm),
            attacked: latency(attacked),
            nginxCpuS: round(nginxCpuS, 2),
            nginxCpuPercentOfOneCore: round((100 * nginxCpuS) / flooded.seconds),
        };
        log(
            `under attack: ${floodReplies.length} flood requests in ${round(flooded.seconds)} s (${JSON.stringify(floodStatuses)}); valid p50/p99 ${round(quantile(attacked.latenciesMs, 0.5))}/${round(quantile(attacked.latenciesMs, 0.99))} ms`,
        );
    } finally {
        await bed.cleanup();
        await engine.close();
        fs.rmSync(work, { recursive: true, force: true });
    }
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, "latest.json"), JSON.stringify(results, null, 2));
    const md = markdown(results);
    fs.writeFileSync(path.join(OUT, "latest.md"), md);
    process.stdout.write(`\n${md}`);
}

function versions(bed: Bed): Record<string, string> {
    const v: Record<string, string> = {};
    for (const k of ["NGINX_VERSION", "REGISTRY_VERSION", "CERTBOT_VERSION", "PEBBLE_VERSION"])
        if (bed.images[k]) v[k.replace("_VERSION", "").toLowerCase()] = bed.images[k];
    return v;
}

/** "1 × 1024 MiB", "20 × 10 MiB": what a throughput row moved. */
function layersLabel(r: Record<string, any>, kind: string): string {
    return kind === "large" ? `1 × ${r.sizes.layerMiB} MiB` : `${r.sizes.smallCount} × ${r.sizes.smallMiB} MiB`;
}

function markdown(r: Record<string, any>): string {
    const lines = [
        `Benchmark ${r.when} on ${os.cpus().length} cores (${Object.entries(r.versions)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}); medians of ${r.sizes.runs} interleaved runs.`,
        "",
        "| layer throughput (MB/s) | (a) ours: nginx + TLS | (b) registry direct (HTTP) | (c) seed nginx + TLS | a/b | a/c |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const [kind, s] of Object.entries<any>(r.throughput)) {
        const what = layersLabel(r, kind);
        lines.push(
            `| push ${what} | ${s.pushMBps.a} | ${s.pushMBps.b} | ${s.pushMBps.c} | ${s.ratios.pushAoverB} | ${s.ratios.pushAoverC} |`,
        );
        lines.push(
            `| pull ${what} | ${s.pullMBps.a} | ${s.pullMBps.b} | ${s.pullMBps.c} | ${s.ratios.pullAoverB} | ${s.ratios.pullAoverC} |`,
        );
    }
    lines.push(
        "",
        "CPU seconds per GB moved (medians), by process: the client (skopeo), the TLS proxy (nginx), the registry. The client shares the machine's cores with the server here.",
        "",
        "| CPU s per GB | path | client | proxy | registry | all |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    );
    for (const [kind, s] of Object.entries<any>(r.throughput)) {
        const what = layersLabel(r, kind);
        for (const op of ["push", "pull"] as const) {
            for (const [p, label] of Object.entries(PATHS)) {
                const c = s.cpuSecondsPerGB[p][op];
                lines.push(
                    `| ${op} ${what} | ${label} | ${c.client} | ${c.proxy} | ${c.registry} | ${round(c.client + c.proxy + c.registry, 2)} |`,
                );
            }
        }
    }
    const e = r.engine;
    lines.push(
        "",
        `Pulumi engine (medians of ${e.runs}): floor = \`pulumi preview\` of an empty TypeScript program, ${e.floorPreviewS} s. An up is the update alone (\`pulumi up --yes --skip-preview\`, the Automation API's \`up\`), or the preview then the update (what \`pulumi up\` does once confirmed).`,
        "",
        "| engine | seconds | ratio to the floor |",
        "| --- | ---: | ---: |",
        `| preview, production stack | ${e.previewS} | ${e.ratios.preview} |`,
        `| … the same, transpiled by the TypeScript compiler instead of swc | ${e.previewTranspiledByTscS} | ${e.ratios.previewTranspiledByTsc} |`,
        `| … the same, type-checked at run time (as before) | ${e.previewTypeCheckedS} | ${e.ratios.previewTypeChecked} |`,
        `| no-op up, dev stack | ${e.noopUpS} | ${e.ratios.noopUp} |`,
        `| … with its preview | ${e.noopUpWithPreviewS} | ${e.ratios.noopUpWithPreview} |`,
        `| cold up, dev stack (empty engine, images present) | ${e.coldUpS} | ${e.ratios.coldUp} |`,
        `| … with its preview | ${e.coldUpWithPreviewS} | ${e.ratios.coldUpWithPreview} |`,
        "",
        `Provider start-up (to its port): ${Object.entries(e.pluginStartupS)
            .map(([k, v]) => `${k.replace("pulumi-resource-", "")} ${v} s`)
            .join(", ")}.`,
    );
    const c = r.coldDeploy;
    lines.push(
        "",
        "| measure | value |",
        "| --- | ---: |",
        `| cold deploy to first accepted push | ${c.totalToFirstPushS} s |`,
        `| … containers / HTTP config / certonly / HTTPS config / htpasswd | ${c.steps.containers} / ${c.steps.httpConfig} / ${c.steps.certonly} / ${c.steps.httpsConfig} / ${c.steps.htpasswd} s |`,
        `| … first push (256 KiB) | ${c.firstPushS} s |`,
        `| mocked preview of the whole program (first / median of 4 more) | ${r.programEvaluationMs.first} / ${r.programEvaluationMs.median} ms |`,
        `| renewal under load: served / failed | ${r.renewalUnderLoad.served} / ${r.renewalUnderLoad.failed} |`,
        `| ${r.concurrency.images} concurrent pushes of ${r.concurrency.mibEach} MiB: time / errors | ${r.concurrency.push.seconds} s / ${r.concurrency.push.errors.length} |`,
        `| ${r.concurrency.images} concurrent pulls: time / errors | ${r.concurrency.pull.seconds} s / ${r.concurrency.pull.errors.length} |`,
        "",
    );
    const u = r.underAttack;
    lines.push(
        `Under attack: ${u.flooders} addresses send wrong passwords for the real user for ${u.seconds} s (${u.flood.requests} requests, ${u.flood.perSecond}/s: ${u.flood.answered401} answered 401, ${u.flood.refused429} refused 429, ${u.flood.other} other, ${u.flood.connectionErrors} connection errors); nginx used ${u.nginxCpuS} s of CPU (${u.nginxCpuPercentOfOneCore}% of one core). Meanwhile another address uploads 64 KiB blobs and reads them back, one request after another.`,
        "",
        "| valid requests (upload POST, PUT, read HEAD) | requests | failed uploads | p50 | p99 |",
        "| --- | ---: | ---: | ---: | ---: |",
        `| before the flood | ${u.calm.requests} | ${u.calm.failed} | ${u.calm.p50Ms} ms | ${u.calm.p99Ms} ms |`,
        `| during the flood | ${u.attacked.requests} | ${u.attacked.failed} | ${u.attacked.p50Ms} ms | ${u.attacked.p99Ms} ms |`,
        "",
    );
    return lines.join("\n");
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
});
