// Tag retention, pure: the rules' parsing (every refusal names its key), the globs and regexes
// as awk reads them, the rules file, and the supervisor's retention function run by this
// machine's sh, find, stat, sort and awk on a storage tree built here (no Docker).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { renderGcScheduleInstall, renderRegistrySupervisor } from "../../configs/registry";
import { RETENTION_REPORT, RETENTION_RULES, renderRetentionFunction, renderRetentionRules } from "../../configs/retention";
import { ConfigError, parseSettings } from "../../settings/parse";
import { globPattern } from "../../settings/glob";
import { durationSeconds, regexProblem } from "../../settings/retention";

const base = { domain: "registry.example.com" };
const withRules = (rules: unknown, more: Record<string, string> = {}) =>
    parseSettings({ ...base, retention: JSON.stringify(rules), ...more }, "dev");

function problems(rules: unknown, more: Record<string, string> = {}): string[] {
    try {
        withRules(rules, more);
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.problems;
    }
    return [];
}

describe("retention settings", () => {
    test("defaults: no rules, dry run", () => {
        const s = parseSettings(base, "dev");
        assert.deepEqual(s.retention, { rules: [], dryRun: true });
    });

    test("a rule set parses into typed rules", () => {
        const s = withRules(
            [
                { repositories: "team-a/*", keepTags: "release-.*", keepLast: 10 },
                { repositories: "**", keepPushedWithin: "1w2d", keepLast: "3" },
            ],
            { retentionDryRun: "false" },
        );
        assert.equal(s.retention.dryRun, false);
        assert.deepEqual(s.retention.rules, [
            {
                repositories: "team-a/*",
                repositoriesPattern: "^team-a/[^/]*$",
                keepTags: "release-.*",
                keepLast: 10,
                keepPushedWithin: undefined,
            },
            {
                repositories: "**",
                repositoriesPattern: "^.*$",
                keepTags: undefined,
                keepLast: 3,
                keepPushedWithin: { text: "1w2d", seconds: 9 * 86400 },
            },
        ]);
    });

    test("each bad field is refused with its key named", () => {
        const found = problems([
            { repositories: "Team/[ab]", keepLast: 1 },
            { repositories: "a/*", keepTags: "\\d+" },
            { repositories: "a/*", keepTags: "(?=x)y" },
            { repositories: "a/*", keepTags: "v.*?" },
            { repositories: "a/*", keepTags: "[[:digit:]]+" },
            { repositories: "a/*", keepTags: "[\\w]" },
            { repositories: "a/*", keepTags: "(a" },
            { repositories: "a/*", keepTags: "a||b" },
            { repositories: "a/*", keepTags: "v[0-9]{1,3}" },
            { repositories: "a/*", keepLast: -1 },
            { repositories: "a/*", keepLast: 1.5 },
            { repositories: "a/*", keepPushedWithin: "30 days" },
            { repositories: "a/*", keepPushedWithin: "1y" },
            { repositories: "a/*" },
            { keepLast: 1 },
            { repositories: "a/*", keepLast: 1, keep: 2 },
            "a/*",
        ]);
        const expect = [
            /^private-registry:retention\[0\]\.repositories: expected a repository glob/,
            /^private-registry:retention\[1\]\.keepTags: .*escapes such as \\d/,
            /^private-registry:retention\[2\]\.keepTags: .*groups starting with \(\?/,
            /^private-registry:retention\[3\]\.keepTags: .*lazy quantifiers/,
            /^private-registry:retention\[4\]\.keepTags: .*POSIX bracket classes/,
            /^private-registry:retention\[5\]\.keepTags: .*a backslash inside brackets/,
            /^private-registry:retention\[6\]\.keepTags: .*JavaScript cannot compile it/,
            /^private-registry:retention\[7\]\.keepTags: .*an empty alternative/,
            /^private-registry:retention\[8\]\.keepTags: .*counted repetitions/,
            /^private-registry:retention\[9\]\.keepLast: expected an integer from 0/,
            /^private-registry:retention\[10\]\.keepLast: expected an integer from 0/,
            /^private-registry:retention\[11\]\.keepPushedWithin: expected a duration such as 30d/,
            /^private-registry:retention\[12\]\.keepPushedWithin: expected a duration/,
            /^private-registry:retention\[13\]: keeps nothing/,
            /^private-registry:retention\[14\]\.repositories: required/,
            /^private-registry:retention\[15\]: unknown field "keep"/,
            /^private-registry:retention\[16\]: expected \{ repositories/,
        ];
        assert.equal(found.length, expect.length, found.join("\n"));
        expect.forEach((re, i) => assert.match(found[i], re));
    });

    test("retention with S3 storage without static keys is refused, naming the key", () => {
        const found = problems([{ repositories: "**", keepLast: 5 }], {
            storage: JSON.stringify({ driver: "s3", bucket: "team-registry", region: "eu-west-1" }),
        });
        assert.deepEqual(
            found.filter((p) => p.startsWith("private-registry:retention:")),
            [
                "private-registry:retention: with storage driver s3, retention needs the storage's static keys (storage.accessKey and storage.secretKey), which its S3 helper signs with; set them, or leave retention empty",
            ],
        );
    });

    test("globs: * stays within a path segment, ** crosses them, ? is one character", () => {
        const matches = (glob: string, repo: string) => new RegExp(globPattern(glob)!).test(repo);
        assert.ok(matches("team-a/*", "team-a/app"));
        assert.ok(!matches("team-a/*", "team-a/app/sub"));
        assert.ok(!matches("team-a/*", "team-ab/app"));
        assert.ok(matches("team-a/**", "team-a/app/sub"));
        assert.ok(matches("**", "x"));
        assert.ok(matches("app?", "app1"));
        assert.ok(!matches("a.b", "axb"), "a dot is a dot");
        for (const bad of ["", "Team/*", "a/***", "/a", "a/", "a//b", "a b", "[ab]"]) assert.equal(globPattern(bad), undefined, bad);
    });

    test("durations", () => {
        assert.equal(durationSeconds("30d"), 30 * 86400);
        assert.equal(durationSeconds("12h"), 12 * 3600);
        assert.equal(durationSeconds("1d12h30m"), 86400 + 12 * 3600 + 1800);
        for (const bad of ["", "30", "d", "-1d", "1.5d", "30 d", "101000w"]) assert.equal(durationSeconds(bad), undefined, bad);
    });
});

/** Whether awk (as the retention script calls it: a pattern read from a file, anchored) matches each tag. */
function awkMatches(patterns: string[], tags: string[]): boolean[][] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "retention-awk-"));
    fs.writeFileSync(path.join(dir, "patterns"), patterns.map((p) => `${p}\n`).join(""));
    fs.writeFileSync(path.join(dir, "tags"), tags.map((t) => `${t}\n`).join(""));
    const program = 'FNR == NR { p[++n] = $0; next } { for (i = 1; i <= n; i++) printf "%s", ($0 ~ ("^(" p[i] ")$")) ? 1 : 0; print "" }';
    const r = spawnSync("awk", [program, path.join(dir, "patterns"), path.join(dir, "tags")], { encoding: "utf8" });
    fs.rmSync(dir, { recursive: true });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout
        .trim()
        .split("\n")
        .map((line) => [...line].map((c) => c === "1"));
}

