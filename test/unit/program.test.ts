// The real program under Pulumi's mocks: the resource graph, its order, secrets, no
// perpetual diff, previews with unknown values, and config errors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isSecretWrapper, runProgram, unwrapSecrets as unwrap } from "../harness/program";
import { Recorded, Recorder } from "../harness/recorder";
import { DNS_CREDENTIALS_PATH, DNS_CREDENTIALS_PERMISSIONS } from "../../configs/dns";
import { NGINX_HTTPS_PORT } from "../../configs/ports";
import { ACME_ROOT_FILE } from "../../configs/certbot";
import { makeCa } from "../harness/certs";

const DEV = { domain: "registry.test", acmeServer: "pebble", bindAddress: "127.0.0.1", httpPort: 8080, httpsPort: 8443 };
const USERS = { alice: { access: "push", password: "alice-password-123" }, bob: { access: "pull" } };

async function deploy(config: Record<string, unknown> = DEV, secretKeys: string[] = [], preview = false) {
    const mocks = new Recorder(preview);
    const run = await runProgram({ config, secretKeys, mocks, preview });
    return { mocks, run };
}

/** Every string in the inputs that is not inside a secret wrapper. */
function plainStrings(value: unknown, out: string[] = []): string[] {
    if (isSecretWrapper(value)) return out;
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach((v) => plainStrings(v, out));
    else if (typeof value === "object" && value !== null) Object.values(value).forEach((v) => plainStrings(v, out));
    return out;
}

const containers = (m: Recorder) => m.ofType("docker:index/container:Container");
const commands = (m: Recorder) => m.ofType("command:local:Command");

