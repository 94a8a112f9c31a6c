// `npm run bench`, pull-through mirrors (issue 22): one image of one `BENCH_MIRROR_MB` MiB
// layer (256 by default) pulled with skopeo, verifying TLS, by name through the stack's nginx:
//   - cold: through the mirror, which fetches it from its upstream (a registry of the bench's
//     own with TLS and auth, test/live/upstream.ts, as in the mirrors live test) as it serves it;
//   - warm: the same pull again, from the mirror's cache (the upstream is asked for the tag
//     only: the bench checks that it served no blob again);
//   - direct: the same image from the stack's own registry (pushed there too), same nginx and TLS;
//   - upstream: the same image straight from the upstream, which the cold pull cannot beat.
// Each run pushes a fresh random image (nothing cached anywhere), to the upstream and to the
// stack; the order of warm and direct alternates between runs; a `sync` before each pull;
// medians of `BENCH_RUNS`, and of the warm/direct ratio of each run (the pair is measured at the
// same moment of a shared machine).
// Writes mirrors.{json,md} beside bench.ts's results (or BENCH_OUT).
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Bed, BED_SLOTS } from "../test/live/bed";
import { Endpoint } from "../test/live/client";
import { Engine } from "../test/live/engine";
import { bedHostAddress } from "../test/live/hostAddress";
import { run } from "../test/live/proc";
import { mirrorServes, Upstream } from "../test/live/upstream";
import { makeOciImage } from "./oci";
import { median, pull, push, round, Target } from "./skopeo";
import { benchSession, writeResults } from "./session";

const MiB = 1024 * 1024;
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SIZES = { layerMiB: env("BENCH_MIRROR_MB", 256), runs: env("BENCH_RUNS", 3) };
const KINDS = ["cold", "warm", "direct", "upstream"] as const;
type Kind = (typeof KINDS)[number];

