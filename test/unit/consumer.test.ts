// examples/consumer reads the registry stack's outputs through a StackReference; secrets
// stay secrets on the way into its Docker provider.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { isSecretWrapper, ROOT } from "../harness/program";

test("the consumer example wires host and credentials from the registry stack", async () => {
    const seen: pulumi.runtime.MockResourceArgs[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                seen.push(args);
                if (args.type === "pulumi:pulumi:StackReference") {
                    return {
                        id: args.inputs.name,
                        state: {
                            name: args.inputs.name,
                            outputs: { url: "https://registry.example.com", host: "registry.example.com", userNames: ["ci"], passwords: { ci: "s3cret-password-1" } },
                            secretOutputNames: ["passwords"],
                        },
                    };
                }
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: () => ({}),
        },
        "registry-consumer",
        "prod",
        false,
    );
    pulumi.runtime.setAllConfig({ "registry-consumer:registryStack": "org/private-registry/prod" });
    const program = require(path.join(ROOT, "examples", "consumer", "index.ts"));
    await new Promise<void>((resolve) => (program.registryUrl as pulumi.Output<unknown>).apply(() => resolve()));
    await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
    const provider = seen.find((r) => r.type === "pulumi:providers:docker");
    assert.ok(provider, "a docker provider is declared");
    // Provider config arrives JSON-encoded; the whole registryAuth is a secret.
    const auth = provider.inputs.registryAuth;
    assert.ok(isSecretWrapper(auth), "registryAuth (with the password) stays a secret");
    const entry = JSON.parse(auth.value as string) as { address: string; username: string; password: string }[];
    assert.equal(entry[0].address, "registry.example.com");
    assert.equal(entry[0].username, "ci");
    const pw = entry[0].password;
    assert.equal(pw, "s3cret-password-1");
});
