// The `redis` field: the hosts' shared blob descriptor cache and where they coordinate garbage
// collection, parsed into RedisSettings. An external Redis (password and TLS), or one this
// program runs on one of the hosts (runOn). Pure; configs/redis.ts renders what the
// containers are given.
import { isIP } from "node:net";
import type { Fields } from "./fields";
import { pemCertificates } from "./pem";
import { show } from "./show";
import type { HostSettings, RedisSettings } from "./types";
import { ipScope, isValidDomain, splitHostPort } from "./validators";

const REDIS_FIELDS = ["address", "password", "tls", "caCertificate", "db", "runOn"];

/** What is wrong with a Redis password (it goes into YAML and Redis' own config), or undefined. */
export function redisPasswordProblem(password: string): string | undefined {
    if (password.length < 16 || password.length > 512) return `expected 16 to 512 characters, got ${password.length}`;
    if (!/^[\x21-\x7e]+$/.test(password) || /["'\\]/.test(password))
        return "expected printable ASCII without spaces, quotes or backslashes";
    return undefined;
}

export function parseRedis(f: Fields, hosts: HostSettings[]): RedisSettings | undefined {
    const value = f.map("redis", {}, "a map { address, password?, tls?, caCertificate?, db?, runOn? }");
    if (value === undefined || Object.keys(value).length === 0) return undefined;
    const r = f.within("redis", value);
    for (const k of Object.keys(value)) if (!REDIS_FIELDS.includes(k)) r.problem(k, `unknown field; expected ${REDIS_FIELDS.join(", ")}`);
    const address = r.text("address") ?? "";
    const server = splitHostPort(address);
    const host = server?.host ?? "";
    if (!server || (isIP(host) === 0 && !isValidDomain(host.toLowerCase())))
        r.bad("address", address, "host:port of the Redis server, such as redis.internal.example.com:6379 or 10.0.0.5:6379");
    const password = r.secret("password", value.password, redisPasswordProblem, "pulumi config set --secret --path redis.password ...");
    const tls = r.flag("tls", false);
    let caCertificate: string | undefined;
    const ca = r.text("caCertificate");
    if (ca !== undefined) {
        caCertificate = pemCertificates(ca);
        if (caCertificate === undefined)
            r.problem("caCertificate", "expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...)");
        else if (!tls) r.problem("caCertificate", "only used with tls: true");
    }
    const db = r.int("db", 0, 0, 15);
    const runOn = r.text("runOn");
    if (runOn !== undefined) {
        if (!hosts.some((h) => h.name === runOn))
            r.bad("runOn", runOn, `the name of one of hosts (${hosts.map((h) => show(h.name)).join(", ") || "none listed"})`);
        if (tls) r.problem("tls", "expected false with runOn: the Redis this program runs serves plain TCP (keep it on a private network)");
        if (password === undefined) r.problem("password", "required with runOn: the Redis this program runs always asks for one");
        const wrong = server && runOnAddressProblem(host);
        if (wrong) r.bad("address", address, wrong);
    }
    return { address, host, port: server?.port ?? 0, password, tls, caCertificate, db, runOn };
}

/**
 * With runOn, redis.address is where Redis is published, so it must be one IP address of that
 * host that the hosts' containers reach: not a name (Docker publishes on an address, and which
 * of the host's a name means is not known here), not an unspecified one (every interface, the
 * internet's side too), not loopback (inside a container, that is the container itself).
 */
function runOnAddressProblem(host: string): string | undefined {
    const expected =
        "the IP address of the runOn host on the network the hosts share, such as 10.0.0.11:6379 (with runOn, Redis is published there alone)";
    if (isIP(host) === 0) return expected;
    if (ipScope(host) === "unspecified") return `${expected}, not an unspecified address (every interface)`;
    if (ipScope(host) === "loopback") return `${expected}, not loopback (inside a container, that is the container itself)`;
    return undefined;
}
