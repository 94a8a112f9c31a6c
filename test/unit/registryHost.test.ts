// The program's graph under mocks, for what PrivateRegistry's options and names decide: each
// host's resources grouped under a RegistryHost component, two registries in one program on
// their own Docker names, and a Docker provider given by the program used for one host.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { PrivateRegistry } from "../../components/privateRegistry";
import { REGISTRY_HOST_TYPE } from "../../components/registryHost";
import { Recorder } from "../harness/recorder";

const DOCKER_NAMED = ["docker:index/container:Container", "docker:index/volume:Volume", "docker:index/network:Network"];
const ARGS = { domain: "registry.example.com", acmeServer: "staging" };
const SEVERAL = {
    domain: "registry.example.com",
    acmeChallenge: "dns",
    dnsPlugin: "rfc2136",
    dnsCredentials: { server: "10.0.0.53", name: "update", secret: pulumi.secret("c2VjcmV0c2VjcmV0c2VjcmV0") },
    storage: { driver: "s3", bucket: "images", region: "eu-west-1" },
    hosts: [
        { name: "node-1", dockerHost: "ssh://ops@10.0.0.11" },
        { name: "node-2", dockerHost: "ssh://ops@10.0.0.12" },
    ],
    redis: { address: "10.0.0.11:6379", password: pulumi.secret("redis-password-0123456789"), runOn: "node-1" },
};

/** Runs `declare` as a program under mocks and returns what it declared. */
async function declared(declare: () => void): Promise<Recorder> {
    const mocks = new Recorder();
    await pulumi.runtime.setMocks(mocks, "private-registry", "dev", false);
    declare();
    await pulumi.runtime.disconnect();
    await new Promise((r) => setImmediate(r));
    return mocks;
}

describe("PrivateRegistry's hosts, names and providers", () => {
    test("a single host's resources and each of several hosts' are under a RegistryHost named like them", async () => {
        const one = await declared(() => new PrivateRegistry("registry", ARGS));
        assert.deepEqual(
            one.ofType(REGISTRY_HOST_TYPE).map((r) => r.name),
            ["registry"],
        );
        // Its children keep the names they had under PrivateRegistry (the aliases need nothing else).
        assert.ok(one.byName("registry-nginx").custom);
        const several = await declared(() => new PrivateRegistry("registry", SEVERAL as never));
        assert.deepEqual(
            several
                .ofType(REGISTRY_HOST_TYPE)
                .map((r) => r.name)
                .sort(),
            ["registry-node-1", "registry-node-2"],
        );
    });

    test("two registries in one program: every Docker name starts with its component's name, none is shared", async () => {
        const mocks = await declared(() => {
            new PrivateRegistry("blue", { ...ARGS, httpPort: 8080, httpsPort: 8443 });
            new PrivateRegistry("green", { ...ARGS, domain: "green.example.com", httpPort: 9080, httpsPort: 9443 });
        });
        const names = DOCKER_NAMED.flatMap((t) => mocks.ofType(t)).map((r) => String(r.inputs.name));
        assert.ok(names.length >= 2 * 9, `containers, volumes and networks of both: ${names.join(", ")}`);
        assert.deepEqual(
            names.filter((n, i) => names.indexOf(n) !== i),
            [],
            "no Docker name is declared twice",
        );
        for (const n of names) assert.match(n, /^(blue|green)-dev-/, n);
        assert.equal(mocks.byName("blue-nginx").inputs.name, "blue-dev-nginx");
        assert.equal(mocks.byName("green-nginx").inputs.name, "green-dev-nginx");
        // A namePrefix given still wins.
        const given = await declared(() => new PrivateRegistry("blue", { ...ARGS, namePrefix: "edge" }));
        assert.equal(given.byName("blue-nginx").inputs.name, "edge-nginx");
    });

    test("a docker provider given (providers, as from a parent) serves every Docker resource, and the commands reach its host", async () => {
        const mocks = await declared(() => {
            const own = new docker.Provider("edge-box", { host: "ssh://ops@edge.example.com" });
            new PrivateRegistry("registry", ARGS, { providers: [own] });
        });
        assert.deepEqual(
            mocks.ofType("pulumi:providers:docker").map((p) => p.name),
            ["edge-box"],
            "no provider of the component's own",
        );
        const dockerResources = mocks.resources.filter((r) => r.custom && r.type.startsWith("docker:"));
        assert.ok(dockerResources.length > 5);
        for (const r of dockerResources) assert.match(String(r.provider), /::pulumi:providers:docker::edge-box::/, r.name);
        const commands = mocks.ofType("command:local:Command");
        assert.ok(commands.length > 3);
        for (const c of commands) assert.equal(c.inputs.environment.DOCKER_HOST, "ssh://ops@edge.example.com", c.name);
    });

    test("without a provider given, the component makes its own for dockerHost", async () => {
        const mocks = await declared(() => new PrivateRegistry("registry", { ...ARGS, dockerHost: "ssh://ops@10.0.0.9" }));
        const [provider] = mocks.ofType("pulumi:providers:docker");
        assert.equal(provider.name, "registry-docker");
        assert.equal(provider.inputs.host, "ssh://ops@10.0.0.9");
        for (const c of mocks.ofType("command:local:Command")) assert.equal(c.inputs.environment.DOCKER_HOST, "ssh://ops@10.0.0.9");
    });

    test("a docker provider given with several hosts is refused: each host has its own daemon", async () => {
        await pulumi.runtime.setMocks(new Recorder(), "private-registry", "dev", false);
        const own = new docker.Provider("edge-box", { host: "ssh://ops@edge.example.com" });
        assert.throws(
            () => new PrivateRegistry("registry", SEVERAL as never, { provider: own }),
            /a docker provider given to PrivateRegistry serves one host; with `hosts`, each host's own dockerHost/,
        );
        await pulumi.runtime.disconnect();
    });
});
