// DNS-01, live and entirely real: bind9 from Debian serves the test zone and takes RFC 2136
// updates signed with a TSIG key (test/live/bind9.ts); the stack's certbot, with
// certbot-dns-rfc2136, sets the _acme-challenge TXT record there; the stack's Pebble checks it
// through that bind9 (pebbleDnsServer). Port 80 is not published at all (httpPort 0), as on a
// private network. The tests run in order against one deployment.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ACME_ROOT_FILE, RENEWAL_CONF } from "../../configs/certbot";
import { DNS_CREDENTIALS_PATH } from "../../configs/dns";
import { Bed, BED_SLOTS, DeployError } from "./bed";
import { Bind9 } from "./bind9";
import { basic, canConnect, DockerClient, Endpoint, httpsRequest, peerCertificate } from "./client";
import { Deployed, Engine } from "./engine";
import { forceRenewal, requestsDuring } from "./load";
import { docker, run } from "./proc";
import { leaksIn, secretAtoms } from "./secrets";

const LABEL = `dns-${randomBytes(3).toString("hex")}`;
const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
const ZONE = "registry.test";

describe("live: certificates by DNS-01 through bind9, port 80 unpublished", { timeout: 900_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.dns);
    const bind9 = new Bind9(LABEL, bed.images.BIND9_IMAGE, ZONE, bed.ports.dns);
    const client = new DockerClient();
    const challengeName = `_acme-challenge.${bed.domain}`;
    const config = (o: { secret?: string; domains?: string[] } = {}) =>
        bed.config({
            users: { alice: { access: "push", password: ALICE.password } },
            acmeChallenge: "dns",
            dnsPlugin: "rfc2136",
            dnsCredentials: { server: bind9.address, port: bind9.port, name: bind9.key.name, secret: o.secret ?? bind9.key.secret },
            // The record is on the primary at once: no wait for secondaries.
            dnsPropagationSeconds: 1,
            domains: o.domains ?? [],
            pebbleDnsServer: bind9.server,
            httpPort: 0,
        });
    let ep: Endpoint;
    let host = "";
    const image = () => `${host}/dns/hello:1`;

    before(async () => {
        await bind9.start();
        const up = await bed.up(config());
        host = up.outputs.host.value as string;
        ep = await bed.endpoint(up.outputs.caRoot.value as string);
        bed.trustRoot(host, ep.ca);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        bind9.cleanup();
        await run("docker", ["image", "rm", "--force", image()]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("1. the deploy issued the certificate by DNS-01: bind9 took the TXT record and its removal, signed by the key; none is left", async () => {
        const cert = await peerCertificate(ep);
        assert.equal(cert.subjectaltname, `DNS:${bed.domain}`);
        assert.match(String(cert.issuer.CN ?? ""), /Pebble/i);
        console.log(`# issued by DNS-01: serial ${cert.serialNumber}, valid to ${cert.valid_to}`);
        const log = await bind9.log();
        const updates = log.split("\n").filter((l) => l.includes(challengeName));
        console.log(`# bind9: ${updates.join("\n# bind9: ")}`);
        assert.ok(
            updates.some((l) => /\/key registry-bed-update: updating zone '[^']+': adding an RR at '_acme-challenge\.[^']+' TXT/.test(l)),
            "the TXT record was added by the key's holder",
        );
        assert.ok(
            updates.some((l) => /\/key registry-bed-update: updating zone '[^']+': deleting an RR at '?_acme-challenge\.\S+ TXT/.test(l)),
            "and removed",
        );
        assert.deepEqual(await bind9.dig("TXT", challengeName), [], "no challenge record is left");
        // Renewals use the same authenticator and credentials file (certbot keeps them).
        const renewal = await docker(["exec", `${bed.prefix}-certbot`, "cat", RENEWAL_CONF]);
        assert.match(renewal, /^authenticator = dns-rfc2136$/m);
        assert.match(renewal, new RegExp(`^dns_rfc2136_credentials = ${DNS_CREDENTIALS_PATH}$`, "m"));
    });

    test("2. port 80 is not published; docker login, push and pull work over HTTPS with the certificate verified", async () => {
        const ports = await docker(["port", `${bed.prefix}-nginx`]);
        assert.doesNotMatch(ports, /^80\/tcp/m, `published: ${ports}`);
        assert.match(ports, /^443\/tcp -> /m);
        assert.equal(await canConnect(ep.address, bed.ports.http), false, "nothing listens on the bed's HTTP port");

        const login = await client.login(host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
        const id = await client.makeImage(image());
        await client.must(["push", image()]);
        await client.must(["image", "rm", image()]);
        await client.must(["pull", image()]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", image()]), id);
    });

    test("3. a forced renewal by DNS-01 under a request loop: new serial, no request dropped, a new TXT record came and went", async () => {
        const added = async () =>
            (await bind9.log()).split("\n").filter((l) => l.includes(`adding an RR at '${challengeName}' TXT`)).length;
        const oldSerial = (await peerCertificate(ep)).serialNumber;
        const addedBefore = await added();
        const { load, result: renewal } = await requestsDuring(ep, ALICE, () => forceRenewal(bed.prefix, ep));
        assert.equal(renewal.code, 0, renewal.stderr);
        const newSerial = (await peerCertificate(ep)).serialNumber;
        console.log(`# renewal: serial ${oldSerial} -> ${newSerial}; ${load.served} requests served, ${load.failed.length} failed`);
        assert.notEqual(newSerial, oldSerial);
        assert.deepEqual(load.failed, [], "no request failed during the renewal");
        assert.ok(load.served > 10, `requests ran through the renewal (${load.served})`);
        // Pebble reuses a valid authorization 1 time in 100 even at PEBBLE_AUTHZREUSE=0 (it
        // reuses when rand.Intn(100) > 0 is false): then the renewal sets no record. A few more
        // renewals (at most 3) make that vanishingly unlikely without hiding a renewal by another way.
        for (let i = 0; i < 3 && (await added()) === addedBefore; i++) assert.equal((await forceRenewal(bed.prefix, ep)).code, 0);
        assert.ok((await added()) > addedBefore, "the renewal set its own TXT record");
        assert.deepEqual(await bind9.dig("TXT", challengeName), []);
    });

    test("4. the TSIG secret is only in a root-only file: not in docker inspect, process arguments, logs, outputs or plain state", async () => {
        const secret = bind9.key.secret;
        const certbot = `${bed.prefix}-certbot`;
        const mode = await docker(["exec", certbot, "stat", "-c", "%a %U", DNS_CREDENTIALS_PATH]);
        assert.equal(mode, "400 root");
        const seen = [
            await docker(["inspect", certbot]),
            await docker(["exec", certbot, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]),
            (await run("docker", ["logs", certbot])).stdout + (await run("docker", ["logs", certbot])).stderr,
            JSON.stringify(await bed.outputs()),
        ];
        for (const text of seen) assert.ok(!text.includes(secret));
        const stack = await bed.stack();
        const atoms = secretAtoms(await stack.exportText(true), [secret]);
        assert.deepEqual(leaksIn(atoms, await stack.exportText()), [], "secrets readable in `pulumi stack export`");
    });

    test("5. a wrong TSIG secret alone fails pulumi up (a test issuance) with certbot's reason and no secret; nginx keeps serving", async () => {
        const serial = (await peerCertificate(ep)).serialNumber;
        const wrong = randomBytes(32).toString("base64");
        await assert.rejects(bed.up(config({ secret: wrong })), (e: Error) => {
            assert.ok(e instanceof DeployError);
            assert.match(e.message, /registry: a test issuance by DNS-01 \(certbot --dry-run\) failed/);
            // certbot's own reason: bind9 answered BADSIG.
            assert.match(e.message, /Encountered error adding TXT record: The peer didn't like the signature we sent/);
            for (const s of [wrong, bind9.key.secret]) assert.ok(!e.message.includes(s), "no secret in the message");
            return true;
        });
        assert.equal((await peerCertificate(ep)).serialNumber, serial, "HTTPS still serves the certificate it had");
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);

        // The right secret again: the test issuance passes and the certificate is kept.
        await bed.up(config());
        assert.equal((await peerCertificate(ep)).serialNumber, serial, "kept: a test issuance saves nothing");
    });

    test("6. a wrong secret with a new name fails the same way; the right one then issues for both names", async () => {
        const serial = (await peerCertificate(ep)).serialNumber;
        const extra = [`www.${bed.domain}`];
        await assert.rejects(bed.up(config({ secret: randomBytes(32).toString("base64"), domains: extra })), (e: Error) => {
            assert.match(e.message, /registry: certbot could not obtain a certificate/);
            assert.match(e.message, /The peer didn't like the signature we sent/);
            return true;
        });
        assert.equal((await peerCertificate(ep)).serialNumber, serial);
        await bed.up(config({ domains: extra }));
        const cert = await peerCertificate(ep);
        assert.notEqual(cert.serialNumber, serial);
        assert.equal(cert.subjectaltname, `DNS:${bed.domain}, DNS:www.${bed.domain}`);
    });

    test("7. switching to HTTP-01 and back keeps the data: each switch issues by its own challenge, and renewals follow it", async () => {
        // Pebble's flags change with the challenge: a new Pebble, with a root of its own (exported as caRoot).
        const retrust = async (up: Deployed) => {
            ep = await bed.endpoint(up.outputs.caRoot.value as string);
            bed.trustRoot(host, ep.ca);
        };
        const renewalConf = () => docker(["exec", `${bed.prefix}-certbot`, "cat", RENEWAL_CONF]);
        const serial = (await peerCertificate(ep)).serialNumber;
        // Port 80 published again, the names by HTTP-01 (Pebble reaches nginx on the stack's network).
        const http = bed.config({ users: { alice: { access: "push", password: ALICE.password } } });
        await retrust(await bed.up(http));
        const byHttp = (await peerCertificate(ep)).serialNumber;
        assert.notEqual(byHttp, serial, "a new certificate by HTTP-01");
        assert.match(await renewalConf(), /^authenticator = webroot$/m);
        assert.match(await docker(["port", `${bed.prefix}-nginx`]), /^80\/tcp -> /m);
        await client.must(["image", "rm", image()]);
        await client.must(["pull", image()]);

        await retrust(await bed.up(config()));
        assert.notEqual((await peerCertificate(ep)).serialNumber, byHttp, "and back by DNS-01");
        assert.match(await renewalConf(), /^authenticator = dns-rfc2136$/m);
        await client.must(["image", "rm", image()]);
        await client.must(["pull", image()]);
    });

    test("8. a restarted Pebble forgets certbot's account: certbot registers again, the certificate is kept, and renewals work", async () => {
        const certbot = `${bed.prefix}-certbot`;
        const renewalAccount = async () => /^account = (\S+)$/m.exec(await docker(["exec", certbot, "cat", RENEWAL_CONF]))?.[1];
        const serial = (await peerCertificate(ep)).serialNumber;
        const before = await renewalAccount();
        await docker(["restart", `${bed.prefix}-pebble`]);
        await docker(["restart", certbot]); // its renew loop checks at start
        let after = before;
        for (let i = 0; i < 60 && after === before; i++) {
            await new Promise((r) => setTimeout(r, 1000));
            after = await renewalAccount();
        }
        assert.ok(after && after !== before, `renewals use a new account (${before} -> ${after})`);
        const logs = await run("docker", ["logs", certbot]);
        assert.match(
            `${logs.stdout}${logs.stderr}`,
            new RegExp(`registry: Pebble had forgotten certbot's account \\(it restarted\\); registered again as ${after}`),
        );
        assert.equal((await peerCertificate(ep)).serialNumber, serial, "the certificate is kept");
        // A renewal works with the new account (without it: "Account … not found"); its
        // certificate chains to the restarted Pebble's root, which the deploy hook saved.
        const renewal = await forceRenewal(bed.prefix);
        assert.equal(renewal.code, 0, renewal.stderr);
        const root = await docker(["exec", certbot, "cat", ACME_ROOT_FILE]);
        let served = serial;
        for (let i = 0; i < 30 && served === serial; i++) {
            await new Promise((r) => setTimeout(r, 500));
            served = (await peerCertificate({ ...ep, ca: root }).catch(() => ({ serialNumber: serial }))).serialNumber;
        }
        assert.notEqual(served, serial, "the renewed certificate is served");
        // And pulumi up goes on as usual.
        await bed.up(config());
    });

    test("9. the certificates volume lost with its containers: `pulumi up --refresh` issues again by DNS-01, and the registry serves it", async () => {
        // Served under the root of the Pebble that test 8 restarted, which the deploy hook saved.
        const root = await docker(["exec", `${bed.prefix}-certbot`, "cat", ACME_ROOT_FILE]);
        const serial = (await peerCertificate({ ...ep, ca: root })).serialNumber;
        await docker(["rm", "--force", `${bed.prefix}-certbot`, `${bed.prefix}-nginx`]);
        await docker(["volume", "rm", `${bed.prefix}-certs`]);
        const records = async () =>
            (await bind9.log()).split("\n").filter((l) => l.includes(`adding an RR at '${challengeName}' TXT`)).length;
        const before = await records();
        const healed = await bed.up(config(), { refresh: true });
        assert.ok(bed.actions.includes("create docker:index/volume:Volume registry-certs"), bed.actions.join("\n"));
        assert.ok((await records()) > before, "a new TXT record: issued by DNS-01");
        const now = await bed.endpoint(healed.outputs.caRoot.value as string);
        assert.notEqual((await peerCertificate(now)).serialNumber, serial, "a new certificate is served");
        bed.trustRoot(host, now.ca);
        assert.equal((await client.login(host, ALICE.name, ALICE.password)).code, 0);
        const ref = `${host}/dns/converge:1`;
        const id = await client.makeImage(ref, 256 * 1024);
        try {
            await client.must(["push", ref]);
            await client.must(["image", "rm", ref]);
            await client.must(["pull", ref]);
            assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id);
        } finally {
            await run("docker", ["image", "rm", "--force", ref]);
        }
    });
});
