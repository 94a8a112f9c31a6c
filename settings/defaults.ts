// The settings' keys and defaults, written once: Pulumi.yaml's defaults, PrivateRegistryArgs'
// documented defaults and the README's table are held equal to these by unit tests, value by
// value. Pure data.
import { PEBBLE_DIRECTORY_URL } from "./pebbleAddress";
import type { AcmeKind } from "./types";

export const PROJECT = "private-registry";

/**
 * Every optional config key with its default. Pulumi.yaml declares the same defaults (the CLI
 * requires a key that has none), and a unit test holds the two equal, value by value. An
 * empty namePrefix means registry-<stack>; an empty acmeEmail, no e-mail; a
 * pebbleCertificateDays of 0, Pebble's own lifetime; an empty certbotImage, certbot's own
 * image for the challenge (CERTBOT_IMAGE, or the DNS plugin's); a dnsPropagationSeconds of 0,
 * the plugin's own wait; an empty pebbleDnsServer, the resolver of Pebble's container.
 */
export const DEFAULTS = {
    dockerHost: "unix:///var/run/docker.sock",
    namePrefix: "",
    acmeServer: "production",
    acmeEmail: "",
    acmeKeyType: "ecdsa",
    acmeCaCertificate: "",
    acmeChallenge: "http",
    dnsPlugin: "",
    dnsCredentials: {},
    dnsPropagationSeconds: 0,
    domains: [],
    pebbleDnsServer: "",
    bindAddress: "0.0.0.0",
    httpPort: 80,
    httpsPort: 443,
    trustedProxies: [],
    registryImage: "registry:3",
    nginxImage: "nginx:stable-alpine",
    certbotImage: "",
    pebbleImage: "ghcr.io/letsencrypt/pebble:latest",
    users: { admin: { access: "push" } },
    bcryptCost: 10,
    renewCheckHours: 12,
    retainVolumes: true,
    certificateWarningDays: 10,
    pebbleCertificateDays: 0,
    gcIntervalHours: 0,
    gcDeleteUntagged: false,
    retention: [],
    retentionDryRun: true,
    storage: { driver: "filesystem" },
    labels: {},
    hosts: [],
    redis: {},
    redisImage: "redis:7-alpine",
    rolloutPauseSeconds: 10,
    notifications: [],
    metrics: {},
    mirrors: [],
} as const;

/** certbot's image for HTTP-01 (an empty certbotImage); DNS-01 uses the plugin's (settings/acmeChallenge.ts). */
export const CERTBOT_IMAGE = "certbot/certbot:latest";

export const ACME_DIRECTORIES: Record<Exclude<AcmeKind, "custom">, string> = {
    production: "https://acme-v02.api.letsencrypt.org/directory",
    staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
    // The Pebble container this program declares for local stacks, on the stack's network.
    pebble: PEBBLE_DIRECTORY_URL,
};

export const CONFIG_KEYS = [
    "dockerHost",
    "namePrefix",
    "domain",
    "acmeServer",
    "acmeEmail",
    "acmeKeyType",
    "acmeCaCertificate",
    "acmeChallenge",
    "dnsPlugin",
    "dnsCredentials",
    "dnsPropagationSeconds",
    "domains",
    "pebbleDnsServer",
    "bindAddress",
    "httpPort",
    "httpsPort",
    "trustedProxies",
    "registryImage",
    "nginxImage",
    "certbotImage",
    "pebbleImage",
    "users",
    "bcryptCost",
    "renewCheckHours",
    "retainVolumes",
    "certificateWarningDays",
    "pebbleCertificateDays",
    "gcIntervalHours",
    "gcDeleteUntagged",
    "retention",
    "retentionDryRun",
    "storage",
    "labels",
    "hosts",
    "redis",
    "redisImage",
    "rolloutPauseSeconds",
    "notifications",
    "metrics",
    "mirrors",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Raw config as Pulumi hands it over: every value a string (objects as JSON). */
export type RawConfig = Partial<Record<ConfigKey, string>>;

/** The settings' values as given: stack config strings, or typed values; secrets may be deferred. */
export type SettingsValues = Partial<Record<ConfigKey, unknown>>;

/** Key as the user types it in `pulumi config set`. */
export function qualified(key: ConfigKey): string {
    return `${PROJECT}:${key}`;
}
