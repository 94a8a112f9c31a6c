// Events, live: a stack with a `notifications` endpoint deployed by the real Pulumi engine, a
// webhook receiver (python3's http.server in the bed's certbot image) on the stack's network,
// and the Docker CLI pushing and pulling through nginx. The receiver records what distribution
// sends: the push and the pull of a manifest with repository, tag, digest, the user and the
// time, and the secret header, which is in no plain state, `docker inspect` or process argument.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Bed, BED_LABEL, BED_SLOTS } from "./bed";
import { DockerClient } from "./client";
import { Engine } from "./engine";
import { docker, run } from "./proc";
import { leaksIn } from "./secrets";

const LABEL = `events-${randomBytes(3).toString("hex")}`;
const ALICE = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
const TOKEN = `token-${randomBytes(12).toString("hex")}`;
const RECEIVER_PORT = 8080;
const EVENTS_FILE = "/tmp/events.jsonl";

/** The receiver: every POST's headers and JSON body, one line each, answered 200. */
const RECEIVER = `
import http.server, json
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open("${EVENTS_FILE}", "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}) + "\\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", ${RECEIVER_PORT}), Handler).serve_forever()
`;

interface Delivery {
    path: string;
    headers: Record<string, string>;
    body: { events: RegistryEvent[] };
}

interface RegistryEvent {
    id: string;
    timestamp: string;
    action: string;
    target: { mediaType: string; digest: string; repository: string; tag?: string; size: number };
    actor?: { name?: string };
    request?: { addr?: string; method?: string; useragent?: string };
}

describe("live: registry events reach a webhook, its secret header stays secret", { timeout: 900_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.events);
    const client = new DockerClient();
    const receiver = `${bed.prefix}-receiver`;
    const refs: string[] = [];
    let host = "";
    let digest = "";

    const config = bed.config({
        users: { alice: { access: "push", password: ALICE.password } },
        notifications: [
            {
                name: "bed",
                url: `http://${receiver}:${RECEIVER_PORT}/events`,
                headers: { Authorization: `Bearer ${TOKEN}`, "X-Bed": LABEL },
                timeout: "2s",
                threshold: 3,
                backoff: "1s",
                // Layers: no event for each blob, only for manifests.
                ignoredMediaTypes: ["application/octet-stream"],
            },
        ],
    });

    /** Every delivery the receiver has recorded so far. */
    async function deliveries(): Promise<Delivery[]> {
        const text = await docker(["exec", receiver, "sh", "-c", `cat ${EVENTS_FILE} 2>/dev/null || true`]);
        return text
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Delivery);
    }

    /** Waits (up to 60 s) for an event `match` accepts, and returns it with its delivery. */
    async function eventWhere(match: (e: RegistryEvent) => boolean): Promise<{ event: RegistryEvent; delivery: Delivery }> {
        const deadline = Date.now() + 60_000;
        for (;;) {
            for (const delivery of await deliveries()) {
                const event = delivery.body.events.find(match);
                if (event) return { event, delivery };
            }
            if (Date.now() > deadline) throw new Error(`no such event within 60 s; received: ${JSON.stringify(await deliveries())}`);
            await new Promise((r) => setTimeout(r, 500));
        }
    }

    before(async () => {
        const deployed = await bed.up(config);
        host = deployed.outputs.host.value as string;
        bed.trustRoot(host, deployed.outputs.caRoot.value as string);
        // On the stack's network, where the registry reaches it by name.
        await docker([
            "run",
            "--detach",
            "--name",
            receiver,
            "--network",
            `${bed.prefix}-net`,
            "--label",
            `${BED_LABEL}=${LABEL}`,
            "--entrypoint",
            "python3",
            bed.images.CERTBOT_IMAGE,
            "-u",
            "-c",
            RECEIVER,
        ]);
        assert.equal((await client.login(host, ALICE.name, ALICE.password)).code, 0);
    });

    after(async () => {
        client.cleanup();
        await bed.cleanup();
        await run("docker", ["image", "rm", "--force", ...refs]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("1. a push is an event with repository, tag, digest, the user and the time; the headers arrive", async () => {
        const ref = `${host}/events/app:v1`;
        refs.push(ref);
        await client.makeImage(ref, 64 * 1024);
        const started = Date.now();
        const pushed = await client.must(["push", ref]);
        digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1] ?? "";
        assert.ok(digest, `docker push reports the digest: ${pushed}`);

        const { event, delivery } = await eventWhere((e) => e.action === "push" && e.target.tag === "v1");
        assert.equal(event.target.repository, "events/app");
        assert.equal(event.target.digest, digest);
        assert.match(event.target.mediaType, /manifest/);
        assert.equal(event.actor?.name, ALICE.name, "the user nginx authenticated");
        const at = Date.parse(event.timestamp);
        assert.ok(at >= started - 5_000 && at <= Date.now() + 5_000, `timestamp ${event.timestamp} is the push's time`);
        assert.equal(delivery.path, "/events");
        assert.equal(delivery.headers["Authorization"], `Bearer ${TOKEN}`, "the secret header arrives");
        assert.equal(delivery.headers["X-Bed"], LABEL);
        assert.match(delivery.headers["Content-Type"], /application\/vnd\.docker\.distribution\.events\.v[12]\+json/);

        const layers = (await deliveries()).flatMap((d) => d.body.events).filter((e) => e.target.mediaType === "application/octet-stream");
        assert.deepEqual(layers, [], "ignoredMediaTypes: no event about layers");
    });

    test("2. a pull is an event with repository, digest and the user", async () => {
        const ref = `${host}/events/app:v1`;
        await client.must(["image", "rm", ref]);
        const started = Date.now();
        await client.must(["pull", ref]);
        const { event } = await eventWhere(
            (e) => e.action === "pull" && e.target.repository === "events/app" && Date.parse(e.timestamp) >= started - 5_000,
        );
        assert.equal(event.target.digest, digest);
        assert.equal(event.actor?.name, ALICE.name);
        // docker pull asks for the manifest with HEAD, then GET: distribution reports both.
        assert.match(event.request?.method ?? "", /^(GET|HEAD)$/);
    });

    test("3. the secret header is in no plain state, no docker inspect, no process argument", async () => {
        const stack = await bed.stack();
        assert.deepEqual(leaksIn([TOKEN], await stack.exportText()), [], "the header's value readable in `pulumi stack export`");
        assert.notDeepEqual(leaksIn([TOKEN], await stack.exportText(true)), [], "it is in the state, as a secret (--show-secrets)");
        const registry = `${bed.prefix}-registry`;
        assert.deepEqual(
            leaksIn([TOKEN], await docker(["inspect", registry])),
            [],
            "the header's value in `docker inspect` of the registry",
        );
        const args = await docker(["exec", registry, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
        assert.deepEqual(leaksIn([TOKEN], args), [], "the header's value in a process's arguments");
        const env = await docker(["exec", registry, "sh", "-c", "cat /proc/[0-9]*/environ | tr '\\0' '\\n'"]);
        assert.deepEqual(leaksIn([TOKEN], env), [], "the header's value in a process's environment");
        // Where it is: the registry's config file (a secret upload), and nowhere published.
        assert.match(await docker(["exec", registry, "cat", "/etc/distribution/config.yml"]), new RegExp(TOKEN));
    });
});
