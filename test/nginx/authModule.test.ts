// The authentication module (configs/auth.ts) in a real nginx with njs (the test bed's image),
// without Pulumi: the rendered main config, HTTPS server, access rules and users' file, with
// the product's failure limit but its window shortened (and the zones' timeouts with it, as
// authZones scales them), so that a window's whole life fits in a few seconds.
//
// bcrypt runs only in the verification server (auth_basic on the container's loopback), so
// its requests are the bcrypt runs: the test logs them to a file of its own (the one change to
// the rendered config, which does not log them) and counts the lines. Needs Docker and the
// bed's images (test/bed/images.sh): `npm run test:nginx`, part of `npm test`. The metrics
// endpoint (configs/metrics.ts) runs beside it: its count of verifications is the log's.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { AUTH_FAILURE_LIMIT, AUTH_LIMITS, AUTH_ZONES, AuthZone, authZones, renderAuthModule } from "../../configs/auth";
import { htpasswdLine, renderAccessRules } from "../../configs/htpasswd";
import { NGINX_METRICS_PORT, renderMetricsFiles } from "../../configs/metrics";
import { AUTH_MODULE_PATH, NGINX_CONTROL_DIR, renderHttpsServer, renderMainConf } from "../../configs/nginx";
import { GC_RESULT } from "../../configs/registry";
import { RETENTION_RESULT } from "../../configs/retention";
import { S3_HELPER_FILES } from "../../configs/s3HelperProtocol";
import { NGINX_HTTPS_PORT } from "../../configs/ports";
import { parseSettings } from "../../settings/parse";
import { layOut, selfSignedCert, tmp } from "../harness/nginxRoot";
import { loadImages } from "../live/bed";
import { basic, Endpoint, httpsRequest, Reply } from "../live/client";
import { quantile } from "../live/flood";

const LIMIT = AUTH_FAILURE_LIMIT;
const WINDOW_SECONDS = 3;
const LIMITS = {
    ...AUTH_LIMITS,
    failureWindowSeconds: WINDOW_SECONDS,
    // Below twice bcrypt's time (cost 10), so that every failure's time is bcrypt's, as the
    // timing test needs: at the product's 100 ms, a fast machine's bcrypt hides under it.
    minFailureMs: 20,
};
const settings = parseSettings({ domain: "registry.test", acmeServer: "pebble" }, "dev");
const ALICE = { name: "alice", password: "alice-password-123" };
const READER = { name: "reader", password: "reader-password-123" };

function docker(args: string[]): string {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`docker ${args[0]}: ${r.stderr}`);
    return r.stdout.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** nginx.conf's declaration of a zone, up to its timeout (nginx.conf.mustache). */
const zoneDeclaration = (z: AuthZone) => `zone=${z.name}:${z.size}${z.timeoutSeconds ? ` timeout=${z.timeoutSeconds}s` : ""}`;

/** `Basic <token>` with the token as given. */
const basicToken = (token: string) => `Basic ${token}`;
const b64 = (text: string | Buffer) => Buffer.from(text).toString("base64");

