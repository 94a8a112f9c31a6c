// The registry's settings, parsed once into a typed, validated Settings (settings/types.ts),
// whether they come from the stack config (index.ts, through stackConfig.ts) or from a
// program's PrivateRegistryArgs (components/privateRegistry.ts).
//
// `parseSettings` is pure: values in (strings from the stack config, typed values from args),
// Settings (or one ConfigError listing every problem) out. Defaults are applied here, from
// DEFAULTS, and nowhere else. Error messages name the field as the caller names it, the value
// given (never a secret's) and what is expected. The fields that have a file of their own
// (hosts, storage, redis, the ACME challenge) are parsed there; this file puts them together.
import { isIP } from "node:net";
import { parseChallenge, PLUGINS } from "./acmeChallenge";
import { ACME_DIRECTORIES, CERTBOT_IMAGE, ConfigKey, DEFAULTS, PROJECT, SettingsValues } from "./defaults";
import { Fields, FieldNaming } from "./fields";
import { hostsProblems, parseHosts } from "./hosts";
import { pemCertificates } from "./pem";
import { parseMetrics } from "./metrics";
import { parseMirrors } from "./mirrors";
import { parseNotifications } from "./notifications";
import { parseRedis } from "./redis";
import { parseRepositories } from "./repositories";
import { parseRetention, retentionProblems } from "./retention";
import { SecretPaths } from "./secretPaths";
import { show } from "./show";
import { parseStorage } from "./storage";
import type { AcmeChallenge, AcmeKind, Settings, UserSettings } from "./types";
import {
    BCRYPT_COST_MAX,
    BCRYPT_COST_MIN,
    cidrProblem,
    DOCKER_NAME,
    dockerHostProblem,
    EMAIL,
    IMAGE_REF,
    isValidDomain,
    parseUrl,
    passwordProblem,
    splitHostPort,
    USER_NAME,
} from "./validators";

