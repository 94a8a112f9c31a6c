// The GC coordinator: one per host when the hosts share a Redis, beside the registry, in the
// certbot image (it has python3). Pure: settings in, the script and its files out.
import type { Settings } from "../settings/types";
import { GC_FILES, REGISTRY_CONTROL_DIR } from "./registry";
import { REDIS_CA_PATH } from "./redis";
import { renderTemplate } from "./template";

export const GC_COORDINATOR_PATH = "/usr/local/lib/registry-gc/coordinator.py";
/** Redis' password, root-only in the coordinator's container. */
export const GC_REDIS_PASSWORD_PATH = "/etc/registry-redis/password";
/** A GC's lock and state live this long without their leader refreshing them. */
export const GC_STATE_TTL_SECONDS = 120;
/** Every host must be read-only this soon (a writer drains in-flight uploads first), or the GC is called off. */
export const GC_ACK_TIMEOUT_SECONDS = 180;

/** The coordinator of host `node` (its name in `hosts`, or the name prefix of a single host). */
export function renderGcCoordinator(s: Settings, node: string): string {
    const redis = s.redis;
    if (!redis) throw new Error("the GC coordinator needs redis");
    const nodes = s.hosts.length ? s.hosts.map((h) => h.name) : [node];
    const py = (v: unknown) => JSON.stringify(v);
    return renderTemplate("gc-coordinator.py.mustache", {
        address: redis.address,
        db: redis.db,
        tls: redis.tls ? "True" : "False",
        // Python's own default roots unless a private CA signed Redis' certificate.
        caPath: redis.tls && redis.caCertificate ? py(REDIS_CA_PATH) : "None",
        passwordFile: redis.password ? py(GC_REDIS_PASSWORD_PATH) : "None",
        node,
        nodes: py(nodes),
        controlDir: REGISTRY_CONTROL_DIR,
        stateTtlSeconds: GC_STATE_TTL_SECONDS,
        ackTimeoutSeconds: GC_ACK_TIMEOUT_SECONDS,
        ...GC_FILES,
    });
}
