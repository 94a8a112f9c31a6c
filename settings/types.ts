// The shapes of the registry's settings once parsed: Settings and every type it is made of,
// with the wrapper its secrets travel in. The parsers of this folder produce them, and the
// renderers of configs/ and the components read them. This file imports nothing from its
// folder, so that every other file of it can import from here without making a circle.

/** Prints as "[secret]" however it is printed: as a string, in JSON, by util.inspect. */
abstract class Redacted {
    toString(): string {
        return "[secret]";
    }

    toJSON(): string {
        return "[secret]";
    }

    [Symbol.for("nodejs.util.inspect.custom")](): string {
        return "[secret]";
    }
}

/**
 * A value that must never be printed. Settings carry passwords in this wrapper so that an
 * accidental log line, template or error message shows "[secret]" instead of the value.
 */
export class Secret extends Redacted {
    readonly #value: string;

    constructor(value: string) {
        super();
        this.#value = value;
    }

    /** The plain value, for the one place that hands it to `pulumi.secret`. */
    reveal(): string {
        return this.#value;
    }
}

/**
 * A secret known only when the deployment runs (a Pulumi Input: an Output, a Promise): the
 * parser keeps it as it is, and the component checks it once it resolves. `input` is opaque
 * here, so the settings stay free of Pulumi.
 */
export class DeferredSecret extends Redacted {
    constructor(readonly input: unknown) {
        super();
    }
}

/** A secret as settings carry it: known now, or when the deployment runs. */
export type SecretValue = Secret | DeferredSecret;

export type Access = "push" | "pull";
/** A user's access where no repository glob of theirs matches: `none` grants only what the globs grant. */
export type UserAccess = Access | "none";
export type AcmeKind = "production" | "staging" | "pebble" | "custom";
export type KeyType = "ecdsa" | "rsa";

/** The certbot DNS plugins this program supports; PLUGINS (settings/acmeChallenge.ts) describes each. */
export type DnsPlugin = "rfc2136" | "cloudflare" | "route53";

export interface DnsChallenge {
    kind: "dns";
    plugin: DnsPlugin;
    /** Field → value; every value is kept as a secret (the file is one). Empty: route53's default chain. */
    credentials: Record<string, SecretValue>;
    /** Seconds certbot waits after the TXT record is set (undefined: the plugin's default). */
    propagationSeconds?: number;
}

export type AcmeChallenge = { kind: "http" } | DnsChallenge;

export interface UserSettings {
    name: string;
    access: UserAccess;
    /**
     * Repository glob → access, for the repositories it matches (settings/repositories.ts):
     * the most specific matching glob decides; `access` decides where none matches.
     */
    repositories: Record<string, Access>;
    /** Absent: a password is generated and kept in the stack's state. */
    password?: SecretValue;
}

/** A Docker daemon's TLS (tcp://, `dockerd --tlsverify`): its CA, and this client's certificate and key. */
export interface DockerTls {
    caCertificate: string;
    certificate: string;
    key: SecretValue;
}

export interface HostSettings {
    /** The host's name in the list: a DNS label, e.g. `node-1`. */
    name: string;
    /** Its own name on its certificate: `<name>.<domain>`. */
    fqdn: string;
    dockerHost: string;
    /** Prefix of its containers, networks and volumes: `<namePrefix>-<name>`. */
    namePrefix: string;
    publish: Settings["publish"];
    /** Where its scrape endpoint is published, when metrics are on: by default metrics.bindAddress and metrics.port. */
    metricsPublish: { bindAddress?: string; port?: number };
    /** With a tcp:// dockerHost: the daemon's TLS. */
    tls?: DockerTls;
}

export interface S3Storage {
    driver: "s3";
    bucket: string;
    region: string;
    /** S3-compatible server (MinIO, versitygw, Ceph, R2...): its URL; absent on AWS. */
    endpoint?: string;
    /** bucket in the path (endpoint/bucket/key) rather than in the host name. */
    forcePathStyle: boolean;
    /** HTTPS to the storage (false only for an http:// endpoint). */
    secure: boolean;
    /** Key prefix of everything the registry stores in the bucket (no leading or trailing slash; "" for the bucket root). */
    rootDirectory: string;
    /** Static keys; absent: the AWS SDK's default chain (e.g. an EC2 instance role). */
    credentials?: { accessKey: SecretValue; secretKey: SecretValue };
    /** Let clients download blobs straight from the storage (presigned URLs) instead of through nginx. */
    redirect: boolean;
    /** PEM certificate(s) of a private CA that signed the endpoint's certificate, trusted besides the system roots. */
    caCertificate?: string;
}

export type StorageSettings = { driver: "filesystem" } | S3Storage;

export interface RedisSettings {
    /** host:port every host's containers reach Redis at. */
    address: string;
    host: string;
    port: number;
    password?: SecretValue;
    tls: boolean;
    /** PEM of a private CA that signed the Redis server's certificate (tls only). */
    caCertificate?: string;
    db: number;
    /** The host (of `hosts`) that runs Redis as a container; undefined: an external Redis. */
    runOn?: string;
}

