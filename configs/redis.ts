// Redis as the containers see it: the registry config's `redis` section, where its CA and
// password are, and the redis.conf of the Redis this program runs with runOn (the hosts' shared
// blob descriptor cache and GC coordination, configs/templates/gc-coordinator.py.mustache).
// The `redis` field itself is parsed by settings/redis.ts. Pure.
import { isIP } from "node:net";
import { redisPasswordProblem } from "../settings/redis";
import { show } from "../settings/show";
import type { RedisSettings } from "../settings/types";
import { ipScope } from "../settings/validators";
import { renderTemplate } from "./template";

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
 * Where the Redis this program runs is published: redis.address's IP, the one its clients use
 * (parseRedis, settings/redis.ts, has checked that it is one).
 */
export function redisPublishAddress(r: RedisSettings): string {
    if (isIP(r.host) === 0 || ipScope(r.host) === "unspecified")
        throw new Error(`redis.address: ${show(r.host)} is not one IP address to publish Redis on`);
    return r.host;
}
