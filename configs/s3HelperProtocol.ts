// What the S3 helper (configs/s3Helper.ts) is for, when it runs, and the files in the control
// volume through which the registry's supervisor asks it for work. The registry image has no
// S3 client, so this helper is the supervisor's hands on the bucket:
//   - tag retention lists the tags with their push times and deletes the planned ones;
//   - with metrics on, it lists the blobs with their sizes: every hour, after every GC, and in
//     the GC window before the collection (what the GC deletes is then known in bytes).
// Pure: settings in, text out.
import type { Settings } from "../settings/types";
import { renderTemplate } from "./template";

/**
 * In the control volume. The supervisor asks (request: "<id> list|delete|blobs"), the helper
 * answers (answer: "<id> ok|failed <message>"). tree: the tags' link files as the helper copied
 * them from the bucket (list); plan: the tag directories to delete (delete); blobs: "<digest>
 * <bytes>" of every stored blob (blobs). alive: the helper's heartbeat (a Unix time, every
 * 2 s). storage: its last listing of the blobs, for the metrics endpoint: "<end of the last
 * good listing> <seconds the last listing took> <1 worked|0 failed> <blobs> <bytes> <LIST
 * requests>", the last good listing's blobs and bytes ("-" before the first).
 */
export const S3_HELPER_FILES = {
    request: "s3-helper-request",
    answer: "s3-helper-answer",
    tree: "retention-s3-tree",
    plan: "retention-s3-plan",
    blobs: "s3-blobs",
    alive: "s3-helper-alive",
    storage: "s3-storage-result",
} as const;
/** How long the supervisor waits for each of the helper's answers (the GC window stays open meanwhile). */
export const S3_HELPER_TIMEOUT_SECONDS = 900;
/** A helper whose heartbeat is older than this is not running: the supervisor stops waiting for it. */
export const S3_HELPER_STALE_SECONDS = 30;
/** How often the helper lists the blobs for the metrics endpoint (and once after every GC). */
export const S3_LISTING_INTERVAL_SECONDS = 3600;

/** Whether the helper lists the blobs: metrics on, S3 storage with the static keys it signs with. */
export function listsS3Storage(s: Pick<Settings, "metrics" | "storage">): boolean {
    return s.storage.driver === "s3" && s.metrics.enabled && s.storage.credentials !== undefined;
}

/** Whether the host runs the helper: retention rules on S3 storage, or its blobs listed for metrics. */
export function needsS3Helper(s: Pick<Settings, "metrics" | "retention" | "storage">): boolean {
    return s.storage.driver === "s3" && (s.retention.rules.length > 0 || listsS3Storage(s));
}

/** The helper's container name. */
export function s3HelperName(s: Pick<Settings, "namePrefix">): string {
    return `${s.namePrefix}-s3-helper`;
}

/** The supervisor's `s3_helper <verb>` function, which asks the helper and waits for its answer. */
export function renderS3HelperAsk(s: Pick<Settings, "namePrefix">): string {
    return renderTemplate("s3-helper-ask.sh.mustache", {
        helper: s3HelperName(s),
        request: S3_HELPER_FILES.request,
        answer: S3_HELPER_FILES.answer,
        alive: S3_HELPER_FILES.alive,
        timeoutSeconds: S3_HELPER_TIMEOUT_SECONDS,
        staleSeconds: S3_HELPER_STALE_SECONDS,
    });
}
