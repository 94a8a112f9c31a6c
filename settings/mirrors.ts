// The `mirrors` field: pull-through caches of other registries (Docker Hub or any), each one
// more registry in distribution's proxy mode on its own host name `<name>.<domain>`, parsed
// into typed settings. Pure, like everything in settings/. The upstream's password is a
// secret: it reaches the mirror's registry only in a root-only file (configs/mirrors.ts).
import { Fields } from "./fields";
import { pemCertificates } from "./pem";
import { show } from "./show";
import type { Mirror } from "./types";
import { parseUrl } from "./validators";

const MIRROR_FIELDS = ["name", "upstream", "username", "password", "ttl", "caCertificate"] as const;
const EXPECTED = "a list of { name, upstream, username?, password? (secret), ttl?, caCertificate? }";
/** A DNS label: the mirror's host name is `<name>.<domain>`. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** One line of visible ASCII (a space inside allowed): one line each in the credentials file. */
const CREDENTIAL = /^[\x20-\x7e]{1,1024}$/;
const USERNAME = /^[\x21-\x7e]{1,256}$/;
/** 0 (never expires), or a whole number of seconds, minutes or hours, as distribution reads a Go duration. */
const TTL = /^(0|[1-9]\d{0,6}(s|m|h))$/;
/** Docker Hub's registry, by the names it answers to: daemon.json's registry-mirrors mirrors only it. */
const DOCKER_HUB_HOSTS = ["registry-1.docker.io", "index.docker.io", "docker.io", "registry.hub.docker.com"];

/** Default of a mirror's ttl: no expiry (distribution v3.1's proxy cannot delete an expired blob: README, Mirrors). */
export const MIRROR_TTL_DEFAULT = "0";

/** What is wrong with an upstream password (one line of visible ASCII, 1-1024 characters), or undefined. */
export function mirrorPasswordProblem(password: string): string | undefined {
    return CREDENTIAL.test(password) ? undefined : "expected 1-1024 visible ASCII characters or spaces, on one line";
}

/**
 * Parses `mirrors`. `domain` is the registry's name, `taken` the names already on the
 * certificate or used by a host (a mirror's `<name>.<domain>` may be none of them).
 */
export function parseMirrors(f: Fields, domain: string, taken: string[]): Mirror[] {
    const list = f.list("mirrors", [], EXPECTED);
    const mirrors: Mirror[] = [];
    const names: string[] = [];
    (list ?? []).forEach((item, i) => {
        const at = `mirrors[${i}]`;
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
            f.problem(at, "expected { name, upstream, username?, password? (secret), ttl?, caCertificate? }");
            return;
        }
        const value = item as Record<string, unknown>;
        const v = f.within(at, value);
        const count = f.problems.length;
        f.unknownFields(at, value, MIRROR_FIELDS);
        const name = parseName(v, names, domain, taken);
        const upstream = parseUpstream(v);
        const username = v.text("username");
        if (username !== undefined && !USERNAME.test(username))
            v.bad("username", username, "1-256 visible ASCII characters without spaces");
        const password = v.secret(
            "password",
            value.password,
            mirrorPasswordProblem,
            `pulumi config set --secret --path '${at}.password' ...`,
        );
        const hasPassword = value.password !== undefined && value.password !== null && value.password !== "";
        if ((username !== undefined) !== hasPassword)
            f.problem(
                at,
                `expected both username and password, or neither (an anonymous upstream), got only ${hasPassword ? "password" : "username"}`,
            );
        if ((username !== undefined || hasPassword) && upstream && !upstream.secure)
            v.problem("upstream", "credentials are sent to the upstream: expected an https:// upstream with username and password");
        const ttl = parseTtl(v);
        const caCertificate = parseCa(v, upstream?.secure ?? true);
        if (f.problems.length > count || !upstream) return;
        mirrors.push({
            name,
            fqdn: `${name}.${domain}`,
            upstream: upstream.url,
            dockerHub: DOCKER_HUB_HOSTS.includes(upstream.host),
            credentials: username !== undefined && password ? { username, password } : undefined,
            ttl,
            caCertificate,
        });
    });
    // Let's Encrypt's limit: 100 names per certificate, the mirrors' among them.
    if (mirrors.length > 0 && taken.length + mirrors.length > 100)
        f.problem(
            "mirrors",
            `expected at most ${Math.max(0, 100 - taken.length)} mirrors (100 names per certificate, ${taken.length} taken), got ${mirrors.length}`,
        );
    return mirrors;
}

function parseName(v: Fields, before: string[], domain: string, taken: string[]): string {
    const name = v.text("name");
    if (name === undefined) {
        v.problem("name", "required: a DNS label; the mirror's host name is <name>.<domain>, e.g. hub");
        return "";
    }
    if (!LABEL.test(name)) v.bad("name", name, `a DNS label (1-63 lower-case letters, digits or '-'), e.g. hub for hub.${domain}`);
    else if (before.includes(name)) v.problem("name", `${show(name)} is used by another mirror`);
    else if (taken.includes(`${name}.${domain}`))
        v.problem("name", `${show(`${name}.${domain}`)} is already a name of the registry (domains, or a host's own name)`);
    before.push(name);
    return name;
}

/** The upstream registry's URL: scheme, host and port only. */
function parseUpstream(v: Fields): { url: string; host: string; secure: boolean } | undefined {
    const given = v.text("upstream");
    if (given === undefined) {
        v.problem("upstream", "required: the URL of the registry to mirror, e.g. https://registry-1.docker.io");
        return undefined;
    }
    const url = parseUrl(given);
    if (url && (url.username || url.password)) {
        v.problem(
            "upstream",
            "expected a URL without credentials (user:password@), got one with credentials, not shown; set username and password",
        );
        return undefined;
    }
    const plain = url && (url.protocol === "https:" || url.protocol === "http:") && !url.search && !url.hash && !/\s/.test(given);
    if (!url || !plain || (url.pathname !== "/" && url.pathname !== "")) {
        v.bad("upstream", given, "the URL of a registry such as https://registry-1.docker.io or https://ghcr.io (no path)");
        return undefined;
    }
    return { url: `${url.protocol}//${url.host}`, host: url.hostname, secure: url.protocol === "https:" };
}

function parseTtl(v: Fields): string {
    const raw = v.raw("ttl");
    const text = typeof raw === "number" ? (raw === 0 ? "0" : `${raw}s`) : v.text("ttl", MIRROR_TTL_DEFAULT);
    if (!TTL.test(text)) {
        v.bad("ttl", raw, "0 (never expires) or a duration such as 168h, 90m or 3600s");
        return MIRROR_TTL_DEFAULT;
    }
    return text;
}

function parseCa(v: Fields, secure: boolean): string | undefined {
    const given = v.text("caCertificate");
    if (given === undefined) return undefined;
    const pem = pemCertificates(given);
    if (pem === undefined) {
        v.problem("caCertificate", "expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...)");
        return undefined;
    }
    if (!secure) {
        v.problem("caCertificate", "only used with an https:// upstream");
        return undefined;
    }
    return pem;
}
