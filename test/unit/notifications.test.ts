// Notifications: the `notifications` setting parsed (defaults, every problem named by its key,
// header values as secrets), and the registry's config.yml with its notifications section, read
// back as distribution reads YAML; the registry container joins the stack's network for them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";
import { renderRegistryConfig } from "../../configs/registry";
import { renderNotifications } from "../../configs/notifications";
import { durationMs } from "../../settings/notifications";
import { ARGS_NAMING, ConfigError, parseSettings, stackNaming } from "../../settings/parse";
import { RawConfig } from "../../settings/defaults";
import { SecretPaths } from "../../settings/secretPaths";
import { DeferredSecret, Secret } from "../../settings/types";
import { isSecretWrapper, runProgram, unwrapSecrets } from "../harness/program";
import { Recorder } from "../harness/recorder";

const TOKEN = "Bearer tok-0123456789abcdef";
const DEV = { domain: "registry.test", acmeServer: "pebble", bindAddress: "127.0.0.1", httpPort: 8080, httpsPort: 8443 };
const ENDPOINT = { name: "audit", url: "https://events.example.com/registry", headers: { Authorization: TOKEN } };

/** Stack config: lists as JSON text, `secret` the paths stored encrypted. */
const stack = (notifications: unknown, secret: string[] = ["notifications[0].headers.Authorization"]) =>
    parseSettings(
        { domain: "r.example.com", notifications: JSON.stringify(notifications) } as RawConfig,
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

describe("notifications setting", () => {
    test("none by default; an endpoint gets distribution's example values, a longer timeout", () => {
        assert.deepEqual(parseSettings({ domain: "r.example.com" }, "dev").notifications, []);
        const [e] = stack([ENDPOINT]).notifications;
        assert.equal(e.name, "audit");
        assert.equal(e.url, "https://events.example.com/registry");
        assert.equal(e.timeout, "5s");
        assert.equal(e.threshold, 5);
        assert.equal(e.backoff, "1s");
        assert.deepEqual(e.ignoredMediaTypes, []);
        assert.ok(e.headers.Authorization instanceof Secret);
        assert.equal(e.headers.Authorization.reveal(), TOKEN);
    });

    test("every field as given: durations, a number of seconds, media types lower-cased and once", () => {
        const [e] = stack([
            {
                ...ENDPOINT,
                headers: { ...ENDPOINT.headers, "X-Source": "registry" },
                timeout: "500ms",
                threshold: 10,
                backoff: 30,
                ignoredMediaTypes: ["Application/Octet-Stream", "application/octet-stream"],
            },
        ]).notifications;
        assert.equal(e.timeout, "500ms");
        assert.equal(e.threshold, 10);
        assert.equal(e.backoff, "30s");
        assert.deepEqual(e.ignoredMediaTypes, ["application/octet-stream"]);
        assert.deepEqual(Object.keys(e.headers), ["Authorization", "X-Source"]);
        assert.equal(durationMs("1m"), 60_000);
        assert.equal(durationMs("1h"), undefined);
    });

    test("an Authorization header in plain text is refused, naming its key; other headers may be plain", () => {
        assert.deepEqual(
            problemsOf(() => stack([ENDPOINT], [])),
            [
                "private-registry:notifications[0].headers.Authorization: must be stored as a secret: `pulumi config set --secret --path 'notifications[0].headers.Authorization' ...`",
            ],
        );
        assert.equal(stack([{ ...ENDPOINT, headers: { "X-Source": "registry" } }], []).notifications.length, 1);
    });

    test("every problem at once, each naming its key; a secret's value never echoed", () => {
        const problems = problemsOf(() =>
            stack([
                {
                    url: "ftp://example.com/x",
                    headers: { Host: "x", "bad name": "y", Authorization: "two\nlines" },
                    timeout: "9h",
                    threshold: 0,
                    extra: 1,
                },
                { name: "a", url: "https://user:pw@example.com/", ignoredMediaTypes: ["nope"] },
                { name: "a", url: "http://b.example.com/" },
                "text",
            ]),
        );
        assert.deepEqual(problems, [
            'private-registry:notifications[0]: unknown field "extra"; expected one of name, url, headers, timeout, threshold, backoff, ignoredMediaTypes',
            "private-registry:notifications[0].name: required: a name for the endpoint in the registry's logs, e.g. audit",
            "private-registry:notifications[0].url: expected an http:// or https:// URL such as https://events.example.com/registry, got a secret value",
            'private-registry:notifications[0].headers: "Host" is set by the registry itself',
            `private-registry:notifications[0].headers: "bad name" is not a header name (letters, digits and !#$%&'*+.^_\`|~-)`,
            "private-registry:notifications[0].headers.Authorization: expected 1-4096 visible ASCII characters or spaces, on one line",
            "private-registry:notifications[0].timeout: expected a duration from 100ms to 300s such as 500ms, 5s or 1m (or a number of seconds), got a secret value",
            "private-registry:notifications[0].threshold: expected an integer from 1 to 1000, got a secret value",
            "private-registry:notifications[1].url: expected a URL without credentials (user:password@), got one with credentials, not shown; send them as a secret header",
            "private-registry:notifications[1].ignoredMediaTypes[0]: expected a media type such as application/octet-stream, got a secret value",
            'private-registry:notifications[2].name: "a" is used by another endpoint',
            "private-registry:notifications[3]: expected { name, url, headers?, timeout?, threshold?, backoff?, ignoredMediaTypes? }",
        ]);
        assert.ok(!problems.join("\n").includes("two"), "the header's value is not echoed");
    });

    test("without a secret under it, values are shown; not a list is refused", () => {
        assert.deepEqual(
            problemsOf(() => stack([{ name: "a", url: "mailto:x@example.com" }], [])),
            [
                'private-registry:notifications[0].url: expected an http:// or https:// URL such as https://events.example.com/registry, got "mailto:x@example.com"',
            ],
        );
        assert.deepEqual(
            problemsOf(() => stack({ name: "a" }, [])),
            [
                "private-registry:notifications: expected a list of { name, url, headers?, timeout?, threshold?, backoff?, ignoredMediaTypes? }",
            ],
        );
    });

    test("a program's header may be an Input: deferred, checked by the component once it resolves", () => {
        const input = Promise.resolve(TOKEN);
        const s = parseSettings(
            { domain: "r.example.com", notifications: [{ ...ENDPOINT, headers: { Authorization: input } }] },
            "dev",
            ARGS_NAMING,
        );
        const value = s.notifications[0].headers.Authorization;
        assert.ok(value instanceof DeferredSecret);
        assert.equal(value.input, input);
        assert.equal(JSON.stringify(s.notifications[0].headers), '{"Authorization":"[secret]"}', "printed, it shows no value");
    });
});

describe("notifications in the registry's config.yml", () => {
    test("endpoints as distribution reads them: headers as lists, durations, ignored media types", () => {
        const s = stack([
            {
                ...ENDPOINT,
                headers: { Authorization: TOKEN, "X-Q": 'a "quoted" \\ value' },
                ignoredMediaTypes: ["application/octet-stream"],
            },
            { name: "second", url: "http://hooks.internal:8080/x?y=1" },
        ]);
        for (const mode of ["read-write", "read-only"] as const) {
            const config = yaml.load(renderRegistryConfig(s, "abc123", mode, undefined, [[TOKEN, 'a "quoted" \\ value'], []])) as Record<
                string,
                unknown
            >;
            assert.deepEqual(config.notifications, {
                endpoints: [
                    {
                        name: "audit",
                        url: "https://events.example.com/registry",
                        headers: { Authorization: [TOKEN], "X-Q": ['a "quoted" \\ value'] },
                        timeout: "5s",
                        threshold: 5,
                        backoff: "1s",
                        ignore: { mediatypes: ["application/octet-stream"] },
                    },
                    { name: "second", url: "http://hooks.internal:8080/x?y=1", timeout: "5s", threshold: 5, backoff: "1s" },
                ],
            });
            assert.ok((config.health as object) !== undefined, "the rest of the config stays");
        }
    });

    test("no endpoints: no notifications section; a missing header value is an error, not an empty header", () => {
        const config = yaml.load(renderRegistryConfig(parseSettings({ domain: "r.example.com" }, "dev"), "abc123")) as Record<
            string,
            unknown
        >;
        assert.equal(config.notifications, undefined);
        assert.throws(
            () => renderNotifications(stack([ENDPOINT]).notifications, []),
            /notifications\[0\]\.headers\.Authorization: no value/,
        );
    });
});

describe("notifications in the program (Pulumi mocks)", () => {
    test("the registry joins the stack's network for its webhooks; the header is only in its secret config files", async () => {
        const mocks = new Recorder(false);
        await runProgram({
            config: { ...DEV, notifications: [ENDPOINT] },
            secretKeys: ["notifications[0].headers.Authorization"],
            mocks,
        });
        const registry = mocks.byName("registry-registry");
        assert.equal(registry.inputs.networkMode, undefined);
        assert.deepEqual(registry.inputs.networksAdvanced, [{ name: "registry-test-net" }]);
        const plain = JSON.stringify(mocks.ofType("docker:index/container:Container").map((c) => plainOf(c.inputs)));
        assert.ok(!plain.includes("tok-0123456789abcdef"), "the header's value is in no plain input");
        // Uploads holding a secret are kept secret as a whole.
        assert.ok(isSecretWrapper(registry.inputs.uploads), "the registry's files are a secret");
        const uploads = unwrapSecrets(registry.inputs.uploads) as { file: string; content: string }[];
        const configs = uploads.filter((u) => u.file.endsWith(".yml"));
        assert.equal(configs.length, 2);
        for (const u of configs) assert.match(u.content, /"Authorization": \["Bearer tok-0123456789abcdef"\]/, u.file);
    });
});

/** The inputs with every secret wrapper's value left out. */
function plainOf(value: unknown): unknown {
    if (isSecretWrapper(value)) return "[secret]";
    if (Array.isArray(value)) return value.map(plainOf);
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainOf(v)]));
    return value;
}
