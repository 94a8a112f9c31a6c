// The product, live: this repo's program deployed by the real Pulumi engine (Automation API,
// test/live/engine.ts) to a real Docker engine, Pebble as the CA, then real clients: the
// Docker CLI logs in, pushes and pulls through TLS (verifying the certificate) and basic
// auth; TLS, auth, renewal, ACME failure, bad config, replacement, GC, refresh, destroy and
// the engine's own reports (changes, preview diffs, exported state) are checked.
// The tests run in order against one deployment, as an operator's day would.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { renderConfigInstall } from "../../configs/install";
import { stackConfigFile } from "../../stackConfig";
import { Bed, BED_SLOTS, DeployError } from "./bed";
import { basic, DockerClient, Endpoint, handshake, httpRequest, httpsRequest, peerCertificate } from "./client";
import { changed, Engine, ROOT } from "./engine";
import { forceRenewal, requestsDuring } from "./load";
import { docker, healthBecomes, run } from "./proc";
import { copyProject } from "./project";
import { leaksIn, secretAtoms } from "./secrets";

const LABEL = `live-${randomBytes(3).toString("hex")}`;

const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
const BOB = { name: "bob", password: `bob-${randomBytes(9).toString("hex")}` };

describe("live: the registry on a real Docker engine, deployed by the real Pulumi engine", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.registry);
    const client = new DockerClient();
    const users = (alice = ALICE.password) => ({
        alice: { access: "push", password: alice },
        bob: { access: "pull", password: BOB.password },
    });
    let config = bed.config({ users: users() });
    let ep: Endpoint;
    let host: string;
    const prefix = bed.prefix;
    const repo = () => `${host}/bed/hello`;
    let pushedId = "";
    const extraImages: string[] = [];

    before(async () => {
        const deployed = await bed.up(config);
        host = deployed.outputs.host.value as string;
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        await bed.addHostsEntry();
        bed.trustRoot(host, ep.ca);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await run("docker", ["image", "rm", "--force", `${bed.host}/bed/hello:1`, `${bed.host}/bed/hello:2`, ...extraImages]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("1. fresh deploy: Pebble-issued certificate; docker login, push and pull through TLS and auth, the certificate verified", async () => {
        assert.equal(host, bed.host);
        assert.notEqual(ep.address.split(".")[0], "127", "clients reach nginx on an address Docker does not treat as insecure");
        const cert = await peerCertificate(ep);
        assert.match(String(cert.issuer.CN ?? ""), /Pebble/i, "issued by Pebble's intermediate");
        assert.equal(cert.subjectaltname, `DNS:${bed.domain}`);

        const login = await client.login(host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
        const id = await client.makeImage(`${repo()}:1`);
        await client.must(["push", `${repo()}:1`]);
        await client.must(["image", "rm", `${repo()}:1`]);
        await client.must(["pull", `${repo()}:1`]);
        pushedId = await client.must(["image", "inspect", "--format", "{{.Id}}", `${repo()}:1`]);
        assert.equal(pushedId, id);
    });

    test("2. without the CA in certs.d, docker login fails with an x509 error", async () => {
        const stranger = new DockerClient();
        bed.distrustRoot(host);
        try {
            const login = await stranger.login(host, ALICE.name, ALICE.password);
            assert.notEqual(login.code, 0, "login must fail when Docker does not trust the CA");
            assert.match(login.stderr, /x509: certificate signed by unknown authority/);
        } finally {
            bed.trustRoot(host, ep.ca);
            stranger.cleanup();
        }
    });

    test("3. no credentials and a wrong password get 401; pull-only users cannot write; TLS < 1.2 refused; HTTP redirects", async () => {
        const anonymous = await httpsRequest(ep, "/v2/");
        assert.equal(anonymous.status, 401);
        const versions = anonymous.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === "docker-distribution-api-version");
        assert.equal(versions.length, 1, "Docker-Distribution-Api-Version exactly once on nginx's 401");
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, "wrong-password") })).status, 401);
        const ok = await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) });
        assert.equal(ok.status, 200);
        assert.equal(
            ok.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === "docker-distribution-api-version").length,
            1,
            "exactly once on the registry's 200",
        );
        assert.match(String(ok.headers["strict-transport-security"]), /max-age=\d+/);

        // bob is pull-only: reads work, writes get 403.
        assert.equal((await httpsRequest(ep, "/v2/bed/hello/tags/list", { auth: basic(BOB.name, BOB.password) })).status, 200);
        assert.equal(
            (await httpsRequest(ep, "/v2/bed/hello/blobs/uploads/", { auth: basic(BOB.name, BOB.password), method: "POST" })).status,
            403,
        );
        assert.equal(
            (await httpsRequest(ep, "/v2/bed/hello/blobs/uploads/", { auth: basic(ALICE.name, ALICE.password), method: "POST" })).status,
            202,
        );
        const reader = new DockerClient();
        try {
            assert.equal((await reader.login(host, BOB.name, BOB.password)).code, 0);
            await reader.must(["pull", `${repo()}:1`]);
            await reader.must(["tag", `${repo()}:1`, `${repo()}:by-bob`]);
            const denied = await reader.exec(["push", `${repo()}:by-bob`]);
            assert.notEqual(denied.code, 0, "a pull-only user cannot push");
            assert.match(denied.stderr, /denied|forbidden|403/i);
        } finally {
            await reader.exec(["image", "rm", `${repo()}:by-bob`]);
            reader.cleanup();
        }

        for (const v of ["TLSv1", "TLSv1.1"] as const) {
            const r = await handshake(ep, v);
            assert.equal(r.ok, false, `${v} must be refused, negotiated ${r.detail}`);
        }
        assert.deepEqual(await handshake(ep, "TLSv1.2"), { ok: true, detail: "TLSv1.2" });
        assert.deepEqual(await handshake(ep, "TLSv1.3"), { ok: true, detail: "TLSv1.3" });

        const redirect = await httpRequest(ep, "/v2/");
        assert.equal(redirect.status, 301);
        assert.equal(redirect.headers.location, `https://${bed.host}/v2/`);
        assert.equal(
            (await httpRequest(ep, "/.well-known/acme-challenge/not-a-token")).status,
            404,
            "challenge path is served, not redirected",
        );
    });

    test("4. a second pulumi up with the same config changes nothing", async () => {
        const again = await bed.up(config);
        assert.deepEqual(changed(again.changes), {});
        assert.ok((again.changes.same ?? 0) >= 30, `every resource is the same (${JSON.stringify(again.changes)})`);
    });

    test("5. a password stored in plain text beside a secret one is refused before anything changes", async () => {
        const stack = await bed.stack();
        const before = await bed.containerIds();
        // A password that the CLI's "looks like a secret" check lets through (a random one it stops).
        const plain = "correct-horse-battery-staple";
        const set = await stack.cli(["config", "set", "--path", "users.eve.password", plain]);
        assert.equal(set.code, 0, `the CLI accepts it, so the program must refuse it: ${set.stderr}`);
        try {
            await assert.rejects(stack.up(), (e: Error) => {
                assert.match(e.message, /private-registry:users\.eve\.password: must be stored as a secret/);
                assert.ok(!e.message.includes(plain), "the value is not echoed");
                return true;
            });
        } finally {
            const rm = await stack.cli(["config", "rm", "--path", "users.eve"]);
            assert.equal(rm.code, 0, rm.stderr);
        }
        assert.deepEqual(await bed.containerIds(), before);
    });

    test("6. password rotation through config: exactly one update, no replacement; old 401, new 200", async () => {
        const before = await bed.containerIds();
        const rotated = `alice-rotated-${randomBytes(9).toString("hex")}`;
        config = bed.config({ users: users(rotated) });
        const r = await bed.up(config);
        assert.deepEqual(changed(r.changes), { update: 1 });
        assert.deepEqual(bed.actions, ["update command:local:Command registry-htpasswd-install"]);
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 401);
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, rotated) })).status, 200);
        assert.deepEqual(await bed.containerIds(), before);
        ALICE.password = rotated;
        const login = await client.login(host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
    });

    test("7. the exported state holds no secret in any encoding", async () => {
        const stack = await bed.stack();
        const atoms = secretAtoms(await stack.exportText(true), [ALICE.password, BOB.password]);
        // The two passwords, their two bcrypt hashes, the http secret and the salt key at least.
        assert.ok(atoms.length >= 6, `secrets checked: ${atoms.length}`);
        assert.deepEqual(leaksIn(atoms, await stack.exportText()), [], "secrets readable in `pulumi stack export`");
        const ids = await stack.cli(["stack", "--show-ids"]);
        assert.equal(ids.code, 0, ids.stderr);
        assert.deepEqual(leaksIn(atoms, ids.stdout), [], "secrets readable in `pulumi stack --show-ids`");
    });

    test("8. renewal: a forced renewal is served with a new serial, no request fails, no container restarts", async () => {
        const before = await bed.containerIds();
        const oldSerial = (await peerCertificate(ep)).serialNumber;
        const { load, result: renewal } = await requestsDuring(ep, ALICE, () => forceRenewal(prefix, ep));
        assert.equal(renewal.code, 0, renewal.stderr);
        const newSerial = (await peerCertificate(ep)).serialNumber;
        assert.notEqual(newSerial, oldSerial, "nginx serves the renewed certificate");
        assert.deepEqual(load.failed, [], "no request failed during the renewal");
        assert.ok(load.served > 10, `requests ran through the renewal (${load.served})`);
        assert.deepEqual(load.serials.slice(-1), [newSerial], "the last requests saw the new certificate");
        assert.deepEqual(await bed.containerIds(), before, "no container restarted");
        const health = await healthBecomes(`${prefix}-certbot`, "healthy");
        assert.equal(health.status, "healthy", health.output);
        assert.match(health.output, /certificate expires \d{4}-\d\d-\d\dT[\d:]+Z: [\d.]+ days left/);
    });

    test("9. a failed run (CA unreachable) fails clearly, nginx keeps serving, and the next pulumi up completes", async () => {
        const serial = (await peerCertificate(ep)).serialNumber;
        await docker(["network", "disconnect", `${prefix}-net`, `${prefix}-pebble`]);
        config = bed.config({ users: users(ALICE.password), acmeKeyType: "rsa" });
        await assert.rejects(bed.up(config), (e: Error) => {
            assert.ok(e instanceof DeployError);
            assert.ok(
                e.message.includes(`registry: certbot could not obtain a certificate for ${bed.domain} from https://pebble:14000/dir`),
                e.message,
            );
            assert.ok(!e.message.includes(ALICE.password));
            return true;
        });
        assert.equal((await peerCertificate(ep)).serialNumber, serial, "HTTPS still serves the previous certificate");
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
        assert.equal((await httpRequest(ep, "/v2/")).status, 301, "HTTP still served");

        await docker(["network", "connect", "--alias", "pebble", `${prefix}-net`, `${prefix}-pebble`]);
        await bed.up(config);
        const cert = await peerCertificate(ep);
        assert.notEqual(cert.serialNumber, serial);
        assert.ok(cert.modulus, "the new certificate has an RSA key");
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
    });

    test("10. a config that nginx -t rejects is never installed; the previous config keeps serving", async () => {
        const script = renderConfigInstall("broken server", [
            { path: "servers/20-broken.conf", content: "server {\n    listen 443 ssl;\n    no_such_directive on;\n}\n" },
        ]);
        const r = await run("docker", ["exec", "-i", `${prefix}-nginx`, "sh", "-s"], { input: script });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /no_such_directive/);
        assert.match(r.stderr, /nginx rejected the new broken server; the running configuration is unchanged/);
        const ls = await run("docker", ["exec", `${prefix}-nginx`, "ls", "-A", "/etc/nginx/registry/servers"]);
        assert.deepEqual(ls.stdout.trim().split("\n").sort(), ["00-http.conf", "10-https.conf"]);
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
    });

    test("11. a pull request that edits an nginx template previews as a readable text diff (as .github/workflows/preview.yml runs it)", async () => {
        const workflow = fs.readFileSync(path.join(ROOT, ".github", "workflows", "preview.yml"), "utf8");
        assert.match(workflow, /command: preview\n\s+stack-name: .*\n\s+diff: true/, "the workflow runs a preview with diff: true");
        const checkout = copyProject();
        try {
            const template = path.join(checkout, "configs", "templates", "https-server.conf.mustache");
            fs.writeFileSync(template, fs.readFileSync(template, "utf8").replace("proxy_read_timeout 900;", "proxy_read_timeout 600;"));
            fs.copyFileSync(path.join(ROOT, stackConfigFile(bed.prefix)), path.join(checkout, stackConfigFile(bed.prefix)));
            const pr = await engine.select(bed.prefix, checkout);
            // pulumi/actions runs `preview` with diff: true through the Automation API, as here.
            const preview = await pr.preview({ diff: true });
            assert.deepEqual(changed(preview.changes), { update: 1 }, preview.stdout);
            assert.deepEqual(
                preview.steps.map((s) => s.name),
                ["registry-tls-https-config"],
            );
            // Exactly the changed line, removed and added, with a few lines of context around it.
            const changedLines = preview.stdout.split("\n").filter((l) => /^\s*[-+]\s/.test(l));
            assert.deepEqual(
                changedLines.map((l) => l.trim().replace(/\s+/g, " ")),
                ["- proxy_read_timeout 900;", "+ proxy_read_timeout 600;"],
                preview.stdout,
            );
            assert.doesNotMatch(preview.stdout, /ssl_protocols/, "not the whole file: only context near the change");
        } finally {
            fs.rmSync(checkout, { recursive: true, force: true });
        }
    });

    test("12. a stack without a domain is refused by the CLI, naming the key; no process outlives the failure", async (t) => {
        const stack = await engine.stack(`${prefix}-nodomain`);
        try {
            const before = engine.reaped.length;
            await assert.rejects(stack.preview(), /Stack '[^']+' is missing configuration value 'domain'/);
            assert.deepEqual(engine.leftovers(), [], "nothing the CLI started is still running");
            t.diagnostic(`ended after the failure: ${engine.reaped.slice(before).join(", ") || "nothing"}`);
        } finally {
            await stack.remove();
        }
    });
});
