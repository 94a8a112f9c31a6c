// Redis: the hosts' shared blob descriptor cache (distribution's `cache.blobdescriptor: redis`)
// and where they coordinate garbage collection (configs/templates/gc-coordinator.py.mustache).
// An external Redis (password and TLS), or one this program runs on one of the hosts. Pure.
import { isIP } from "node:net";
import type { Fields } from "./fields";
import type { HostSettings } from "./hosts";
import { pemCertificates } from "./pem";
import { SecretValue } from "./secret";
import { show } from "./show";
import { renderTemplate } from "./template";
import { ipScope, isValidDomain, splitHostPort } from "./validators";

export interface RedisSettings {
    /** host:port every host's containers reach Redis at. */
    address: string;
    host: string;
    port: number;
    password?: SecretValue;
    tls: boolean;
    /** PEM of a private CA that signed the Redis server's certificate (tls only). */
    caCertificate?: string;
    db: number;
    /** The host (of `hosts`) that runs Redis as a container; undefined: an external Redis. */
    runOn?: string;
}

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

/** Where Redis' CA (or the system roots) and password are, in the containers that talk to it. */
export const REDIS_CA_PATH = "/etc/registry-redis/ca.crt";
export const SYSTEM_ROOTS_PATH = "/etc/ssl/certs/ca-certificates.crt";
/** The Redis this program runs: its config (with requirepass), its port in the container, its memory cap. */
export const REDIS_SERVER_CONF = "/etc/registry-redis/redis.conf";
export const REDIS_CONTAINER_PORT = 6379;
export const REDIS_MAX_MEMORY = "256mb";

/** The registry config's `redis` section (YAML, with the password: handle as a secret). */
export function registryRedisView(r: RedisSettings, password: string | undefined): object {
    return {
        address: r.address,
        password: password === undefined ? false : JSON.stringify(password),
        db: r.db,
        rootCa: r.tls ? (r.caCertificate ? REDIS_CA_PATH : SYSTEM_ROOTS_PATH) : false,
    };
}

/** redis.conf of the Redis this program runs: a cache (allkeys-lru, nothing on disk) behind a password. */
export function renderRedisServerConf(password: string): string {
    if (redisPasswordProblem(password)) throw new Error("redis.password: not a valid password");
    return renderTemplate("redis.conf.mustache", { port: REDIS_CONTAINER_PORT, password, maxMemory: REDIS_MAX_MEMORY });
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

/** Where the Redis this program runs is published: redis.address's IP, the one its clients use (see parseRedis). */
export function redisPublishAddress(r: RedisSettings): string {
    if (isIP(r.host) === 0 || ipScope(r.host) === "unspecified")
        throw new Error(`redis.address: ${show(r.host)} is not one IP address to publish Redis on`);
    return r.host;
}
