// The S3 helper, without Docker: its AWS Signature Version 4 against AWS' own test vector; the
// supervisor's retention function (sh, find, stat, awk) with the helper (this machine's
// python3) against a small S3 server made here (ListObjectsV2 in pages, GetObject,
// DeleteObjects): the push times are the objects' LastModified; its listing of the blobs for
// the metrics endpoint and the GC; and the supervisor giving up on a helper that is not running.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { REGISTRY_CONTROL_DIR, S3_KEYS_PATH } from "../../configs/registry";
import { RETENTION_REPORT, RETENTION_RULES, renderRetentionFunction, renderRetentionRules } from "../../configs/retention";
import { renderS3Helper } from "../../configs/s3Helper";
import { renderS3HelperAsk, S3_HELPER_FILES } from "../../configs/s3HelperProtocol";
import { parseSettings, stackNaming } from "../../settings/parse";
import { SecretPaths } from "../../settings/secretPaths";

const base = { domain: "registry.example.com" };
/** The S3 keys set with `--secret`, as the settings require. */
const secretStorage = stackNaming(new SecretPaths(["storage"]));
const s3Settings = (endpoint: string, more: Record<string, string> = {}) =>
    parseSettings(
        {
            ...base,
            storage: JSON.stringify({
                driver: "s3",
                bucket: "team-registry",
                endpoint,
                rootDirectory: "team/registry",
                accessKey: "AKIDTEST",
                secretKey: "secret/with'quote",
            }),
            retention: JSON.stringify([{ repositories: "team/*", keepTags: "release-.*", keepLast: 2 }]),
            ...more,
        },
        "dev",
        secretStorage,
    );

/** A bucket in memory: key → [body, LastModified]. Answers path-style requests for `bucket`, `pageSize` keys a page. */
function fakeS3(bucket: string, pageSize: number) {
    const objects = new Map<string, [string, Date]>();
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://s3");
            const auth = String(req.headers.authorization ?? "");
            seen.push(`${req.method} ${url.pathname}${url.search}`);
            if (
                !/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/.test(
                    auth,
                )
            ) {
                res.writeHead(403).end("unsigned");
                return;
            }
            const prefix = `/${bucket}`;
            if (!url.pathname.startsWith(prefix)) return void res.writeHead(404).end("NoSuchBucket");
            const key = decodeURIComponent(url.pathname.slice(prefix.length + 1));
            if (req.method === "GET" && key === "" && url.searchParams.get("list-type") === "2") {
                const keys = [...objects.keys()].filter((k) => k.startsWith(url.searchParams.get("prefix") ?? "")).sort();
                const start = Number(url.searchParams.get("continuation-token") ?? 0);
                const page = keys.slice(start, start + pageSize);
                const more = start + pageSize < keys.length;
                const contents = page
                    .map(
                        (k) =>
                            `<Contents><Key>${k}</Key><LastModified>${objects.get(k)![1].toISOString()}</LastModified><Size>${Buffer.byteLength(objects.get(k)![0])}</Size></Contents>`,
                    )
                    .join("");
                res.writeHead(200, { "content-type": "application/xml" }).end(
                    `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>${more}</IsTruncated>${contents}${more ? `<NextContinuationToken>${start + pageSize}</NextContinuationToken>` : ""}</ListBucketResult>`,
                );
            } else if (req.method === "GET" && objects.has(key)) {
                res.writeHead(200).end(objects.get(key)![0]);
            } else if (req.method === "POST" && url.searchParams.has("delete")) {
                assert.ok(req.headers["content-md5"], "DeleteObjects carries Content-MD5");
                for (const [, k] of Buffer.concat(chunks)
                    .toString()
                    .matchAll(/<Key>([^<]*)<\/Key>/g))
                    objects.delete(k);
                res.writeHead(200).end(`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`);
            } else res.writeHead(404).end("NoSuchKey");
        });
    });
    return { server, objects, seen };
}

