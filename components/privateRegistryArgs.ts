// PrivateRegistryArgs: the registry's settings as a program passes them, in the shape of the
// stack config (Pulumi.yaml documents the same keys). Each field's default is stated here and
// applied, with its validation, by settings/parse.ts.
import * as pulumi from "@pulumi/pulumi";

// Closed sets of values as `as const` objects: TypeScript programs keep their literal types, and
// Pulumi's schema (other languages: plugin/) gets an enum for each, where a union has none.

/** What a user may do in a repository. */
export const UserAccess = { push: "push", pull: "pull", none: "none" } as const;
export type UserAccess = (typeof UserAccess)[keyof typeof UserAccess];
/** What a repository glob grants. */
export const RepositoryAccess = { push: "push", pull: "pull" } as const;
export type RepositoryAccess = (typeof RepositoryAccess)[keyof typeof RepositoryAccess];
/** The certificate's key type. */
export const AcmeKeyType = { ecdsa: "ecdsa", rsa: "rsa" } as const;
export type AcmeKeyType = (typeof AcmeKeyType)[keyof typeof AcmeKeyType];
/** How the CA validates the names. */
export const AcmeChallengeType = { http: "http", dns: "dns" } as const;
export type AcmeChallengeType = (typeof AcmeChallengeType)[keyof typeof AcmeChallengeType];
/** certbot's DNS plugin for DNS-01 (`""`: none). */
export const DnsPluginName = { none: "", rfc2136: "rfc2136", cloudflare: "cloudflare", route53: "route53" } as const;
export type DnsPluginName = (typeof DnsPluginName)[keyof typeof DnsPluginName];
/** Where the registry keeps blobs. */
export const StorageDriver = { filesystem: "filesystem", s3: "s3" } as const;
export type StorageDriver = (typeof StorageDriver)[keyof typeof StorageDriver];

/** A registry user. */
export interface RegistryUserArgs {
    /**
     * `push` (read and write), `pull` (read only: every write gets 403) or `none` (only what
     * `repositories` grants), for every repository no glob of `repositories` matches. Default: `push`.
     */
    access?: UserAccess;
    /**
     * Repository glob → `pull` or `push`: `*` within one path segment, `**` across segments, `?`
     * one character. The most specific matching glob decides (most characters other than `*`;
     * between equals, `pull`). Default: `{}`.
     */
    repositories?: Record<string, RepositoryAccess>;
    /** 12 to 72 bytes. Default: a generated 32-character password (see `passwords`). Kept secret. */
    password?: pulumi.Input<string>;
}

/**
 * A tag retention rule: which repositories it covers and which of their tags it keeps. A tag
 * is kept when any rule covering its repository keeps it; a repository no rule covers keeps
 * every tag; `latest` and signature tags (`sha256-<hex>.sig` ...) are always kept.
 */
export interface RetentionRuleArgs {
    /** Repository glob: `*` within one path segment, `**` across segments, `?` one character. Required. */
    repositories: string;
    /** Keep tags matching this regex (the whole tag; the syntax JavaScript and POSIX ERE share). Default: none. */
    keepTags?: string;
    /** Keep the N most recently pushed tags of each repository (latest and signature tags not counted). Default: none. */
    keepLast?: number;
    /** Keep tags pushed within this duration: `30d`, `12h`, `1w2d` (s, m, h, d, w). Default: none. */
    keepPushedWithin?: string;
}

/**
 * Where the registry keeps blobs: its data volume (the default), or an S3 bucket (`driver: s3`
 * and the fields after it, which the filesystem driver refuses).
 */
export interface RegistryStorageArgs {
    /** `filesystem` (the data volume) or `s3`. Default: `filesystem`. */
    driver?: StorageDriver;
    /** An existing bucket. Required with s3. */
    bucket?: string;
    /** The bucket's region. Required on AWS; default with an endpoint: `us-east-1`. */
    region?: string;
    /** `https://host[:port]` (or `http://`) of an S3-compatible server. Default: AWS. */
    endpoint?: string;
    /** Bucket in the path rather than the host name. Default: `true` with an endpoint, else `false`. */
    forcePathStyle?: boolean;
    /** Key prefix of everything the registry stores. Default: the bucket root. */
    rootDirectory?: string;
    /** Both or neither. Default: neither (the AWS SDK's default chain, e.g. an instance role). Kept secret. */
    accessKey?: pulumi.Input<string>;
    /** With accessKey. Kept secret. */
    secretKey?: pulumi.Input<string>;
    /** Let clients download blobs from presigned bucket URLs. Default: `false`. */
    redirect?: boolean;
    /** PEM of a private CA that signed an `https://` endpoint's certificate. Default: none. */
    caCertificate?: string;
}

/**
 * The registry's settings, in the shape of the stack config (Pulumi.yaml documents the same
 * keys). Each default is applied, and each field validated, by settings/parse.ts; a bad
 * field fails the constructor with a ResourceError naming it.
 */
