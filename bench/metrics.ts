// `npm run bench`, what metrics cost (issue 21 §5): bench.ts's small-layer and large-layer rows
// (push and pull with skopeo through ours, nginx + TLS) with `metrics.enabled` off and on, on
// the live bed. On, the endpoint is scraped every 5 s meanwhile, as a busy Prometheus would
// (the default interval is 15 s). Runs interleaved, the order swapped every run, with a
// `pulumi up` between them that turns metrics on or off (which replaces the containers);
// every run pushes fresh random images. Medians of `BENCH_RUNS` per config, and the CPU
// nginx and the registry spent per GB moved, which noise from other work on the machine
// disturbs less than throughput. Then what one scrape costs nginx on its own.
// Writes metrics.{json,md} beside bench.ts's results (or BENCH_OUT).
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Bed, BED_SLOTS } from "../test/live/bed";
import { basic } from "../test/live/client";
import { Engine } from "../test/live/engine";
import { cpuSeconds } from "../test/live/flood";
import { bedHostAddress } from "../test/live/hostAddress";
import { docker } from "../test/live/proc";
import { makeOciImage } from "./oci";
import { median, pull, push, round, Target } from "./skopeo";
import { benchSession, writeResults } from "./session";

const MiB = 1024 * 1024;
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SIZES = {
    layerMiB: env("BENCH_LAYER_MB", 1024),
    smallCount: env("BENCH_SMALL_COUNT", 20),
    smallMiB: env("BENCH_SMALL_MB", 10),
    runs: env("BENCH_RUNS", 3),
    scrapeSeconds: 5,
};
const CONFIGS = ["off", "on"] as const;
type Config = (typeof CONFIGS)[number];
const KINDS = ["small", "large"] as const;
type Kind = (typeof KINDS)[number];
const OPS = ["push", "pull"] as const;
type Op = (typeof OPS)[number];
/** One transfer: its rate and the CPU seconds per GB of nginx and of the registry. */
type Sample = { MBps: number; nginxCpuSPerGB: number; registryCpuSPerGB: number };

/** The layers of a row: one large, or `smallCount` small ones. */
const layersOf = (kind: Kind) =>
    kind === "large" ? [SIZES.layerMiB * MiB] : Array.from({ length: SIZES.smallCount }, () => SIZES.smallMiB * MiB);
/** "1 × 1024 MiB", "20 × 10 MiB". */
const rowLabel = (kind: Kind) => (kind === "large" ? `1 × ${SIZES.layerMiB} MiB` : `${SIZES.smallCount} × ${SIZES.smallMiB} MiB`);