describe("the S3 helper", () => {
    test("SigV4: AWS' test vector (get-vanilla-query-order-key-case) signs to AWS' published signature", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-retention-sign-"));
        const script = path.join(dir, "helper.py");
        fs.writeFileSync(script, renderS3Helper(s3Settings("https://s3.example.com:9000")));
        const r = spawnSync("python3", [script, "--sign-test"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(
            r.stdout.trim(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
        fs.rmSync(dir, { recursive: true });
    });

    test("the helper's settings: the endpoint, path style, the prefix under rootDirectory, the keys and CA files; AWS without an endpoint", () => {
        const helper = renderS3Helper(s3Settings("https://s3.example.com:9000"));
        assert.match(helper, /^ENDPOINT = "https:\/\/s3\.example\.com:9000"$/m);
        assert.match(helper, /^PATH_STYLE = True$/m);
        assert.match(helper, /^ROOT = "team\/registry\/docker\/registry\/v2\/repositories\/"$/m);
        assert.match(helper, new RegExp(`^KEYS = "${S3_KEYS_PATH}"$`, "m"));
        assert.match(helper, /^CA = None$/m);
        const aws = renderS3Helper(
            parseSettings(
                {
                    ...base,
                    storage: JSON.stringify({ driver: "s3", bucket: "images", region: "eu-west-1", accessKey: "A", secretKey: "S" }),
                },
                "dev",
                secretStorage,
            ),
        );
        assert.match(aws, /^ENDPOINT = "https:\/\/s3\.eu-west-1\.amazonaws\.com"$/m);
        assert.match(aws, /^PATH_STYLE = False$/m);
        assert.match(aws, /^ROOT = "docker\/registry\/v2\/repositories\/"$/m);
    });

    test("run against an S3 server: push times are LastModified; a dry run deletes nothing; then every object of exactly the planned tags goes", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-retention-run-"));
        const ctl = path.join(dir, "ctl");
        fs.mkdirSync(ctl);
        const keys = path.join(dir, "s3-keys");
        fs.writeFileSync(keys, "'AKIDTEST'\n'secret/with''quote'\n");
        const s3 = fakeS3("team-registry", 3);
        await new Promise<void>((r) => s3.server.listen(0, "127.0.0.1", r));
        const endpoint = `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`;
        const root = "team/registry/docker/registry/v2/repositories/";
        const now = Date.now();
        const tags: [string, string, number][] = [
            ["team/app", "1", 5],
            ["team/app", "2", 4],
            ["team/app", "3", 3],
            ["team/app", "4", 2],
            ["team/app", "release-1", 10],
            ["team/app", "latest", 10],
            ["other/x", "ancient", 400],
        ];
        for (const [repo, tag, days] of tags) {
            const at = new Date(now - days * 86_400_000);
            const digest = `sha256:${String(days).padStart(64, "0")}`;
            s3.objects.set(`${root}${repo}/_manifests/tags/${tag}/current/link`, [digest, at]);
            s3.objects.set(`${root}${repo}/_manifests/tags/${tag}/index/sha256/${digest.slice(7)}/link`, [digest, at]);
        }
        s3.objects.set(`${root}team/app/_manifests/revisions/sha256/${"5".padStart(64, "0")}/link`, ["x", new Date(now)]);
        s3.objects.set(`${root}team/app/_layers/sha256/${"a".repeat(64)}/link`, ["x", new Date(now)]);
        const helperScript = path.join(dir, "helper.py");
        fs.writeFileSync(
            helperScript,
            renderS3Helper(s3Settings(endpoint)).replaceAll(REGISTRY_CONTROL_DIR, ctl).replace(S3_KEYS_PATH, keys),
        );
        const helper = spawn("python3", ["-u", helperScript], { stdio: ["ignore", "ignore", "pipe"] });
        let helperLog = "";
        helper.stderr.on("data", (b) => (helperLog += b));
        const sh = (script: string) =>
            new Promise<{ code: number | null; stderr: string }>((resolve) => {
                const p = spawn("sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"] });
                let stderr = "";
                p.stderr.on("data", (b) => (stderr += b));
                p.on("exit", (code) => resolve({ code, stderr }));
            });
        const run = async (dryRun: boolean) => {
            const s = s3Settings(endpoint, { retentionDryRun: String(dryRun) });
            fs.writeFileSync(path.join(ctl, RETENTION_RULES), renderRetentionRules(s));
            const fn = `${renderS3HelperAsk(s)}\n${renderRetentionFunction("/unused", true)}`;
            const r = await sh(`ctl=${ctl}\nuntagged=1\nlog() { echo "registry-gc: $*" >&2; }\n${fn}\nretention\n`);
            assert.equal(r.code, 0, `${r.stderr}\n${helperLog}`);
            return { log: r.stderr, report: fs.readFileSync(path.join(ctl, RETENTION_REPORT), "utf8") };
        };
        try {
            const before = [...s3.objects.keys()].sort();
            const dry = await run(true);
            assert.deepEqual([...s3.objects.keys()].sort(), before, "a dry run deletes nothing");
            assert.match(dry.log, /S3 helper: list ok: 7 tags listed/);
            assert.match(dry.report, /# 7 tags in 2 repositories: 5 kept, 2 to delete\n/);
            assert.match(
                dry.report,
                /^would delete team\/app:2 \(pushed 4d0h ago, sha256:0+4\): rule 1 \(team\/\*\), .*not among the 2 newest \(number 3\)$/m,
            );
            assert.match(dry.report, /^would delete team\/app:1 \(pushed 5d0h ago, /m);
            assert.ok(
                s3.seen.some((r) => r.includes("continuation-token=")),
                "the listing is read page by page",
            );

            const applied = await run(false);
            assert.match(applied.log, /S3 helper: delete ok: 4 objects of 2 tags deleted/);
            assert.deepEqual(
                [...s3.objects.keys()].sort(),
                before.filter((k) => !/\/team\/app\/_manifests\/tags\/[12]\//.test(k)),
                "every object of team/app:1 and :2, and nothing else",
            );
            assert.deepEqual(
                fs.readdirSync(ctl).sort(),
                ["last-retention-result", "retention-report", "retention-rules", "s3-helper-alive", "s3-helper-answer"],
                "the copy of the tags, the plan and the request are cleaned up",
            );
        } finally {
            helper.kill();
            s3.server.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("the S3 helper's listing of the blobs (metrics on)", () => {
    const root = "team/registry/docker/registry/v2/blobs/";
    /** Waits until `read` returns something, at most 20 s. */
    const until = async <T>(what: string, read: () => T | undefined): Promise<T> => {
        for (let i = 0; i < 200; i++) {
            const v = read();
            if (v !== undefined) return v;
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`timed out waiting for ${what}`);
    };

    test("at start, after every GC and when asked in the GC window: the blobs' count and bytes, its LIST requests; a failed listing keeps the last good values", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-helper-listing-"));
        const ctl = path.join(dir, "ctl");
        fs.mkdirSync(ctl);
        const keys = path.join(dir, "s3-keys");
        fs.writeFileSync(keys, "'AKIDTEST'\n'secret/with''quote'\n");
        const s3 = fakeS3("team-registry", 2);
        await new Promise<void>((r) => s3.server.listen(0, "127.0.0.1", r));
        const endpoint = `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`;
        const blob = (hex: string, bytes: number) =>
            s3.objects.set(`${root}sha256/${hex.slice(0, 2)}/${hex}/data`, ["x".repeat(bytes), new Date()]);
        blob("a".repeat(64), 1000);
        blob("b".repeat(64), 500);
        blob("c".repeat(64), 20);
        // Not blobs: a tag's link, and an object under blobs/ that is no blob's data.
        s3.objects.set("team/registry/docker/registry/v2/repositories/app/_manifests/tags/1/current/link", ["sha256:x", new Date()]);
        s3.objects.set(`${root}sha256/dd/${"d".repeat(64)}/startedat`, ["2026", new Date()]);
        const s = s3Settings(endpoint, { metrics: JSON.stringify({ enabled: true }) });
        const script = path.join(dir, "helper.py");
        fs.writeFileSync(script, renderS3Helper(s).replaceAll(REGISTRY_CONTROL_DIR, ctl).replace(S3_KEYS_PATH, keys));
        const helper = spawn("python3", ["-u", script], { stdio: ["ignore", "ignore", "pipe"] });
        let helperLog = "";
        helper.stderr.on("data", (b) => (helperLog += b));
        const storage = path.join(ctl, S3_HELPER_FILES.storage);
        const result = () => (fs.existsSync(storage) ? fs.readFileSync(storage, "utf8").trim().split(" ") : undefined);
        try {
            const first = await until("the first listing", result);
            const t0 = Math.floor(Date.now() / 1000);
            assert.ok(Math.abs(Number(first[0]) - t0) <= 5, `listed at ${first[0]}, now ${t0}`);
            assert.match(first[1], /^\d+\.\d{3}$/, "its duration in seconds");
            // 4 objects under blobs/, 2 a page: 2 LIST requests; 3 blobs, 1520 bytes.
            assert.deepEqual(first.slice(2), ["1", "3", "1520", "2"], helperLog);

            // A GC ends (its end recorded): a new listing, without waiting for the hour.
            s3.objects.delete(`${root}sha256/aa/${"a".repeat(64)}/data`);
            fs.writeFileSync(path.join(ctl, "last-gc"), `${t0}\n`);
            const second = await until("the listing after a GC", () => {
                const r = result();
                return r && r[3] === "2" ? r : undefined;
            });
            assert.deepEqual(second.slice(2), ["1", "2", "520", "2"], helperLog);

            // In the GC window, the supervisor asks for every blob's size.
            const ask = renderS3HelperAsk(s);
            // Asynchronously: the S3 server answers from this process.
            const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
                const p = spawn("sh", ["-c", `ctl=${ctl}\nlog() { echo "registry-gc: $*" >&2; }\n${ask}\ns3_helper blobs\n`], {
                    stdio: ["ignore", "ignore", "pipe"],
                });
                let stderr = "";
                p.stderr.on("data", (b) => (stderr += b));
                p.on("exit", (code) => resolve({ code, stderr }));
            });
            assert.equal(r.code, 0, `${r.stderr}\n${helperLog}`);
            assert.match(r.stderr, /S3 helper: blobs ok: 2 blobs, 520 bytes, in 2 LIST requests/);
            assert.deepEqual(fs.readFileSync(path.join(ctl, S3_HELPER_FILES.blobs), "utf8").trim().split("\n").sort(), [
                `sha256:${"b".repeat(64)} 500`,
                `sha256:${"c".repeat(64)} 20`,
            ]);

            // The bucket cannot be reached: 0, and the last good listing's values stay.
            s3.server.close();
            s3.server.closeAllConnections();
            fs.writeFileSync(path.join(ctl, "last-gc"), `${t0 + 1}\n`);
            const failed = await until("a failed listing", () => {
                const f = result();
                return f && f[2] === "0" ? f : undefined;
            });
            assert.deepEqual([failed[0], ...failed.slice(3, 5)], [second[0], "2", "520"], helperLog);
            assert.match(helperLog, /storage listing failed/);
        } finally {
            helper.kill();
            s3.server.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("the supervisor stops waiting for a helper that is not running (no heartbeat), and says so", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-helper-absent-"));
        const s = s3Settings("https://s3.example.com");
        // The same function with a 1 s staleness (30 s in production).
        const ask = renderS3HelperAsk(s).replaceAll("30", "1");
        assert.notEqual(ask, renderS3HelperAsk(s), "the staleness is in the function");
        fs.writeFileSync(path.join(dir, S3_HELPER_FILES.alive), `${Math.floor(Date.now() / 1000) - 100}\n`);
        const t0 = Date.now();
        const r = spawnSync("sh", ["-c", `ctl=${dir}\nlog() { echo "registry-gc: $*" >&2; }\n${ask}\ns3_helper list\n`], {
            encoding: "utf8",
            timeout: 30_000,
        });
        assert.equal(r.status, 1, r.stderr);
        assert.ok(Date.now() - t0 < 10_000, "it gave up in seconds");
        assert.match(r.stderr, /S3 helper: registry-dev-s3-helper is not running \(no heartbeat for 1 s\); "list" not done/);
        assert.equal(fs.existsSync(path.join(dir, S3_HELPER_FILES.request)), false, "the request is withdrawn");
        fs.rmSync(dir, { recursive: true, force: true });
    });
});

test("the S3 helper's errors name S3's Code and Message, never the keys (AWS echoes the access key in SignatureDoesNotMatch)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-helper-error-"));
    const ctl = path.join(dir, "ctl");
    fs.mkdirSync(ctl);
    const keys = path.join(dir, "s3-keys");
    fs.writeFileSync(keys, "'AKIDTEST'\n'secret/with''quote'\n");
    const server = http.createServer((_req, res) =>
        res
            .writeHead(403, { "content-type": "application/xml" })
            .end(
                `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIDTEST</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 secret/with'quote</StringToSign></Error>`,
            ),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const s = s3Settings(endpoint);
    const script = path.join(dir, "helper.py");
    fs.writeFileSync(script, renderS3Helper(s).replaceAll(REGISTRY_CONTROL_DIR, ctl).replace(S3_KEYS_PATH, keys));
    const helper = spawn("python3", ["-u", script], { stdio: ["ignore", "ignore", "pipe"] });
    let helperLog = "";
    helper.stderr.on("data", (b) => (helperLog += b));
    try {
        const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const p = spawn("sh", ["-c", `ctl=${ctl}\nlog() { echo "registry-gc: $*" >&2; }\n${renderS3HelperAsk(s)}\ns3_helper blobs\n`], {
                stdio: ["ignore", "ignore", "pipe"],
            });
            let stderr = "";
            p.stderr.on("data", (b) => (stderr += b));
            p.on("exit", (code) => resolve({ code, stderr }));
        });
        assert.equal(r.code, 1, r.stderr);
        assert.match(
            r.stderr,
            /S3 helper: blobs failed: GET \/team-registry: HTTP 403: SignatureDoesNotMatch: The request signature we calculated/,
        );
        for (const text of [r.stderr, helperLog, fs.readFileSync(path.join(ctl, S3_HELPER_FILES.answer), "utf8")])
            for (const key of ["AKIDTEST", "secret/with'quote"]) assert.ok(!text.includes(key), `a key in: ${text}`);
    } finally {
        helper.kill();
        server.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
