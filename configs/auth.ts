// The registry's authentication in nginx (configs/templates/registry-auth.js.mustache): njs
// checks credentials by bcrypt once, remembers them for a while as keyed hashes in shared
// memory, limits failures (counting each verification before it starts) by address and
// answers every failure after the same time. Pure: settings in, text out.
import { GRANTS_VARIABLE, HTPASSWD_VARIABLE, PULL_USERS_VARIABLE, USERS_VARIABLE } from "./htpasswd";
import { NGINX_VERIFY_PORT } from "./ports";
import { GC_FLAG } from "./registry";
import { renderTemplate } from "./template";

/** Where the official nginx images and Debian's libnginx-mod-http-js install njs. */
export const NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so";
/** The module's file, in the config volume's njs directory. */
export const AUTH_MODULE_FILE = "registry-auth.js";
/** The module's name in nginx's config (`js_import <name> from …`). */
export const AUTH_MODULE = "registry_auth";
/** The internal location every registry request is checked by (auth_request). */
export const AUTH_LOCATION = "/_registry_auth";
/**
 * bcrypt, by nginx's auth_basic, in a server on the container's own loopback: nginx skips the
 * access phase (auth_basic) in subrequests, so the check asks it with a real request (ngx.fetch).
 */
export const VERIFY_PATH = "/verify";
export const VERIFY_URL = `http://127.0.0.1:${NGINX_VERIFY_PORT}${VERIFY_PATH}`;
export const AUTH_REALM = "Registry";
/** The request's normalised path ($uri), kept for the check: a subrequest's own $uri is the check's location. */
export const PATH_VARIABLE = "$registry_path";
/**
 * The URI the registry gets instead of the client's, when the check sets one (a mount whose
 * source the user may not pull, without its mount parameters); empty: the client's own.
 */
export const UPSTREAM_URI_VARIABLE = "$registry_upstream_uri";

/** How long verified credentials are remembered (the bound: at most 5 minutes). */
export const AUTH_CACHE_SECONDS = 300;
/** How long wrong credentials are remembered (answered without bcrypt). */
export const AUTH_REJECTED_SECONDS = 60;
/**
 * Failed logins an address may make per window before it gets 429; bcrypt verifications in
 * flight count too, so no burst gets more verified than this.
 */
export const AUTH_FAILURE_LIMIT = 10;
/** A window begins with an address's first counted request (see above) when none is running, and lasts this long. */
export const AUTH_FAILURE_WINDOW_SECONDS = 60;
/** How long concurrent requests with the same new credentials wait for one verification. */
export const AUTH_COALESCE_SECONDS = 3;
/** The least time a failed login takes (every failure takes the same time, see the module). */
export const AUTH_MIN_FAILURE_MS = 100;
/** Retry-After of writes refused during garbage collection. */
export const GC_RETRY_AFTER_SECONDS = 30;

/** What the module remembers and limits, and for how long. */
export interface AuthLimits {
    cacheSeconds: number;
    rejectedSeconds: number;
    failureLimit: number;
    failureWindowSeconds: number;
    coalesceSeconds: number;
    minFailureMs: number;
}

export const AUTH_LIMITS: AuthLimits = {
    cacheSeconds: AUTH_CACHE_SECONDS,
    rejectedSeconds: AUTH_REJECTED_SECONDS,
    failureLimit: AUTH_FAILURE_LIMIT,
    failureWindowSeconds: AUTH_FAILURE_WINDOW_SECONDS,
    coalesceSeconds: AUTH_COALESCE_SECONDS,
    minFailureMs: AUTH_MIN_FAILURE_MS,
};

export interface AuthZone {
    name: string;
    size: string;
    timeoutSeconds?: number;
    number?: boolean;
}

/**
 * njs shared-memory zones for a module rendered with `limits`, named by it. What is remembered
 * lives for its zone's timeout. A window's count (`failures`, one key per address and window
 * start) is read until the window ends, and a window's start (`windows`, one key per address
 * and the slot of the window's length it began in) until the end of the next slot: their
 * timeouts cover that, and only free memory: the module decides by the times the entries hold.
 */
export function authZones(limits: AuthLimits) {
    return {
        verified: { name: "registry_auth_verified", size: "1m", timeoutSeconds: limits.cacheSeconds },
        rejected: { name: "registry_auth_rejected", size: "1m", timeoutSeconds: limits.rejectedSeconds },
        pending: { name: "registry_auth_pending", size: "256k", timeoutSeconds: limits.coalesceSeconds * 2 },
        failures: { name: "registry_auth_failures", size: "1m", timeoutSeconds: limits.failureWindowSeconds, number: true },
        windows: { name: "registry_auth_windows", size: "1m", timeoutSeconds: limits.failureWindowSeconds * 2 },
        state: { name: "registry_auth_state", size: "64k" },
        // What the module did, for the metrics endpoint (configs/metrics.ts): a few keys, never expiring.
        counters: { name: "registry_auth_counters", size: "64k", number: true },
    } satisfies Record<string, AuthZone>;
}

/** The product's zones, declared in nginx.conf. */
export const AUTH_ZONES = authZones(AUTH_LIMITS);

/** bcrypt's time before the first verification measures it: about 100 ms at cost 10, doubling per step. */
export function initialBcryptMs(cost: number): number {
    return Math.round(100 * 2 ** (cost - 10));
}

/**
 * The njs module, installed beside nginx.conf. `controlDir`: where nginx sees the GC flag;
 * `limits`: the product's, unless a test shortens them (and declares authZones(limits)).
 */
export function renderAuthModule(bcryptCost: number, controlDir: string, limits: AuthLimits = AUTH_LIMITS): string {
    return renderTemplate("registry-auth.js.mustache", {
        zones: Object.fromEntries(Object.entries(AUTH_ZONES).map(([k, z]) => [k, z.name])),
        ...limits,
        initialBcryptMs: initialBcryptMs(bcryptCost),
        gcFlagPath: `${controlDir}/${GC_FLAG}`,
        verifyUrl: VERIFY_URL,
        realm: AUTH_REALM,
        // njs reads nginx variables by name, without the `$`.
        htpasswdVariableName: HTPASSWD_VARIABLE.slice(1),
        usersVariableName: USERS_VARIABLE.slice(1),
        pullUsersVariableName: PULL_USERS_VARIABLE.slice(1),
        grantsVariableName: GRANTS_VARIABLE.slice(1),
        pathVariableName: PATH_VARIABLE.slice(1),
    });
}