export class ConfigError extends Error {
    constructor(
        readonly problems: string[],
        what = "stack configuration",
    ) {
        super(
            `invalid ${what} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** How stack config names a field: the key as the user types it in `pulumi config set`. */
export function stackNaming(secrets: SecretPaths = new SecretPaths()): FieldNaming {
    return { name: (path) => `${PROJECT}:${path}`, secrets, encryptedAtRest: true };
}

/** How a program's PrivateRegistryArgs name a field: the field itself. Secrets there live in memory. */
export const ARGS_NAMING: FieldNaming = { name: (path) => path, secrets: new SecretPaths(), encryptedAtRest: false };

/**
 * Parses and validates the settings. Throws a ConfigError naming every bad field at once.
 * With stack config (`naming.secrets` from the stack file), a password or key stored in plain
 * text is refused; a secret's value is never echoed.
 */
export function parseSettings(values: SettingsValues, stack: string, naming: FieldNaming = stackNaming(), what?: string): Settings {
    const f = new Fields(values, naming);
    const domain = parseDomain(f);
    const acme = parseAcme(f);
    const publish = parsePublish(f, acme.challenge);
    const namePrefix = parseNamePrefix(f, stack);
    const hosts = parseHosts(f, { domain, namePrefix, publish });
    // Each mirror's own name goes on the certificate, after the names given.
    const domains = parseDomains(f, domain, acme.challenge);
    const mirrors = parseMirrors(f, domain, [domain, ...domains, ...hosts.map((h) => h.fqdn)]);
    const settings: Settings = {
        stack,
        namePrefix,
        dockerHost: parseDockerHost(f),
        domain,
        domains: [...domains, ...mirrors.map((m) => m.fqdn)],
        acme,
        publish,
        trustedProxies: parseTrustedProxies(f),
        images: {
            registry: parseImage(f, "registryImage", DEFAULTS.registryImage),
            nginx: parseImage(f, "nginxImage", DEFAULTS.nginxImage),
            certbot: parseImage(f, "certbotImage", acme.challenge.kind === "dns" ? PLUGINS[acme.challenge.plugin].image : CERTBOT_IMAGE),
            pebble: parseImage(f, "pebbleImage", DEFAULTS.pebbleImage),
            redis: parseImage(f, "redisImage", DEFAULTS.redisImage),
        },
        users: parseUsers(f),
        bcryptCost: f.int("bcryptCost", DEFAULTS.bcryptCost, BCRYPT_COST_MIN, BCRYPT_COST_MAX),
        renewCheckHours: f.int("renewCheckHours", DEFAULTS.renewCheckHours, 1, 24),
        retainVolumes: f.flag("retainVolumes", DEFAULTS.retainVolumes),
        certificateWarningDays: f.int("certificateWarningDays", DEFAULTS.certificateWarningDays, 1, 60),
        pebbleCertificateDays: parsePebbleDays(f, acme.kind),
        labels: parseLabels(f),
        gc: {
            intervalHours: f.int("gcIntervalHours", DEFAULTS.gcIntervalHours, 0, 8760),
            deleteUntagged: f.flag("gcDeleteUntagged", DEFAULTS.gcDeleteUntagged),
        },
        retention: parseRetention(f),
        storage: parseStorage(f),
        hosts,
        redis: parseRedis(f, hosts),
        rolloutPauseSeconds: f.int("rolloutPauseSeconds", DEFAULTS.rolloutPauseSeconds, 0, 600),
        notifications: parseNotifications(f),
        metrics: parseMetrics(f, publish),
        mirrors,
    };
    for (const [key, problem] of hostsProblems(settings)) f.problem(key, problem);
    for (const [key, problem] of retentionProblems(settings)) f.problem(key, problem);
    if (f.problems.length > 0) throw new ConfigError(f.problems, what);
    return settings;
}

function parseNamePrefix(f: Fields, stack: string): string {
    const namePrefix = f.text("namePrefix", `registry-${stack}`);
    if (!DOCKER_NAME.test(namePrefix))
        f.bad("namePrefix", namePrefix, "1-41 characters of letters, digits, '_', '.' or '-', starting with a letter or digit");
    return namePrefix;
}

function parseDockerHost(f: Fields): string {
    const dockerHost = f.text("dockerHost", DEFAULTS.dockerHost);
    const wrong = dockerHostProblem(dockerHost);
    if (wrong) f.bad("dockerHost", dockerHost, wrong);
    return dockerHost;
}

function parseDomain(f: Fields): string {
    const given = f.text("domain");
    if (given === undefined) {
        f.problem("domain", "required; set the host name clients will push to, e.g. `pulumi config set domain registry.example.com`");
        return "";
    }
    const domain = given.toLowerCase().replace(/\.$/, "");
    if (!isValidDomain(domain)) f.bad("domain", given, "a fully qualified host name such as registry.example.com (not an IP address)");
    return domain;
}

function parseAcme(f: Fields): Settings["acme"] {
    const given = f.text("acmeServer", DEFAULTS.acmeServer);
    let kind: AcmeKind = "production";
    let server = ACME_DIRECTORIES.production;
    if (given === "production" || given === "staging" || given === "pebble") {
        kind = given;
        server = ACME_DIRECTORIES[given];
    } else {
        const url = parseUrl(given);
        if (url && (url.username || url.password)) {
            // The URL reaches the certbot container in a script kept in plain state: no credentials.
            f.problem(
                "acmeServer",
                "expected an https:// ACME directory URL without credentials (user:password@); got one with credentials, not shown",
            );
        } else if (!url || url.protocol !== "https:") {
            f.bad("acmeServer", given, "production, staging, pebble or an https:// ACME directory URL");
        } else {
            kind = "custom";
            server = url.toString();
        }
    }

    const email = f.text("acmeEmail");
    if (email !== undefined && !EMAIL.test(email)) f.bad("acmeEmail", email, "an e-mail address such as ops@example.com");

    // A custom CA whose root is private: the PEM certbot trusts for its ACME server.
    let caCertificate: string | undefined;
    const ca = f.text("acmeCaCertificate");
    if (ca !== undefined) {
        caCertificate = pemCertificates(ca);
        if (caCertificate === undefined) {
            f.problem(
                "acmeCaCertificate",
                'expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...), e.g. `pulumi config set acmeCaCertificate -- "$(cat ca.pem)"`',
            );
        } else if (kind !== "custom") {
            f.problem(
                "acmeCaCertificate",
                `only used with an https:// acmeServer URL (a custom CA); ${given} is publicly trusted or brings its own`,
            );
            caCertificate = undefined;
        }
    }

    const keyType = f.text("acmeKeyType", DEFAULTS.acmeKeyType);
    if (keyType !== "ecdsa" && keyType !== "rsa") f.bad("acmeKeyType", keyType, "ecdsa or rsa");
    const challenge = parseChallenge(f, DEFAULTS);
    return {
        kind,
        server,
        email,
        keyType: keyType === "rsa" ? "rsa" : "ecdsa",
        caCertificate,
        privateRoot: kind === "pebble" || caCertificate !== undefined,
        challenge,
        pebbleDnsServer: parsePebbleDnsServer(f, kind, challenge),
    };
}