export interface PrivateRegistryArgs {
    /** Host name clients push to, e.g. `registry.example.com`. Required. */
    domain: string;
    /** Docker daemon: `unix:///path/to/docker.sock` or `ssh://user@host[:port]`. Default: `unix:///var/run/docker.sock`. */
    dockerHost?: string;
    /** Prefix of every container, network and volume name. Default: `""`, meaning `<name>-<stack>` (the component's name; `registry-<stack>` for the stack program). */
    namePrefix?: string;
    /** ACME CA: `production`, `staging` (Let's Encrypt), `pebble` (local) or an `https://` directory URL. Default: `production`. */
    acmeServer?: string;
    /** ACME account e-mail. Default: `""`, none. */
    acmeEmail?: string;
    /** Certificate key type: `ecdsa` or `rsa`. Default: `ecdsa`. */
    acmeKeyType?: AcmeKeyType;
    /** PEM root of a custom ACME CA whose root is private. Default: `""`, publicly trusted. */
    acmeCaCertificate?: string;
    /** How the CA validates the names: `http` (HTTP-01 through port 80) or `dns` (DNS-01 through `dnsPlugin`). Default: `http`. */
    acmeChallenge?: AcmeChallengeType;
    /** With `acmeChallenge: dns`: `rfc2136`, `cloudflare` or `route53`. Default: `""`, none (required with dns). */
    dnsPlugin?: DnsPluginName;
    /** With `acmeChallenge: dns`, the plugin's credential fields (see the README's table). Default: `{}`. Kept secret. */
    dnsCredentials?: Record<string, pulumi.Input<string>>;
    /** Seconds certbot waits for the TXT record to propagate (0-3600). Default: `0`, the plugin's own. */
    dnsPropagationSeconds?: number;
    /** More names on the certificate (SANs); wildcards with `acmeChallenge: dns` only. Default: `[]`. */
    domains?: string[];
    /** With `acmeServer: pebble` and `acmeChallenge: dns`: `ip:port` of the DNS server Pebble checks with. Default: `""`, its container's resolver. */
    pebbleDnsServer?: string;
    /** Address nginx's ports are published on. Default: `0.0.0.0`. */
    bindAddress?: string;
    /** Published HTTP port (ACME challenges, redirect); 0 leaves it unpublished (`acmeChallenge: dns` only). Default: `80`. */
    httpPort?: number;
    /** Published HTTPS port. Default: `443`. */
    httpsPort?: number;
    /** Addresses or CIDR ranges of load balancers whose X-Forwarded-For nginx believes (the client address it logs and limits failed logins by). Default: `[]`, none. */
    trustedProxies?: string[];
    /** Default: `registry:3`. */
    registryImage?: string;
    /** nginx, with njs 0.8 or later (the official images have it). Default: `nginx:stable-alpine`. */
    nginxImage?: string;
    /** Default: `""`, `certbot/certbot:latest` or, with `acmeChallenge: dns`, the plugin's image (`certbot/dns-rfc2136:latest`, ...). */
    certbotImage?: string;
    /** Used with `acmeServer: pebble`. Default: `ghcr.io/letsencrypt/pebble:latest`. */
    pebbleImage?: string;
    /** Users by name. Default: `{admin: {access: push}}`. */
    users?: Record<string, RegistryUserArgs>;
    /** bcrypt cost of the htpasswd hashes (10-12: at 13, one check takes about a second). Default: `10`. */
    bcryptCost?: number;
    /** How often certbot checks whether the certificate is due (1-24). Default: `12`. */
    renewCheckHours?: number;
    /** Keep the data and certificate volumes on destroy. Default: `true`. */
    retainVolumes?: boolean;
    /** certbot turns unhealthy this many days before expiry (1-60). Default: `10`. */
    certificateWarningDays?: number;
    /** Lifetime of a local Pebble's certificates, in days. Default: `0`, Pebble's own. */
    pebbleCertificateDays?: number;
    /** Garbage collection every this many hours (0-8760; 0: on demand only). Default: `0`. */
    gcIntervalHours?: number;
    /** GC also deletes untagged manifests. Default: `false`. */
    gcDeleteUntagged?: boolean;
    /** Tag retention rules, applied in the GC window before collection (on S3, with static keys). Default: `[]`, every tag kept. */
    retention?: RetentionRuleArgs[];
    /** Retention only reports what it would delete (registry log and report file). Default: `true`. */
    retentionDryRun?: boolean;
    /** Default: `{driver: filesystem}`. */
    storage?: RegistryStorageArgs;
    /** Extra Docker labels on every container, network and volume. Default: `{}`. */
    labels?: Record<string, string>;
    /** Several Docker hosts serving one registry (S3, DNS-01 and redis needed for two or more). Default: `[]`, one host at `dockerHost`. */
    hosts?: RegistryHostArgs[];
    /** The hosts' shared blob descriptor cache and GC coordination. Default: `{}`, none. */
    redis?: RegistryRedisArgs;
    /** Used with `redis.runOn`. Default: `redis:7-alpine`. */
    redisImage?: string;
    /** With `hosts`: seconds between a host serving again and the next host's turn (0-600). Default: `10`. */
    rolloutPauseSeconds?: number;
    /** Webhooks the registry POSTs its events (push, pull, delete) to; distribution queues them in memory. Default: `[]`, none. */
    notifications?: RegistryNotificationArgs[];
    /** The Prometheus scrape endpoint: `{enabled, port?: 9145, bindAddress?: 127.0.0.1, password?}` (password: required off loopback, kept secret). Default: `{}`, off. */
    metrics?: RegistryMetricsArgs;
    /** Pull-through caches of other registries, each on its own host name `<name>.<domain>` (on the certificate). Default: `[]`, none. */
    mirrors?: RegistryMirrorArgs[];
}

