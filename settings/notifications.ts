// The `notifications` field: webhook endpoints the registry sends its events to (distribution's
// `notifications.endpoints`), parsed into typed settings. Pure, like everything in settings/.
// Header values are secrets (an Authorization header must be stored as one): they reach the
// registry only inside its config.yml, itself a secret in the state (configs/notifications.ts).
import { DEFAULTS } from "./defaults";
import { Fields } from "./fields";
import { show } from "./show";
import { DeferredSecret, NotificationEndpoint, Secret, SecretValue } from "./types";
import { parseUrl } from "./validators";

const ENDPOINT_FIELDS = ["name", "url", "headers", "timeout", "threshold", "backoff", "ignoredMediaTypes"] as const;
const EXPECTED = "a list of { name, url, headers?, timeout?, threshold?, backoff?, ignoredMediaTypes? }";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// RFC 9110 token: a header's name.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
// A header's value: visible ASCII and spaces, one line.
const HEADER_VALUE = /^[\x20-\x7e]{1,4096}$/;
// Headers distribution or the HTTP client sets itself.
const RESERVED_HEADERS = ["content-type", "content-length", "host", "transfer-encoding", "connection"];
// Headers whose values are credentials: refused in plain text in the stack file.
const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization"];
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
const DURATION = /^(\d{1,7})(ms|s|m)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Defaults of an endpoint's optional fields (distribution's documented example values, a longer timeout). */
export const ENDPOINT_DEFAULTS = { timeout: "5s", threshold: 5, backoff: "1s" } as const;

/** What is wrong with a header value (one line of visible ASCII, 1-4096 characters), or undefined. */
export function headerValueProblem(value: string): string | undefined {
    return HEADER_VALUE.test(value) ? undefined : "expected 1-4096 visible ASCII characters or spaces, on one line";
}

/** Milliseconds of a duration such as 500ms, 5s or 1m; undefined when it is not one. */
export function durationMs(text: string): number | undefined {
    const m = DURATION.exec(text);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

/** Parses `notifications`: every endpoint, every problem named by its key. */
export function parseNotifications(f: Fields): NotificationEndpoint[] {
    const list = f.list("notifications", [...DEFAULTS.notifications], EXPECTED);
    const endpoints: NotificationEndpoint[] = [];
    const names: string[] = [];
    (list ?? []).forEach((item, i) => {
        const at = `notifications[${i}]`;
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
            f.problem(at, "expected { name, url, headers?, timeout?, threshold?, backoff?, ignoredMediaTypes? }");
            return;
        }
        const value = item as Record<string, unknown>;
        const v = f.within(at, value);
        const count = f.problems.length;
        f.unknownFields(at, value, ENDPOINT_FIELDS);
        const endpoint: NotificationEndpoint = {
            name: parseName(v, names),
            url: parseUrlField(v),
            headers: parseHeaders(v, at),
            timeout: parseDuration(v, "timeout", ENDPOINT_DEFAULTS.timeout, 100, 300_000),
            threshold: v.int("threshold", ENDPOINT_DEFAULTS.threshold, 1, 1000),
            backoff: parseDuration(v, "backoff", ENDPOINT_DEFAULTS.backoff, 100, 3_600_000),
            ignoredMediaTypes: parseMediaTypes(v),
        };
        if (f.problems.length === count) endpoints.push(endpoint);
    });
    return endpoints;
}

function parseName(v: Fields, before: string[]): string {
    const name = v.text("name");
    if (name === undefined) v.problem("name", "required: a name for the endpoint in the registry's logs, e.g. audit");
    else if (!NAME.test(name)) v.bad("name", name, "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    else if (before.includes(name)) v.problem("name", `${show(name)} is used by another endpoint`);
    if (name !== undefined) before.push(name);
    return name ?? "";
}

function parseUrlField(v: Fields): string {
    const given = v.text("url");
    if (given === undefined) {
        v.problem("url", "required: the http:// or https:// URL the registry POSTs its events to");
        return "";
    }
    const url = parseUrl(given);
    if (url && (url.username || url.password)) {
        // The URL is shown in messages and previews: credentials belong in a secret header.
        v.problem(
            "url",
            "expected a URL without credentials (user:password@), got one with credentials, not shown; send them as a secret header",
        );
        return "";
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.hash || /\s/.test(given))
        v.bad("url", given, "an http:// or https:// URL such as https://events.example.com/registry");
    return url ? url.toString() : "";
}

function parseHeaders(v: Fields, at: string): Record<string, SecretValue> {
    const headers: Record<string, SecretValue> = {};
    const value = v.map("headers", {}, "a map of header name to value, e.g. { Authorization: secret }");
    for (const [name, given] of Object.entries(value ?? {})) {
        const path = `headers.${name}`;
        if (!HEADER_NAME.test(name)) {
            v.problem("headers", `${show(name)} is not a header name (letters, digits and !#$%&'*+.^_\`|~-)`);
            continue;
        }
        if (RESERVED_HEADERS.includes(name.toLowerCase())) {
            v.problem("headers", `${show(name)} is set by the registry itself`);
            continue;
        }
        if (given === undefined || given === null || given === "") {
            v.problem(path, "expected a value");
            continue;
        }
        const hint = `pulumi config set --secret --path '${at}.headers.${name}' ...`;
        if (typeof given !== "string") {
            // A program's Input: checked by the component once it resolves.
            headers[name] = new DeferredSecret(given);
        } else if (CREDENTIAL_HEADERS.includes(name.toLowerCase())) {
            const secret = v.secret(path, given, headerValueProblem, hint);
            if (secret) headers[name] = secret;
        } else {
            // Any other value may be plain text; it is still handled as a secret from here on.
            const wrong = headerValueProblem(given);
            if (wrong) v.problem(path, wrong);
            else headers[name] = new Secret(given);
        }
    }
    return headers;
}

function parseDuration(v: Fields, key: string, fallback: string, minMs: number, maxMs: number): string {
    const raw = v.raw(key);
    const text = typeof raw === "number" ? `${raw}s` : v.text(key, fallback);
    const ms = durationMs(text);
    if (ms === undefined || ms < minMs || ms > maxMs)
        v.bad(key, raw, `a duration from ${minMs}ms to ${maxMs / 1000}s such as 500ms, 5s or 1m (or a number of seconds)`);
    else return text;
    return fallback;
}

function parseMediaTypes(v: Fields): string[] {
    const list = v.list("ignoredMediaTypes", [], "a list of media types, e.g. [application/octet-stream] (layers)");
    const types: string[] = [];
    (list ?? []).forEach((given, i) => {
        const text = typeof given === "string" ? given.trim().toLowerCase() : "";
        if (!MEDIA_TYPE.test(text)) v.bad(`ignoredMediaTypes[${i}]`, given, "a media type such as application/octet-stream");
        else if (!types.includes(text)) types.push(text);
    });
    return types;
}
