// examples/consumer reads the registry stack's outputs through a StackReference and pushes an
// image with the first user's credentials; the password stays a secret on the way.
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { isSecretWrapper, ROOT, settleOutputs, unwrapSecrets } from "../harness/program";

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
                            outputs: {
                                url: "https://registry.example.com",
                                host: "registry.example.com",
                                userNames: ["ci"],
                                passwords: { ci: "s3cret-password-1" },
                            },
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
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a program runs when loaded, after the mocks are set
    const program = require(path.join(ROOT, "examples", "consumer", "index.ts"));
    const outputs = await settleOutputs(program);
    assert.equal(outputs.registryUrl.value, "https://registry.example.com");
    const image = seen.find((r) => r.type === "docker:index/image:Image");
    assert.ok(image, "an image is built and pushed");
    assert.equal(image.inputs.imageName, "registry.example.com/examples/hello:1");
    assert.equal(image.inputs.build.context, path.join(ROOT, "examples", "consumer", "app"));
    // The engine sees the whole registry block as secret as soon as its password is.
    assert.ok(isSecretWrapper(image.inputs.registry), "the credentials stay a secret");
    assert.deepEqual(unwrapSecrets(image.inputs.registry), {
        server: "registry.example.com",
        username: "ci",
        password: "s3cret-password-1",
    });
});