function parsePebbleDnsServer(f: Fields, kind: AcmeKind, challenge: AcmeChallenge): string | undefined {
    const given = f.text("pebbleDnsServer", DEFAULTS.pebbleDnsServer);
    if (given === "") return undefined;
    const server = splitHostPort(given);
    if (!server || isIP(server.host) === 0)
        f.bad("pebbleDnsServer", given, "ip:port of a DNS server, such as 10.0.0.53:53 or [fd00::53]:53");
    else if (kind !== "pebble" || challenge.kind !== "dns")
        f.problem("pebbleDnsServer", "only used with acmeServer pebble and acmeChallenge dns (Pebble checks the TXT records there)");
    else return given;
    return undefined;
}

/** Extra names on the certificate; a wildcard (*.example.com) only by DNS-01, as ACME allows. */
function parseDomains(f: Fields, domain: string, challenge: AcmeChallenge): string[] {
    const value = f.list(
        "domains",
        [...DEFAULTS.domains],
        "a list of host names, e.g. `pulumi config set --path 'domains[0]' registry.internal.example.com`",
    );
    const names: string[] = [];
    for (const given of value ?? []) {
        const name = typeof given === "string" ? given.trim().toLowerCase().replace(/\.$/, "") : "";
        const wildcard = name.startsWith("*.");
        if (!isValidDomain(wildcard ? name.slice(2) : name))
            f.bad("domains", given, "fully qualified host names such as registry.internal.example.com");
        else if (wildcard && challenge.kind !== "dns")
            f.problem("domains", `${show(name)}: a wildcard needs acmeChallenge dns (ACME validates wildcards by DNS-01 only)`);
        else if (name === domain || names.includes(name))
            f.problem("domains", `${show(name)} is listed twice (domain is on the certificate already)`);
        else names.push(name);
    }
    // Let's Encrypt's limit: 100 names per certificate.
    if (names.length > 99) f.problem("domains", `expected at most 99 extra names (100 per certificate), got ${names.length}`);
    return names;
}

function parsePublish(f: Fields, challenge: AcmeChallenge): Settings["publish"] {
    const bindAddress = f.text("bindAddress", DEFAULTS.bindAddress);
    if (isIP(bindAddress) === 0) f.bad("bindAddress", bindAddress, "an IP address such as 0.0.0.0, 127.0.0.1 or ::1");
    // 0: port 80 stays unpublished (a private network, certificates by DNS-01).
    const httpPort = f.int("httpPort", DEFAULTS.httpPort, 0, 65535);
    const httpsPort = f.int("httpsPort", DEFAULTS.httpsPort, 1, 65535);
    if (httpPort === httpsPort) f.bad("httpsPort", String(httpsPort), `a port different from httpPort (${httpPort})`);
    if (httpPort === 0 && challenge.kind === "http")
        f.problem(
            "httpPort",
            "expected a port from 1 to 65535 with acmeChallenge http (the CA validates through it); 0 leaves it unpublished, with acmeChallenge dns only",
        );
    return { bindAddress, httpPort: httpPort === 0 ? undefined : httpPort, httpsPort };
}

