// Pebble, Let's Encrypt's ACME test server, as the CA of local stacks. Pure renderers.
import { NGINX_HTTP_PORT, NGINX_HTTPS_PORT } from "./ports";
import { renderTemplate } from "./template";

export const PEBBLE_CONFIG_PATH = "/test/config/registry-pebble.json";
/** The official image keeps its listener certificate and CA here. */
export const PEBBLE_CERTS_DIR = "/test/certs";
/** Pebble's name on the stack's network, and its ports: ACME, and management (its roots). */
export const PEBBLE_ALIAS = "pebble";
export const PEBBLE_ACME_PORT = 14000;
export const PEBBLE_MANAGEMENT_PORT = 15000;
export const PEBBLE_DIRECTORY_URL = `https://${PEBBLE_ALIAS}:${PEBBLE_ACME_PORT}/dir`;
export const PEBBLE_ROOTS_URL = `https://${PEBBLE_ALIAS}:${PEBBLE_MANAGEMENT_PORT}/roots/0`;

/** Pebble validates HTTP-01 on port 80 of the domain, which resolves to nginx on the network. */
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