/** A pull-through cache of another registry (Docker Hub or any): distribution's proxy mode, pull only. */
export interface RegistryMirrorArgs {
    /** A DNS label, unique: the mirror's host name is `<name>.<domain>`. Required. */
    name: string;
    /** The upstream registry's URL, e.g. `https://registry-1.docker.io` (no path, no credentials). Required. */
    upstream: string;
    /** The upstream's user (with `password`, an `https://` upstream only). Default: none, anonymous. */
    username?: string;
    /** The upstream's password or token. Default: none. Kept secret. */
    password?: pulumi.Input<string>;
    /** How long cached content lives: `0` (never expires) or a duration such as `168h`. Default: `0`. */
    ttl?: string;
    /** PEM of a private CA that signed an `https://` upstream's certificate. Default: the system's roots. */
    caCertificate?: string;
}

/** A webhook endpoint of the registry's events (distribution's `notifications.endpoints`). */
export interface RegistryNotificationArgs {
    /** 1-64 letters, digits, `.`, `_` or `-`, unique. Required. */
    name: string;
    /** `http://` or `https://`, without credentials. Required. */
    url: string;
    /** Sent with every request, e.g. `{ Authorization: "Bearer ..." }`. Default: none. Kept secret. */
    headers?: Record<string, pulumi.Input<string>>;
    /** Per request: `500ms`, `5s`, `1m` (100ms-300s). Default: `5s`. */
    timeout?: string;
    /** Failures in a row before the endpoint backs off (1-1000). Default: `5`. */
    threshold?: number;
    /** Wait after `threshold` failures (100ms-3600s). Default: `1s`. */
    backoff?: string;
    /** Events about targets of these media types are not sent, e.g. `application/octet-stream` (layers). Default: `[]`. */
    ignoredMediaTypes?: string[];
}

/** One of several Docker hosts serving the registry. */
export interface RegistryHostArgs {
    /** A DNS label: the host's own name is `<name>.<domain>`, on its certificate. Required. */
    name: string;
    /** Its Docker daemon: `unix://...`, `ssh://user@host[:port]`, or `tcp://host:port` with `tls`. Required. */
    dockerHost: string;
    /** With a `tcp://` dockerHost (`dockerd --tlsverify`): the daemon's CA, this client's certificate (PEM) and key (PEM, kept secret). Default: none. */
    tls?: RegistryHostTlsArgs;
    /** Default: the top-level `bindAddress`. */
    bindAddress?: string;
    /** Default: the top-level `httpPort`. */
    httpPort?: number;
    /** Default: the top-level `httpsPort`. */
    httpsPort?: number;
    /** Address this host's scrape endpoint is published on (an address of this host). Default: `metrics.bindAddress`. */
    metricsBindAddress?: string;
    /** Published port of this host's scrape endpoint. Default: `metrics.port`. */
    metricsPort?: number;
}

/** A host's Docker daemon over `tcp://` with TLS (`dockerd --tlsverify`). */
export interface RegistryHostTlsArgs {
    /** PEM of the daemon's CA. Required. */
    caCertificate: string;
    /** PEM of this client's certificate. Required. */
    certificate: string;
    /** PEM of this client's key. Required. Kept secret. */
    key: pulumi.Input<string>;
}

/** The Prometheus scrape endpoint. */
export interface RegistryMetricsArgs {
    /** Default: `false`. */
    enabled?: boolean;
    /** Published port of the endpoint. Default: `9145`. */
    port?: number;
    /** Address it is published on. Default: `127.0.0.1`. */
    bindAddress?: string;
    /** Basic-auth password of user `metrics`; required off loopback. Default: none. Kept secret. */
    password?: pulumi.Input<string>;
}

/** Redis: external, or run by this program on one of the hosts (`runOn`). */
export interface RegistryRedisArgs {
    /** `host:port` every host's containers reach it at; with `runOn`, that host's IP (Redis is published there alone). Required. */
    address: string;
    /** 16-512 printable characters. Required with `runOn`. Kept secret. */
    password?: pulumi.Input<string>;
    /** Default: `false`. */
    tls?: boolean;
    /** PEM of a private CA that signed Redis' certificate (with `tls`). Default: the system's roots. */
    caCertificate?: string;
    /** Default: `0`. */
    db?: number;
    /** The name of the host (of `hosts`) that runs Redis as a container. Default: none, an external Redis. */
    runOn?: string;
}
