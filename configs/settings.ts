// Stack config, parsed once into a typed, validated Settings object.
//
// `parseSettings` is pure: raw config strings in, Settings (or one ConfigError listing every
// problem) out. Nothing else in the program reads config, so a bad value fails before any
// resource is declared. Error messages name the key, the value given (never a secret's) and
// what is expected.
import { isIP } from "node:net";
import { Secret } from "./secret";
import { pemCertificates } from "./pem";
import { SecretPaths } from "./secretPaths";
import { show } from "./show";
import { parseStorage, StorageSettings } from "./storageSettings";

export type { S3Storage, StorageSettings } from "./storageSettings";

export const PROJECT = "private-registry";

export type Access = "push" | "pull";
export type AcmeKind = "production" | "staging" | "pebble" | "custom";
export type KeyType = "ecdsa" | "rsa";

export interface UserSettings {
    name: string;
    access: Access;
    /** Absent: a password is generated and kept in the stack's state. */
    password?: Secret;
}

export interface Settings {
    stack: string;
    /** Prefix of every container, network and volume name on the Docker host. */
    namePrefix: string;
    /** Docker daemon address used by the provider and by every command. */
    dockerHost: string;
    domain: string;
    acme: {
        kind: AcmeKind;
        /** ACME directory URL. */
        server: string;
        email?: string;
        keyType: KeyType;
        /** A custom CA's root (PEM): certbot trusts it for the ACME server, and it is exported as caRoot. */
        caCertificate?: string;
        /** True when the CA's root is not publicly trusted and is exported as an output (Pebble, or a custom CA's PEM). */
        privateRoot: boolean;
    };
    publish: { bindAddress: string; httpPort: number; httpsPort: number };
    images: { registry: string; nginx: string; certbot: string; pebble: string };
    users: UserSettings[];
    bcryptCost: number;
    /** How often the certbot container checks whether the certificate is due. */
    renewCheckHours: number;
    /** Keep the data and certificate volumes on `pulumi destroy`. */
    retainVolumes: boolean;
    /** The certbot container turns unhealthy when the certificate expires within this many days. */
    certificateWarningDays: number;
    /** Lifetime of certificates a local Pebble issues, in days (Pebble's default when absent). */
    pebbleCertificateDays?: number;
    /** Extra Docker labels on every container, network and volume of the stack. */
    labels: Record<string, string>;
    /** Garbage collection: every this many hours (0: only on demand), and whether untagged manifests go too. */
    gc: { intervalHours: number; deleteUntagged: boolean };
    /** Where the registry keeps blobs and manifests: the data volume, or an S3 bucket. */
    storage: StorageSettings;
}

/**
 * Every optional config key with its default. Pulumi.yaml declares the same defaults (the CLI
 * requires a key that has none), and a unit test holds the two equal, value by value. An
 * empty namePrefix means registry-<stack>; an empty acmeEmail, no e-mail; a
 * pebbleCertificateDays of 0, Pebble's own lifetime.
 */
export const DEFAULTS = {
    dockerHost: "unix:///var/run/docker.sock",
    namePrefix: "",
    acmeServer: "production",
    acmeEmail: "",
    acmeKeyType: "ecdsa",
    acmeCaCertificate: "",
    bindAddress: "0.0.0.0",
    httpPort: 80,
    httpsPort: 443,
    registryImage: "registry:3",
    nginxImage: "nginx:stable-alpine",
    certbotImage: "certbot/certbot:latest",
    pebbleImage: "ghcr.io/letsencrypt/pebble:latest",
    users: { admin: { access: "push" } },
    bcryptCost: 10,
    renewCheckHours: 12,
    retainVolumes: true,
    certificateWarningDays: 10,
    pebbleCertificateDays: 0,
    gcIntervalHours: 0,
    gcDeleteUntagged: false,
    storage: { driver: "filesystem" },
    labels: {},
} as const;

export const ACME_DIRECTORIES: Record<Exclude<AcmeKind, "custom">, string> = {
    production: "https://acme-v02.api.letsencrypt.org/directory",
    staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
    // The Pebble container this program declares for local stacks, on the stack's network.
    pebble: "https://pebble:14000/dir",
};

