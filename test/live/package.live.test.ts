// The component package (plugin/), live: its schema as the real CLI prints it, and the YAML
// example (examples/yaml) deployed on the bed by the real engine through the package — the
// Node.js component run as a plugin for a YAML program — then used by a Docker client that
// verifies the certificate. (The Python example's preview runs in the README test.)
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Bed, BED_SLOTS, removeNamed } from "./bed";
import { DockerClient } from "./client";
import { Engine, LiveStack, ROOT } from "./engine";
import { bedHostAddress } from "./hostAddress";
import { run } from "./proc";

const LABEL = `pkg-${randomBytes(3).toString("hex")}`;
const TYPE = "private-registry:index:PrivateRegistry";

interface Property {
    description?: string;
    secret?: boolean;
    $ref?: string;
}

describe("live: PrivateRegistry as a component package, from YAML", { timeout: 900_000 }, () => {
    const engine = new Engine();
    const bed = new Bed(LABEL, engine, BED_SLOTS.package);
    const client = new DockerClient();
    const CI_PASSWORD = `ci-${randomBytes(12).toString("hex")}`;
    const images: string[] = [];
    let stack: LiveStack;

    /** The YAML example's config for the bed: its ports, names and images, Pebble as the CA. */
    const config = async (extra: Record<string, unknown> = {}) => ({
        domain: bed.domain,
        acmeServer: "pebble",
        namePrefix: bed.prefix,
        bindAddress: await bedHostAddress(),
        httpPort: bed.ports.http,
        httpsPort: bed.ports.https,
        registryImage: bed.images.REGISTRY_IMAGE,
        nginxImage: bed.images.NGINX_IMAGE,
        certbotImage: bed.images.CERTBOT_IMAGE,
        pebbleImage: bed.images.PEBBLE_IMAGE,
        ciPassword: CI_PASSWORD,
        ...extra,
    });

    before(async () => {
        await bed.addHostsEntry();
        stack = await engine.stack(bed.prefix, path.join(ROOT, "examples", "yaml"));
    });

    after(async () => {
        client.cleanup();
        if (stack) await stack.destroy().catch(() => undefined);
        if (stack) await stack.remove().catch(() => undefined);
        await removeNamed(bed.prefix);
        await bed.cleanup();
        if (images.length) await run("docker", ["image", "rm", "--force", ...images]);
        await engine.close();
        assert.deepEqual(engine.leftovers(), [], "no language host or provider process outlives the tests");
    });

    test("pulumi package get-schema: the resource, every input described with its default, enums, secrets marked", async () => {
        const r = await run("pulumi", ["package", "get-schema", path.join(ROOT, "plugin")], {
            cwd: ROOT,
            env: { ...process.env, ...engine.env },
            timeoutMs: 300_000,
        });
        assert.equal(r.code, 0, r.stderr);
        const schema = JSON.parse(r.stdout) as {
            name: string;
            resources: Record<
                string,
                { isComponent: boolean; inputProperties: Record<string, Property>; properties: Record<string, Property> }
            >;
            types: Record<string, { enum?: { value: string }[]; properties?: Record<string, Property> }>;
        };
        assert.equal(schema.name, "private-registry");
        const resource = schema.resources[TYPE];
        assert.ok(resource?.isComponent, `the component ${TYPE}`);
        const inputs = Object.entries(resource.inputProperties);
        assert.ok(inputs.length >= 40, `inputs: ${inputs.map(([n]) => n).join(", ")}`);
        for (const [name, p] of inputs) {
            assert.ok(p.description, `${name} is described`);
            if (name !== "domain") assert.match(p.description!, /Default: /, `${name} states its default`);
        }
        const secret = (props: Record<string, Property> = {}) =>
            Object.entries(props)
                .filter(([, p]) => p.secret)
                .map(([n]) => n)
                .sort();
        assert.deepEqual(secret(resource.inputProperties), ["dnsCredentials"]);
        assert.deepEqual(secret(resource.properties), ["dockerConfigJson", "passwords"]);
        const typeSecrets = (name: string) => secret(schema.types[`private-registry:index:${name}`]?.properties);
        assert.deepEqual(typeSecrets("RegistryUserArgs"), ["password"]);
        assert.deepEqual(typeSecrets("RegistryStorageArgs"), ["accessKey", "secretKey"]);
        assert.deepEqual(typeSecrets("RegistryRedisArgs"), ["password"]);
        assert.deepEqual(typeSecrets("RegistryHostTlsArgs"), ["key"]);
        assert.deepEqual(typeSecrets("RegistryMirrorArgs"), ["password"]);
        assert.deepEqual(typeSecrets("RegistryNotificationArgs"), ["headers"]);
        assert.deepEqual(typeSecrets("RegistryMetricsArgs"), ["password"]);
        const enumValues = (name: string) => schema.types[`private-registry:index:${name}`]?.enum?.map((e) => e.value).sort();
        assert.deepEqual(enumValues("UserAccess"), ["none", "pull", "push"]);
        assert.deepEqual(enumValues("AcmeKeyType"), ["ecdsa", "rsa"]);
        assert.deepEqual(enumValues("StorageDriver"), ["filesystem", "s3"]);
        assert.equal(resource.inputProperties.acmeKeyType.$ref, "#/types/private-registry:index:AcmeKeyType");
    });

    test("the YAML example deploys through the package; a verifying Docker client pushes as ci and pulls as reader", async () => {
        await stack.configure(await config(), (k) => k === "ciPassword");
        const up = await stack.up();
        assert.equal(up.outputs.url.value, `https://${bed.host}`);
        assert.equal(up.outputs.passwords.secret, true, "the passwords output is a secret");
        const passwords = up.outputs.passwords.value as Record<string, string>;
        assert.equal(passwords.ci, CI_PASSWORD);
        assert.equal(passwords.reader.length, 32, "reader's password is generated");
        bed.trustRoot(bed.host, up.outputs.caRoot.value as string);
        const ref = `${bed.host}/yaml/app:1`;
        images.push(ref);
        assert.equal((await client.login(bed.host, "ci", CI_PASSWORD)).code, 0);
        const id = await client.makeImage(ref, 256 * 1024);
        await client.must(["push", ref]);
        await client.must(["image", "rm", ref]);
        assert.equal((await client.login(bed.host, "reader", passwords.reader)).code, 0);
        await client.must(["pull", ref]);
        assert.equal(await client.must(["image", "inspect", "--format", "{{.Id}}", ref]), id);
        const denied = await client.exec(["push", ref]);
        assert.notEqual(denied.code, 0, "reader may not push");
        // The password set as a secret is nowhere in the plain state.
        const plain = await stack.exportText();
        assert.ok(!plain.includes(CI_PASSWORD), "ci's password in plain state");
    });

    test("a bad input fails the YAML program's preview naming the field, before anything changes", async () => {
        await stack.configure(await config({ acmeEmail: "-x@example.com" }), (k) => k === "ciPassword");
        const preview = await stack.preview().then(
            () => "",
            (e: Error) => e.message,
        );
        assert.match(preview, /acmeEmail/);
        assert.doesNotMatch(preview, new RegExp(CI_PASSWORD), "no secret in the message");
        await stack.configure(await config(), (k) => k === "ciPassword");
    });
});
