// The S3 helper's script (configs/s3HelperProtocol.ts says what it is for and when it runs):
// python3 in the certbot image, standard library only, signing its requests with the
// registry's keys. Pure: settings in, the script out.
import type { S3Storage, Settings } from "../settings/types";
import { GC_LAST, hasS3Ca, REGISTRY_CONTROL_DIR, S3_CA_PATH, S3_KEYS_PATH } from "./registry";
import { listsS3Storage, S3_HELPER_FILES, S3_LISTING_INTERVAL_SECONDS } from "./s3HelperProtocol";
import { renderTemplate } from "./template";

export const S3_HELPER_PATH = "/usr/local/lib/registry-s3/s3-helper.py";

/** The key prefix of distribution's storage in the bucket (its layout under rootDirectory). */
function storagePrefix(storage: Pick<S3Storage, "rootDirectory">): string {
    return `${storage.rootDirectory ? `${storage.rootDirectory}/` : ""}docker/registry/v2/`;
}

/** The key prefix of the registry's repositories in the bucket. */
export function repositoriesPrefix(storage: Pick<S3Storage, "rootDirectory">): string {
    return `${storagePrefix(storage)}repositories/`;
}

/** The key prefix of the registry's blobs in the bucket (`<algorithm>/<2 hex>/<hex>/data` under it). */
export function blobsPrefix(storage: Pick<S3Storage, "rootDirectory">): string {
    return `${storagePrefix(storage)}blobs/`;
}

/** The helper's script, for S3 storage with static keys (settings refuse retention without them; metrics then list nothing). */
export function renderS3Helper(s: Pick<Settings, "storage" | "metrics">): string {
    const st = s.storage;
    if (st.driver !== "s3") throw new Error("the S3 helper needs storage driver s3");
    return renderTemplate("s3-helper.py.mustache", {
        // AWS without an endpoint: the region's endpoint, the bucket in the host name unless forcePathStyle.
        endpoint: st.endpoint ?? `https://s3.${st.region}.amazonaws.com`,
        bucket: st.bucket,
        region: st.region,
        pathStyle: st.forcePathStyle ? "True" : "False",
        repositoriesPrefix: repositoriesPrefix(st),
        blobsPrefix: blobsPrefix(st),
        keysPath: S3_KEYS_PATH,
        caPath: hasS3Ca(st) ? JSON.stringify(S3_CA_PATH) : "None",
        controlDir: REGISTRY_CONTROL_DIR,
        listing: listsS3Storage(s),
        listingSeconds: S3_LISTING_INTERVAL_SECONDS,
        gcLast: GC_LAST,
        ...S3_HELPER_FILES,
    });
}