export const CONFIG_KEYS = [
    "dockerHost",
    "namePrefix",
    "domain",
    "acmeServer",
    "acmeEmail",
    "acmeKeyType",
    "acmeCaCertificate",
    "bindAddress",
    "httpPort",
    "httpsPort",
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
    "storage",
    "labels",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Raw config as Pulumi hands it over: every value a string (objects as JSON). */
export type RawConfig = Partial<Record<ConfigKey, string>>;

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(
            `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$/;
// Not starting with '-': the address is an argument of certbot's, which would read it as an option.
const EMAIL = /^(?!-)[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[a-z]{2,}$/i;
// docker reference: [registry[:port]/]path[:tag][@digest], lower-case path components.
const IMAGE_REF =
    /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Key as the user types it in `pulumi config set`. */
export function qualified(key: ConfigKey): string {
    return `${PROJECT}:${key}`;
}

export function isValidDomain(domain: string): boolean {
    if (domain.length > 253 || !domain.includes(".")) return false;
    if (IPV4.test(domain)) return false;
    const labels = domain.split(".");
    return labels.every((l) => DOMAIN_LABEL.test(l)) && /[a-z]/.test(labels[labels.length - 1]);
}

const isPort = (value: string) => /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535;

/** What is wrong with a Docker host address, or undefined when it is fine. */
function dockerHostProblem(value: string): string | undefined {
    const expected = "unix:///path/to/docker.sock or ssh://user@host[:port]";
    if (/^unix:\/\/\/\S+$/.test(value)) return undefined;
    if (/^tcp:\/\//.test(value)) {
        // The Docker API over plain TCP has no authentication and no encryption: htpasswd hashes,
        // the http secret and S3 keys would cross the network in clear to anyone's root API.
        return `${expected}; tcp:// is refused: it sends the Docker API (and this stack's secrets) unauthenticated and in clear. Reach a remote engine with ssh:// instead`;
    }
    const ssh = /^ssh:\/\/([^@\s/]+@)?([^@\s/:]+)(?::([^/\s]*))?$/.exec(value);
    if (ssh && (ssh[3] === undefined || isPort(ssh[3]))) return undefined;
    return ssh ? `${expected} with a port from 1 to 65535` : expected;
}

/**
 * Parses and validates raw stack config. Throws a ConfigError naming every bad key at once.
 * `secrets` tells which keys and leaves the stack stores encrypted: a secret's value is never
 * echoed, and a password or key stored in plain text is refused.
 */