/** How many times the upstream's log shows a GET of `blob` in `repo`. */
async function upstreamBlobGets(container: string, repo: string, blob: string): Promise<number> {
    const r = await run("docker", ["logs", container]);
    const needle = `GET /v2/${repo}/blobs/${blob} `;
    return `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes(needle)).length;
}

/** The manifest's digest and the first layer's, of the OCI layout's only image. */
function digests(layout: string): { manifest: string; layer: string } {
    const index = JSON.parse(fs.readFileSync(path.join(layout, "index.json"), "utf8"));
    const manifest = index.manifests[0].digest as string;
    const body = JSON.parse(fs.readFileSync(path.join(layout, "blobs", "sha256", manifest.slice(7)), "utf8"));
    return { manifest, layer: body.layers[0].digest as string };
}

async function main(): Promise<void> {
    const label = `bench-mirrors-${randomBytes(3).toString("hex")}`;
    const engine = new Engine();
    const bed = new Bed(label, engine, BED_SLOTS.mirrorsBench);
    const user = { name: "bench", password: `bench-${randomBytes(12).toString("hex")}` };
    const up = new Upstream(bed, { name: "upstream-bot", password: `up-${randomBytes(12).toString("hex")}` });
    const { work, log, cleanup } = benchSession("mirrors", async () => {
        await bed.cleanup();
        await engine.close();
        up.cleanup();
    });
    const results: Record<string, unknown> = { sizes: SIZES, when: new Date().toISOString(), cores: os.cpus().length };
    try {
        const mirrorFqdn = `hub.${bed.domain}`;
        const mirrorHost = `${mirrorFqdn}:${bed.ports.https}`;
        await bed.addHostNames([mirrorFqdn, up.name]);
        const upstreamCa = await up.certificates();
        const deployed = await bed.up(
            bed.config({
                users: { [user.name]: { access: "push", password: user.password } },
                mirrors: [{ name: "hub", upstream: up.url, username: up.user.name, password: up.user.password, caCertificate: upstreamCa }],
            }),
        );
        const ca = deployed.outputs.caRoot.value as string;
        await up.start();
        const mirrorEp: Endpoint = { ...(await bed.endpoint(ca)), domain: mirrorFqdn };
        await mirrorServes(mirrorEp, user);
        // skopeo reads /etc/docker/certs.d, as the Docker daemon does.
        bed.trustRoot(bed.host, ca);
        bed.trustRoot(mirrorHost, ca);
        bed.trustRoot(up.host, upstreamCa);
        const targets: Record<"stack" | "mirror" | "upstream", Target> = {
            stack: { host: bed.host, tlsVerify: true },
            mirror: { host: mirrorHost, tlsVerify: true },
            upstream: { host: up.host, tlsVerify: true },
        };
        const auth = (u: { name: string; password: string }) => ({ auth: Buffer.from(`${u.name}:${u.password}`).toString("base64") });
        const authfile = path.join(work, "auth.json");
        fs.writeFileSync(
            authfile,
            JSON.stringify({ auths: { [bed.host]: auth(user), [mirrorHost]: auth(user), [up.host]: auth(up.user) } }),
            { mode: 0o600 },
        );
        results.bed = { address: await bedHostAddress(), stack: bed.host, mirror: mirrorHost, upstream: up.host };

        const bytes = SIZES.layerMiB * MiB;
        const seconds: Record<Kind, number[]> = { cold: [], warm: [], direct: [], upstream: [] };
        const upstreamLayerGets: number[] = [];
        for (let r = 0; r < SIZES.runs; r++) {
            const dir = path.join(work, `image-${r}`);
            await makeOciImage(dir, "1", [bytes]);
            const { manifest, layer } = digests(dir);
            const repo = `bench/mirror-${r}`;
            await push(targets.upstream, dir, "1", repo, authfile);
            await push(targets.stack, dir, "1", repo, authfile);
            fs.rmSync(dir, { recursive: true, force: true });
            const timed = async (kind: Kind, target: Target) => {
                // What was written before (pushes, the mirror's cache, the last pull's copy) reaches the
                // disk first, so that no pull pays for the writeback of the one before.
                await run("sync", []);
                seconds[kind].push((await pull(target, "1", repo, authfile)).seconds);
                log(`run ${r + 1} ${kind}: ${round(bytes / 1e6 / seconds[kind][r])} MB/s`);
            };
            await timed("cold", targets.mirror);
            const afterCold = await upstreamBlobGets(up.name, repo, layer);
            for (const kind of r % 2 ? (["direct", "warm"] as const) : (["warm", "direct"] as const)) {
                await timed(kind, kind === "warm" ? targets.mirror : targets.stack);
            }
            const afterWarm = await upstreamBlobGets(up.name, repo, layer);
            if (afterWarm !== afterCold)
                throw new Error(`the warm pull fetched the layer from the upstream again (${afterCold} → ${afterWarm} GETs)`);
            upstreamLayerGets.push(afterWarm);
            await timed("upstream", targets.upstream);
            // The mirror served the upstream's image: same manifest digest.
            const inspect = await run("skopeo", ["inspect", "--authfile", authfile, `docker://${mirrorHost}/${repo}:1`]);
            if (inspect.code !== 0) throw new Error(`skopeo inspect through the mirror: ${inspect.stderr}`);
            const served = (JSON.parse(inspect.stdout) as { Digest: string }).Digest;
            if (served !== manifest) throw new Error(`the mirror served ${served}, the upstream has ${manifest}`);
        }
        const mbps = Object.fromEntries(KINDS.map((k) => [k, round(median(seconds[k].map((s) => bytes / 1e6 / s)))])) as Record<
            Kind,
            number
        >;
        results.pullMBps = mbps;
        results.pullSeconds = Object.fromEntries(KINDS.map((k) => [k, round(median(seconds[k]), 2)]));
        results.samplesS = Object.fromEntries(KINDS.map((k) => [k, seconds[k].map((s) => round(s, 2))]));
        results.ratios = {
            warmToCold: round(mbps.warm / mbps.cold, 2),
            warmToDirect: round(mbps.warm / mbps.direct, 2),
            coldToUpstream: round(mbps.cold / mbps.upstream, 2),
            // Per run, warm against the direct pull next to it: the pairs share the machine's moment.
            warmToDirectByRun: seconds.warm.map((w, i) => round(seconds.direct[i] / w, 2)),
            warmToDirectPaired: round(median(seconds.warm.map((w, i) => seconds.direct[i] / w)), 2),
        };
        results.upstreamLayerGets = upstreamLayerGets;
    } finally {
        await cleanup();
    }
    writeResults("mirrors", results, markdown);
}

function markdown(r: Record<string, any>): string {
    const row = (kind: Kind, what: string, ratio: string) => `| ${what} | ${r.pullSeconds[kind]} | ${r.pullMBps[kind]} | ${ratio} |`;
    return [
        `Pull-through mirror, ${r.when} on ${r.cores} cores: one image of one ${r.sizes.layerMiB} MiB layer, pulled with skopeo (TLS verified) by name; medians of ${r.sizes.runs} runs, a fresh image each.`,
        "",
        "| pull | seconds | MB/s | ratio |",
        "| --- | ---: | ---: | ---: |",
        row("cold", "cold: through the mirror, from the upstream", `${r.ratios.coldToUpstream} × upstream`),
        row("warm", "warm: from the mirror's cache", `${r.ratios.warmToCold} × cold, ${r.ratios.warmToDirect} × direct`),
        row("direct", "direct: the stack's own registry", "1"),
        row("upstream", "the upstream itself (no nginx)", ""),
        "",
        `Warm against direct, run by run: ${r.ratios.warmToDirectByRun.join(", ")} (median ${r.ratios.warmToDirectPaired}). Upstream GETs of each run's layer after the warm pull: ${r.upstreamLayerGets.join(", ")} (the cold pull's only).`,
        "",
    ].join("\n");
}

main().catch((e) => {
    process.stderr.write(`bench mirrors failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
});
