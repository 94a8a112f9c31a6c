// The alert rules (monitoring/alerts.yml), checked and tested by Prometheus' own promtool on
// series that fire each alert and series that must not (monitoring/alerts.test.yml). promtool
// is Debian's `prometheus` package (test/run.sh installs it); without it this test fails.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as yaml from "js-yaml";

const MONITORING = path.resolve(__dirname, "..", "..", "monitoring");

function promtool(args: string[]): { status: number | null; output: string } {
    const r = spawnSync("promtool", args, { cwd: MONITORING, encoding: "utf8" });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT")
        assert.fail("promtool is not installed: `apt-get install prometheus` (Debian) puts it on PATH; test/run.sh installs it");
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("alert rules", () => {
    test("promtool accepts the rules file", () => {
        const r = promtool(["check", "rules", "alerts.yml"]);
        assert.equal(r.status, 0, r.output);
    });

    test("promtool test rules: each alert fires on its series and on no other", () => {
        const r = promtool(["test", "rules", "alerts.test.yml"]);
        assert.equal(r.status, 0, r.output);
        assert.match(r.output, /SUCCESS/);
    });

    test("every alert is tested, firing at least once", () => {
        type Rules = { groups: { rules: { alert: string }[] }[] };
        type Tests = { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
        const rules = yaml.load(fs.readFileSync(path.join(MONITORING, "alerts.yml"), "utf8")) as Rules;
        const tests = yaml.load(fs.readFileSync(path.join(MONITORING, "alerts.test.yml"), "utf8")) as Tests;
        const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
        const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
        assert.deepEqual(
            alerts.filter((a) => !fired.has(a)),
            [],
            "alerts no test fires",
        );
        for (const a of ["RegistryCertificateExpiresSoon", "RegistryCertificateRenewalFailed", "RegistryGarbageCollectionOverdue"])
            assert.ok(alerts.includes(a), a);
    });
});