/** Each entry as nginx's set_real_ip_from takes it: an address or a network, IPv4 or IPv6. */
function parseTrustedProxies(f: Fields): string[] {
    const value = f.list(
        "trustedProxies",
        [...DEFAULTS.trustedProxies],
        "a list of addresses or CIDR ranges of your load balancers, e.g. `pulumi config set --path 'trustedProxies[0]' 10.0.0.10`",
    );
    const proxies: string[] = [];
    (value ?? []).forEach((given, i) => {
        const text = typeof given === "string" ? given.trim().toLowerCase() : "";
        const wrong = cidrProblem(text);
        if (wrong) f.bad(`trustedProxies[${i}]`, given, wrong);
        else proxies.push(text);
    });
    return proxies;
}

function parseImage(f: Fields, key: ConfigKey, fallback: string): string {
    const image = f.text(key, fallback);
    if (!IMAGE_REF.test(image))
        f.bad(key, image, "a Docker image reference such as registry:3 or ghcr.io/org/name:tag (or name@sha256:...)");
    return image;
}

function parsePebbleDays(f: Fields, acmeKind: AcmeKind): number | undefined {
    // 0 (the default): Pebble's own lifetime. A public CA decides its certificates' lifetime.
    const days = f.int("pebbleCertificateDays", DEFAULTS.pebbleCertificateDays, 0, 3650);
    if (days !== 0 && acmeKind !== "pebble") {
        f.bad(
            "pebbleCertificateDays",
            String(days),
            "0 (the default) unless acmeServer is pebble: a public CA decides its certificates' lifetime",
        );
    }
    return days === 0 ? undefined : days;
}

function parseUsers(f: Fields): UserSettings[] {
    const expected = "a map of user name to { access: push|pull|none, repositories?: { glob: push|pull }, password?: secret }";
    const value = f.map("users", DEFAULTS.users, expected);
    if (value === undefined) return [];
    const entries = Object.entries(value);
    if (entries.length === 0) f.problem("users", "expected at least one user");
    const users: UserSettings[] = [];
    for (const [name, spec] of entries) {
        if (!USER_NAME.test(name)) {
            f.problem("users", `user name ${show(name)} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
            continue;
        }
        const at = `users.${name}`;
        if (typeof (spec ?? {}) !== "object" || Array.isArray(spec)) {
            f.problem(at, "expected { access: push|pull|none, repositories?: { glob: push|pull }, password?: secret }");
            continue;
        }
        const user = (spec ?? {}) as Record<string, unknown>;
        for (const k of Object.keys(user)) {
            if (k !== "access" && k !== "repositories" && k !== "password")
                f.problem(at, `unknown field ${show(k)}; expected access, repositories or password`);
        }
        const access = user.access ?? "push";
        if (access !== "push" && access !== "pull" && access !== "none") {
            f.problem(`${at}.access`, `expected push, pull or none, got ${show(String(access))}`);
            continue;
        }
        const repositories = parseRepositories(f, `${at}.repositories`, user.repositories);
        const password = f.secret(
            `${at}.password`,
            user.password,
            passwordProblem,
            `pulumi config set --secret --path 'users.${name}.password' ...`,
        );
        users.push({ name, access, repositories, password });
    }
    return users;
}

// Docker's label key convention (lower-case, dots and dashes); the prefixes Docker and this
// program use for their own labels are refused.
const LABEL_KEY = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/;
const RESERVED_LABEL_PREFIXES = ["com.docker.", "io.docker.", "org.dockerproject.", "private-registry."];

function parseLabels(f: Fields): Record<string, string> {
    const value = f.map(
        "labels",
        DEFAULTS.labels,
        "a map of Docker label to value, e.g. `pulumi config set --path 'labels.team' platform`",
    );
    const labels: Record<string, string> = {};
    for (const [name, v] of Object.entries(value ?? {})) {
        if (!LABEL_KEY.test(name) || RESERVED_LABEL_PREFIXES.some((p) => name.startsWith(p))) {
            f.problem(
                "labels",
                `label ${show(name)} must be lower-case letters, digits, '.', '_' or '-' (at most 128), not starting with ${RESERVED_LABEL_PREFIXES.join(", ")}`,
            );
        } else if (typeof v !== "string" || v.length > 1024 || /[\0\n]/.test(v)) {
            f.problem(`labels.${name}`, "expected a text value of at most 1024 characters on one line");
        } else {
            labels[name] = v;
        }
    }
    return labels;
}