describe(`the authentication module in a real nginx (limit ${LIMIT} failures per ${WINDOW_SECONDS} s window)`, () => {
    const root = tmp();
    const verifyLog = path.join(root, "verify-access.log");
    let container = "";
    let ep: Endpoint;
    /** When the last reply that may have been counted against this address came (Date.now()). */
    let lastCountedAt = 0;
    // bcrypt blocks an nginx worker (one per core) while it runs: ten wrong passwords at once on
    // a loaded 2-core machine can take longer than the client's default 10 s.
    const get = async (auth?: string, method = "GET"): Promise<Reply> => {
        const reply = await httpsRequest(ep, "/v2/", { auth, method, timeoutMs: 30_000 });
        lastCountedAt = Date.now();
        return reply;
    };
    const timedGet = async (auth: string) => {
        const t0 = process.hrtime.bigint();
        const reply = await get(auth);
        return { reply, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    };
    /** Requests in parallel, at most `width` at a time, in order of the list. */
    const inParallel = async (auths: string[], width: number): Promise<Reply[]> => {
        const replies: Reply[] = new Array(auths.length);
        let next = 0;
        const lane = async () => {
            while (next < auths.length) {
                const i = next++;
                replies[i] = await get(auths[i]);
            }
        };
        await Promise.all(Array.from({ length: Math.min(width, auths.length) }, lane));
        return replies;
    };
    /** Waits until every window this address's requests so far may have counted in is over. */
    const freshWindow = () => sleep(lastCountedAt + WINDOW_SECONDS * 1000 + 250 - Date.now());
    /** Requests the verification server has answered, each one a bcrypt run. */
    const verifications = () => fs.readFileSync(verifyLog, "utf8").split("\n").filter(Boolean).length;
    /** Waits (at most 5 s) until the verification server has answered `count` requests. */
    const verificationsReach = async (count: number) => {
        for (const deadline = Date.now() + 5000; verifications() < count && Date.now() < deadline;) await sleep(20);
        return verifications();
    };
    const wrongPassword = (user = ALICE.name) => basic(user, `wrong-${randomBytes(6).toString("hex")}`);

    before(async () => {
        selfSignedCert(root);
        const htpasswd = "/etc/nginx/auth/htpasswd-test";
        // The zones' timeouts of the shortened window, as the product's are of its own.
        let main = renderMainConf(settings);
        const zones: Record<string, AuthZone> = authZones(LIMITS);
        for (const [k, z] of Object.entries(AUTH_ZONES)) {
            assert.ok(main.includes(zoneDeclaration(z)), `nginx.conf declares ${z.name}`);
            main = main.replace(zoneDeclaration(z), zoneDeclaration(zones[k]));
        }
        // The verification server's requests, logged (the product does not: `access_log off`).
        const https = renderHttpsServer(settings);
        assert.equal(https.split("access_log off;").length, 2, "the verification server, and only it, has access_log off");
        const conf = layOut(root, {
            "nginx.conf": main,
            [AUTH_MODULE_PATH]: renderAuthModule(10, NGINX_CONTROL_DIR, LIMITS),
            "servers/10-https.conf": https.replace("access_log off;", `access_log ${verifyLog};`),
            "access/users.conf": renderAccessRules(
                [
                    { name: ALICE.name, access: "push" },
                    { name: READER.name, access: "pull" },
                ],
                htpasswd,
            ),
            ...Object.fromEntries(renderMetricsFiles(settings, "").map((f) => [f.path, f.content])),
        });
        // The supervisor's last results, as it records them in the control volume.
        fs.mkdirSync(path.join(root, "control"), { recursive: true });
        fs.writeFileSync(path.join(root, "control", GC_RESULT), "1700000000 3.25 0 7 123456\n");
        fs.writeFileSync(path.join(root, "control", RETENTION_RESULT), "1700000000 1 1 2 0\n");
        // The S3 helper's last listing: a failed one, after a good one of 3 blobs, 1520 bytes.
        fs.writeFileSync(path.join(root, "control", S3_HELPER_FILES.storage), "1700000100 2.125 0 3 1520 4\n");
        fs.writeFileSync(
            path.join(root, "auth", path.basename(htpasswd)),
            [ALICE, READER].map((u) => htpasswdLine(u.name, u.password, "unit-test-salt-key", 10)).join("\n") + "\n",
        );
        // nginx's workers run as nobody: they read the users' file at request time.
        for (const dir of [root, path.join(root, "auth")]) fs.chmodSync(dir, 0o755);
        const image = loadImages().NGINX_IMAGE;
        container = docker([
            "run",
            "--detach",
            "--rm",
            "--entrypoint",
            "nginx",
            "-v",
            `${root}:${root}`,
            "-v",
            `${path.join(root, "control")}:${NGINX_CONTROL_DIR}:ro`,
            image,
            "-c",
            conf,
            "-g",
            "daemon off;",
        ]);
        const address = docker(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container]);
        const ca = fs.readFileSync(path.join(root, "letsencrypt", "live", "registry", "fullchain.pem"), "utf8");
        ep = { domain: "registry.test", address, httpPort: 0, httpsPort: NGINX_HTTPS_PORT, ca };
        const version = spawnSync("docker", ["exec", container, "nginx", "-v"], { encoding: "utf8" }).stderr.trim();
        console.log(`# ${version}, image ${image}`);
        for (let i = 0; i < 100; i++) {
            try {
                await get();
                return;
            } catch {
                await sleep(100);
            }
        }
        throw new Error(`nginx did not answer: ${docker(["logs", container])}`);
    });

    after(() => {
        if (container) spawnSync("docker", ["rm", "--force", container]);
        fs.rmSync(root, { recursive: true, force: true });
    });

    test("valid credentials pass (to the registry, absent here: 502), a pull-only user's write is 403, no credentials 401", async () => {
        const none = await get();
        assert.equal(none.status, 401);
        assert.match(String(none.headers["www-authenticate"]), /^Basic realm=/);
        assert.equal((await get(basic(ALICE.name, ALICE.password))).status, 502);
        assert.equal((await get(basic(READER.name, READER.password))).status, 502);
        const denied = await get(basic(READER.name, READER.password), "POST");
        assert.equal(denied.status, 403);
        assert.match(denied.body, /DENIED/);
    });

    test("a Basic value that is not the canonical base64 of user:password gets 401 at once, uncounted and without bcrypt: 200 variants of a valid one too", async () => {
        const alice = b64(`${ALICE.name}:${ALICE.password}`);
        const reader = b64(`${READER.name}:${READER.password}`); // ends in one "=" of padding
        assert.match(reader, /[^=]=$/);
        // The same bytes with other bits where the padding leaves some over: decodes alike.
        const strayBits = reader.slice(0, -2) + String.fromCharCode(reader.charCodeAt(reader.length - 2) + 1) + "=";
        assert.equal(Buffer.from(strayBits, "base64").toString(), `${READER.name}:${READER.password}`);
        const url = b64(`${ALICE.name}:pa\u00ff\u00fe>?`).replace(/\+/g, "-").replace(/\//g, "_");
        assert.match(url, /[-_]/);
        const variants = Array.from({ length: 200 }, (_, i) => basicToken(`${alice}=${i + 1}`));
        const malformed: Record<string, string> = {
            "two = after a token without padding": basicToken(`${alice}==`),
            "a length of 1 mod 4": basicToken(`${alice}Q`),
            "trailing data after a space": `${basicToken(alice)} x`,
            "padding missing": basicToken(reader.slice(0, -1)),
            "stray bits before the padding": basicToken(strayBits),
            "a character outside the alphabet": basicToken(`${alice.slice(0, 4)}-${alice.slice(5)}`),
            base64url: basicToken(url),
            "no colon": basicToken(b64(ALICE.name)),
            "an empty user": basicToken(b64(`:${ALICE.password}`)),
            "a space in the user": basicToken(b64(`${ALICE.name} x:${ALICE.password}`)),
            "a space before the user": basicToken(b64(` ${ALICE.name}:${ALICE.password}`)),
            "a control character in the user": basicToken(b64(`${ALICE.name}\u0001:${ALICE.password}`)),
            "a non-ASCII user": basicToken(b64(Buffer.from(`${ALICE.name}\u00e9:${ALICE.password}`, "utf8"))),
            "another scheme": `Bearer ${alice}`,
            "no token": "Basic ",
        };
        // Canonical: verified (or remembered), whatever the scheme's case and spacing.
        assert.equal((await get(basicToken(alice))).status, 502);
        assert.equal((await get(`bASIC   ${alice}`)).status, 502);
        const verifiedBefore = verifications();

        const replies = await inParallel([...variants, ...Object.values(malformed)], 20);
        const names = [...variants.map((_, i) => `variant =${i + 1}`), ...Object.keys(malformed)];
        const wrong = replies.map((r, i) => `${names[i]}: ${r.status}`).filter((_, i) => replies[i].status !== 401);
        assert.deepEqual(wrong, [], "every malformed value: 401 (never 2xx, 502 or 429)");
        for (const r of replies) assert.match(String(r.headers["www-authenticate"]), /^Basic realm=/);

        // A wrong password is verified: once its verification is logged, nothing before it
        // was (the verification server logs each request as it answers it).
        assert.equal((await get(wrongPassword())).status, 401);
        const verifiedAfter = await verificationsReach(verifiedBefore + 1);
        assert.equal(verifiedAfter, verifiedBefore + 1, `verifications for ${replies.length} malformed values and one wrong password`);
        // The canonical form still passes, remembered.
        assert.equal((await get(basicToken(alice))).status, 502);
        assert.equal(verifications(), verifiedAfter);
    });

    test(`an address gets 429 with Retry-After at its ${LIMIT + 1}th failure, until its window is over; the next window counts afresh, three times in a row; remembered credentials pass throughout`, async () => {
        await freshWindow();
        const verifiedBefore = verifications();
        for (let round = 1; round <= 3; round++) {
            const at = `window ${round}`;
            // The limit's worth at once: every one counted, none refused.
            const failures = await inParallel(
                Array.from({ length: LIMIT }, () => wrongPassword()),
                LIMIT,
            );
            failures.forEach((r, i) => assert.equal(r.status, 401, `${at}, failure ${i + 1}`));
            const limited = await get(wrongPassword());
            assert.equal(limited.status, 429, `${at}: limited after ${LIMIT} failures`);
            const retryAfter = Number(limited.headers["retry-after"]);
            assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_SECONDS, `${at}: Retry-After ${limited.headers["retry-after"]}`);
            assert.ok(limited.headers["strict-transport-security"]);
            // Verified before the limit: still let through from the limited address.
            assert.equal((await get(basic(ALICE.name, ALICE.password))).status, 502, at);
            assert.equal((await get(wrongPassword())).status, 429, `${at}: still limited`);
            // The window's end, as Retry-After gives it.
            await sleep(retryAfter * 1000 + 300);
        }
        // bcrypt ran for the failures only, none for the refused.
        assert.equal(await verificationsReach(verifiedBefore + 3 * LIMIT), verifiedBefore + 3 * LIMIT);
    });

    test(`a concurrent burst of wrong passwords (60, 30 at a time) gets at most ${LIMIT} verified (401), the rest 429; remembered credentials pass`, async () => {
        await freshWindow();
        const verifiedBefore = verifications();
        const replies = await inParallel(
            Array.from({ length: 60 }, () => wrongPassword()),
            30,
        );
        const counts: Record<number, number> = {};
        for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1;
        console.log(`# burst: ${JSON.stringify(counts)}, verifications ${verifications() - verifiedBefore}`);
        assert.deepEqual(
            Object.keys(counts).filter((s) => s !== "401" && s !== "429"),
            [],
            JSON.stringify(counts),
        );
        assert.ok((counts[401] ?? 0) >= 1 && (counts[401] ?? 0) <= LIMIT, `401s: ${counts[401]}`);
        for (const r of replies.filter((r) => r.status === 429)) assert.ok(Number(r.headers["retry-after"]) >= 1);
        // Every 401 came after its verification: all are logged by now.
        assert.equal(verifications() - verifiedBefore, counts[401]);
        assert.equal((await get(basic(ALICE.name, ALICE.password))).status, 502);
    });

    test("after malformed requests naming a known user, a known user's wrong password takes as long as an unknown user's (medians within 20 ms)", async () => {
        await freshWindow();
        const known: number[] = [];
        const unknown: number[] = [];
        const rounds = LIMIT / 2; // a known and an unknown user's failure each: the window's limit
        for (let round = 0; round < rounds; round++) {
            // Ten malformed values naming alice that nginx's auth_basic refuses without bcrypt
            // (a token of 1 mod 4 characters: a multiple of 3 bytes, unpadded, and one more): 50 in all.
            for (let i = 0; i < 10; i++) {
                const credential = `${ALICE.name}:guess-${round}-${i}`.padEnd(3 * 8, "x");
                const reply = await get(basicToken(`${b64(credential)}Q`));
                assert.equal(reply.status, 401, `malformed ${round}.${i}`);
            }
            // Then a wrong password for alice (verified), and one for nobody (not): the
            // unknown one right after, so both take the same time if bcrypt's average is true.
            const k = await timedGet(wrongPassword());
            const u = await timedGet(wrongPassword(`nobody-${round}`));
            assert.equal(k.reply.status, 401, `known, round ${round}`);
            assert.equal(u.reply.status, 401, `unknown, round ${round}`);
            known.push(k.ms);
            unknown.push(u.ms);
        }
        const difference = Math.abs(quantile(known, 0.5) - quantile(unknown, 0.5));
        console.log(
            `# wrong password: known ${known.map((m) => m.toFixed(0)).join(" ")} ms, unknown ${unknown.map((m) => m.toFixed(0)).join(" ")} ms (medians differ by ${difference.toFixed(1)} ms)`,
        );
        assert.ok(difference <= 20, `medians differ by ${difference.toFixed(1)} ms`);
    });

    test("the metrics endpoint counts a verification per bcrypt run and the answers from memory, and serves the supervisor's results", async () => {
        // A wrong password twice: verified, then remembered.
        await freshWindow();
        const wrong = wrongPassword();
        assert.equal((await get(wrong)).status, 401);
        assert.equal((await get(wrong)).status, 401);
        let text = "";
        const value = (series: string) => {
            const line = text.split("\n").find((l) => l.startsWith(`${series} `));
            assert.ok(line, `${series} is served:\n${text}`);
            return Number(line.slice(series.length + 1));
        };
        const verified = () =>
            value('registry_auth_verifications_total{result="success"}') + value('registry_auth_verifications_total{result="failure"}');
        // The verification server logs a request as it ends: both settle within 5 s.
        for (const deadline = Date.now() + 5000; ; await sleep(50)) {
            const reply = await fetch(`http://${ep.address}:${NGINX_METRICS_PORT}/metrics`);
            assert.equal(reply.status, 200);
            text = await reply.text();
            if (verified() === verifications() || Date.now() > deadline) break;
        }
        assert.equal(verified(), verifications(), "one per request the verification server answered");
        assert.ok(value('registry_auth_verifications_total{result="failure"}') > 0);
        assert.ok(value('registry_auth_remembered_total{result="success"}') > 0, "remembered credentials passed throughout");
        assert.ok(value('registry_auth_remembered_total{result="failure"}') > 0, "wrong passwords tried again");
        assert.ok(value('registry_auth_refused_total{code="429"}') > 0);
        assert.match(text, /^# TYPE registry_auth_verifications_total counter$/m);
        assert.equal(value("registry_gc_last_start_timestamp_seconds"), 1700000000);
        assert.equal(value("registry_gc_last_duration_seconds"), 3.25);
        assert.equal(value("registry_gc_last_success"), 0);
        assert.equal(value("registry_gc_last_deleted_blobs"), 7);
        assert.equal(value("registry_gc_last_freed_bytes"), 123456);
        assert.equal(value("registry_retention_last_success"), 1);
        assert.equal(value("registry_retention_last_deleted_tags"), 2);
        assert.equal(value("registry_retention_last_dry_run"), 0);
        assert.equal(value("registry_storage_s3_blobs_bytes"), 1520);
        assert.equal(value("registry_storage_s3_blobs"), 3);
        assert.equal(value("registry_storage_s3_listing_timestamp_seconds"), 1700000100);
        assert.equal(value("registry_storage_s3_listing_success"), 0);
        assert.equal(value("registry_storage_s3_listing_duration_seconds"), 2.125);
        assert.equal(value("registry_storage_s3_listing_requests"), 4);
        assert.match(text, /^# TYPE registry_storage_s3_blobs_bytes gauge$/m);
    });
});
