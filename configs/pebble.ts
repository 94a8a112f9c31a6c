// Pebble, Let's Encrypt's ACME test server, as the CA of local stacks. Pure renderers.
import { renderTemplate } from "./template";

export const PEBBLE_CONFIG_PATH = "/test/config/registry-pebble.json";
/** The official image keeps its listener certificate and CA here. */
export const PEBBLE_CERTS_DIR = "/test/certs";

/** Pebble validates HTTP-01 on port 80 of the domain, which resolves to nginx on the network. */
export function renderPebbleConfig(certificateDays?: number): string {
    return renderTemplate("pebble.json.mustache", { validitySeconds: certificateDays === undefined ? undefined : certificateDays * 86400 });
}

export const PEBBLE_ENV = [
    // No random sleeps before validation, no random nonce rejections: deterministic and fast.
    "PEBBLE_VA_NOSLEEP=1",
    "PEBBLE_WFE_NONCEREJECT=0",
];
