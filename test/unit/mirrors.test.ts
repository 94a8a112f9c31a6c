// Mirrors: the `mirrors` setting parsed (defaults, every problem named by its key, the password
// as a secret, each mirror's name on the certificate), what is rendered for them (the mirror's
// config.yml read back as distribution reads YAML, its command checked by `sh -n`, nginx's
// routing by host name, the client snippets), and the program's resources under Pulumi mocks.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import { certonlyArgs } from "../../configs/certbot";
import {
    mirrorOutput,
    renderMirrorConfig,
    renderMirrorCredentials,
    renderMirrorRouting,
    renderMirrorSupervisor,
} from "../../configs/mirrors";
import { renderHttpsServer } from "../../configs/nginx";
import { RawConfig } from "../../settings/defaults";
import { ARGS_NAMING, ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { SecretPaths } from "../../settings/secretPaths";
import { Secret, Settings } from "../../settings/types";
import { isSecretWrapper, runProgram, unwrapSecrets } from "../harness/program";
import { Recorder } from "../harness/recorder";

const PASSWORD = "upstream-pass-0123456789";
const HUB = { name: "hub", upstream: "https://registry-1.docker.io" };
const GHCR = { name: "ghcr", upstream: "https://ghcr.io", username: "bot", password: PASSWORD };
const DEV = { domain: "registry.test", acmeServer: "pebble", bindAddress: "127.0.0.1", httpPort: 8080, httpsPort: 8443 };

/** Stack config: lists as JSON text, `secret` the paths stored encrypted. */
const stack = (mirrors: unknown, secret: string[] = ["mirrors[0].password"], more: Record<string, string> = {}) =>
    parseSettings(
        { domain: "r.example.com", mirrors: JSON.stringify(mirrors), ...more } as RawConfig,
        "dev",
        stackNaming(new SecretPaths(secret)),
    );

function problemsOf(run: () => unknown): string[] {
    try {
        run();
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return e.problems;
    }
    assert.fail("expected the config to be rejected");
}

describe("mirrors setting", () => {
    test("none by default; a mirror is on <name>.<domain>, on the certificate, ttl 0, Docker Hub recognised", () => {
        const none = parseSettings({ domain: "r.example.com" }, "dev");
        assert.deepEqual(none.mirrors, []);
        const s = stack([HUB, GHCR], ["mirrors[1].password"], { domains: JSON.stringify(["other.example.com"]) });
        const [hub, ghcr] = s.mirrors;
        assert.equal(hub.fqdn, "hub.r.example.com");
        assert.equal(hub.upstream, "https://registry-1.docker.io");
        assert.equal(hub.ttl, "0");
        assert.equal(hub.dockerHub, true);
        assert.equal(hub.credentials, undefined);
        assert.equal(ghcr.dockerHub, false);
        assert.equal(ghcr.credentials?.username, "bot");
        assert.ok(ghcr.credentials?.password instanceof Secret);
        assert.equal((ghcr.credentials.password as Secret).reveal(), PASSWORD);
        assert.deepEqual(s.domains, ["other.example.com", "hub.r.example.com", "ghcr.r.example.com"]);
        // The certificate asks for every name: HTTP-01 and DNS-01 alike read settings.domains.
        const args = certonlyArgs(s);
        for (const name of ["r.example.com", "hub.r.example.com", "ghcr.r.example.com"]) assert.ok(args.includes(name), name);
    });

    test("ttl: 0, a duration, or a number of seconds", () => {
        assert.equal(stack([{ ...HUB, ttl: "168h" }]).mirrors[0].ttl, "168h");
        assert.equal(stack([{ ...HUB, ttl: 3600 }]).mirrors[0].ttl, "3600s");
        assert.equal(stack([{ ...HUB, ttl: 0 }]).mirrors[0].ttl, "0");
        assert.deepEqual(
            problemsOf(() => stack([{ ...HUB, ttl: "7d" }], [])),
            ['private-registry:mirrors[0].ttl: expected 0 (never expires) or a duration such as 168h, 90m or 3600s, got "7d"'],
        );
    });

    test("every problem at once, each naming its key", () => {
        const problems = problemsOf(() =>
            stack(
                [
                    { name: "Hub_1", upstream: "ftp://x" },
                    { name: "dup", upstream: "https://a.example.com/path" },
                    { name: "dup", upstream: "not a url" },
                    { name: "other", upstream: "https://x.example.com" },
                    { name: "half", upstream: "https://h.example.com", username: "u" },
                    { name: "ca", upstream: "http://h.example.com", caCertificate: "nope" },
                    { upstream: "https://h.example.com", extra: 1 },
                ],
                [],
                { domains: JSON.stringify(["other.r.example.com"]) },
            ),
        );
        assert.deepEqual(problems, [
            "private-registry:mirrors[0].name: expected a DNS label (1-63 lower-case letters, digits or '-'), e.g. hub for hub.r.example.com, got \"Hub_1\"",
            'private-registry:mirrors[0].upstream: expected the URL of a registry such as https://registry-1.docker.io or https://ghcr.io (no path), got "ftp://x"',
            'private-registry:mirrors[1].upstream: expected the URL of a registry such as https://registry-1.docker.io or https://ghcr.io (no path), got "https://a.example.com/path"',
            'private-registry:mirrors[2].name: "dup" is used by another mirror',
            'private-registry:mirrors[2].upstream: expected the URL of a registry such as https://registry-1.docker.io or https://ghcr.io (no path), got "not a url"',
            'private-registry:mirrors[3].name: "other.r.example.com" is already a name of the registry (domains, or a host\'s own name)',
            "private-registry:mirrors[4]: expected both username and password, or neither (an anonymous upstream), got only username",
            "private-registry:mirrors[5].caCertificate: expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...)",
            'private-registry:mirrors[6]: unknown field "extra"; expected one of name, upstream, username, password, ttl, caCertificate',
            "private-registry:mirrors[6].name: required: a DNS label; the mirror's host name is <name>.<domain>, e.g. hub",
        ]);
    });

    test("credentials need an https:// upstream; with a secret among them, no value of the list is echoed", () => {
        const problems = problemsOf(() => stack([{ ...GHCR, name: "Bad", upstream: "http://h.example.com" }]));
        assert.deepEqual(problems, [
            "private-registry:mirrors[0].name: expected a DNS label (1-63 lower-case letters, digits or '-'), e.g. hub for hub.r.example.com, got a secret value",
            "private-registry:mirrors[0].upstream: credentials are sent to the upstream: expected an https:// upstream with username and password",
        ]);
    });

    test("a password in plain text in the stack file is refused, and never shown", () => {
        const problems = problemsOf(() => stack([GHCR], []));
        assert.deepEqual(problems, [
            "private-registry:mirrors[0].password: must be stored as a secret: `pulumi config set --secret --path 'mirrors[0].password' ...`",
        ]);
        assert.ok(!problems.join("\n").includes(PASSWORD));
    });

    test("credentials in the URL are refused without being shown", () => {
        const problems = problemsOf(() => stack([{ name: "hub", upstream: `https://u:${PASSWORD}@registry-1.docker.io` }], []));
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^private-registry:mirrors\[0\]\.upstream: expected a URL without credentials/);
        assert.ok(!problems[0].includes(PASSWORD));
    });

    test("a program's args: a password given as an Output is kept for the component", () => {
        const s = parseSettings(
            { domain: "r.example.com", mirrors: [{ ...GHCR, password: Promise.resolve(PASSWORD) }] },
            "dev",
            ARGS_NAMING,
        );
        assert.equal(s.mirrors.length, 1);
        assert.ok(s.mirrors[0].credentials);
    });
});

