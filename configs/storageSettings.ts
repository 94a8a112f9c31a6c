// The `storage` config key: the data volume (default) or an S3 bucket, parsed into typed
// settings. Pure, like the rest of configs/: JSON in, StorageSettings (or problems) out.
import { pemCertificates } from "./pem";
import { Secret } from "./secret";
import { SecretPaths } from "./secretPaths";
import { show } from "./show";

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
    credentials?: { accessKey: Secret; secretKey: Secret };
    /** Let clients download blobs straight from the storage (presigned URLs) instead of through nginx. */
    redirect: boolean;
    /** PEM certificate(s) of a private CA that signed the endpoint's certificate, trusted besides the system roots. */
    caCertificate?: string;
}

export type StorageSettings = { driver: "filesystem" } | S3Storage;

const S3_FIELDS = ["driver", "bucket", "region", "endpoint", "forcePathStyle", "rootDirectory", "accessKey", "secretKey", "redirect", "caCertificate"] as const;
// Bucket names as S3 allows them: 3-63 lower-case letters, digits, '.' and '-', not an IP address.
const BUCKET = /^(?!\d+\.\d+\.\d+\.\d+$)(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ROOT_DIRECTORY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
// Printable ASCII without spaces: what AWS and S3-compatible servers issue, and one line each
// in the keys file the registry container reads (configs/registry.ts).
export const S3_KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * Parses the `storage` key (JSON from Pulumi config). Problems go to `problems`, naming
 * `key` (the qualified config key). When any part of it is encrypted (`secrets`), no value of
 * it is echoed; keys stored in plain text are refused.
 */
export function parseStorage(raw: string | undefined, key: string, secrets: SecretPaths, problems: string[]): StorageSettings {
    const keyIsSecret = secrets.touches("storage");
    const expected = "{ driver: filesystem } or { driver: s3, bucket, region, endpoint?, forcePathStyle?, rootDirectory?, accessKey?, secretKey?, redirect?, caCertificate? }";
    if (raw === undefined || raw === "") return { driver: "filesystem" };
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        problems.push(`${key}: expected ${expected}, got ${keyIsSecret ? "a secret value" : show(raw)}`);
        return { driver: "filesystem" };
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${key}: expected ${expected}`);
        return { driver: "filesystem" };
    }
    const v = value as Record<string, unknown>;
    // Values of a secret key are never echoed, whichever field held the secret.
    const given = (x: unknown) => (keyIsSecret ? "a secret value" : show(String(x)));
    const count = problems.length;
    const driver = v.driver ?? "filesystem";
    if (driver !== "filesystem" && driver !== "s3") {
        problems.push(`${key}.driver: expected filesystem or s3, got ${given(driver)}`);
        return { driver: "filesystem" };
    }
    for (const k of Object.keys(v)) {
        if (!(S3_FIELDS as readonly string[]).includes(k)) problems.push(`${key}: unknown field ${show(k)}; expected one of ${S3_FIELDS.join(", ")}`);
        else if (driver === "filesystem" && k !== "driver") problems.push(`${key}.${k}: only used with driver s3 (storage.driver is filesystem)`);
    }
    if (driver === "filesystem") return { driver: "filesystem" };

    const text = (field: string): string | undefined => {
        const x = v[field];
        if (x === undefined || x === null || x === "") return undefined;
        if (typeof x !== "string") {
            problems.push(`${key}.${field}: expected a string`);
            return undefined;
        }
        return x.trim();
    };
    const flag = (field: string, fallback: boolean): boolean => {
        const x = v[field];
        if (x === undefined || x === null || x === "") return fallback;
        if (x === true || x === "true") return true;
        if (x === false || x === "false") return false;
        problems.push(`${key}.${field}: expected true or false, got ${given(x)}`);
        return fallback;
    };

    const bucket = text("bucket");
    if (bucket === undefined) problems.push(`${key}.bucket: required with driver s3; set it with \`pulumi config set --path storage.bucket my-registry\``);
    else if (!BUCKET.test(bucket) || bucket.includes("..")) problems.push(`${key}.bucket: expected an S3 bucket name (3-63 lower-case letters, digits, '.' or '-'), got ${given(bucket)}`);

    let endpoint: string | undefined;
    let secure = true;
    const endpointRaw = text("endpoint");
    if (endpointRaw !== undefined) {
        let url: URL | undefined;
        try {
            url = new URL(endpointRaw);
        } catch {
            url = undefined;
        }
        if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
            problems.push(`${key}.endpoint: expected the URL of an S3-compatible server such as https://s3.example.com or http://10.0.0.5:9000 (no path, no credentials), got ${given(endpointRaw)}`);
        } else {
            endpoint = `${url.protocol}//${url.host}`;
            secure = url.protocol === "https:";
        }
    }

    // AWS needs its region; S3-compatible servers mostly accept us-east-1.
    const region = text("region") ?? (endpointRaw !== undefined ? "us-east-1" : undefined);
    if (region === undefined) problems.push(`${key}.region: required with driver s3 on AWS (no endpoint), e.g. eu-central-1`);
    else if (!REGION.test(region)) problems.push(`${key}.region: expected a region name such as eu-central-1, got ${given(region)}`);

    const rootRaw = text("rootDirectory") ?? "";
    const rootDirectory = rootRaw.replace(/^\/+|\/+$/g, "");
    if (rootDirectory !== "" && (!ROOT_DIRECTORY.test(rootDirectory) || rootDirectory.split("/").some((p) => p === "." || p === ".."))) {
        problems.push(`${key}.rootDirectory: expected a key prefix such as registry or teams/registry, got ${given(rootRaw)}`);
    }

    const accessKey = text("accessKey");
    const secretKey = text("secretKey");
    let credentials: S3Storage["credentials"];
    if ((accessKey === undefined) !== (secretKey === undefined)) {
        problems.push(`${key}: expected both accessKey and secretKey, or neither (the AWS SDK's default chain, e.g. an instance role), got only ${accessKey === undefined ? "secretKey" : "accessKey"}`);
    } else if (accessKey !== undefined && secretKey !== undefined) {
        for (const field of ["accessKey", "secretKey"]) {
            if (!secrets.covers(`storage.${field}`)) {
                problems.push(`${key}.${field}: must be stored as a secret: \`pulumi config set --secret --path storage.${field} ...\``);
            }
        }
        if (!S3_KEY_CHARS.test(accessKey) || accessKey.length > 128) problems.push(`${key}.accessKey: expected 1-128 printable characters without spaces`);
        if (!S3_KEY_CHARS.test(secretKey) || secretKey.length > 256) problems.push(`${key}.secretKey: expected 1-256 printable characters without spaces`);
        credentials = { accessKey: new Secret(accessKey), secretKey: new Secret(secretKey) };
    }

    // A private CA for an S3-compatible server's certificate (PEM; every block must parse).
    let caCertificate: string | undefined;
    const caRaw = v.caCertificate;
    if (caRaw !== undefined && caRaw !== null && caRaw !== "") {
        const pem = pemCertificates(caRaw);
        if (pem === undefined) {
            problems.push(`${key}.caCertificate: expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...), e.g. \`pulumi config set --path storage.caCertificate -- "$(cat ca.pem)"\``);
        } else if (!secure) {
            problems.push(`${key}.caCertificate: only used with an https:// endpoint (storage.endpoint is http://)`);
        } else {
            caCertificate = pem;
        }
    }

    const s3: S3Storage = {
        driver: "s3",
        bucket: bucket ?? "",
        region: region ?? "",
        endpoint,
        // S3-compatible servers mostly want the bucket in the path; AWS wants it in the host.
        forcePathStyle: flag("forcePathStyle", endpointRaw !== undefined),
        secure,
        rootDirectory,
        credentials,
        redirect: flag("redirect", false),
        caCertificate,
    };
    return problems.length > count ? { driver: "filesystem" } : s3;
}