describe("resource graph", () => {
    test("declares the network, volumes, images and the five containers of a dev stack", async () => {
        const { mocks } = await deploy();
        assert.deepEqual(
            containers(mocks)
                .map((c) => c.inputs.name)
                .sort(),
            [
                "registry-test-certbot",
                "registry-test-nginx",
                "registry-test-pebble",
                "registry-test-pebble-resolver",
                "registry-test-registry",
            ],
        );
        assert.deepEqual(
            mocks
                .ofType("docker:index/volume:Volume")
                .map((v) => v.inputs.name)
                .sort(),
            [
                "registry-test-acme-webroot",
                "registry-test-auth",
                "registry-test-certs",
                "registry-test-data",
                "registry-test-nginx-conf",
                "registry-test-pebble-certs",
                "registry-test-registry-control",
                "registry-test-registry-socket",
            ],
        );
        assert.equal(mocks.ofType("docker:index/network:Network")[0].inputs.driver, "bridge");
        assert.deepEqual(
            mocks
                .ofType("docker:index/remoteImage:RemoteImage")
                .map((i) => i.inputs.name)
                .sort(),
            ["certbot/certbot:latest", "ghcr.io/letsencrypt/pebble:latest", "nginx:stable-alpine", "registry:3"],
        );
        for (const c of containers(mocks)) assert.match(c.inputs.image, /^sha256:/, `${c.name} runs the RemoteImage's imageId`);
    });

    test("a production stack has no Pebble and publishes 80/443 on every address", async () => {
        const { mocks } = await deploy({ domain: "registry.example.com", acmeEmail: "ops@example.com" });
        assert.equal(containers(mocks).length, 3);
        const nginx = mocks.byName("registry-nginx");
        assert.deepEqual(nginx.inputs.ports, [
            { internal: 80, external: 80, ip: "0.0.0.0" },
            { internal: 443, external: 443, ip: "0.0.0.0" },
        ]);
        const certonly = mocks.byName("registry-tls-certonly");
        assert.match(certonly.inputs.stdin, /'--server' 'https:\/\/acme-v02\.api\.letsencrypt\.org\/directory'/);
        assert.match(certonly.inputs.stdin, /'--email' 'ops@example\.com'/);
    });

    test("only nginx publishes ports; the registry has no network, and only nginx mounts its sockets", async () => {
        const { mocks } = await deploy();
        for (const c of containers(mocks)) {
            if (c.inputs.name === "registry-test-nginx") assert.equal(c.inputs.ports.length, 2);
            else assert.equal(c.inputs.ports, undefined, `${c.inputs.name} publishes nothing`);
        }
        const registry = mocks.byName("registry-registry");
        assert.equal(registry.inputs.networkMode, "none", "with its data volume, the registry needs no network");
        assert.equal(registry.inputs.networksAdvanced, undefined);
        const socketMounts = containers(mocks).filter((c) =>
            (c.inputs.volumes ?? []).some((v: any) => v.volumeName === "registry-test-registry-socket"),
        );
        assert.deepEqual(socketMounts.map((c) => c.inputs.name).sort(), ["registry-test-nginx", "registry-test-registry"]);
        // With S3 it needs a way out to the bucket; it still listens on no port.
        const s3 = await deploy({ ...DEV, storage: { driver: "s3", bucket: "images", region: "eu-west-1" } });
        assert.deepEqual(s3.mocks.byName("registry-registry").inputs.networksAdvanced, [{ name: "registry-test-net" }]);
    });

    test("containers stop gracefully: in-flight requests get the drain time before Docker kills them", async () => {
        const { mocks } = await deploy();
        for (const name of ["registry-registry", "registry-nginx"]) {
            assert.equal(mocks.byName(name).inputs.destroyGraceSeconds, 75, name);
            assert.equal(mocks.byName(name).inputs.stopTimeout, 75, name);
        }
        assert.equal(mocks.byName("registry-nginx").inputs.stopSignal, "SIGQUIT", "nginx's graceful shutdown");
    });

    test("certificates are read-only in nginx; certbot shares nothing with nginx but the certificates and mounts no Docker socket", async () => {
        const { mocks } = await deploy();
        const nginx = mocks.byName("registry-nginx");
        const certs = nginx.inputs.volumes.find((v: any) => v.containerPath === "/etc/letsencrypt");
        assert.equal(certs.readOnly, true);
        const certbot = mocks.byName("registry-certbot");
        assert.equal(certbot.inputs.pidMode, undefined, "no PID namespace shared: a restart of either container cannot break renewals");
        for (const c of containers(mocks)) {
            for (const v of c.inputs.volumes ?? []) assert.equal(v.hostPath, undefined, `${c.inputs.name} mounts no host path`);
        }
    });

    test("containers are deleted before they are replaced and data volumes are retained", async () => {
        // Resource options, as the SDK registers them with the engine.
        const { mocks } = await deploy();
        const dbr = containers(mocks).map((c) => [c.name, c.options?.deleteBeforeReplace]);
        assert.equal(dbr.length, 5);
        assert.deepEqual(
            dbr.filter(([, deleteFirst]) => deleteFirst !== true),
            [],
            "fixed names and published ports: deleted before they are replaced",
        );
        const retained = (m: Recorder) =>
            Object.fromEntries(m.ofType("docker:index/volume:Volume").map((v) => [v.inputs.name, v.options?.retainOnDelete]));
        assert.deepEqual(retained(mocks), {
            "registry-test-acme-webroot": undefined,
            "registry-test-auth": undefined,
            "registry-test-certs": true,
            "registry-test-data": true,
            "registry-test-nginx-conf": undefined,
            "registry-test-pebble-certs": undefined,
            "registry-test-registry-control": undefined,
            "registry-test-registry-socket": undefined,
        });
        const { mocks: dropped } = await deploy({ ...DEV, retainVolumes: false });
        assert.equal(retained(dropped)["registry-test-data"], false, "retainVolumes false: destroy deletes the data");
        assert.equal(retained(dropped)["registry-test-certs"], false);
    });
});

