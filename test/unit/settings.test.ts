// parseSettings: defaults, and an error naming the key for every bad value.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { SecretPaths, secretPathsFromStackFile } from "../../settings/secretPaths";
import { Secret, SecretValue } from "../../settings/types";
import { CONFIG_KEYS, DEFAULTS, PROJECT, RawConfig } from "../../settings/defaults";
import { ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { makeCa } from "../harness/certs";
import { between } from "../harness/text";

/** `secret`: config paths stored encrypted, whole keys ("users") or leaves ("users.ci.password"). */
const ok = (raw: RawConfig, secret: string[] = []) => parseSettings(raw, "dev", stackNaming(new SecretPaths(secret)));
/** The plain value of a secret known at config time. */
const reveal = (v: SecretValue | undefined) => {
    assert.ok(v instanceof Secret, "a secret known at config time");
    return v.reveal();
};
const ROOT = path.resolve(__dirname, "..", "..");

function problemsOf(raw: RawConfig, secret: string[] = []): string[] {
    try {
        ok(raw, secret);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return e.problems;
    }
    assert.fail("expected the config to be rejected");
}

describe("parseSettings", () => {
    test("defaults for a production stack", () => {
        const s = ok({ domain: "Registry.Example.com." });
        assert.equal(s.domain, "registry.example.com");
        assert.equal(s.namePrefix, "registry-dev");
        assert.equal(s.dockerHost, "unix:///var/run/docker.sock");
        assert.deepEqual(s.acme, {
            kind: "production",
            server: "https://acme-v02.api.letsencrypt.org/directory",
            email: undefined,
            keyType: "ecdsa",
            caCertificate: undefined,
            privateRoot: false,
            challenge: { kind: "http" },
            pebbleDnsServer: undefined,
        });
        assert.deepEqual(s.domains, []);
        assert.deepEqual(s.publish, { bindAddress: "0.0.0.0", httpPort: 80, httpsPort: 443 });
        assert.deepEqual(s.images, {
            registry: "registry:3",
            nginx: "nginx:stable-alpine",
            certbot: "certbot/certbot:latest",
            pebble: "ghcr.io/letsencrypt/pebble:latest",
            redis: "redis:7-alpine",
        });
        assert.deepEqual(s.users, [{ name: "admin", access: "push", repositories: {}, password: undefined }]);
        assert.equal(s.bcryptCost, 10);
        assert.equal(s.retainVolumes, true);
    });

    test("staging, pebble and URL ACME servers", () => {
        assert.equal(
            ok({ domain: "a.example.com", acmeServer: "staging" }).acme.server,
            "https://acme-staging-v02.api.letsencrypt.org/directory",
        );
        const pebble = ok({ domain: "registry.test", acmeServer: "pebble" }).acme;
        assert.equal(pebble.server, "https://pebble:14000/dir");
        assert.equal(pebble.privateRoot, true);
        const custom = ok({ domain: "a.example.com", acmeServer: "https://acme.internal.example/directory" }).acme;
        assert.equal(custom.kind, "custom");
    });

    test("users: access levels, secret passwords wrapped so they never print", () => {
        const s = ok(
            { domain: "a.example.com", users: JSON.stringify({ ci: { access: "pull", password: "p4ssword-long-enough" }, dev: {} }) },
            ["users"],
        );
        assert.equal(s.users[0].access, "pull");
        assert.equal(reveal(s.users[0].password), "p4ssword-long-enough");
        assert.equal(`${s.users[0].password}`, "[secret]");
        assert.ok(!JSON.stringify(s).includes("p4ssword"));
        assert.equal(s.users[1].access, "push");
    });

    const cases: [string, RawConfig, RegExp][] = [
        ["missing domain", {}, /private-registry:domain: required/],
        ["IP as domain", { domain: "10.0.0.1" }, /private-registry:domain: expected a fully qualified host name .* got "10\.0\.0\.1"/],
        ["single-label domain", { domain: "registry" }, /private-registry:domain: expected a fully qualified host name/],
        [
            "bad ACME server",
            { domain: "a.example.com", acmeServer: "http://insecure.example/dir" },
            /private-registry:acmeServer: expected production, staging, pebble or an https:\/\/ ACME directory URL, got "http:\/\/insecure\.example\/dir"/,
        ],
        ["bad e-mail", { domain: "a.example.com", acmeEmail: "not-an-email" }, /private-registry:acmeEmail: expected an e-mail address/],
        ["bad key type", { domain: "a.example.com", acmeKeyType: "dsa" }, /private-registry:acmeKeyType: expected ecdsa or rsa, got "dsa"/],
        [
            "port out of range",
            { domain: "a.example.com", httpPort: "70000" },
            /private-registry:httpPort: expected an integer from 0 to 65535, got "70000"/,
        ],
        [
            "port 80 unpublished with HTTP-01",
            { domain: "a.example.com", httpPort: "0" },
            /private-registry:httpPort: expected a port from 1 to 65535 with acmeChallenge http .* 0 leaves it unpublished, with acmeChallenge dns only/,
        ],
        [
            "port not a number",
            { domain: "a.example.com", httpsPort: "https" },
            /private-registry:httpsPort: expected an integer from 1 to 65535, got "https"/,
        ],
        [
            "same ports",
            { domain: "a.example.com", httpPort: "8443", httpsPort: "8443" },
            /private-registry:httpsPort: expected a port different from httpPort \(8443\)/,
        ],
        ["bind address", { domain: "a.example.com", bindAddress: "localhost" }, /private-registry:bindAddress: expected an IP address/],
        [
            "docker host",
            { domain: "a.example.com", dockerHost: "http://docker:2375" },
            /private-registry:dockerHost: expected unix:\/\/\/path\/to\/docker\.sock or ssh:\/\/user@host\[:port\], got "http:\/\/docker:2375"/,
        ],
        [
            "tcp:// Docker host (no TLS, no auth)",
            { domain: "a.example.com", dockerHost: "tcp://10.0.0.5:2375" },
            /private-registry:dockerHost: expected .*tcp:\/\/ is refused: it sends the Docker API \(and this stack's secrets\) unauthenticated and in clear/,
        ],
        [
            "ssh port out of range",
            { domain: "a.example.com", dockerHost: "ssh://u@h:99999" },
            /private-registry:dockerHost: expected .* with a port from 1 to 65535, got "ssh:\/\/u@h:99999"/,
        ],
        [
            "e-mail read as an option by certbot",
            { domain: "a.example.com", acmeEmail: "-x@example.com" },
            /private-registry:acmeEmail: expected an e-mail address .* got "-x@example\.com"/,
        ],
        [
            "bind address with letters",
            { domain: "a.example.com", bindAddress: "abc:def" },
            /private-registry:bindAddress: expected an IP address/,
        ],
        ["bind address :::", { domain: "a.example.com", bindAddress: ":::" }, /private-registry:bindAddress: expected an IP address/],
        ["bind address 1:2", { domain: "a.example.com", bindAddress: "1:2" }, /private-registry:bindAddress: expected an IP address/],
        [
            "image",
            { domain: "a.example.com", nginxImage: "Nginx:Latest!" },
            /private-registry:nginxImage: expected a Docker image reference/,
        ],
        ["name prefix", { domain: "a.example.com", namePrefix: "-bad name" }, /private-registry:namePrefix: expected 1-41 characters/],
        [
            "bcrypt cost",
            { domain: "a.example.com", bcryptCost: "3" },
            /private-registry:bcryptCost: expected an integer from 10 to 12, got "3"/,
        ],
        ["boolean", { domain: "a.example.com", retainVolumes: "yes" }, /private-registry:retainVolumes: expected true or false, got "yes"/],
        ["users not a map", { domain: "a.example.com", users: "[1,2]" }, /private-registry:users: expected a map of user name/],
        ["empty users", { domain: "a.example.com", users: "{}" }, /private-registry:users: expected at least one user/],
        [
            "bad user name",
            { domain: "a.example.com", users: JSON.stringify({ "bad:name": {} }) },
            /private-registry:users: user name "bad:name" must be/,
        ],
        [
            "bad access",
            { domain: "a.example.com", users: JSON.stringify({ ci: { access: "admin" } }) },
            /private-registry:users\.ci\.access: expected push, pull or none, got "admin"/,
        ],
        [
            "Pebble lifetime without Pebble",
            { domain: "a.example.com", pebbleCertificateDays: "10" },
            /private-registry:pebbleCertificateDays: expected 0 \(the default\) unless acmeServer is pebble/,
        ],
        [
            "labels not a map",
            { domain: "a.example.com", labels: "[1]" },
            /private-registry:labels: expected a map of Docker label to value/,
        ],
        [
            "reserved label",
            { domain: "a.example.com", labels: JSON.stringify({ "com.docker.compose.project": "x" }) },
            /private-registry:labels: label "com\.docker\.compose\.project" must be/,
        ],
        [
            "label value",
            { domain: "a.example.com", labels: JSON.stringify({ team: 7 }) },
            /private-registry:labels\.team: expected a text value/,
        ],
        [
            "warning days",
            { domain: "a.example.com", certificateWarningDays: "0" },
            /private-registry:certificateWarningDays: expected an integer from 1 to 60, got "0"/,
        ],
        [
            "GC interval",
            { domain: "a.example.com", gcIntervalHours: "-1" },
            /private-registry:gcIntervalHours: expected an integer from 0 to 8760, got "-1"/,
        ],
        [
            "unknown field",
            { domain: "a.example.com", users: JSON.stringify({ ci: { acess: "pull" } }) },
            /private-registry:users\.ci: unknown field "acess"/,
        ],
        [
            "storage driver",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "gcs" }) },
            /private-registry:storage\.driver: expected filesystem or s3, got "gcs"/,
        ],
        [
            "S3 without bucket",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "s3", region: "eu-central-1" }) },
            /private-registry:storage\.bucket: required with driver s3/,
        ],
        [
            "bad bucket",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "s3", bucket: "My_Bucket", region: "eu-central-1" }) },
            /private-registry:storage\.bucket: expected an S3 bucket name .* got "My_Bucket"/,
        ],
        [
            "S3 on AWS without region",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "s3", bucket: "images" }) },
            /private-registry:storage\.region: required with driver s3 on AWS/,
        ],
        [
            "bad endpoint",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "s3", bucket: "images", endpoint: "minio:9000" }) },
            /private-registry:storage\.endpoint: expected the URL of an S3-compatible server/,
        ],
        [
            "endpoint with a path",
            {
                domain: "a.example.com",
                storage: JSON.stringify({ driver: "s3", bucket: "images", endpoint: "https://s3.example.com/images" }),
            },
            /private-registry:storage\.endpoint: expected .*no path/,
        ],
        [
            "root directory",
            {
                domain: "a.example.com",
                storage: JSON.stringify({ driver: "s3", bucket: "images", region: "us-east-1", rootDirectory: "a/../b" }),
            },
            /private-registry:storage\.rootDirectory: expected a key prefix/,
        ],
        [
            "S3 field with filesystem",
            { domain: "a.example.com", storage: JSON.stringify({ bucket: "images" }) },
            /private-registry:storage\.bucket: only used with driver s3/,
        ],
        [
            "unknown storage field",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "s3", bucket: "images", region: "us-east-1", pathStyle: true }) },
            /private-registry:storage: unknown field "pathStyle"/,
        ],
        [
            "storage boolean",
            { domain: "a.example.com", storage: JSON.stringify({ driver: "s3", bucket: "images", region: "us-east-1", redirect: "yes" }) },
            /private-registry:storage\.redirect: expected true or false, got "yes"/,
        ],
    ];
    for (const [name, raw, message] of cases) {
        test(`rejects ${name}`, () => {
            const problems = problemsOf(raw);
            assert.ok(
                problems.some((p) => message.test(p)),
                `no problem matched ${message}; got:\n${problems.join("\n")}`,
            );
        });
    }

    test("a plain-text password is refused and not echoed", () => {
        const problems = problemsOf({ domain: "a.example.com", users: JSON.stringify({ ci: { password: "visible-password-1" } }) });
        assert.match(problems.join("\n"), /users\.ci\.password: must be stored as a secret/);
        assert.ok(!problems.join("\n").includes("visible-password-1"));
    });

    test("passwords longer than bcrypt's 72 bytes are refused (bcrypt would cut them silently)", () => {
        const problems = problemsOf({ domain: "a.example.com", users: JSON.stringify({ ci: { password: "x".repeat(73) } }) }, ["users"]);
        assert.match(problems.join("\n"), /users\.ci\.password: expected at most 72 bytes/);
        assert.ok(!problems.join("\n").includes("x".repeat(73)));
    });

    test("S3 storage: AWS defaults, and an S3-compatible endpoint with path-style addressing", () => {
        const aws = ok({
            domain: "a.example.com",
            storage: JSON.stringify({ driver: "s3", bucket: "team-images", region: "eu-central-1", rootDirectory: "/registry/" }),
        });
        assert.deepEqual(aws.storage, {
            driver: "s3",
            bucket: "team-images",
            region: "eu-central-1",
            endpoint: undefined,
            forcePathStyle: false,
            secure: true,
            rootDirectory: "registry",
            credentials: undefined,
            redirect: false,
            caCertificate: undefined,
        });
        const keys = JSON.stringify({
            driver: "s3",
            bucket: "images",
            endpoint: "http://10.0.0.5:9000/",
            accessKey: "AKIAEXAMPLE",
            secretKey: "s3cret/Key+with=chars",
        });
        const local = ok({ domain: "a.example.com", storage: keys }, ["storage"]);
        assert.equal(local.storage.driver, "s3");
        if (local.storage.driver !== "s3") return;
        assert.equal(local.storage.endpoint, "http://10.0.0.5:9000");
        assert.equal(local.storage.secure, false);
        assert.equal(local.storage.forcePathStyle, true);
        assert.equal(local.storage.region, "us-east-1");
        assert.equal(reveal(local.storage.credentials?.secretKey), "s3cret/Key+with=chars");
        assert.ok(!JSON.stringify(local).includes("s3cret") && !JSON.stringify(local).includes("AKIAEXAMPLE"), "keys never print");
        assert.deepEqual(ok({ domain: "a.example.com" }).storage, { driver: "filesystem" });
    });

    test("S3 caCertificate: PEM certificates for an https endpoint", () => {
        const ca = makeCa("unit CA");
        const pem = ca.pem;
        fs.rmSync(ca.dir, { recursive: true, force: true });
        const storage = (endpoint: string, caCertificate: string) =>
            JSON.stringify({ driver: "s3", bucket: "images", endpoint, caCertificate });
        const s = ok({ domain: "a.example.com", storage: storage("https://s3.internal:9000", `\n${pem}\n`) });
        assert.equal(s.storage.driver === "s3" && s.storage.caCertificate, pem, "the PEM block, trimmed");
        assert.match(
            problemsOf({ domain: "a.example.com", storage: storage("https://s3.internal:9000", "not a certificate") }).join("\n"),
            /storage\.caCertificate: expected one or more PEM CA certificates/,
        );
        const broken = pem.replace(/\n[A-Za-z0-9+/]{10}/, "\nAAAAAAAAAA");
        assert.match(
            problemsOf({ domain: "a.example.com", storage: storage("https://s3.internal:9000", broken) }).join("\n"),
            /storage\.caCertificate: expected one or more PEM CA certificates/,
            "a block that does not parse",
        );
        assert.match(
            problemsOf({ domain: "a.example.com", storage: storage("http://s3.internal:9000", pem) }).join("\n"),
            /storage\.caCertificate: only used with an https:\/\/ endpoint/,
        );
    });

    test("S3 keys must be secret, come in pairs, and are never echoed", () => {
        const plain = problemsOf({
            domain: "a.example.com",
            storage: JSON.stringify({
                driver: "s3",
                bucket: "images",
                region: "us-east-1",
                accessKey: "AKIAVISIBLE",
                secretKey: "visible-secret-key",
            }),
        });
        assert.match(
            plain.join("\n"),
            /storage\.accessKey: must be stored as a secret: `pulumi config set --secret --path storage\.accessKey/,
        );
        assert.match(
            plain.join("\n"),
            /storage\.secretKey: must be stored as a secret: `pulumi config set --secret --path storage\.secretKey/,
        );
        const half = problemsOf(
            {
                domain: "a.example.com",
                storage: JSON.stringify({ driver: "s3", bucket: "images", region: "us-east-1", secretKey: "only-the-secret" }),
            },
            ["storage"],
        );
        assert.match(half.join("\n"), /storage: expected both accessKey and secretKey, or neither .* got only secretKey/);
        const spaced = problemsOf(
            {
                domain: "a.example.com",
                storage: JSON.stringify({
                    driver: "s3",
                    bucket: "Bad Bucket",
                    region: "us-east-1",
                    accessKey: "AKIA",
                    secretKey: "has a space",
                }),
            },
            ["storage"],
        );
        assert.match(spaced.join("\n"), /storage\.secretKey: expected 1-256 printable characters without spaces/);
        assert.match(
            spaced.join("\n"),
            /storage\.bucket: expected an S3 bucket name .* got a secret value/,
            "a secret key's values are not echoed",
        );
        for (const p of [...plain, ...half, ...spaced]) {
            for (const secret of ["AKIAVISIBLE", "visible-secret-key", "only-the-secret", "has a space", "Bad Bucket"])
                assert.ok(!p.includes(secret), `echoed: ${p}`);
        }
    });

    test("every problem is reported at once, each naming its key", () => {
        const problems = problemsOf({ httpPort: "x", acmeKeyType: "dsa" });
        assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(": "))).sort(), [
            "private-registry:acmeKeyType",
            "private-registry:domain",
            "private-registry:httpPort",
        ]);
        assert.ok(problems.includes('private-registry:httpPort: expected an integer from 0 to 65535, got "x"'), problems.join("\n"));
        assert.ok(problems.includes('private-registry:acmeKeyType: expected ecdsa or rsa, got "dsa"'), problems.join("\n"));
        assert.match(
            problems.find((p) => p.startsWith("private-registry:domain: "))!,
            /^private-registry:domain: required/,
        );
    });

    test("Pulumi.yaml declares exactly the keys the program reads, and the README documents each", () => {
        const declared = Object.keys(projectConfig());
        assert.deepEqual([...declared].sort(), [...CONFIG_KEYS].sort());
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        for (const key of CONFIG_KEYS)
            assert.match(readme, new RegExp(`\\| \`${key}\`|/ \`${key}\` \\|`), `README's configuration table has ${key}`);
        for (const field of ["driver", "bucket", "region", "endpoint", "forcePathStyle", "rootDirectory", "redirect"])
            assert.match(readme, new RegExp(`\\| \`${field}\` \\|`), `README documents storage.${field}`);
        assert.match(readme, /\| `accessKey` \/ `secretKey` \|/);
    });

    test("a plain-text leaf is refused even when a sibling under the same key is secret", () => {
        const users = JSON.stringify({ ci: { password: "secret-password-1" }, bob: { password: "visible-password-2" } });
        const problems = problemsOf({ domain: "a.example.com", users }, ["users.ci.password"]);
        assert.deepEqual(problems, [
            "private-registry:users.bob.password: must be stored as a secret: `pulumi config set --secret --path 'users.bob.password' ...`",
        ]);
        assert.equal(ok({ domain: "a.example.com", users }, ["users.ci.password", "users.bob.password"]).users.length, 2);
        assert.equal(ok({ domain: "a.example.com", users }, ["users"]).users.length, 2, "a key set as one secret covers every leaf");
        const storage = JSON.stringify({
            driver: "s3",
            bucket: "images",
            region: "us-east-1",
            accessKey: "AKIAVISIBLE",
            secretKey: "hidden-secret-key",
        });
        assert.deepEqual(problemsOf({ domain: "a.example.com", storage }, ["storage.secretKey"]), [
            "private-registry:storage.accessKey: must be stored as a secret: `pulumi config set --secret --path storage.accessKey ...`",
        ]);
    });

    test("an ACME URL with credentials is refused, and the credentials are not echoed", () => {
        const problems = problemsOf({ domain: "a.example.com", acmeServer: "https://eab:hunter2-secret@acme.example.com/directory" });
        assert.deepEqual(problems, [
            "private-registry:acmeServer: expected an https:// ACME directory URL without credentials (user:password@); got one with credentials, not shown",
        ]);
    });

    test("IPv4 and IPv6 bind addresses, ssh:// with and without port", () => {
        for (const bindAddress of ["0.0.0.0", "127.0.0.1", "::", "::1", "fd00::5"])
            assert.equal(ok({ domain: "a.example.com", bindAddress }).publish.bindAddress, bindAddress);
        for (const dockerHost of [
            "ssh://deploy@build-host",
            "ssh://deploy@10.0.0.5:2222",
            "ssh://build-host",
            "unix:///run/user/1000/docker.sock",
        ])
            assert.equal(ok({ domain: "a.example.com", dockerHost }).dockerHost, dockerHost);
    });

    test("a custom ACME CA: its PEM root is trusted and exported; refused with a public CA or when it is not PEM", () => {
        const ca = makeCa("ACME CA");
        const pem = ca.pem;
        fs.rmSync(ca.dir, { recursive: true, force: true });
        const custom = ok({ domain: "a.example.com", acmeServer: "https://acme.internal.example/directory", acmeCaCertificate: pem }).acme;
        assert.equal(custom.caCertificate, pem);
        assert.equal(custom.privateRoot, true);
        assert.equal(
            ok({ domain: "a.example.com", acmeServer: "https://acme.zerossl.com/v2/DV90" }).acme.privateRoot,
            false,
            "a custom URL with a public root exports none (and never reads Pebble's file)",
        );
        assert.match(
            problemsOf({ domain: "a.example.com", acmeCaCertificate: pem }).join("\n"),
            /acmeCaCertificate: only used with an https:\/\/ acmeServer URL/,
        );
        assert.match(
            problemsOf({
                domain: "a.example.com",
                acmeServer: "https://acme.internal.example/directory",
                acmeCaCertificate: "not a pem",
            }).join("\n"),
            /acmeCaCertificate: expected one or more PEM CA certificates/,
        );
    });

    test("pebbleCertificateDays 0 (the default) is accepted with any CA", () => {
        assert.equal(ok({ domain: "a.example.com", pebbleCertificateDays: "0" }).pebbleCertificateDays, undefined);
        assert.equal(ok({ domain: "registry.test", acmeServer: "pebble", pebbleCertificateDays: "10" }).pebbleCertificateDays, 10);
    });

    test("trustedProxies: addresses and networks, IPv4 and IPv6; each bad entry refused naming its index, all at once", () => {
        assert.deepEqual(ok({ domain: "a.example.com" }).trustedProxies, []);
        const given = ["10.0.0.10", " 10.0.0.0/24", "FD00::/64", "2001:db8::7", "::ffff:10.1.0.0/112"];
        assert.deepEqual(ok({ domain: "a.example.com", trustedProxies: JSON.stringify(given) }).trustedProxies, [
            "10.0.0.10",
            "10.0.0.0/24",
            "fd00::/64",
            "2001:db8::7",
            "::ffff:10.1.0.0/112",
        ]);
        const found = problemsOf({
            domain: "a.example.com",
            trustedProxies: JSON.stringify([
                "10.0.0.10",
                "lb.example.com",
                "10.0.0.7/24",
                "fd00::1/64",
                "0.0.0.0/0",
                "::/0",
                "10.0.0.0/33",
                7,
                "fe80::1%eth0",
            ]),
        });
        const shape = "expected an IPv4 or IPv6 address or CIDR range, such as 10.0.0.10, 10.0.0.0/24 or fd00::/64";
        const everyone =
            "expected a range narrower than /0 (trusting every address lets any client claim any address in X-Forwarded-For and escape the login limit)";
        assert.deepEqual(found, [
            `private-registry:trustedProxies[1]: ${shape}, got "lb.example.com"`,
            'private-registry:trustedProxies[2]: expected a network address, with no bits set past /24: 10.0.0.0/24, got "10.0.0.7/24"',
            'private-registry:trustedProxies[3]: expected a network address, with no bits set past /64: fd00::/64, got "fd00::1/64"',
            `private-registry:trustedProxies[4]: ${everyone}, got "0.0.0.0/0"`,
            `private-registry:trustedProxies[5]: ${everyone}, got "::/0"`,
            `private-registry:trustedProxies[6]: ${shape}, got "10.0.0.0/33"`,
            `private-registry:trustedProxies[7]: ${shape}, got "7"`,
            `private-registry:trustedProxies[8]: ${shape}, got "fe80::1%eth0"`,
        ]);
        assert.deepEqual(problemsOf({ domain: "a.example.com", trustedProxies: "10.0.0.10" }), [
            "private-registry:trustedProxies: expected a list of addresses or CIDR ranges of your load balancers, e.g. `pulumi config set --path 'trustedProxies[0]' 10.0.0.10`",
        ]);
    });

    test("labels: extra Docker labels", () => {
        assert.deepEqual(
            ok({ domain: "a.example.com", labels: JSON.stringify({ team: "platform", "com.example.backup": "daily" }) }).labels,
            { team: "platform", "com.example.backup": "daily" },
        );
        assert.deepEqual(ok({ domain: "a.example.com" }).labels, {});
    });
});

