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
    access: Access;
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
    /** Where the registry keeps blobs and manifests: the data volume, or an S3 bucket. */
    storage: StorageSettings;
    /** Several Docker hosts serving the registry (settings/hosts.ts); empty: one, at dockerHost. */
    hosts: HostSettings[];
    /** The shared blob descriptor cache and GC coordination (settings/redis.ts); undefined: none. */
    redis?: RedisSettings;
    /** With hosts: seconds between a host serving again and the next host's turn (a load balancer takes it back). */
    rolloutPauseSeconds: number;
}