describe("mirrors rendered", () => {
    const s: Settings = stack([HUB, { ...GHCR, ttl: "24h" }], ["mirrors[1].password"]);

    test("config.yml: proxy mode on the upstream, its own socket and storage, no credentials", () => {
        const config = yaml.load(renderMirrorConfig(s, s.mirrors[1], "abc123")) as Record<string, Record<string, unknown>>;
        assert.deepEqual(config.proxy, { remoteurl: "https://ghcr.io", ttl: "24h" });
        assert.equal(config.http.net, "unix");
        assert.equal(config.http.addr, "/run/registry-mirrors/ghcr.sock");
        assert.deepEqual(config.storage.filesystem, { rootdirectory: "/var/lib/registry" });
        assert.equal(config.auth, undefined, "nginx authenticates");
        const hub = yaml.load(renderMirrorConfig(s, s.mirrors[0], "abc123")) as Record<string, Record<string, unknown>>;
        assert.deepEqual(hub.proxy, { remoteurl: "https://registry-1.docker.io", ttl: "0s" });
        assert.throws(() => renderMirrorConfig(s, s.mirrors[0], "bad secret"));
    });

    test("credentials: YAML single-quoted lines; the command reads them, and is valid sh", () => {
        assert.equal(renderMirrorCredentials("bot", "it's 0x1f"), "'bot'\n'it''s 0x1f'\n");
        const [user, pass] = renderMirrorCredentials("bot", "it's 0x1f")
            .trimEnd()
            .split("\n")
            .map((l) => yaml.load(l));
        assert.deepEqual([user, pass], ["bot", "it's 0x1f"]);
        assert.throws(() => renderMirrorCredentials("bot", "two\nlines"));
        for (const m of s.mirrors) {
            const script = renderMirrorSupervisor(m);
            assert.equal(script.includes("REGISTRY_PROXY_PASSWORD"), m.credentials !== undefined);
            const check = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
            assert.equal(check.status, 0, check.stderr);
        }
    });

    test("nginx: each mirror's host name to its own socket, the rest to the registry; nothing without mirrors", () => {
        const routing = renderMirrorRouting(s);
        assert.match(routing, /upstream registry-mirror-hub \{\n {4}server unix:\/run\/registry-mirrors\/hub\.sock max_fails=0;/);
        assert.match(
            routing,
            /map \$host \$registry_upstream \{\n {4}default docker-registry;\n {4}hub\.r\.example\.com registry-mirror-hub;/,
        );
        const https = renderHttpsServer(s);
        assert.match(https, /proxy_pass http:\/\/\$registry_upstream\$registry_upstream_uri;/);
        assert.match(https, /server_name r\.example\.com hub\.r\.example\.com ghcr\.r\.example\.com;/);
        const without = renderHttpsServer(parseSettings({ domain: "r.example.com" }, "dev"));
        assert.match(without, /proxy_pass http:\/\/docker-registry\$registry_upstream_uri;/);
        assert.ok(!without.includes("registry-mirror"));
        assert.ok(!without.includes("\n\n\n"), "no blank lines left by the mirrors' section");
    });

    test("client snippets: daemon.json for Docker Hub only, containerd's hosts.toml for any upstream", () => {
        const hub = mirrorOutput(s.mirrors[0], 8443);
        assert.equal(hub.url, "https://hub.r.example.com:8443");
        assert.deepEqual(JSON.parse(hub.daemonJson ?? ""), { "registry-mirrors": ["https://hub.r.example.com:8443"] });
        assert.equal(hub.containerdHostsPath, "/etc/containerd/certs.d/docker.io/hosts.toml");
        assert.match(hub.containerdHostsToml, /^server = "https:\/\/registry-1\.docker\.io"$/m);
        assert.match(
            hub.containerdHostsToml,
            /^\[host\."https:\/\/hub\.r\.example\.com:8443"\]\n {2}capabilities = \["pull", "resolve"\]$/m,
        );
        const ghcr = mirrorOutput(s.mirrors[1], 443);
        assert.equal(ghcr.host, "ghcr.r.example.com");
        assert.equal(ghcr.daemonJson, undefined);
        assert.equal(ghcr.containerdHostsPath, "/etc/containerd/certs.d/ghcr.io/hosts.toml");
    });
});

describe("mirrors in the program (Pulumi mocks)", () => {
    test("a container and a retained volume per mirror, a socket volume nginx mounts; the password only in a secret upload", async () => {
        const mocks = new Recorder(false);
        const run = await runProgram({
            config: { ...DEV, mirrors: [HUB, { ...GHCR, ttl: "24h" }] },
            secretKeys: ["mirrors[1].password"],
            mocks,
        });
        const hub = mocks.byName("registry-mirror-hub");
        assert.equal(hub.inputs.name, "registry-test-mirror-hub");
        assert.deepEqual(hub.inputs.networksAdvanced, [{ name: "registry-test-net" }], "its way to the upstream");
        assert.equal(hub.inputs.ports, undefined, "no published port");
        assert.deepEqual(
            (hub.inputs.volumes as { volumeName: string; containerPath: string }[]).map((v) => [v.volumeName, v.containerPath]),
            [
                ["registry-test-mirror-hub", "/var/lib/registry"],
                ["registry-test-mirror-socket", "/run/registry-mirrors"],
            ],
        );
        const data = mocks.byName("registry-mirror-hub-data");
        assert.equal(data.options?.retainOnDelete, true, "the cache is kept like the registry's data");
        const nginx = mocks.byName("registry-nginx");
        assert.ok(
            (nginx.inputs.volumes as { volumeName: string; containerPath: string }[]).some(
                (v) => v.volumeName === "registry-test-mirror-socket" && v.containerPath === "/run/registry-mirrors",
            ),
            "nginx mounts the mirrors' sockets",
        );
        const ghcr = mocks.byName("registry-mirror-ghcr");
        const plain = JSON.stringify(mocks.resources.map((r) => plainOf(r.inputs)));
        assert.ok(!plain.includes(PASSWORD), "the password is in no plain input");
        assert.ok(isSecretWrapper(ghcr.inputs.uploads), "the mirror's files are a secret");
        const uploads = unwrapSecrets(ghcr.inputs.uploads) as { file: string; content: string; permissions?: string }[];
        const credentials = uploads.find((u) => u.file === "/etc/distribution/upstream-credentials");
        assert.equal(credentials?.content, `'bot'\n'${PASSWORD}'\n`);
        assert.equal(credentials?.permissions, "0400");
        const mirrors = run.outputs.mirrors.value as { name: string; url: string }[];
        assert.deepEqual(
            mirrors.map((m) => [m.name, m.url]),
            [
                ["hub", "https://hub.registry.test:8443"],
                ["ghcr", "https://ghcr.registry.test:8443"],
            ],
        );
    });

    test("without mirrors: no mirror resource, nginx mounts nothing more, the output is empty", async () => {
        const mocks = new Recorder(false);
        const run = await runProgram({ config: DEV, mocks });
        assert.ok(!mocks.resources.some((r) => r.name.includes("mirror")));
        const nginx = mocks.byName("registry-nginx");
        assert.ok(!(nginx.inputs.volumes as { containerPath: string }[]).some((v) => v.containerPath === "/run/registry-mirrors"));
        assert.deepEqual(run.outputs.mirrors.value, []);
    });
});

/** The inputs with every secret wrapper's value left out. */
function plainOf(value: unknown): unknown {
    if (isSecretWrapper(value)) return "[secret]";
    if (Array.isArray(value)) return value.map(plainOf);
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainOf(v)]));
    return value;
}