export function parseSettings(raw: RawConfig, stack: string, secrets: SecretPaths = new SecretPaths()): Settings {
    const problems: string[] = [];
    const bad = (key: ConfigKey, given: string, expected: string) =>
        problems.push(`${qualified(key)}: expected ${expected}, got ${secrets.touches(key) ? "a secret value" : show(given)}`);

    const str = (key: ConfigKey, fallback?: string): string | undefined => {
        const v = raw[key];
        if (v === undefined || v === "") return fallback;
        return v.trim();
    };
    const int = (key: ConfigKey, fallback: number, min: number, max: number): number => {
        const v = raw[key];
        if (v === undefined || v === "") return fallback;
        const n = Number(v);
        if (!/^\s*-?\d+\s*$/.test(v) || n < min || n > max) {
            bad(key, v, `an integer from ${min} to ${max}`);
            return fallback;
        }
        return n;
    };
    const bool = (key: ConfigKey, fallback: boolean): boolean => {
        const v = raw[key];
        if (v === undefined || v === "") return fallback;
        if (v === "true") return true;
        if (v === "false") return false;
        bad(key, v, "true or false");
        return fallback;
    };
    const image = (key: ConfigKey, fallback: string): string => {
        const v = str(key, fallback)!;
        if (!IMAGE_REF.test(v)) bad(key, v, "a Docker image reference such as registry:3 or ghcr.io/org/name:tag");
        return v;
    };

    const dockerHost = str("dockerHost", DEFAULTS.dockerHost)!;
    const dockerHostWrong = dockerHostProblem(dockerHost);
    if (dockerHostWrong) bad("dockerHost", dockerHost, dockerHostWrong);

    const namePrefix = str("namePrefix", `registry-${stack}`)!;
    if (!DOCKER_NAME.test(namePrefix)) {
        bad("namePrefix", namePrefix, "1-41 characters of letters, digits, '_', '.' or '-', starting with a letter or digit");
    }

    const domainRaw = str("domain");
    let domain = "";
    if (domainRaw === undefined) {
        problems.push(`${qualified("domain")}: required; set the host name clients will push to, e.g. \`pulumi config set domain registry.example.com\``);
    } else {
        domain = domainRaw.toLowerCase().replace(/\.$/, "");
        if (!isValidDomain(domain)) bad("domain", domainRaw, "a fully qualified host name such as registry.example.com (not an IP address)");
    }

    const acmeRaw = str("acmeServer", DEFAULTS.acmeServer)!;
    let acmeKind: AcmeKind = "production";
    let acmeServer = ACME_DIRECTORIES.production;
    if (acmeRaw === "production" || acmeRaw === "staging" || acmeRaw === "pebble") {
        acmeKind = acmeRaw;
        acmeServer = ACME_DIRECTORIES[acmeRaw];
    } else {
        let url: URL | undefined;
        try {
            url = new URL(acmeRaw);
        } catch {
            url = undefined;
        }
        if (url && (url.username || url.password)) {
            // The URL reaches the certbot container in a script kept in plain state: no credentials.
            problems.push(`${qualified("acmeServer")}: expected an https:// ACME directory URL without credentials (user:password@); got one with credentials, not shown`);
        } else if (!url || url.protocol !== "https:") {
            bad("acmeServer", acmeRaw, "production, staging, pebble or an https:// ACME directory URL");
        } else {
            acmeKind = "custom";
            acmeServer = url.toString();
        }
    }

    const email = str("acmeEmail");
    if (email !== undefined && !EMAIL.test(email)) bad("acmeEmail", email, "an e-mail address such as ops@example.com");

    // A custom CA whose root is private: the PEM certbot trusts for its ACME server.
    let acmeCaCertificate: string | undefined;
    const caRaw = str("acmeCaCertificate");
    if (caRaw !== undefined) {
        acmeCaCertificate = pemCertificates(caRaw);
        if (acmeCaCertificate === undefined) {
            problems.push(`${qualified("acmeCaCertificate")}: expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...), e.g. \`pulumi config set acmeCaCertificate -- "$(cat ca.pem)"\``);
        } else if (acmeKind !== "custom") {
            problems.push(`${qualified("acmeCaCertificate")}: only used with an https:// acmeServer URL (a custom CA); ${acmeRaw} is publicly trusted or brings its own`);
            acmeCaCertificate = undefined;
        }
    }

    const keyType = str("acmeKeyType", DEFAULTS.acmeKeyType)!;
    if (keyType !== "ecdsa" && keyType !== "rsa") bad("acmeKeyType", keyType, "ecdsa or rsa");

    const bindAddress = str("bindAddress", DEFAULTS.bindAddress)!;
    if (isIP(bindAddress) === 0) bad("bindAddress", bindAddress, "an IP address such as 0.0.0.0, 127.0.0.1 or ::1");
    const httpPort = int("httpPort", DEFAULTS.httpPort, 1, 65535);
    const httpsPort = int("httpsPort", DEFAULTS.httpsPort, 1, 65535);
    if (httpPort === httpsPort) bad("httpsPort", String(httpsPort), `a port different from httpPort (${httpPort})`);

    const users = parseUsers(raw.users, secrets, problems);

    // 0 (the default): Pebble's own lifetime. A public CA decides its certificates' lifetime.
    const pebbleDays = int("pebbleCertificateDays", DEFAULTS.pebbleCertificateDays, 0, 3650);
    const pebbleCertificateDays = pebbleDays === 0 ? undefined : pebbleDays;
    if (pebbleCertificateDays !== undefined && acmeKind !== "pebble") {
        bad("pebbleCertificateDays", String(pebbleDays), "0 (the default) unless acmeServer is pebble: a public CA decides its certificates' lifetime");
    }

    const settings: Settings = {
        stack,
        namePrefix,
        dockerHost,
        domain,
        acme: {
            kind: acmeKind,
            server: acmeServer,
            email,
            keyType: keyType === "rsa" ? "rsa" : "ecdsa",
            caCertificate: acmeCaCertificate,
            privateRoot: acmeKind === "pebble" || acmeCaCertificate !== undefined,
        },
        publish: { bindAddress, httpPort, httpsPort },
        images: {
            registry: image("registryImage", DEFAULTS.registryImage),
            nginx: image("nginxImage", DEFAULTS.nginxImage),
            certbot: image("certbotImage", DEFAULTS.certbotImage),
            pebble: image("pebbleImage", DEFAULTS.pebbleImage),
        },
        users,
        bcryptCost: int("bcryptCost", DEFAULTS.bcryptCost, 4, 16),
        renewCheckHours: int("renewCheckHours", DEFAULTS.renewCheckHours, 1, 24),
        retainVolumes: bool("retainVolumes", DEFAULTS.retainVolumes),
        certificateWarningDays: int("certificateWarningDays", DEFAULTS.certificateWarningDays, 1, 60),
        pebbleCertificateDays,
        labels: parseLabels(raw.labels, problems),
        gc: {
            intervalHours: int("gcIntervalHours", DEFAULTS.gcIntervalHours, 0, 8760),
            deleteUntagged: bool("gcDeleteUntagged", DEFAULTS.gcDeleteUntagged),
        },
        storage: parseStorage(raw.storage, qualified("storage"), secrets, problems),
    };
    if (problems.length > 0) throw new ConfigError(problems);
    return settings;
}