async function main(): Promise<void> {
    const label = `bench-metrics-${randomBytes(3).toString("hex")}`;
    const engine = new Engine();
    const bed = new Bed(label, engine, BED_SLOTS.metricsBench);
    const { work, log, cleanup } = benchSession("metrics", async () => {
        await bed.cleanup();
        await engine.close();
    });
    const results: Record<string, unknown> = { sizes: SIZES, when: new Date().toISOString(), cores: os.cpus().length };
    const user = { name: "bench", password: `bench-${randomBytes(12).toString("hex")}` };
    const scrapePassword = randomBytes(24).toString("hex");
    const address = await bedHostAddress();
    const metricsPort = bed.ports.spare[0];
    const users = { users: { [user.name]: { access: "push", password: user.password } } };
    const configs: Record<Config, Record<string, unknown>> = {
        off: bed.config(users),
        on: bed.config({ ...users, metrics: { enabled: true, port: metricsPort, bindAddress: address, password: scrapePassword } }),
    };
    const samples = Object.fromEntries(
        KINDS.map((k) => [k, Object.fromEntries(CONFIGS.map((c) => [c, { push: [] as Sample[], pull: [] as Sample[] }]))]),
    ) as Record<Kind, Record<Config, Record<Op, Sample[]>>>;
    let scrapes = 0;
    try {
        for (let r = 0; r < SIZES.runs; r++) {
            for (const which of r % 2 ? (["on", "off"] as const) : (["off", "on"] as const)) {
                await bed.up(configs[which]);
                // nginx is replaced by the up: its address and the credentials skopeo sends to it are new.
                const ip = await docker([
                    "inspect",
                    "--format",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                    `${bed.prefix}-nginx`,
                ]);
                const target: Target = { host: ip, tlsVerify: false };
                const authfile = path.join(work, "auth.json");
                const auth = Buffer.from(`${user.name}:${user.password}`).toString("base64");
                fs.writeFileSync(authfile, JSON.stringify({ auths: { [ip]: { auth } } }), { mode: 0o600 });
                const scraper =
                    which === "on" ? scrapeEvery(`http://${address}:${metricsPort}/metrics`, basic("metrics", scrapePassword)) : undefined;
                try {
                    for (const kind of KINDS) {
                        const layers = layersOf(kind);
                        const bytes = layers.reduce((a, b) => a + b, 0);
                        const layout = path.join(work, `${kind}-${which}-${r}`);
                        await makeOciImage(layout, "1", layers);
                        const repo = `bench/${kind}-${which}-${r}`;
                        const measured = async (transfer: () => Promise<{ seconds: number }>): Promise<Sample> => {
                            const cpu = () =>
                                Promise.all([cpuSeconds(`${bed.prefix}-nginx`, "nginx"), cpuSeconds(`${bed.prefix}-registry`, "registry")]);
                            const before = await cpu();
                            const { seconds } = await transfer();
                            const after = await cpu();
                            const perGB = (s: number) => round(s / (bytes / 1e9), 2);
                            return {
                                MBps: bytes / 1e6 / seconds,
                                nginxCpuSPerGB: perGB(after[0] - before[0]),
                                registryCpuSPerGB: perGB(after[1] - before[1]),
                            };
                        };
                        const pushed = await measured(() => push(target, layout, "1", repo, authfile));
                        fs.rmSync(layout, { recursive: true, force: true });
                        const pulled = await measured(() => pull(target, "1", repo, authfile));
                        samples[kind][which].push.push(pushed);
                        samples[kind][which].pull.push(pulled);
                        log(
                            `${rowLabel(kind)}, metrics ${which}, run ${r + 1}: push ${round(pushed.MBps)} MB/s, pull ${round(pulled.MBps)} MB/s`,
                        );
                    }
                } finally {
                    if (scraper) scrapes += await scraper.stop();
                }
            }
        }
        if (scrapes === 0) throw new Error("the metrics endpoint was never scraped while metrics were on");
        results.scrapes = scrapes;
        results.scrapeCost = await scrapeCost(
            bed,
            configs.on,
            `http://${address}:${metricsPort}/metrics`,
            basic("metrics", scrapePassword),
        );
        const m = (xs: Sample[], k: keyof Sample) => round(median(xs.map((x) => x[k])), k === "MBps" ? 1 : 2);
        results.rows = Object.fromEntries(
            KINDS.map((kind) => [
                kind,
                Object.fromEntries(
                    OPS.map((op) => {
                        const [off, on] = [samples[kind].off[op], samples[kind].on[op]];
                        return [
                            op,
                            {
                                offMBps: m(off, "MBps"),
                                onMBps: m(on, "MBps"),
                                ratio: round(median(on.map((x) => x.MBps)) / median(off.map((x) => x.MBps)), 3),
                                // Each run's on against the off next to it, which drift on the machine moves together.
                                pairedRatio: round(median(on.map((x, i) => x.MBps / off[i].MBps)), 3),
                                nginxCpuSPerGB: { off: m(off, "nginxCpuSPerGB"), on: m(on, "nginxCpuSPerGB") },
                                registryCpuSPerGB: { off: m(off, "registryCpuSPerGB"), on: m(on, "registryCpuSPerGB") },
                                spreadPercent: { off: spread(off), on: spread(on) },
                            },
                        ];
                    }),
                ),
            ]),
        );
        results.samples = samples;
    } finally {
        await cleanup();
    }
    writeResults("metrics", results, markdown);
}

/**
 * What scrapes cost nginx on their own: its CPU over SCRAPE_COST_COUNT scrapes in a row (metrics
 * on, nothing else running), per scrape, and the answer's size. Against the rows' nginx CPU per
 * GB: at one scrape every SIZES.scrapeSeconds, a transfer at R MB/s pays (1000 / R) /
 * scrapeSeconds scrapes per GB.
 */
