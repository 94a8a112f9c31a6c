// The component package's schema post-processing (plugin/schema.ts): the doc comments that say
// a property is secret mark it secret, inputs and outputs, nested types included; nothing else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { markSecrets } from "../../plugin/schema";

test("properties whose description says 'Kept secret.' or '(secret)' are marked secret, others left alone", () => {
    const schema = {
        name: "private-registry",
        resources: {
            "private-registry:index:PrivateRegistry": {
                inputProperties: {
                    domain: { type: "string", description: "Host name clients push to. Required." },
                    dnsCredentials: { type: "object", description: "The plugin's fields. Default: `{}`. Kept secret." },
                },
                properties: {
                    url: { type: "string", description: "`https://<host>`: the registry's address." },
                    passwords: { type: "object", description: "Passwords by user name (secret), handed out once nginx has them." },
                },
            },
        },
        types: {
            "private-registry:index:RegistryUserArgs": {
                properties: {
                    access: { type: "string", description: "`push` or `pull`. Default: `push`." },
                    password: { type: "string", description: "Default: a generated password. Kept secret." },
                },
            },
            "private-registry:index:UserAccess": { type: "string", enum: [{ value: "push" }] },
        },
    };
    const marked = JSON.parse(markSecrets(JSON.stringify(schema)));
    const resource = marked.resources["private-registry:index:PrivateRegistry"];
    assert.equal(resource.inputProperties.dnsCredentials.secret, true);
    assert.equal(resource.inputProperties.domain.secret, undefined);
    assert.equal(resource.properties.passwords.secret, true);
    assert.equal(resource.properties.url.secret, undefined);
    const user = marked.types["private-registry:index:RegistryUserArgs"].properties;
    assert.equal(user.password.secret, true);
    assert.equal(user.access.secret, undefined);
    assert.deepEqual(marked.types["private-registry:index:UserAccess"], schema.types["private-registry:index:UserAccess"]);
});
