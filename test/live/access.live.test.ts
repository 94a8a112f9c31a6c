// Per-repository access, live, on the real Pulumi engine (settings/repositories.ts, decided
// by the authentication module in nginx): users × repositories × verbs over HTTPS and with
// real Docker clients, the cross-repository mount attack, the catalog, and a rule change
// that takes effect on the `pulumi up` that makes it without replacing any container.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ACCESS_LEVEL, repositoryAccess } from "../../settings/repositories";
import type { Access, UserAccess } from "../../settings/types";
import { Bed, BED_SLOTS } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest, Reply } from "./client";
import { Engine } from "./engine";
import { run } from "./proc";

const LABEL = `access-${randomBytes(3).toString("hex")}`;
const password = (name: string) => `${name}-${randomBytes(9).toString("hex")}`;
const PASSWORDS: Record<string, string> = { ci: password("ci"), dev: password("dev"), ops: password("ops") };
const DIGEST_OF = (body: Buffer) => `sha256:${createHash("sha256").update(body).digest("hex")}`;

type UserSpec = { access: UserAccess; repositories?: Record<string, Access> };

describe("live: per-repository access", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.access);
    let specs: Record<string, UserSpec> = {
        ci: { access: "none", repositories: { "team-a/*": "push" } },
        dev: { access: "pull" },
        ops: { access: "push" },
    };
    const config = () =>
        bed.config({
            users: Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { ...spec, password: PASSWORDS[name] }])),
        });
    const clients: Record<string, DockerClient> = { ci: new DockerClient(), dev: new DockerClient(), ops: new DockerClient() };
    const images: string[] = [];
    let ep: Endpoint;
    const auth = (name: string) => basic(name, PASSWORDS[name]);
    const as = (name: string, urlPath: string, method = "GET", body?: Buffer) =>
        httpsRequest(ep, urlPath, { auth: auth(name), method, body, timeoutMs: 30_000 });
    const model = (name: string, repository: string) =>
        ACCESS_LEVEL[repositoryAccess({ access: specs[name].access, repositories: specs[name].repositories ?? {} }, repository)];
    const ref = (repository: string, tag: string) => `${bed.host}/${repository}:${tag}`;
    /** An image of its own, pushed by `name` to repository:tag; the push's result. */
    const push = async (name: string, repository: string, tag: string) => {
        images.push(ref(repository, tag));
        await clients[name].makeImage(ref(repository, tag), 64 * 1024);
        return clients[name].exec(["push", ref(repository, tag)]);
    };
    const denied = (r: Reply, what: string) => {
        assert.equal(r.status, 403, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
        assert.match(r.body, /"code":"DENIED"/, what);
    };

    before(async () => {
        const deployed = await bed.up(config());
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(bed.host, ep.ca);
        for (const [name, client] of Object.entries(clients)) {
            const login = await client.login(bed.host, name, PASSWORDS[name]);
            assert.equal(login.code, 0, `${name} logs in (none too: /v2/ is everyone's): ${login.stderr}`);
        }
        // What the others read: pushed by ops, who may push anywhere.
        for (const repository of ["team-b/app", "team-a/app"]) {
            const r = await push("ops", repository, "seed");
            assert.equal(r.code, 0, r.stderr);
        }
    });

    after(async () => {
        for (const client of Object.values(clients)) client.cleanup();
        await bed.cleanup();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
        await engine.close();
    });

    test("1. Docker clients: ci pushes to team-a/* only and reads nothing else; dev pulls everything and pushes nothing; ops does both everywhere", async () => {
        const ok = async (what: string, p: Promise<{ code: number; stderr: string }>) => {
            const r = await p;
            assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        };
        const refused = async (what: string, p: Promise<{ code: number; stderr: string }>) => {
            const r = await p;
            assert.notEqual(r.code, 0, `${what} succeeded`);
            assert.match(r.stderr, /denied/i, `${what}: ${r.stderr}`);
        };
        await ok("ci pushes team-a/app", push("ci", "team-a/app", "ci"));
        await ok("ci pushes team-a/tool", push("ci", "team-a/tool", "ci"));
        await refused("ci pushes team-b/app", push("ci", "team-b/app", "ci"));
        await refused("ci pushes team-a/x/y (* stays within a path segment)", push("ci", "team-a/x/y", "ci"));
        await ok("ci pulls team-a/app", clients.ci.exec(["pull", ref("team-a/app", "seed")]));
        await refused("ci pulls team-b/app", clients.ci.exec(["pull", ref("team-b/app", "seed")]));
        await ok("dev pulls team-b/app", clients.dev.exec(["pull", ref("team-b/app", "seed")]));
        await ok("dev pulls what ci pushed", clients.dev.exec(["pull", ref("team-a/app", "ci")]));
        await refused("dev pushes team-b/app", push("dev", "team-b/app", "dev"));
        await ok("ops pushes team-b/app", push("ops", "team-b/app", "ops"));
        await ok("ops pushes elsewhere", push("ops", "other/thing", "ops"));
    });

    test("2. users × repositories × verbs over HTTPS: allowed reaches the registry, denied is 403 DENIED, bad credentials 401 first", async () => {
        const absent = `sha256:${"0".repeat(64)}`;
        const verbs: { method: string; path: (repo: string) => string; write: boolean }[] = [
            { method: "GET", path: (r) => `/v2/${r}/manifests/seed`, write: false },
            { method: "HEAD", path: (r) => `/v2/${r}/manifests/seed`, write: false },
            { method: "GET", path: (r) => `/v2/${r}/tags/list`, write: false },
            { method: "GET", path: (r) => `/v2/${r}/blobs/${absent}`, write: false },
            { method: "POST", path: (r) => `/v2/${r}/blobs/uploads/`, write: true },
            { method: "DELETE", path: (r) => `/v2/${r}/manifests/${absent}`, write: true },
            { method: "DELETE", path: (r) => `/v2/${r}/blobs/${absent}`, write: true },
        ];
        const wrong: string[] = [];
        const rows: string[] = [];
        for (const name of Object.keys(specs)) {
            for (const repository of ["team-a/app", "team-b/app", "team-a/x/y"]) {
                const cells: string[] = [];
                for (const v of verbs) {
                    const allowed = model(name, repository) >= (v.write ? ACCESS_LEVEL.push : ACCESS_LEVEL.pull);
                    const reply = await as(name, v.path(repository), v.method);
                    cells.push(`${v.method}:${reply.status}`);
                    const ok = allowed
                        ? reply.status !== 401 && reply.status !== 403 && (v.method !== "POST" || reply.status === 202)
                        : reply.status === 403 && (v.method === "HEAD" || /"code":"DENIED"/.test(reply.body));
                    if (!ok) wrong.push(`${name} ${v.method} ${v.path(repository)}: ${reply.status} (allowed: ${allowed})`);
                    // Wrong credentials: 401, whatever the rules would say (a few: ten failures a minute get 429).
                    if (name === "ci" && repository !== "team-a/x/y" && (v.method === "POST" || v.path(repository).endsWith("/seed"))) {
                        const bad = await httpsRequest(ep, v.path(repository), {
                            auth: basic(name, "wrong-password-123"),
                            method: v.method,
                        });
                        if (bad.status !== 401) wrong.push(`${name} (wrong password) ${v.method} ${v.path(repository)}: ${bad.status}`);
                    }
                }
                rows.push(`# ${name.padEnd(4)} ${repository.padEnd(11)} ${cells.join(" ")}`);
            }
        }
        console.log(rows.join("\n"));
        assert.deepEqual(wrong, []);
    });

    test("3. the mount attack: ci mounting a team-b blob into team-a gets a plain upload (202), and the blob is 404 there until ci uploads it; mounts it may read stay mounts (201)", async () => {
        const body = randomBytes(4096);
        const digest = DIGEST_OF(body);
        // ops puts the blob in team-b/app.
        const post = await as("ops", "/v2/team-b/app/blobs/uploads/", "POST");
        assert.equal(post.status, 202);
        const location = new URL(String(post.headers.location), "https://registry");
        const sep = location.search ? "&" : "?";
        const put = await as("ops", `${location.pathname}${location.search}${sep}digest=${digest}`, "PUT", body);
        assert.equal(put.status, 201, put.body);

        const attack = await as("ci", `/v2/team-a/app/blobs/uploads/?mount=${digest}&from=team-b%2Fapp`, "POST");
        assert.equal(attack.status, 202, `a plain upload, not a mount (201): ${attack.status} ${attack.body}`);
        assert.match(String(attack.headers.location), /\/v2\/team-a\/app\/blobs\/uploads\//);
        assert.equal((await as("ci", `/v2/team-a/app/blobs/${digest}`, "HEAD")).status, 404, "not in team-a/app");
        // ci uploads the bytes itself: now the blob is there.
        const own = new URL(String(attack.headers.location), "https://registry");
        const done = await as("ci", `${own.pathname}${own.search}${own.search ? "&" : "?"}digest=${digest}`, "PUT", body);
        assert.equal(done.status, 201, done.body);
        assert.equal((await as("ci", `/v2/team-a/app/blobs/${digest}`, "HEAD")).status, 200);

        // A mount from a repository ci may read (team-a/app) into another of its own: mounted.
        const mounted = await as("ci", `/v2/team-a/copy/blobs/uploads/?mount=${digest}&from=team-a/app`, "POST");
        assert.equal(mounted.status, 201, mounted.body);
        // ops may read everything: its mount from team-b stays one.
        assert.equal((await as("ops", `/v2/ops/copy/blobs/uploads/?mount=${digest}&from=team-b/app`, "POST")).status, 201);
    });

    test("4. the catalog: users who may pull every repository see it; ci gets 403", async () => {
        denied(await as("ci", "/v2/_catalog"), "ci's catalog");
        for (const name of ["dev", "ops"]) {
            const reply = await as(name, "/v2/_catalog");
            assert.equal(reply.status, 200, `${name}: ${reply.body}`);
            const repositories = (JSON.parse(reply.body) as { repositories: string[] }).repositories;
            for (const r of ["team-a/app", "team-b/app"]) assert.ok(repositories.includes(r), `${name} sees ${r}`);
        }
    });

    test("5. a rule change takes effect on the `pulumi up` that makes it, with one users install and no container replaced", async () => {
        const before = await bed.containerIds();
        denied(await as("ci", "/v2/team-b/app/manifests/seed"), "ci reads team-b before");
        assert.equal((await as("dev", "/v2/team-b/app/manifests/seed")).status, 200);
        specs = {
            ci: { access: "none", repositories: { "team-a/*": "push", "team-b/**": "pull" } },
            dev: { access: "none", repositories: { "team-a/**": "pull" } },
            ops: { access: "push", repositories: { "team-b/*": "pull" } },
        };
        await bed.up(config());
        console.log(`# ${bed.actions.join("; ")}`);
        assert.deepEqual(await bed.containerIds(), before, "no container replaced or restarted");
        assert.ok(
            bed.actions.every((a) => !/replace|create-replacement|delete/.test(a)),
            `nothing replaced: ${bed.actions.join("; ")}`,
        );
        assert.equal((await as("ci", "/v2/team-b/app/manifests/seed")).status, 200, "ci reads team-b now");
        denied(await as("ci", "/v2/team-b/app/blobs/uploads/", "POST"), "ci still writes no team-b");
        denied(await as("dev", "/v2/team-b/app/manifests/seed"), "dev reads team-b no more");
        assert.equal((await as("dev", "/v2/team-a/app/manifests/seed")).status, 200);
        denied(await as("dev", "/v2/_catalog"), "dev's catalog");
        denied(await as("ops", "/v2/team-b/app/blobs/uploads/", "POST"), "ops writes team-b no more");
        assert.equal((await as("ops", "/v2/team-a/app/blobs/uploads/", "POST")).status, 202);
        assert.equal((await as("ops", "/v2/_catalog")).status, 200);
    });
});
