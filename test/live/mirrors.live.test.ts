// Pull-through mirrors, live: a stack with a `mirrors` entry deployed by the real Pulumi engine,
// whose upstream is a registry of the test's own (test/live/upstream.ts: the bed's registry
// image, TLS from a CA the test makes, htpasswd auth) on the stack's network, where the mirror
// reaches it by name. The Docker CLI and skopeo, verifying the certificate, pull
// `<mirror host>/library/app:v1` through nginx and the mirror; the digests are the upstream's.
// With the upstream stopped, cached pulls (by tag and by digest) still work and an uncached one
// fails; pushes to the mirror are refused and never reach the upstream; anonymous requests get 401; the upstream's password is in no plain
// state, `docker inspect`, process argument or log. A Docker daemon of the test's own, started
// from the `daemonJson` snippet of a Docker Hub mirror (the test's upstream stands in for Docker
// Hub), pulls a Docker Hub name through the mirror with the credentials it has for Docker Hub.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { mirrorOutput } from "../../configs/mirrors";
import { Bed, BED_SLOTS } from "./bed";
import { basic, DockerClient, Endpoint, httpsRequest } from "./client";
import { Engine } from "./engine";
import { bedHostAddress } from "./hostAddress";
import { PrivateDockerd } from "./privateDockerd";
import { docker, run } from "./proc";
import { leaksIn } from "./secrets";
import { mirrorServes, Upstream } from "./upstream";

const LABEL = `mirrors-${randomBytes(3).toString("hex")}`;
const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
const READER = { name: "reader", password: `reader-${randomBytes(9).toString("hex")}` };
const UPSTREAM_USER = { name: "upstream-bot", password: `up-${randomBytes(12).toString("hex")}` };
const MANIFESTS = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