describe("keepTags: what JavaScript accepts, awk reads the same way", () => {
    test("accepted patterns match the same tags in awk as in JavaScript", () => {
        const patterns = ["release-.*", "v[0-9]+[.][0-9]+", "v[0-9][0-9]*\\.[0-9]+", "(stable|prod)-[a-f0-9]+", "[^-]+", "x?y+z*", "a|b-c"];
        for (const p of patterns) assert.equal(regexProblem(p), undefined, p);
        const tags = [
            "release-1",
            "release",
            "v1.2",
            "v1x2",
            "v123.4",
            "v1234.4",
            "stable-abc1234",
            "prod-abc123",
            "prod-xyz",
            "no-dash",
            "nodash",
            "y",
            "xyzz",
            "a",
            "b-c",
            "ab",
        ];
        const awk = awkMatches(patterns, tags);
        tags.forEach((tag, t) =>
            patterns.forEach((p, i) =>
                assert.equal(awk[t][i], new RegExp(`^(?:${p})$`, "u").test(tag), `${p} on ${tag}: awk and JS differ`),
            ),
        );
    });
});

describe("retention rules file and supervisor", () => {
    test("the rules file: one tab-separated line per rule, after the dry-run flag", () => {
        const s = withRules([
            { repositories: "team/*", keepTags: "release-.*", keepLast: 2 },
            { repositories: "**", keepPushedWithin: "30d" },
        ]);
        assert.equal(
            renderRetentionRules(s),
            "dryrun\t1\nrule\t1\tteam/*\t^team/[^/]*$\trelease-.*\t2\t\t\nrule\t2\t**\t^.*$\t\t\t2592000\t30d\n",
        );
        const install = renderGcScheduleInstall(s);
        assert.ok(install.includes(`cat > /var/lib/registry-control/${RETENTION_RULES}.tmp <<'RETENTION_RULES_END'\ndryrun\t1\n`));
        assert.equal(spawnSync("sh", ["-n"], { input: install }).status, 0);
    });

    test("the supervisor runs retention in the GC window, after the writer stopped and before collection, and is the same whatever the rules", () => {
        const s = withRules([{ repositories: "**", keepLast: 1 }]);
        const supervisor = renderRegistrySupervisor(s);
        assert.equal(supervisor, renderRegistrySupervisor(parseSettings(base, "dev")));
        assert.match(supervisor, /\n {2}readonly_on\n {2}retention\n {2}collect\n/);
        const coordinated = renderRegistrySupervisor(
            parseSettings({ ...base, redis: JSON.stringify({ address: "10.0.0.5:6379" }) }, "dev"),
        );
        assert.match(coordinated, /collecting for every host"\n {4}retention; collect;/);
        for (const shell of ["sh", "dash"]) assert.equal(spawnSync(shell, ["-n"], { input: supervisor }).status, 0, shell);
    });

    test("run on a storage tree: exactly the tags no rule keeps go; latest, signatures and uncovered repositories stay", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "retention-run-"));
        const data = path.join(dir, "data");
        const ctl = path.join(dir, "ctl");
        const repos = path.join(data, "docker/registry/v2/repositories");
        fs.mkdirSync(ctl, { recursive: true });
        const now = Math.floor(Date.now() / 1000);
        const tags: [string, string, string, number][] = [
            ["team/app", "1", "aaa", 500_000],
            ["team/app", "2", "bbb", 400_000],
            ["team/app", "3", "ccc", 300_000],
            ["team/app", "4", "ddd", 200_000],
            ["team/app", "release-1", "aaa", 900_000],
            ["team/app", "latest", "aaa", 900_000],
            [`team/app`, `sha256-${"0".repeat(64)}.sig`, "eee", 900_000],
            ["team/app", "old-same", "ddd", 990_000],
            ["other/x/y", "new", "fff", 100],
            ["other/x/y", "old", "fff", 100_000],
            ["free/z", "ancient", "ggg", 9_999_999],
        ];
        for (const [repo, tag, digest, age] of tags) {
            const current = path.join(repos, repo, "_manifests/tags", tag, "current");
            fs.mkdirSync(current, { recursive: true });
            fs.writeFileSync(path.join(current, "link"), `sha256:${digest}`);
            fs.utimesSync(path.join(current, "link"), now - age, now - age);
        }
        const run = (dryRun: boolean) => {
            const s = withRules(
                [
                    { repositories: "team/*", keepTags: "release-.*", keepLast: 2 },
                    { repositories: "other/**", keepPushedWithin: "1d" },
                ],
                { retentionDryRun: String(dryRun) },
            );
            fs.writeFileSync(path.join(ctl, RETENTION_RULES), renderRetentionRules(s));
            const script = `ctl=${ctl}\nuntagged=1\nlog() { echo "registry-gc: $*" >&2; }\n${renderRetentionFunction(data, false)}\nretention\n`;
            const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
            return { log: r.stderr, report: fs.readFileSync(path.join(ctl, RETENTION_REPORT), "utf8") };
        };
        const remaining = () =>
            tags.filter(([repo, tag]) => fs.existsSync(path.join(repos, repo, "_manifests/tags", tag))).map(([r, t]) => `${r}:${t}`);
        const all = tags.map(([r, t]) => `${r}:${t}`);
        const gone = ["other/x/y:old", "team/app:2", "team/app:1", "team/app:old-same"];

        const dry = run(true);
        assert.deepEqual(remaining(), all, "a dry run deletes nothing");
        assert.match(dry.report, /dry run, nothing deleted/);
        for (const t of gone) assert.match(dry.report, new RegExp(`^would delete ${t} `, "m"));
        assert.match(dry.log, /registry-retention: would delete team\/app:2 .*not among the 2 newest \(number 3\)/);
        assert.match(dry.report, /^would delete team\/app:1 .*its manifest stays, tagged release-1$/m);

        const applied = run(false);
        assert.deepEqual(
            remaining(),
            all.filter((t) => !gone.includes(t)).sort((a, b) => all.indexOf(a) - all.indexOf(b)),
        );
        assert.match(applied.report, /, applied\n# 11 tags in 3 repositories: 7 kept, 4 to delete\n/);
        assert.match(applied.log, /registry-gc: retention \(applied\): 11 tags in 3 repositories: 7 kept, 4 to delete in \d+\.\d\d s/);
        fs.rmSync(dir, { recursive: true });
    });
});
