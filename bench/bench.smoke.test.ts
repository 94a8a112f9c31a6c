// A smoke run of the benchmark with tiny sizes, so `npm run bench` cannot rot. It checks
// that every section is measured and sane; the numbers themselves are not judged here.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { run } from "../test/live/proc";

test("the benchmark runs end to end and reports every section", { timeout: 600_000 }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-smoke-"));
    try {
        const r = await run(process.execPath, ["--import", "tsx", path.join(__dirname, "bench.ts")], {
            env: {
                ...process.env,
                BENCH_OUT: out,
                BENCH_LAYER_MB: "4",
                BENCH_SMALL_COUNT: "2",
                BENCH_SMALL_MB: "1",
                BENCH_RUNS: "1",
                BENCH_CONCURRENCY: "3",
                BENCH_CONCURRENT_MB: "1",
                BENCH_ENGINE_RUNS: "1",
                BENCH_FLOOD_SECONDS: "3",
                BENCH_FLOOD_SOURCES: "2",
                BENCH_FLOOD_CONCURRENCY: "4",
            },
            timeoutMs: 600_000,
        });
        assert.equal(r.code, 0, `bench failed:\n${r.stderr.slice(-3000)}`);
        const result = JSON.parse(fs.readFileSync(path.join(out, "latest.json"), "utf8"));
        for (const kind of ["large", "small"]) {
            for (const op of ["pushMBps", "pullMBps"]) {
                for (const p of ["a", "b", "c"]) assert.ok(result.throughput[kind][op][p] > 0, `${kind} ${op} ${p}`);
            }
        }
        // The CPU of each process on each path is counted: a name that matched no process would read 0.
        const cpuOf = (p: string, worker: string) =>
            ["large", "small"].reduce(
                (sum, kind) => sum + ["push", "pull"].reduce((acc, op) => acc + result.throughput[kind].cpuSecondsPerGB[p][op][worker], 0),
                0,
            );
        for (const p of ["a_ours", "b_direct", "c_seed"]) {
            assert.ok(cpuOf(p, "client") > 0, `${p} client CPU`);
            assert.ok(cpuOf(p, "registry") > 0, `${p} registry CPU`);
        }
        for (const p of ["a_ours", "c_seed"]) assert.ok(cpuOf(p, "proxy") > 0, `${p} proxy CPU`);
        assert.equal(cpuOf("b_direct", "proxy"), 0, "no proxy on the direct path");
        assert.ok(result.coldDeploy.totalToFirstPushS > 0);
        for (const k of [
            "preview",
            "previewTypeChecked",
            "previewTranspiledByTsc",
            "coldUp",
            "noopUp",
            "coldUpWithPreview",
            "noopUpWithPreview",
        ])
            assert.ok(result.engine.ratios[k] > 0, `engine ratio ${k}`);
        assert.ok(result.engine.floorPreviewS > 0);
        assert.ok(result.engine.coldSteps["registry-tls-certonly"] > 0, "the cold up's steps are timed");
        assert.ok(result.engine.pluginStartupS["pulumi-resource-docker"] > 0);
        assert.ok(result.coldDeploy.steps.certonly > 0);
        assert.ok(result.programEvaluationMs.median > 0);
        assert.equal(result.renewalUnderLoad.renewed, true);
        assert.equal(result.renewalUnderLoad.failed, 0, "no request failed during the renewal");
        assert.deepEqual(result.concurrency.push.errors, []);
        assert.deepEqual(result.concurrency.pull.errors, []);
        const attack = result.underAttack;
        assert.ok(attack.flood.refused429 > 0, "the flood was refused once over the limit");
        assert.equal(attack.flood.other, 0, "the flood got only 401 and 429");
        assert.equal(attack.attacked.failed, 0, "valid uploads during the flood all succeeded");
        assert.ok(attack.attacked.requests > 0 && attack.calm.requests > 0);
        assert.ok(attack.nginxCpuS > 0);
        const md = fs.readFileSync(path.join(out, "latest.md"), "utf8");
        assert.match(md, /\| push 1 × 4 MiB \|/);
        assert.match(md, /\| pull 2 × 1 MiB \| \(a\) ours \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
        assert.match(md, /\| during the flood \| \d+ \| 0 \| [\d.]+ ms \| [\d.]+ ms \|/);
        assert.match(md, /\| cold up, dev stack \(empty engine, images present\) \| [\d.]+ \| [\d.]+ \|/);
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
});

test("the several-hosts benchmark runs end to end: both paths measured, both hosts served", { timeout: 900_000 }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-smoke-"));
    try {
        const r = await run(process.execPath, ["--import", "tsx", path.join(__dirname, "hosts.ts")], {
            env: { ...process.env, BENCH_OUT: out, BENCH_HOSTS_IMAGES: "4", BENCH_HOSTS_MB: "1", BENCH_RUNS: "1" },
            timeoutMs: 900_000,
        });
        assert.equal(r.code, 0, `bench failed:\n${r.stderr.slice(-3000)}`);
        const result = JSON.parse(fs.readFileSync(path.join(out, "hosts.json"), "utf8"));
        for (const which of ["oneHost", "twoHosts"]) {
            for (const op of ["pushMBps", "pullMBps"]) assert.ok(result[which][op] > 0, `${which} ${op}`);
        }
        assert.ok(result.twoHostRequestsByHost.a > 0 && result.twoHostRequestsByHost.b > 0, JSON.stringify(result.twoHostRequestsByHost));
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
});

test("the scale benchmark runs end to end: repository rules' push row and every GC window, split", { timeout: 900_000 }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-smoke-"));
    try {
        const r = await run(process.execPath, ["--import", "tsx", path.join(__dirname, "scale.ts")], {
            env: {
                ...process.env,
                BENCH_OUT: out,
                BENCH_SMALL_COUNT: "2",
                BENCH_SMALL_MB: "1",
                BENCH_RUNS: "1",
                BENCH_WINDOW_MANIFESTS: "100",
                BENCH_WINDOW_S3_MANIFESTS: "100",
            },
            timeoutMs: 900_000,
        });
        assert.equal(r.code, 0, `bench failed:\n${r.stderr.slice(-3000)}`);
        const result = JSON.parse(fs.readFileSync(path.join(out, "scale.json"), "utf8"));
        assert.ok(result.accessRules.todayMBps > 0 && result.accessRules.rulesMBps > 0, JSON.stringify(result.accessRules));
        assert.equal(result.accessRules.rules, 200);
        assert.deepEqual(Object.keys(result.windows), ["filesystem 100", "S3 100"]);
        for (const [name, w] of Object.entries(result.windows as Record<string, Record<string, Record<string, number>>>)) {
            for (const k of ["nothing", "half"]) {
                const parts = ["readOnlyS", "retentionS", "markS", "sweepS", "resumeS"];
                assert.ok(w[k].totalS > 0 && parts.every((p) => w[k][p] >= 0), `${name} ${k}: ${JSON.stringify(w[k])}`);
                assert.ok(w[k].totalS >= w[k].readOnlyS + w[k].retentionS + w[k].collectS, `${name} ${k}: the parts fit in the window`);
            }
            assert.equal(w.half.deleted, 50, name);
        }
        assert.ok(result.windows["filesystem 100"].half.retentionS > 0, "retention ran in the filesystem window");
        const md = fs.readFileSync(path.join(out, "scale.md"), "utf8");
        assert.match(md, /\| 50 users, 200 repository rules \| [\d.]+ \| [\d.]+ \|/);
        const row = /\| filesystem 100, 50 tags deleted \(by retention\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/;
        assert.match(md, row);
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
});

test("the mirror benchmark runs end to end: cold, warm (from the cache), direct and upstream pulls", { timeout: 600_000 }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-smoke-"));
    try {
        const r = await run(process.execPath, ["--import", "tsx", path.join(__dirname, "mirrors.ts")], {
            env: { ...process.env, BENCH_OUT: out, BENCH_MIRROR_MB: "4", BENCH_RUNS: "1" },
            timeoutMs: 600_000,
        });
        assert.equal(r.code, 0, `bench failed:\n${r.stderr.slice(-3000)}`);
        const result = JSON.parse(fs.readFileSync(path.join(out, "mirrors.json"), "utf8"));
        for (const kind of ["cold", "warm", "direct", "upstream"])
            assert.ok(result.pullMBps[kind] > 0, `${kind}: ${JSON.stringify(result)}`);
        assert.ok(result.ratios.warmToDirect > 0 && result.ratios.warmToCold > 0, JSON.stringify(result.ratios));
        assert.deepEqual(result.upstreamLayerGets, [1], "the upstream served the layer once, to the cold pull");
        const md = fs.readFileSync(path.join(out, "mirrors.md"), "utf8");
        assert.match(md, /\| warm: from the mirror's cache \| [\d.]+ \| [\d.]+ \| [\d.]+ × cold, [\d.]+ × direct \|/);
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
});

test(
    "the metrics cost benchmark runs end to end: both rows, metrics off and on, the endpoint scraped, a scrape's own cost",
    { timeout: 900_000 },
    async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-smoke-"));
        try {
            const r = await run(process.execPath, ["--import", "tsx", path.join(__dirname, "metrics.ts")], {
                env: { ...process.env, BENCH_OUT: out, BENCH_LAYER_MB: "4", BENCH_SMALL_COUNT: "2", BENCH_SMALL_MB: "1", BENCH_RUNS: "1" },
                timeoutMs: 900_000,
            });
            assert.equal(r.code, 0, `bench failed:\n${r.stderr.slice(-3000)}`);
            const result = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
            assert.ok(result.scrapes > 0, "the endpoint was scraped while metrics were on");
            let nginxCpu = { off: 0, on: 0 };
            for (const kind of ["small", "large"]) {
                for (const op of ["push", "pull"]) {
                    const row = result.rows[kind][op];
                    assert.ok(row.offMBps > 0 && row.onMBps > 0 && row.ratio > 0, `${kind} ${op}: ${JSON.stringify(row)}`);
                    nginxCpu = { off: nginxCpu.off + row.nginxCpuSPerGB.off, on: nginxCpu.on + row.nginxCpuSPerGB.on };
                }
            }
            // In clock ticks (10 ms): one tiny transfer may read 0, all of them not.
            assert.ok(nginxCpu.off > 0 && nginxCpu.on > 0, `nginx's CPU counted: ${JSON.stringify(nginxCpu)}`);
            const md = fs.readFileSync(path.join(out, "metrics.md"), "utf8");
            assert.match(md, /\| push 2 × 1 MiB \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
            assert.match(md, /\| pull 1 × 4 MiB \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
            assert.equal(result.scrapeCost.scrapes, 200, JSON.stringify(result.scrapeCost));
            assert.ok(result.scrapeCost.bytes > 1000 && result.scrapeCost.msPerScrape > 0, JSON.stringify(result.scrapeCost));
            assert.match(md, /One scrape on its own: [\d.]+ ms of nginx CPU/);
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    },
);
