// Tag retention: the rules file `pulumi up` installs in the registry's control volume, and the
// part of the registry's supervisor that applies it in the GC window
// (configs/templates/retention.sh.mustache). Pure: settings in, text out.
import type { Settings } from "../settings/types";
import { renderTemplate } from "./template";

/** In the control volume: the rules, read by the supervisor at each GC (a change replaces no container). */
export const RETENTION_RULES = "retention-rules";
/** In the control volume: the last run's report (every tag deleted, or that a dry run would delete, and why). */
export const RETENTION_REPORT = "retention-report";
/**
 * In the control volume: the last run's result, for the metrics endpoint:
 * "<start> <duration s> <1 worked|0 failed> <tags deleted> <1 dry run|0>".
 */
export const RETENTION_RESULT = "last-retention-result";
/**
 * S3 storage: the files through which the supervisor and the S3 helper
 * (configs/s3Retention.ts) talk, in the control volume. The supervisor asks (request: "<id>
 * list|delete"), the helper answers (answer: "<id> ok|failed <message>"); tree is the tags'
 * link files as the helper copied them from the bucket, plan the tag directories to delete.
 */
export const S3_RETENTION_FILES = {
    request: "retention-s3-request",
    answer: "retention-s3-answer",
    tree: "retention-s3-tree",
    plan: "retention-s3-plan",
} as const;
/** How long the supervisor waits for each of the S3 helper's answers (the GC window stays open meanwhile). */
export const S3_RETENTION_TIMEOUT_SECONDS = 900;

/** Whether the host runs the S3 helper: retention rules on S3 storage. */
export function needsS3RetentionHelper(s: Pick<Settings, "retention" | "storage">): boolean {
    return s.storage.driver === "s3" && s.retention.rules.length > 0;
}

/** The S3 helper's container name. */
export function s3RetentionHelperName(s: Pick<Settings, "namePrefix">): string {
    return `${s.namePrefix}-retention-s3`;
}

/**
 * The rules file: `dryrun <TAB> 1|0`, then one line per rule: `rule`, its number (from 1, as
 * in the report), its glob, the glob as an anchored ERE, keepTags, keepLast, keepPushedWithin
 * in seconds and as given; an absent keep is an empty field. Tab-separated: no field can hold
 * a tab or a line break (settings/retention.ts refuses whitespace).
 */
export function renderRetentionRules(s: Pick<Settings, "retention">): string {
    const lines = [`dryrun\t${s.retention.dryRun ? 1 : 0}`];
    s.retention.rules.forEach((r, i) => {
        lines.push(
            [
                "rule",
                i + 1,
                r.repositories,
                r.repositoriesPattern,
                r.keepTags ?? "",
                r.keepLast ?? "",
                r.keepPushedWithin?.seconds ?? "",
                r.keepPushedWithin?.text ?? "",
            ].join("\t"),
        );
    });
    return `${lines.join("\n")}\n`;
}

/** Shell lines that write the rules file whole, then rename it into place (in the registry container). */
export function renderRetentionRulesInstall(s: Pick<Settings, "retention">, controlDir: string): string {
    const file = `${controlDir}/${RETENTION_RULES}`;
    // A quoted here-document: nothing in it is expanded; no line of the file is the marker.
    return `cat > ${file}.tmp <<'RETENTION_RULES_END'\n${renderRetentionRules(s)}RETENTION_RULES_END\nmv -f ${file}.tmp ${file}\necho "retention: ${s.retention.rules.length} rule(s), ${s.retention.dryRun ? "dry run" : "deleting"}"\n`;
}

/**
 * The supervisor's `retention` function and its awk program, for a registry storing under
 * `dataDir`, or on S3 through the helper container `s3Helper`.
 */
export function renderRetentionFunction(dataDir: string, s3Helper?: string): string {
    return renderTemplate("retention.sh.mustache", {
        s3: s3Helper !== undefined,
        s3Helper,
        s3Request: S3_RETENTION_FILES.request,
        s3Answer: S3_RETENTION_FILES.answer,
        s3Tree: S3_RETENTION_FILES.tree,
        s3Plan: S3_RETENTION_FILES.plan,
        s3TimeoutSeconds: S3_RETENTION_TIMEOUT_SECONDS,
        rulesFile: RETENTION_RULES,
        reportFile: RETENTION_REPORT,
        resultFile: RETENTION_RESULT,
        repositoriesDir: `${dataDir}/docker/registry/v2/repositories`,
    });
}