function parseUsers(raw: string | undefined, secrets: SecretPaths, problems: string[]): UserSettings[] {
    const key = qualified("users");
    const keyIsSecret = secrets.touches("users");
    let value: unknown = DEFAULTS.users;
    if (raw !== undefined && raw !== "") {
        try {
            value = JSON.parse(raw);
        } catch {
            problems.push(`${key}: expected a map of user name to { access, password }, got ${keyIsSecret ? "a secret value" : "text that is not a map"}`);
            return [];
        }
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${key}: expected a map of user name to { access: push|pull, password?: secret }`);
        return [];
    }
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) problems.push(`${key}: expected at least one user`);
    const users: UserSettings[] = [];
    for (const [name, spec] of entries) {
        const at = `${key}.${name}`;
        if (!USER_NAME.test(name)) {
            problems.push(`${key}: user name ${show(name)} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
            continue;
        }
        const s = (spec ?? {}) as Record<string, unknown>;
        if (typeof s !== "object" || Array.isArray(s)) {
            problems.push(`${at}: expected { access: push|pull, password?: secret }`);
            continue;
        }
        for (const k of Object.keys(s)) {
            if (k !== "access" && k !== "password") problems.push(`${at}: unknown field ${show(k)}; expected access or password`);
        }
        const access = s.access ?? "push";
        if (access !== "push" && access !== "pull") {
            problems.push(`${at}.access: expected push or pull, got ${show(String(access))}`);
            continue;
        }
        let password: Secret | undefined;
        if (s.password !== undefined) {
            if (!secrets.covers(`users.${name}.password`)) {
                problems.push(`${at}.password: must be stored as a secret: \`pulumi config set --secret --path 'users.${name}.password' ...\``);
            }
            const p = s.password;
            if (typeof p !== "string") {
                problems.push(`${at}.password: expected a string`);
            } else if (p.length < 12) {
                problems.push(`${at}.password: expected at least 12 characters, got ${p.length}`);
            } else if (Buffer.byteLength(p, "utf8") > 72) {
                // bcrypt reads only the first 72 bytes: a longer password would be silently cut.
                problems.push(`${at}.password: expected at most 72 bytes (bcrypt's limit), got ${Buffer.byteLength(p, "utf8")}`);
            } else if (/[\r\n\0]/.test(p)) {
                problems.push(`${at}.password: must not contain line breaks or NUL characters`);
            } else {
                password = new Secret(p);
            }
        }
        users.push({ name, access, password });
    }
    return users;
}

// Docker's label key convention (lower-case, dots and dashes); the prefixes Docker and this
// program use for their own labels are refused.
const LABEL_KEY = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/;
const RESERVED_LABEL_PREFIXES = ["com.docker.", "io.docker.", "org.dockerproject.", "private-registry."];

function parseLabels(raw: string | undefined, problems: string[]): Record<string, string> {
    const key = qualified("labels");
    if (raw === undefined || raw === "") return {};
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        value = undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${key}: expected a map of Docker label to value, e.g. \`pulumi config set --path 'labels.team' platform\``);
        return {};
    }
    const labels: Record<string, string> = {};
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        if (!LABEL_KEY.test(name) || RESERVED_LABEL_PREFIXES.some((p) => name.startsWith(p))) {
            problems.push(`${key}: label ${show(name)} must be lower-case letters, digits, '.', '_' or '-' (at most 128), not starting with ${RESERVED_LABEL_PREFIXES.join(", ")}`);
        } else if (typeof v !== "string" || v.length > 1024 || /[\0\n]/.test(v)) {
            problems.push(`${key}.${name}: expected a text value of at most 1024 characters on one line`);
        } else {
            labels[name] = v;
        }
    }
    return labels;
}
