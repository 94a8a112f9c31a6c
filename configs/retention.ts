// Tag retention: the rules file `pulumi up` installs in the registry's control volume, and the
// part of the registry's supervisor that applies it in the GC window
// (configs/templates/retention.sh.mustache). Pure: settings in, text out.
import type { Settings } from "../settings/types";
import { S3_HELPER_FILES } from "./s3HelperProtocol";
import { renderTemplate } from "./template";

/** In the control volume: the rules, read by the supervisor at each GC (a change replaces no container). */
export const RETENTION_RULES = "retention-rules";
/** In the control volume: the last run's report (every tag deleted, or that a dry run would delete, and why). */
export const RETENTION_REPORT = "retention-report";
/**
 * In the control volume: the last run's result, for the metrics endpoint:
 * "<start> <duration s, to 0.01> <1 worked|0 failed> <tags deleted> <1 dry run|0>".
 */
export const RETENTION_RESULT = "last-retention-result";
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
 * `dataDir`, or on S3 through the S3 helper (`s3`: the supervisor has its `s3_helper`).
 */
export function renderRetentionFunction(dataDir: string, s3: boolean): string {
    return renderTemplate("retention.sh.mustache", {
        s3,
        s3Tree: S3_HELPER_FILES.tree,
        s3Plan: S3_HELPER_FILES.plan,
        rulesFile: RETENTION_RULES,
        reportFile: RETENTION_REPORT,
        resultFile: RETENTION_RESULT,
        repositoriesDir: `${dataDir}/docker/registry/v2/repositories`,
    });
}
