// Authentication, live, on the real Pulumi engine (configs/auth.ts): anything without valid
// credentials gets 401 before anything else is decided; a wrong password takes as long for a
// known user as for an unknown one; verified credentials are remembered and forgotten the
// moment the users change; a Docker client's burst with new credentials is never limited;
// and a wrong-password flood from several addresses gets 429 while another address's pushes
// and pulls all succeed. Clients come from addresses of their own (sourceAddresses.ts), so
// nginx sees them as distinct, as on a real network.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_SECONDS, GC_RETRY_AFTER_SECONDS } from "../../configs/auth";
import { NGINX_AUTH_DIR, NGINX_CONF_DIR } from "../../configs/nginx";
import { GC_FLAG, REGISTRY_CONTROL_DIR } from "../../configs/registry";
import { Bed, BED_SLOTS } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest } from "./client";
import { Engine } from "./engine";
import { honestTraffic, quantile, statusCounts, uploadBlob, wrongPasswordFlood } from "./flood";
import { docker, run } from "./proc";
import { sourceAddresses } from "./sourceAddresses";

const LABEL = `auth-${randomBytes(3).toString("hex")}`;
const HSTS = "strict-transport-security";

describe("live: authentication under attack", { timeout: 900_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.auth);
    const client = new DockerClient();
    const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    const READER = { name: "reader", password: `reader-${randomBytes(9).toString("hex")}` };
    const users = (alicePassword: string, withReader = true) => ({
        alice: { access: "push", password: alicePassword },
        ...(withReader ? { reader: { access: "pull", password: READER.password } } : {}),
    });
    let config = bed.config({ users: users(ALICE.password) });
    let ep: Endpoint;
    let sources: string[] = [];
    const images: string[] = [];

    /** A request from `source`, timed from the first byte sent to the last received. */
    const timed = async (source: string, path: string, opts: { auth?: string; method?: string; body?: Buffer } = {}) => {
        const started = process.hrtime.bigint();
        const reply = await httpsRequest(ep, path, { ...opts, localAddress: source, timeoutMs: 30_000 });
        return { reply, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };

    before(async () => {
        const deployed = await bed.up(config);
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(bed.host, ep.ca);
        sources = await sourceAddresses(10, 17);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
    });

    test("1. without valid credentials every request gets 401, whoever it names, whatever it does, during GC too; 403 and 503 only with valid ones; HSTS on every response", async () => {
        const from = sources[0];
        const write = "/v2/auth1/blobs/uploads/";
        const expect = async (what: string, path: string, opts: { auth?: string; method?: string }, status: number) => {
            const { reply } = await timed(from, path, opts);
            assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.body.slice(0, 200)}`);
            assert.ok(reply.headers[HSTS], `${what}: no HSTS header`);
            if (status === 401) assert.match(String(reply.headers["www-authenticate"]), /^Basic realm=/, what);
            return reply;
        };
        const alice = basic(ALICE.name, ALICE.password);
        const reader = basic(READER.name, READER.password);
        await expect("anonymous read", "/v2/", {}, 401);
        await expect("anonymous write", write, { method: "POST" }, 401);
        await expect("wrong password, pull-only user, write", write, { auth: basic(READER.name, "wrong-password-1"), method: "POST" }, 401);
        await expect("wrong password, push user, write", write, { auth: basic(ALICE.name, "wrong-password-2"), method: "POST" }, 401);
        await expect("unknown user", "/v2/", { auth: basic("mallory", "wrong-password-3") }, 401);
        await expect("pull-only user, read", "/v2/", { auth: reader }, 200);
        const denied = await expect("pull-only user, write", write, { auth: reader, method: "POST" }, 403);
        assert.match(denied.body, /DENIED/);
        await expect("push user, write", write, { auth: alice, method: "POST" }, 202);
        await expect("no such page", "/elsewhere", {}, 404);

        // Garbage collection in progress (its flag, as the registry's supervisor sets it).
        const flag = `${REGISTRY_CONTROL_DIR}/${GC_FLAG}`;
        await docker(["exec", `${bed.prefix}-registry`, "touch", flag]);
        try {
            await expect("GC: anonymous write", write, { method: "POST" }, 401);
            await expect("GC: wrong password, write", write, { auth: basic(ALICE.name, "wrong-password-4"), method: "POST" }, 401);
            await expect("GC: pull-only user, write", write, { auth: reader, method: "POST" }, 403);
            const busy = await expect("GC: push user, write", write, { auth: alice, method: "POST" }, 503);
            assert.equal(busy.headers["retry-after"], String(GC_RETRY_AFTER_SECONDS));
            await expect("GC: push user, read", "/v2/", { auth: alice }, 200);
        } finally {
            await docker(["exec", `${bed.prefix}-registry`, "rm", "-f", flag]);
        }
    });

    test("2. a wrong password takes as long for an unknown user as for a known one (25 samples each, medians within 20 ms)", async () => {
        // Different wrong passwords each time (none remembered), alternating, spread over
        // addresses so that none reaches the failure limit.
        const known: number[] = [];
        const unknown: number[] = [];
        const spread = sources.slice(1, 9);
        for (let i = 0; i < 50; i++) {
            const from = spread[i % spread.length];
            const name = i % 2 === 0 ? ALICE.name : `nobody-${i}`;
            const { reply, ms } = await timed(from, "/v2/", { auth: basic(name, `wrong-${randomBytes(6).toString("hex")}`) });
            assert.equal(reply.status, 401, `${name}: ${reply.status}`);
            (i % 2 === 0 ? known : unknown).push(ms);
        }
        const difference = Math.abs(quantile(known, 0.5) - quantile(unknown, 0.5));
        console.log(
            `# wrong password: known user median ${quantile(known, 0.5).toFixed(1)} ms, unknown ${quantile(unknown, 0.5).toFixed(1)} ms (difference ${difference.toFixed(1)} ms)`,
        );
        assert.ok(
            difference <= 20,
            `known ${known.map((m) => m.toFixed(0)).join(" ")}\nunknown ${unknown.map((m) => m.toFixed(0)).join(" ")}`,
        );
    });

    test("3. a burst of 20 concurrent layer uploads with new credentials is never limited; a password change and a user's removal take effect the moment pulumi up returns", async () => {
        const oldAlice = basic(ALICE.name, ALICE.password);
        const reader = basic(READER.name, READER.password);
        const from = sources[9];
        // Both remembered (verified now, if not before): they pass even from an address over
        // its failure limit, which gets 429 for anything that would need bcrypt.
        const limited = sources[16];
        /** Wrong passwords from `address` until it is over its failure limit (429). */
        const overLimit = async (address: string) => {
            for (let i = 1; i <= AUTH_FAILURE_LIMIT + 1; i++) {
                const { reply } = await timed(address, "/v2/", { auth: basic(ALICE.name, `wrong-${randomBytes(6).toString("hex")}`) });
                if (reply.status === 429) return;
                assert.equal(reply.status, 401, `failure ${i}`);
            }
            assert.fail(`${address} is not limited after ${AUTH_FAILURE_LIMIT + 1} failures`);
        };
        assert.equal((await timed(limited, "/v2/", { auth: oldAlice })).reply.status, 200);
        assert.equal((await timed(limited, "/v2/", { auth: reader })).reply.status, 200);
        await overLimit(limited);
        assert.equal((await timed(limited, "/v2/", { auth: oldAlice })).reply.status, 200, "alice remembered");
        assert.equal((await timed(limited, "/v2/", { auth: reader })).reply.status, 200, "reader remembered");

        const newPassword = `alice-new-${randomBytes(9).toString("hex")}`;
        config = { ...config, users: users(newPassword, false) };
        await bed.up(config);
        assert.deepEqual(bed.actions, ["update command:local:Command registry-htpasswd-install"]);
        assert.equal((await timed(from, "/v2/", { auth: oldAlice })).reply.status, 401, "the old password is refused at once");
        assert.equal((await timed(from, "/v2/", { auth: reader })).reply.status, 401, "the removed user is refused at once");
        // Valid, but not remembered: refused from the limited address (no verification there).
        await overLimit(limited);
        const unverified = await timed(limited, "/v2/", { auth: basic(ALICE.name, newPassword) });
        assert.equal(unverified.reply.status, 429, "only remembered credentials pass from an address over its limit");

        // A Docker client's burst with the new password, never used before: 20 layers at once.
        const fresh = basic(ALICE.name, newPassword);
        const replies = await Promise.all(
            Array.from({ length: 20 }, (_, i) => uploadBlob(ep, sources[10], fresh, `burst/layer${i}`, randomBytes(256 * 1024))),
        );
        const statuses = replies.map((steps) => steps.map((r) => r.status).join(">"));
        assert.deepEqual(statuses, Array(20).fill("202>201"), "every upload completed, none limited");

        // Nothing on nginx's disk holds a password in clear (the pattern travels on stdin).
        const dirs = [NGINX_CONF_DIR, NGINX_AUTH_DIR, "/tmp", "/var/cache/nginx", "/var/log/nginx"];
        const found = await run("docker", ["exec", "-i", `${bed.prefix}-nginx`, "sh", "-c", `grep -rlsF -f - ${dirs.join(" ")} || true`], {
            input: `${newPassword}\n${ALICE.password}\n${READER.password}\n`,
        });
        assert.equal(found.stdout.trim(), "", `files holding a password: ${found.stdout}`);
    });

    test("4. a wrong-password flood from four addresses gets 429 with Retry-After over the limit, while another address's pushes and pulls all succeed", async () => {
        const password = (config.users as { alice: { password: string } }).alice.password;
        const alice = basic(ALICE.name, password);
        const flooders = sources.slice(11, 15);
        const honest = sources[15];
        const bounds = { perSource: 300, concurrency: 12, deadline: Date.now() + 12_000 };
        const flood = wrongPasswordFlood(ep, ALICE.name, flooders, bounds);
        // Meanwhile, from another address: uploads, and reads of what was uploaded.
        const work = honestTraffic(ep, honest, alice, "flood/honest", { bytes: 64 * 1024, maxRounds: 400, deadline: bounds.deadline });
        // And a Docker client's push and pull.
        const ref = `${bed.host}/flood/image:1`;
        images.push(ref);
        const login = await client.login(bed.host, ALICE.name, password);
        assert.equal(login.code, 0, login.stderr);
        await client.makeImage(ref, 512 * 1024);
        await client.must(["push", ref]);
        await client.must(["image", "rm", ref]);
        await client.must(["pull", ref]);
        const [flooded, honestResult] = await Promise.all([flood, work]);

        assert.ok(honestResult.outcomes.length > 0);
        assert.deepEqual(
            honestResult.outcomes.filter((r) => r !== "202>201>200"),
            [],
            "every upload and read from the other address succeeded",
        );
        // Within one failure window, so each address's limit applies once.
        assert.ok(flooded.seconds < AUTH_FAILURE_WINDOW_SECONDS, `the flood took ${flooded.seconds} s`);
        for (const [from, replies] of flooded.replies) {
            const statuses = statusCounts(replies);
            console.log(`# flood from ${from}: ${JSON.stringify(statuses)}`);
            assert.deepEqual(
                Object.keys(statuses).filter((s) => s !== "401" && s !== "429"),
                [],
                `${from}: only 401 and 429 (${JSON.stringify(statuses)})`,
            );
            const limited = replies.filter((r) => r.status === 429);
            assert.ok(limited.length > 0, `${from} was limited`);
            for (const r of limited) assert.ok(Number(r.headers["retry-after"]) >= 1, `Retry-After: ${r.headers["retry-after"]}`);
            // bcrypt ran at most for the limit: each verification is counted before it starts,
            // whatever was in flight.
            assert.ok((statuses[401] ?? 0) <= AUTH_FAILURE_LIMIT, `${from}: ${statuses[401]} failures answered`);
        }
        const latencies = honestResult.latenciesMs;
        console.log(
            `# honest requests during the flood: ${latencies.length}, median ${quantile(latencies, 0.5).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
        );
    });
});