/** One retention rule (settings/retention.ts): which repositories it covers and which of their tags it keeps. */
export interface RetentionRule {
    /** The glob as given: `*` within one path segment, `**` across segments, `?` one character. */
    repositories: string;
    /** The same glob as an anchored POSIX ERE (also a JS RegExp source), for the retention script. */
    repositoriesPattern: string;
    /** Tags (the whole tag) matching this regex are kept; POSIX ERE that JS reads the same way. */
    keepTags?: string;
    /** The N most recently pushed tags of each repository it covers are kept. */
    keepLast?: number;
    /** Tags pushed within this duration are kept: as given ("30d") and in seconds. */
    keepPushedWithin?: { text: string; seconds: number };
}

/** Tag retention: the rules, and whether it only reports (dry run) or deletes. */
export interface RetentionSettings {
    rules: RetentionRule[];
    dryRun: boolean;
}

export interface Settings {
    stack: string;
    /** Prefix of every container, network and volume name on the Docker host. */
    namePrefix: string;
    /** Docker daemon address used by the provider and by every command. */
    dockerHost: string;
    /** With a tcp:// dockerHost (a host of `hosts`): the daemon's TLS. */
    dockerTls?: DockerTls;
    domain: string;
    /** More names on the certificate (SANs), besides domain. */
    domains: string[];
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
        /** HTTP-01 through nginx's port 80, or DNS-01 through a certbot DNS plugin. */
        challenge: AcmeChallenge;
        /** ip:port of the DNS server a local Pebble checks DNS-01 records with (undefined: its container's resolver). */
        pebbleDnsServer?: string;
    };
    /** httpPort undefined: port 80 is not published (DNS-01 only). */
    publish: { bindAddress: string; httpPort?: number; httpsPort: number };
    /**
     * Addresses and CIDR ranges of the proxies (load balancers) in front of nginx whose
     * X-Forwarded-For it believes: the client address it logs and limits failed logins by.
     */
    trustedProxies: string[];
    images: { registry: string; nginx: string; certbot: string; pebble: string; redis: string };
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
    /** Tag retention, applied in the GC window before collection (empty rules: every tag is kept). */
    retention: RetentionSettings;
    /** Where the registry keeps blobs and manifests: the data volume, or an S3 bucket. */
    storage: StorageSettings;
    /** Several Docker hosts serving the registry (settings/hosts.ts); empty: one, at dockerHost. */
    hosts: HostSettings[];
    /** The shared blob descriptor cache and GC coordination (settings/redis.ts); undefined: none. */
    redis?: RedisSettings;
    /** With hosts: seconds between a host serving again and the next host's turn (a load balancer takes it back). */
    rolloutPauseSeconds: number;
    /** Webhooks the registry sends its events to (settings/notifications.ts); empty: none. */
    notifications: NotificationEndpoint[];
    /** Pull-through caches of other registries, each on its own host name (settings/mirrors.ts); empty: none. */
    mirrors: Mirror[];
    /** The Prometheus scrape endpoint nginx serves on its own port (settings/metrics.ts). */
    metrics: MetricsSettings;
}

/** The scrape endpoint: off by default; on its own published port, behind basic auth unless on loopback. */
export interface MetricsSettings {
    enabled: boolean;
    /** Published port on bindAddress. */
    port: number;
    bindAddress: string;
    /** Basic auth password of the user `metrics`; required unless bindAddress is a loopback address. */
    password?: SecretValue;
}

/** A webhook endpoint of distribution's notifications: where the registry POSTs its push, pull and delete events. */
export interface NotificationEndpoint {
    /** Its name in the registry's logs and metrics. */
    name: string;
    /** http:// or https:// URL, without credentials (they go in headers, as secrets). */
    url: string;
    /** Header name → value, sent with every request; every value handled as a secret. */
    headers: Record<string, SecretValue>;
    /** Go durations as distribution reads them (`5s`, `500ms`). */
    timeout: string;
    /** Failures in a row before the endpoint backs off. */
    threshold: number;
    backoff: string;
    /** Events about targets of these media types are not sent (e.g. `application/octet-stream`: layers). */
    ignoredMediaTypes: string[];
}

/** A pull-through cache of another registry: one more registry, in distribution's proxy mode. */
export interface Mirror {
    /** A DNS label: its containers', volume's and socket's name. */
    name: string;
    /** Its host name, `<name>.<domain>`, on the certificate (in `domains`). */
    fqdn: string;
    /** The upstream registry: scheme, host and port. */
    upstream: string;
    /** The upstream is Docker Hub: Docker's `registry-mirrors` can use this mirror. */
    dockerHub: boolean;
    /** The upstream's credentials (an https:// upstream only). */
    credentials?: { username: string; password: SecretValue };
    /** How long cached content lives, as distribution reads it (`0`: never expires). */
    ttl: string;
    /** PEM of a private CA that signed the upstream's certificate, trusted besides the system roots. */
    caCertificate?: string;
}
