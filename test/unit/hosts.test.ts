// Several hosts: the `hosts` and `redis` settings (what is accepted, what is refused and how it
// is named), what each host gets, the registry's Redis config, the supervisor's coordinated
// GC, the coordinator script, and the program's graph under mocks (one set per host, shared
// secrets, one host at a time).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { renderGcCoordinator } from "../../configs/gc";
import { hostSettings } from "../../settings/hosts";
import { REDIS_CA_PATH, renderRedisServerConf } from "../../configs/redis";
import { GC_FILES, renderRegistryConfig, renderRegistrySupervisor } from "../../configs/registry";
import { ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { SecretPaths } from "../../settings/secretPaths";
import { makeCa } from "../harness/certs";
import { isSecretWrapper, runProgram, unwrapSecrets } from "../harness/program";
import { Recorder } from "../harness/recorder";
import { tempDir } from "../harness/tempDir";

const REDIS_PASSWORD = "redis-password-0123456789";
const SEVERAL = {
    domain: "registry.example.com",
    acmeChallenge: "dns",
    dnsPlugin: "rfc2136",
    dnsCredentials: { server: "10.0.0.53", name: "update", secret: "c2VjcmV0c2VjcmV0c2VjcmV0" },
    storage: { driver: "s3", bucket: "images", region: "eu-west-1" },
    hosts: [
        { name: "node-1", dockerHost: "ssh://ops@10.0.0.11" },
        { name: "node-2", dockerHost: "ssh://ops@10.0.0.12", httpsPort: 8443 },
    ],
    redis: { address: "10.0.0.11:6379", password: REDIS_PASSWORD, runOn: "node-1" },
};
const SECRET_LEAVES = ["dnsCredentials.secret", "redis.password"];
/** Parsed as stack config with the secret leaves stored encrypted. */
const parse = (values: Record<string, unknown>, secrets = SECRET_LEAVES) =>
    parseSettings(values, "prod", stackNaming(new SecretPaths(secrets)));
const problems = (values: Record<string, unknown>, secrets = SECRET_LEAVES) => {
    try {
        parse(values, secrets);
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.problems;
    }
    assert.fail("expected a ConfigError");
};

/** `found` has a problem starting with `prefix`. */
function hasProblem(found: string[], prefix: string): void {
    assert.ok(
        found.some((p) => p.startsWith(prefix)),
        `${prefix}\nin:\n${found.join("\n")}`,
    );
}

describe("hosts and redis settings", () => {
    test("each host gets its name, its own name on the certificate, its prefix and its ports (the top-level ones by default)", () => {
        const s = parse(SEVERAL);
        assert.deepEqual(
            s.hosts.map((h) => [h.name, h.fqdn, h.dockerHost, h.namePrefix, h.publish.httpsPort, h.publish.httpPort]),
            [
                ["node-1", "node-1.registry.example.com", "ssh://ops@10.0.0.11", "registry-prod-node-1", 443, 80],
                ["node-2", "node-2.registry.example.com", "ssh://ops@10.0.0.12", "registry-prod-node-2", 8443, 80],
            ],
        );
        const two = hostSettings(s, s.hosts[1]);
        assert.deepEqual(
            [two.dockerHost, two.namePrefix, two.domain, two.domains],
            ["ssh://ops@10.0.0.12", "registry-prod-node-2", "registry.example.com", ["node-2.registry.example.com"]],
        );
        assert.equal(s.redis?.runOn, "node-1");
        assert.equal(s.redis?.port, 6379);
        assert.equal(parse({ domain: "registry.example.com" }).hosts.length, 0, "no hosts: one, at dockerHost");
        assert.equal(parse({ domain: "registry.example.com" }).redis, undefined);
    });

    test("two hosts need S3, DNS-01 and Redis: each missing one is refused, naming its key", () => {
        const { storage: _s, acmeChallenge: _a, dnsPlugin: _p, dnsCredentials: _c, redis: _r, ...bare } = SEVERAL;
        const found = problems(bare);
        assert.ok(
            found.includes("private-registry:storage: expected driver s3 with 2 hosts: every host must serve the same blobs"),
            found.join("\n"),
        );
        assert.ok(found.some((p) => p.startsWith("private-registry:acmeChallenge: expected dns with 2 hosts")));
        assert.ok(found.some((p) => p.startsWith("private-registry:redis: required with 2 hosts")));
        // One host in the list needs none of them.
        assert.equal(parse({ domain: "registry.example.com", hosts: [SEVERAL.hosts[0]] }).hosts.length, 1);
    });

    test("bad hosts are refused before anything is created, each naming the field", () => {
        const found = problems({
            ...SEVERAL,
            dockerHost: "ssh://ops@10.0.0.99",
            hosts: [
                { name: "Node_1", dockerHost: "ssh://ops@10.0.0.11" },
                { name: "b", dockerHost: "tcp://10.0.0.12:2375" },
                { name: "b", dockerHost: "ssh://ops@10.0.0.13" },
                { name: "c" },
                { name: "d", dockerHost: "unix:///var/run/docker.sock", colour: "red" },
                { name: "e", dockerHost: "unix:///var/run/docker.sock", httpsPort: 99999 },
                { name: "f", dockerHost: "unix:///var/run/docker.sock" },
                "node-g",
            ],
        });
        const has = (prefix: string) => hasProblem(found, prefix);
        has(
            "private-registry:hosts[0].name: expected a DNS label of 1-32 lower-case letters, digits or '-', such as node-1, got \"Node_1\"",
        );
        has("private-registry:hosts[1].dockerHost: tcp:// needs tls { caCertificate, certificate, key }");
        has('private-registry:hosts[2].name: "b" is listed twice');
        has("private-registry:hosts[3].dockerHost: required");
        has("private-registry:hosts[4].colour: unknown field");
        has('private-registry:hosts[5].httpsPort: expected an integer from 1 to 65535, got "99999"');
        has('private-registry:hosts[6]: publishes a port "d" publishes on the same Docker host');
        has("private-registry:hosts[7]: expected { name, dockerHost");
        has("private-registry:dockerHost: not used with hosts");
    });

    test("metrics with several hosts: each host's endpoint on its own metricsBindAddress and metricsPort (the top-level ones by default); clashes refused before anything is created", () => {
        const secrets = [...SECRET_LEAVES, "metrics.password"];
        const password = "scrape-password-0123456789";
        const sameEngine = (metrics: Record<string, unknown>, b: Record<string, unknown> = {}) => ({
            ...SEVERAL,
            metrics: { enabled: true, ...metrics },
            hosts: [
                { name: "node-1", dockerHost: "unix:///var/run/docker.sock" },
                { name: "node-2", dockerHost: "unix:///var/run/docker.sock", httpsPort: 8443, httpPort: 8080, ...b },
            ],
        });
        // Two hosts on one engine, one scrape port: the second would fail in Docker mid-deploy.
        hasProblem(
            problems(sameEngine({})),
            'private-registry:hosts[1]: its metrics endpoint (127.0.0.1:9145) and "node-1" share a port on the same Docker host; give one of them its own metricsPort or metricsBindAddress',
        );
        const s = parse(sameEngine({}, { metricsPort: 9146 }));
        assert.deepEqual(
            s.hosts.map((h) => [hostSettings(s, h).metrics.bindAddress, hostSettings(s, h).metrics.port]),
            [
                ["127.0.0.1", 9145],
                ["127.0.0.1", 9146],
            ],
        );
        // Hosts on their own machines: each endpoint on an address of its own host, behind the password.
        const apart = parse(
            {
                ...SEVERAL,
                metrics: { enabled: true, password },
                hosts: [
                    { ...SEVERAL.hosts[0], metricsBindAddress: "10.0.0.11" },
                    { ...SEVERAL.hosts[1], metricsBindAddress: "10.0.0.12" },
                ],
            },
            secrets,
        );
        assert.deepEqual(
            apart.hosts.map((h) => hostSettings(apart, h).metrics.bindAddress),
            ["10.0.0.11", "10.0.0.12"],
        );
        assert.equal(hostSettings(parse(SEVERAL), parse(SEVERAL).hosts[0]).metrics.enabled, false, "off stays off");
        const found = problems(
            {
                ...SEVERAL,
                metrics: { enabled: true },
                hosts: [
                    { ...SEVERAL.hosts[0], metricsBindAddress: "10.0.0.11" },
                    { ...SEVERAL.hosts[1], metricsPort: 8443 },
                    { name: "node-3", dockerHost: "ssh://ops@10.0.0.13", metricsBindAddress: "node-3", metricsPort: 0 },
                ],
            },
            secrets,
        );
        hasProblem(found, 'private-registry:hosts[0].metricsBindAddress: "10.0.0.11" is not a loopback address: set metrics.password');
        hasProblem(found, "private-registry:hosts[1].metricsPort: expected a port apart from the host's httpPort and httpsPort, got 8443");
        hasProblem(
            found,
            'private-registry:hosts[2].metricsBindAddress: expected an IP address of this host such as 127.0.0.1 or 10.0.0.5, got "node-3"',
        );
        hasProblem(found, 'private-registry:hosts[2].metricsPort: expected an integer from 1 to 65535, got "0"');
    });

    test("redis: a bad address, a plain-text password, runOn a host not listed or with TLS, a CA without TLS are refused", () => {
        const ca = makeCa("redis test CA").pem;
        const found = problems(
            {
                ...SEVERAL,
                redis: { address: "redis:none", password: REDIS_PASSWORD, runOn: "node-9", tls: true, caCertificate: ca, colour: 1 },
            },
            ["dnsCredentials.secret"],
        );
        const has = (prefix: string) => hasProblem(found, prefix);
        has(
            'private-registry:redis.address: expected host:port of the Redis server, such as redis.internal.example.com:6379 or 10.0.0.5:6379, got "redis:none"',
        );
        has("private-registry:redis.password: must be stored as a secret: `pulumi config set --secret --path redis.password ...`");
        has('private-registry:redis.runOn: expected the name of one of hosts ("node-1", "node-2"), got "node-9"');
        has("private-registry:redis.tls: expected false with runOn");
        has("private-registry:redis.colour: unknown field");
        for (const p of found) assert.ok(!p.includes(REDIS_PASSWORD), "the password is not echoed");
        const noPassword = problems({ ...SEVERAL, redis: { address: "10.0.0.11:6379", runOn: "node-1" } });
        assert.ok(noPassword.some((p) => p.startsWith("private-registry:redis.password: required with runOn")));
        const caWithoutTls = problems({ ...SEVERAL, redis: { address: "redis.example.com:6380", caCertificate: ca } });
        assert.ok(caWithoutTls.some((p) => p.startsWith("private-registry:redis.caCertificate: only used with tls: true")));
        const short = problems({ ...SEVERAL, redis: { ...SEVERAL.redis, password: "short" } });
        assert.ok(short.some((p) => p === "private-registry:redis.password: expected 16 to 512 characters, got 5"));
    });

    test("redis with runOn: published on address alone, so it must be one IP of that host the hosts reach (IPv6 too)", () => {
        const expected =
            "expected the IP address of the runOn host on the network the hosts share, such as 10.0.0.11:6379 (with runOn, Redis is published there alone)";
        const refused: [string, string][] = [
            ["redis.internal.example.com:6379", ""],
            ["0.0.0.0:6379", ", not an unspecified address (every interface)"],
            ["[::]:6379", ", not an unspecified address (every interface)"],
            ["[::ffff:0.0.0.0]:6379", ", not an unspecified address (every interface)"],
            ["127.0.0.1:6379", ", not loopback (inside a container, that is the container itself)"],
            ["127.1.2.3:6379", ", not loopback (inside a container, that is the container itself)"],
            ["[::1]:6379", ", not loopback (inside a container, that is the container itself)"],
            ["[::ffff:127.0.0.1]:6379", ", not loopback (inside a container, that is the container itself)"],
        ];
        for (const [address, why] of refused) {
            const found = problems({ ...SEVERAL, redis: { ...SEVERAL.redis, address } });
            assert.equal(found.length, 1, found.join("\n"));
            // The value is not shown: redis holds a secret (the password).
            assert.equal(found[0], `private-registry:redis.address: ${expected}${why}, got a secret value`);
        }
        for (const address of ["10.0.0.11:6379", "[fd00::11]:6379"])
            assert.equal(parse({ ...SEVERAL, redis: { ...SEVERAL.redis, address } }).redis?.address, address);
        // An external Redis is reached, not published: a name is fine there.
        assert.equal(
            parse({ ...SEVERAL, redis: { address: "redis.internal.example.com:6379" } }).redis?.host,
            "redis.internal.example.com",
        );
    });
});

describe("a host over tcp:// with TLS", () => {
    const ca = makeCa("docker daemon test CA");
    const client = ca.issue("client", "DNS:client", "clientAuth");
    const tls = { caCertificate: ca.pem, certificate: fs.readFileSync(client.cert, "utf8"), key: fs.readFileSync(client.key, "utf8") };
    const withTls = { ...SEVERAL, hosts: [SEVERAL.hosts[0], { name: "node-2", dockerHost: "tcp://10.0.0.12:2376", tls }] };
    const leaves = [...SECRET_LEAVES, "hosts[1].tls.key"];

    test("is accepted with the daemon's CA and this client's certificate and key (a secret); refused without, or with a plain key", () => {
        const s = parse(withTls, leaves);
        assert.equal(s.hosts[1].dockerHost, "tcp://10.0.0.12:2376");
        assert.equal(hostSettings(s, s.hosts[1]).dockerTls?.certificate, tls.certificate);
        assert.equal(hostSettings(s, s.hosts[0]).dockerTls, undefined);
        const without = problems({ ...SEVERAL, hosts: [SEVERAL.hosts[0], { name: "node-2", dockerHost: "tcp://10.0.0.12:2376" }] });
        hasProblem(without, "private-registry:hosts[1].dockerHost: tcp:// needs tls { caCertificate, certificate, key }");
        hasProblem(problems(withTls), "private-registry:hosts[1].tls.key: must be stored as a secret");
        const wrongPlace = problems({ ...SEVERAL, hosts: [{ ...SEVERAL.hosts[0], tls }, SEVERAL.hosts[1]] }, [
            ...SECRET_LEAVES,
            "hosts[0].tls.key",
        ]);
        hasProblem(wrongPlace, "private-registry:hosts[0].tls: only used with a tcp:// dockerHost");
        const badPem = problems(
            { ...withTls, hosts: [SEVERAL.hosts[0], { ...withTls.hosts[1], tls: { ...tls, certificate: "nope" } }] },
            leaves,
        );
        hasProblem(badPem, "private-registry:hosts[1].tls.certificate: expected a PEM certificate");
        // A single host's dockerHost still refuses tcp:// (a host of `hosts` carries its TLS).
        hasProblem(
            problems({ domain: "registry.example.com", dockerHost: "tcp://10.0.0.12:2376" }),
            "private-registry:dockerHost: expected",
        );
    });

    test("its provider gets the TLS material (the key secret); its commands write it for the docker CLI, the key only from a secret variable", async () => {
        const mocks = new Recorder();
        await runProgram({ config: withTls, secretKeys: leaves, mocks, stack: "prod" });
        const providers = mocks.ofType("pulumi:providers:docker");
        const tcp = providers.find((p) => p.inputs.host === "tcp://10.0.0.12:2376")!;
        assert.equal(tcp.inputs.caMaterial, ca.pem);
        assert.equal(tcp.inputs.certMaterial, tls.certificate);
        assert.ok(isSecretWrapper(tcp.inputs.keyMaterial), "the key is a secret");
        const ssh = providers.find((p) => p.inputs.host === "ssh://ops@10.0.0.11")!;
        assert.equal(ssh.inputs.caMaterial, undefined);
        for (const r of mocks.resources) {
            const plain = JSON.stringify(r.inputs, (_k, v) => (isSecretWrapper(v) ? "[secret]" : v));
            assert.ok(!plain.includes(tls.key.split("\n")[1]), `${r.name} holds the client key in plain text`);
        }
        const install = mocks.byName("registry-node-2-htpasswd-install");
        assert.match(
            install.inputs.create as string,
            /^d=\$\(mktemp -d\) && trap .* DOCKER_CERT_PATH="\$d" docker exec -i registry-prod-node-2-nginx sh -s$/,
        );
        // The environment carries the key: it is kept secret as a whole.
        assert.ok(isSecretWrapper(install.inputs.environment), "the command's environment is a secret");
        const env = unwrapSecrets(install.inputs.environment) as Record<string, string>;
        assert.equal(env.DOCKER_HOST, "tcp://10.0.0.12:2376");
        assert.equal(env.DOCKER_TLS_VERIFY, "1");
        assert.equal(env.REGISTRY_DOCKER_KEY, tls.key);
        // The other host's commands (and a single host's) are as before: DOCKER_HOST alone.
        assert.deepEqual(Object.keys(mocks.byName("registry-node-1-htpasswd-install").inputs.environment), ["DOCKER_HOST"]);
    });
});

describe("hosts and redis rendered", () => {
    const s = parse(SEVERAL);

    test("the registry config uses Redis for the blob descriptor cache, with its password and (with TLS) its CA; without Redis, nothing changes", () => {
        const config = renderRegistryConfig(s, "abc123", "read-write", REDIS_PASSWORD);
        assert.match(config, /^ {4}blobdescriptor: redis$/m);
        assert.match(config, /^redis:\n {2}addrs: \[10\.0\.0\.11:6379\]\n {2}password: "redis-password-0123456789"\n {2}db: 0\n/m);
        assert.doesNotMatch(config, /tls:/);
        const ca = makeCa("redis test CA").pem;
        const tls = parse({ ...SEVERAL, redis: { address: "redis.example.com:6380", tls: true, caCertificate: ca } });
        assert.match(renderRegistryConfig(tls, "abc123"), new RegExp(`^ {2}tls:\\n {4}rootcas: \\[${REDIS_CA_PATH}\\]$`, "m"));
        const single = renderRegistryConfig(parse({ domain: "registry.example.com" }), "abc123");
        assert.match(single, /^ {4}blobdescriptor: inmemory$/m);
        assert.doesNotMatch(single, /redis/);
    });

    test("with Redis the supervisor asks the coordinator for GC and follows its files; without, it runs GC itself as before", () => {
        const coordinated = renderRegistrySupervisor(s);
        assert.match(coordinated, new RegExp(`date \\+%s > "\\$ctl/${GC_FILES.request}"; gc_now=0`));
        assert.match(coordinated, new RegExp(`want=\\$\\(cat "\\$ctl/${GC_FILES.readonly}"`));
        assert.match(coordinated, new RegExp(`collect; echo "\\$run" > "\\$ctl/${GC_FILES.done}"`));
        assert.doesNotMatch(coordinated, /^ {4}gc; next=/m, "no local GC");
        // Read-only for a while (the writer stopped): the container lives as long as the read-only registry.
        assert.match(coordinated, /pid=\$\{ro_pid:-\$rw_pid\}\n {2}if ! kill -0 "\$pid"/);
        const single = renderRegistrySupervisor(parse({ domain: "registry.example.com" }));
        assert.match(single, /^ {4}gc; next=/m);
        for (const f of Object.values(GC_FILES)) assert.ok(!single.includes(f), `a single host never touches ${f}`);
        for (const text of [coordinated, single]) {
            const dir = tempDir("registry-supervisor-");
            fs.writeFileSync(path.join(dir, "s.sh"), text);
            execFileSync("sh", ["-n", path.join(dir, "s.sh")]);
        }
    });

    test("the coordinator knows every host and reads the password from its file; it compiles", () => {
        const script = renderGcCoordinator(s, "node-2");
        assert.match(script, /^NODES = \["node-1","node-2"\]$/m);
        assert.match(script, /^NODE = "node-2"$/m);
        assert.match(script, /^PASSWORD_FILE = "\/etc\/registry-redis\/password"$/m);
        assert.ok(!script.includes(REDIS_PASSWORD));
        const dir = tempDir("registry-coordinator-");
        fs.writeFileSync(path.join(dir, "c.py"), script);
        execFileSync("python3", ["-m", "py_compile", path.join(dir, "c.py")]);
    });

    test("the Redis this program runs: allkeys-lru, a password, protected mode on, nothing on disk", () => {
        const conf = renderRedisServerConf(REDIS_PASSWORD);
        assert.match(conf, /^maxmemory-policy allkeys-lru$/m);
        assert.match(conf, new RegExp(`^requirepass "${REDIS_PASSWORD}"$`, "m"));
        assert.match(conf, /^protected-mode yes$/m);
        assert.doesNotMatch(conf, /^protected-mode no$/m);
        assert.match(conf, /^save ""$/m);
        assert.throws(() => renderRedisServerConf('bad"password-0123456789'));
    });
});

describe("two hosts under mocks", () => {
    const deploy = async () => {
        const mocks = new Recorder();
        const run = await runProgram({ config: SEVERAL, secretKeys: SECRET_LEAVES, mocks, stack: "prod" });
        return { mocks, run };
    };

    test("metrics: each host's nginx publishes its own scrape endpoint, on the address and port its entry gives", async () => {
        const mocks = new Recorder();
        const config = {
            ...SEVERAL,
            metrics: { enabled: true, password: "scrape-password-0123456789" },
            hosts: [
                { ...SEVERAL.hosts[0], metricsBindAddress: "10.0.0.11" },
                { ...SEVERAL.hosts[1], metricsPort: 9200 },
            ],
        };
        await runProgram({ config, secretKeys: [...SECRET_LEAVES, "metrics.password"], mocks, stack: "prod" });
        const scrape = (node: string) => (mocks.byName(`registry-${node}-nginx`).inputs.ports as { external: number; ip: string }[]).at(-1);
        assert.deepEqual(scrape("node-1"), { internal: 9145, external: 9145, ip: "10.0.0.11" });
        assert.deepEqual(scrape("node-2"), { internal: 9145, external: 9200, ip: "127.0.0.1" });
    });

    test("each host gets its provider and containers; Redis runs on node-1 only; one http.secret and one password per user for both", async () => {
        const { mocks, run } = await deploy();
        const containers = mocks.ofType("docker:index/container:Container").map((c) => c.inputs.name as string);
        for (const node of ["node-1", "node-2"]) {
            for (const role of ["registry", "nginx", "certbot", "gc-coordinator"])
                assert.ok(containers.includes(`registry-prod-${node}-${role}`), `${node} ${role}`);
        }
        assert.deepEqual(
            containers.filter((c) => c.endsWith("-redis")),
            ["registry-prod-node-1-redis"],
        );
        // Published on redis.address alone (the hosts reach it there), never on node-1's bindAddress (0.0.0.0).
        assert.deepEqual(mocks.byName("registry-node-1-redis").inputs.ports, [{ internal: 6379, external: 6379, ip: "10.0.0.11" }]);
        assert.deepEqual(
            mocks.ofType("pulumi:providers:docker").map((p) => p.inputs.host),
            ["ssh://ops@10.0.0.11", "ssh://ops@10.0.0.12"],
        );
        const passwords = mocks.ofType("random:index/randomPassword:RandomPassword").map((r) => r.name);
        assert.equal(passwords.filter((n) => n === "registry-http-secret").length, 1);
        assert.deepEqual(
            passwords.filter((n) => n.endsWith("-admin-password")),
            ["registry-users-admin-password"],
        );
        // Both registries get the same http.secret.
        const secretOf = (node: string) => {
            const uploads = unwrapSecrets(mocks.byName(`registry-${node}-registry`).inputs.uploads) as { content: string }[];
            return /secret: "(\w+)"/.exec(uploads[0].content)?.[1];
        };
        assert.ok(secretOf("node-1"));
        assert.equal(secretOf("node-1"), secretOf("node-2"));
        // Each host's certificate asks for the shared name and its own.
        assert.ok((mocks.byName("registry-node-2-tls-certonly").inputs.triggers as string[]).includes("node-2.registry.example.com"));
        assert.deepEqual(
            (run.outputs.hosts.value as { name: string; host: string }[]).map((h) => h.host),
            ["node-1.registry.example.com", "node-2.registry.example.com:8443"],
        );
    });

    test("certificateExpiry is the soonest of the hosts' certificates", async () => {
        const { mocks, run } = await deploy();
        const expiries = ["node-1", "node-2"].map((node) => (mocks.byName(`registry-${node}-tls-expiry`).state.stdout as string).trim());
        assert.notEqual(expiries[0], expiries[1], "each host's check answers a date of its own");
        const soonest = expiries.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
        assert.equal(run.outputs.certificateExpiry.value, soonest);
    });

    test("the Redis password is only in secrets: the registries' config, the coordinators' 0400 file, Redis' own config", async () => {
        const { mocks } = await deploy();
        for (const r of mocks.resources) {
            const plain = JSON.stringify(r.inputs, (_k, v) => (isSecretWrapper(v) ? "[secret]" : v));
            assert.ok(!plain.includes(REDIS_PASSWORD), `${r.name} holds the Redis password in plain text`);
        }
        const coordinator = mocks.byName("registry-node-2-gc-coordinator");
        const files = unwrapSecrets(coordinator.inputs.uploads) as { file: string; permissions?: string; content: string }[];
        assert.deepEqual(
            files.filter((f) => f.content === REDIS_PASSWORD).map((f) => [f.file, f.permissions]),
            [["/etc/registry-redis/password", "0400"]],
        );
    });

    test("one host with an external Redis: the cache there, GC through its coordinator alone; no readiness chain", async () => {
        const mocks = new Recorder();
        await runProgram({
            config: {
                domain: "registry.example.com",
                redis: { address: "redis.internal.example.com:6380", password: REDIS_PASSWORD, tls: true },
            },
            secretKeys: ["redis.password"],
            mocks,
            stack: "prod",
        });
        const names = mocks.ofType("docker:index/container:Container").map((c) => c.inputs.name as string);
        assert.ok(names.includes("registry-prod-gc-coordinator"));
        assert.ok(!names.some((n) => n.endsWith("-redis")), "no Redis of its own");
        const config = (unwrapSecrets(mocks.byName("registry-registry").inputs.uploads) as { content: string }[])[0].content;
        assert.match(config, /blobdescriptor: redis/);
        assert.match(config, /rootcas: \[\/etc\/ssl\/certs\/ca-certificates\.crt\]/, "TLS with the system's roots");
        const coordinator = unwrapSecrets(mocks.byName("registry-gc-coordinator").inputs.uploads) as { file: string; content: string }[];
        assert.match(coordinator[0].content, /^NODES = \["registry-prod"\]$/m);
        assert.match(coordinator[0].content, /^TLS = True$/m);
        assert.ok(mocks.resources.every((r) => !r.name.endsWith("-ready")));
    });

    test("one host at a time: node-2's registry is declared only once node-1 serves again", async () => {
        const { mocks } = await deploy();
        const order = (name: string) => mocks.byName(name).order;
        assert.ok(order("registry-node-1-ready") < order("registry-node-2-registry"));
        assert.ok(order("registry-node-1-htpasswd-install") < order("registry-node-1-ready"), "ready once the users are in");
        assert.match(mocks.byName("registry-node-1-ready").inputs.stdin as string, /ready: the registry answers, \/v2\/ answers 401/);
        // A host's registry gets new Redis settings only once its coordinator has proven them.
        assert.ok(order("registry-node-2-redis-check") < order("registry-node-2-registry"));
    });
});