describe("bootstrap order", () => {
    test("HTTP config, then certonly, then HTTPS config, then htpasswd", async () => {
        const { mocks } = await deploy();
        const at = (name: string) => mocks.byName(name).order;
        assert.ok(at("registry-nginx") < at("registry-tls-http-config"));
        assert.ok(at("registry-certbot") < at("registry-tls-certonly"));
        assert.ok(at("registry-tls-http-config") < at("registry-tls-certonly"), "certonly after the HTTP config");
        assert.ok(at("registry-tls-certonly") < at("registry-tls-https-config"), "HTTPS config after certonly");
        assert.ok(at("registry-tls-https-config") < at("registry-htpasswd-install"), "htpasswd after the HTTPS config");
        assert.ok(at("registry-pebble-container") < at("registry-certbot"), "Pebble before certbot");
        assert.ok(at("registry-registry") < at("registry-nginx"), "registry before nginx");
        assert.ok(at("registry-certbot") < at("registry-storage-check"), "the storage check runs in the certbot container");
        assert.ok(at("registry-storage-check") < at("registry-htpasswd-install"), "passwords only once the registry can store");
    });

    test("the storage check runs again whenever the registry container is (re)created", async () => {
        const { mocks } = await deploy();
        const check = mocks.byName("registry-storage-check");
        assert.deepEqual(check.inputs.triggers, ["registry-registry-id"]);
        assert.equal(
            check.inputs.create,
            "docker exec -i registry-test-nginx sh -s",
            "in nginx's container, the only one that reaches the registry",
        );
        assert.match(check.inputs.stdin, /--unix-socket "\$sock" 'http:\/\/registry\/v2\/_catalog\?n=1'/);
    });

    test("every command runs inside a container on the configured Docker host, script on stdin", async () => {
        const { mocks } = await deploy({ ...DEV, dockerHost: "ssh://deploy@build-host" });
        assert.ok(commands(mocks).length >= 5);
        for (const c of commands(mocks)) {
            assert.match(c.inputs.create, /^docker exec (-e PULUMI_COMMAND_STDOUT )?-i registry-test-(nginx|certbot|registry) sh -s$/);
            assert.equal(c.inputs.environment.DOCKER_HOST, "ssh://deploy@build-host");
        }
        assert.equal(mocks.ofType("pulumi:providers:docker")[0].inputs.host, "ssh://deploy@build-host");
    });

    test("certonly is replaced when the domain, CA, key type or e-mail change, and in every new certbot container", async () => {
        // A command's triggers replace it when any of them changes.
        const base = { domain: "registry.example.com" };
        const deployed = async (change: Record<string, unknown>) => {
            const { mocks } = await deploy({ ...base, ...change });
            return {
                triggers: mocks.byName("registry-tls-certonly").inputs.triggers as unknown[],
                certbot: mocks.byName("registry-certbot"),
            };
        };
        const before = await deployed({});
        assert.deepEqual(before.triggers, [
            "registry.example.com",
            "https://acme-v02.api.letsencrypt.org/directory",
            "ecdsa",
            "",
            before.certbot.id,
        ]);
        const changes: [Record<string, unknown>, string][] = [
            [{ domain: "other.example.com" }, "other.example.com"],
            [{ acmeServer: "staging" }, "https://acme-staging-v02.api.letsencrypt.org/directory"],
            [{ acmeKeyType: "rsa" }, "rsa"],
            [{ acmeEmail: "ops@example.com" }, "ops@example.com"],
        ];
        for (const [change, value] of changes) {
            const after = (await deployed(change)).triggers;
            assert.ok(after.includes(value) && !before.triggers.includes(value), `${JSON.stringify(change)}: ${JSON.stringify(after)}`);
            assert.equal(after.length, before.triggers.length, JSON.stringify(change));
        }
        // What the certificate does not depend on leaves them as they are.
        assert.deepEqual(
            (await deployed({ users: { ci: { access: "pull" } }, gcIntervalHours: 24, bcryptCost: 12 })).triggers,
            before.triggers,
        );
    });

    test("what lives in volumes is installed again in every new container: the nginx steps follow nginx's id, the HTTPS server certonly's too", async () => {
        const { mocks } = await deploy();
        for (const step of ["registry-tls-http-config", "registry-htpasswd-install"]) {
            assert.deepEqual(mocks.byName(step).inputs.triggers, ["registry-nginx-id"], step);
        }
        assert.deepEqual(mocks.byName("registry-tls-https-config").inputs.triggers, ["registry-nginx-id", "registry-tls-certonly-id"]);
        // Without the certificate (a lost volume) the HTTP step takes the HTTPS server out, so it validates.
        const http = mocks.byName("registry-tls-http-config").inputs.stdin as string;
        assert.match(
            http,
            /if \[ ! -e \/etc\/letsencrypt\/live\/registry\/fullchain\.pem \]; then\n {2}dropped="servers\/10-https\.conf redirect\/https\.conf"/,
        );
        assert.doesNotMatch(mocks.byName("registry-tls-https-config").inputs.stdin as string, /dropped=/);
    });

    test("a new registry container updates the data volume check (not a replacement), which then sees its last output", async () => {
        const { mocks } = await deploy();
        const check = mocks.byName("registry-data-volume");
        assert.equal(check.inputs.triggers, undefined);
        assert.match(check.inputs.stdin, /^# registry container registry-registry-id\n/);
        assert.match(check.inputs.stdin, /PULUMI_COMMAND_STDOUT/);
        assert.equal(check.inputs.create, "docker exec -e PULUMI_COMMAND_STDOUT -i registry-test-registry sh -s");
    });

    test("one health check per host, after the users and the storage check, on the host's Docker daemon", async () => {
        const { mocks } = await deploy({ ...DEV, dockerHost: "ssh://deploy@build-host" });
        assert.equal(mocks.calls.length, 1);
        const [call] = mocks.calls;
        assert.equal(call.inputs.environment.DOCKER_HOST, "ssh://deploy@build-host");
        assert.match(
            call.inputs.stdin,
            /^for c in registry-test-registry registry-test-nginx registry-test-certbot registry-test-pebble registry-test-pebble-resolver; do$/m,
        );
        assert.match(call.inputs.stdin, /^docker exec -i registry-test-nginx sh -s <<'REGISTRY_HEALTH_EOF'/m);
    });
});

describe("secrets", () => {
    test("passwords, the HTTP secret and the salt key never appear in plain text in any input", async () => {
        const { mocks, run } = await deploy({ ...DEV, users: USERS }, ["users"]);
        const passwords = run.outputs.passwords.value as Record<string, string>;
        assert.equal(passwords.alice, "alice-password-123");
        const generated = mocks.byName("registry-users-bob-password");
        assert.equal(generated.inputs.length, 32);
        assert.equal(passwords.bob, generated.state.result, "bob's password is the generated one");
        const secrets = [
            passwords.alice,
            passwords.bob,
            mocks.byName("registry-http-secret").state.result,
            mocks.byName("registry-htpasswd-salt-key").state.result,
        ];
        assert.ok(secrets.every((x) => typeof x === "string" && x.length >= 12));
        for (const r of mocks.resources) {
            if (r.type === "random:index/randomPassword:RandomPassword" || r.type === "random:index/randomBytes:RandomBytes") continue;
            for (const s of plainStrings(r.inputs)) {
                for (const secret of secrets) assert.ok(!s.includes(secret), `${r.name} carries a password in plain text`);
            }
        }
        const htpasswd = mocks.byName("registry-htpasswd-install");
        assert.ok(isSecretWrapper(htpasswd.inputs.stdin), "htpasswd script is a secret");
        const registry = mocks.byName("registry-registry");
        assert.ok(isSecretWrapper(registry.inputs.uploads), "registry config (http.secret) is a secret");
    });

    test("credential outputs are secrets; URL and host are not", async () => {
        const { run } = await deploy({ ...DEV, users: USERS }, ["users"]);
        assert.equal(run.outputs.passwords.secret, true);
        assert.equal(run.outputs.dockerConfigJson.secret, true);
        assert.equal(run.outputs.url.secret, false);
        assert.equal(run.outputs.url.value, "https://registry.test:8443");
        assert.equal(run.outputs.host.value, "registry.test:8443");
        assert.deepEqual(run.outputs.userNames.value, ["alice", "bob"]);
        const auth = JSON.parse(run.outputs.dockerConfigJson.value as string).auths["registry.test:8443"].auth;
        assert.equal(Buffer.from(auth, "base64").toString(), "alice:alice-password-123");
        assert.deepEqual(run.outputs.volumes.value, { data: "registry-test-data", certificates: "registry-test-certs" });
    });

    test("Pebble's root and the certificate's expiry are read from the certbot container after each issuance", async () => {
        const { mocks, run } = await deploy();
        const caRoot = mocks.byName("registry-tls-ca-root");
        const expiry = mocks.byName("registry-tls-expiry");
        for (const step of [caRoot, expiry]) {
            assert.match(step.inputs.create, /^docker exec (-e PULUMI_COMMAND_STDOUT )?-i registry-test-certbot sh -s$/, step.name);
            assert.deepEqual(
                step.inputs.triggers,
                ["registry-tls-certonly-id", mocks.byName("registry-tls-certonly").state.stdout],
                step.name,
            );
        }
        assert.match(caRoot.inputs.stdin, new RegExp(`^cat ${ACME_ROOT_FILE.replace(/[.]/g, "\\.")}$`, "m"));
        // The outputs are what those steps printed (each mocked step prints its own text).
        assert.equal(run.outputs.caRoot.value, `${caRoot.state.stdout.trim()}\n`);
        assert.equal(run.outputs.certificateExpiry.value, expiry.state.stdout.trim());
    });

    test("a custom ACME URL: no Pebble root to read; with a private CA its PEM is trusted by certbot and exported", async () => {
        const plain = await deploy({ domain: "registry.example.com", acmeServer: "https://acme.zerossl.com/v2/DV90" });
        assert.equal(plain.run.outputs.caRoot.value, undefined);
        assert.ok(!plain.mocks.resources.some((r) => r.name === "registry-tls-ca-root"), "no step reads a file only Pebble's path writes");
        const pem = makeCa("ACME CA").pem;
        const custom = await deploy({
            domain: "registry.example.com",
            acmeServer: "https://acme.internal.example/directory",
            acmeCaCertificate: pem,
        });
        assert.equal(custom.run.outputs.caRoot.value, pem);
        const certbot = custom.mocks.byName("registry-certbot");
        assert.deepEqual(certbot.inputs.uploads, [{ file: "/etc/registry-acme/ca.pem", content: pem }]);
        assert.ok(certbot.inputs.envs.includes("REQUESTS_CA_BUNDLE=/etc/registry-acme/bundle.pem"));
        assert.match(
            custom.mocks.byName("registry-tls-certonly").inputs.stdin,
            /certifi\.where\(\).*\/etc\/registry-acme\/ca\.pem > \/etc\/registry-acme\/bundle\.pem/,
        );
    });

    test("a production stack exports no CA root", async () => {
        const { run } = await deploy({ domain: "registry.example.com" });
        assert.equal(run.outputs.caRoot.value, undefined);
    });
});

describe("S3 storage", () => {
    const S3 = {
        driver: "s3",
        bucket: "team-images",
        endpoint: "http://10.0.0.5:9000",
        rootDirectory: "registry",
        accessKey: "AKIAEXAMPLEKEY01",
        secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCY",
    };

    test("keys reach the registry only as a 0400 secret file; config.yml, env and command name no key", async () => {
        const { mocks } = await deploy({ ...DEV, storage: S3 }, ["storage"]);
        const registry = mocks.byName("registry-registry");
        for (const r of mocks.resources) {
            for (const text of plainStrings(r.inputs)) {
                for (const key of [S3.accessKey, S3.secretKey]) assert.ok(!text.includes(key), `${r.name} carries an S3 key in plain text`);
            }
        }
        const uploads = unwrap(registry.inputs.uploads) as { file: string; content: string; permissions?: string }[];
        const keys = uploads.find((u) => u.file === "/etc/distribution/s3-keys")!;
        assert.equal(keys.permissions, "0400");
        assert.equal(keys.content, `'${S3.accessKey}'\n'${S3.secretKey}'\n`);
        assert.match(registry.inputs.command[0], /< \/etc\/distribution\/s3-keys/, "the supervisor reads the keys file");
        const config = uploads.find((u) => u.file === "/etc/distribution/config.yml")!.content;
        assert.match(
            config,
            /s3:\n\s+bucket: team-images\n\s+region: us-east-1\n\s+regionendpoint: http:\/\/10\.0\.0\.5:9000\n\s+forcepathstyle: true\n\s+secure: false/,
        );
        assert.match(config, /redirect:\n\s+# .*\n\s+disable: true/);
        assert.ok(!config.includes(S3.accessKey) && !config.includes(S3.secretKey), "config.yml names no key");
        assert.equal(registry.inputs.envs, undefined);
        assert.deepEqual(
            registry.inputs.volumes.map((v: any) => v.volumeName),
            ["registry-test-data", "registry-test-registry-control", "registry-test-registry-socket"],
            "the data volume stays (unused), so switching drivers never deletes it and the image's VOLUME makes no anonymous one",
        );
    });

    test("a private CA for the endpoint is uploaded and trusted by the registry processes only", async () => {
        // The program parses the PEM: hand it a real one.
        const real = makeCa("unit CA").pem;
        const { mocks } = await deploy({ ...DEV, storage: { ...S3, endpoint: "https://s3.internal:9000", caCertificate: real } }, [
            "storage",
        ]);
        const registry = mocks.byName("registry-registry");
        const uploads = unwrap(registry.inputs.uploads) as { file: string; content: string }[];
        assert.equal(uploads.find((u) => u.file === "/etc/distribution/s3-ca.crt")?.content, real);
        assert.match(registry.inputs.command[0], /export SSL_CERT_DIR=\/run\/s3-ca:\/etc\/ssl\/certs/);
        assert.equal(registry.inputs.envs, undefined, "not in the container's environment");
    });

    test("without keys (an instance role), no keys file and nothing read", async () => {
        const { mocks } = await deploy({ ...DEV, storage: { driver: "s3", bucket: "team-images", region: "eu-west-1" } });
        const registry = mocks.byName("registry-registry");
        const uploads = unwrap(registry.inputs.uploads) as { file: string }[];
        assert.deepEqual(
            uploads.map((u) => u.file),
            ["/etc/distribution/config.yml", "/etc/distribution/config-readonly.yml"],
        );
        assert.doesNotMatch(registry.inputs.command[0], /s3-keys/);
    });

    test("the S3 helper: in the certbot image with the registry's keys (0400, secret) and control volume, on the stack network, for retention rules or metrics; none without either, or for metrics without static keys", async () => {
        const rules = [{ repositories: "**", keepLast: 5 }];
        const { mocks } = await deploy({ ...DEV, storage: S3, retention: rules }, ["storage"]);
        const helper = mocks.byName("registry-s3-helper");
        assert.equal(helper.inputs.name, "registry-test-s3-helper");
        assert.equal(helper.inputs.image, mocks.byName("registry-certbot").inputs.image);
        assert.deepEqual(helper.inputs.entrypoints, ["python3", "-u", "/usr/local/lib/registry-s3/s3-helper.py"]);
        const uploads = unwrap(helper.inputs.uploads) as { file: string; content: string; permissions?: string }[];
        const keys = uploads.find((u) => u.file === "/etc/distribution/s3-keys")!;
        assert.equal(keys.permissions, "0400");
        assert.equal(keys.content, `'${S3.accessKey}'\n'${S3.secretKey}'\n`);
        for (const text of plainStrings(helper.inputs))
            for (const key of [S3.accessKey, S3.secretKey]) assert.ok(!text.includes(key), "the helper carries an S3 key in plain text");
        assert.deepEqual(
            helper.inputs.volumes.map((v: any) => [v.volumeName, v.containerPath]),
            [["registry-test-registry-control", "/var/lib/registry-control"]],
        );
        assert.equal(helper.inputs.networksAdvanced.length, 1);
        assert.match(mocks.byName("registry-registry").inputs.command[0], /s3_helper list/, "the supervisor asks the helper");
        assert.doesNotMatch(
            mocks.byName("registry-registry").inputs.command[0],
            /s3_helper blobs/,
            "no listing of the blobs without metrics",
        );
        for (const config of [
            { ...DEV, storage: S3 },
            { ...DEV, retention: rules },
            { ...DEV, storage: { driver: "s3", bucket: "images", region: "eu-central-1" }, metrics: { enabled: true } },
        ]) {
            const other = (await deploy(config, ["storage"])).mocks;
            assert.ok(!containers(other).some((c) => c.name === "registry-s3-helper"), JSON.stringify(Object.keys(config)));
            assert.doesNotMatch(other.byName("registry-registry").inputs.command[0], /s3_helper/);
        }
        const withMetrics = (await deploy({ ...DEV, storage: S3, metrics: { enabled: true } }, ["storage"])).mocks;
        const listing = (unwrap(withMetrics.byName("registry-s3-helper").inputs.uploads) as { content: string }[])[0].content;
        assert.match(listing, /^LISTING = True$/m);
        assert.match(withMetrics.byName("registry-registry").inputs.command[0], /s3_helper blobs/, "the GC window lists the blobs' sizes");
    });

    test("switching from filesystem to S3 replaces only the registry (and its storage check), drops the data volume check; volumes stay", async () => {
        const inputs = (m: Recorder) => Object.fromEntries(m.resources.map((r) => [r.name, JSON.stringify(r.inputs)]));
        const a = inputs((await deploy(DEV)).mocks);
        const b = inputs((await deploy({ ...DEV, storage: S3 }, ["storage"])).mocks);
        assert.deepEqual(
            Object.keys(a).filter((k) => a[k] !== b[k]),
            ["registry-registry", "registry-data-volume", "registry-storage-check"],
        );
        assert.ok(!Object.keys(b).includes("registry-data-volume"), "no data volume check with S3: the data is in the bucket");
    });
});

describe("DNS-01", () => {
    const TSIG = "dW5pdC10ZXN0LXRzaWctc2VjcmV0LTAxMjM0NTY3ODk=";
    const DNS = {
        domain: "registry.internal.example.com",
        acmeChallenge: "dns",
        dnsPlugin: "rfc2136",
        dnsCredentials: { server: "10.0.0.53", name: "registry-key", secret: TSIG },
        domains: ["*.internal.example.com"],
        httpPort: 0,
    };

    test("the plugin's image; its credentials only in a 0400 secret file; port 80 unpublished; certonly follows the request and a new certbot container", async () => {
        const { mocks } = await deploy(DNS, ["dnsCredentials"]);
        for (const r of mocks.resources) {
            for (const text of plainStrings(r.inputs)) assert.ok(!text.includes(TSIG), `${r.name} carries the TSIG secret in plain text`);
        }
        const certbot = mocks.byName("registry-certbot");
        assert.ok(isSecretWrapper(certbot.inputs.uploads), "the uploads hold a secret");
        const upload = (unwrap(certbot.inputs.uploads) as { file: string; permissions?: string; content: unknown }[]).find(
            (u) => u.file === DNS_CREDENTIALS_PATH,
        )!;
        assert.equal(upload.permissions, DNS_CREDENTIALS_PERMISSIONS);
        assert.match(upload.content as string, new RegExp(`^dns_rfc2136_secret = ${TSIG}$`, "m"));
        assert.ok(!(certbot.inputs.envs as string[]).some((e) => e.includes(TSIG)));
        assert.deepEqual(
            mocks.ofType("docker:index/remoteImage:RemoteImage").map((i) => i.inputs.name),
            ["registry:3", "nginx:stable-alpine", "certbot/dns-rfc2136:latest"],
        );
        assert.deepEqual(
            mocks.byName("registry-nginx").inputs.ports.map((p: { internal: number }) => p.internal),
            [NGINX_HTTPS_PORT],
            "only HTTPS is published",
        );
        assert.deepEqual(mocks.byName("registry-tls-certonly").inputs.triggers, [
            DNS.domain,
            "https://acme-v02.api.letsencrypt.org/directory",
            "ecdsa",
            "",
            "*.internal.example.com",
            "dns-rfc2136",
            "registry-certbot-id",
        ]);
    });

    test("an HTTP-01 stack's certbot is declared as before DNS-01 existed; its certonly follows the certbot container as DNS-01's does", async () => {
        const { mocks } = await deploy();
        assert.equal(mocks.byName("registry-certbot").inputs.uploads, undefined);
        assert.deepEqual(mocks.byName("registry-tls-certonly").inputs.triggers.slice(4), ["registry-certbot-id"]);
        assert.equal(mocks.byName("registry-pebble-container").inputs.envs.includes("PEBBLE_AUTHZREUSE=0"), false);
    });
});

describe("no perpetual diff", () => {
    test("two runs with the same config declare identical inputs", async () => {
        const strip = (rs: Recorded[]) => Object.fromEntries(rs.map((r) => [r.name, JSON.stringify(r.inputs)]));
        const storage = {
            driver: "s3",
            bucket: "images",
            endpoint: "https://s3.example.com",
            accessKey: "AKIAEXAMPLEKEY01",
            secretKey: "secret-key-0123",
        };
        const a = await deploy({ ...DEV, users: USERS, storage }, ["users", "storage"]);
        const b = await deploy({ ...DEV, users: USERS, storage }, ["users", "storage"]);
        assert.deepEqual(strip(b.mocks.resources), strip(a.mocks.resources));
    });

    test("a password change rewrites only the htpasswd command", async () => {
        const inputs = (m: Recorder) => Object.fromEntries(m.resources.map((r) => [r.name, JSON.stringify(r.inputs)]));
        const a = inputs((await deploy({ ...DEV, users: USERS }, ["users"])).mocks);
        const changed = { ...USERS, alice: { access: "push", password: "another-password-456" } };
        const b = inputs((await deploy({ ...DEV, users: changed }, ["users"])).mocks);
        const differing = Object.keys(a).filter((k) => a[k] !== b[k]);
        assert.deepEqual(differing, ["registry-htpasswd-install"]);
    });

    test("a new domain, key type or GC schedule changes neither nginx, the registry nor Pebble: only what applies it", async () => {
        const inputs = (m: Recorder) => Object.fromEntries(m.resources.map((r) => [r.name, JSON.stringify(r.inputs)]));
        const before = inputs((await deploy(DEV)).mocks);
        const differing = async (change: Record<string, unknown>) => {
            const after = inputs((await deploy({ ...DEV, ...change })).mocks);
            return Object.keys(before).filter((k) => before[k] !== after[k]);
        };
        // Reads pass through nginx and the registry; a new Pebble would have a new root. The
        // domain reaches nginx through its config files only, and Pebble finds nginx by its name.
        const untouched = ["registry-nginx", "registry-registry", "registry-pebble-container", "registry-pebble-resolver"];
        for (const change of [{ domain: "other.test" }, { acmeKeyType: "rsa" }]) {
            const changed = await differing(change);
            assert.ok(changed.includes("registry-tls-certonly"), JSON.stringify(change));
            assert.deepEqual(
                changed.filter((name) => untouched.includes(name)),
                [],
                JSON.stringify(change),
            );
        }
        assert.deepEqual(await differing({ gcIntervalHours: "24", gcDeleteUntagged: "true" }), ["registry-gc-schedule-install"]);
        const { mocks } = await deploy(DEV);
        assert.deepEqual(
            mocks.byName("registry-nginx").inputs.networksAdvanced,
            [{ name: "registry-test-net" }],
            "no alias names the domain",
        );
        assert.deepEqual(mocks.byName("registry-pebble-container").inputs.command.slice(-2), ["-dnsserver", "pebble-resolver:53"]);
    });
});

describe("preview", () => {
    test("a first preview with every computed value unknown does not throw", async () => {
        const { mocks, run } = await deploy(DEV, [], true);
        assert.ok(mocks.resources.length > 20);
        assert.equal(run.outputs.url.value, "https://registry.test:8443");
        assert.equal(run.outputs.certificateExpiry.known, false);
    });
});

describe("config errors fail before any resource is declared", () => {
    test("a bad port names the key and the value", async () => {
        const mocks = new Recorder();
        await assert.rejects(
            runProgram({ config: { ...DEV, httpsPort: "99999" }, mocks }),
            /private-registry:httpsPort: expected an integer from 1 to 65535, got "99999"/,
        );
        assert.equal(mocks.resources.length, 0);
    });

    test("a secret's value is never echoed", async () => {
        const mocks = new Recorder();
        const users = { alice: { password: "short" } };
        await assert.rejects(runProgram({ config: { ...DEV, users }, secretKeys: ["users"], mocks }), (err: Error) => {
            assert.match(err.message, /users\.alice\.password: expected at least 12 characters, got 5/);
            assert.ok(!err.message.includes("short"));
            return true;
        });
        assert.equal(mocks.resources.length, 0);
    });
});