/** Pulumi.yaml's config block, as the CLI reads it. */
function projectConfig(): Record<string, { type?: string; default?: unknown }> {
    const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
        config: Record<string, { type?: string; default?: unknown }>;
    };
    return project.config;
}

/** The config the CLI hands the program: the stack file's values over Pulumi.yaml's defaults. */
function cliConfig(stackFile: Record<string, unknown>): RawConfig {
    const raw: RawConfig = {};
    for (const [key, spec] of Object.entries(projectConfig())) {
        const value = stackFile[`${PROJECT}:${key}`] ?? spec.default;
        if (value !== undefined) raw[key as keyof RawConfig] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return raw;
}

describe("Pulumi.yaml: a config schema the CLI accepts", () => {
    test("every key but domain has a default (the CLI requires keys without one), equal to the program's, value by value", () => {
        const config = projectConfig();
        const required = Object.keys(config).filter((k) => config[k].default === undefined);
        assert.deepEqual(required, ["domain"]);
        for (const [key, value] of Object.entries(DEFAULTS)) {
            assert.deepEqual(config[key].default, value, `Pulumi.yaml's default of ${key}`);
        }
        assert.deepEqual(
            Object.keys(DEFAULTS).sort(),
            Object.keys(config)
                .filter((k) => k !== "domain")
                .sort(),
        );
    });

    test("the README's configuration table states the same defaults, value by value", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const table = between(readme, "| key | default | meaning |", "### Outputs");
        const documented = new Map<string, unknown>();
        for (const row of table.split("\n").filter((l) => l.startsWith("| `"))) {
            const [keys, defaults] = row.split(" | ");
            const names = [...keys.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
            // A row may document two keys (`httpPort` / `httpsPort`): their defaults come first, in turn.
            const values = [...defaults.matchAll(/`([^`]*)`/g)].map((m) => m[1]);
            names.forEach((name, i) => documented.set(name, values[i] === undefined ? undefined : (yaml.load(values[i]) ?? "")));
        }
        for (const [key, value] of Object.entries(DEFAULTS)) assert.deepEqual(documented.get(key), value, `README's default of ${key}`);
        assert.equal(documented.get("domain"), undefined, "domain: required");
    });

    test("typed defaults have their declared type", () => {
        for (const [key, spec] of Object.entries(projectConfig())) {
            if (spec.type === "integer") assert.ok(Number.isInteger(spec.default), key);
            if (spec.type === "boolean") assert.equal(typeof spec.default, "boolean", key);
            if (spec.type === "string" && spec.default !== undefined) assert.equal(typeof spec.default, "string", key);
        }
    });

    test("the shipped dev stack and a production stack with domain and acmeEmail only parse", () => {
        const dev = (yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> }).config;
        const s = parseSettings(cliConfig(dev), "dev");
        assert.equal(s.acme.kind, "pebble");
        assert.equal(s.namePrefix, "registry-dev");
        const prod = parseSettings(
            cliConfig({ "private-registry:domain": "registry.example.com", "private-registry:acmeEmail": "ops@example.com" }),
            "prod",
        );
        assert.equal(prod.acme.kind, "production");
        assert.equal(prod.acme.email, "ops@example.com");
        assert.equal(prod.pebbleCertificateDays, undefined);
        assert.deepEqual(prod.users, [{ name: "admin", access: "push", repositories: {}, password: undefined }]);
    });
});

describe("secretPathsFromStackFile: which leaves the stack file stores encrypted", () => {
    const file = [
        "encryptionsalt: v1:abc",
        "config:",
        "  private-registry:domain: registry.example.com",
        "  private-registry:users:",
        "    ci:",
        "      access: push",
        "      password:",
        "        secure: v1:AAAA",
        "    bob:",
        "      password: visible-password-2",
        "  private-registry:storage:",
        "    secure: v1:BBBB",
        "  other-project:token:",
        "    secure: v1:CCCC",
        "",
    ].join("\n");

    test("records secure leaves and whole secure keys of this project only", () => {
        const paths = secretPathsFromStackFile(file, PROJECT);
        assert.equal(paths.covers("users.ci.password"), true);
        assert.equal(paths.covers("users.bob.password"), false);
        assert.equal(paths.covers("users"), false);
        assert.equal(paths.touches("users"), true);
        assert.equal(paths.covers("storage.secretKey"), true, "a whole secure key covers its fields");
        assert.equal(paths.touches("domain"), false);
        assert.equal(paths.touches("token"), false);
    });

    test("an empty file and a file without config have no secrets", () => {
        assert.equal(secretPathsFromStackFile("", PROJECT).touches("users"), false);
        assert.equal(secretPathsFromStackFile("encryptionsalt: v1:abc\n", PROJECT).touches("users"), false);
        assert.throws(() => secretPathsFromStackFile("- a\n- b\n", PROJECT), /must be a YAML map/);
    });
});
