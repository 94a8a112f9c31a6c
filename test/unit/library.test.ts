// PrivateRegistry as a library: a program builds it from plain, typed args (examples/library);
// the component applies the defaults and refuses a bad field by name; every field's default
// is stated in its doc comment and equals the one the parser applies.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { PrivateRegistry } from "../../components/privateRegistry";
import { DNS_CREDENTIALS_PATH } from "../../configs/dns";
import { DEFAULTS } from "../../settings/defaults";
import { isSecretWrapper, ROOT, settleOutputs, unwrapSecrets } from "../harness/program";
import { Recorder } from "../harness/recorder";

/** Loads a program file afresh under mocks, as its own project, and settles its outputs. */
async function runFile(file: string, project: string, mocks: Recorder) {
    await pulumi.runtime.setMocks(mocks, project, "dev", false);
    for (const id of Object.keys(require.cache)) if (!id.includes("node_modules")) delete require.cache[id];
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a program runs when loaded, after the mocks are set
    return settleOutputs(require(file));
}

describe("PrivateRegistry as a component of another program", () => {
    test("examples/library builds a registry from plain args: defaults applied, the program's password secret, a generated one for the pull user", async () => {
        const mocks = new Recorder();
        const outputs = await runFile(path.join(ROOT, "examples", "library", "index.ts"), "registry-library", mocks);
        assert.equal(outputs.url.value, "https://registry.example.com");
        assert.equal(outputs.passwords.secret, true);
        const containers = mocks
            .ofType("docker:index/container:Container")
            .map((c) => c.inputs.name)
            .sort();
        assert.deepEqual(
            containers,
            ["registry-dev-certbot", "registry-dev-nginx", "registry-dev-registry"],
            "namePrefix defaults to registry-<stack>; no Pebble off acmeServer pebble",
        );
        const nginx = mocks.byName("registry-nginx");
        assert.deepEqual(nginx.inputs.ports, [
            { internal: 80, external: 80, ip: "0.0.0.0" },
            { internal: 443, external: 443, ip: "0.0.0.0" },
        ]);
        assert.match(mocks.byName("registry-gc-schedule-install").inputs.stdin, /^echo '604800 0' > /m, "gcIntervalHours 168");
        const install = mocks.byName("registry-htpasswd-install");
        assert.ok(isSecretWrapper(install.inputs.stdin), "the users' install script is a secret");
        assert.match(unwrapSecrets(install.inputs.stdin) as string, /^ci:\$2y\$10\$/m);
        assert.match(unwrapSecrets(install.inputs.stdin) as string, /^reader:\$2y\$10\$/m);
        assert.ok(
            mocks.resources.some((r) => r.name === "registry-users-reader-password"),
            "reader's password is generated",
        );
        assert.ok(!mocks.resources.some((r) => r.name === "registry-users-ci-password"), "ci's comes from the program");
    });

    test("DNS-01 credentials from another resource (an Output) reach certbot's file as a secret", async () => {
        const mocks = new Recorder();
        await pulumi.runtime.setMocks(mocks, "lib", "dev", false);
        const tsig = "bGlicmFyeS10c2lnLXNlY3JldC0wMTIzNDU2Nzg5";
        new PrivateRegistry("registry", {
            domain: "registry.internal.example.com",
            acmeChallenge: "dns",
            dnsPlugin: "rfc2136",
            dnsCredentials: { server: "10.0.0.53", name: "registry-key", secret: pulumi.secret(tsig) },
            httpPort: 0,
        });
        await pulumi.runtime.disconnect();
        await new Promise((r) => setImmediate(r));
        const certbot = mocks.byName("registry-certbot");
        assert.ok(isSecretWrapper(certbot.inputs.uploads), "the uploads hold a secret");
        const upload = (unwrapSecrets(certbot.inputs.uploads) as { file: string; content: unknown }[]).find(
            (u) => u.file === DNS_CREDENTIALS_PATH,
        )!;
        assert.match(upload.content as string, new RegExp(`^dns_rfc2136_secret = ${tsig}$`, "m"));
    });

    test("a bad field fails the constructor with a ResourceError naming it, before any resource", async () => {
        const mocks = new Recorder();
        await pulumi.runtime.setMocks(mocks, "lib", "dev", false);
        assert.throws(
            () =>
                new PrivateRegistry("r", {
                    domain: "registry.example.com",
                    httpsPort: 99999,
                    users: { "bad:name": {} },
                    dockerHost: "tcp://10.0.0.5:2375",
                }),
            (e: Error) => {
                assert.ok(e instanceof pulumi.ResourceError, String(e));
                assert.match(e.message, /invalid PrivateRegistry args \(3 problems\)/);
                assert.match(e.message, /^ {2}- httpsPort: expected an integer from 1 to 65535, got "99999"$/m);
                assert.match(e.message, /^ {2}- users: user name "bad:name" must be/m);
                assert.match(e.message, /^ {2}- dockerHost: expected .*tcp:\/\/ is refused/m);
                return true;
            },
        );
        await pulumi.runtime.disconnect();
        assert.deepEqual(
            mocks.resources.filter((r) => r.custom),
            [],
            "no resource declared",
        );
    });
});

describe("PrivateRegistryArgs documents every default", () => {
    test("each field's doc comment states the default the parser applies, value by value", () => {
        const source = fs.readFileSync(path.join(ROOT, "components", "privateRegistryArgs.ts"), "utf8");
        const body = source.slice(source.indexOf("export interface PrivateRegistryArgs"));
        for (const [key, value] of Object.entries(DEFAULTS)) {
            const m = new RegExp(`/\\*\\*[^*]*?Default: \`([^\`]*)\`[^*]*\\*/\\s*\\n\\s*${key}\\?:`).exec(body);
            assert.ok(m, `PrivateRegistryArgs.${key} states its default`);
            assert.deepEqual(yaml.load(m[1]) ?? "", value, `PrivateRegistryArgs.${key}'s documented default`);
        }
    });
});
