// The `storage` field: the data volume (default) or an S3 bucket, parsed into typed settings.
// Pure, like everything in settings/: values in, StorageSettings (or problems) out, with no I/O
// and no Pulumi. configs/registry.ts renders the registry's storage section from the result.
import { Fields } from "./fields";
import { pemCertificates } from "./pem";
import { show } from "./show";
import type { S3Storage, StorageSettings } from "./types";
import { parseUrl } from "./validators";

const S3_FIELDS = [
    "driver",
    "bucket",
    "region",
    "endpoint",
    "forcePathStyle",
    "rootDirectory",
    "accessKey",
    "secretKey",
    "redirect",
    "caCertificate",
] as const;
// Bucket names as S3 allows them: 3-63 lower-case letters, digits, '.' and '-', not an IP address.
const BUCKET = /^(?!\d+\.\d+\.\d+\.\d+$)(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ROOT_DIRECTORY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
// Printable ASCII without spaces: what AWS and S3-compatible servers issue, and one line each
// in the keys file the registry container reads (configs/registry.ts).
export const S3_KEY_CHARS = /^[\x21-\x7e]+$/;

/** What is wrong with an S3 key (printable, no spaces, at most `max` characters), or undefined. */
export function keyProblem(max: number): (key: string) => string | undefined {
    return (key) => (S3_KEY_CHARS.test(key) && key.length <= max ? undefined : `expected 1-${max} printable characters without spaces`);
}

/**
 * Parses the `storage` field: `{ driver: filesystem }` (the default) or an S3 bucket. When any
 * part of it is encrypted in the stack file, no value of it is echoed; keys stored in plain
 * text there are refused.
 */
export function parseStorage(f: Fields): StorageSettings {
    const expected =
        "{ driver: filesystem } or { driver: s3, bucket, region, endpoint?, forcePathStyle?, rootDirectory?, accessKey?, secretKey?, redirect?, caCertificate? }";
    const value = f.map("storage", { driver: "filesystem" }, expected);
    if (value === undefined) return { driver: "filesystem" };
    const v = f.within("storage", value);
    const count = f.problems.length;
    const driver = value.driver ?? "filesystem";
    if (driver !== "filesystem" && driver !== "s3") {
        v.bad("driver", driver, "filesystem or s3");
        return { driver: "filesystem" };
    }
    for (const k of Object.keys(value)) {
        if (!(S3_FIELDS as readonly string[]).includes(k))
            f.problem("storage", `unknown field ${show(k)}; expected one of ${S3_FIELDS.join(", ")}`);
        else if (driver === "filesystem" && k !== "driver") v.problem(k, "only used with driver s3 (storage.driver is filesystem)");
    }
    if (driver === "filesystem") return { driver: "filesystem" };
    const endpoint = parseEndpoint(v);
    const s3: S3Storage = {
        driver: "s3",
        bucket: parseBucket(v),
        // AWS needs its region; S3-compatible servers mostly accept us-east-1.
        region: parseRegion(v, endpoint.given !== undefined ? "us-east-1" : undefined),
        endpoint: endpoint.url,
        // S3-compatible servers mostly want the bucket in the path; AWS wants it in the host.
        forcePathStyle: v.flag("forcePathStyle", endpoint.given !== undefined),
        secure: endpoint.secure,
        rootDirectory: parseRootDirectory(v),
        credentials: parseCredentials(f, v, value),
        redirect: v.flag("redirect", false),
        caCertificate: parseCa(v, endpoint.secure),
    };
    return f.problems.length > count ? { driver: "filesystem" } : s3;
}

function parseBucket(v: Fields): string {
    const bucket = v.text("bucket");
    if (bucket === undefined)
        v.problem("bucket", "required with driver s3; set it with `pulumi config set --path storage.bucket my-registry`");
    else if (!BUCKET.test(bucket) || bucket.includes(".."))
        v.bad("bucket", bucket, "an S3 bucket name (3-63 lower-case letters, digits, '.' or '-')");
    return bucket ?? "";
}

function parseRegion(v: Fields, fallback: string | undefined): string {
    const region = v.text("region") ?? fallback;
    if (region === undefined) v.problem("region", "required with driver s3 on AWS (no endpoint), e.g. eu-central-1");
    else if (!REGION.test(region)) v.bad("region", region, "a region name such as eu-central-1");
    return region ?? "";
}

/** An S3-compatible server's URL: scheme, host and port only. */
function parseEndpoint(v: Fields): { given?: string; url?: string; secure: boolean } {
    const given = v.text("endpoint");
    if (given === undefined) return { secure: true };
    const url = parseUrl(given);
    const plain =
        url && (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password && !url.search && !url.hash;
    if (!url || !plain || (url.pathname !== "/" && url.pathname !== "")) {
        v.bad(
            "endpoint",
            given,
            "the URL of an S3-compatible server such as https://s3.example.com or http://10.0.0.5:9000 (no path, no credentials)",
        );
        return { given, secure: true };
    }
    return { given, url: `${url.protocol}//${url.host}`, secure: url.protocol === "https:" };
}

function parseRootDirectory(v: Fields): string {
    const given = v.text("rootDirectory") ?? "";
    const rootDirectory = given.replace(/^\/+|\/+$/g, "");
    if (rootDirectory !== "" && (!ROOT_DIRECTORY.test(rootDirectory) || rootDirectory.split("/").some((p) => p === "." || p === ".."))) {
        v.bad("rootDirectory", given, "a key prefix such as registry or teams/registry");
    }
    return rootDirectory;
}

/** Both keys, or neither (the AWS SDK's default chain); secrets, kept as such. */
function parseCredentials(f: Fields, v: Fields, value: Record<string, unknown>): S3Storage["credentials"] {
    const accessKey = v.secret("accessKey", value.accessKey, keyProblem(128), "pulumi config set --secret --path storage.accessKey ...");
    const secretKey = v.secret("secretKey", value.secretKey, keyProblem(256), "pulumi config set --secret --path storage.secretKey ...");
    const has = (x: unknown) => x !== undefined && x !== null && x !== "";
    if (has(value.accessKey) !== has(value.secretKey)) {
        const only = has(value.accessKey) ? "accessKey" : "secretKey";
        f.problem(
            "storage",
            `expected both accessKey and secretKey, or neither (the AWS SDK's default chain, e.g. an instance role), got only ${only}`,
        );
        return undefined;
    }
    return accessKey && secretKey ? { accessKey, secretKey } : undefined;
}

/** A private CA for an S3-compatible server's certificate (PEM; every block must parse). */
function parseCa(v: Fields, secure: boolean): string | undefined {
    const given = v.text("caCertificate");
    if (given === undefined) return undefined;
    const pem = pemCertificates(given);
    if (pem === undefined) {
        v.problem(
            "caCertificate",
            'expected one or more PEM CA certificates (-----BEGIN CERTIFICATE----- ...), e.g. `pulumi config set --path storage.caCertificate -- "$(cat ca.pem)"`',
        );
        return undefined;
    }
    if (!secure) {
        v.problem("caCertificate", "only used with an https:// endpoint (storage.endpoint is http://)");
        return undefined;
    }
    return pem;
}
