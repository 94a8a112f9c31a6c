// Tag retention on S3 storage: the helper that lists the tags' link files with their
// LastModified and deletes the planned tags' objects, for the registry's supervisor (the
// registry image has no S3 client). python3 in the certbot image, standard library only.
// Pure: settings in, the script out.
import type { S3Storage, Settings } from "../settings/types";
import { hasS3Ca, REGISTRY_CONTROL_DIR, S3_CA_PATH, S3_KEYS_PATH } from "./registry";
import { S3_RETENTION_FILES } from "./retention";
import { renderTemplate } from "./template";

export const S3_RETENTION_HELPER_PATH = "/usr/local/lib/registry-retention/s3-retention.py";

/** The key prefix of the registry's repositories in the bucket (distribution's layout under rootDirectory). */
export function repositoriesPrefix(storage: Pick<S3Storage, "rootDirectory">): string {
    return `${storage.rootDirectory ? `${storage.rootDirectory}/` : ""}docker/registry/v2/repositories/`;
}

/** The helper's script, for S3 storage with static keys (settings/retention.ts refuses retention without them). */
export function renderS3RetentionHelper(s: Pick<Settings, "storage">): string {
    const st = s.storage;
    if (st.driver !== "s3") throw new Error("the S3 retention helper needs storage driver s3");
    return renderTemplate("s3-retention.py.mustache", {
        // AWS without an endpoint: the region's endpoint, the bucket in the host name unless forcePathStyle.
        endpoint: st.endpoint ?? `https://s3.${st.region}.amazonaws.com`,
        bucket: st.bucket,
        region: st.region,
        pathStyle: st.forcePathStyle ? "True" : "False",
        repositoriesPrefix: repositoriesPrefix(st),
        keysPath: S3_KEYS_PATH,
        caPath: hasS3Ca(st) ? JSON.stringify(S3_CA_PATH) : "None",
        controlDir: REGISTRY_CONTROL_DIR,
        ...S3_RETENTION_FILES,
    });
}
