// Pebble, Let's Encrypt's ACME test server, as the CA of local stacks. Pure renderers. Its
// name, ports and URLs on the stack's network are settings/pebbleAddress.ts's: the settings
// need its directory URL too.
import { PEBBLE_ACME_PORT, PEBBLE_MANAGEMENT_PORT } from "../settings/pebbleAddress";
import type { Settings } from "../settings/types";
import { NGINX_HTTP_PORT, NGINX_HTTPS_PORT } from "./ports";
import { renderTemplate } from "./template";

export const PEBBLE_CONFIG_PATH = "/test/config/registry-pebble.json";
/** The official image keeps its listener certificate and CA here. */
export const PEBBLE_CERTS_DIR = "/test/certs";
/** Pebble's DNS server on the stack's network (HTTP-01): its name there, port and script. */
export const PEBBLE_RESOLVER_ALIAS = "pebble-resolver";
export const PEBBLE_RESOLVER_PORT = 53;
export const PEBBLE_RESOLVER_PATH = "/usr/local/lib/registry/pebble-resolver.py";

/** Pebble validates HTTP-01 on port 80 of the domain, which its resolver answers with nginx's address. */
export function renderPebbleConfig(certificateDays?: number): string {
    return renderTemplate("pebble.json.mustache", {
        acmePort: PEBBLE_ACME_PORT,
        managementPort: PEBBLE_MANAGEMENT_PORT,
        certsDir: PEBBLE_CERTS_DIR,
        httpPort: NGINX_HTTP_PORT,
        tlsPort: NGINX_HTTPS_PORT,
        validitySeconds: certificateDays === undefined ? undefined : certificateDays * 86400,
    });
}

/**
 * Pebble's DNS server: for DNS-01, the one given (pebbleDnsServer; else its container's own
 * resolver); for HTTP-01, its resolver (renderPebbleResolver), which sends every name to nginx.
 */
export function pebbleDnsServer(s: Pick<Settings, "acme">): string | undefined {
    if (s.acme.challenge.kind === "dns") return s.acme.pebbleDnsServer;
    return `${PEBBLE_RESOLVER_ALIAS}:${PEBBLE_RESOLVER_PORT}`;
}

/**
 * The resolver's script (configs/templates/pebble-resolver.py.mustache): every name resolves
 * to `target`, the nginx container's name on the stack's network. The names being validated
 * are nowhere in it, so a new domain changes no container.
 */
export function renderPebbleResolver(target: string): string {
    return renderTemplate("pebble-resolver.py.mustache", { alias: PEBBLE_RESOLVER_ALIAS, target, port: PEBBLE_RESOLVER_PORT });
}

const PEBBLE_ENV = [
    // No random sleeps before validation, no random nonce rejections: deterministic and fast.
    "PEBBLE_VA_NOSLEEP=1",
    "PEBBLE_WFE_NONCEREJECT=0",
];

/**
 * Pebble's environment. A stack rehearsing DNS-01 gets no reused authorizations (Pebble reuses
 * half by default): every issuance and renewal sets and checks its TXT record, as a
 * production renewal does once Let's Encrypt's authorizations expire.
 */
export function pebbleEnv(dnsChallenge: boolean): string[] {
    return dnsChallenge ? [...PEBBLE_ENV, "PEBBLE_AUTHZREUSE=0"] : PEBBLE_ENV;
}