describe("live: a pull-through mirror of an upstream registry with auth", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.mirrors);
    const client = new DockerClient();
    const readerClient = new DockerClient();
    const dockerd = new PrivateDockerd();
    const up = new Upstream(bed, UPSTREAM_USER);
    const upstream = up.name;
    const upstreamHost = up.host;
    const mirrorFqdn = `hub.${bed.domain}`;
    const mirrorHost = `${mirrorFqdn}:${bed.ports.https}`;
    const refs: string[] = [];
    let mirrorEp: Endpoint;
    let upstreamEp: Endpoint;
    /** Digests of what was pushed upstream, by tag. */
    const pushed: Record<string, string> = {};

    const digestOf = (out: string) => /(?:digest|Digest): (sha256:[0-9a-f]{64})/.exec(out)?.[1] ?? "";

    /** Pushes a fresh image to the upstream as `repo:tag`; returns its digest. */
    async function pushUpstream(repo: string, tag: string): Promise<string> {
        const ref = `${upstreamHost}/${repo}:${tag}`;
        refs.push(ref);
        await client.makeImage(ref, 512 * 1024);
        const digest = digestOf(await client.must(["push", ref]));
        assert.ok(digest, "docker push reports the digest");
        return digest;
    }

    /** The digest the mirror answers for a manifest (HEAD, with alice's credentials). */
    async function mirrorDigest(repo: string, reference: string): Promise<{ status: number; digest?: string }> {
        const r = await httpsRequest(mirrorEp, `/v2/${repo}/manifests/${reference}`, {
            method: "HEAD",
            auth: basic(ALICE.name, ALICE.password),
            accept: MANIFESTS,
        });
        return { status: r.status, digest: r.headers["docker-content-digest"] as string | undefined };
    }

    /** Pulls through the mirror after removing any local copy; returns the CLI's result. */
    async function pullThroughMirror(ref: string, c = client) {
        await run("docker", ["image", "rm", "--force", ref]);
        refs.push(ref);
        return c.exec(["pull", ref]);
    }

    before(async () => {
        const upstreamCa = await up.certificates();
        await bed.addHostNames([mirrorFqdn, upstream]);
        const deployed = await bed.up(
            bed.config({
                users: {
                    alice: { access: "push", password: ALICE.password },
                    reader: { access: "pull", password: READER.password },
                },
                mirrors: [
                    {
                        name: "hub",
                        upstream: up.url,
                        username: UPSTREAM_USER.name,
                        password: UPSTREAM_USER.password,
                        caCertificate: upstreamCa,
                    },
                ],
            }),
        );
        const caRoot = deployed.outputs.caRoot.value as string;
        const outputs = deployed.outputs.mirrors.value as { name: string; host: string; url: string; daemonJson?: string }[];
        assert.equal(outputs.length, 1);
        assert.equal(outputs[0].host, mirrorHost, "the mirrors output names the mirror's host");
        assert.equal(outputs[0].url, `https://${mirrorHost}`);
        assert.equal(outputs[0].daemonJson, undefined, "no daemon.json snippet for an upstream other than Docker Hub");
        bed.trustRoot(mirrorHost, caRoot);
        bed.trustRoot(upstreamHost, upstreamCa);
        const address = await bedHostAddress();
        mirrorEp = { domain: mirrorFqdn, address, httpPort: bed.ports.http, httpsPort: bed.ports.https, ca: caRoot };
        upstreamEp = await up.endpoint();

        await up.start();
        await mirrorServes(mirrorEp, ALICE);

        assert.equal((await client.login(upstreamHost, UPSTREAM_USER.name, UPSTREAM_USER.password)).code, 0, "login to the upstream");
        const alice = await client.login(mirrorHost, ALICE.name, ALICE.password);
        assert.equal(alice.code, 0, `alice logs in to the mirror: ${alice.stderr}`);
        const reader = await readerClient.login(mirrorHost, READER.name, READER.password);
        assert.equal(reader.code, 0, `reader logs in to the mirror: ${reader.stderr}`);
        pushed.v1 = await pushUpstream("library/app", "v1");
        pushed.other = await pushUpstream("library/other", "v1");
    });

    after(async () => {
        await dockerd.stop();
        assert.deepEqual(dockerd.processes(), [], "the private dockerd and its containerd are gone");
        client.cleanup();
        readerClient.cleanup();
        await bed.cleanup();
        await run("docker", ["image", "rm", "--force", ...new Set(refs)]);
        up.cleanup();
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("1. docker pulls <mirror>/library/app:v1 through the mirror: the upstream's digest, by tag and by digest; a pull-only user too", async () => {
        const byTag = await pullThroughMirror(`${mirrorHost}/library/app:v1`);
        assert.equal(byTag.code, 0, `pull through the mirror: ${byTag.stderr}`);
        assert.equal(digestOf(byTag.stdout), pushed.v1, "the digest the upstream gave the push");
        const byDigest = await pullThroughMirror(`${mirrorHost}/library/app@${pushed.v1}`);
        assert.equal(byDigest.code, 0, `pull by digest: ${byDigest.stderr}`);
        assert.equal((await mirrorDigest("library/app", "v1")).digest, pushed.v1);
        const reader = await pullThroughMirror(`${mirrorHost}/library/app:v1`, readerClient);
        assert.equal(reader.code, 0, `a pull-only user pulls: ${reader.stderr}`);
        // skopeo, with the login the Docker CLI stored and the CA root the daemon trusts.
        const skopeo = await run("skopeo", [
            "inspect",
            "--authfile",
            path.join(client.configDir, "config.json"),
            "--cert-dir",
            `/etc/docker/certs.d/${mirrorHost}`,
            `docker://${mirrorHost}/library/app:v1`,
        ]);
        assert.equal(skopeo.code, 0, `skopeo inspect through the mirror: ${skopeo.stderr}`);
        assert.equal((JSON.parse(skopeo.stdout) as { Digest: string }).Digest, pushed.v1, "skopeo sees the upstream's digest");
    });

    test("2. a tag pushed again upstream: the mirror serves the new digest", async () => {
        pushed.v1 = await pushUpstream("library/app", "v1");
        assert.equal((await mirrorDigest("library/app", "v1")).digest, pushed.v1, "the tag's new digest, asked of the upstream");
        const pulled = await pullThroughMirror(`${mirrorHost}/library/app:v1`);
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.equal(digestOf(pulled.stdout), pushed.v1);
    });

    test("3. a Docker daemon with the daemon.json snippet pulls a Docker Hub name (library/...) through the mirror, with its Docker Hub credentials", async () => {
        // The snippet this stack would output for a Docker Hub mirror named hub (the test's
        // mirror has another upstream, so its own output has none): the same mirror URL.
        const snippet = mirrorOutput(
            { name: "hub", fqdn: mirrorFqdn, upstream: "https://registry-1.docker.io", dockerHub: true, ttl: "0" },
            bed.ports.https,
        ).daemonJson;
        assert.ok(snippet);
        assert.deepEqual(JSON.parse(snippet), { "registry-mirrors": [`https://${mirrorHost}`] });
        // Only the mirror is reachable: were the mirror to fail, the daemon's turn to Docker Hub would fail too.
        await dockerd.start(snippet, [mirrorFqdn]);
        const info = JSON.parse((await dockerd.docker(["info", "--format", "{{json .RegistryConfig.Mirrors}}"])).stdout) as string[];
        assert.deepEqual(info, [`https://${mirrorHost}/`], "the daemon reads the snippet's mirror");
        const digest = await pushUpstream("library/daemon", "v1");

        // dockerd sends a mirror the credentials it has for Docker Hub: none, then a user of the stack's.
        const anonymous = await dockerd.docker(["pull", "library/daemon:v1"]);
        assert.notEqual(anonymous.code, 0, "without credentials for Docker Hub, the mirror refuses (401) and Docker Hub is out of reach");
        const manifestUrl = `https://${mirrorHost}/v2/library/daemon/manifests/v1`;
        assert.ok(
            dockerd
                .log()
                .split("\n")
                .some((l) => l.includes(manifestUrl) && l.includes("no basic auth credentials")),
            `the daemon asked the mirror first, with no credentials to give:\n${dockerd.log().slice(-3000)}`,
        );
        assert.match(anonymous.stderr, /registry-1\.docker\.io.*127\.0\.0\.1:9/, "then Docker Hub, through the dead proxy only");
        const configDir = path.join(dockerd.dir, "client-alice");
        fs.mkdirSync(configDir);
        const auth = Buffer.from(`${ALICE.name}:${ALICE.password}`).toString("base64");
        fs.writeFileSync(path.join(configDir, "config.json"), JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth } } }));
        const pulled = await dockerd.docker(["pull", "library/daemon:v1"], configDir);
        assert.equal(pulled.code, 0, `the private daemon pulls library/daemon:v1: ${pulled.stderr}\n${dockerd.log().slice(-3000)}`);
        assert.equal(digestOf(pulled.stdout), digest, "the upstream's digest");
        const repoDigests = (await dockerd.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", "daemon:v1"], configDir))
            .stdout;
        assert.deepEqual(JSON.parse(repoDigests), [`daemon@${digest}`], "stored as Docker Hub's library/daemon");
        // The request reached the mirror, from the daemon (its user agent), and no other client asked for library/daemon.
        const logs = await run("docker", ["logs", `${bed.prefix}-mirror-hub`]);
        const requests = `${logs.stdout}${logs.stderr}`.split("\n").filter((l) => l.includes("/v2/library/daemon/manifests/v1"));
        assert.ok(
            requests.some((l) => /useragent="docker\/[^"]* UpstreamClient\(Docker-Client/.test(l)),
            `the mirror logged the daemon's request:\n${requests.join("\n")}`,
        );
    });

    test("4. anonymous: 401; pushes to the mirror refused (405 UNSUPPORTED, 403 for a pull-only user) and never reach the upstream", async () => {
        const anonymous = await httpsRequest(mirrorEp, "/v2/library/app/manifests/v1", { accept: MANIFESTS });
        assert.equal(anonymous.status, 401);
        assert.match(String(anonymous.headers["www-authenticate"]), /^Basic /);
        const anonymousPush = await httpsRequest(mirrorEp, "/v2/library/app/blobs/uploads/", { method: "POST" });
        assert.equal(anonymousPush.status, 401, "401 before anything else");

        const upload = await httpsRequest(mirrorEp, "/v2/library/app/blobs/uploads/", {
            method: "POST",
            auth: basic(ALICE.name, ALICE.password),
        });
        assert.equal(upload.status, 405, upload.body);
        assert.match(upload.body, /UNSUPPORTED/);
        const manifest = await httpsRequest(mirrorEp, "/v2/library/app/manifests/pushed", {
            method: "PUT",
            auth: basic(ALICE.name, ALICE.password),
            contentType: "application/vnd.oci.image.manifest.v1+json",
            body: Buffer.from("{}"),
        });
        assert.equal(manifest.status, 405, manifest.body);
        const readerUpload = await httpsRequest(mirrorEp, "/v2/library/app/blobs/uploads/", {
            method: "POST",
            auth: basic(READER.name, READER.password),
        });
        assert.equal(readerUpload.status, 403);

        const ref = `${mirrorHost}/library/app:pushed`;
        refs.push(ref);
        await client.must(["tag", `${upstreamHost}/library/app:v1`, ref]);
        const push = await client.exec(["push", ref]);
        assert.notEqual(push.code, 0, "docker push to the mirror fails");

        const tags = await httpsRequest(upstreamEp, "/v2/library/app/tags/list", {
            auth: basic(UPSTREAM_USER.name, UPSTREAM_USER.password),
        });
        assert.equal(tags.status, 200, tags.body);
        assert.deepEqual(JSON.parse(tags.body).tags, ["v1"], "the upstream got no push");
    });

    test("5. the upstream stopped: cached pulls by tag and by digest still work; an uncached one fails", async () => {
        await docker(["stop", upstream]);
        const byTag = await pullThroughMirror(`${mirrorHost}/library/app:v1`);
        assert.equal(byTag.code, 0, `cached pull by tag: ${byTag.stderr}`);
        assert.equal(digestOf(byTag.stdout), pushed.v1);
        const byDigest = await pullThroughMirror(`${mirrorHost}/library/app@${pushed.v1}`);
        assert.equal(byDigest.code, 0, `cached pull by digest: ${byDigest.stderr}`);
        const uncached = await pullThroughMirror(`${mirrorHost}/library/other:v1`);
        assert.notEqual(uncached.code, 0, "an image never pulled through the mirror cannot come from a stopped upstream");
        assert.match(uncached.stderr, /not found|unknown|manifest/i, uncached.stderr);
    });

    test("6. the upstream's password: in no plain state, docker inspect, process argument, environment of the container or log", async () => {
        const stack = await bed.stack();
        const secret = [UPSTREAM_USER.password];
        assert.deepEqual(leaksIn(secret, await stack.exportText()), [], "the password readable in `pulumi stack export`");
        assert.notDeepEqual(leaksIn(secret, await stack.exportText(true)), [], "it is in the state, as a secret (--show-secrets)");
        const mirror = `${bed.prefix}-mirror-hub`;
        assert.deepEqual(leaksIn(secret, await docker(["inspect", mirror])), [], "in `docker inspect` of the mirror");
        const args = await docker(["exec", mirror, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
        assert.deepEqual(leaksIn(secret, args), [], "in a process's arguments");
        const logs = await run("docker", ["logs", mirror]);
        assert.deepEqual(leaksIn(secret, logs.stdout + logs.stderr), [], "in the mirror's log");
        const config = await docker(["exec", mirror, "cat", "/etc/distribution/config.yml"]);
        assert.deepEqual(leaksIn(secret, config), [], "in the mirror's config.yml");
        const mode = await docker(["exec", mirror, "stat", "-c", "%a %U", "/etc/distribution/upstream-credentials"]);
        assert.equal(mode, "400 root", "the credentials file is root's alone");
    });
});
