// Reliability, live, on the real Pulumi engine: only nginx reaches the registry; garbage
// collection never overlaps a writer, whatever the signals; the users (htpasswd and access
// rules) change as one unit; certonly never races the renew loop, and a failed one leaves
// the redirect and the served certificate consistent; renewals reach nginx after either
// container is stopped, started or replaced.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CERTBOT_LOCK } from "../../configs/certbot";
import { LETSENCRYPT_DIR } from "../../configs/certificates";
import { htpasswdLine } from "../../configs/htpasswd";
import { renderUsersInstall } from "../../configs/install";
import { REGISTRY_READONLY_SOCKET } from "../../configs/registry";
import { Bed, BED_SLOTS, DeployError } from "./bed";
import { basic, canConnect, DockerClient, Endpoint, httpRequest, httpsRequest, peerCertificate, slowPatch } from "./client";
import { Engine } from "./engine";
import { containerLog, logShows, oneEvent, showLog, supervisorReady, supervisorTurns, within } from "./gc";
import { forceRenewal } from "./load";
import { docker, newImageId, run } from "./proc";

const LABEL = `rel-${randomBytes(3).toString("hex")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("live: reliability", { timeout: 1_200_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.reliability);
    const client = new DockerClient();
    const prefix = bed.prefix;
    const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    const BOB = { name: "bob", password: `bob-${randomBytes(9).toString("hex")}` };
    const users = (bob: "push" | "pull") => ({
        alice: { access: "push", password: ALICE.password },
        bob: { access: bob, password: BOB.password },
    });
    let config = bed.config({ users: users("push") });
    let ep: Endpoint;
    const images: string[] = [];

    /** A new image id for the same software, as a new release upstream would bring. */
    const retag = async (image: string, tag: string) => {
        const ref = await newImageId(image, tag);
        images.push(ref);
        return ref;
    };

    before(async () => {
        const deployed = await bed.up(config);
        ep = await bed.endpoint(deployed.outputs.caRoot.value as string);
        bed.trustRoot(bed.host, ep.ca);
        // Something stored, for garbage collection to go through.
        const login = await client.login(bed.host, ALICE.name, ALICE.password);
        assert.equal(login.code, 0, login.stderr);
        const ref = `${bed.host}/rel/hello:1`;
        images.push(ref);
        await client.makeImage(ref, 256 * 1024);
        await client.must(["push", ref]);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await engine.close();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
    });

    test("1. only nginx reaches the registry: it has no network and no TCP listener, and nothing answers from the host or the certbot container", async () => {
        const registry = `${prefix}-registry`;
        const networks = JSON.parse(await docker(["inspect", "--format", "{{json .NetworkSettings.Networks}}", registry])) as Record<
            string,
            unknown
        >;
        assert.deepEqual(Object.keys(networks), ["none"], "no network: no address to reach");
        const tcp = await docker(["exec", registry, "sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true"]);
        const listening = tcp.split("\n").filter((l) => l.trim().split(/\s+/)[3] === "0A");
        assert.deepEqual(listening, [], "no TCP socket listens in the registry's container");
        const sharers = (await docker(["ps", "--filter", `volume=${prefix}-registry-socket`, "--format", "{{.Names}}"])).split("\n").sort();
        assert.deepEqual(sharers, [`${prefix}-nginx`, registry], "only nginx and the registry mount its sockets");

        // The registry's former ports, on every address of the stack's network: from the host...
        const stackNet = JSON.parse(await docker(["network", "inspect", `${prefix}-net`, "--format", "{{json .Containers}}"])) as Record<
            string,
            { IPv4Address: string }
        >;
        const addresses = Object.values(stackNet).map((c) => c.IPv4Address.split("/")[0]);
        assert.ok(addresses.length >= 3, JSON.stringify(stackNet));
        for (const address of addresses) {
            for (const port of [5000, 5001])
                assert.equal(await canConnect(address, port), false, `${address}:${port} answers from the host`);
        }
        // ...and from the certbot container, by the old name too.
        const probe = [
            "import socket, sys",
            "open_ = []",
            "for host in ['registry'] + sys.argv[1:]:",
            "    for port in (5000, 5001):",
            "        try:",
            "            socket.create_connection((host, port), timeout=2).close()",
            "            open_.append('%s:%d' % (host, port))",
            "        except OSError:",
            "            pass",
            "print(' '.join(open_) or 'none')",
        ].join("\n");
        const fromCertbot = await docker(["exec", `${prefix}-certbot`, "python3", "-c", probe, ...addresses]);
        assert.equal(fromCertbot, "none", "the certbot container reaches no registry endpoint");
        // Through nginx, with credentials, it works.
        assert.equal((await httpsRequest(ep, "/v2/_catalog", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
    });

    test("2. GC: a second USR1 during the drain starts no second GC; GC starts after the writer exited; the upload in flight completes intact", async () => {
        const registry = `${prefix}-registry`;
        const auth = basic(ALICE.name, ALICE.password);
        const since = new Date(Date.now() - 1000).toISOString();
        await supervisorReady(registry);
        const started = await httpsRequest(ep, "/v2/gc2/slow/blobs/uploads/", { auth, method: "POST" });
        assert.equal(started.status, 202);
        const chunks = 24;
        const chunkBytes = 64 * 1024;
        const passedOn = oneEvent();
        let uploadEnded = false;
        const inFlight = slowPatch(ep, String(started.headers.location), auth, chunks, chunkBytes, 500, passedOn.fire).finally(
            () => (uploadEnded = true),
        );
        inFlight.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
        await within(passedOn.happened, 30_000, "nginx passing the upload on to the registry (100 Continue)");
        await docker(["kill", "--signal", "USR1", registry]);

        // The drain: GC has begun and told the writer to stop (distribution logs its drain),
        // and the writer has not exited. The second USR1 goes now.
        const drain = await logShows(registry, since, /Draining connections/);
        const gcStarted = drain.log.find((l) => /registry-gc: started/.test(l.text));
        assert.ok(gcStarted && gcStarted.at <= drain.line.at, `the drain is GC's:\n${showLog(drain.log)}`);
        assert.ok(!drain.log.some((l) => /registry-gc: writer stopped/.test(l.text)), showLog(drain.log));
        await docker(["kill", "--signal", "USR1", registry]);
        const secondSent = Date.now();
        assert.equal(uploadEnded, false, "the upload was still in flight when the second USR1 was sent");
        const patched = await inFlight;
        assert.equal(patched.status, 202, `the in-flight upload finished: ${patched.body}`);
        const flagged = async () =>
            (await run("docker", ["exec", `${prefix}-nginx`, "test", "-f", "/etc/nginx/registry-control/gc-in-progress"])).code === 0;
        for (let i = 0; i < 600 && (await flagged()); i++) await sleep(100);
        assert.equal(await flagged(), false, "GC ended");
        // A second GC would start at the supervisor's next check: let it check once more.
        await logShows(registry, since, /registry-gc: ended/);
        await supervisorTurns(registry, 1);

        const log = await containerLog(registry, since);
        const story = showLog(log.filter((l) => /registry-gc:|PATCH|Draining/.test(l.text)));
        const at = (pattern: RegExp) => {
            const line = log.find((l) => pattern.test(l.text));
            assert.ok(line, `the registry logged ${pattern}:\n${story}`);
            return line.at;
        };
        assert.equal(log.filter((l) => /registry-gc: started/.test(l.text)).length, 1, `exactly one GC ran:\n${story}`);
        const writerStopped = at(/registry-gc: writer stopped/);
        const drainBegan = at(/Draining connections/);
        console.log(
            `# second USR1: ${(secondSent - drainBegan).toFixed(0)} ms into the writer's drain, ${(writerStopped - secondSent).toFixed(0)} ms before it exited`,
        );
        assert.ok(
            drainBegan < secondSent && secondSent < writerStopped,
            `the second USR1 (${new Date(secondSent).toISOString()}) landed during the writer's drain:\n${story}`,
        );
        const patchDone = at(
            /http\.request\.method=PATCH.*http\.response\.status=202|http\.response\.status=202.*http\.request\.method=PATCH/,
        );
        assert.ok(patchDone < writerStopped, `the writer finished the upload before it stopped:\n${story}`);
        assert.ok(writerStopped < at(/registry-gc: garbage-collect finished$/), `GC ran, after the writer had exited:\n${story}`);

        // Intact: the upload completes with the digest of exactly what was sent.
        const body = Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.alloc(chunkBytes, i)));
        const location = new URL(String(patched.headers.location), "https://registry");
        const digest = `digest=sha256:${createHash("sha256").update(body).digest("hex")}`;
        const put = await httpsRequest(ep, `${location.pathname}${location.search ? `${location.search}&` : "?"}${digest}`, {
            auth,
            method: "PUT",
        });
        assert.equal(put.status, 201, put.body);
        assert.equal(
            (await run("docker", ["exec", registry, "test", "-S", REGISTRY_READONLY_SOCKET])).code,
            1,
            "the read-only registry is gone again",
        );
    });

    test("3. the users change as one unit: a push user downgraded to pull is refused writes at once; a change nginx rejects leaves both the htpasswd file and the rules as they were", async () => {
        const nginx = `${prefix}-nginx`;
        const state = async () => docker(["exec", nginx, "sh", "-c", "ls /etc/nginx/auth; cat /etc/nginx/registry/access/users.conf"]);
        assert.equal(
            (await httpsRequest(ep, "/v2/one/blobs/uploads/", { auth: basic(BOB.name, BOB.password), method: "POST" })).status,
            202,
        );
        config = { ...config, users: users("pull") };
        const r = await bed.up(config);
        assert.deepEqual(bed.actions, ["update command:local:Command registry-htpasswd-install"]);
        assert.ok((r.changes.same ?? 0) > 20);
        assert.equal(
            (await httpsRequest(ep, "/v2/one/blobs/uploads/", { auth: basic(BOB.name, BOB.password), method: "POST" })).status,
            403,
            "refused the moment pulumi up returns",
        );

        // A change whose rules nginx rejects: neither the new password nor the new rules go live.
        const before = await state();
        const newPassword = `alice-new-${randomBytes(6).toString("hex")}`;
        const script = renderUsersInstall(
            `${htpasswdLine("alice", newPassword, "k".repeat(64), 5)}\n`,
            (file) => `set $registry_htpasswd ${file};\nno_such_directive on;\n`,
        );
        const rejected = await run("docker", ["exec", "-i", nginx, "sh", "-s"], { input: script });
        assert.notEqual(rejected.code, 0);
        assert.match(
            rejected.stderr,
            /nginx rejected the new users \(htpasswd file and access rules\); the running configuration is unchanged/,
        );
        assert.equal(await state(), before, "the auth volume and the rules are as they were");
        assert.equal(
            (await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status,
            200,
            "the old password still works",
        );
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, newPassword) })).status, 401, "the new one does not");
    });

    test("4. certonly waits for a certbot run in progress (a renewal check) instead of failing with 'Another instance of Certbot is already running'", async () => {
        const certbot = `${prefix}-certbot`;
        const inCertbot = (code: string) => docker(["exec", certbot, "python3", "-c", code]);
        // As the renew loop does while it runs certbot: this program's lock, and certbot's own,
        // held until the test lets go.
        const hold = [
            "import fcntl, os, time",
            `ours = open(${JSON.stringify(CERTBOT_LOCK)}, "a"); fcntl.flock(ours, fcntl.LOCK_EX)`,
            `theirs = open(${JSON.stringify(`${LETSENCRYPT_DIR}/.certbot.lock`)}, "a"); fcntl.lockf(theirs, fcntl.LOCK_EX)`,
            'open("/tmp/registry-bed-held", "w").close()',
            'while not os.path.exists("/tmp/registry-bed-release"): time.sleep(0.1)',
        ].join("\n");
        await docker(["exec", "-d", certbot, "python3", "-c", hold]);
        for (let i = 0; i < 50 && (await run("docker", ["exec", certbot, "test", "-e", "/tmp/registry-bed-held"])).code !== 0; i++)
            await sleep(100);
        const serial = (await peerCertificate(ep)).serialNumber;
        config = { ...config, acmeKeyType: "rsa" };
        const deploying = bed.up(config);
        deploying.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
        try {
            // certonly's script has started, and waits (not fails) for the lock: a `locked` call
            // (its helper ends in os.execvp) is in flight; the renew loop is asleep meanwhile.
            // (The word is put together at run time, or this probe would find itself.)
            const waiting =
                "import os\nw = b'os.exec' + b'vp'\nprint(any(w in open('/proc/%s/cmdline' % p, 'rb').read() for p in os.listdir('/proc') if p.isdigit()))";
            let seen = false;
            for (let i = 0; i < 300 && !seen; i++) {
                seen = (await inCertbot(waiting)) === "True";
                if (!seen) await sleep(200);
            }
            assert.ok(seen, "certonly started while the locks were held");
            await sleep(2000);
            assert.equal(await inCertbot(waiting), "True", "and still waits for them, instead of failing");
        } finally {
            await docker(["exec", certbot, "touch", "/tmp/registry-bed-release"]);
        }
        await deploying;
        const cert = await peerCertificate(ep);
        assert.notEqual(cert.serialNumber, serial);
        assert.ok(cert.modulus, "the new RSA certificate is served");
    });

    test("5. a certonly that fails (a new name, the CA unreachable) leaves the redirect and the served certificate naming the same host", async () => {
        const before = await peerCertificate(ep);
        await docker(["network", "disconnect", `${prefix}-net`, `${prefix}-pebble`]);
        try {
            const other = `${bed.label}-b.registry.test`;
            await assert.rejects(bed.up({ ...config, domain: other }), (e: Error) => {
                assert.ok(e instanceof DeployError);
                assert.ok(e.message.includes(`could not obtain a certificate for ${other}`), e.message);
                return true;
            });
            const redirect = await httpRequest(ep, "/v2/");
            assert.equal(redirect.status, 301);
            assert.equal(redirect.headers.location, `https://${bed.host}/v2/`, "port 80 still sends clients to the name HTTPS serves");
            const served = await peerCertificate(ep);
            assert.equal(served.serialNumber, before.serialNumber);
            assert.equal(served.subjectaltname, `DNS:${bed.domain}`);
        } finally {
            await docker(["network", "connect", "--alias", "pebble", `${prefix}-net`, `${prefix}-pebble`]);
        }
        await bed.up(config);
        assert.equal(
            (await peerCertificate(ep)).serialNumber,
            before.serialNumber,
            "back to the name it has a certificate for: none issued",
        );
        assert.equal((await httpsRequest(ep, "/v2/", { auth: basic(ALICE.name, ALICE.password) })).status, 200);
    });

    test("6. renewals reach nginx after nginx is stopped and started, after nginx is replaced and after certbot is replaced", async () => {
        const renewed = async (what: string) => {
            const serial = (await peerCertificate(ep)).serialNumber;
            const r = await forceRenewal(prefix, ep);
            assert.equal(r.code, 0, r.stderr);
            assert.notEqual((await peerCertificate(ep)).serialNumber, serial, `after ${what}, the renewed certificate is served`);
        };
        await docker(["stop", `${prefix}-nginx`]);
        await docker(["start", `${prefix}-nginx`]);
        for (let i = 0; i < 100 && !(await canConnect(ep.address, ep.httpsPort)); i++) await sleep(100);
        assert.equal(
            await docker(["inspect", "--format", "{{.State.Running}}", `${prefix}-certbot`]),
            "true",
            "certbot keeps running when nginx stops",
        );
        await renewed("nginx stopped and started");

        config = { ...config, nginxImage: await retag(bed.images.NGINX_IMAGE, `nginx-${LABEL}`) };
        await bed.up(config);
        assert.ok(bed.actions.includes("replace docker:index/container:Container registry-nginx"), bed.actions.join("\n"));
        await renewed("nginx replaced");

        config = { ...config, certbotImage: await retag(bed.images.CERTBOT_IMAGE, `certbot-${LABEL}`) };
        await bed.up(config);
        assert.ok(bed.actions.includes("replace docker:index/container:Container registry-certbot"), bed.actions.join("\n"));
        await renewed("certbot replaced");
    });

    test("7. bad Docker hosts, bind addresses, e-mails and ACME URLs are refused by the engine's preview, each named, before anything is created", async () => {
        const stack = await engine.stack(`${prefix}-refused`);
        try {
            await stack.configure(
                {
                    domain: "refused.registry.test",
                    dockerHost: "tcp://10.0.0.5:2375",
                    bindAddress: "1:2",
                    acmeEmail: "-x@example.com",
                    acmeServer: "https://eab:hunter2@acme.example.com/dir",
                },
                () => false,
            );
            await assert.rejects(stack.preview(), (e: Error) => {
                assert.match(e.message, /private-registry:dockerHost: expected .*tcp:\/\/ is refused/);
                assert.match(e.message, /private-registry:bindAddress: expected an IP address/);
                assert.match(e.message, /private-registry:acmeEmail: expected an e-mail address/);
                assert.match(e.message, /private-registry:acmeServer: expected an https:\/\/ ACME directory URL without credentials/);
                assert.ok(!e.message.includes("hunter2"), "the URL's credentials are not echoed");
                assert.doesNotMatch(e.message, /docker:index:|command:local:/, "no resource was even declared");
                return true;
            });
            await stack.configure({ domain: "refused.registry.test", dockerHost: "ssh://u@h:99999" }, () => false);
            await assert.rejects(
                stack.preview(),
                /private-registry:dockerHost: expected .* with a port from 1 to 65535, got "ssh:\/\/u@h:99999"/,
            );
        } finally {
            await stack.remove();
        }
    });
});
