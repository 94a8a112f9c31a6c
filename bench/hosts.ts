// `npm run bench`, several hosts: aggregate push and pull throughput of a registry on two hosts
// against one, on the multi-host bed (test/live/multiHostBed.ts): the same stack, reached
// through a load balancer in front of both hosts or one in front of host a alone. Each run
// pushes `BENCH_HOSTS_IMAGES` fresh images of one `BENCH_HOSTS_MB` MiB layer at once through
// one of them, then pulls them all at once; runs alternate between the two; medians.
// Both hosts share this machine's cores, so parity is the expectation here; on separate
// machines the second host adds its CPU and network. Writes hosts.{json,md} beside bench.ts's.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BED_SLOTS } from "../test/live/bed";
import { MultiHostBed } from "../test/live/multiHostBed";
import { makeOciImage } from "./oci";
import { median, pull, push, round } from "./skopeo";
import { benchSession, writeResults } from "./session";

const MiB = 1024 * 1024;
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SIZES = { images: env("BENCH_HOSTS_IMAGES", 8), layerMiB: env("BENCH_HOSTS_MB", 64), runs: env("BENCH_RUNS", 3) };

async function main(): Promise<void> {
    const m = new MultiHostBed(`bench-hosts-${randomBytes(3).toString("hex")}`, BED_SLOTS.hostsBench);
    const { work, log, cleanup } = benchSession("hosts", () => m.cleanup());
    const results: Record<string, unknown> = { sizes: SIZES, when: new Date().toISOString(), cores: os.cpus().length };
    try {
        await m.start();
        const auth = Buffer.from(`${m.user.name}:${m.user.password}`).toString("base64");
        const authfile = path.join(work, "auth.json");
        const targets = { one: { host: m.shared(m.lbOne), tlsVerify: true }, two: { host: m.shared(m.lb), tlsVerify: true } };
        fs.writeFileSync(authfile, JSON.stringify({ auths: { [targets.one.host]: { auth }, [targets.two.host]: { auth } } }), {
            mode: 0o600,
        });
        const bytes = SIZES.images * SIZES.layerMiB * MiB;
        const rates: Record<"one" | "two", { push: number[]; pull: number[] }> = {
            one: { push: [], pull: [] },
            two: { push: [], pull: [] },
        };
        for (let r = 0; r < SIZES.runs; r++) {
            for (const which of r % 2 ? (["two", "one"] as const) : (["one", "two"] as const)) {
                const layouts = await Promise.all(
                    Array.from({ length: SIZES.images }, async (_, i) => {
                        const dir = path.join(work, `${which}-${r}-${i}`);
                        await makeOciImage(dir, "1", [SIZES.layerMiB * MiB]);
                        return dir;
                    }),
                );
                const repo = (i: number) => `bench/${which}-${r}-${i}`;
                const timed = async (f: () => Promise<unknown>) => {
                    const t0 = performance.now();
                    await f();
                    return (performance.now() - t0) / 1000;
                };
                const pushS = await timed(() => Promise.all(layouts.map((dir, i) => push(targets[which], dir, "1", repo(i), authfile))));
                const pullS = await timed(() => Promise.all(layouts.map((_, i) => pull(targets[which], "1", repo(i), authfile))));
                rates[which].push.push(bytes / MiB / pushS);
                rates[which].pull.push(bytes / MiB / pullS);
                log(
                    `run ${r + 1} ${which === "one" ? "1 host " : "2 hosts"}: push ${round(bytes / MiB / pushS)} MB/s, pull ${round(bytes / MiB / pullS)} MB/s`,
                );
                for (const dir of layouts) fs.rmSync(dir, { recursive: true, force: true });
            }
        }
        const summary = (which: "one" | "two") => ({
            pushMBps: round(median(rates[which].push)),
            pullMBps: round(median(rates[which].pull)),
        });
        const one = summary("one");
        const two = summary("two");
        results.oneHost = one;
        results.twoHosts = two;
        results.ratios = { push: round(two.pushMBps / one.pushMBps, 2), pull: round(two.pullMBps / one.pullMBps, 2) };
        // Which host answered: the load balancer's log of the two-host runs.
        const served = (await m.lb.log()).split("\n").filter((l) => / (PUT|GET) \/v2\/bench\//.test(l));
        const byHost: Record<string, number> = {};
        for (const h of m.hosts) byHost[h.name] = served.filter((l) => l.includes(`:${h.port} `)).length;
        results.twoHostRequestsByHost = byHost;
    } finally {
        await cleanup();
    }
    writeResults("hosts", results, markdown);
}

function markdown(r: Record<string, any>): string {
    return [
        `Several hosts, ${r.when} on ${r.cores} cores: ${r.sizes.images} images of one ${r.sizes.layerMiB} MiB layer pushed at once, then pulled at once, through a load balancer (nginx, TLS) in front of one host or of two; medians of ${r.sizes.runs} alternating runs. Both hosts share this machine.`,
        "",
        "| aggregate MB/s | 1 host | 2 hosts | 2 / 1 |",
        "| --- | ---: | ---: | ---: |",
        `| push | ${r.oneHost.pushMBps} | ${r.twoHosts.pushMBps} | ${r.ratios.push} |`,
        `| pull | ${r.oneHost.pullMBps} | ${r.twoHosts.pullMBps} | ${r.ratios.pull} |`,
        "",
        `Requests of the two-host runs by host: ${Object.entries(r.twoHostRequestsByHost)
            .map(([h, n]) => `${h} ${n}`)
            .join(", ")}.`,
        "",
    ].join("\n");
}

main().catch((e) => {
    process.stderr.write(`bench hosts failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
});
