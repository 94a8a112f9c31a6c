// Where the local Pebble (acmeServer pebble) is on the stack's network: its name, its ports and
// the URLs certbot reaches it at. The settings need its directory URL (the acmeServer pebble
// stands for), and configs/ and the components need the rest, so the facts live here, below
// all of them, written once.

/** Pebble's name on the stack's network, and its ports: ACME, and management (its roots). */
export const PEBBLE_ALIAS = "pebble";
export const PEBBLE_ACME_PORT = 14000;
export const PEBBLE_MANAGEMENT_PORT = 15000;
export const PEBBLE_DIRECTORY_URL = `https://${PEBBLE_ALIAS}:${PEBBLE_ACME_PORT}/dir`;
export const PEBBLE_ROOTS_URL = `https://${PEBBLE_ALIAS}:${PEBBLE_MANAGEMENT_PORT}/roots/0`;