async function scrapeCost(bed: Bed, on: Record<string, unknown>, url: string, authorization: string) {
    const count = 200;
    await bed.up(on);
    const nginxCpu = () => cpuSeconds(`${bed.prefix}-nginx`, "nginx");
    // The relay's first file and the certificate's copy are there before measuring.
    await new Promise((r) => setTimeout(r, 12_000));
    let bytes = 0;
    const before = await nginxCpu();
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
        const r = await fetch(url, { headers: { Authorization: authorization }, signal: AbortSignal.timeout(10_000) });
        bytes = (await r.text()).length;
        if (r.status !== 200) throw new Error(`scrape: HTTP ${r.status}`);
    }
    const seconds = (Date.now() - t0) / 1000;
    const cpu = (await nginxCpu()) - before;
    return { scrapes: count, nginxCpuMsPerScrape: round((1000 * cpu) / count, 2), msPerScrape: round((1000 * seconds) / count, 2), bytes };
}

/** (max − min) / median of the runs' rates, in percent: how far apart runs of one config fell. */
function spread(xs: Sample[]): number {
    const rates = xs.map((x) => x.MBps);
    return round((100 * (Math.max(...rates) - Math.min(...rates))) / median(rates));
}

/** GETs `url` every SIZES.scrapeSeconds until stopped; stop() says how many scrapes got 200 and fails on any other answer. */
function scrapeEvery(url: string, authorization: string): { stop: () => Promise<number> } {
    let ok = 0;
    let failure: string | undefined;
    let pending: Promise<void> = Promise.resolve();
    const once = () => {
        pending = fetch(url, { headers: { Authorization: authorization } })
            .then(async (r) => {
                await r.text();
                if (r.status === 200) ok++;
                else failure ??= `scrape: HTTP ${r.status}`;
            })
            .catch((e: Error) => void (failure ??= `scrape: ${e.message}`));
    };
    once();
    const timer = setInterval(once, SIZES.scrapeSeconds * 1000);
    return {
        stop: async () => {
            clearInterval(timer);
            await pending;
            if (failure) throw new Error(failure);
            return ok;
        },
    };
}

function markdown(r: Record<string, any>): string {
    const lines = [
        `What metrics cost, ${r.when} on ${r.cores} cores: skopeo through ours (nginx + TLS), metrics off and on (scraped every ${r.sizes.scrapeSeconds} s, ${r.scrapes} scrapes); medians of ${r.sizes.runs} interleaved runs each, a \`pulumi up\` between them. Pairs: each run's on and off, back to back. Spread: (max − min) / median of one config's runs.`,
        "",
        "| layer throughput (MB/s) | metrics off | metrics on | on/off | on/off, median of each run's pair | spread off / on | nginx CPU s per GB, off / on | registry CPU s per GB, off / on |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const kind of KINDS) {
        for (const op of OPS) {
            const x = r.rows[kind][op];
            const label = kind === "large" ? `1 × ${r.sizes.layerMiB} MiB` : `${r.sizes.smallCount} × ${r.sizes.smallMiB} MiB`;
            lines.push(
                `| ${op} ${label} | ${x.offMBps} | ${x.onMBps} | ${x.ratio} | ${x.pairedRatio} | ${x.spreadPercent.off}% / ${x.spreadPercent.on}% | ${x.nginxCpuSPerGB.off} / ${x.nginxCpuSPerGB.on} | ${x.registryCpuSPerGB.off} / ${x.registryCpuSPerGB.on} |`,
            );
        }
    }
    const c = r.scrapeCost;
    lines.push(
        "",
        `One scrape on its own: ${c.nginxCpuMsPerScrape} ms of nginx CPU and ${c.msPerScrape} ms end to end (${c.scrapes} in a row, ${c.bytes} bytes each); at one scrape every ${r.sizes.scrapeSeconds} s, a transfer at 300 MB/s pays ${round((1000 / 300 / r.sizes.scrapeSeconds) * c.nginxCpuMsPerScrape, 2)} ms of it per GB.`,
        "",
    );
    return lines.join("\n");
}

main().catch((e) => {
    process.stderr.write(`bench metrics failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
});
