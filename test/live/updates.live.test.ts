// Updates, live, on the real Pulumi engine: a pull in flight finishes across a registry
// replacement; a new image reaches the stack by its digest (and a floating tag alone does
// not); a custom ACME server whose root is private (Pebble at its own https:// URL) issues
// the certificate, and its root is exported.
import assert from "node:assert/strict";
import * as http from "node:http";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS } from "./bed";
import { basic, canConnect, DockerClient, Endpoint, httpsRequest, peerCertificate, slowDownload } from "./client";
import { Engine } from "./engine";
import { makeCa } from "../harness/certs";
import { bedHostAddress } from "./hostAddress";
import { oneEvent, within } from "./gc";
import { docker, newImageId, run } from "./proc";
import { dockerStops } from "./reads";

const LABEL = `upd-${randomBytes(3).toString("hex")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

describe("live: updates", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.updates);
    // The test's own registry and ACME server, on ports beside the bed's.
    const MIRROR_PORT = bed.ports.https + 3;
    const ACME_PORT = bed.ports.https + 4;
    const client = new DockerClient();
    const prefix = bed.prefix;
    const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    const auth = basic(ALICE.name, ALICE.password);
    let config = bed.config({ users: { alice: { access: "push", password: ALICE.password } } });
    let ep: Endpoint;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-updates-"));
    const images: string[] = [];

    before(async () => {
        const deployed = await bed.up(config);
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(bed.host, ep.ca);
        const login = await client.login(bed.host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
        fs.rmSync(work, { recursive: true, force: true });
    });

    test("1. a pull in flight when pulumi up replaces the registry finishes, whole", async () => {
        const ref = `${bed.host}/upd/big:1`;
        images.push(ref);
        await client.makeImage(ref, 40 * 1024 * 1024);
        await client.must(["push", ref]);
        const manifest = await httpsRequest(ep, "/v2/upd/big/manifests/1", { auth, accept: MANIFEST_TYPES });
        const layer = (JSON.parse(manifest.body) as { layers: { digest: string; size: number }[] }).layers[0];

        // Read slowly (at 256 KiB/s the layer would take 160 s) until Docker stops the old
        // registry, then fast: in flight when the replacement begins, whatever the deploy's pace.
        const stop = dockerStops(`${prefix}-registry`, 170_000);
        let stopped = false;
        void stop.then(() => (stopped = true));
        const firstBytes = oneEvent();
        const rate = () => (stopped ? 16 : 0.25) * 1024 * 1024;
        const download = slowDownload(ep, `/v2/upd/big/blobs/${layer.digest}`, auth, rate, firstBytes.fire);
        let downloadEnded = Infinity;
        void download.then(
            () => (downloadEnded = performance.now()),
            () => undefined,
        );
        await within(firstBytes.happened, 30_000, "the download's first bytes");
        const downloading = performance.now();
        const retagged = await newImageId(bed.images.REGISTRY_IMAGE, `registry-${LABEL}`);
        images.push(retagged);
        config = { ...config, registryImage: retagged };
        await bed.up(config);
        assert.ok(bed.actions.includes("replace docker:index/container:Container registry-registry"), bed.actions.join("\n"));
        const stoppedAt = await stop;
        assert.ok(stoppedAt !== undefined, "Docker stopped the old registry container");
        const done = await download;
        console.log(
            `# download: first bytes ${(stoppedAt - downloading).toFixed(0)} ms before Docker stopped the old registry, last ${(downloadEnded - stoppedAt).toFixed(0)} ms after`,
        );
        assert.ok(downloading < stoppedAt && stoppedAt < downloadEnded, "the download was in flight when Docker stopped the old registry");
        assert.equal(done.status, 200);
        assert.equal(done.bytes, layer.size, "every byte arrived");
        assert.equal(`sha256:${done.sha256}`, layer.digest, "and they are the layer's");
    });

    test("2. a new image reaches the stack by its digest; its floating tag alone does not; nothing is lost", async () => {
        const mirror = `127.0.0.1:${MIRROR_PORT}`;
        // A registry of the test's own on loopback (Docker pulls from 127.0.0.0/8 over plain HTTP).
        await docker([
            "run",
            "--detach",
            "--name",
            `${prefix}-mirror`,
            "--label",
            `registry-bed=${LABEL}`,
            "--publish",
            `${mirror}:5000`,
            bed.images.REGISTRY_IMAGE,
        ]);
        // Ready when the registry answers: docker-proxy accepts connections on the published
        // port before the registry listens, then closes them.
        const answers = () =>
            new Promise<boolean>((resolve) => {
                const req = http.get(`http://${mirror}/v2/`, { timeout: 2000 }, (res) => {
                    res.resume();
                    resolve(res.statusCode === 200);
                });
                req.on("timeout", () => req.destroy());
                req.on("error", () => resolve(false));
            });
        for (let i = 0; i < 100 && !(await answers()); i++) await sleep(100);
        const tag = `${mirror}/bed/nginx:stable`;
        images.push(tag);
        await docker(["tag", bed.images.NGINX_IMAGE, tag]);
        await docker(["push", tag]);
        config = { ...config, nginxImage: tag };
        await bed.up(config);
        const serial = (await peerCertificate(ep)).serialNumber;

        // A new release under the same tag, in the registry only.
        await docker(["build", "--quiet", "--tag", tag, "-"], {
            input: `FROM ${bed.images.NGINX_IMAGE}\nLABEL registry-bed.release="2"\n`,
        });
        await docker(["push", tag]);
        const digest = (await docker(["image", "inspect", "--format", "{{index .RepoDigests 0}}", tag])).split("@")[1];
        const newId = await docker(["image", "inspect", "--format", "{{.Id}}", tag]);
        await docker(["image", "rm", tag]);
        await docker(["tag", bed.images.NGINX_IMAGE, tag]); // what this machine had: the old release

        const same = await bed.up(config);
        assert.deepEqual(
            Object.keys(same.changes).filter((op) => op !== "same"),
            [],
            "a floating tag is not pulled again",
        );

        config = { ...config, nginxImage: `${mirror}/bed/nginx@${digest}` };
        await bed.up(config);
        assert.ok(bed.actions.includes("replace docker:index/container:Container registry-nginx"), bed.actions.join("\n"));
        assert.equal(
            await docker(["inspect", "--format", "{{.Image}}", `${prefix}-nginx`]),
            newId,
            "nginx runs the new release, pulled by digest",
        );
        assert.equal((await peerCertificate(ep)).serialNumber, serial, "the same certificate");
        await client.must(["image", "rm", `${bed.host}/upd/big:1`]);
        await client.must(["pull", `${bed.host}/upd/big:1`]);
        images.push(`${mirror}/bed/nginx@${digest}`);
    });

    test("3. a custom ACME server whose root is private (Pebble at its own https:// URL): the deploy issues the certificate and exports that root", async () => {
        const address = await bedHostAddress();
        // The CA that signed the ACME server's TLS certificate: private, like a company's step-ca.
        const ca = makeCa("registry-bed ACME CA", fs.mkdtempSync(path.join(work, "ca-")));
        const tlsFiles = ca.issue("acme", `IP:${address}`);
        const pebbleConfig = {
            pebble: {
                listenAddress: "0.0.0.0:14000",
                managementListenAddress: "0.0.0.0:15000",
                certificate: "/acme/acme.crt",
                privateKey: "/acme/acme.key",
                httpPort: 80,
                tlsPort: 443,
                ocspResponderURL: "",
                externalAccountBindingRequired: false,
            },
        };
        fs.writeFileSync(`${work}/pebble.json`, JSON.stringify(pebbleConfig));
        // It validates nothing (as a CA on a private network whose names it trusts would not need to here).
        const acme = await docker([
            "create",
            "--name",
            `${prefix}-acme`,
            "--label",
            `registry-bed=${LABEL}`,
            "--publish",
            `${address}:${ACME_PORT}:14000`,
            "--env",
            "PEBBLE_VA_ALWAYS_VALID=1",
            "--env",
            "PEBBLE_VA_NOSLEEP=1",
            // Pebble rejects 5% of nonces by default ("JWS has an invalid anti-replay nonce"),
            // which certbot does not always retry: a flaky deploy, as the stack's own Pebble knows.
            "--env",
            "PEBBLE_WFE_NONCEREJECT=0",
            bed.images.PEBBLE_IMAGE,
            "-config",
            "/acme/pebble.json",
        ]);
        fs.mkdirSync(`${work}/acme`);
        fs.copyFileSync(tlsFiles.cert, `${work}/acme/acme.crt`);
        fs.copyFileSync(tlsFiles.key, `${work}/acme/acme.key`);
        fs.copyFileSync(`${work}/pebble.json`, `${work}/acme/pebble.json`);
        await docker(["cp", `${work}/acme`, `${acme}:/acme`]);
        await docker(["start", acme]);
        for (let i = 0; i < 100 && !(await canConnect(address, ACME_PORT)); i++) await sleep(100);

        const serial = (await peerCertificate(ep)).serialNumber;
        config = { ...config, acmeServer: `https://${address}:${ACME_PORT}/dir`, acmeCaCertificate: ca.pem };
        const deployed = await bed.up(config);
        assert.equal(deployed.outputs.caRoot.value, ca.pem, "the custom CA's root is exported");
        // Issued by this Pebble (its own issuing root, which Pebble does not sign with the TLS CA): read without verifying.
        const served = await new Promise<tls.PeerCertificate>((resolve, reject) => {
            const socket = tls.connect({ host: ep.address, port: ep.httpsPort, servername: ep.domain, rejectUnauthorized: false }, () => {
                resolve(socket.getPeerCertificate());
                socket.end();
            });
            socket.on("error", reject);
        });
        assert.notEqual(served.serialNumber, serial, "a new certificate");
        assert.equal(served.subjectaltname, `DNS:${bed.domain}`);
        assert.match(String(served.issuer.CN), /Pebble/);
        assert.equal(await docker(["ps", "--all", "--quiet", "--filter", `name=^${prefix}-pebble$`]), "", "the stack's own Pebble is gone");
    });
});
